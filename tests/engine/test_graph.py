"""Graph smoothness penalty: ALGORITHMS.md §10 test 12 and the graph helpers."""

import numpy as np
import pytest
import scipy.sparse as sp

import neuronmf as nm
from neuronmf.engine.graph import Graph
from neuronmf.model_selection import match_components


def _blob_movie(snr_db=0.0, side=64, n_frames=300, seed=0):
    """Gaussian-blob footprints (side × side pixels) with noisy activity."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side]
    centres = [(16, 16), (16, 46), (46, 20), (44, 46)]
    W = np.stack(
        [
            np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 5.0**2)).ravel()
            for cy, cx in centres
        ],
        axis=1,
    )
    H = rng.gamma(0.6, 1.0, size=(len(centres), n_frames))
    clean = W @ H
    sigma = np.sqrt(np.mean(clean**2) / 10 ** (snr_db / 10))
    V = np.maximum(clean + sigma * rng.standard_normal(clean.shape), 0)
    return V, W, H


def test_zero_weight_reproduces_the_unpenalised_fit_exactly():
    V, _, _ = _blob_movie(snr_db=10, side=16, n_frames=80)
    A = nm.grid_graph((16, 16))
    for loss in ("frobenius", "kl"):
        plain = nm.nmf(V, 4, loss=loss, seed=0, max_iter=50)
        zero = nm.nmf(V, 4, loss=loss, seed=0, max_iter=50, graph_W=A, graph_weight=0.0)
        np.testing.assert_array_equal(zero.W, plain.W)
        assert zero.loss_history == plain.loss_history


@pytest.mark.parametrize("loss, weight", [("frobenius", 0.2), ("kl", 1.0)])
def test_smoothness_improves_recovery_of_blob_footprints_at_0db(loss, weight):
    V, W, _ = _blob_movie(snr_db=0.0, n_frames=40)
    if loss == "kl":
        V = np.random.default_rng(1).poisson(V * 2.0).astype(float)
    A = nm.grid_graph((64, 64))
    plain = nm.nmf(V, 4, loss=loss, seed=0, tol=1e-6)
    smooth = nm.nmf(V, 4, loss=loss, seed=0, tol=1e-6, graph_W=A, graph_weight=weight)
    cos_plain = match_components(W, plain.W).mean
    cos_smooth = match_components(W, smooth.W).mean
    assert cos_smooth > cos_plain + 0.01, (cos_plain, cos_smooth)
    h = np.asarray(smooth.loss_history)
    if loss == "frobenius":  # exact coordinate descent: monotone
        assert np.all(h[1:] <= h[:-1] * (1 + 1e-12))


def test_graph_objective_monotone_and_reported():
    V, _, _ = _blob_movie(snr_db=5, side=20, n_frames=100)
    A = nm.grid_graph((20, 20), connectivity=8)
    res = nm.nmf(
        V,
        4,
        seed=0,
        graph_W=A,
        graph_weight=2.0,
        l1_W=0.1,
        l1_H=0.1,
        max_iter=100,
        tol=1e-12,
    )
    h = np.asarray(res.loss_history)
    assert np.all(h[1:] <= h[:-1] * (1 + 1e-12))
    for solver in ("mu", "gradient"):
        other = nm.nmf(
            V,
            4,
            seed=0,
            solver=solver,
            graph_W=A,
            graph_weight=2.0,
            l1_W=0.1,
            l1_H=0.1,
            max_iter=20000,
            tol=1e-12,
        )
        assert other.loss >= res.loss * (1 - 1e-3)


def test_red_black_and_sequential_orders_reach_the_same_fixed_point(monkeypatch):
    V, _, _ = _blob_movie(snr_db=10, side=12, n_frames=60)
    A = nm.grid_graph((12, 12))
    coloured = nm.nmf(
        V, 3, seed=0, graph_W=A, graph_weight=1.0, tol=1e-14, max_iter=20000
    )
    original = Graph.from_adjacency.__func__

    def sequential(cls, adjacency, n_nodes):
        g = original(cls, adjacency, n_nodes)
        # one row per "colour": plain Gauss–Seidel in index order
        g.colour_ptr = np.arange(n_nodes + 1, dtype=np.int64)
        g.colour_rows = np.arange(n_nodes, dtype=np.int64)
        return g

    monkeypatch.setattr(Graph, "from_adjacency", classmethod(sequential))
    plain_order = nm.nmf(
        V, 3, seed=0, graph_W=A, graph_weight=1.0, tol=1e-14, max_iter=20000
    )
    # tol = 1e-14 on the objective fixes the point to about sqrt(tol) = 1e-7
    np.testing.assert_allclose(plain_order.W, coloured.W, atol=1e-8)
    np.testing.assert_allclose(plain_order.H, coloured.H, atol=1e-6 * np.abs(V).max())


def test_grid_and_knn_graphs():
    A = nm.grid_graph((3, 4))
    assert A.shape == (12, 12) and (A != A.T).nnz == 0
    assert np.asarray(A.sum(axis=1)).ravel().tolist()[:4] == [2, 3, 3, 2]
    A8 = nm.grid_graph((3, 3), connectivity=8)
    assert A8[4].nnz == 8
    coords = np.array([[0, 0], [0, 1], [5, 5], [5, 6]], float)
    K = nm.knn_graph(coords, 1)
    assert K[0, 1] == 1 and K[2, 3] == 1 and K[0, 2] == 0


@pytest.mark.parametrize(
    "graph, weight, message",
    [
        (nm.grid_graph((3, 3)), 1.0, r"graph_W.shape must be \(12, 12\)"),
        (np.eye(12), 1.0, r"graph_W must be a scipy.sparse adjacency matrix"),
        (-nm.grid_graph((3, 4)), 1.0, r"graph_W must be non-negative"),
        (
            sp.csr_matrix(np.triu(np.ones((12, 12)), 1)),
            1.0,
            r"graph_W must be symmetric",
        ),
        (nm.grid_graph((3, 4)), -1.0, r"graph_weight must be a finite number >= 0"),
        (None, 1.0, r"graph_W must be given when graph_weight > 0"),
    ],
)
def test_bad_graphs(graph, weight, message):
    V = np.random.default_rng(0).random((12, 20))
    with pytest.raises(nm.InputError, match=message):
        nm.nmf(V, 2, graph_W=graph, graph_weight=weight)


def test_bad_graph_helpers():
    with pytest.raises(nm.InputError, match="connectivity must be 4 or 8"):
        nm.grid_graph((3, 3), connectivity=6)
    with pytest.raises(nm.InputError, match=r"k must be an integer in \[1, 2\]"):
        nm.knn_graph(np.zeros((3, 2)), 5)
