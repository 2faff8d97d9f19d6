"""Numba kernel of the ring model (:mod:`neuronmf.imaging._ring`).

Pure functions on arrays and scalars: no validation, no exceptions, no
printing. :func:`ring_weights` has a plain-NumPy twin,
:func:`neuronmf.imaging._ring.fit_ring_weights_numpy`, that the tests compare
it with.
"""

from __future__ import annotations

import numpy as np

from neuronmf.engine.solvers._numba_cache import njit


@njit(cache=True, nogil=True, fastmath=True)
def _cholesky(G, n):  # pragma: no cover - compiled
    """``G = L Lᵀ`` in place: the lower triangle of ``G`` becomes ``L``."""
    for j in range(n):
        d = G[j, j]
        for k in range(j):
            d -= G[j, k] * G[j, k]
        d = np.sqrt(max(d, 1e-300))
        G[j, j] = d
        for r in range(j + 1, n):
            s = G[r, j]
            for k in range(j):
                s -= G[r, k] * G[j, k]
            G[r, j] = s / d


@njit(cache=True, nogil=True, fastmath=True)
def _solve(L, b, n):  # pragma: no cover - compiled
    """Solve ``L Lᵀ x = b`` in place (``b`` becomes x)."""
    for j in range(n):
        s = b[j]
        for k in range(j):
            s -= L[j, k] * b[k]
        b[j] = s / L[j, j]
    for j in range(n - 1, -1, -1):
        s = b[j]
        for k in range(j + 1, n):
            s -= L[k, j] * b[k]
        b[j] = s / L[j, j]


@njit(cache=True, nogil=True, fastmath=True)
def ring_weights(
    F, Fd, order, block_of, index, ridge, out
):  # pragma: no cover - compiled
    """Row i of ``out`` (P, n): ridge regression of ``F[i]`` on its block's ring.

    ``F`` (P, T) float64 is the fluctuating residual at full resolution, ``Fd``
    (Q, T) float64 the same averaged in blocks (the ring pixels); pixel i lies
    in block ``block_of[i]``, whose ring is ``index[block]`` (Q, n; −1 for
    none, weight 0). The Gram matrix of a block's ring (its symmetric half:
    n(n+1)/2 dot products of length T) plus ``ridge`` × the ring's mean
    variance is factorised once (Cholesky) and serves every pixel of the block
    (pixels are visited in ``order``, block by block).
    """
    T = F.shape[1]
    n = index.shape[1]
    G = np.zeros((n, n))
    b = np.zeros(n)
    current = -1
    m = 0
    for i in order:
        c = block_of[i]
        if c != current:
            current = c
            G[:, :] = 0.0
            m = 0
            tr = 0.0
            for j in range(n):
                jj = index[c, j]
                if jj < 0:
                    G[j, j] = 1.0
                    continue
                m += 1
                for k in range(j + 1):
                    kk = index[c, k]
                    if kk < 0:
                        continue
                    s = 0.0
                    for t in range(T):
                        s += Fd[jj, t] * Fd[kk, t]
                    G[j, k] = s
                    G[k, j] = s
                tr += G[j, j]
            lam = ridge * max(tr / max(m, 1), 1e-12)
            for j in range(n):
                if index[c, j] >= 0:
                    G[j, j] += lam
            _cholesky(G, n)
        if m == 0:
            continue
        for j in range(n):
            jj = index[c, j]
            s = 0.0
            if jj >= 0:
                for t in range(T):
                    s += Fd[jj, t] * F[i, t]
            b[j] = s
        _solve(G, b, n)
        for j in range(n):
            out[i, j] = b[j] if index[c, j] >= 0 else 0.0
