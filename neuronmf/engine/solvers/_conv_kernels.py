"""Numba kernels of the convolutive HALS solver (pure: arrays in, arrays out).

Like the other kernel modules it imports nothing from neuronmf but the guarded
``njit`` (on-disk cache, never fatal).
"""

from __future__ import annotations

import numpy as np

from neuronmf.engine.solvers._numba_cache import njit

__all__ = [
    "apply_gram",
    "h_sweeps",
    "lag_corr",
    "lag_gram",
    "toeplitz_gram",
    "w_sweeps",
]


@njit(cache=True, nogil=True)
def lag_gram(G, K, L):  # pragma: no cover - compiled
    """C[k, j, τ + L − 1] = Σ_ℓ W[:, k, ℓ] · W[:, j, ℓ − τ] from the Gram of flat W.

    ``G`` is Wflatᵀ Wflat with rows/columns ordered (lag, component).
    """
    C = np.zeros((K, K, 2 * L - 1))
    for tau in range(-(L - 1), L):
        for ell in range(L):
            m = ell - tau
            if m < 0 or m >= L:
                continue
            for k in range(K):
                for j in range(K):
                    C[k, j, tau + L - 1] += G[ell * K + k, m * K + j]
    return C


@njit(cache=True, nogil=True)
def h_sweeps(H, Q, B, C, t_hi, n_sweeps):  # pragma: no cover - compiled
    """Exact coordinate descent on H for ½ HᵀAH − BᵀH, H ≥ 0, in place.

    A is the block-Toeplitz normal matrix of the convolution, given by its lag
    Gram ``C`` (K, K, 2L − 1); ``Q`` = A·H is kept up to date: after H[k, t]
    changes by δ, Q[j, t − τ] += C[j, k, τ]·δ. Only frames t < ``t_hi`` are free
    (the others stay 0). Returns the number of coordinates that moved.
    """
    K, T = H.shape
    L = (C.shape[2] + 1) // 2
    moved = 0
    for _ in range(n_sweeps):
        for k in range(K):
            d = C[k, k, L - 1]
            if d <= 0.0:
                continue
            for t in range(t_hi):
                h = H[k, t]
                g = Q[k, t] - B[k, t]
                new = h - g / d
                if new < 0.0:
                    new = 0.0
                delta = new - h
                if delta == 0.0:
                    continue
                moved += 1
                H[k, t] = new
                for j in range(K):
                    for tau in range(-(L - 1), L):
                        s = t - tau
                        if s < 0 or s >= T:
                            continue
                        Q[j, s] += C[j, k, tau + L - 1] * delta
    return moved


@njit(cache=True, nogil=True)
def w_sweeps(Wf, B, G, WG, n_sweeps):  # pragma: no cover - compiled
    """HALS on the columns of flat W for ½‖V − Wf·Hl‖² (Gram G = Hl Hlᵀ, B = V Hlᵀ
    minus the penalties' gradients), in place.

    ``WG`` = Wf·G on entry (one BLAS product) and is kept up to date by a rank-one
    update per changed entry (contiguous, vectorised; entries that stay at 0 cost
    nothing).
    """
    N, P = Wf.shape
    for _ in range(n_sweeps):
        for j in range(P):
            d = G[j, j]
            if d <= 0.0:
                continue
            for n in range(N):
                old = Wf[n, j]
                new = old + (B[n, j] - WG[n, j]) / d
                if new < 0.0:
                    new = 0.0
                delta = new - old
                if delta == 0.0:
                    continue
                Wf[n, j] = new
                for i in range(P):
                    WG[n, i] += delta * G[j, i]
    return Wf


@njit(cache=True, nogil=True)
def lag_corr(H, L):  # pragma: no cover - compiled
    """R[k, j, τ + L − 1] = Σ_u H[k, u]·H[j, u + τ] for |τ| < L (zeros skipped)."""
    K, T = H.shape
    R = np.zeros((K, K, 2 * L - 1))
    for k in range(K):
        for u in range(T):
            h = H[k, u]
            if h == 0.0:
                continue
            for j in range(K):
                for tau in range(-(L - 1), L):
                    v = u + tau
                    if v < 0 or v >= T:
                        continue
                    R[k, j, tau + L - 1] += h * H[j, v]
    return R


@njit(cache=True, nogil=True)
def toeplitz_gram(R, K, L):  # pragma: no cover - compiled
    """Hl·Hlᵀ from the lag correlations: entry ((ℓ, k), (m, j)) is R[k, j, ℓ − m].

    Exact when H is zero on its last L − 1 frames (no lagged copy loses mass).
    """
    G = np.empty((L * K, L * K))
    for ell in range(L):
        for m in range(L):
            for k in range(K):
                for j in range(K):
                    G[ell * K + k, m * K + j] = R[k, j, ell - m + L - 1]
    return G


@njit(cache=True, nogil=True)
def apply_gram(C, H):  # pragma: no cover - compiled
    """Q = A·H: Q[j, s] = Σ_{k, τ} C[j, k, τ]·H[k, s + τ] (zeros of H skipped)."""
    K, T = H.shape
    L = (C.shape[2] + 1) // 2
    Q = np.zeros((K, T))
    for k in range(K):
        for t in range(T):
            h = H[k, t]
            if h == 0.0:
                continue
            for j in range(K):
                for tau in range(-(L - 1), L):
                    s = t - tau
                    if s < 0 or s >= T:
                        continue
                    Q[j, s] += C[j, k, tau + L - 1] * h
    return Q
