"""The array operations of convolutive NMF (plain NumPy, shared by its solvers).

Conventions (those of seqNMF, Mackevicius et al. 2019, ``FeeLab/seqNMF``):

- ``W`` has shape (N, K, L): feature × component × lag; ``H`` has shape (K, T).
- The model is the convolution ``X̂[:, t] = Σ_ℓ W[:, :, ℓ] @ H[:, t − ℓ]``: a
  pattern starts where H fires and unfolds over the next L − 1 frames
  (:func:`reconstruct`).
- Its transpose ``(W ⊛ᵀ X)[k, t] = Σ_ℓ W[:, k, ℓ] · X[:, t + ℓ]``
  (:func:`transconv`) is the overlap of pattern k with the data from frame t on.
- The cross-orthogonality penalty is ``‖(W ⊛ᵀ X) S Hᵀ‖_{1, i≠j}`` with S the
  moving sum over 2L − 1 frames (:func:`smooth`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "cross_penalty",
    "lagged",
    "reconstruct",
    "shift_factors",
    "smooth",
    "transconv",
]


def lagged(H: np.ndarray, L: int) -> np.ndarray:
    """Stacked shifted copies of H: row ``ℓ·K + k`` at frame t is ``H[k, t − ℓ]``.

    ``W.transpose(0, 2, 1).reshape(N, L*K) @ lagged(H, L)`` is the model.
    """
    K, T = H.shape
    out = np.zeros((L, K, T), dtype=H.dtype)
    for ell in range(L):
        out[ell, :, ell:] = H[:, : T - ell]
    return out.reshape(L * K, T)


def flat(W: np.ndarray) -> np.ndarray:
    """W (N, K, L) as the (N, L·K) matrix that multiplies :func:`lagged` copies."""
    N, K, L = W.shape
    return np.ascontiguousarray(W.transpose(0, 2, 1)).reshape(N, L * K)


def unflat(Wf: np.ndarray, K: int) -> np.ndarray:
    """Inverse of :func:`flat`."""
    N = Wf.shape[0]
    return np.ascontiguousarray(Wf.reshape(N, -1, K).transpose(0, 2, 1))


def reconstruct(W: np.ndarray, H: np.ndarray) -> np.ndarray:
    """The model ``Σ_ℓ W[:, :, ℓ] @ shift(H, ℓ)`` of shape (N, T).

    Examples
    --------
    >>> W = np.zeros((2, 1, 3)); W[0, 0, 0] = 1; W[1, 0, 2] = 1
    >>> H = np.zeros((1, 6)); H[0, 1] = 1
    >>> reconstruct(W, H).astype(int).tolist()
    [[0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0]]
    """
    return flat(W) @ lagged(H, W.shape[2])


def transconv(W: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``(W ⊛ᵀ X)[k, t] = Σ_ℓ W[:, k, ℓ] · X[:, t + ℓ]`` (zero beyond X's end)."""
    N, K, L = W.shape
    T = X.shape[1]
    # one product for every lag, then the sum along the lag diagonals
    Y = (np.ascontiguousarray(W.transpose(2, 1, 0)).reshape(L * K, N) @ X).reshape(
        L, K, T
    )
    out = Y[0].copy()
    for ell in range(1, min(L, T)):
        out[:, : T - ell] += Y[ell, :, ell:]
    return out


def smooth(X: np.ndarray, L: int) -> np.ndarray:
    """Moving sum over 2L − 1 frames along the last axis (MATLAB conv2 'same')."""
    T = X.shape[-1]
    c = np.zeros((*X.shape[:-1], T + 1), dtype=np.float64)
    np.cumsum(X, axis=-1, out=c[..., 1:])
    hi = np.minimum(np.arange(T) + L, T)
    lo = np.maximum(np.arange(T) - L + 1, 0)
    return c[..., hi] - c[..., lo]


def cross_penalty(WTX: np.ndarray, H: np.ndarray, L: int) -> float:
    """``‖(W ⊛ᵀ X) S Hᵀ‖_{1, i≠j}`` from ``WTX = W ⊛ᵀ X`` (non-negative terms)."""
    C = smooth(WTX, L) @ H.T
    return float(C.sum() - np.trace(C))


def shift_factors(W: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre each component's W mass in its lag window, shifting H to match.

    seqNMF's ``shiftFactors``: the centre of mass (over lags, 1-based, floored)
    is moved to lag ``max(floor(L/2), 1)``; H is rolled the other way, so the
    reconstruction is unchanged except for W mass pushed out of the window (and
    H wrapping round its ends, which the zero padding of the fit makes empty).
    Returns new arrays.
    """
    N, K, L = W.shape
    W = W.copy()
    H = H.copy()
    if L == 1:
        return W, H
    center = max(L // 2, 1)
    lags = np.arange(1, L + 1)
    for k in range(K):
        profile = W[:, k, :].sum(axis=0)
        total = profile.sum()
        if not total > 0:
            continue
        cmass = max(int(np.floor((profile * lags).sum() / total)), 1)
        d = center - cmass
        if d == 0:
            continue
        shifted = np.zeros((N, L), dtype=W.dtype)
        if d > 0:
            shifted[:, d:] = W[:, k, : L - d]
        else:
            shifted[:, : L + d] = W[:, k, -d:]
        W[:, k, :] = shifted
        H[k] = np.roll(H[k], -d)
    return W, H
