"""One held-out Poisson deviance for counts (issue 20, "What was seen 3").

Sparse spike counts (0.05–0.5 per bin): masked KL fits used to drift to
activations of 10⁵ at held-out entries and a floor of 10⁻³ × mean(WH) let
exact zeros dominate the score, so ``select_rank(method="cv")`` chose rank 1
on planted structure and its deviance exploded with rank, and
``assemblies.detect`` scored with its own floor and masks.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import neuronmf as nm
from neuronmf.engine.losses import heldout_deviance, row_rates

PLANTED = 4
RANKS = range(1, 2 * PLANTED + 1)


def planted_counts(seed: int, m: int = 24, n: int = 800) -> np.ndarray:
    """Poisson counts of rank PLANTED (plus a background), mean ≈ 0.28 per bin."""
    rng = np.random.default_rng(seed)
    W = np.zeros((m, PLANTED))  # disjoint assemblies, every neuron in one
    W[rng.permutation(m), np.arange(m) % PLANTED] = rng.uniform(0.5, 1.5, m)
    H = rng.gamma(0.5, 1.0, (PLANTED, n))
    rate = W @ H
    rate *= 0.25 / rate.mean()
    return rng.poisson(rate + 0.03).astype(float)


def null_counts(seed: int, m: int = 30, n: int = 1000) -> np.ndarray:
    """Independent Poisson neurons, each with its own rate in [0.05, 0.5]."""
    rng = np.random.default_rng(seed)
    rate = rng.uniform(0.05, 0.5, (m, 1))
    return rng.poisson(np.broadcast_to(rate, (m, n))).astype(float)


def scan(V, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nm.select_rank(
            V, RANKS, method="cv", loss="kl", n_repeats=3, seed=seed, max_iter=200
        )


def test_planted_rank_found_and_deviance_finite_at_every_rank():
    picks = []
    for seed in range(10):
        V = planted_counts(seed)
        assert 0.05 <= V.mean() <= 0.5
        s = scan(V, seed)
        err = s.scores["cv_error"].values
        assert np.all(np.isfinite(err))
        # sensible: a rate-only prediction of these counts scores ≈ 0.8; no rank
        # may be worse than twice that (the old fits reached 10²–10⁴)
        assert err.max() < 1.6, err.mean(axis=1)
        picks.append(s.best_rank)
    assert sum(p == PLANTED for p in picks) >= 8, picks


def test_null_counts_choose_rank_one():
    for seed in range(3):
        s = scan(null_counts(seed), seed)
        assert s.best_rank == 1
        mean = s.scores["cv_mean"].values
        assert np.all(np.diff(mean) > 0)  # every extra component only overfits


def test_select_rank_and_assemblies_agree():
    V = planted_counts(11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = nm.select_rank(V, range(1, 7), method="cv", loss="kl", seed=3)
        ds = nm.assemblies.detect(
            V.T,
            rank="auto",
            rank_method="cv",
            ranks=range(1, 7),
            seed=3,
            n_surrogates=0,
            n_restarts=1,
        )
    assert ds.attrs["rank"] == s.best_rank == PLANTED
    np.testing.assert_allclose(ds["rank_scores"].values, s.scores["cv_mean"].values)


def test_heldout_loss_is_the_shared_deviance():
    V = planted_counts(2, n=300)
    train = np.random.default_rng(0).random(V.shape) > 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = nm.nmf(V, 3, loss="kl", mask=train, seed=0, max_iter=100)
    assert res.heldout_loss(V, ~train) == pytest.approx(
        heldout_deviance(V, res.reconstruct(), train)
    )


def test_deviance_finite_where_the_fit_predicts_zero():
    V = np.array([[0.0, 3.0, 1.0, 0.0], [2.0, 0.0, 0.0, 0.0]])
    train = np.array([[True, False, True, True], [True, True, True, False]])
    dev = heldout_deviance(V, np.zeros_like(V), train)
    # held-out 3 against 0.3 × its row's training rate 1/3 (μ = 0.1)
    expected = np.mean([2 * (3 * np.log(3 / 0.1) - 3 + 0.1), 2 * 0.3 * 2 / 3])
    assert dev == pytest.approx(expected)
    assert row_rates(np.zeros((2, 3)), np.ones((2, 3), bool)).min() > 0
