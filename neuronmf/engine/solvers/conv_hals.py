"""Coordinate descent (HALS-type) for convolutive NMF, Frobenius loss: the fast solver.

Same objective, padding, shift fix and normalisation as the reference
(:mod:`.conv_mu`); the updates differ, λ is brought in over the first
iterations (:data:`RAMP`) and the last iteration keeps the penalty
(:data:`FINAL_UNREGULARISED`):

- H: exact coordinate descent on ½ HᵀAH − BᵀH (H ≥ 0). The x-ortho penalty and
  L1 are linear in H, so they only change B = W ⊛ᵀ V − λ(1 − I)S(W ⊛ᵀ V) − l1_H.
  A (the convolution's normal matrix) is block Toeplitz: it is held as the lag
  Gram C (K × K × (2L − 1)) and A·H is updated in place after every coordinate
  (Numba, :func:`._conv_kernels.h_sweeps`); coordinates that stay at 0 cost
  nothing.
- W: HALS on the columns of flat W (N × LK) against the lagged copies of H:
  Gram Hl·Hlᵀ and V·Hlᵀ by BLAS, the penalty's gradient (linear in W) in B.
- The objective comes from the same products (no extra convolution).

Held-out entries (mask) are handled by imputation: each iteration fits the data
with its held-out entries replaced by the current reconstruction, which
majorises the masked objective (it never increases it and has the same
stationary points); the x-ortho penalty uses the observed entries only.
"""

from __future__ import annotations

import numpy as np

from neuronmf.engine.solvers import _conv_kernels as kern
from neuronmf.engine.solvers import _conv_ops as ops
from neuronmf.engine.solvers.conv_mu import (
    ConvProblem,
    objective,
    renormalise,
    stalled,
)

__all__ = ["run"]

H_SWEEPS = 2
W_SWEEPS = 1
#: Iterations over which the x-ortho penalty is brought in (continuation): exact
#: updates at full λ from a random start remove every component that overlaps
#: another before the patterns have formed (multiplicative updates move slowly
#: enough not to).
RAMP = 20
#: seqNMF runs its last iteration without the penalty. One *exact* unpenalised
#: block update undoes much more of the penalty than one multiplicative step
#: (measured on seqNMF's demo data, λ = 0.002: objective 267 → 280), so the
#: coordinate-descent solver ends on the penalised objective instead.
FINAL_UNREGULARISED = False


def _offdiag_lags(A: np.ndarray, L: int, K: int) -> np.ndarray:
    """Per lag block of K columns: each column becomes the sum of the others."""
    A3 = A.reshape(A.shape[0], L, K)
    return (A3.sum(axis=2, keepdims=True) - A3).reshape(A.shape)


def update_H(P: ConvProblem, W, H, Vfit, lam, t_hi):
    """Coordinate descent on H (in place); returns W ⊛ᵀ Vfit for reuse."""
    K, L = W.shape[1], P.L
    WTV = ops.transconv(W, Vfit)
    B = WTV.copy()
    if lam > 0:
        WTVm = WTV if Vfit is P.Vm else ops.transconv(W, P.Vm)
        S = ops.smooth(WTVm, L)
        B -= lam * (S.sum(axis=0, keepdims=True) - S)
    if P.l1_H > 0:
        B -= P.l1_H
    Wf = ops.flat(W)
    C = kern.lag_gram(Wf.T @ Wf, K, L)
    Q = kern.apply_gram(C, H)
    kern.h_sweeps(H, Q, B, C, t_hi, H_SWEEPS)
    return H


def update_W(P: ConvProblem, W, H, Vfit, lam):
    """HALS on flat W; returns (W, the objective's data+penalty value or None)."""
    K, L = W.shape[1], P.L
    Hl = ops.lagged(H, L)
    G = kern.toeplitz_gram(kern.lag_corr(H, L), K, L)
    if P.x_ortho > 0:  # one product for the data and its smoothed copy
        if Vfit is P.Vm:  # stacked once per fit
            if getattr(P, "VXS", None) is None:
                P.VXS = np.vstack((P.Vm, P.XS))
            stacked = P.VXS
        else:
            stacked = np.vstack((Vfit, P.XS))
        both = stacked @ Hl.T
        B0, PW = both[: Vfit.shape[0]], _offdiag_lags(both[Vfit.shape[0] :], L, K)
    else:
        B0, PW = Vfit @ Hl.T, None
    B = B0.copy()
    if lam > 0:
        B -= lam * PW
    if P.l1_W > 0:
        B -= P.l1_W
    Wf = np.ascontiguousarray(ops.flat(W))
    kern.w_sweeps(Wf, B, G, Wf @ G, W_SWEEPS)
    value = None
    if P.M is None:
        fit = 0.5 * P.vv - float((Wf * B0).sum()) + 0.5 * float(((Wf @ G) * Wf).sum())
        value = max(fit, 0.0) + P.l1_W * float(Wf.sum()) + P.l1_H * float(H.sum())
        if P.x_ortho > 0:
            value += P.x_ortho * float((Wf * PW).sum())
    return ops.unflat(Wf, K), value


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
    """Fit by coordinate descent; returns (W, H, history, n_iter, converged)."""
    L = P.L
    Tp = P.V.shape[1]
    t_hi = Tp - L  # H past T + L only reaches the zero padding: kept at 0
    H = np.array(H, dtype=np.float64)
    H[:, t_hi:] = 0.0
    W = np.array(W, dtype=np.float64)
    P.vv = float((P.Vm * P.Vm).sum())
    # scale the start to its best multiple: a random start overshoots the data
    # many times over, and one exact sweep would then set all of H to zero
    Xhat = ops.reconstruct(W, H)
    fitted = Xhat if P.M is None else P.M * Xhat
    norm2 = float((fitted * fitted).sum())
    if norm2 > 0:
        alpha = max(float((P.Vm * fitted).sum()) / norm2, 0.0)
        if update_W_:
            W *= alpha
        else:  # a fixed W keeps its scale
            H *= alpha
    if P.x_ortho > 0 and P.XS is None:
        P.XS = ops.smooth(P.Vm, L)
    history: list[float] = []
    converged = False
    n_iter = 0
    Vfit = P.Vm
    for it in range(max_iter):
        last = it == max_iter - 1 or stalled(history, tol)
        if last and it < max_iter - 1:
            converged = True
        ramped = P.x_ortho * min(1.0, (it + 1) / RAMP)
        lam = 0.0 if (last and it > 0 and FINAL_UNREGULARISED) else ramped
        if P.M is not None:
            Vfit = P.Vm + (1.0 - P.M) * ops.reconstruct(W, H)
        H = update_H(P, W, H, Vfit, lam, t_hi)
        if shift:
            W, H = ops.shift_factors(W, H)
            H[:, t_hi:] = 0.0
        if update_W_:  # a fixed W keeps its scale
            W, H = renormalise(W, H)
        value = None
        if update_W_:
            if P.M is not None:
                Vfit = P.Vm + (1.0 - P.M) * ops.reconstruct(W, H)
            W, value = update_W(P, W, H, Vfit, lam)
        if value is None:
            value = objective(P, W, H)
        history.append(value)
        n_iter = it + 1
        if callback is not None and callback(n_iter, history[-1]) is False:
            break
        if last:
            break
    return W, H, history, n_iter, converged
