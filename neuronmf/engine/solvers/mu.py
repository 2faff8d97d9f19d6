"""Lee–Seung multiplicative updates for both losses: the reference solvers.

Plain NumPy, written to be read. Entries are floored at ε = 1e-16 after each
update (as Gillis & Glineur do) so that zeros cannot lock in. Masks enter as
weights (weighted MU), the graph penalty as in GNMF (Cai et al. 2011):
the Laplacian's degree part joins the denominator and its adjacency part the
numerator. For KL, (WH) is floored at 1e-16·max(V) only where it divides V.
A dask V (KL only) is processed block by block in one pass per iteration with
the same arithmetic (:func:`neuronmf.engine.chunked.kl_mu_pass`).

With a penalty on one factor only, the other factor's columns (W) or rows (H)
are rescaled to unit norm after each iteration, the scale moving into the
penalised factor; that rescaling can raise the penalised objective slightly, so
the history is guaranteed non-increasing for unpenalised fits only.
"""

from __future__ import annotations

import numpy as np

from neuronmf.engine.chunked import is_dask, kl_mu_pass
from neuronmf.engine.losses import kl_divergence  # also re-exported from here
from neuronmf.engine.solvers.base import Monitor, Problem, projected_gradient_norm

EPS = 1e-16


def _frobenius_data(V, W, H, mask):
    R = V - W @ H
    if mask is not None:
        R = np.where(mask, R, 0)
    return 0.5 * float(np.sum(np.square(R, dtype=np.float64)))


def solve(problem: Problem, W0, H0, monitor: Monitor):
    """Run multiplicative updates; return the best ``(W, H)``."""
    V = problem.V
    dt = V.dtype
    eps = dt.type(EPS)
    kl = problem.loss == "kl"
    floor = dt.type(EPS * problem.max_V)
    if is_dask(V):
        return _solve_kl_chunked(problem, W0, H0, monitor, floor)
    mask = problem.mask
    Mf = None if mask is None else mask.astype(dt)
    Vm = V if mask is None else V * Mf
    l1W, l2W, l1H, l2H = problem.l1_W, problem.l2_W, problem.l1_H, problem.l2_H
    lam = problem.graph_weight if problem.has_graph else 0.0
    if lam:
        L = problem.graph.laplacian
        degree = L.diagonal().astype(dt)
    W = np.array(W0, dtype=dt)
    H = np.array(H0, dtype=dt)

    def data_loss(W_, H_):
        WH = W_ @ H_
        return kl_divergence(V, WH, mask) if kl else _frobenius_data(V, W_, H_, mask)

    def ratio(W_, H_):
        """The weighted data term the numerators use: M⊙V/WH (KL) or M⊙V."""
        if not kl:
            return Vm
        WH = W_ @ H_
        R = V / np.maximum(WH, floor)
        return R if Mf is None else R * Mf

    def denominator_H(W_, H_):
        if kl:
            base = W_.T @ (Mf if Mf is not None else np.ones_like(V))
        else:
            base = W_.T @ ((W_ @ H_) * Mf) if Mf is not None else (W_.T @ W_) @ H_
        return base + dt.type(l1H) + dt.type(l2H) * H_

    def denominator_W(W_, H_):
        if kl:
            base = (Mf if Mf is not None else np.ones_like(V)) @ H_.T
        else:
            base = ((W_ @ H_) * Mf) @ H_.T if Mf is not None else W_ @ (H_ @ H_.T)
        base = base + dt.type(l1W) + dt.type(l2W) * W_
        if lam:
            base = base + dt.type(2 * lam) * degree[:, None] * W_
        return base

    def numerator_W(W_, H_):
        num = ratio(W_, H_) @ H_.T
        if lam:
            # adjacency part of the Laplacian: S W = D W − L W
            num = num + dt.type(2 * lam) * (degree[:, None] * W_ - L @ W_)
        return num

    def grad_norm(W_, H_):
        if kl:
            return None
        R = W_ @ H_ - V
        if Mf is not None:
            R = R * Mf
        grad_W = R @ H_.T + l1W + l2W * W_
        if lam:
            grad_W = grad_W + 2 * lam * (L @ W_)
        grad_H = W_.T @ R + l1H + l2H * H_
        return projected_gradient_norm(W_, H_, grad_W, grad_H)

    pg0 = grad_norm(W, H)
    if pg0 is not None:
        monitor.set_initial_gradient(pg0)
    best = (np.inf, W, H)
    go_on = problem.max_iter > 0
    while go_on:
        if problem.update_H:
            numer = W.T @ ratio(W, H)
            H = np.maximum(H * numer / np.maximum(denominator_H(W, H), eps), eps)
        if problem.update_W:
            numer = numerator_W(W, H)
            W = np.maximum(W * numer / np.maximum(denominator_W(W, H), eps), eps)
        if problem.unit_norm_W:
            norms = np.linalg.norm(W, axis=0).astype(dt)
            W, H = W / norms, H * norms[:, None]
        elif problem.unit_norm_H:
            norms = np.linalg.norm(H, axis=1).astype(dt)
            W, H = W * norms, H / norms[:, None]
        f = data_loss(W, H) + problem.penalty(W, H)
        if f < best[0]:
            best = (f, W, H)
        pg = grad_norm(W, H) if monitor.wants_gradient() else None
        go_on = monitor.step(f, pg)
    return best[1], best[2]


def _solve_kl_chunked(problem: Problem, W0, H0, monitor: Monitor, floor):
    """KL multiplicative updates on a dask V, one pass over V per iteration.

    The pass that updates iterate k also yields D(V‖W_k H_k), so each
    iterate's objective reaches the monitor from the next pass; the history
    matches the in-memory solver's.
    """
    dt = problem.V.dtype
    eps = dt.type(EPS)
    W = np.array(W0, dtype=dt)
    H = np.array(H0, dtype=dt)
    l1W, l2W = dt.type(problem.l1_W), dt.type(problem.l2_W)
    best = (np.inf, W, H)
    first = True
    while True:
        H_new, numer, sums, data = kl_mu_pass(
            problem.V, W, H, floor, problem.l1_H, problem.l2_H, problem.update_H, eps
        )
        f = data + problem.penalty(W, H)  # the objective of (W, H)
        if not first:
            if f < best[0]:
                best = (f, W, H)
            if not monitor.step(f):
                break
        first = False
        H = H_new
        if problem.update_W:
            denom = sums[None, :] + l1W + l2W * W
            W = np.maximum(W * numer / np.maximum(denom, eps), eps)
    return best[1], best[2]
