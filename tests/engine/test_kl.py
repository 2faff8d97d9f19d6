"""KL (Poisson) loss: ALGORITHMS.md §10 test 6, monotonicity, projection."""

import numpy as np
import pytest
from scipy.optimize import minimize

import neuronmf as nm
from neuronmf.engine.solvers.mu import kl_divergence


def _poisson(m, n, r, seed, scale=5.0):
    rng = np.random.default_rng(seed)
    W, H = rng.random((m, r)), rng.random((r, n)) * scale
    return rng.poisson(W @ H).astype(float), W, H


@pytest.mark.parametrize("solver", ["ccd", "mu"])
def test_kl_objective_never_increases(solver):
    rng = np.random.default_rng(0)
    for seed in range(22):
        m, n = rng.integers(5, 50, size=2)
        r = int(rng.integers(1, min(m, n, 6) + 1))
        V, _, _ = _poisson(m, n, r, seed, scale=float(rng.uniform(0.3, 10)))
        V[0, :] += 1  # no all-zero rows
        res = nm.nmf(
            V,
            r,
            loss="kl",
            solver=solver,
            init="random",
            seed=seed,
            max_iter=60,
            tol=1e-12,
        )
        h = np.asarray(res.loss_history)
        assert np.all(h[1:] <= h[:-1] * (1 + 1e-12) + 1e-12), (seed, np.max(np.diff(h)))


def test_loss_is_the_generalised_kl_divergence():
    V, _, _ = _poisson(20, 60, 3, 1)
    res = nm.nmf(V, 3, loss="kl", seed=0)
    assert res.loss == pytest.approx(kl_divergence(V, res.W @ res.H), rel=1e-9)
    assert res.params["solver"] == "ccd"


def test_kl_with_fixed_W_is_the_poisson_mle():
    """Test 6a: H from the KL solver equals L-BFGS-B on the Poisson NLL to 1e-6."""
    V, W, _ = _poisson(40, 25, 3, 2)
    H = nm.project(V, W, loss="kl")
    for j in range(V.shape[1]):
        v = V[:, j]

        def nll(h, v=v):
            mu = W @ h
            return np.sum(mu - v * np.log(mu)), W.T @ (1 - v / mu)

        opt = minimize(
            nll,
            np.ones(3),
            jac=True,
            method="L-BFGS-B",
            bounds=[(1e-12, None)] * 3,
            options={"ftol": 1e-16, "gtol": 1e-12, "maxiter": 10000},
        )
        np.testing.assert_allclose(H[:, j], opt.x, rtol=1e-6, atol=1e-7)


def test_rank_one_mle_is_closed_form():
    """Test 6b: for r = 1, WH = (row sums)(column sums) / total."""
    V, _, _ = _poisson(15, 40, 2, 3)
    res = nm.nmf(V, 1, loss="kl", tol=1e-12, max_iter=2000)
    expected = np.outer(V.sum(1), V.sum(0)) / V.sum()
    np.testing.assert_allclose(res.W @ res.H, expected, rtol=1e-6)


@pytest.mark.parametrize("solver", ["ccd", "mu"])
def test_stationary_point_matches_row_and_column_sums(solver):
    """Test 6c: at a KL stationary point, WH has the row and column sums of V."""
    V, _, _ = _poisson(20, 50, 3, 4)
    res = nm.nmf(V, 3, loss="kl", solver=solver, tol=1e-13, max_iter=20000)
    WH = res.W @ res.H
    np.testing.assert_allclose(WH.sum(axis=1), V.sum(axis=1), rtol=1e-6)
    np.testing.assert_allclose(WH.sum(axis=0), V.sum(axis=0), rtol=1e-6)


def test_ccd_and_mu_reach_the_same_objective():
    V, _, _ = _poisson(30, 80, 3, 5)
    a = nm.nmf(V, 3, loss="kl", solver="ccd", seed=0, tol=1e-12, max_iter=5000)
    b = nm.nmf(V, 3, loss="kl", solver="mu", seed=0, tol=1e-13, max_iter=50000)
    assert b.loss == pytest.approx(a.loss, rel=1e-4)


def test_zeros_in_v_are_exact():
    V, _, _ = _poisson(20, 30, 2, 6, scale=0.3)
    assert np.mean(V == 0) > 0.5
    res = nm.nmf(V, 2, loss="kl", seed=0)
    assert np.isfinite(res.loss) and res.loss >= 0


def test_kl_float32():
    V, _, _ = _poisson(25, 60, 3, 7)
    a = nm.nmf(V, 3, loss="kl", seed=0)
    b = nm.nmf(V.astype(np.float32), 3, loss="kl", seed=0)
    assert b.W.dtype == np.float32
    assert b.loss == pytest.approx(a.loss, rel=1e-3)


def test_ccd_is_continuous_in_its_start():
    """Starts one ulp apart give the same fit (issue 25 finding, s10_sparsecv).

    A left step clamped at -f_k empties (f·o)_t where f_k alone made it: the
    difference is exact 0 or a residual of ±1e-17 depending on rounding, and
    the curvature safeguard halved the step in the first case but bounded the
    curvature by ~x o²/1e-34 (no move) in the second, so W ended ~0.1 apart
    after one iteration. Both branches now halve.
    """
    for seed in range(3):
        rng = np.random.default_rng(seed)
        W = rng.random((30, 2)) * (rng.random((30, 2)) < 0.5)
        H = (rng.random((2, 200)) < 0.15) * 4.0
        V = rng.poisson(W @ H + 0.2).astype(float)
        W0, H0 = rng.random((30, 3)) + 0.1, rng.random((3, 200)) + 0.1
        W1 = W0 * (1 + 2.0**-52 * (rng.random(W0.shape) < 0.5))
        assert np.any(W1 != W0)
        for it in (1, 10):
            kw = {"loss": "kl", "solver": "ccd", "max_iter": it, "tol": 0}
            a = nm.nmf(V, 3, W=W0, H=H0, **kw)
            b = nm.nmf(V, 3, W=W1, H=H0, **kw)
            np.testing.assert_allclose(a.W, b.W, rtol=0, atol=1e-12)
            np.testing.assert_allclose(a.H, b.H, rtol=0, atol=1e-12)
            assert abs(a.loss - b.loss) <= 1e-9 * a.loss
