"""Plain-NumPy twins of the Numba kernels, for tests and for reading.

Each function computes what its namesake in ``_hals_kernels`` computes, with the
same arithmetic in the same order where it matters, but written for clarity.
"""

from __future__ import annotations

import numpy as np


def cd_row(f, b, G, l1, l2, max_sweeps, delta):
    """Reference for ``_hals_kernels._cd_row`` (updates ``f`` in place)."""
    first = 0.0
    for sweep in range(max_sweeps):
        moved = 0.0
        for k in range(f.shape[0]):
            gkk = G[k, k] + l2
            if gkk <= 0:
                continue
            grad = float(G[k] @ f) + l2 * f[k] - b[k] + l1
            new = max(0.0, f[k] - grad / gkk)
            moved += (new - f[k]) ** 2
            f[k] = new
        if sweep == 0:
            first = moved
            if first == 0.0:
                break
        elif moved <= delta * delta * first:
            break
    return first


def update_rows(F, B, G, l1, l2, max_sweeps, delta):
    """Reference for ``_hals_kernels.update_rows``."""
    for i in range(F.shape[0]):
        cd_row(F[i], B[i], G, l1, l2, max_sweeps, delta)


def update_columns_unit_norm(F, B, G, n_sweeps):
    """Reference for ``_hals_kernels.update_columns_unit_norm``."""
    for _ in range(n_sweeps):
        for k in range(F.shape[1]):
            c = B[:, k] - F @ G[:, k] + F[:, k] * G[k, k]
            pos = np.maximum(c, 0.0)
            norm = np.linalg.norm(pos)
            if norm > 0:
                F[:, k] = pos / norm
            else:
                F[:, k] = 0.0
                F[int(np.argmax(c)), k] = 1.0


def fused_h_step(V, W, G, Ht, l1, l2, max_sweeps, delta):
    """Reference for ``_hals_kernels.fused_h_step``: returns (P, Q) = (V·Hᵀ, H·Hᵀ)."""
    A = V.T @ W
    update_rows(Ht, A, G, l1, l2, max_sweeps, delta)
    return V @ Ht, Ht.T @ Ht
