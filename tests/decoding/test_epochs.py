"""Scores that exist (issue 20, item 2): undefined folds, epochs (where=), trials.

Every test here fails on the code before issue 20: rest blocks were scored 0.000 and
averaged in, ``where=`` did not exist, and trial-structured input was refused.
"""

import warnings

import numpy as np
import pytest
import xarray as xr
from scipy.ndimage import gaussian_filter1d

import neuronmf as nm
from neuronmf.model_selection import chain

FAST = dict(features="raw", cv=5, inner_cv=2, n_null=0)


def track_session(n_run=1500, n_rest=1000, m=24, seed=0, dt=0.05):
    """Place-cell counts: laps of irregular length on a 0–100 track, then rest.

    Position is constant during the rest, so the score of a rest test block is
    undefined (R² = 1 − SSE/SST with SST = 0).
    """
    rng = np.random.default_rng(seed)
    steps = np.abs(rng.normal(1.0, 0.6, n_run))  # irregular speed, never periodic
    phase = np.cumsum(steps) / 60.0 * np.pi
    pos_run = 50 - 45 * np.cos(phase)
    pos = np.r_[pos_run, np.full(n_rest, pos_run[-1])]
    centers = np.linspace(0, 100, m)
    rate = 12 * np.exp(-((pos[:, None] - centers) ** 2) / (2 * 7.0**2)) + 0.5
    X = rng.poisson(rate * dt * 4).astype(float)
    t = np.arange(pos.size) * dt
    Xa = xr.DataArray(X, dims=("time", "neuron"), coords={"time": t})
    ya = xr.DataArray(pos, dims=("time",), coords={"time": t}, name="x")
    return Xa, ya, n_run


# ------------------------------------------------------------ undefined fold scores
def test_rest_blocks_are_nan_with_a_warning_not_zero():
    X, y, _n_run = track_session()
    with pytest.warns(UserWarning, match=r"fold 4 \(.*no variance") as rec:
        res = nm.decoding.decode(X, y, **FAST)
    scores = res.scores.values
    # the last 2 of 5 blocks are pure rest: NaN, never 0 averaged in
    assert np.isnan(scores[3:]).all() and np.isfinite(scores[:3]).all()
    assert res.score == pytest.approx(scores[:3].mean())
    assert res.score > 0.5
    msg = " ".join(str(w.message) for w in rec)
    assert "2 of 5 outer folds" in msg and "fold 3" in msg
    assert res.attrs["undefined_folds"] == "3,4"
    assert np.isnan(res.median_errors.values[3:]).all()
    assert "3 of 5 folds" in repr(res)


