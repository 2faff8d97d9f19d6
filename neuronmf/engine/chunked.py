"""The chunked path: NMF of a dask array that need not fit in memory.

V (m × n) is split along samples into column blocks V_j. Each outer iteration
reads every block once (ALGORITHMS.md §8):

- HALS: a task per block updates its columns of H from W (the same row kernel
  as in memory), then returns P_jᵀ = (V_j·H_jᵀ)ᵀ and Q_j = H_j·H_jᵀ; they are
  summed in a fixed binary tree on the workers, and W is updated on the client
  from P and Q alone. Memory beyond one block is O((m + n)·r).
- KL (multiplicative updates): a task per block updates its columns of H with
  the current W, then, with the new H_j, returns the W numerator
  (V_j ⊘ W·H_j)·H_jᵀ, the denominator Σ H_j and the block's data term.

The tasks run on whatever dask scheduler is active: the local threaded one, or a
``dask.distributed`` cluster when a ``Client`` exists, and no copy of V is ever
gathered on one machine. The arithmetic is that of the in-memory solvers, so
from the same init the iterates agree to rounding (tested to 1e-10 in float64)
for any chunking.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from neuronmf.engine.losses import gram, kl_divergence
from neuronmf.engine.products import (
    data_product_T,
    product_is_transposed,
    uses_fused_step,
)


def is_dask(V) -> bool:
    """True for a dask array."""
    return type(V).__module__.split(".")[0] == "dask" and hasattr(V, "chunks")


def prepare(V):
    """Rechunk so that each block holds whole columns (all features)."""
    if len(V.chunks[0]) > 1:
        V = V.rechunk({0: -1})
    return V


def summary(V) -> dict:
    """One pass over V: min, max, sum of squares, non-finite count, any non-zero."""
    import dask
    import dask.array as da

    low, high, norm2, bad, nonzero = dask.compute(
        V.min(),
        V.max(),
        (V.astype(np.float64) ** 2).sum(),
        (~da.isfinite(V)).sum(),
        (V != 0).any(),
    )
    return {
        "min": float(low),
        "max": float(high),
        "norm2": float(norm2),
        "non_finite": int(bad),
        "any": bool(nonzero),
    }


def _edges(V):
    return np.concatenate([[0], np.cumsum(V.chunks[1])])


def _tree_sum(items):
    """Sum delayed arrays in a fixed binary tree (deterministic order)."""
    import dask

    add = dask.delayed(np.add, pure=True)
    while len(items) > 1:
        nxt = [add(items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)]
        if len(items) % 2:
            nxt.append(items[-1])
        items = nxt
    return items[0]


def _hals_block(V_block, W, G, Ht_block, l1, l2, sweeps, delta):
    """H update of one block; returns (H_j rows, P_jᵀ, Q_j) (see :func:`_times_T`)."""
    from neuronmf.engine.solvers import _hals_kernels as K

    # no copy of the block: BLAS reads either memory order
    V_block = np.asarray(V_block, dtype=W.dtype)
    if uses_fused_step(V_block):
        Ht_block = np.ascontiguousarray(Ht_block)
        Ht_block, P, Q = K.fused_h_step(V_block, W, Ht_block, G, l1, l2, sweeps, delta)
        return Ht_block, P.T, Q
    Ht_block = np.array(Ht_block, order="C")
    A = data_product_T(V_block, W)
    K.update_rows(Ht_block, A, G, l1, l2, sweeps, delta)
    return Ht_block, _times_T(V_block, Ht_block), gram(Ht_block)


def _times_T(V_block, Ht_block):
    """(V_block · Ht_block)ᵀ (r × m), in the faster form for the block.

    A block cut from a (time, pixels) file arrives as a transposed, Fortran-order
    view; there Htᵀ·V_blockᵀ runs faster than V_block·Ht (docs/benchmarks.md,
    "Out-of-core block products"); the rule for every memory order and dtype is
    :func:`neuronmf.engine.products.product_is_transposed`. The partial products
    are summed transposed, and transposed back once per pass rather than once
    per block.
    """
    if product_is_transposed(V_block):
        return Ht_block.T @ V_block.T
    return (V_block @ Ht_block).T


def _product_block(V_block, Ht_block):
    return _times_T(np.asarray(V_block, dtype=Ht_block.dtype), Ht_block)


def _product_T_block(V_block, W):
    return data_product_T(np.asarray(V_block, dtype=W.dtype), W)


#: Largest number of rows for which the initial SVD of a dask array forms the Gram
#: matrix V·Vᵀ (1024² float64 = 8 MB per block's partial sum); above it, and when
#: the Gram matrix is too ill-conditioned, randomized subspace iteration is used.
GRAM_ROWS = 1024


def _blocks(V):
    V = prepare(V)
    edges = _edges(V)
    slices = [slice(a, b) for a, b in pairwise(edges)]
    return V.to_delayed().ravel().tolist(), slices


def _gram_block(V_block):
    V_block = np.asarray(V_block, dtype=np.float64)
    return V_block @ V_block.T


def _times_block(V_block, X_block):
    return np.asarray(V_block, dtype=np.float64) @ X_block


def _times_T_block(V_block, Y):
    return np.asarray(V_block, dtype=np.float64).T @ Y


def _pass_gram(V):
    """V·Vᵀ (m × m, float64) in one pass, block by block."""
    import dask

    blocks, _ = _blocks(V)
    step = dask.delayed(_gram_block, pure=True)
    return dask.compute(_tree_sum([step(b) for b in blocks]))[0]


def _pass_times(V, X):
    """V·X (m × k, float64) for X (n × k) in one pass."""
    import dask

    blocks, slices = _blocks(V)
    step = dask.delayed(_times_block, pure=True)
    parts = [step(b, X[s]) for b, s in zip(blocks, slices, strict=True)]
    return dask.compute(_tree_sum(parts))[0]


def _pass_times_T(V, Y):
    """Vᵀ·Y (n × k, float64) for Y (m × k) in one pass."""
    import dask

    blocks, _ = _blocks(V)
    Y_d = dask.delayed(Y)
    step = dask.delayed(_times_T_block, pure=True)
    return np.concatenate(dask.compute(*[step(b, Y_d) for b in blocks]), axis=0)


def truncated_svd(V, rank: int, rng, power_iterations: int = 2, oversample: int = 10):
    """Leading ``rank`` singular triplets ``(U, S, Vt)`` of a dask array, out of core.

    Every pass over V is its own computation, so each block is read, used and
    released: memory beyond one block per worker is O((m + n)·rank) plus, for
    m ≤ :data:`GRAM_ROWS`, the m × m Gram matrix. With at most ``GRAM_ROWS``
    rows, two passes: V·Vᵀ summed block by block, its leading eigenvectors (the
    left singular vectors, as in the in-memory path's ``_gram_svd``), then
    Vᵀ·U / S. Otherwise (or when a requested singular value is below 1e-6 of the
    largest, where squaring loses it) randomized subspace iteration (Halko,
    Martinsson & Tropp 2011) with ``power_iterations`` and ``rank + oversample``
    columns: 2 + 2·``power_iterations`` passes.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> V = da.from_array(np.random.default_rng(0).random((5, 40)), chunks=(5, 10))
    >>> U, S, Vt = truncated_svd(V, 2, np.random.default_rng(0))
    >>> U.shape, S.shape, Vt.shape
    ((5, 2), (2,), (2, 40))
    """
    m, n = V.shape
    if m <= GRAM_ROWS:
        evals, evecs = np.linalg.eigh(_pass_gram(V))
        order = np.argsort(evals)[::-1][:rank]
        S = np.sqrt(np.maximum(evals[order], 0.0))
        if S[0] > 0 and S[-1] >= 1e-6 * S[0]:
            U = evecs[:, order]
            Vt = (_pass_times_T(V, U) / S).T
            return U, S, Vt
    k = min(rank + oversample, m, n)
    Q, _ = np.linalg.qr(_pass_times(V, rng.standard_normal((n, k))))
    for _ in range(power_iterations):
        Z, _ = np.linalg.qr(_pass_times_T(V, Q))
        Q, _ = np.linalg.qr(_pass_times(V, Z))
    Ub, S, Vt = np.linalg.svd(_pass_times_T(V, Q).T, full_matrices=False)
    return Q @ Ub[:, :rank], S[:rank], Vt[:rank]


class ChunkedData:
    """Data access of the HALS driver for a dask array (one task per block)."""

    chunked = True

    def __init__(self, V, sweeps: int, delta: float) -> None:
        self.V = prepare(V)
        self.blocks = self.V.to_delayed().ravel().tolist()
        self.edges = _edges(self.V)
        self.sweeps = sweeps
        self.delta = delta

    def _slices(self):
        return [
            slice(a, b) for a, b in zip(self.edges[:-1], self.edges[1:], strict=True)
        ]

    def product(self, Ht):
        """V·Ht (m × r), one pass."""
        import dask

        parts = [
            dask.delayed(_product_block, pure=True)(blk, Ht[s])
            for blk, s in zip(self.blocks, self._slices(), strict=True)
        ]
        return np.ascontiguousarray(dask.compute(_tree_sum(parts))[0].T)

    def data_product_T(self, W):
        """Vᵀ·W (n × r), one pass."""
        import dask

        W_d = dask.delayed(W)
        parts = [
            dask.delayed(_product_T_block, pure=True)(blk, W_d) for blk in self.blocks
        ]
        return np.ascontiguousarray(np.concatenate(dask.compute(*parts), axis=0))

    def run(self, W, Hy, G, l1, l2):
        """The H update from ``Hy`` (not modified) in one pass; return (H, P, Q)."""
        import dask

        Ht = np.empty_like(Hy)
        W_d, G_d = dask.delayed(W), dask.delayed(G)
        step = dask.delayed(_hals_block, nout=3, pure=True)
        outs = [
            step(blk, W_d, G_d, Hy[s], l1, l2, self.sweeps, self.delta)
            for blk, s in zip(self.blocks, self._slices(), strict=True)
        ]
        P = _tree_sum([o[1] for o in outs])
        Q = _tree_sum([o[2] for o in outs])
        H_parts, P_T, Q = dask.compute([o[0] for o in outs], P, Q)
        for s, part in zip(self._slices(), H_parts, strict=True):
            Ht[s] = part
        return Ht, np.ascontiguousarray(P_T.T), np.ascontiguousarray(Q)


def _kl_block(V_block, W, H_block, denom_H, floor, l1_H, l2_H, update_H, eps):
    """One block of a KL multiplicative-update iteration (see ``mu.solve``)."""
    dt = W.dtype
    V_block = np.asarray(V_block, dtype=dt)
    WH = W @ H_block
    data_before = kl_divergence(V_block, WH)
    if update_H:
        R = V_block / np.maximum(WH, floor)
        denom = denom_H[:, None] + dt.type(l1_H) + dt.type(l2_H) * H_block
        H_block = np.maximum(H_block * (W.T @ R) / np.maximum(denom, eps), eps)
        WH = W @ H_block
    R = V_block / np.maximum(WH, floor)
    return H_block, R @ H_block.T, H_block.sum(axis=1), data_before


def kl_mu_pass(V, W, H, floor, l1_H, l2_H, update_H, eps):
    """One pass of KL-MU over a dask V: new H, W numerator, H row sums, D(V‖W·H_old)."""
    import dask

    V = prepare(V)
    edges = _edges(V)
    blocks = V.to_delayed().ravel().tolist()
    W_d = dask.delayed(W)
    denom_H = dask.delayed(W.sum(axis=0))
    step = dask.delayed(_kl_block, nout=4, pure=True)
    outs = [
        step(blk, W_d, H[:, a:b], denom_H, floor, l1_H, l2_H, update_H, eps)
        for blk, a, b in zip(blocks, edges[:-1], edges[1:], strict=True)
    ]
    numer = _tree_sum([o[1] for o in outs])
    sums = _tree_sum([o[2] for o in outs])
    data = _tree_sum([o[3] for o in outs])
    H_parts, numer, sums, data = dask.compute([o[0] for o in outs], numer, sums, data)
    return np.concatenate(H_parts, axis=1), numer, sums, float(data)
