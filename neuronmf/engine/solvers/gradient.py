"""Gradient descent on the exponential reparameterisation: the generic reference.

W = exp(A), H = exp(B) turns the non-negativity constraints into an
unconstrained problem in (A, B); the chain rule gives ∇_A f = W ⊙ ∇_W f and
∇_B f = H ⊙ ∇_H f. Descent directions come from scipy's L-BFGS (gradient
steps corrected by a limited-memory curvature estimate) with a Wolfe line
search, so the objective never increases. Slow (entries can only approach zero
as exp(−∞)), but it needs nothing from a loss except its value and gradient, so
any new loss can be checked against it first. Plain NumPy and SciPy.
"""

from __future__ import annotations

import numpy as np

from neuronmf.engine.solvers.base import Monitor, Problem


def objective_and_gradients(problem: Problem, W, H):
    """(f, ∇_W f, ∇_H f) of the problem's objective at (W, H), in float64.

    The data term and its gradient with respect to WH come from the loss's spec.
    """
    V = problem.V.astype(np.float64, copy=False)
    spec = problem.spec
    WH = W @ H
    f = spec.divergence(V, WH, problem.mask) + problem.penalty(W, H)
    D = spec.gradient(V, WH, problem.mask)
    grad_W = D @ H.T + problem.l1_W + problem.l2_W * W
    grad_H = W.T @ D + problem.l1_H + problem.l2_H * H
    if problem.has_graph:
        grad_W = grad_W + 2.0 * problem.graph_weight * (problem.graph.laplacian @ W)
    return f, grad_W, grad_H


def solve(problem: Problem, W0, H0, monitor: Monitor):
    """Minimise over (A, B) = (log W, log H); return the best ``(W, H)``.

    Directions come from L-BFGS (scipy.optimize, limited-memory quasi-Newton
    on the gradient) and every step passes a Wolfe line search, so the
    objective decreases at each accepted iteration.
    """
    from scipy.optimize import minimize

    dt = problem.V.dtype
    m, n = problem.V.shape
    r = problem.rank
    floor = 1e-12
    A0 = np.log(
        np.maximum(np.asarray(W0, np.float64), floor * max(float(W0.max()), 1.0))
    )
    B0 = np.log(
        np.maximum(np.asarray(H0, np.float64), floor * max(float(H0.max()), 1.0))
    )
    W_fixed = np.asarray(W0, np.float64)
    H_fixed = np.asarray(H0, np.float64)

    def unpack(z):
        W = np.exp(z[: m * r].reshape(m, r)) if problem.update_W else W_fixed
        H = np.exp(z[m * r :].reshape(r, n)) if problem.update_H else H_fixed
        if problem.unit_norm_W:
            scale = np.linalg.norm(W, axis=0)
            W, H = W / scale, H * scale[:, None]
        elif problem.unit_norm_H:
            scale = np.linalg.norm(H, axis=1)
            W, H = W * scale, H / scale[:, None]
        return W, H

    def fun(z):
        W, H = unpack(z)
        f, gW, gH = objective_and_gradients(problem, W, H)
        if not np.isfinite(f):
            return np.inf, np.zeros_like(z)
        gA = (gW * W).ravel() if problem.update_W else np.zeros(m * r)
        gB = (gH * H).ravel() if problem.update_H else np.zeros(r * n)
        return f, np.concatenate([gA, gB])

    best = {"f": np.inf, "z": np.concatenate([A0.ravel(), B0.ravel()])}

    def callback(intermediate_result):
        f = float(intermediate_result.fun)
        if f < best["f"]:
            best["f"], best["z"] = f, intermediate_result.x.copy()
        if not monitor.step(min(f, best["f"])):
            raise StopIteration

    minimize(
        fun,
        best["z"],
        jac=True,
        method="L-BFGS-B",
        callback=callback,
        options={"maxiter": problem.max_iter, "ftol": 0.0, "gtol": 0.0, "maxcor": 20},
    )
    if not monitor.history:
        # L-BFGS stopped before its first iteration: the start is stationary
        # (e.g. the exact rank-one optimum from NNDSVD). Report its objective.
        monitor.step(float(fun(best["z"])[0]))
    if monitor.n_iter < problem.max_iter and not monitor.stopped_by_callback:
        monitor.converged = True
    W, H = unpack(best["z"])
    return W.astype(dt), H.astype(dt)
