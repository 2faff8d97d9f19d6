"""Assembly detection: planted assemblies recovered, surrogate test, bad input."""

import numpy as np
import pytest
import xarray as xr

import neuronmf as nm
from neuronmf.model_selection import match_components


def _simulate(**kw):
    """Counts (time, neuron) and the planted truth (an xarray Dataset)."""
    sim = nm.datasets.simulate_assemblies(**kw)
    return sim.data, sim.truth


@pytest.fixture(scope="module")
def planted():
    counts, truth = _simulate(n_neurons=30, n_assemblies=3, n_bins=2000, seed=1)
    ds = nm.assemblies.detect(counts, rank=4, n_surrogates=20, n_restarts=2, seed=0)
    return counts, truth, ds


def test_planted_assemblies_recovered(planted):
    _, truth, ds = planted
    match = match_components(truth["membership"].values, ds.membership.values)
    assert match.similarity.min() >= 0.95
    true_members = truth["members"].values
    for k, j in enumerate(match.order):
        assert np.array_equal(ds.members.values[:, j], true_members[:, k])
        assert bool(ds.significant[j])
    extra = sorted(set(range(4)) - set(match.order.tolist()))
    assert not bool(
        ds.significant[extra[0]]
    )  # the background component is not an assembly


def test_dataset_layout_and_netcdf(planted, tmp_path):
    counts, _, ds = planted
    assert ds.membership.dims == ("neuron", "assembly")
    assert ds.activations.dims == ("assembly", "time")
    np.testing.assert_allclose(ds.time.values, counts.time.values)
    np.testing.assert_allclose(
        np.linalg.norm(ds.membership.values, axis=0), 1, atol=1e-6
    )
    path = tmp_path / "asm.nc"
    ds.to_netcdf(path)
    back = xr.load_dataset(path)
    assert (
        back.attrs["rank"] == 4 and back.attrs["member_rule"] == ds.attrs["member_rule"]
    )
    assert back.attrs["loss"] == "kl"


def test_independent_neurons_not_significant():
    rng = np.random.default_rng(3)
    X = rng.poisson(0.8, (1500, 15)).astype(float)
    ds = nm.assemblies.detect(X, rank=2, n_surrogates=20, seed=0)
    assert not ds.significant.values.any()


def test_rank_auto_scan_small():
    counts, _ = _simulate(n_neurons=20, n_assemblies=2, n_bins=1500, members=7, seed=4)
    ds = nm.assemblies.detect(
        counts, rank="auto", rank_method="cv", ranks=range(1, 5), n_surrogates=0
    )
    assert ds.attrs["rank"] in (2, 3)
    assert np.all(np.isfinite(ds.rank_scores.values))
    assert ds.rank_scores.sel(rank=1) > ds.rank_scores.sel(rank=ds.attrs["rank"])


def test_rank_auto_marchenko_pastur_plus_background():
    counts, _ = _simulate(n_neurons=30, n_assemblies=3, n_bins=2000, seed=1)
    ds = nm.assemblies.detect(counts, n_surrogates=0)
    assert ds.attrs["marchenko_pastur_count"] == 3 and ds.attrs["rank"] == 4
    assert "Marchenko" in ds.attrs["rank_rule"]


def test_ica_method_recovers_planted():
    counts, truth = _simulate(n_neurons=30, n_assemblies=3, n_bins=2000, seed=1)
    ica = nm.assemblies.detect_ica(counts)
    assert (
        ica.sizes["assembly"]
        == nm.assemblies.marchenko_pastur_count(counts.values)
        == 3
    )
    match = match_components(
        truth["membership"].values, np.maximum(ica.membership.values, 0)
    )
    assert match.similarity.min() > 0.8


def test_bin_spikes_and_spike_input():
    trains = [np.array([0.01, 0.02, 0.31]), np.array([0.12, 0.33])]
    counts = nm.assemblies.bin_spikes(trains, 0.1, start=0.0, stop=0.4)
    assert counts.values.sum() == 5 and counts.shape == (4, 2)
    with pytest.raises(nm.InputError, match="bin_width"):
        nm.assemblies.bin_spikes(trains, 0)


@pytest.mark.parametrize(
    ("data", "kw", "match"),
    [
        (-np.ones((50, 5)), {}, "non-negative"),
        (-np.ones((50, 5)), {"kind": "counts"}, "non-negative"),
        (np.full((50, 5), np.nan), {}, "finite"),
        (np.ones((50, 5)) + np.eye(50, 5), {"rank": 9}, "rank"),
        (np.zeros((50, 5)), {"rank": 2}, "all zero"),
        (np.ones((50, 5)), {"rank": 2, "threshold": "big"}, "threshold"),
        (np.ones(50), {}, "activity"),
    ],
)
def test_bad_input(data, kw, match):
    with pytest.raises(nm.InputError, match=match):
        nm.assemblies.detect(data, **kw)


