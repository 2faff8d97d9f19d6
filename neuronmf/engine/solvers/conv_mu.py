"""Multiplicative updates for convolutive NMF: seqNMF's algorithm, the reference.

Plain NumPy. One outer iteration is seqNMF's (``seqNMF.m``, Mackevicius et al.
2019): update H; centre the factors (:func:`~._conv_ops.shift_factors`) and add
``max(V)·1e-6`` to W (multiplicative updates cannot leave 0); rescale so every
row of H has unit norm; update every lag of W from the same reconstruction.

Frobenius (β = 2) minimises ½‖M ⊙ (V − X̂)‖² + λ R + l1_W ΣW + l1_H ΣH with
R = ‖(W ⊛ᵀ V) S Hᵀ‖_{1,i≠j}; KL (β = 1) replaces the first term by the
generalised Kullback–Leibler divergence Σ M ⊙ (V log(V/X̂) − V + X̂). M is the
observation mask: held-out entries are out of the data term and of the penalty
(seqNMF imputes them with the reconstruction instead, which has the same fixed
points for the data term). The last iteration runs without the x-ortho penalty,
as seqNMF's does.
"""

from __future__ import annotations

import numpy as np

from neuronmf.engine import losses
from neuronmf.engine.solvers import _conv_ops as ops

__all__ = ["ConvProblem", "objective", "run"]

EPS = np.finfo(np.float64).eps


class ConvProblem:
    """The padded data and the fixed settings of one convolutive fit."""

    def __init__(self, V, M, L, loss, x_ortho, l1_W, l1_H):
        self.V = V  # (N, Tp), zero padded by L on both sides
        self.M = M  # None, or float (N, Tp) with 1 = observed (pads observed)
        self.L = L
        self.loss = loss
        # the two data terms differ by their beta (2: least squares, 1: KL); the
        # loss spec says which, so nothing here compares loss names
        self.least_squares = losses.get(loss).beta == 2
        self.x_ortho = x_ortho
        self.l1_W = l1_W
        self.l1_H = l1_H
        self.Vm = V if M is None else M * V
        self.XS = ops.smooth(self.Vm, L) if x_ortho > 0 else None
        self.smallnum = float(self.Vm.max()) * 1e-6  # observed entries only


def data_term(P: ConvProblem, Xhat: np.ndarray) -> float:
    """The data-fit term of the objective."""
    if P.least_squares:
        R = P.Vm - (Xhat if P.M is None else P.M * Xhat)
        return 0.5 * float(np.vdot(R, R))
    mu = np.maximum(Xhat, EPS)
    V = P.V
    pos = V > 0
    terms = np.where(pos, V * np.log(np.where(pos, V, 1.0) / mu), 0.0) - V + mu
    if P.M is not None:
        terms = terms * P.M
    return float(terms.sum())


def objective(P: ConvProblem, W, H, Xhat=None, x_ortho=None) -> float:
    """Data term + x_ortho·R + l1_W ΣW + l1_H ΣH at (W, H)."""
    if Xhat is None:
        Xhat = ops.reconstruct(W, H)
    lam = P.x_ortho if x_ortho is None else x_ortho
    value = data_term(P, Xhat) + P.l1_W * float(W.sum()) + P.l1_H * float(H.sum())
    if lam > 0:
        value += lam * ops.cross_penalty(_wtv(P, W), H, P.L)
    return value


def _wtv(P: ConvProblem, W) -> np.ndarray:
    """W ⊛ᵀ (M ⊙ V), kept for the same W (the objective's and the next H update's)."""
    cached = getattr(P, "_wtv_cache", None)
    if cached is not None and cached[0] is W:
        return cached[1]
    value = ops.transconv(W, P.Vm)
    P._wtv_cache = (W, value)
    return value


def _off_diagonal(A: np.ndarray) -> np.ndarray:
    """(1 − I) @ A for a (K, ·) array: each row becomes the sum of the others."""
    return A.sum(axis=0, keepdims=True) - A


