"""choose_x_ortho, factor_significance and select_conv_rank (seqNMF's model choice)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import neuronmf as nm
from neuronmf.datasets._neural_sequences import simulate_sequences
from neuronmf.engine.convolutive import factor_similarity, reconstruct_conv
from neuronmf.model_selection import (
    choose_x_ortho,
    factor_significance,
    select_conv_rank,
)


@pytest.fixture(scope="module")
def sim():
    return simulate_sequences(seed=5)


def _shuffled(V, split, seed):
    """Each neuron circularly shifted in time on its own, independently in the
    training and the test part: nothing fitted on one recurs in the other. (One
    shift for the whole recording keeps neurons whose new lags fall within L of
    each other in a fixed order: a genuine sequence that the test finds.)"""
    rng = np.random.default_rng(seed)
    parts = (V[:, :split], V[:, split:])
    return np.concatenate(
        [np.stack([np.roll(v, rng.integers(p.shape[1])) for v in p]) for p in parts],
        axis=1,
    )


def test_crossover_lambda_recovers_the_sequences(sim):
    grid = np.logspace(-4, -1, 10)
    ch = choose_x_ortho(sim.data, 5, 50, lambdas=grid, max_iter=40)
    diff = ch.reconstruction_norm - ch.correlation_norm
    i = int(np.flatnonzero(diff >= 0)[0])
    assert grid[i - 1] <= ch.crossover <= grid[i]
    assert ch.x_ortho == pytest.approx(2 * ch.crossover)
    # the penalty has pushed the reconstruction cost up and the correlation down
    assert ch.reconstruction_cost[-1] > ch.reconstruction_cost[0]
    assert ch.correlation_cost[-1] < ch.correlation_cost[0]
    res = nm.conv_nmf(sim.data, 5, 50, x_ortho=ch.x_ortho, seed=0, max_iter=60)
    assert factor_similarity(sim.W, sim.H, res.W, res.H) >= 0.9
    assert res.power_explained[3:].max() < 0.01
    ds = ch.to_dataset()
    assert ds.attrs["neuronmf_kind"] == "x_ortho_scan"
    assert ds.attrs["chosen_x_ortho"] == ch.x_ortho


def test_significance_finds_real_sequences_and_not_shuffled_ones(sim):
    split = 2250  # seqNMF's demo: fit the first 75 %, test the last 25 %
    res = nm.conv_nmf(sim.data[:, :split], 5, 50, x_ortho=0.006, seed=0, max_iter=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the empty factors
        sig = factor_significance(sim.data[:, split:], res.W, seed=0)
    assert sig.significant.sum() == 3
    assert np.all(sig.significant[:3])
    null = _shuffled(sim.data, split, 1)
    res0 = nm.conv_nmf(null[:, :split], 5, 50, x_ortho=0.006, seed=0, max_iter=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sig0 = factor_significance(null[:, split:], res0.W, seed=0)
    assert sig0.significant.sum() == 0


def test_empty_factor_is_nan_with_a_warning():
    W = np.zeros((10, 2, 10))
    W[np.arange(10), 0, np.arange(10)] = 1.0
    H = np.zeros((2, 600))
    H[0, 30::60] = 1
    V = reconstruct_conv(W, H) + 0.01
    with pytest.warns(RuntimeWarning, match="not tested"):
        sig = factor_significance(V, W, seed=0)
    assert np.isnan(sig.pvalues[1]) and not sig.significant[1]
    assert sig.significant[0]
    # Bonferroni over the one tested factor; seqNMF's default null count
    assert sig.n_null == 40


def test_select_conv_rank_finds_two_sequences_and_one_on_noise():
    rng = np.random.default_rng(0)
    W = np.zeros((12, 2, 12))
    for i in range(6):
        W[i, 0, 2 * i] = W[6 + i, 1, 2 * i] = 1.0
    H = (rng.random((2, 500)) < 0.03).astype(float)
    V = reconstruct_conv(W, H) + 0.05 * rng.random((12, 500))
    scan = select_conv_rank(V, [1, 2, 3], 12, n_repeats=3, max_iter=80)
    assert scan.best_rank == 2
    assert scan.scores["cv_error"].shape == (3, 3)
    noise = rng.random((12, 500))
    assert (
        select_conv_rank(noise, [1, 2, 3], 12, n_repeats=3, max_iter=80).best_rank == 1
    )


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda V: choose_x_ortho(V, 2, 5, lambdas=[0.1, 0.2]), "lambdas must be"),
        (lambda V: choose_x_ortho(V, 2, 5, x_ortho=0.1), "x_ortho must be"),
        (lambda V: choose_x_ortho(V, 0, 5), "rank must be"),
        (lambda V: factor_significance(V, np.ones((3, 1, 2))), "V_test must be"),
        (lambda V: factor_significance(V, np.ones((6, 1, 2)), alpha=1.5), "alpha"),
        (lambda V: select_conv_rank(V, [], 5), "ranks must be"),
        (lambda V: select_conv_rank(V, [1], 5, holdout=0.7), "holdout must be"),
    ],
)
def test_bad_input_is_refused_before_work(call, match):
    V = np.random.default_rng(0).random((6, 100))
    with pytest.raises(nm.InputError, match=match):
        call(V)


def test_select_conv_rank_kl_scores_held_out_deviance():
    sim = simulate_sequences(n_sequences=2, n_frames=1500, kind="poisson", seed=3)
    scan = select_conv_rank(
        sim.data, [1, 2, 3], 30, loss="kl", n_repeats=3, max_iter=100
    )
    err = scan.scores["cv_error"].values
    assert np.all(np.isfinite(err)) and np.all(err > 0)
    assert scan.best_rank == 2


def test_significance_nulls_run_on_one_blas_thread(monkeypatch):
    """factor_significance's null products follow the engine's thread rule
    (engine.solvers.base.blas_threads): 120 small products woke two BLAS
    threads each, 10-30× slower on two busy cores."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from neuronmf.model_selection import x_ortho

    def blas():
        return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}

    if not blas():
        pytest.skip("no BLAS library that threadpoolctl controls")
    real, seen = x_ortho._circular_transconv, []

    def spy(W, X):
        seen.append(blas())
        return real(W, X)

    monkeypatch.setattr(x_ortho, "_circular_transconv", spy)
    W = np.zeros((10, 1, 10))
    W[np.arange(10), 0, np.arange(10)] = 1.0
    H = np.zeros((1, 600))
    H[0, 30::60] = 1
    V = reconstruct_conv(W, H) + 0.01
    with threadpool_limits(2, user_api="blas"):
        sig = factor_significance(V, W, seed=0)
        assert blas() == {2}  # restored
    assert sig.significant[0]
    assert len(seen) == 1 + sig.n_null and all(b == {1} for b in seen)