def test_missing_class_in_a_test_block_is_nan():
    rng = np.random.default_rng(3)
    n = 1000
    labels = (np.arange(n) // 7) % 2  # alternating bouts ...
    labels[800:] = 0  # ... but the last test block holds class 0 only
    X = rng.poisson(1.0 + 3.0 * labels[:, None] * (np.arange(8) < 4), (n, 8))
    with pytest.warns(UserWarning, match=r"fold 4 .*only 1 of 2 classes"):
        res = nm.decoding.decode(
            X.astype(float), labels, model="bernoulli", alphas=[1.0], **FAST
        )
    assert np.isnan(res.scores.values[4]) and np.isfinite(res.scores.values[:4]).all()
    assert res.score == pytest.approx(np.mean(res.scores.values[:4]))


def test_poisson_constant_test_block_is_nan():
    rng = np.random.default_rng(4)
    n = 1000
    X = rng.poisson(2.0, (n, 6)).astype(float)
    counts = rng.poisson(np.exp(0.3 * (X[:, 0] - 2)))
    counts[800:] = 0
    with pytest.warns(UserWarning, match="fold 4"):
        res = nm.decoding.decode(X, counts, model="poisson", alphas=[1e-2], **FAST)
    assert np.isnan(res.scores.values[4])


def test_all_folds_undefined_gives_nan_score_and_null():
    rng = np.random.default_rng(5)
    X = rng.poisson(2.0, (600, 6)).astype(float)
    y = np.r_[np.zeros(300), np.ones(300)]  # constant inside each of 2 blocks
    with pytest.warns(UserWarning, match="no outer fold has a defined r2"):
        res = nm.decoding.decode(
            X, y, features="raw", cv=2, inner_cv=2, gap=5, n_null=2
        )
    assert np.isnan(res.score) and np.isnan(res.p_value)


# ------------------------------------------------------------ where= (epochs)
def test_where_restricts_folds_fitting_and_scoring():
    X, y, n_run = track_session(seed=1)
    running = nm.decoding.min_speed(y, 5.0)
    assert running.values[n_run + 20 :].sum() == 0  # rest is excluded
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no undefined fold any more
        res = nm.decoding.decode(X, y, where=running, lags=1, **FAST)
    assert np.isfinite(res.scores.values).all() and res.score > 0.5
    gap = res.attrs["gap"]
    for train, test in res.folds:
        # every test block holds only scored bins, and a fair share of them
        assert running.values[test].all() and running.values[train].all()
        assert test.size >= running.values.sum() // 5 - 1
        # the gap holds in time: no training bin within `gap` of the test span
        assert not np.any((train >= test[0] - gap) & (train <= test[-1] + gap))
    pred = np.isfinite(res.predictions.values)
    assert not pred[~running.values].any()
    assert res.attrs["n_scored"] == int(running.values.sum())
    # fitting ignores everything outside `where`: scramble it, same result
    X2 = X.copy()
    X2.values[~running.values] = np.random.default_rng(0).poisson(
        9.0, X2.values[~running.values].shape
    )
    res2 = nm.decoding.decode(X2, y, where=running, lags=1, **FAST)
    np.testing.assert_array_equal(res.scores.values, res2.scores.values)


def test_nan_behaviour_outside_running_no_longer_fails():
    """The tutorial's recipe (NaN outside running) raised '0 scored in test block'."""
    X, y, _ = track_session(seed=2)
    running = np.abs(np.gradient(y.values, y.time.values)) > 5.0  # plain numpy
    y_nan = y.where(running)
    res = nm.decoding.decode(X, y_nan, rank=4, cv=5, inner_cv=2, n_null=0)
    assert np.isfinite(res.scores.values).all()
    for _, test in res.folds:
        assert running[test].all()


def test_where_on_another_time_base_and_bad_where():
    X, y, n_run = track_session(n_run=600, n_rest=400, seed=3)
    t60 = np.arange(0, float(X.time[-1]) + 0.02, 1 / 60)
    y60 = y.interp(time=t60, kwargs={"fill_value": "extrapolate"})
    run60 = nm.decoding.min_speed(y60, 5.0)  # on the 60 Hz behaviour clock
    res = nm.decoding.decode(X, y, where=run60, **FAST)
    assert res.attrs["n_scored"] < n_run + 20
    with pytest.raises(nm.InputError, match="where must be a boolean"):
        nm.decoding.decode(X, y, where=np.abs(np.gradient(y.values)), **FAST)
    with pytest.raises(nm.InputError, match="where must be True for some"):
        nm.decoding.decode(X, y, where=np.zeros(X.sizes["time"], bool), **FAST)
    with pytest.raises(nm.InputError, match="where must be one boolean"):
        nm.decoding.decode(X, y, where=np.ones(10, bool), **FAST)


def test_min_speed_and_in_epochs():
    t = np.arange(0, 10, 0.01)
    pos = xr.DataArray(
        np.c_[np.where(t < 5, 30 * t, 150.0), np.where(t < 5, 40 * t, 200.0)],
        dims=("time", "axis"),
        coords={"time": t},
    )
    run = nm.decoding.min_speed(pos, 45.0, smooth=0.2)  # speed is 50 (3-4-5)
    assert (
        run.sel(time=slice(0.5, 4.5)).all() and not run.sel(time=slice(5.5, 10)).any()
    )
    assert not nm.decoding.min_speed(pos, 55.0, smooth=0).any()
    with pytest.raises(nm.InputError, match="time"):
        nm.decoding.min_speed(np.arange(10.0), 1.0)
    inside = nm.decoding.in_epochs(t, [[1.0, 2.0], [8.0, 9.0]])
    assert inside.sum() == 200 and inside[150] and not inside[250]
    with pytest.raises(nm.InputError, match="stop > start"):
        nm.decoding.in_epochs(t, [[2.0, 1.0]])


# ------------------------------------------------------------ null data
def test_shuffled_behaviour_scores_at_or_below_the_null():
    X, y, _n_run = track_session(seed=4)
    running = nm.decoding.min_speed(y, 5.0)
    rng = np.random.default_rng(7)
    # a smooth behaviour on the track, unrelated to the activity
    walk = gaussian_filter1d(rng.standard_normal(y.size), 15)
    yn = y.copy(data=50 + 45 * walk / np.abs(walk).max())
    res = nm.decoding.decode(
        X, yn, where=running, features="raw", cv=5, inner_cv=2, n_null=9, seed=0
    )
    assert res.score < 0.05
    assert res.score <= float(np.nanmax(res.null_scores.values)) + 0.05
    assert res.p_value > 0.1  # at least one shifted null scored as high


# ------------------------------------------------------------ trials
def trial_data(n_per_class=(12, 12, 12), T=6, m=10, seed=0, effect=1.0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(n_per_class)), n_per_class)
    rng.shuffle(labels)
    tuning = rng.gamma(2.0, 1.0, (len(n_per_class), m))
    profile = np.linspace(0.5, 1.5, T)[:, None]
    X = np.stack(
        [
            rng.poisson((1 + effect * tuning[c])[None, :] * profile)
            + 1e-6 * rng.random((T, m))  # unique rows, to trace them
            for c in labels
        ]
    )
    trials = np.arange(200, 200 + labels.size)
    Xa = xr.DataArray(X, dims=("trial", "time", "neuron"), coords={"trial": trials})
    ya = xr.DataArray(
        np.array(["left", "right", "stop"])[labels],
        dims=("trial",),
        coords={"trial": trials},
    )
    return Xa, ya


