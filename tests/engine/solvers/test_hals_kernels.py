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


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("l1, l2", [(0.0, 0.0), (0.2, 0.5)])
@pytest.mark.parametrize("n", [50, 3 * K.ROW_BLOCK + 17])
def test_fused_h_step_matches_reference(dtype, l1, l2, n):
    rng = np.random.default_rng(n)
    m, r = 12, 5
    V = rng.random((m, n)).astype(dtype)
    W = rng.random((m, r)).astype(dtype)
    Hy = rng.random((n, r)).astype(dtype)
    Hy[::9] = 0.0  # rows that start at zero
    G = np.ascontiguousarray(W.T @ W)
    before = Hy.copy()
    H, P, Q = K.fused_h_step(V, W, Hy, G, l1, l2, 7, 0.1)
    f64 = [a.astype(np.float64) for a in (V, W, Hy, G)]
    H_ref, P_ref, Q_ref = R.fused_h_step(*f64, l1, l2, 7, 0.1)
    np.testing.assert_array_equal(Hy, before)  # the input is not modified
    assert H.dtype == P.dtype == dtype and Q.dtype == np.float64
    tol = 1e-12 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(H, H_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(P, P_ref, rtol=tol, atol=tol * np.abs(P_ref).max())
    np.testing.assert_allclose(Q, Q_ref, rtol=tol, atol=tol * np.abs(Q_ref).max())


def test_fused_h_step_does_not_depend_on_the_thread_count():
    import numba as nb

    rng = np.random.default_rng(3)
    V, W = rng.random((16, 5 * K.ROW_BLOCK + 3)), rng.random((16, 4))
    Hy = rng.random((V.shape[1], 4))
    G = W.T @ W
    threads = nb.get_num_threads()
    try:
        nb.set_num_threads(1)
        one = K.fused_h_step(V, W, Hy, G, 0.0, 0.0, 20, 0.1)
    finally:
        nb.set_num_threads(threads)
    many = K.fused_h_step(V, W, Hy, G, 0.0, 0.0, 20, 0.1)
    np.testing.assert_array_equal(one[0], many[0])  # rows are independent
    for a, b in zip(one[1:], many[1:], strict=True):  # sums in another order
        np.testing.assert_allclose(a, b, rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_projected_gradient_sq_rows_matches_numpy(dtype):
    rng = np.random.default_rng(5)
    m, n, r = 10, 2 * K.ROW_BLOCK + 9, 4
    V = rng.random((m, n)).astype(dtype)
    W = rng.random((m, r)).astype(dtype)
    Ht = rng.random((n, r)).astype(dtype)
    Ht[rng.random((n, r)) < 0.3] = 0.0  # entries at the bound
    G = np.ascontiguousarray(W.T @ W)
    scale = rng.random(r) + 0.5
    l1, l2 = 0.05, 0.3
    V64, W64, H64 = (a.astype(np.float64) for a in (V, W, Ht))
    grad = H64 @ (W64.T @ W64) - V64.T @ W64 + l1 + l2 * H64
    proj = np.where(H64 > 0, grad, np.minimum(grad, 0)) * scale
    expected = np.sum(proj**2)
    got = K.projected_gradient_sq_rows(V, W, Ht, G, l1, l2, scale)
    assert got == pytest.approx(expected, rel=1e-10 if dtype == np.float64 else 1e-4)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_extrapolate_matches_numpy(dtype):
    rng = np.random.default_rng(6)
    X, X_prev = rng.random((300, 7)).astype(dtype), rng.random((300, 7)).astype(dtype)
    Y = K.extrapolate(X, X_prev, 0.7)
    expected = np.maximum(X + 0.7 * (X.astype(np.float64) - X_prev), 0)
    assert Y.dtype == dtype
    assert (Y == 0).any() and Y.min() >= 0
    tol = 1e-6 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(Y, expected, rtol=tol, atol=tol)


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
