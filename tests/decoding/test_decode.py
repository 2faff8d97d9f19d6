"""Decoding: ALGORITHMS.md §10 test 16 (null, oracle R², no leakage) and bad input."""

import warnings

import numpy as np
import pytest
import xarray as xr
from scipy.ndimage import gaussian_filter1d
from sklearn.linear_model import Ridge

import neuronmf as nm
from neuronmf.decoding import _features
from neuronmf.model_selection import chain


def planted(n=2400, m=24, r=3, oracle=0.6, seed=0):
    """High-rate counts from r smooth activations; y = readout + noise of known R²."""
    rng = np.random.default_rng(seed)
    H = np.maximum(gaussian_filter1d(rng.standard_normal((r, n)), 3, axis=1) * 8 + 1, 0)
    W = np.zeros((m, r))
    for k in range(r):
        W[k * (m // r) : (k + 1) * (m // r), k] = 1
    X = rng.poisson(4 * (W @ H) + 0.5).T.astype(float)
    s = H[0] - H[1] + 0.5 * H[2]
    sigma = np.sqrt(s.var() * (1 / oracle - 1))
    y = s + sigma * rng.standard_normal(n)
    return X, y, 1 - sigma**2 / y.var()


@pytest.fixture(scope="module")
def fitted():
    X, y, oracle = planted()
    res = nm.decoding.decode(X, y, rank="auto", ranks=[2, 3, 4], cv=5, n_null=5, seed=0)
    return X, y, oracle, res


def test_planted_readout_estimated_within_005(fitted):
    _, _, oracle, res = fitted
    assert abs(res.score - oracle) <= 0.05, (res.score, oracle)
    assert res.rank in (3, 4)
    assert res.scores.sizes["fold"] == 5


def test_null_from_shifted_behaviour(fitted):
    X, y, _, res = fitted
    assert res.null_scores.size == 5
    assert float(res.null_scores.mean()) <= 0.02
    assert res.p_value == pytest.approx(1 / 6)
    shifted = nm.decoding.decode(X, np.roll(y, len(y) // 2), rank=3, n_null=0)
    assert shifted.score <= 0.02


def test_predictions_only_in_test_blocks(fitted):
    _, y, _, res = fitted
    pred = res.predictions
    assert np.isfinite(pred.values).sum() > 0.8 * len(y)
    for k, (_, test) in enumerate(res.folds):
        hit = np.flatnonzero(pred.fold.values == k)
        assert set(hit) <= set(test)
    ds = res.to_dataset()
    assert ds.attrs["metric"] == "r2" and isinstance(ds.attrs["gap"], int)


@pytest.mark.parametrize("inner_nmf", ["refit", "shared"])
def test_no_test_bin_enters_any_fit(monkeypatch, inner_nmf):
    """Instrumented: identify bins by content in every NMF and GLM fit."""
    X, y, _ = planted(n=900, m=12, seed=1)
    X = X + np.random.default_rng(0).random(X.shape) * 1e-3  # unique rows
    y = y + np.arange(len(y)) * 1e-9  # unique labels
    row_of = {X[i].tobytes(): i for i in range(len(X))}
    y_of = {float(v): i for i, v in enumerate(y)}
    nmf_calls, proj_calls, glm_calls, fitted_bins = [], [], [], {}
    real_nmf, real_project, real_fit = chain.nmf, _features.project, Ridge.fit

    def spy_nmf(V, rank, **kw):
        bins = {row_of[np.ascontiguousarray(c).tobytes()] for c in np.asarray(V).T}
        nmf_calls.append(bins)
        res = real_nmf(V, rank, **kw)
        fitted_bins[id(res.W)] = bins
        return res

    def spy_project(V, W, **kw):
        bins = {row_of[np.ascontiguousarray(c).tobytes()] for c in np.asarray(V).T}
        proj_calls.append((bins, fitted_bins[id(W)]))
        return real_project(V, W, **kw)

    def spy_fit(self, Xd, yd, *a, **kw):
        # one target column per penalty: the bins are those of the first column
        first = np.asarray(yd).reshape(len(yd), -1)[:, 0]
        glm_calls.append({y_of[float(v)] for v in first})
        return real_fit(self, Xd, yd, *a, **kw)

    monkeypatch.setattr(chain, "nmf", spy_nmf)
    monkeypatch.setattr(_features, "project", spy_project)
    monkeypatch.setattr(Ridge, "fit", spy_fit)
    res = nm.decoding.decode(
        X, y, ranks=[1, 2, 3], cv=3, inner_cv=2, lags=1, n_null=0, inner_nmf=inner_nmf
    )
    tests = [set(te.tolist()) for _, te in res.folds]
    predicted = set(np.flatnonzero(np.isfinite(res.predictions.values)).tolist())
    assert nmf_calls and proj_calls and glm_calls and predicted
    for bins in nmf_calls + glm_calls:  # every fit is inside one fold's training bins
        assert any(not (bins & t) for t in tests)
    for bins, fit_bins in proj_calls:  # projected bins never helped fit their W
        assert not (bins & fit_bins)
    covered = set().union(*(b for b, _ in proj_calls))
    assert predicted <= covered
    # and the instrumentation would see a leak: the full data set is not a legal fit
    assert not any(not (set(range(len(y))) & t) for t in tests)


def test_raw_features_and_other_models():
    X, y, _ = planted(n=900, m=12, seed=2)
    raw = nm.decoding.decode(X, y, features="raw", cv=3, inner_cv=2, n_null=0)
    assert raw.rank is None and raw.score > 0.3
    labels = (y > np.median(y)).astype(int)
    clf = nm.decoding.decode(
        X, labels, model="bernoulli", rank=3, cv=3, inner_cv=2, n_null=0
    )
    assert clf.metric == "balanced_accuracy" and clf.score > 0.7
    counts = np.random.default_rng(0).poisson(np.exp(0.8 * (y - y.mean()) / y.std()))
    poi = nm.decoding.decode(
        X, counts, model="poisson", rank=3, cv=3, inner_cv=2, n_null=0
    )
    assert poi.metric == "deviance_explained" and 0.05 < poi.score < 1


def test_lagged_and_blocked_folds():
    idx = np.array([0, 1, 2, 3, 10, 11, 12])
    F = idx[:, None].astype(float)
    rows, D = nm.decoding.lagged(F, idx, [-1, 0, 1])
    assert idx[rows].tolist() == [1, 2, 11]
    assert D.tolist() == [[0, 1, 2], [1, 2, 3], [10, 11, 12]]
    folds = nm.decoding.blocked_folds(100, 4, gap=5)
    for train, test in folds:
        assert np.min(np.abs(train[:, None] - test[None, :])) > 5
    assert sorted(np.concatenate([t for _, t in folds]).tolist()) == list(range(100))


def test_time_bases_resampled_or_refused():
    X, y, _ = planted(n=600, m=12, seed=3)
    t = np.arange(600) * 0.05
    Xa = xr.DataArray(X, dims=("time", "neuron"), coords={"time": t})
    t60 = np.arange(0, 30, 1 / 60)
    yb = xr.DataArray(np.interp(t60, t, y), dims=("time",), coords={"time": t60})
    with pytest.warns(UserWarning, match="resampled"):
        res = nm.decoding.decode(Xa, yb, rank=3, cv=3, inner_cv=2, n_null=0)
    assert "linear interpolation" in res.attrs["behavior_time_base"]
    short = yb.isel(time=slice(0, 900))
    with pytest.raises(nm.InputError, match="Refused"):
        nm.decoding.decode(Xa, short, rank=3)


@pytest.mark.parametrize(
    ("y", "kw", "match"),
    [
        (np.ones(300), {}, "non-constant"),
        (np.arange(200.0), {}, "behavior length"),
        (np.arange(300.0), {"cv": 40}, "number of samples"),
        (np.r_[np.zeros(240), np.ones(60)], {"model": "bernoulli"}, "present in every"),
        (np.arange(300.0), {"model": "logit"}, "model"),
        (np.arange(300.0), {"lags": 4, "gap": 1}, "gap"),
        (np.arange(300.0), {"rank": 99}, "rank"),
    ],
)
def test_bad_input_before_any_fit(y, kw, match, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("a fit ran before validation")

    monkeypatch.setattr(chain, "nmf", boom)
    X = np.random.default_rng(0).poisson(1.0, (300, 8)).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(nm.InputError, match=match):
            nm.decoding.decode(X, y, **kw)


def test_parallel_fits_give_the_same_result():
    X, y, _ = planted(n=600, m=10, seed=4)
    kw = dict(ranks=[1, 2, 3], cv=3, inner_cv=2, lags=1, n_null=0)
    one = nm.decoding.decode(X, y, n_jobs=1, **kw)
    two = nm.decoding.decode(X, y, n_jobs=2, **kw)
    np.testing.assert_array_equal(one.ranks.values, two.ranks.values)
    np.testing.assert_allclose(one.scores.values, two.scores.values, rtol=1e-12)
    with pytest.raises(nm.InputError, match="n_jobs must be"):
        nm.decoding.decode(X, y, n_jobs=0, **kw)


def test_a_fold_with_no_defined_inner_score_is_not_scored(monkeypatch):
    """Nothing to choose a rank and penalty from: the fold is NaN with its reason
    and a warning, not scored with the first rank and penalty of the grid."""
    from neuronmf.decoding._search import GLMSearch

    original = GLMSearch.fit_score

    def inner_undefined_in_fold_0(self, key, *args):
        scores, pred, bins, why = original(self, key, *args)
        if key[0] == "inner" and key[1] == 0:
            return [float("nan")] * len(scores), None, bins, "stubbed"
        return scores, pred, bins, why

    monkeypatch.setattr(GLMSearch, "fit_score", inner_undefined_in_fold_0)
    X, y, _ = planted(n=900)
    with pytest.warns(UserWarning, match="none could be chosen"):
        res = nm.decoding.decode(X, y, ranks=[2, 3], cv=3, inner_cv=2, n_null=0)
    scores = res.scores.values
    assert np.isnan(scores[0]) and np.isfinite(scores[1:]).all()


def test_a_rank_at_the_top_of_the_grid_is_flagged():
    """Three planted activations, ranks 1..2 scanned: the choice sits on the edge."""
    X, y, _ = planted(n=900)
    with pytest.warns(UserWarning, match="largest rank of the grid \\(2\\)"):
        nm.decoding.decode(X, y, ranks=[1, 2], cv=3, inner_cv=2, n_null=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        nm.decoding.decode(X, y, ranks=[2, 3, 4, 5, 6], cv=3, inner_cv=2, n_null=0)
