"""What every solver driver shares: the problem and the loop monitor.

A driver receives a :class:`Problem` (validated, contiguous float data and the
options) and initial factors, and calls :meth:`Monitor.step` after each outer
iteration with the objective. The monitor owns the history, the stopping rule
(ALGORITHMS.md §2), the progress bar and the user's callback, so every solver
stops by the same rule.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from neuronmf._threads import thread_controller

#: Window (in outer iterations) of the relative-decrease rule and the period of
#: the projected-gradient check.
WINDOW = 10


@dataclass
class Problem:
    """A validated factorisation problem.

    ``V`` is C-contiguous float32/float64 of shape (m, n). With a ``mask``
    (bool, True = observed), ``V`` is a private copy whose unobserved entries hold
    the per-feature mean of the observed ones (so they never depend on what the
    caller stored there), and ``unobserved`` lists them as (rows, cols).
    ``norm_V2`` is |M ⊙ V|² in float64. Penalties: ``l1_*``, ``l2_*`` per factor
    and ``graph_weight`` λ times tr(WᵀLW) over ``graph``.
    """

    V: np.ndarray
    rank: int
    loss: str = "frobenius"
    l1_W: float = 0.0
    l1_H: float = 0.0
    l2_W: float = 0.0
    l2_H: float = 0.0
    update_W: bool = True
    update_H: bool = True
    max_iter: int = 1000
    tol: float = 1e-5
    mask: np.ndarray | None = None
    graph: object | None = None
    graph_weight: float = 0.0
    stats: dict | None = None
    checkpointer: object | None = None
    norm_V2: float = field(init=False)
    max_V: float = field(init=False)
    unobserved: tuple[np.ndarray, np.ndarray] | None = field(init=False)

    def __post_init__(self) -> None:
        if self.stats is not None:  # a dask V, summarised in one pass beforehand
            self.unobserved = None
            self.norm_V2 = self.stats["norm2"]
            self.max_V = self.stats["max"]
            self.graph_weight = 0.0 if self.graph is None else self.graph_weight
            return
        self.max_V = float(self.V.max())
        if self.mask is not None and hasattr(self.V, "tocsr"):
            # sparse V: a HeldOut mask (engine/_heldout.py); V stores the
            # held-out entries, which the solvers read from the mask itself
            from neuronmf.engine._heldout import training_entries

            self.unobserved = None
            self.norm_V2 = squared_norm(training_entries(self.V, self.mask)[0])
        elif self.mask is not None:
            rows, cols = np.nonzero(~self.mask)
            self.unobserved = (rows.astype(np.int64), cols.astype(np.int64))
            observed = np.where(self.mask, self.V, 0)
            self.norm_V2 = squared_norm(observed)
        else:
            self.unobserved = None
            self.norm_V2 = squared_norm(self.V)
        if self.graph is None:
            self.graph_weight = 0.0

    @property
    def spec(self):
        """The loss's :class:`~neuronmf.engine.losses.LossSpec`."""
        from neuronmf.engine import losses

        return losses.get(self.loss)

    @property
    def masked(self) -> bool:
        return self.mask is not None

    @property
    def has_graph(self) -> bool:
        return self.graph is not None and self.graph_weight > 0

    @property
    def penalised_W(self) -> bool:
        return bool(self.l1_W or self.l2_W or self.has_graph)

    @property
    def penalised_H(self) -> bool:
        return bool(self.l1_H or self.l2_H)

    @property
    def unit_norm_W(self) -> bool:
        """Hold W's columns at unit norm: H is penalised and W is not.

        Only when both factors are fitted: the scale moves into H, so a fixed
        H (whose penalty is then a constant) is never rescaled.
        """
        return (
            self.penalised_H
            and not self.penalised_W
            and self.update_W
            and self.update_H
        )

    @property
    def unit_norm_H(self) -> bool:
        """Hold H's rows at unit norm: W is penalised and H is not (both fitted)."""
        return (
            self.penalised_W
            and not self.penalised_H
            and self.update_H
            and self.update_W
        )

    @property
    def pg_tol(self) -> float:
        """Tolerance of the normalised projected-gradient rule (10 × ``tol``)."""
        return 10.0 * self.tol

    def penalty(self, W, H) -> float:
        """Every penalty term at (W, H), in float64."""
        from neuronmf.engine.losses import penalty

        value = penalty(W, H, self.l1_W, self.l1_H, self.l2_W, self.l2_H)
        if self.has_graph:
            value += self.graph_weight * self.graph.penalty(W)
        return value

    def graph_arrays(self, dtype):
        """Kernel arguments for the graph over W's rows (or a single colour)."""
        from neuronmf.engine.graph import no_graph

        if self.has_graph:
            g = self.graph
            return g.indptr, g.indices, g.weights, g.colour_ptr, g.colour_rows
        return no_graph(self.V.shape[0])


