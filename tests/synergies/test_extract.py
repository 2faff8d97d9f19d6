"""Synergy extraction: simulated EMG through the whole pipeline, scan, masking."""

import json

import numpy as np
import pytest
import xarray as xr

import neuronmf as nm
from neuronmf.datasets import simulate_emg
from neuronmf.errors import InputError
from neuronmf.synergies import envelope, extract, match


@pytest.fixture(scope="module")
def simulated():
    sim = simulate_emg(12, 4, 10, variant="padded", seed=0)
    raw, t = sim.data, sim.truth
    touchdowns = np.append(t["cycle_start"], t["cycle_stop"][-1])
    truth = {"synergies": t["synergies"], "touchdowns": touchdowns}
    env = envelope(raw, cycles=truth["touchdowns"])
    return raw, truth, env


def test_planted_synergies_recovered_from_raw_emg(simulated):
    _, truth, env = simulated
    ds = extract(env, rank="auto", ranks=range(1, 8), n_restarts=5)
    assert ds.attrs["rank"] == 4
    # the envelope is normalised per muscle: the truth in the same units
    W = truth["synergies"].values / ds.envelope_scale.values[:, None]
    m = match(W, ds, n_shuffles=200)
    assert m.similarity.min() >= 0.95
    assert m.above_chance.all()


def test_synergyset_layout_and_netcdf_roundtrip(simulated, tmp_path):
    _, _, env = simulated
    ds = extract(env, rank="auto", ranks=range(1, 7), n_restarts=2, seed=3)
    k = ds.attrs["rank"]
    assert ds.synergies.dims == ("muscle", "synergy")
    assert ds.activations.dims == ("synergy", "time")
    assert list(ds.muscle.values) == list(env.channel.values)
    np.testing.assert_allclose(np.linalg.norm(ds.synergies.values, axis=0), 1.0)
    assert ds.scan_vaf.dims == ("rank",) and ds["rank"].values.tolist() == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]
    assert ds.scan_vaf_muscle.shape == (6, 12)
    assert (np.diff(ds.scan_vaf.values) > -1e-6).all()
    assert float(ds.vaf) == pytest.approx(float(ds.scan_vaf.sel(rank=k)), abs=1e-3)
    assert (ds.scan_vaf.values >= ds.scan_r2.values).all()  # uncentred >= centred
    assert "cycle" in ds.coords and "phase" in ds.coords
    for key in ("loss", "solver", "rank", "criterion", "seed", "neuronmf_version"):
        assert key in ds.attrs
    assert ds.attrs["seed"] == 3 and ds.attrs["envelope_band_hz"] == "20-450"
    path = tmp_path / "syn.nc"
    ds.to_netcdf(path)
    back = xr.load_dataset(path)
    assert back.attrs == ds.attrs
    np.testing.assert_allclose(back.synergies.values, ds.synergies.values)


def test_fixed_rank_and_criteria(simulated):
    _, _, env = simulated
    ds = extract(env, rank=3, n_restarts=1)
    assert ds.sizes["synergy"] == 3 and "scan_vaf" not in ds
    assert ds.attrs["criterion"] == "given"
    vaf = extract(env, criterion="vaf", ranks=range(1, 7), n_restarts=1)
    choices = json.loads(vaf.attrs["rank_choices"])  # JSON, issue 22 item 3
    assert vaf.attrs["criterion"] == "vaf" and choices["vaf"] == vaf.attrs["rank"]
    # the VAF rule's definition: the first rank over both thresholds
    ok = (vaf.scan_vaf >= 0.9) & (vaf.scan_vaf_muscle.min("muscle") >= 0.75)
    assert vaf.attrs["rank"] == int(vaf["rank"][ok.values.argmax()])


def test_delegated_criterion_stores_select_rank_scores():
    rng = np.random.default_rng(0)
    W = rng.random((8, 3))
    H = rng.random((3, 300))
    ds = extract(
        (W @ H).T, criterion="aic", ranks=range(1, 5), n_restarts=1, n_repeats=1
    )
    assert "scan_aic" in ds and ds.attrs["criterion"] == "aic"
    assert json.loads(ds.attrs["rank_choices"])["aic"] == ds.attrs["rank"]


@pytest.mark.parametrize("criterion", ["curvefit", "aic", "cv"])
def test_each_scanned_rank_is_fitted_once(monkeypatch, criterion):
    # issue 22: extract's scan and select_rank's full fits were the same model
    # fitted twice per rank; count every restart of a full-data, unmasked fit
    import neuronmf.engine.api as api

    engine_nmf = api.nmf
    restarts: dict[int, int] = {}

    def counting_nmf(X, rank, *args, **kwargs):
        if kwargs.get("mask") is None and np.shape(X) == (8, 300):
            restarts[rank] = restarts.get(rank, 0) + kwargs.get("n_restarts", 1)
        return engine_nmf(X, rank, *args, **kwargs)

    monkeypatch.setattr(api, "nmf", counting_nmf)
    rng = np.random.default_rng(0)
    V = rng.random((8, 3)) @ rng.random((3, 300))
    ds = extract(V.T, criterion=criterion, ranks=range(1, 5), n_restarts=2, n_repeats=2)
    # scan_restarts = min(n_restarts, 3) = 2: the chosen rank is not refitted
    assert restarts == {r: 2 for r in range(1, 5)}
    if criterion != "cv":  # held-out error on noiseless data may pick 3 or 4
        assert ds.attrs["rank"] == 3
    np.testing.assert_allclose(ds["scan_vaf"].values[2], 1.0, atol=1e-3)