def test_trial_decoding_never_splits_a_trial_and_stratifies(monkeypatch):
    X, y = trial_data(n_per_class=(10, 15, 20))
    n_tr, T, _m = X.shape
    row_trial = {X.values[i, j].tobytes(): i for i in range(n_tr) for j in range(T)}
    calls = []
    real_nmf = chain.nmf

    def spy(V, rank, **kw):
        trials = [row_trial[np.ascontiguousarray(c).tobytes()] for c in np.asarray(V).T]
        calls.append(np.bincount(trials, minlength=n_tr))
        return real_nmf(V, rank, **kw)

    monkeypatch.setattr(chain, "nmf", spy)
    res = nm.decoding.decode(
        X, y, model="multinomial", rank=3, cv=5, inner_cv=2, n_null=0, alphas=[1.0]
    )
    assert calls
    for per_trial in calls:  # every trial enters a fit whole, or not at all
        assert set(np.unique(per_trial)) <= {0, T}
    tests = [set(te.tolist()) for _, te in res.folds]
    for per_trial in calls:  # and every fit avoids some outer test fold entirely
        assert any(not (set(np.flatnonzero(per_trial)) & t) for t in tests)
    assert sorted(set().union(*tests)) == list(range(n_tr))
    codes = res.behavior.values.astype(int)
    for _, te in res.folds:  # stratified: each class in each fold in proportion
        got = np.bincount(codes[te], minlength=3)
        assert np.all(np.abs(got - np.array([10, 15, 20]) / 5) <= 1), got
    assert res.predictions.dims == ("trial",)
    assert res.attrs["folds"] == "trials (StratifiedKFold)"
    assert res.score > 0.8


def test_trial_decoding_2d_and_null_and_refusals():
    X, y = trial_data(seed=1)
    X2 = X.sum("time")  # (trial, neuron)
    res = nm.decoding.decode(
        X2,
        y,
        model="multinomial",
        features="raw",
        cv=3,
        inner_cv=2,
        n_null=3,
        alphas=[1.0],
    )
    assert res.score > 0.6 and np.isfinite(res.scores.values).all()
    assert float(res.null_scores.max()) < 0.6  # permuted labels: near chance (1/3)
    # null data gives a null result: labels unrelated to the activity
    Xn, yn = trial_data(seed=2, effect=0.0)
    null = nm.decoding.decode(
        Xn,
        yn,
        model="multinomial",
        rank=2,
        cv=3,
        inner_cv=2,
        n_null=3,
        seed=1,
        alphas=[1.0],
    )
    assert abs(null.score - 1 / 3) < 0.15  # chance is 1/3
    assert np.all(null.null_scores.values < 0.5)
    # continuous per-trial behaviour: KFold over trials
    yc = xr.DataArray(
        X.values[:, :, :3].sum(axis=(1, 2)), dims="trial", coords={"trial": X.trial}
    )
    reg = nm.decoding.decode(X, yc, features="raw", cv=3, inner_cv=2, n_null=0)
    assert reg.attrs["folds"] == "trials (KFold)" and reg.score > 0.5
    with pytest.raises(nm.InputError, match="lags must be 0"):
        nm.decoding.decode(X, y, model="multinomial", lags=1)
    with pytest.raises(nm.InputError, match="behavior must be one value per trial"):
        nm.decoding.decode(X, y.values[:-1], model="multinomial")
    rare = y.copy(data=np.where(np.arange(y.size) < 2, "rare", y.values))
    with pytest.raises(nm.InputError, match="every class must be present in at"):
        nm.decoding.decode(X, rare, model="multinomial", cv=5)


# ------------------------------------------------------------ Bayesian decoder
def test_bayes_model_scores_r2_and_median_error():
    pytest.importorskip("neuronmf.decoding.bayes")
    X, y, _n_run = track_session(seed=5)
    running = nm.decoding.min_speed(y, 5.0)
    res = nm.decoding.decode(X, y, model="bayes", where=running, **FAST)
    assert res.metric == "r2" and res.score > 0.7
    assert res.median_errors.sizes["fold"] == 5
    assert 0 < res.median_error < 10  # track units (0–100)
    assert "median error" in repr(res)
    ds = res.to_dataset()
    assert ds.attrs["median_error"] == pytest.approx(res.median_error)
    # the rest blocks again: NaN with a warning, in R² and in the median error
    with pytest.warns(UserWarning, match="fold 4"):
        rest = nm.decoding.decode(X, y, model="bayes", **FAST)
    assert np.isnan(rest.scores.values[4]) and np.isnan(rest.median_errors.values[4])


