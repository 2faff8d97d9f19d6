"""Cyclic coordinate descent for the KL loss on sparse data (Hsieh & Dhillon 2011).

The same algorithm and kernel as :mod:`neuronmf.engine.solvers.ccd`, fed from
a ``scipy.sparse`` V without densifying it. The terms V_ij log (WH)_ij vanish
where V_ij = 0, so each coordinate update needs (WH)_ij at the non-zeros only
plus the column sums of the other factor (dense and cheap): a pass costs
O(nnz · rank) plus O((m + n) · rank²). The W update takes V's CSR rows, the H
update those of Vᵀ (V in CSC). The objective is

    D(V‖WH) = Σ_nnz (V log V − V) − Σ_nnz V log (WH) + (Σ_i W_i·)·(Σ_j H_·j),

the last term in O((m + n) · rank). Given the same starting factors the fit
runs the arithmetic of the dense solver, so W, H and the loss history agree
with it to rounding.

Masked fits (``mask=`` a :class:`~neuronmf.engine._heldout.HeldOut`): the
rows hold the training non-zeros, and each row's linear term is the sum of
the other factor over all columns less its sum over the row's held-out
entries (zeros of V included), O(n_held · rank) per pass; the dense masked
solver's arithmetic again.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from neuronmf.engine._heldout import pattern_sums, training_entries
from neuronmf.engine._sparse import one_blas_thread
from neuronmf.engine.solvers import _sparse_kernels as S
from neuronmf.engine.solvers.base import Monitor, Problem
from neuronmf.engine.solvers.ccd import _Rows, run


def kl_constant(X) -> float:
    """Σ (V log V − V) over the non-zeros of sparse V: D's part free of W and H."""
    x = np.asarray(X.data, dtype=np.float64)
    x = x[x > 0]
    return float(np.sum(x * np.log(x) - x))


def kl_data_term(X, W, H, held=None) -> float:
    """Σ_ij ((WH)_ij − V_ij log (WH)_ij) over sparse V, never forming W·H.

    ``X`` is a canonical CSR array (sorted, no explicit zeros). With ``held``
    (a :class:`~neuronmf.engine._heldout.HeldOut`; X then holds the training
    non-zeros only) the sum runs over the training entries: the linear term
    Σ_all (WH)_ij less Σ_held (WH)_ij, in O(n_held · rank).
    """
    indptr, indices, values = S.csr_parts(X)
    dt = values.dtype
    W = np.ascontiguousarray(W, dtype=dt)
    Ht = np.ascontiguousarray(np.asarray(H).T, dtype=dt)
    linear = float(W.sum(axis=0, dtype=np.float64) @ Ht.sum(axis=0, dtype=np.float64))
    if held is not None:
        linear -= float(np.sum(pattern_sums(held, Ht) * W, dtype=np.float64))
    return linear - S.kl_log_term(indptr, indices, values, W, Ht)


def kl_divergence_sparse(X, W, H) -> float:
    """The generalised KL divergence D(V‖WH) of sparse V (float64)."""
    return kl_constant(X) + kl_data_term(X, W, H)


class _SparseRows(_Rows):
    """The non-zeros of sparse X (p, q) as the kernel's CSR rows.

    The dense solver's row updates (:class:`neuronmf.engine.solvers.ccd._Rows`),
    with V's own CSR arrays instead of ones built from a dense V.
    """

    def __init__(self, X, rank: int, held=None) -> None:
        self.indptr, self.indices, self.values = S.csr_parts(X)
        self.unobserved = None  # held-out entries: ``held`` (a HeldOut pattern)
        self.held = held
        widest = int(np.diff(self.indptr).max(initial=0))
        self.scratch = np.zeros((nb.get_num_threads(), (rank + 2) * widest + 3 * rank))
        self.p = X.shape[0]

    def base(self, Ot):
        """Σ over each row's training entries of the other factor (p, r).

        As the dense masked solver's ``total − unobserved @ Ot``, with the
        held-out sums over the pattern (O(n_held · r)).
        """
        total = np.broadcast_to(Ot.sum(axis=0), (self.p, Ot.shape[1]))
        if self.held is None:
            return np.ascontiguousarray(total)
        return np.ascontiguousarray(total - pattern_sums(self.held, Ot))


def solve(problem: Problem, W0, H0, monitor: Monitor):
    """Run CCD-KL on sparse ``problem.V``; return the best ``(W, H)``.

    On one BLAS thread (unless the user set the count): the only dense algebra
    is on (m + n) × rank blocks, and idle BLAS threads spinning after it slow
    the Numba kernels on a busy machine.
    """
    with one_blas_thread():
        return _solve(problem, W0, H0, monitor)


def _solve(problem: Problem, W0, H0, monitor: Monitor):
    X = problem.V.tocsr()
    held = held_T = None
    if problem.masked:  # train on the stored entries that are not held out
        held = problem.mask
        X = training_entries(X, held)[0]
        held_T = held.transpose()
    XT = X.T.tocsr()  # the CSC of V, as CSR rows of Vᵀ
    XT.sort_indices()
    rows_W = _SparseRows(X, problem.rank, held)
    rows_H = _SparseRows(XT, problem.rank, held_T)

    def data_term(W, H):
        return kl_data_term(X, W, H, held)

    return run(problem, monitor, rows_W, rows_H, kl_constant(X), data_term, W0, H0)