def squared_norm(V: np.ndarray) -> float:
    """Σ V² in float64 (BLAS dot, no temporary, for contiguous float64 data)."""
    if hasattr(V, "tocsr"):  # scipy.sparse: its stored entries
        d = np.asarray(V.data, dtype=np.float64)
        return float(np.dot(d, d))
    if V.dtype == np.float64 and (V.flags.c_contiguous or V.flags.f_contiguous):
        flat = V.ravel(order="K")
        return float(np.dot(flat, flat))
    return float(np.sum(np.square(V, dtype=np.float64)))


def projected_gradient_norm(W, H, grad_W, grad_H) -> float:
    """|∇ᴾf|_F at a balanced scaling of (W, H) (Lin 2007).

    ∇ᴾ is the gradient where the variable is positive and min(0, ∇) where it is
    zero. The columns of W and rows of H are first rescaled to equal norms,
    which changes the gradients by the inverse factors, so the measure does not
    depend on how the scale is split between the factors.
    """
    d = balancing_scale(np.linalg.norm(W, axis=0), np.linalg.norm(H, axis=1))
    gH = np.where(H > 0, grad_H, np.minimum(grad_H, 0)) * d[:, None]
    sq_H = np.sum(gH * gH, dtype=np.float64)
    return float(np.sqrt(projected_sq_W(W, grad_W, d) + sq_H))


def balancing_scale(norms_W, norms_H):
    """Per component, sqrt(|h_k| / |w_k|): the factor that equalises the norms.

    Scaling column k of W by it and row k of H by its inverse gives both the
    same norm; the gradients scale the other way. 1 where either norm is 0.
    """
    ok = (norms_W > 0) & (norms_H > 0)
    return np.sqrt(np.where(ok, norms_H / np.where(norms_W > 0, norms_W, 1), 1.0))


def projected_sq_W(W, grad_W, d) -> float:
    """Σ (∇ᴾ_W / d)²: the W part of :func:`projected_gradient_norm`."""
    gW = np.where(W > 0, grad_W, np.minimum(grad_W, 0)) / d
    return float(np.sum(gW * gW, dtype=np.float64))


#: Data products smaller than this (in flops) run on one BLAS thread.
BLAS_THREADS_MIN_FLOPS = 2e8


#: Problems smaller than this (flops of one data product) run the Numba kernels
#: on one thread: their parallel loops are too short to pay for the fork/join,
#: and on a busy machine a waiting thread slows them down many times over
#: (see docs/benchmarks.md, "Numba threads for small problems").
NUMBA_THREADS_MIN_FLOPS = 2e7


