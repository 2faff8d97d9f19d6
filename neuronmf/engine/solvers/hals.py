"""Accelerated HALS with extrapolation for the Frobenius loss.

- **A-HALS** (Gillis & Glineur 2012): each block update reuses its data product
  for up to ``1 + α·ρ`` cheap inner sweeps (α = 0.5), stopping once a sweep moves
  less than δ = 0.1 times the first. Rows of a factor are independent problems,
  so the rule is applied per row and rows run in parallel.
- **Extrapolation** (Ang & Gillis 2019): the next block update starts from
  ``Y = X_k + β (X_k − X_{k−1})`` (projected onto ≥ 0). β starts at 0.5, grows by
  γ = 1.01 up to a cap that itself grows by γ̄ = 1.005; when an extrapolated step
  raises the objective the step is rejected, the cap becomes β and β shrinks by
  η = 1.5, and the next step starts from the last accepted iterate. Steps from a
  non-extrapolated point are plain A-HALS steps, which never raise the
  objective, so the recorded objective is non-increasing and the last accepted
  iterate is the best one.
- **Two data products per iteration** (VᵀW for the H update, V·Hᵀ for the W
  update): two BLAS products, or, for skinny in-memory data (C-ordered, at
  most :data:`neuronmf.engine.products.FUSED_MAX_ROWS` rows), one pass over V
  (:func:`neuronmf.engine.solvers._hals_kernels.fused_h_step`) that computes
  VᵀW, updates H and accumulates V·Hᵀ and HᵀH block by block while the block
  is in cache, which is faster than the BLAS products, the H update and HᵀH
  for such data (docs/benchmarks.md, "HALS fused H step"). A further product
  VᵀW is computed every 10
  iterations for the projected-gradient stopping rule.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from neuronmf.engine.chunked import ChunkedData, is_dask
from neuronmf.engine.losses import gram, squared_residual
from neuronmf.engine.products import data_product, data_product_T, uses_fused_step
from neuronmf.engine.solvers import _hals_kernels as K
from neuronmf.engine.solvers.base import (
    Monitor,
    Problem,
    balancing_scale,
    projected_gradient_norm,
    projected_sq_W,
)

ALPHA = 0.5
DELTA = 0.1
MAX_SWEEPS = 50
BETA0, ETA, GAMMA, GAMMA_BAR = 0.5, 1.5, 1.01, 1.005


def _sweeps(p: int, q: int, r: int) -> int:
    """Inner sweeps for a (p, r) factor whose data product costs p·q·r."""
    rho = 1.0 + (p * q + q * r) / (p * (r + 1.0))
    return int(min(MAX_SWEEPS, max(1, math.floor(1 + ALPHA * rho))))


class _HStep:
    """The H update and the products it leaves behind: P = V·Hᵀ, Q = H·Hᵀ.

    Q (r × r) is always float64 (see :func:`neuronmf.engine.losses.gram`).

    :class:`neuronmf.engine.chunked.ChunkedData` offers the same methods for a
    dask array, one task per block of columns.
    """

    chunked = False

    def __init__(self, problem: Problem, V) -> None:
        m, n = V.shape
        self.V = V
        self.sweeps = _sweeps(n, m, problem.rank)
        self.fused = uses_fused_step(V)

    def data_product_T(self, W):
        """Vᵀ·W as a C-contiguous (n, r) array."""
        return data_product_T(self.V, W)

    def product(self, Ht):
        """V·Ht as a C-contiguous (m, r) array."""
        return data_product(self.V, Ht)

    def gradient_norm(self, W, Ht, sq_norms_H, grad_W, l1, l2):
        """Projected-gradient norm given W's gradient; H's part in one pass over V."""
        d = balancing_scale(np.linalg.norm(W, axis=0), np.sqrt(sq_norms_H))
        G = np.ascontiguousarray(W.T @ W)
        scale = np.ascontiguousarray(d, dtype=np.float64)
        sq_H = K.projected_gradient_sq_rows(self.V, W, Ht, G, l1, l2, scale)
        return math.sqrt(projected_sq_W(W, grad_W, d) + sq_H)

    def run(self, W, Hy, G, l1, l2):
        """The H update from ``Hy`` (not modified) and ``W``; return (H, P, Q)."""
        if self.fused:
            return K.fused_h_step(self.V, W, Hy, G, l1, l2, self.sweeps, DELTA)
        Ht = Hy.copy()
        A = self.data_product_T(W)
        K.update_rows(Ht, A, G, l1, l2, self.sweeps, DELTA)
        return Ht, data_product(self.V, Ht), gram(Ht)


def solve(problem: Problem, W0, H0, monitor: Monitor, *, extrapolate: bool = True):
    """Run A-HALS (with extrapolation unless ``extrapolate=False``).

    Returns the best (last accepted) ``(W, H)``. With a mask the unobserved
    entries are imputed from the current factors before each block update
    (expectation–maximisation): the imputed problem majorises the masked one and
    touches it at the current point, so each block update lowers the masked
    objective too. The fixed points are those of the masked problem.
    """
    V = problem.V.copy() if problem.masked else problem.V
    dt = V.dtype
    m, n = V.shape
    r = problem.rank
    l1W, l2W, l1H, l2H = problem.l1_W, problem.l2_W, problem.l1_H, problem.l2_H
    lam = problem.graph_weight if problem.has_graph else 0.0
    graph = problem.graph_arrays(dt)
    scratch = np.zeros((nb.get_num_threads(), r), dtype=dt)
    W = np.array(W0, dtype=dt, order="C")
    Ht = np.array(H0.T, dtype=dt, order="C")
    if problem.unit_norm_W:
        _move_scale(W, Ht)
    elif problem.unit_norm_H:
        _move_scale(Ht, W)
    if is_dask(V):
        h_step = ChunkedData(V, _sweeps(n, m, r), DELTA)
    else:
        h_step = _HStep(problem, V)
    w_sweeps = _sweeps(m, n, r)
    rows, cols = problem.unobserved if problem.unobserved else (None, None)
    sparse_imputer = None
    if problem.masked and rows is None:  # sparse V: held-out entries (a HeldOut)
        from neuronmf.engine._heldout import Imputer

        sparse_imputer = Imputer(V, problem.mask)

    def impute(W_, Ht_, P_=None):
        """Fill unobserved entries of V with W_·Ht_ᵀ; keep P_ = V·Htᵀ current."""
        if sparse_imputer is not None:
            sparse_imputer.fill(W_, Ht_, P_)
        elif P_ is None:
            K.fill_entries(V, rows, cols, W_, Ht_)
        else:
            K.fill_and_update_product(V, rows, cols, W_, Ht_, P_)

    def objective(W_, Ht_, P_, Q_):
        G_W = gram(W_)
        if problem.masked:
            # |M ⊙ (V − WH)|² = |V_imputed − WH|² − Σ_unobserved (V_imputed − WH)²
            if sparse_imputer is not None:
                imputed2, imputed_res2 = sparse_imputer.squares(W_, Ht_)
            else:
                imputed2, imputed_res2 = K.entries_squares(V, rows, cols, W_, Ht_)
            res = squared_residual(problem.norm_V2 + imputed2, W_, P_, G_W, Q_)
            res = max(res - imputed_res2, 0.0)
        else:
            res = squared_residual(problem.norm_V2, W_, P_, G_W, Q_)
        return 0.5 * res + problem.penalty(W_, Ht_)

    def update_w(Wy, P, Q):
        W_new = Wy.copy()
        Q = np.ascontiguousarray(Q, dtype=dt)
        if problem.unit_norm_W:
            K.update_columns_unit_norm(W_new, P, Q, 1)
        elif lam:
            K.update_rows_graph(
                W_new, P, Q, l1W, l2W, w_sweeps, DELTA, lam, *graph, scratch
            )
        else:
            K.update_rows(W_new, P, Q, l1W, l2W, w_sweeps, DELTA)
        return W_new

    def update_h(Hy, Wy):
        G = np.ascontiguousarray(Wy.T @ Wy)
        if problem.unit_norm_H:
            H_new = Hy.copy()
            A = h_step.data_product_T(Wy)
            K.update_columns_unit_norm(H_new, A, G, 1)
            return H_new, h_step.product(H_new), gram(H_new)
        return h_step.run(Wy, Hy, G, l1H, l2H)

    def gradient_norm(W_, Ht_, PQ=None):
        """Projected gradient at (W_, Ht_); ``PQ`` = (V·Ht_, Ht_ᵀ·Ht_) if known."""
        if problem.masked:
            impute(W_, Ht_)
            PQ = None  # the imputed entries changed
        return _gradient_norm(problem, h_step, W_, Ht_, PQ)

    if problem.masked:
        impute(W, Ht)
    P = h_step.product(Ht)
    Q = gram(Ht)
    f = objective(W, Ht, P, Q)
    pg0 = gradient_norm(W, Ht, (P, Q))
    if pg0 is not None:
        monitor.set_initial_gradient(pg0)

    W_prev, H_prev = W, Ht
    Wy, Hy = W, Ht
    beta, beta_max = (BETA0, 1.0) if extrapolate else (0.0, 0.0)
    extrapolated = False
    saved = problem.checkpointer.load() if problem.checkpointer else None
    if saved is not None:  # resume exactly where the checkpoint left off
        W, Ht, W_prev, H_prev, Wy, Hy = (
            np.ascontiguousarray(saved[k], dtype=dt) for k in _STATE
        )
        beta, beta_max, f = (float(saved[k]) for k in ("beta", "beta_max", "f"))
        extrapolated = bool(saved["extrapolated"])
        monitor.restore(saved)
    go_on = problem.max_iter > 0 and monitor.n_iter < problem.max_iter
    if saved is not None and bool(saved["finished"]):
        go_on = False  # the checkpointed fit had already ended
    while go_on:
        if problem.update_H:
            if problem.masked:
                impute(Wy, Hy)
            H_new, P, Q = update_h(Hy, Wy)
        else:
            H_new = Ht
        if problem.masked:
            impute(Wy, H_new, P)  # the W step sees V imputed at (Wy, H_new)
        W_new = update_w(Wy, P, Q) if problem.update_W else Wy
        f_new = objective(W_new, H_new, P, Q)
        accepted = f_new <= f or not extrapolated
        if accepted:
            W_prev, H_prev, W, Ht, f = W, Ht, W_new, H_new, min(f_new, f)
            if extrapolate:
                beta = min(beta_max, GAMMA * beta)
                beta_max = min(1.0, GAMMA_BAR * beta_max)
        else:  # extrapolated step raised the objective: reject it, restart
            beta_max = beta
            beta = beta / ETA
        pg = None
        if not h_step.chunked and (
            monitor.wants_gradient() or monitor.n_iter + 1 >= problem.max_iter
        ):
            known = (P, Q) if accepted and problem.update_H else None
            pg = gradient_norm(W, Ht, known)
        go_on = monitor.step(f, pg)
        if beta > 0.0 and accepted:
            Wy = _extrapolate(W, W_prev, beta) if problem.update_W else W
            Hy = _extrapolate(Ht, H_prev, beta) if problem.update_H else Ht
            extrapolated = True
        else:
            Wy, Hy = W, Ht
            extrapolated = False
        if problem.checkpointer and (
            problem.checkpointer.due(monitor.n_iter) or not go_on
        ):
            state = dict(zip(_STATE, (W, Ht, W_prev, H_prev, Wy, Hy), strict=True))
            state.update(beta=beta, beta_max=beta_max, f=f, extrapolated=extrapolated)
            problem.checkpointer.save(
                {**state, "finished": not go_on, **monitor.state()}
            )
    return W, np.ascontiguousarray(Ht.T)


#: The arrays of A-HALS's state that a checkpoint holds.
_STATE = ("W", "Ht", "W_prev", "H_prev", "Wy", "Hy")


def _gradient_norm(problem: Problem, h_step, W, Ht, PQ=None):
    """Projected gradient at (W, Ht) (V already imputed); None on the chunked path.

    ``PQ`` = (V·Ht, Htᵀ·Ht) if known. The chunked path makes one pass per
    iteration and skips this rule.
    """
    if h_step.chunked:
        return None
    l1H, l2H = problem.l1_H, problem.l2_H
    P, Q = PQ if PQ is not None else (h_step.product(Ht), gram(Ht))
    grad_W = W @ Q - P + problem.l1_W + problem.l2_W * W
    if problem.has_graph:
        grad_W = grad_W + 2 * problem.graph_weight * (problem.graph.laplacian @ W)
    if h_step.fused:
        return h_step.gradient_norm(W, Ht, np.diag(Q), grad_W, l1H, l2H)
    A = h_step.data_product_T(W)
    grad_Ht = Ht @ (W.T @ W) - A + l1H + l2H * Ht
    return projected_gradient_norm(W, Ht.T, grad_W, grad_Ht.T)


def _extrapolate(X, X_prev, beta):
    return K.extrapolate(X, X_prev, float(beta))


def _move_scale(F_unit, F_other):
    """Give ``F_unit`` unit-norm columns; move the scale into ``F_other``."""
    norms = np.linalg.norm(F_unit, axis=0)
    norms = np.where(norms > 0, norms, 1.0).astype(F_unit.dtype)
    F_unit /= norms
    F_other *= norms