def test_nan_dropouts_are_masked(simulated):
    raw, truth, _ = simulated
    holed = raw.copy()
    holed[4000:4300, 2] = np.nan
    with pytest.warns(UserWarning, match="NaN"):
        env = envelope(holed, cycles=truth["touchdowns"])
    assert env.attrs["n_missing"] > 0
    with pytest.warns(UserWarning, match="masked"):
        ds = extract(env, rank=4, n_restarts=3)
    assert ds.attrs["masked_entries"] == env.attrs["n_missing"]
    W = truth["synergies"].values / ds.envelope_scale.values[:, None]
    assert match(W, ds, n_shuffles=0).similarity.min() >= 0.95
    with pytest.raises(InputError, match="'curvefit' or 'vaf'"):
        extract(env, criterion="cv", ranks=range(1, 4))


def test_extract_matches_engine_on_a_plain_array():
    rng = np.random.default_rng(1)
    V = rng.random((200, 6))
    ds = extract(V, rank=2, n_restarts=1, seed=0, tol=1e-5, max_iter=1000)
    res = nm.nmf(V.T, 2, seed=0, tol=1e-5, max_iter=1000)
    np.testing.assert_allclose(ds.synergies.values, res.W, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    ("env", "kwargs", "message"),
    [
        (np.ones((50, 1)), {}, "at least 2 channels"),
        (-np.ones((50, 3)), {}, "non-negative"),
        (np.ones((50, 3)), {"rank": 0}, "rank must be"),
        (np.ones((50, 3)), {"rank": "five"}, "rank must be"),
        (np.ones((50, 3)), {"criterion": "elbow"}, "criterion must be one of"),
        (np.ones((50, 3)), {"ranks": [1]}, "at least 2 integers"),
        (np.ones((50, 3)), {"n_restarts": 0}, "n_restarts must be"),
    ],
)
def test_extract_bad_input(env, kwargs, message):
    with pytest.raises(InputError, match=message):
        extract(env, **kwargs)


def test_long_recordings_are_scanned_on_a_subsample(simulated):
    _, truth, env = simulated
    ds = extract(env, ranks=range(1, 7), n_restarts=2, max_scan_samples=500)
    assert ds.attrs["scan_step"] == 4 and ds.attrs["rank"] == 4
    assert ds.activations.sizes["time"] == env.sizes["time"]  # refined on all
    W = truth["synergies"].values / ds.envelope_scale.values[:, None]
    assert match(W, ds, n_shuffles=0).similarity.min() >= 0.95
    full = extract(env, ranks=range(1, 7), n_restarts=2, max_scan_samples=None)
    assert full.attrs["scan_step"] == 1
    assert float(ds.vaf) == pytest.approx(float(full.vaf), abs=1e-3)


def test_results_carry_the_one_attrs_convention():
    # issue 22 item 3: extract, refit, match and group are stamped by
    # result_attrs; rank_choices is JSON; the rule is select_rank's wording
    from neuronmf._provenance import params_of
    from neuronmf.model_selection.scan import rule_text
    from neuronmf.synergies import group, refit

    rng = np.random.default_rng(0)
    W = rng.random((8, 3))
    H = rng.random((3, 300))
    ds = extract((W @ H).T, criterion="vaf", ranks=range(1, 5), n_restarts=1, seed=None)
    assert ds.attrs["neuronmf_kind"] == "synergies" and ds.attrs["seed"] == "none"
    assert set(json.loads(ds.attrs["rank_choices"])) == {"curvefit", "vaf"}
    assert ds.attrs["rank_rule"] == rule_text("vaf", feature="muscle")
    params = params_of(ds.attrs)
    assert params["rank"] == "auto" and params["ranks"] == [1, 2, 3, 4]
    assert ds.attrs["kind"] == "SynergySet"  # the domain's own attrs stay
    assert refit((W @ H).T, ds).attrs["neuronmf_kind"] == "synergies"
    assert match(ds, ds, n_shuffles=5).attrs["neuronmf_kind"] == "synergy_match"
    assert group([ds, ds]).attrs["neuronmf_kind"] == "synergy_groups"


def test_scan_scores_are_select_ranks_on_the_same_fits():
    # one definition of VAF (model_selection.criteria): the per-muscle VAF of
    # extract's scan equals select_rank's on the fits extract hands it
    rng = np.random.default_rng(0)
    W = rng.random((8, 3))
    H = rng.random((3, 300))
    ds = extract((W @ H).T, criterion="aic", ranks=range(1, 5), n_restarts=1)
    np.testing.assert_allclose(ds.scan_vaf_local, ds.scan_vaf_muscle, atol=1e-12)
    V = W @ H
    np.testing.assert_allclose(
        1 - ds.scan_rss / np.sum(V**2), ds.scan_vaf, rtol=1e-10, atol=1e-12
    )