@contextmanager
def blas_threads(shape: tuple[int, int], rank: int, chunked: bool = False):
    """A context that limits BLAS (and Numba) threads for small problems.

    BLAS threads spin for a while after each call; on few cores they steal the
    cores the Numba kernels need (a 10x slowdown was measured on 2 cores for a
    200 x 1000 problem). Only data products above ``BLAS_THREADS_MIN_FLOPS`` keep
    BLAS's own threads, and only those above ``NUMBA_THREADS_MIN_FLOPS`` run the
    Numba kernels in parallel. The previous settings are restored on exit.
    The BLAS limit goes through one cached controller
    (:func:`neuronmf._threads.thread_controller`), not a fresh scan of the
    loaded libraries per fit; nothing is scanned when no limit applies.
    """
    import numba

    m, n = shape
    flops = 2.0 * m * n * rank
    limit = None if flops >= BLAS_THREADS_MIN_FLOPS else 1
    if chunked:  # dask runs blocks in parallel threads: one BLAS thread each
        limit = 1
    before = numba.get_num_threads()
    if flops < NUMBA_THREADS_MIN_FLOPS and not chunked:
        numba.set_num_threads(1)
    try:
        if limit is None:  # BLAS keeps its own threads: no limiter to build
            yield
        else:
            with thread_controller().limit(limits=limit, user_api="blas"):
                yield
    finally:
        numba.set_num_threads(before)


class Monitor:
    """History, stopping rule, progress bar and callback of one fit."""

    def __init__(
        self,
        problem: Problem,
        *,
        progress: bool = False,
        callback: Callable[[int, float], object] | None = None,
        description: str = "NMF",
    ) -> None:
        self.problem = problem
        self.history: list[float] = []
        self.n_iter = 0
        self.converged = False
        self.stopped_by_callback = False
        self.pg0: float | None = None
        self.round_start = 0
        self.callback = callback
        self._bar = None
        if progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=problem.max_iter, desc=description, leave=False)

    def state(self) -> dict:
        """What a checkpoint needs to restore this monitor."""
        return {
            "history": np.asarray(self.history, dtype=np.float64),
            "n_iter": self.n_iter,
            "pg0": np.nan if self.pg0 is None else self.pg0,
            "converged": self.converged,
        }

    def restore(self, saved: dict) -> None:
        """Continue from a checkpoint's history and iteration count."""
        self.history = [float(x) for x in saved["history"]]
        self.n_iter = int(saved["n_iter"])
        pg0 = float(saved["pg0"])
        self.pg0 = None if np.isnan(pg0) else pg0
        self.converged = bool(saved["converged"])
        if self._bar is not None:
            self._bar.update(self.n_iter)

    def begin_round(self) -> None:
        """Start the stopping rule afresh (an escape round from new factors).

        The history and the iteration count go on; the relative-decrease
        window and the initial gradient are those of the new round.
        """
        self.round_start = len(self.history)
        self.converged = False
        self.pg0 = None

    def wants_gradient(self) -> bool:
        """True on iterations where the projected-gradient rule is checked."""
        return self.n_iter % WINDOW == 0

    def set_initial_gradient(self, pg0: float) -> None:
        self.pg0 = pg0

    def step(self, loss: float, pg: float | None = None) -> bool:
        """Record an outer iteration; return True to go on, False to stop."""
        self.n_iter += 1
        self.history.append(float(loss))
        if self._bar is not None:
            self._bar.update(1)
            if self.n_iter % WINDOW == 0 or self.n_iter == 1:
                self._bar.set_postfix(loss=f"{loss:.6g}", refresh=False)
        if (
            self.callback is not None
            and self.callback(self.n_iter, float(loss)) is False
        ):
            self.stopped_by_callback = True
            return False
        if self._rule_met(pg):
            self.converged = True
            return False
        return self.n_iter < self.problem.max_iter

    def _rule_met(self, pg: float | None) -> bool:
        h = self.history
        if len(h) - self.round_start > WINDOW:
            old = h[-1 - WINDOW]
            if old <= 0.0 or (old - h[-1]) <= self.problem.tol * old:
                return True
        if pg is not None and self.pg0 is not None:
            if pg <= self.problem.pg_tol * self.pg0 or pg == 0.0:
                return True
        return False

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