@pytest.mark.parametrize("sparse", [False, True])
def test_activity_with_nothing_to_correlate_is_refused(sparse):
    """Constant activity (or one varying neuron) has no co-activation to test:
    it was fitted and reported as a co-active 'non-specific' component (p = 0.01
    with 100 surrogates) after a divide-by-zero warning."""
    import scipy.sparse as sps

    flat = np.ones((300, 20))
    one = flat.copy()
    one[::7, 3] = 2.0  # a single neuron varies
    for data in (flat, one):
        A = sps.csr_array(data) if sparse else data
        with pytest.raises(nm.InputError, match="at least 2 neurons that vary"):
            nm.assemblies.detect(A, kind="counts", n_surrogates=10)


def test_unit_metadata_reaches_the_result(tmp_path):
    """Coordinates along ``neuron`` (NWB unit location, electrodes, ...) are kept."""
    sim = nm.datasets.simulate_assemblies(
        n_neurons=12, n_assemblies=2, n_bins=400, seed=0
    )
    location = np.array(["CA1"] * 6 + ["CA3"] * 6)
    A = sim.data.assign_coords(location=("neuron", location))
    for method in ("nmf", "pca-ica"):
        if method == "nmf":
            ds = nm.assemblies.detect(A, rank=2, n_surrogates=0)
        else:
            ds = nm.assemblies.detect_ica(A)
        np.testing.assert_array_equal(ds["location"].values, location)
        assert ds["location"].dims == ("neuron",)
    out = tmp_path / "asm.nc"
    nm.io.save_netcdf(ds, out)
    np.testing.assert_array_equal(nm.io.load_result(out)["location"].values, location)


def test_bin_spikes_alias_matches_io():
    """The assemblies alias and the io implementation count the same spikes."""
    from neuronmf.io.activity import bin_spikes as io_bin_spikes

    rng = np.random.default_rng(3)
    trains = [np.sort(rng.uniform(0.0, 10.0, rng.integers(5, 60))) for _ in range(7)]
    old = nm.assemblies.bin_spikes(trains, 0.25, start=0.0, stop=10.0)
    times = np.concatenate(trains)
    units = np.repeat(np.arange(7), [t.size for t in trains])
    counts, centres, labels = io_bin_spikes(
        times, units, 0.25, units=np.arange(7), t_start=0.0, t_stop=10.0
    )
    np.testing.assert_array_equal(old.values, counts)
    np.testing.assert_allclose(old["time"].values, centres)
    assert labels.tolist() == old["neuron"].values.tolist()
    # default anchoring of the alias (first spike) is kept: every spike counted
    default = nm.assemblies.bin_spikes(trains, 0.25)
    assert default.values.sum() == times.size
    assert default["time"].values[0] == pytest.approx(times.min() + 0.125)


def test_results_carry_the_one_attrs_convention():
    # issue 22 item 3: result_attrs stamps both methods; a missing seed is
    # "none" (detect wrote -1 before), no attribute is a list
    from neuronmf._provenance import params_of, version

    counts, _ = _simulate(n_neurons=12, n_assemblies=2, n_bins=600)
    ds = nm.assemblies.detect(counts, rank=2, n_surrogates=0, kind="counts", seed=None)
    assert ds.attrs["seed"] == "none"
    assert ds.attrs["neuronmf_kind"] == "assemblies"
    assert ds.attrs["neuronmf_version"] == version()
    assert ds.attrs["loss"] == "kl" and "solver" in ds.attrs
    assert params_of(ds.attrs)["rank"] == 2
    ica = nm.assemblies.detect_ica(counts, n_assemblies=2, seed=5)
    assert ica.attrs["neuronmf_kind"] == "assemblies" and ica.attrs["seed"] == 5
    assert params_of(ica.attrs) == {"method": "pca-ica", "n_assemblies": 2}


def test_bin_spikes_alias_warns_that_it_is_deprecated():
    trains = [np.array([0.01, 0.02, 0.15]), np.array([0.12])]
    with pytest.warns(DeprecationWarning, match="neuronmf.io.activity.bin_spikes"):
        counts = nm.assemblies.bin_spikes(trains, 0.1, start=0.0, stop=0.2)
    assert counts.values.tolist() == [[2.0, 0.0], [1.0, 1.0]]


def test_a_constant_member_is_left_out_of_the_statistic_not_averaged_in_as_zero():
    """An undefined correlation is never a 0 averaged in: a constant member's
    pairs are left out (dense and sparse alike), and fewer than 2 varying
    members give NaN."""
    import scipy.sparse as sp

    from neuronmf.assemblies._significance import _mean_corr, _statistics

    rng = np.random.default_rng(0)
    shared = rng.poisson(2, (500, 1)).astype(float)
    Y = shared + rng.poisson(1, (500, 4))
    Y[:, 3] = 5.0  # a constant neuron
    varying = _mean_corr(Y[:, :3])
    assert varying > 0.5
    assert _mean_corr(Y) == pytest.approx(varying)  # was 0.5 x varying
    members = np.array([[1, 1], [1, 0], [1, 0], [1, 1]], bool)
    dense = _statistics(Y, members)
    sparse = _statistics(sp.csc_array(Y), members)
    np.testing.assert_allclose(dense, [varying, np.nan])
    np.testing.assert_allclose(sparse, dense)
