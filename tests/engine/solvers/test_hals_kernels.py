"""Every Numba kernel against its plain-NumPy twin (ALGORITHMS.md §10 test 15)."""

import numpy as np
import pytest

from neuronmf.engine.solvers import _hals_kernels as K
from neuronmf.engine.solvers import _reference as R


def _case(p, q, r, seed, dtype):
    rng = np.random.default_rng(seed)
    F = rng.random((p, r)).astype(dtype)
    other = rng.random((q, r)).astype(dtype)
    G = np.ascontiguousarray(other.T @ other)
    B = np.ascontiguousarray(rng.random((p, q)).astype(dtype) @ other)
    return F, B, G


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("l1, l2", [(0.0, 0.0), (0.3, 0.0), (0.0, 2.0), (0.1, 0.5)])
def test_update_rows_matches_reference(dtype, l1, l2):
    for seed in range(5):
        F, B, G = _case(40, 25, 6, seed, dtype)
        expected = F.astype(np.float64)
        R.update_rows(
            expected, B.astype(np.float64), G.astype(np.float64), l1, l2, 7, 0.1
        )
        K.update_rows(F, B, G, l1, l2, 7, 0.1)
        tol = 1e-10 if dtype == np.float64 else 1e-4
        np.testing.assert_allclose(F, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_update_rows_blocks_match_reference_row_by_row(dtype):
    # several blocks of ROW_BLOCK rows plus a partial one; with up to 50 sweeps
    # rows meet the stopping rule at different sweeps, and each row must end
    # exactly where the row-by-row reference puts it
    p = 3 * K.ROW_BLOCK + 17
    F, B, G = _case(p, 30, 9, 11, dtype)
    F[::7] = 0.0  # rows that start at zero
    expected = F.astype(np.float64)
    R.update_rows(
        expected, B.astype(np.float64), G.astype(np.float64), 0.0, 0.0, 50, 0.1
    )
    K.update_rows(F, B, G, 0.0, 0.0, 50, 0.1)
    tol = 1e-12 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(F, expected, rtol=tol, atol=tol)


def test_update_rows_decreases_each_row_objective():
    F, B, G = _case(30, 20, 5, 7, np.float64)

    def obj(F_):
        return 0.5 * np.einsum("ik,kl,il->i", F_, G, F_) - np.einsum("ik,ik->i", F_, B)

    before = obj(F)
    K.update_rows(F, B, G, 0.0, 0.0, 3, 0.1)
    assert np.all(obj(F) <= before + 1e-12)
    assert F.min() >= 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unit_norm_columns_matches_reference(dtype):
    F, B, G = _case(30, 20, 5, 1, dtype)
    B[:, 2] = -1.0  # a column with no positive entry: falls back to a unit vector
    B[4, 2] = -0.5
    expected = F.astype(np.float64)
    R.update_columns_unit_norm(expected, B.astype(np.float64), G.astype(np.float64), 2)
    K.update_columns_unit_norm(F, B, G, 2)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(F, expected, rtol=tol, atol=tol)
    np.testing.assert_allclose(np.linalg.norm(F, axis=0), 1.0, rtol=1e-5)


def test_nnls_rows_matches_scipy():
    from scipy.optimize import nnls

    rng = np.random.default_rng(0)
    W = rng.random((15, 5))
    V = rng.random((15, 40)) - 0.3
    B = np.ascontiguousarray(V.T @ W)
    G = np.ascontiguousarray(W.T @ W)
    F = np.zeros((40, 5))
    K.nnls_rows(F, B, G, 200, 1e-14)
    for j in range(40):
        np.testing.assert_allclose(F[j], nnls(W, V[:, j])[0], atol=1e-10)


def test_nnls_rows_singular_gram_reaches_the_scipy_objective():
    """A duplicated column makes passive systems singular: the least-squares
    fallback must still give an optimal (if not unique) solution."""
    from scipy.optimize import nnls

    rng = np.random.default_rng(3)
    W = rng.random((12, 4))
    W = np.concatenate([W, W[:, :1]], axis=1)  # column 4 == column 0
    V = rng.random((12, 60))
    B = np.ascontiguousarray(V.T @ W)
    G = np.ascontiguousarray(W.T @ W)
    F = np.zeros((60, 5))
    K.nnls_rows(F, B, G, 250, 1e-14)
    assert (F >= 0).all()
    for j in range(60):
        ours = np.linalg.norm(V[:, j] - W @ F[j])
        ref = nnls(W, V[:, j])[1]
        assert ours <= ref + 1e-10


def test_update_rows_result_does_not_depend_on_the_split_into_workers():
    F, B, G = _case(5 * K.ROW_BLOCK + 3, 20, 7, 4, np.float64)
    one = F.copy()
    K._update_row_blocks(one, B, G, 0.1, 0.0, 30, 0.1, 1)
    for workers in (2, 3, 6):
        other = F.copy()
        K._update_row_blocks(other, B, G, 0.1, 0.0, 30, 0.1, workers)
        np.testing.assert_array_equal(other, one)
