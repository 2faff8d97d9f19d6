"""Cyclic coordinate descent for the KL (Poisson) loss (Hsieh & Dhillon 2011).

Each outer iteration updates every row of Hᵀ (the columns of H), then every row
of W, each coordinate by safeguarded Newton steps (see ``_kl_kernels``); every
step lowers the objective, so the history is non-increasing for unpenalised
fits and fits with penalties on both factors. The W update also returns the
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

from neuronmf.engine.graph import no_graph
from neuronmf.engine.solvers import _kl_kernels as K
from neuronmf.engine.solvers.base import Monitor, Problem
from neuronmf.engine.solvers.hals import _move_scale

#: Newton steps per coordinate and sweeps per row in each outer iteration.
NEWTON_STEPS = 2
SWEEPS = 1


def kl_constant(V, mask) -> float:
    """Σ M ⊙ (V log V − V) over V > 0: the part of D(V‖WH) free of W and H."""
    V64 = np.asarray(V, dtype=np.float64)
    keep = V64 > 0 if mask is None else (V64 > 0) & mask
    x = V64[keep]
    total = float(np.sum(x * np.log(x) - x))
    return total


def solve(problem: Problem, W0, H0, monitor: Monitor):
    """Run CCD-KL; return the last (= best, for monotone fits) ``(W, H)``."""
    V = problem.V
    dt = V.dtype
    m, n = V.shape
    r = problem.rank
    Vt = np.ascontiguousarray(V.T)
    if problem.masked:
        M = np.ascontiguousarray(problem.mask, dtype=np.uint8)
        Mt = np.ascontiguousarray(M.T)
    else:
        M = Mt = np.ones((1, 1), dtype=np.uint8)
    masked = problem.masked
    const = kl_constant(V, problem.mask)
    W = np.array(W0, dtype=dt, order="C")
    Ht = np.array(H0.T, dtype=dt, order="C")
    if problem.unit_norm_W:
        _move_scale(W, Ht)
    elif problem.unit_norm_H:
        _move_scale(Ht, W)
    lam = problem.graph_weight if problem.has_graph else 0.0
    graph = problem.graph_arrays(dt)
    rows_H = no_graph(n)
    threads = nb.get_num_threads()
    scratch_H = np.zeros((threads, m + r))
    scratch_W = np.zeros((threads, n + r))

    def objective(data):
        return const + data + problem.penalty(W, Ht)

    best = (
        objective(K.kl_data_loss(V, W, np.ascontiguousarray(Ht.T), M, masked)),
        W.copy(),
        Ht.copy(),
    )
    go_on = problem.max_iter > 0
    while go_on:
        if problem.update_H:
            data = K.kl_update_rows(
                Ht,
                Vt,
                np.ascontiguousarray(W.T),
                Mt,
                masked,
                problem.l1_H,
                problem.l2_H,
                SWEEPS,
                NEWTON_STEPS,
                0.0,
                *rows_H,
                scratch_H,
            )
        if problem.update_W:
            data = K.kl_update_rows(
                W,
                V,
                np.ascontiguousarray(Ht.T),
                M,
                masked,
                problem.l1_W,
                problem.l2_W,
                SWEEPS,
                NEWTON_STEPS,
                lam,
                *graph,
                scratch_W,
            )
        if problem.unit_norm_W:
            _move_scale(W, Ht)
        elif problem.unit_norm_H:
            _move_scale(Ht, W)
        f = objective(data)
        if f <= best[0]:
            best = (f, W.copy(), Ht.copy())
        go_on = monitor.step(f)
    return best[1], np.ascontiguousarray(best[2].T)
