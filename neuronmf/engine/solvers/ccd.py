"""Cyclic coordinate descent for the KL (Poisson) loss (Hsieh & Dhillon 2011).

Each outer iteration updates every row of Hᵀ (the columns of H), then every row
of W, each coordinate by safeguarded Newton steps (see ``_kl_kernels``); every
step lowers the objective, so the history is non-increasing. With a penalty
on one factor only, the other is held at unit norm (else the penalty is dodged
by scaling): its update minimises a majoriser of the scale-invariant objective
(a per-column l2 term, see ``_scale_weights``), tight at unit norm, and its
scale then moves into the penalised factor, which leaves that objective
unchanged; the fixed points are the KKT points of the constrained problem. The
W update also returns the
data term at the new point, so the objective costs no extra pass over V. Masks
enter exactly: unobserved entries are left out of every sum. The graph penalty
on W couples rows of W; they are visited colour by colour.

The objective is the generalised KL divergence plus penalties:
D(V‖WH) = Σ M ⊙ (V log(V/WH) − V + WH), with 0·log 0 = 0. (WH) is never floored;
a step that would make (WH)_ij ≤ 0 where V_ij > 0 is halved.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import scipy.sparse as sp

from neuronmf.engine.graph import no_graph
from neuronmf.engine.solvers import _kl_kernels as K
from neuronmf.engine.solvers.base import Monitor, Problem
from neuronmf.engine.solvers.hals import _move_scale

#: Newton steps per coordinate and sweeps per row in each outer iteration.
NEWTON_STEPS = 1
SWEEPS = 1


def kl_constant(V, mask) -> float:
    """Σ M ⊙ (V log V − V) over V > 0: the part of D(V‖WH) free of W and H."""
    V64 = np.asarray(V, dtype=np.float64)
    keep = V64 > 0 if mask is None else (V64 > 0) & mask
    x = V64[keep]
    total = float(np.sum(x * np.log(x) - x))
    return total


class _Rows:
    """The observed non-zero entries of X (p, q) as CSR rows, for the kernel."""

    def __init__(self, X, mask, rank: int) -> None:
        M = np.ones((1, 1), np.uint8) if mask is None else mask.view(np.uint8)
        self.indptr, self.indices, self.values = K.active_rows(X, M, mask is not None)
        # Σ over observed entries = Σ over all − Σ over unobserved (a sparse product)
        self.unobserved = None if mask is None else sp.csr_matrix(~mask, dtype=X.dtype)
        widest = int(np.diff(self.indptr).max(initial=0))
        self.scratch = np.zeros((nb.get_num_threads(), (rank + 2) * widest + 3 * rank))
        self.p = X.shape[0]

    def base(self, Ot):
        """Σ over each row's observed entries of the other factor: M·Ot (p, r)."""
        total = np.broadcast_to(Ot.sum(axis=0), (self.p, Ot.shape[1]))
        if self.unobserved is None:
            return np.ascontiguousarray(total)
        return np.ascontiguousarray(total - self.unobserved @ Ot)

    def update(self, F, Ot, l1, l2, lam, graph):
        """Update every row of ``F`` (in place); return the data term after."""
        return K.kl_update_rows(
            F,
            self.indptr,
            self.indices,
            self.values,
            Ot,
            self.base(Ot),
            l1,
            l2,
            SWEEPS,
            NEWTON_STEPS,
            lam,
            *graph,
            self.scratch,
        )

    def update_unit_scaled(self, F, Ot, weights):
        """Update ``F`` under Σ_k weights_k/2·|f_k|² (a per-column l2 penalty).

        The kernel takes one l2 weight for every column; with s_k = √weights_k,
        F·diag(s) under l2 = 1 against Ot·diag(1/s) is the same problem (the
        product F·Otᵀ is unchanged). A column whose weight is 0 meets a zero
        column of the other factor: it changes neither the data term nor the
        penalty, so it is left as it was.
        """
        live = weights > 0
        s = np.where(live, np.sqrt(np.where(live, weights, 1.0)), 1.0).astype(F.dtype)
        Fs = np.ascontiguousarray(F * s)
        Os = np.ascontiguousarray(Ot / s)
        data = self.update(Fs, Os, 0.0, 1.0, 0.0, no_graph(F.shape[0]))
        F[:, live] = Fs[:, live] / s[live]
        return data


def _scale_weights(F, l1, l2, lam=0.0, graph=None):
    """The l2 weight each column of the unit-norm factor takes from ``F``'s penalty.

    The penalty on F (columns f_k) with the other factor's columns g_k held at
    unit norm is that of the scale-invariant objective
    l1·Σ_k |g_k|·Σf_k + l2/2·Σ_k |g_k|²|f_k|² + λ·Σ_k |g_k|² f_kᵀLf_k, which
    equals the true penalty at |g_k| = 1. In g_k it is majorised at |g_k| = 1 by
    (l1·Σf_k + l2·|f_k|² + 2λ·f_kᵀLf_k)/2·|g_k|² + const (|g| ≤ (|g|² + 1)/2),
    tight there: these weights.
    """
    F64 = np.asarray(F, dtype=np.float64)
    weights = np.zeros(F.shape[1])
    if l1:
        weights += l1 * F64.sum(axis=0)
    if l2:
        weights += l2 * np.einsum("ik,ik->k", F64, F64)
    if lam:
        weights += 2.0 * lam * np.einsum("ik,ik->k", F64, graph.laplacian @ F64)
    return weights


