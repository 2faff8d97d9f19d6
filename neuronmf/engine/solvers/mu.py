"""Lee–Seung multiplicative updates for the Frobenius loss: the reference solver.

Plain NumPy. Entries are floored at ε = 1e-16 after each update (as Gillis &
Glineur do) so that zeros cannot lock in. Slow, but simple enough to check the
other solvers against. With a penalty on one factor only, the other factor's
columns are rescaled to unit norm after each update (the scale moves into the
penalised factor); that step can raise the penalised objective slightly, so the
history is only guaranteed non-increasing for unpenalised fits.
"""

from __future__ import annotations

import numpy as np

from neuronmf.engine.losses import penalty, squared_residual
from neuronmf.engine.solvers.base import Monitor, Problem, projected_gradient_norm

EPS = 1e-16


def solve(problem: Problem, W0, H0, monitor: Monitor):
    """Run multiplicative updates; return the best ``(W, H)``."""
    V = problem.V
    dt = V.dtype
    eps = dt.type(EPS)
    l1W, l2W, l1H, l2H = problem.l1_W, problem.l2_W, problem.l1_H, problem.l2_H
    W = np.array(W0, dtype=dt)
    H = np.array(H0, dtype=dt)
    P = V @ H.T
    Q = H @ H.T

    def grad_norm():
        grad_W = W @ Q - P + l1W + l2W * W
        grad_H = (W.T @ W) @ H - W.T @ V + l1H + l2H * H
        return projected_gradient_norm(W, H, grad_W, grad_H)

    monitor.set_initial_gradient(grad_norm())
    best = (np.inf, W, H)
    go_on = problem.max_iter > 0
    while go_on:
        if problem.update_H:
            numer = W.T @ V
            denom = (W.T @ W) @ H
            if l1H:
                denom += dt.type(l1H)
            if l2H:
                denom += dt.type(l2H) * H
            H = np.maximum(H * numer / np.maximum(denom, eps), eps)
            P = V @ H.T
            Q = H @ H.T
        if problem.update_W:
            denom = W @ Q
            if l1W:
                denom += dt.type(l1W)
            if l2W:
                denom += dt.type(l2W) * W
            W = np.maximum(W * P / np.maximum(denom, eps), eps)
        if problem.unit_norm_W:
            norms = np.linalg.norm(W, axis=0).astype(dt)
            W = W / norms
            H = H * norms[:, None]
            P = P * norms
            Q = Q * np.outer(norms, norms)
        elif problem.unit_norm_H:
            norms = np.linalg.norm(H, axis=1).astype(dt)
            H = H / norms[:, None]
            W = W * norms
            P = P / norms
            Q = Q / np.outer(norms, norms)
        f = 0.5 * squared_residual(problem.norm_V2, W, P, W.T @ W, Q) + penalty(
            W, H, l1W, l1H, l2W, l2H
        )
        if f < best[0]:
            best = (f, W, H)
        pg = grad_norm() if monitor.wants_gradient() else None
        go_on = monitor.step(f, pg)
    return best[1], best[2]
