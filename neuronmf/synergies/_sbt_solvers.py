"""Solvers of the space-by-time tri-factorisation (Delis et al. 2014).

Every trial ``X[s]`` (time × muscle) is modelled as ``Wt @ A[s] @ Ws`` with
``Wt`` (time × P) temporal modules, ``A[s]`` (P × L) the trial's activation
coefficients and ``Ws`` (L × muscle) spatial modules, all non-negative; the
objective is ``sum_s ||X[s] - Wt A[s] Ws||_F^2``.

``mu``: the multiplicative updates of the sample-based sNM3F of Delis et al.
(2014, J Neurophysiol 111:675), the reference. ``hals``: exact block
coordinate descent (hierarchical alternating least squares): one column of
``Wt``, one row of ``Ws`` or one coefficient ``A[:, p, l]`` (all trials at
once) at a time, each the closed-form non-negative minimiser with the others
fixed; the Gram matrices of the Kronecker-structured problem are P × P and
L × L, so a sweep costs O(S·T·N·(P + L)). Both decrease the objective
monotonically. Plain NumPy: no validation here (the public function did it).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SOLVERS", "objective", "solve"]

SOLVERS = ("hals", "mu")
_EPS = 1e-12  # floor of W entries (keeps the multiplicative updates alive)
_TINY = 1e-300


def reconstruct(Wt, A, Ws):
    """The model ``Wt A[s] Ws`` of every trial, shape (S, T, N)."""
    return np.einsum("tp,spl,ln->stn", Wt, A, Ws, optimize=True)


def objective(X, Wt, A, Ws, xx=None):
    """``sum_s ||X[s] - Wt A[s] Ws||^2`` from Gram matrices (no (S, T, N) temp)."""
    if xx is None:
        xx = float(np.sum(X * X))
    R = np.einsum("tp,stn,ln->spl", Wt, X, Ws, optimize=True)
    Gt, Gs = Wt.T @ Wt, Ws @ Ws.T
    quad = np.einsum("spl,pq,sqm,lm->", A, Gt, A, Gs, optimize=True)
    return max(xx - 2.0 * float(np.sum(A * R)) + float(quad), 0.0)


def _mu_step(X, Wt, A, Ws):
    Gt, Gs = Wt.T @ Wt, Ws @ Ws.T
    num = np.einsum("tp,stn,ln->spl", Wt, X, Ws, optimize=True)
    den = Gt @ A @ Gs
    A = A * num / np.maximum(den, _TINY)
    # temporal modules: sum_s X_s Ws' A_s' / Wt sum_s A_s Gs A_s'
    XWs = X @ Ws.T  # (S, T, L)
    num = np.einsum("stl,spl->tp", XWs, A, optimize=True)
    den = Wt @ np.einsum("spl,lm,sqm->pq", A, Gs, A, optimize=True)
    Wt = np.maximum(Wt * num / np.maximum(den, _TINY), _EPS)
    Gt = Wt.T @ Wt
    # spatial modules: sum_s A_s' Wt' X_s / sum_s A_s' Gt A_s Ws
    B = np.einsum("tp,spl->stl", Wt, A, optimize=True)
    num = np.einsum("stl,stn->ln", B, X, optimize=True)
    den = np.einsum("spl,pq,sqm->lm", A, Gt, A, optimize=True) @ Ws
    Ws = np.maximum(Ws * num / np.maximum(den, _TINY), _EPS)
    return Wt, A, Ws


def _hals_step(X, Wt, A, Ws):
    S, T, N = X.shape
    P, L = A.shape[1:]
    # activations: coordinate (p, l) for every trial at once
    Gt, Gs = Wt.T @ Wt, Ws @ Ws.T
    R = np.einsum("tp,stn,ln->spl", Wt, X, Ws, optimize=True)
    A = A.copy()
    for p in range(P):
        for q in range(L):
            d = Gt[p, p] * Gs[q, q]
            if d <= 0:
                continue
            grad = R[:, p, q] - Gt[p] @ A @ Gs[:, q]
            A[:, p, q] = np.maximum(A[:, p, q] + grad / d, 0.0)
    # temporal modules: X (T, S*N) ~ Wt [A_s Ws]_s
    C = A @ Ws  # (S, P, N)
    G = np.einsum("spn,sqn->pq", C, C, optimize=True)
    R = np.einsum("stn,spn->tp", X, C, optimize=True)
    Wt = Wt.copy()
    for p in range(P):
        if G[p, p] > 0:
            Wt[:, p] = np.maximum(Wt[:, p] + (R[:, p] - Wt @ G[:, p]) / G[p, p], _EPS)
    # spatial modules: X (S*T, N) ~ [Wt A_s]_s Ws
    B = (Wt @ A).reshape(S * T, L)
    G = B.T @ B
    R = B.T @ X.reshape(S * T, N)
    Ws = Ws.copy()
    for q in range(L):
        if G[q, q] > 0:
            Ws[q] = np.maximum(Ws[q] + (R[q] - G[q] @ Ws) / G[q, q], _EPS)
    return _balance(Wt, A, Ws)


def _balance(Wt, A, Ws):
    """Unit-norm temporal columns and spatial rows; the scale goes to ``A``."""
    nt = np.linalg.norm(Wt, axis=0)
    ns = np.linalg.norm(Ws, axis=1)
    nt[nt <= 0] = 1.0
    ns[ns <= 0] = 1.0
    return Wt / nt, A * nt[None, :, None] * ns[None, None, :], Ws / ns[:, None]


def solve(X, Wt, A, Ws, *, solver="hals", max_iter=1000, tol=1e-6):
    """Run ``solver`` from (Wt, A, Ws); returns (Wt, A, Ws, history, converged).

    Stops when the objective's relative decrease over one iteration falls
    below ``tol`` (or after ``max_iter`` iterations); ``history[0]`` is the
    objective at the start. The factors come back balanced (unit-norm
    temporal columns and spatial rows).
    """
    step = _hals_step if solver == "hals" else _mu_step
    xx = float(np.sum(X * X))
    f = objective(X, Wt, A, Ws, xx)
    history = [f]
    converged = False
    for _ in range(max_iter):
        Wt, A, Ws = step(X, Wt, A, Ws)
        f_new = objective(X, Wt, A, Ws, xx)
        history.append(f_new)
        if f - f_new <= tol * max(f, _TINY):
            converged = True
            break
        f = f_new
    Wt, A, Ws = _balance(Wt, A, Ws)
    return Wt, A, Ws, history, converged