def iterate(problem: Problem, rows_W, rows_H, W, Ht, graph, no_graph_H) -> float:
    """One outer iteration in place (H, then W); return the data term after.

    With a penalty on one factor only, the other is updated at unit norm (see
    ``_scale_weights``) and its scale then moves into the penalised factor.
    ``rows_W``/``rows_H`` are :class:`_Rows` (or a subclass with the same
    ``update``) over V and Vᵀ.
    """
    lam = problem.graph_weight if problem.has_graph else 0.0
    data = np.nan
    if problem.unit_norm_H:
        # W alone is penalised: H's rows (columns of Ht) stay at unit norm
        weights = _scale_weights(W, problem.l1_W, problem.l2_W, lam, problem.graph)
        data = rows_H.update_unit_scaled(Ht, W, weights)
        _move_scale(Ht, W)
    elif problem.update_H:
        data = rows_H.update(Ht, W, problem.l1_H, problem.l2_H, 0.0, no_graph_H)
    if problem.unit_norm_W:
        # H alone is penalised: W's columns stay at unit norm
        weights = _scale_weights(Ht, problem.l1_H, problem.l2_H)
        data = rows_W.update_unit_scaled(W, Ht, weights)
        _move_scale(W, Ht)
    elif problem.update_W:
        data = rows_W.update(W, Ht, problem.l1_W, problem.l2_W, lam, graph)
    return data


def solve(problem: Problem, W0, H0, monitor: Monitor):
    """Run CCD-KL; return the last (= best, for monotone fits) ``(W, H)``."""
    V = problem.V
    mask = problem.mask
    rows_W = _Rows(V, mask, problem.rank)
    rows_H = _Rows(V.T, None if mask is None else mask.T, problem.rank)
    Mk = np.ones((1, 1), np.uint8) if mask is None else mask.astype(np.uint8)

    def data_term(W, H):
        return K.kl_data_loss(V, W, H, Mk, mask is not None)

    return run(
        problem, monitor, rows_W, rows_H, kl_constant(V, mask), data_term, W0, H0
    )


def run(problem: Problem, monitor: Monitor, rows_W, rows_H, const, data_term, W0, H0):
    """The outer loop of CCD-KL on prepared rows (dense :class:`_Rows` or sparse).

    ``const`` is the data's constant part of the objective and ``data_term(W, H)``
    its factor-dependent part at the start; :func:`iterate` returns it after each
    iteration. Keeps the best iterate and checkpoints when the problem asks.
    """
    dt = problem.V.dtype
    W = np.array(W0, dtype=dt, order="C")
    Ht = np.array(H0.T, dtype=dt, order="C")
    if problem.unit_norm_W:
        _move_scale(W, Ht)
    elif problem.unit_norm_H:
        _move_scale(Ht, W)
    graph = problem.graph_arrays(dt)
    no_graph_H = no_graph(problem.V.shape[1])

    def objective(data):
        return const + data + problem.penalty(W, Ht)

    best = (objective(data_term(W, np.ascontiguousarray(Ht.T))), W.copy(), Ht.copy())
    saved = problem.checkpointer.load() if problem.checkpointer else None
    if saved is not None:  # resume exactly where the checkpoint left off
        W = np.ascontiguousarray(saved["W"], dtype=dt)
        Ht = np.ascontiguousarray(saved["Ht"], dtype=dt)
        best = (
            float(saved["best_f"]),
            saved["best_W"].astype(dt),
            saved["best_Ht"].astype(dt),
        )
        monitor.restore(saved)
    go_on = problem.max_iter > 0 and monitor.n_iter < problem.max_iter
    if saved is not None and bool(saved["finished"]):
        go_on = False  # the checkpointed fit had already ended
    while go_on:
        data = iterate(problem, rows_W, rows_H, W, Ht, graph, no_graph_H)
        f = objective(data)
        if f <= best[0]:
            best = (f, W.copy(), Ht.copy())
        go_on = monitor.step(f)
        if problem.checkpointer and (
            problem.checkpointer.due(monitor.n_iter) or not go_on
        ):
            problem.checkpointer.save(
                {
                    "W": W,
                    "Ht": Ht,
                    "best_f": best[0],
                    "best_W": best[1],
                    "best_Ht": best[2],
                    "finished": not go_on,
                    **monitor.state(),
                }
            )
    return best[1], np.ascontiguousarray(best[2].T)
