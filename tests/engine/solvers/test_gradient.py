"""The exponential-reparameterisation gradient solver, the generic reference."""

import numpy as np
import pytest

import neuronmf as nm
from tests.conftest import planted


def _counts(seed, m=12, n=30, r=3):
    rng = np.random.default_rng(seed)
    return rng.poisson(rng.random((m, r)) @ rng.random((r, n)) * 3).astype(float) + 0.1


@pytest.mark.parametrize("loss, reference", [("frobenius", "hals"), ("kl", "ccd")])
def test_gradient_reaches_the_reference_objective_where_the_minimum_is_unique(
    loss, reference
):
    """Rank one, and H for a fixed W, have a single minimum: both must find it."""
    for seed in range(4):
        V = _counts(seed)
        a = nm.nmf(V, 1, loss=loss, solver=reference, tol=1e-12, max_iter=5000)
        b = nm.nmf(V, 1, loss=loss, solver="gradient", tol=1e-12, max_iter=20000)
        assert b.loss == pytest.approx(a.loss, rel=1e-3)
        W = np.random.default_rng(seed).random((12, 3))
        a = nm.nmf(
            V,
            3,
            loss=loss,
            solver=reference,
            W=W,
            update_W=False,
            tol=1e-12,
            max_iter=5000,
        )
        b = nm.nmf(
            V,
            3,
            loss=loss,
            solver="gradient",
            W=W,
            update_W=False,
            tol=1e-12,
            max_iter=20000,
        )
        assert b.loss == pytest.approx(a.loss, rel=1e-3)


@pytest.mark.parametrize("loss", ["frobenius", "kl"])
def test_gradient_objective_never_increases(loss):
    for seed in range(3):
        res = nm.nmf(
            _counts(seed),
            3,
            loss=loss,
            solver="gradient",
            seed=0,
            max_iter=300,
            tol=1e-12,
        )
        h = np.asarray(res.loss_history)
        assert np.all(h[1:] <= h[:-1])


def test_gradient_respects_fixed_factors():
    V, W, H = planted(10, 20, 2, seed=0)
    res = nm.nmf(V, 2, solver="gradient", W=W, update_W=False, tol=1e-12, max_iter=5000)
    np.testing.assert_array_equal(res.W, W)
    np.testing.assert_allclose(res.H, H, rtol=1e-3, atol=1e-4)
