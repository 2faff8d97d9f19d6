"""Multiplicative updates for every loss: the reference solvers.

Lee–Seung for Frobenius and KL, Févotte & Idier's for the β-divergences; the
loss-specific parts come from the loss's spec. Plain NumPy, written to be read.
Entries are floored at ε = 1e-16 after each update (as Gillis & Glineur do) so
that zeros cannot lock in; for β >= 1 (Frobenius, KL) the returned factors
have exact zeros there. Masks enter as weights (weighted MU), the graph penalty
as in GNMF (Cai et al. 2011): the Laplacian's degree part joins the denominator
and its adjacency part the numerator. For KL, (WH) is floored at 1e-16·max(V)
only where it divides V. A dask V (KL only) is processed block by block in one
pass per iteration with the same arithmetic
(:func:`neuronmf.engine.chunked.kl_mu_pass`).

With a penalty on one factor only, the other factor's columns (W) or rows (H)
are rescaled to unit norm after each iteration, the scale moving into the
penalised factor; that rescaling can raise the penalised objective slightly, so
the history is guaranteed non-increasing for unpenalised fits only.
"""

from __future__ import annotations

import numpy as np

from neuronmf.engine._sparse import is_sparse
from neuronmf.engine.chunked import is_dask, kl_mu_pass
from neuronmf.engine.losses import (
    kl_divergence,  # noqa: F401 (re-exported here)
    squared_residual,
)
from neuronmf.engine.solvers.base import Monitor, Problem, projected_gradient_norm

EPS = 1e-16


def solve(problem: Problem, W0, H0, monitor: Monitor):
    """Run multiplicative updates; return the best ``(W, H)``.

    The data parts of each update, and its exponent γ, come from the loss's
    spec (:class:`neuronmf.engine.losses.LossSpec`): H ← H ⊙ (N / D)^γ with the
    penalties added to D.
    """
    V = problem.V
    dt = V.dtype
    eps = dt.type(EPS)
    spec = problem.spec
    gamma = spec.mu_exponent
    floor = dt.type(EPS * problem.max_V)
    if is_dask(V):  # the losses whose spec lists "mu" among its chunked solvers
        return _solve_kl_chunked(problem, W0, H0, monitor, floor)
    mask = problem.mask
    Mf = None if mask is None else mask.astype(dt)
    l1W, l2W, l1H, l2H = problem.l1_W, problem.l2_W, problem.l1_H, problem.l2_H
    lam = problem.graph_weight if problem.has_graph else 0.0
    if lam:
        L = problem.graph.laplacian
        degree = L.diagonal().astype(dt)
    W = np.array(W0, dtype=dt)
    H = np.array(H0, dtype=dt)
    # scipy.sparse V (Frobenius only, engine/_sparse.py): the updates' products
    # WᵀV and VHᵀ are sparse ones, and the objective and gradient come from
    # Gram matrices, so W·H is never formed densely
    sparse = is_sparse(V)

    def objective(W_, H_):
        if sparse and spec.sparse_divergence is not None:  # KL: O(nnz · r)
            return spec.sparse_divergence(V, W_, H_)
        if sparse:
            P = np.asarray(V @ H_.T)
            return 0.5 * squared_residual(problem.norm_V2, W_, P, W_.T @ W_, H_ @ H_.T)
        return spec.divergence(V, W_ @ H_, mask)

    def step(F, numer, denom):
        if gamma == 1.0:
            return np.maximum(F * numer / np.maximum(denom, eps), eps)
        return np.maximum(F * (numer / np.maximum(denom, eps)) ** gamma, eps)

    def grad_norm(W_, H_):
        if not spec.projected_gradient:
            return None
        if sparse:  # (WH − V)Hᵀ and Wᵀ(WH − V) by Grams and sparse products
            grad_W = W_ @ (H_ @ H_.T) - np.asarray(V @ H_.T) + l1W + l2W * W_
            grad_H = (W_.T @ W_) @ H_ - np.asarray(W_.T @ V) + l1H + l2H * H_
            if lam:
                grad_W = grad_W + 2 * lam * (L @ W_)
            return projected_gradient_norm(W_, H_, grad_W, grad_H)
        R = spec.gradient(V, W_ @ H_, mask)
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
            numer, denom = spec.mu_H(V, W, H, Mf, floor)
            H = step(H, numer, denom + dt.type(l1H) + dt.type(l2H) * H)
        if problem.update_W:
            numer, denom = spec.mu_W(V, W, H, Mf, floor)
            denom = denom + dt.type(l1W) + dt.type(l2W) * W
            if lam:
                # the Laplacian's degree part joins the denominator and its
                # adjacency part (S W = D W − L W) the numerator
                denom = denom + dt.type(2 * lam) * degree[:, None] * W
                numer = numer + dt.type(2 * lam) * (degree[:, None] * W - L @ W)
            W = step(W, numer, denom)
        if problem.unit_norm_W:
            norms = np.linalg.norm(W, axis=0).astype(dt)
            W, H = W / norms, H * norms[:, None]
        elif problem.unit_norm_H:
            norms = np.linalg.norm(H, axis=1).astype(dt)
            W, H = W * norms, H / norms[:, None]
        f = objective(W, H) + problem.penalty(W, H)
        if f < best[0]:
            best = (f, W, H)
        pg = grad_norm(W, H) if monitor.wants_gradient() else None
        go_on = monitor.step(f, pg)
    return _snap(best[1], eps, spec), _snap(best[2], eps, spec)


def _snap(F, eps, spec):
    """Entries at (or, after rescaling, below) the floor ε returned as exact zeros.

    The floor only keeps zeros from locking in during the updates; a result
    entry there is one the updates drove to zero (scikit-learn's MU returns
    it as 0). For β < 1 (Itakura–Saito, ...) the divergence is infinite where
    WH = 0, so the floor stays.
    """
    if spec.beta < 1:
        return F
    return np.where(eps >= F, F.dtype.type(0), F)


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
    return _snap(best[1], eps, problem.spec), _snap(best[2], eps, problem.spec)
