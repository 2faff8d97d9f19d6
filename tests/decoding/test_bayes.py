"""Poisson naive-Bayes position decoder (neuronmf.decoding.bayes)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from scipy.stats import poisson
from sklearn.base import clone
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, cross_val_score

from neuronmf.decoding import BayesianPositionDecoder, median_position_error
from neuronmf.errors import InputError

BIN = 0.1  # s per time bin


def _track(n_bins: int, rng) -> np.ndarray:
    """Laps on a 0..100 cm track with a speed that varies lap to lap."""
    pos, x, direction = np.empty(n_bins), 50.0, 1.0
    for t in range(n_bins):
        x += direction * rng.uniform(2.0, 5.0)  # 20-50 cm/s
        if x >= 100 or x <= 0:
            x = float(np.clip(x, 0, 100))
            direction = -direction
        pos[t] = x
    return pos


def _arena(n_bins: int, rng) -> np.ndarray:
    """A smooth random walk in a 100 x 100 cm box (reflecting walls)."""
    pos, xy, v = np.empty((n_bins, 2)), np.array([50.0, 50.0]), np.zeros(2)
    for t in range(n_bins):
        v = 0.8 * v + rng.normal(0, 2.0, 2)
        xy = xy + v
        for d in range(2):
            if xy[d] < 0 or xy[d] > 100:
                xy[d] = np.clip(xy[d], 0, 100)
                v[d] = -v[d]
        pos[t] = xy
    return pos


def _place_cells_1d(seed=0, n_cells=40, n_bins=4000):
    rng = np.random.default_rng(seed)
    pos = _track(n_bins, rng)
    centres = np.linspace(0, 100, n_cells)
    rate = 0.2 + 15.0 * np.exp(-0.5 * ((pos[:, None] - centres) / 6.0) ** 2)  # Hz
    return rng.poisson(rate * BIN).astype(float), pos


def _place_cells_2d(seed=0, n_cells=80, n_bins=6000):
    rng = np.random.default_rng(seed)
    pos = _arena(n_bins, rng)
    centres = rng.uniform(0, 100, (n_cells, 2))
    d2 = ((pos[:, None, :] - centres[None]) ** 2).sum(-1)
    rate = 0.2 + 15.0 * np.exp(-0.5 * d2 / 10.0**2)
    return rng.poisson(rate * BIN).astype(float), pos


def _split(X, y, frac=0.8):
    n = int(frac * len(X))
    return X[:n], y[:n], X[n:], y[n:]


# ----------------------------------------------------------------- performance
def test_1d_place_cells_decoded_accurately():
    X, y = _place_cells_1d()
    Xtr, ytr, Xte, yte = _split(X, y)
    dec = BayesianPositionDecoder(bin_width=BIN, n_position_bins=50).fit(Xtr, ytr)
    pred = dec.predict(Xte)
    assert pred.shape == yte.shape
    err = median_position_error(yte, pred)
    # 40 cells with 6-cm fields on a 100-cm track, 100-ms bins: median error
    # below 4 cm (2 position bins); R² above 0.9.
    assert err < 4.0, err
    assert r2_score(yte, pred) > 0.9
    assert dec.score(Xte, yte) == pytest.approx(r2_score(yte, pred))
    mean_dec = clone(dec).set_params(estimate="mean").fit(Xtr, ytr)
    assert r2_score(yte, mean_dec.predict(Xte)) > 0.9


def test_2d_place_cells_decoded_accurately():
    X, y = _place_cells_2d()
    Xtr, ytr, Xte, yte = _split(X, y)
    dec = BayesianPositionDecoder(bin_width=BIN, n_position_bins=(20, 20))
    dec.fit(Xtr, ytr)
    pred = dec.predict(Xte)
    assert pred.shape == yte.shape == (len(Xte), 2)
    assert dec.posterior(Xte).shape == (len(Xte), 20, 20)
    # 80 cells, 10-cm fields in a 100 x 100 cm box: median Euclidean error below
    # 10 cm, R² (mean of the two axes) above 0.8.
    err = median_position_error(yte, pred)
    assert err < 10.0, err
    assert dec.score(Xte, yte) > 0.8


def test_shuffled_position_gives_null_result():
    X, y = _place_cells_1d(seed=1)
    Xtr, ytr, Xte, yte = _split(X, y)
    rng = np.random.default_rng(5)
    dec = BayesianPositionDecoder(bin_width=BIN).fit(Xtr, rng.permutation(ytr))
    pred = dec.predict(Xte)
    chance = median_position_error(yte, rng.permutation(yte))
    assert r2_score(yte, pred) <= 0.05
    assert median_position_error(yte, pred) > 0.7 * chance
    # and the real decoder is far below chance on the same split
    real = BayesianPositionDecoder(bin_width=BIN).fit(Xtr, ytr).predict(Xte)
    assert median_position_error(yte, real) < 0.2 * chance


# ------------------------------------------------------------------- reference
def _reference(Xtr, ytr, Xte, n_pos, sigma, prior, tau):
    """Loop over position bins; scipy's Poisson log-pmf for the likelihood."""
    edges = np.linspace(ytr.min(), ytr.max(), n_pos + 1)
    which = np.clip(np.digitize(ytr, edges) - 1, 0, n_pos - 1)
    occ, summed = np.zeros(n_pos), np.zeros((n_pos, Xtr.shape[1]))
    for j in range(n_pos):
        occ[j] = np.sum(which == j) * tau
        summed[j] = Xtr[which == j].sum(axis=0)
    radius = int(4.0 * sigma + 0.5)
    w = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    w /= w.sum()
    occ_s, summed_s = np.zeros(n_pos), np.zeros_like(summed)
    for j in range(n_pos):
        for k in range(-radius, radius + 1):
            if 0 <= j + k < n_pos:
                occ_s[j] += w[k + radius] * occ[j + k]
                summed_s[j] += w[k + radius] * summed[j + k]
    floor = 0.01 * Xtr.sum(axis=0) / (len(Xtr) * tau)
    logpost = np.full((len(Xte), n_pos), -np.inf)
    for j in range(n_pos):
        if occ[j] == 0:
            continue
        lam = np.maximum(summed_s[j] / occ_s[j], floor)
        lp = np.log(occ[j] / occ.sum()) if prior == "occupancy" else 0.0
        logpost[:, j] = poisson.logpmf(Xte, lam * tau).sum(axis=1) + lp
    post = np.exp(logpost - logpost.max(axis=1, keepdims=True))
    post /= post.sum(axis=1, keepdims=True)
    centres = 0.5 * (edges[1:] + edges[:-1])
    return post, centres[np.argmax(post, axis=1)], post @ centres


