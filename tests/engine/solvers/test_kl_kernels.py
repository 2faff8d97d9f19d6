"""KL and graph kernels against their plain-NumPy twins (ALGORITHMS.md §10 test 15)."""

import numba
import numpy as np
import pytest

from neuronmf.engine.graph import Graph, grid_graph, no_graph
from neuronmf.engine.solvers import _hals_kernels as HK
from neuronmf.engine.solvers import _kl_kernels as K
from neuronmf.engine.solvers import _reference as R


def _kernel_update(F, X, O, M, masked, l1, l2, sweeps, steps, lam, graph):
    """Call the sparse-row kernel from dense inputs (as the CCD driver does)."""
    import scipy.sparse as sp

    mask = M.astype(bool) if masked else np.ones(X.shape, bool)
    csr = sp.csr_matrix(np.where(mask, X, 0))
    Ot = np.ascontiguousarray(O.T)
    base = np.ascontiguousarray(mask.astype(X.dtype) @ Ot)
    widest = int(np.diff(csr.indptr).max())
    scratch = np.zeros(
        (numba.get_num_threads(), (O.shape[0] + 2) * widest + 3 * O.shape[0])
    )
    return K.kl_update_rows(
        F,
        csr.indptr.astype(np.int64),
        csr.indices.astype(np.int64),
        np.ascontiguousarray(csr.data, dtype=X.dtype),
        Ot,
        base,
        l1,
        l2,
        sweeps,
        steps,
        lam,
        *graph,
        scratch,
    )


def _kl_case(p, q, r, seed, masked):
    rng = np.random.default_rng(seed)
    F = rng.random((p, r)) + 0.1
    O = rng.random((r, q)) + 0.05
    X = rng.poisson(3 * (rng.random((p, r)) @ O)).astype(float)
    X[:, 0] = 0.0  # an all-zero column: 0·log 0 terms
    M = (
        (rng.random((p, q)) > 0.2).astype(np.uint8)
        if masked
        else np.ones((1, 1), np.uint8)
    )
    return F, X, O, M


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("l1, l2", [(0.0, 0.0), (0.5, 0.0), (0.0, 1.0)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kl_update_rows_matches_reference(masked, l1, l2, dtype):
    F, X, O, M = _kl_case(20, 30, 4, 0, masked)
    graph = no_graph(20)
    ref = F.copy()
    expected = R.kl_update_rows(ref, X, O, M, masked, l1, l2, 2, 2, 0.0, *graph)
    Fk = F.astype(dtype)
    got = _kernel_update(
        Fk, X.astype(dtype), O.astype(dtype), M, masked, l1, l2, 2, 2, 0.0, graph
    )
    tol = 1e-10 if dtype == np.float64 else 1e-3
    np.testing.assert_allclose(Fk, ref, rtol=tol, atol=tol)
    assert got == pytest.approx(expected, rel=tol)


def test_kl_update_rows_with_graph_matches_reference():
    F, X, O, M = _kl_case(12, 25, 3, 1, False)
    g = Graph.from_adjacency(grid_graph((3, 4)), 12)
    arrays = (g.indptr, g.indices, g.weights, g.colour_ptr, g.colour_rows)
    ref = F.copy()
    expected = R.kl_update_rows(ref, X, O, M, False, 0.0, 0.0, 1, 2, 0.7, *arrays)
    got = _kernel_update(F, X, O, M, False, 0.0, 0.0, 1, 2, 0.7, arrays)
    np.testing.assert_allclose(F, ref, rtol=1e-10, atol=1e-12)
    assert got == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("masked", [False, True])
def test_kl_data_loss_matches_reference(masked):
    F, X, O, M = _kl_case(15, 40, 3, 2, masked)
    assert K.kl_data_loss(X, F, O, M, masked) == pytest.approx(
        R.kl_data_loss(X, F, O, M, masked), rel=1e-12
    )


def test_every_kl_coordinate_step_lowers_the_row_objective():
    F, X, O, M = _kl_case(30, 50, 5, 3, False)
    graph = no_graph(30)
    losses = [K.kl_data_loss(X, F, O, M, False)]
    for _ in range(10):
        losses.append(_kernel_update(F, X, O, M, False, 0.0, 0.0, 1, 1, 0.0, graph))
    assert np.all(np.diff(losses) <= 1e-12 * abs(losses[0]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_update_rows_graph_matches_reference(dtype):
    rng = np.random.default_rng(0)
    g = Graph.from_adjacency(grid_graph((4, 5), connectivity=8), 20)
    arrays = (g.indptr, g.indices, g.weights, g.colour_ptr, g.colour_rows)
    F = rng.random((20, 3)).astype(dtype)
    H = rng.random((3, 30)).astype(dtype)
    B = np.ascontiguousarray(rng.random((20, 30)).astype(dtype) @ H.T)
    G = np.ascontiguousarray(H @ H.T)
    ref = F.astype(np.float64)
    R.update_rows_graph(
        ref, B.astype(np.float64), G.astype(np.float64), 0.1, 0.2, 3, 0.1, 0.8, *arrays
    )
    scratch = np.zeros((numba.get_num_threads(), 3), dtype)
    HK.update_rows_graph(F, B, G, 0.1, 0.2, 3, 0.1, 0.8, *arrays, scratch)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(F, ref, rtol=tol, atol=tol)


def test_entry_kernels_match_reference():
    rng = np.random.default_rng(1)
    X = rng.random((10, 12))
    W, Ht, P = rng.random((10, 3)), rng.random((12, 3)), rng.random((10, 3))
    rows, cols = np.nonzero(rng.random((10, 12)) > 0.7)
    rows, cols = rows.astype(np.int64), cols.astype(np.int64)
    np.testing.assert_allclose(
        HK.entries_squares(X, rows, cols, W, Ht),
        R.entries_squares(X, rows, cols, W, Ht),
        rtol=1e-12,
    )
    X1, X2, P1, P2 = X.copy(), X.copy(), P.copy(), P.copy()
    HK.fill_and_update_product(X1, rows, cols, W, Ht, P1)
    R.fill_and_update_product(X2, rows, cols, W, Ht, P2)
    np.testing.assert_allclose(X1, X2, rtol=1e-12)
    np.testing.assert_allclose(P1, P2, rtol=1e-12)
    X3, X4 = X.copy(), X.copy()
    HK.fill_entries(X3, rows, cols, W, Ht)
    R.fill_entries(X4, rows, cols, W, Ht)
    np.testing.assert_allclose(X3, X4, rtol=1e-12)


@pytest.mark.parametrize("connectivity, n_colours", [(4, 2), (8, 4)])
def test_greedy_colouring_is_proper_and_matches_reference(connectivity, n_colours):
    A = grid_graph((7, 9), connectivity=connectivity).tocsr()
    indptr, indices = A.indptr.astype(np.int64), A.indices.astype(np.int64)
    colours = HK.greedy_colouring(indptr, indices)
    np.testing.assert_array_equal(colours, R.greedy_colouring(indptr, indices))
    assert colours.max() + 1 == n_colours
    rows, cols = A.nonzero()
    assert np.all(colours[rows] != colours[cols])