# ------------------------------------------------------------ several where conditions
def _nearest(t_from, t_to):
    """Index of the nearest sample of t_from for each time of t_to (ties: earlier)."""
    return np.abs(t_from[None, :] - t_to[:, None]).argmin(axis=1)


def test_several_where_conditions_are_aligned_and_combined_as_and():
    """issue 22: decode(where=[a, b]) with a on the 60 Hz clock, b on the bins.

    Before, a list of conditions was read as one 2-D mask and refused.
    """
    X, y, _ = track_session(n_run=900, n_rest=300, seed=6)
    tx = X.time.values
    t60 = np.arange(0, tx[-1] + 0.02, 1 / 60)
    run60 = nm.decoding.min_speed(y.interp(time=t60), 5.0)  # its own time base
    inside = nm.decoding.in_epochs(X.time, [[5.0, 30.0], [33.0, 55.0]])  # bins
    expected = run60.values[_nearest(t60, tx)] & inside
    # both conditions matter: the AND differs from each alone
    assert expected.sum() < inside.sum() and expected.sum() < run60.values.sum()
    assert (expected != inside).any() and (
        expected != run60.values[_nearest(t60, tx)]
    ).any()
    res = nm.decoding.decode(X, y, where=[run60, inside], **FAST)
    np.testing.assert_array_equal(res.where.values, expected)
    assert res.attrs["n_scored"] == res.attrs["where_intersection"] == expected.sum()
    kept = [int(run60.values[_nearest(t60, tx)].sum()), int(inside.sum())]
    assert res.attrs["where_kept"] == f"{kept[0]},{kept[1]}"
    assert "the AND of: where[0] keeps" in res.attrs["where"]
    # the same as passing the combined mask by hand, and the order does not matter
    ref = nm.decoding.decode(X, y, where=expected, **FAST)
    swapped = nm.decoding.decode(X, y, where=(inside, run60), **FAST)
    for other in (ref, swapped):
        np.testing.assert_array_equal(res.scores.values, other.scores.values)
        np.testing.assert_array_equal(res.predictions.values, other.predictions.values)
    assert ref.attrs["where_kept"] == str(int(expected.sum()))
    # one mask given as a plain list of bools is still one mask
    as_list = nm.decoding.decode(X, y, where=expected.tolist(), **FAST)
    np.testing.assert_array_equal(res.scores.values, as_list.scores.values)


def test_where_conditions_refused_before_any_fit(monkeypatch):
    X, y, _ = track_session(n_run=600, n_rest=400, seed=3)
    fits = []
    real_nmf = chain.nmf

    def spy(*args, **kwargs):
        fits.append(1)
        return real_nmf(*args, **kwargs)

    monkeypatch.setattr(chain, "nmf", spy)
    opts = dict(rank=2, cv=5, inner_cv=2, n_null=0)
    running = nm.decoding.min_speed(y, 5.0)
    n = X.sizes["time"]
    with pytest.raises(nm.InputError, match=r"where\[1\] must be True for some bins"):
        nm.decoding.decode(X, y, where=[running, np.zeros(n, bool)], **opts)
    first = np.arange(n) < n // 2
    with pytest.raises(
        nm.InputError, match=r"where must be conditions that keep some bins in common"
    ) as err:
        nm.decoding.decode(X, y, where=[first, ~first], **opts)
    assert f"where[0] keeps {n // 2}, where[1] keeps {n - n // 2}" in str(err.value)
    with pytest.raises(nm.InputError, match=r"where\[0\] must be a boolean"):
        nm.decoding.decode(X, y, where=[first.astype(float), first], **opts)
    with pytest.raises(nm.InputError, match=r"where\[1\] must be one boolean per"):
        nm.decoding.decode(X, y, where=[first, first[:10]], **opts)
    short = running.isel(time=slice(0, 300))  # ends before the activity does
    with pytest.raises(
        nm.InputError, match=r"where\[1\] time range must be covering the activity"
    ):
        nm.decoding.decode(X, y, where=[first, short], **opts)
    with pytest.raises(nm.InputError, match="non-empty list of masks"):
        nm.decoding.decode(X, y, where=[], **opts)
    assert not fits  # every refusal came before any NMF fit
    nm.decoding.decode(X, y, where=[running, first], **{**opts, "cv": 3})
    assert fits  # the spy sees fits when there are some