@pytest.mark.parametrize("prior", ["uniform", "occupancy"])
def test_matches_loop_reference(prior):
    X, y = _place_cells_1d(seed=2, n_cells=15, n_bins=1500)
    Xtr, ytr, Xte, _ = _split(X, y)
    post_ref, map_ref, mean_ref = _reference(Xtr, ytr, Xte, 30, 1.5, prior, BIN)
    kw = dict(bin_width=BIN, n_position_bins=30, smoothing=1.5, prior=prior)
    dec = BayesianPositionDecoder(**kw).fit(Xtr, ytr)
    np.testing.assert_allclose(dec.predict_proba(Xte), post_ref, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(dec.predict(Xte), map_ref)
    mean_dec = BayesianPositionDecoder(estimate="mean", **kw).fit(Xtr, ytr)
    np.testing.assert_allclose(mean_dec.predict(Xte), mean_ref, rtol=1e-10)


def test_bin_width_changes_units_not_decoding():
    X, y = _place_cells_1d(seed=3, n_cells=15, n_bins=1500)
    Xtr, ytr, Xte, _ = _split(X, y)
    per_bin = BayesianPositionDecoder().fit(Xtr, ytr)
    hz = BayesianPositionDecoder(bin_width=BIN).fit(Xtr, ytr)
    np.testing.assert_allclose(hz.tuning_curves_, per_bin.tuning_curves_ / BIN)
    np.testing.assert_allclose(hz.predict_proba(Xte), per_bin.predict_proba(Xte))
    assert hz.occupancy_.sum() == pytest.approx(len(Xtr) * BIN)


def test_map_is_scale_free_for_activations():
    """NMF activations (non-integer, arbitrary scale) are treated as rates."""
    X, y = _place_cells_1d(seed=4, n_cells=20, n_bins=2000)
    Xtr, ytr, Xte, _ = _split(X, y)
    A = X * 37.3  # non-integer, rescaled (the default floor scales with it)
    dec = BayesianPositionDecoder(prior="uniform")
    a = clone(dec).fit(Xtr, ytr).predict(Xte)
    b = clone(dec).fit(A[: len(Xtr)], ytr).predict(A[len(Xtr) :])
    assert np.mean(a == b) > 0.99  # rounding may flip an exact tie
    # the occupancy prior is weighed against a likelihood c times larger
    c = BayesianPositionDecoder().fit(A[: len(Xtr)], ytr).predict(A[len(Xtr) :])
    assert median_position_error(y[len(Xtr) :], c) < 5.0


# --------------------------------------------------------------------- leakage
def test_fit_on_training_bins_only():
    assert list(inspect.signature(BayesianPositionDecoder.predict).parameters) == [
        "self",
        "X",
    ]
    X, y = _place_cells_1d(seed=6, n_cells=20, n_bins=2000)
    # train on the part of the track below 60 cm: the decoder cannot place a
    # test bin where it never saw the animal
    train = y < 60
    dec = BayesianPositionDecoder().fit(X[train], y[train])
    pred = dec.predict(X[~train])
    assert pred.max() <= y[train].max()
    assert dec.bin_edges_[0][-1] == pytest.approx(y[train].max())
    # scikit-learn cross-validation (contiguous folds) clones and refits per fold
    scores = cross_val_score(BayesianPositionDecoder(), X, y, cv=KFold(4))
    assert np.all(scores > 0.75)  # 0.86-0.95 with this seed


# ------------------------------------------------------------------ bad inputs
def test_refuses_bad_input_before_work():
    X, y = _place_cells_1d(seed=7, n_cells=5, n_bins=300)
    with pytest.raises(InputError, match=r"X must be non-negative.*model='gaussian'"):
        BayesianPositionDecoder().fit(X - 1, y)
    with pytest.raises(InputError, match="y must be finite; got 1 bins"):
        BayesianPositionDecoder().fit(X, np.r_[y[:-1], np.nan])
    with pytest.raises(InputError, match="one position per row"):
        BayesianPositionDecoder().fit(X, y[:-1])
    with pytest.raises(InputError, match="y must be a position that varies"):
        BayesianPositionDecoder().fit(X, np.full(len(y), 3.0))
    with pytest.raises(InputError, match="y must be 1-D position"):
        BayesianPositionDecoder().fit(X, np.c_[y, y, y])
    with pytest.raises(InputError, match="n_position_bins must be"):
        BayesianPositionDecoder(n_position_bins=(10, 10)).fit(X, y)
    with pytest.raises(InputError, match="prior must be"):
        BayesianPositionDecoder(prior="flat").fit(X, y)
    with pytest.raises(InputError, match="bin_width must be"):
        BayesianPositionDecoder(bin_width=0).fit(X, y)
    dec = BayesianPositionDecoder().fit(X, y)
    with pytest.raises(InputError, match="X must be 5 columns"):
        dec.predict(X[:, :3])


def test_silent_feature_warned_and_ignored():
    X, y = _place_cells_1d(seed=8, n_cells=6, n_bins=800)
    X[:, 2] = 0
    with pytest.warns(UserWarning, match="1 of 6 features have no activity"):
        dec = BayesianPositionDecoder().fit(X, y)
    assert not dec.active_features_[2]
    assert np.all(np.isfinite(dec.predict_proba(X)))


def test_score_undefined_on_constant_position_is_nan():
    X, y = _place_cells_1d(seed=9, n_cells=8, n_bins=800)
    dec = BayesianPositionDecoder().fit(X, y)
    with pytest.warns(UserWarning, match="R² is undefined"):
        assert np.isnan(dec.score(X[:50], np.full(50, 20.0)))


def test_median_position_error():
    assert median_position_error([0, 1, 2], [0.5, 1, 5]) == 0.5
    assert median_position_error([[0, 0], [3, 4], [1, 1]], np.zeros((3, 2))) == (
        pytest.approx(np.sqrt(2))
    )
    with pytest.raises(InputError, match="the same shape"):
        median_position_error([0, 1], [0, 1, 2])
    with pytest.warns(UserWarning, match="undefined"):
        assert np.isnan(median_position_error([], []))
