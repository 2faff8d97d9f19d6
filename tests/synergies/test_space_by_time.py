"""Space-by-time decomposition (Delis et al. 2014): recovery, solvers, null, input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import linear_sum_assignment

from neuronmf.datasets import simulate_space_by_time
from neuronmf.errors import ConvergenceWarning, InputError
from neuronmf.synergies import _sbt_solvers as sbt
from neuronmf.synergies import space_by_time


def _matched_cosines(found, truth):
    """Cosines of the best one-to-one matching of the rows of two matrices."""
    a = found / np.linalg.norm(found, axis=1, keepdims=True)
    b = truth / np.linalg.norm(truth, axis=1, keepdims=True)
    c = a @ b.T
    r, k = linear_sum_assignment(-c)
    return c[r, k]


@pytest.fixture(scope="module")
def sim():
    return simulate_space_by_time(n_trials=24, noise=0.1, seed=3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_modules_are_recovered_from_simulated_trials(seed):
    sim = simulate_space_by_time(n_trials=24, n_time=40, noise=0.1, seed=seed)
    ds = space_by_time(sim.data, 3, 2, n_restarts=1)
    spatial = _matched_cosines(ds.spatial.values, sim.truth.spatial.values)
    temporal = _matched_cosines(ds.temporal.values.T, sim.truth.temporal.values.T)
    assert spatial.min() >= 0.95, spatial
    assert temporal.min() >= 0.95, temporal
    assert float(ds.vaf) > 0.99


def test_result_is_labelled_and_stamped(sim):
    ds = space_by_time(sim.data, 3, 2, n_restarts=1, seed=4)
    assert ds.spatial.dims == ("spatial_module", "muscle")
    assert ds.temporal.dims == ("time", "temporal_module")
    assert ds.activations.dims == ("trial", "temporal_module", "spatial_module")
    assert list(ds.muscle.values) == list(sim.data.channel.values)
    np.testing.assert_array_equal(ds.time.values, sim.data.time.values)
    np.testing.assert_array_equal(ds.condition.values, sim.data.condition.values)
    assert ds.attrs["neuronmf_kind"] == "space_by_time"
    assert ds.attrs["seed"] == 4 and ds.attrs["loss"] == "frobenius"
    assert ds.attrs["n_spatial"] == 3 and ds.attrs["n_temporal"] == 2
    np.testing.assert_allclose(np.linalg.norm(ds.spatial.values, axis=1), 1.0)
    np.testing.assert_allclose(np.linalg.norm(ds.temporal.values, axis=0), 1.0)
    # the model reconstructs the data with the reported VAF
    rec = np.einsum("tp,spl,ln->stn", ds.temporal, ds.activations, ds.spatial)
    x = sim.data.values
    assert float(ds.vaf) == pytest.approx(1 - np.sum((x - rec) ** 2) / np.sum(x**2))
    assert ds.vaf_muscle.dims == ("muscle",)


def test_same_seed_same_result_and_input_untouched(sim):
    before = sim.data.copy(deep=True)
    a = space_by_time(sim.data, 2, 2, n_restarts=2, seed=1)
    b = space_by_time(sim.data, 2, 2, n_restarts=2, seed=1)
    xr.testing.assert_identical(a, b)
    xr.testing.assert_identical(sim.data, before)


def test_hals_and_the_multiplicative_reference_agree_and_decrease(sim):
    X = sim.data.values[:10]
    rng = np.random.default_rng(0)
    start = (rng.random((50, 2)) + 0.1, rng.random((10, 2, 3)) + 0.1)
    start = (*start, rng.random((3, 12)) + 0.1)
    fits = {
        s: sbt.solve(X, *start, solver=s, max_iter=1500, tol=1e-9)
        for s in ("hals", "mu")
    }
    for _, _, _, hist, _ in fits.values():
        assert np.all(np.diff(hist) <= 1e-9 * hist[0])  # monotone
    f_hals, f_mu = fits["hals"][3][-1], fits["mu"][3][-1]
    assert f_hals <= f_mu * (1 + 1e-3)
    assert len(fits["hals"][3]) < len(fits["mu"][3])  # fewer iterations
    cos = _matched_cosines(fits["hals"][2], fits["mu"][2])
    assert cos.min() > 0.99


def test_objective_from_grams_equals_the_direct_sum(sim):
    X = sim.data.values
    rng = np.random.default_rng(1)
    Wt, A, Ws = rng.random((50, 2)), rng.random((24, 2, 3)), rng.random((3, 12))
    direct = np.sum((X - sbt.reconstruct(Wt, A, Ws)) ** 2)
    assert sbt.objective(X, Wt, A, Ws) == pytest.approx(direct, rel=1e-10)


def test_mu_solver_through_the_public_function(sim):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ds = space_by_time(sim.data, 3, 2, solver="mu", n_restarts=1, max_iter=300)
    assert ds.attrs["solver"] == "mu"
    assert _matched_cosines(ds.spatial.values, sim.truth.spatial.values).min() > 0.9


def test_scan_picks_the_planted_numbers_of_modules(sim):
    ds = space_by_time(
        sim.data, range(1, 5), range(1, 4), n_restarts=1, vaf_threshold=0.99
    )
    assert (ds.attrs["n_spatial"], ds.attrs["n_temporal"]) == (3, 2)
    assert ds.scan_vaf.dims == ("n_spatial_scan", "n_temporal_scan")
    assert ds.scan_vaf.sel(n_spatial_scan=3, n_temporal_scan=2) >= 0.99
    assert ds.scan_vaf.sel(n_spatial_scan=2, n_temporal_scan=2) < 0.99


def test_null_independent_muscles_explain_no_more_than_their_shuffles():
    rng = np.random.default_rng(0)
    null = np.abs(gaussian_filter1d(rng.standard_normal((20, 50, 10)), 3, axis=1))
    da = xr.DataArray(null, dims=("trial", "time", "muscle"))
    ds = space_by_time(da, 3, 2, n_shuffles=2, n_restarts=1)
    assert ds.vaf_shuffled.sizes["shuffle"] == 2
    assert abs(float(ds.vaf_excess)) < 0.02
    sim = simulate_space_by_time(n_trials=20, n_muscles=10, noise=0.1, seed=0)
    ds = space_by_time(sim.data, 3, 2, n_shuffles=2, n_restarts=1)
    assert float(ds.vaf_excess) > 0.3


def test_ndarray_needs_its_dims_and_aligned_activity_works():
    rng = np.random.default_rng(0)
    x = rng.poisson(2.0, (10, 20, 5)).astype(float)
    with pytest.raises(InputError, match="dims must be the names"):
        space_by_time(x, 2, 2)
    ds = space_by_time(x, 2, 2, dims=("trial", "time", "neuron"), n_restarts=1)
    assert ds.spatial.dims == ("spatial_module", "neuron")
    # as load_activity(..., align=, window=, bin_width=) labels trials
    da = xr.DataArray(
        x,
        dims=("trial", "time", "neuron"),
        coords={"trial": np.arange(10), "time": np.arange(20) * 0.05},
    )
    ds = space_by_time(da, 2, 2, n_restarts=1)
    np.testing.assert_allclose(ds.time.values, np.arange(20) * 0.05)


@pytest.mark.parametrize(
    ("data", "kwargs", "match"),
    [
        (-np.ones((3, 4, 2)), {}, "trials must be non-negative"),
        (np.full((3, 4, 2), np.nan), {}, "trials must be finite"),
        (np.zeros((3, 4, 2)), {}, "trials must be not all zero"),
        (np.ones((3, 4, 2)), {"n_spatial": 3}, "n_spatial must be"),
        (np.ones((3, 4, 2)), {"n_temporal": 0}, "n_temporal must be"),
        (np.ones((3, 4, 2)), {"solver": "bpp"}, "solver must be one of"),
        (np.ones((4, 2)), {}, "trials must be a 3-D array"),
    ],
)
def test_bad_input_is_refused_before_any_work(data, kwargs, match):
    args = {"n_spatial": 1, "n_temporal": 1, **kwargs}
    dims = ("trial", "time", "muscle")[: np.ndim(data)]
    with pytest.raises(InputError, match=match):
        space_by_time(data, dims=dims, **args)


def test_a_dataarray_without_trial_dims_is_refused():
    da = xr.DataArray(np.ones((3, 4, 2)), dims=("epoch", "time", "muscle"))
    with pytest.raises(InputError, match="trial_dim"):
        space_by_time(da, 1, 1)
    ds = space_by_time(da, 1, 1, trial_dim="epoch", n_restarts=1)
    assert ds.activations.dims[0] == "trial"


def test_the_simulator_plants_what_its_truth_says():
    sim = simulate_space_by_time(n_trials=6, noise=0.0, seed=2)
    tr = sim.truth
    model = np.einsum("tp,spl,ln->stn", tr.temporal, tr.activations, tr.spatial)
    np.testing.assert_allclose(model, sim.data.values)
    # every spatial module owns a muscle no other module uses (identifiable)
    owns = (tr.spatial.values > 0).sum(axis=0) == 1
    assert all(owns[tr.spatial.values[q] > 0].any() for q in range(3))
    with pytest.raises(InputError, match="n_spatial must be at most"):
        simulate_space_by_time(n_muscles=2, n_spatial=3)


def test_plot_space_by_time(sim):
    from neuronmf.plotting.synergies_time import plot_space_by_time

    ds = space_by_time(sim.data, 3, 2, n_restarts=1)
    fig = plot_space_by_time(ds)
    assert fig.axes[0].get_title() == "temporal module 0"
    assert any(ax.get_title() == "spatial module 2" for ax in fig.axes)


def test_netcdf_round_trip(sim, tmp_path):
    from neuronmf.io import load_result, save_netcdf

    ds = space_by_time(sim.data, 3, 2, n_restarts=1)
    save_netcdf(ds, tmp_path / "sbt.nc")
    back = load_result(tmp_path / "sbt.nc")
    xr.testing.assert_allclose(ds, back)
    assert back.attrs["neuronmf_kind"] == "space_by_time"


def test_trials_from_load_activity_align(tmp_path):
    """(trial, time, neuron) counts as load_activity(align=, window=, bin_width=)
    returns them: two groups of neurons firing in two epochs of each trial."""
    from neuronmf.io import load_activity

    rng = np.random.default_rng(0)
    starts = np.arange(40) * 2.0
    times, units = [], []
    for s, t0 in enumerate(starts):
        for unit in range(8):
            epoch = (0.1, 0.4) if unit < 4 else (0.6, 0.9)
            gain = 1.0 + (s % 2)  # two conditions: twice the rate in odd trials
            n = rng.poisson(20 * gain)
            times.append(t0 + rng.uniform(*epoch, n))
            units.append(np.full(n, unit))
    path = tmp_path / "spikes.npz"
    np.savez(path, spike_times=np.concatenate(times), spike_unit=np.concatenate(units))
    trials = load_activity(path, align=starts, window=(0.0, 1.0), bin_width=0.05)
    assert trials.dims == ("trial", "time", "neuron")
    ds = space_by_time(trials, 2, 2, n_restarts=2)
    assert ds.spatial.dims == ("spatial_module", "neuron")
    np.testing.assert_allclose(ds.time.values, trials.time.values)
    # each spatial module is one group of neurons, each temporal module one epoch
    groups = np.repeat(np.eye(2), 4, axis=1)
    assert _matched_cosines(ds.spatial.values, groups).min() > 0.95
    t = trials.time.values
    epochs = np.stack([(t > 0.1) & (t < 0.4), (t > 0.6) & (t < 0.9)]).astype(float)
    assert _matched_cosines(ds.temporal.values.T, epochs).min() > 0.95
