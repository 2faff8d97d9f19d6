"""Frobenius loss ½|V − WH|², evaluated without forming the residual.

The objective uses the Gram trick

    |V - WH|^2 = |V|^2 - 2 <W, V H^T> + <W^T W, H H^T>,

evaluated in float64 and clipped at 0, so it costs O((m + n) r^2) once the data
products are known, instead of a pass over an m × n residual.
"""

from __future__ import annotations

import numpy as np

from neuronmf.engine.losses._penalty import penalty
from neuronmf.engine.losses._spec import LossSpec


def gram(F) -> np.ndarray:
    """Fᵀ·F in float64 for a tall factor F (p × r).

    The objective |V|² − 2⟨W, V·Hᵀ⟩ + ⟨WᵀW, HHᵀ⟩ is a small difference of large
    terms; with the two Gram matrices in float32 its relative error was 2.8e-5
    on a 20,000 × 10,000 float32 fit at 2 % error, enough to stop the fit early
    (no decrease visible over 10 iterations); in float64 it was 2.1e-6. They
    cost O((m + n)·r²), small beside the data products.

    Examples
    --------
    >>> import numpy as np
    >>> gram(np.ones((3, 2), dtype=np.float32)).dtype
    dtype('float64')
    """
    F64 = np.asarray(F, dtype=np.float64)
    return np.ascontiguousarray(F64.T @ F64)


def squared_residual(norm_V2: float, W, P, G_W, Q) -> float:
    """|V - WH|² from ``P = V·Hᵀ``, ``G_W = Wᵀ·W`` and ``Q = H·Hᵀ`` (never < 0).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> V, W, H = rng.random((5, 7)), rng.random((5, 2)), rng.random((2, 7))
    >>> direct = np.sum((V - W @ H) ** 2)
    >>> gram = squared_residual(np.sum(V**2), W, V @ H.T, W.T @ W, H @ H.T)
    >>> bool(np.isclose(direct, gram))
    True
    """
    W64 = np.asarray(W, dtype=np.float64)
    value = (
        norm_V2
        - 2.0 * float(np.vdot(W64, np.asarray(P, dtype=np.float64)))
        + float(np.vdot(np.asarray(G_W, np.float64), np.asarray(Q, np.float64)))
    )
    return max(value, 0.0)


def frobenius_objective(V, W, H, l1_W=0.0, l1_H=0.0, l2_W=0.0, l2_H=0.0) -> float:
    """The objective ½|V − WH|² + penalties, computed directly (for checks)."""
    R = np.asarray(V, np.float64) - np.asarray(W, np.float64) @ np.asarray(
        H, np.float64
    )
    return 0.5 * float(np.sum(R * R)) + penalty(W, H, l1_W, l1_H, l2_W, l2_H)


def divergence(V, WH, mask=None) -> float:
    """½ Σ M ⊙ (V − WH)² in float64 (all entries without a mask)."""
    R = V - WH
    if mask is not None:
        R = np.where(mask, R, 0)
    return 0.5 * float(np.sum(np.square(R, dtype=np.float64)))


def gradient(V, WH, mask=None) -> np.ndarray:
    """∂/∂(WH) of ½|M ⊙ (V − WH)|²: M ⊙ (WH − V)."""
    D = WH - V
    return D if mask is None else np.where(mask, D, 0.0)


def mu_H(V, W, H, Mf, floor):
    """Lee–Seung: H ← H ⊙ WᵀV / WᵀWH (weighted by the mask)."""
    if Mf is None:
        return W.T @ V, (W.T @ W) @ H
    return W.T @ (V * Mf), W.T @ ((W @ H) * Mf)


def mu_W(V, W, H, Mf, floor):
    """Lee–Seung: W ← W ⊙ VHᵀ / WHHᵀ (weighted by the mask)."""
    if Mf is None:
        return V @ H.T, W @ (H @ H.T)
    return (V * Mf) @ H.T, ((W @ H) * Mf) @ H.T


def mean_deviance(v, mu, floor: float = 0.0) -> float:
    """Mean squared error of predictions ``mu`` for ``v`` (no floor needed)."""
    v = np.asarray(v, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    return float(np.mean((v - mu) ** 2))


def heldout(V, fitted, train) -> float:
    """Mean squared error on the held-out entries (where ``train`` is False)."""
    held = ~np.asarray(train, dtype=bool)
    return mean_deviance(np.asarray(V)[held], np.asarray(fitted)[held])


SPEC = LossSpec(
    name="frobenius",
    beta=2.0,
    divergence=divergence,
    gradient=gradient,
    mu_H=mu_H,
    mu_W=mu_W,
    heldout=heldout,
    mean_deviance=mean_deviance,
    solvers={"hals": "hals", "mu": "mu", "gradient": "gradient"},
    chunked_solvers=("hals",),
    exact_projection=True,
    projected_gradient=True,
    online=True,
    score_name="squared error",
)
