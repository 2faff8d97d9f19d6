"""Solver behaviour: monotone objective, KKT, extrapolation restarts."""

import itertools

import numpy as np
import pytest

import neuronmf as nm
from neuronmf.engine.losses import frobenius_objective
from neuronmf.engine.solvers import hals
from neuronmf.engine.solvers.base import Monitor, Problem
from tests.conftest import planted


def _random_problem(seed):
    rng = np.random.default_rng(seed)
    m, n = rng.integers(5, 60, size=2)
    r = int(rng.integers(1, min(m, n, 8) + 1))
    return rng.random((m, n)) ** 2, r


@pytest.mark.parametrize("solver", ["hals", "mu"])
def test_objective_never_increases(solver):
    for seed in range(25):
        V, r = _random_problem(seed)
        # escape=False: an escape round restarts from new factors on purpose
        res = nm.nmf(
            V,
            r,
            solver=solver,
            init="random",
            seed=seed,
            max_iter=60,
            tol=1e-12,
            escape=False,
        )
        h = np.asarray(res.loss_history)
        assert np.all(h[1:] <= h[:-1] * (1 + 1e-12)), (seed, np.max(np.diff(h)))


def test_plain_hals_is_monotone_and_extrapolation_is_not_worse():
    from neuronmf.engine.init import initialize

    better = 0
    for seed in range(10):
        V, _, _ = planted(60, 90, 5, snr_db=20, seed=seed)
        problem = Problem(np.ascontiguousarray(V), 5, max_iter=30, tol=1e-14)
        W0, H0 = initialize(V, 5, "random", np.random.default_rng(seed))
        plain = Monitor(problem)
        hals.solve(problem, W0, H0, plain, extrapolate=False)
        extra = Monitor(problem)
        hals.solve(problem, W0, H0, extra, extrapolate=True)
        h = np.asarray(plain.history)
        assert np.all(h[1:] <= h[:-1] * (1 + 1e-12))
        better += extra.history[-1] <= plain.history[-1] * (1 + 1e-9)
    # Non-convex: extrapolation may settle in another local minimum now and then,
    # but after the same number of iterations it is at least as good on most.
    assert better >= 8


def test_extrapolation_restarts_when_the_error_rises(monkeypatch):
    V, _, _ = planted(40, 60, 4, snr_db=10, seed=2)
    rejected = []
    original = hals._extrapolate

    def spy(X, X_prev, beta):
        rejected.append(beta)
        return original(X, X_prev, beta * 50)  # a far too long step must be rejected

    monkeypatch.setattr(hals, "_extrapolate", spy)
    res = nm.nmf(V, 4, seed=0, max_iter=40, tol=1e-12)
    h = np.asarray(res.loss_history)
    assert np.all(h[1:] <= h[:-1] * (1 + 1e-12))
    # rejected steps leave the objective unchanged: some iterations must be flat
    assert np.sum(h[1:] == h[:-1]) >= 1
    # after a rejection beta shrinks, so the spy saw a decreasing beta at least once
    assert any(b2 < b1 for b1, b2 in itertools.pairwise(rejected))


@pytest.mark.parametrize("solver", ["hals"])
def test_kkt_conditions_on_noise_free_data(solver):
    V, _, _ = planted(60, 120, 4, seed=5)
    res = nm.nmf(V, 4, solver=solver, seed=0, tol=1e-10, max_iter=5000)
    W, H = res.W, res.H
    gW = (W @ H - V) @ H.T
    gH = W.T @ (W @ H - V)
    # balanced scaling, as the stopping rule measures it
    d = np.sqrt(np.linalg.norm(H, axis=1) / np.linalg.norm(W, axis=0))
    pgW = np.where(W > 0, gW, np.minimum(gW, 0)) / d
    pgH = np.where(H > 0, gH, np.minimum(gH, 0)) * d[:, None]
    pg = np.sqrt(np.sum(pgW**2) + np.sum(pgH**2))
    scale = np.linalg.norm(V) * np.linalg.norm(np.vstack([W * d, (H / d[:, None]).T]))
    assert pg / scale <= 1e-6
    assert np.abs(W * gW).max() <= 1e-8 * np.linalg.norm(V)
    assert np.abs(H * gH).max() <= 1e-8 * np.linalg.norm(V)


def test_loss_history_matches_direct_objective():
    V, _, _ = planted(30, 50, 3, snr_db=20, seed=1)
    res = nm.nmf(V, 3, seed=0, l1_H=0.1, max_iter=30, tol=1e-12)
    direct = frobenius_objective(V, res.W, res.H)
    # penalties are evaluated at the fitting scale; the data term is exact
    assert res.relative_error == pytest.approx(np.sqrt(2 * direct) / np.linalg.norm(V))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_step_fits_like_the_blas_products(monkeypatch, dtype):
    # skinny data takes the one-pass fused H step; forcing the two BLAS
    # products instead must give the same fit (sums in another order only)
    rng = np.random.default_rng(2)
    V = (rng.random((16, 5)) @ rng.random((5, 3000)) + 0.01).astype(dtype)
    assert hals.uses_fused_step(V)
    kw = {"seed": 0, "max_iter": 60, "tol": 1e-12}
    fused = nm.nmf(V, 5, **kw)
    monkeypatch.setattr(hals, "uses_fused_step", lambda V: False)
    blas = nm.nmf(V, 5, **kw)
    if dtype == np.float64:
        assert fused.n_iter == blas.n_iter
        np.testing.assert_allclose(fused.loss_history, blas.loss_history, rtol=1e-9)
        np.testing.assert_allclose(fused.W, blas.W, rtol=1e-9, atol=1e-9)
    else:  # float32 rounding flips some extrapolation accept/reject decisions
        assert fused.W.dtype == np.float32
        assert fused.relative_error == pytest.approx(blas.relative_error, rel=1e-2)
