"""Graphs over the features (pixels, electrodes) for smoothness penalties.

The penalty λ·tr(WᵀLW) = λ Σ_k Σ_{edges (i, j)} s_ij (W_ik − W_jk)² makes each part
smooth over the graph: neighbouring pixels get similar weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from neuronmf.errors import input_error


def grid_graph(shape: tuple[int, ...], connectivity: int = 4) -> sp.csr_matrix:
    """Adjacency of a 2-D pixel grid in C (row-major) order.

    Parameters
    ----------
    shape : (ny, nx)
        Grid size; pixel (y, x) is node ``y * nx + x``, matching how a
        (time, y, x) movie is stacked into features.
    connectivity : {4, 8}
        4: horizontal and vertical neighbours (weight 1); 8: also diagonals
        (weight 1/√2, their inverse distance).

    Returns
    -------
    scipy.sparse.csr_matrix of shape (ny·nx, ny·nx), symmetric, zero diagonal.

    Examples
    --------
    >>> A = grid_graph((3, 4))
    >>> A.shape, int(A.nnz)
    ((12, 12), 34)
    >>> int(grid_graph((3, 4), connectivity=8).nnz)  # 17 + 12 diagonal edges, twice
    58
    """
    if (
        not isinstance(shape, tuple | list)
        or len(shape) != 2
        or not all(isinstance(s, int | np.integer) and s >= 1 for s in shape)
    ):
        raise input_error("shape", "a pair of positive integers (ny, nx)", repr(shape))
    if connectivity not in (4, 8):
        raise input_error("connectivity", "4 or 8", repr(connectivity))
    ny, nx = (int(s) for s in shape)
    index = np.arange(ny * nx).reshape(ny, nx)
    pairs = [
        (index[:, :-1], index[:, 1:], 1.0),
        (index[:-1, :], index[1:, :], 1.0),
    ]
    if connectivity == 8:
        diag = 1.0 / np.sqrt(2.0)
        pairs += [
            (index[:-1, :-1], index[1:, 1:], diag),
            (index[:-1, 1:], index[1:, :-1], diag),
        ]
    rows = np.concatenate([a.ravel() for a, _, _ in pairs])
    cols = np.concatenate([b.ravel() for _, b, _ in pairs])
    vals = np.concatenate([np.full(a.size, w) for a, _, w in pairs])
    A = sp.coo_matrix((vals, (rows, cols)), shape=(ny * nx, ny * nx))
    return (A + A.T).tocsr()


def knn_graph(coords, k: int) -> sp.csr_matrix:
    """Symmetric k-nearest-neighbour adjacency of points (e.g. electrode positions).

    Edge weights are 1; an edge exists when either point is among the other's
    k nearest neighbours.

    Parameters
    ----------
    coords : array-like of shape (n_points, n_dims)
    k : int
        Neighbours per point, 1 ≤ k < n_points.

    Examples
    --------
    >>> import numpy as np
    >>> A = knn_graph(np.arange(5.0)[:, None], 1)
    >>> A.toarray().sum(axis=1).tolist()
    [1.0, 2.0, 2.0, 2.0, 1.0]
    """
    from scipy.spatial import cKDTree

    pts = np.asarray(coords, dtype=np.float64)
    if pts.ndim == 1:
        pts = pts[:, None]
    if pts.ndim != 2 or not np.isfinite(pts).all():
        raise input_error(
            "coords", "a finite (n_points, n_dims) array", f"shape {pts.shape}"
        )
    n = pts.shape[0]
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k < n:
        raise input_error("k", f"an integer in [1, {n - 1}]", repr(k))
    _, idx = cKDTree(pts).query(pts, k=k + 1)
    rows = np.repeat(np.arange(n), k)
    cols = idx[:, 1:].ravel()
    A = sp.coo_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n)).tocsr()
    A = A.maximum(A.T)
    A.setdiag(0)
    A.eliminate_zeros()
    return A.tocsr()


@dataclass
class Graph:
    """A validated adjacency prepared for the kernels (CSR arrays and colours)."""

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    colour_ptr: np.ndarray
    colour_rows: np.ndarray
    laplacian: sp.csr_matrix

    @classmethod
    def from_adjacency(cls, adjacency, n_nodes: int) -> Graph:
        """Validate ``adjacency`` (n_nodes × n_nodes) and colour it."""
        from neuronmf.engine.solvers._hals_kernels import greedy_colouring

        if not sp.issparse(adjacency):
            raise input_error(
                "graph_W",
                "a scipy.sparse adjacency matrix",
                type(adjacency).__name__,
                "Build one with neuronmf.grid_graph(shape) or "
                "neuronmf.knn_graph(coords, k).",
            )
        A = sp.csr_matrix(adjacency, dtype=np.float64)
        if A.shape != (n_nodes, n_nodes):
            raise input_error(
                "graph_W.shape",
                f"({n_nodes}, {n_nodes}) (one node per feature of V)",
                f"{A.shape}",
            )
        if A.nnz and not np.isfinite(A.data).all():
            raise input_error("graph_W", "finite", "non-finite weights")
        if A.nnz and A.data.min() < 0:
            raise input_error(
                "graph_W", "non-negative", f"minimum weight {A.data.min()!r}"
            )
        if abs(A - A.T).max() > 1e-12 * max(1.0, abs(A).max()):
            raise input_error(
                "graph_W",
                "symmetric",
                "an asymmetric matrix",
                "Symmetrise it, e.g. A.maximum(A.T) or (A + A.T) / 2.",
            )
        A = A.tolil()
        A.setdiag(0)
        A = A.tocsr()
        A.eliminate_zeros()
        A.sort_indices()
        indptr = A.indptr.astype(np.int64)
        indices = A.indices.astype(np.int64)
        colours = greedy_colouring(indptr, indices)
        order = np.argsort(colours, kind="stable").astype(np.int64)
        counts = np.bincount(colours)
        colour_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        degree = np.asarray(A.sum(axis=1)).ravel()
        laplacian = (sp.diags(degree) - A).tocsr()
        return cls(
            indptr, indices, A.data.astype(np.float64), colour_ptr, order, laplacian
        )

    def penalty(self, W) -> float:
        """tr(WᵀLW) in float64."""
        W64 = np.asarray(W, dtype=np.float64)
        return float(np.sum(W64 * (self.laplacian @ W64)))


def no_graph(n_nodes: int):
    """Kernel arguments for 'no graph': empty CSR and a single colour."""
    empty = np.zeros(0, dtype=np.int64)
    return (
        np.zeros(n_nodes + 1, dtype=np.int64),
        empty,
        np.zeros(0),
        np.array([0, n_nodes], dtype=np.int64),
        np.arange(n_nodes, dtype=np.int64),
    )