def _transconv_ones(W, T):
    """W ⊛ᵀ 1 without the product: Σ over the lags that stay inside the T frames."""
    c = W.sum(axis=0)  # (K, L)
    L = c.shape[1]
    csum = np.cumsum(c, axis=1)  # csum[:, j] = Σ_{ℓ ≤ j}
    out = np.empty((c.shape[0], T))
    out[:, : max(T - L + 1, 0)] = csum[:, -1:]
    for t in range(max(T - L + 1, 0), T):
        out[:, t] = csum[:, T - t - 1]
    return out


def update_H(P: ConvProblem, W, H, Xhat, lam):
    """One multiplicative update of H (seqNMF's, with the KL form for β = 1)."""
    WTVm = _wtv(P, W) if (P.least_squares or lam > 0) else None
    if P.least_squares:
        num = WTVm
        den = ops.transconv(W, Xhat if P.M is None else P.M * Xhat)
    else:
        ratio = P.V / np.maximum(Xhat, EPS)
        num = ops.transconv(W, ratio if P.M is None else P.M * ratio)
        den = _transconv_ones(W, P.V.shape[1]) if P.M is None else ops.transconv(W, P.M)
    if lam > 0:
        den = den + lam * _off_diagonal(ops.smooth(WTVm, P.L))
    return H * num / (den + P.l1_H + EPS)


def update_W(P: ConvProblem, W, H, Xhat, lam):
    """One multiplicative update of every lag of W from the same reconstruction."""
    K = W.shape[1]
    Hl = ops.lagged(H, P.L)
    if P.least_squares:
        num = P.Vm @ Hl.T
        den = (Xhat if P.M is None else P.M * Xhat) @ Hl.T
    else:
        ratio = P.V / np.maximum(Xhat, EPS)
        num = (ratio if P.M is None else P.M * ratio) @ Hl.T
        den = np.broadcast_to(Hl.sum(axis=1), num.shape) if P.M is None else P.M @ Hl.T
    if lam > 0:
        XSH = (P.XS @ Hl.T).reshape(num.shape[0], P.L, K)
        den = den + lam * (XSH.sum(axis=2, keepdims=True) - XSH).reshape(num.shape)
    Wf = ops.flat(W) * num / (den + P.l1_W + EPS)
    return ops.unflat(Wf, K)


def renormalise(W, H):
    """Rows of H to unit norm, the scale moved into W (seqNMF)."""
    norms = np.sqrt((H * H).sum(axis=1))
    H = H / (norms[:, None] + EPS)
    W = W * norms[None, :, None]
    return W, H


def stalled(history: list[float], tol: float) -> bool:
    """seqNMF's rule, relative: the cost is no better than the mean of the last 5
    by more than ``tol`` (relative)."""
    if len(history) < 6 or tol <= 0:
        return False
    before = float(np.mean(history[-6:-1]))
    return before - history[-1] <= tol * max(abs(before), EPS)


def run(
    P: ConvProblem,
    W: np.ndarray,
    H: np.ndarray,
    *,
    max_iter: int,
    tol: float,
    shift: bool = True,
    update_W_: bool = True,
    callback=None,
):
    """Fit by multiplicative updates; returns (W, H, history, n_iter, converged)."""
    history: list[float] = []
    Xhat = ops.reconstruct(W, H)
    converged = False
    n_iter = 0
    for it in range(max_iter):
        last = it == max_iter - 1 or stalled(history, tol)
        if last and it < max_iter - 1:
            converged = True
        lam = 0.0 if (last and it > 0) else P.x_ortho
        H = update_H(P, W, H, Xhat, lam)
        if shift:
            W, H = ops.shift_factors(W, H)
            if update_W_:
                W = W + P.smallnum
        if update_W_:  # a fixed W keeps its scale
            W, H = renormalise(W, H)
        if update_W_:
            Xhat = ops.reconstruct(W, H)
            W = update_W(P, W, H, Xhat, lam)
        Xhat = ops.reconstruct(W, H)
        history.append(objective(P, W, H, Xhat))
        n_iter = it + 1
        if callback is not None and callback(n_iter, history[-1]) is False:
            break
        if last:
            break
    return W, H, history, n_iter, converged
