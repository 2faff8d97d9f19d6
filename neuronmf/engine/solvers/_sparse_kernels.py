"""Kernels of the sparse KL solver, and their plain NumPy/scipy twins.

Pure functions on arrays: no validation, no exceptions; they import nothing
from neuronmf but the kernel modules. The row update itself is
``_kl_kernels.kl_update_rows``, which already takes the data as CSR rows of
the non-zeros (the dense solver builds them from V; the sparse one hands over
V's own CSR arrays, and those of its transpose for the H update), so the dense
and the sparse fits run the same arithmetic. What is new here:

- :func:`csr_parts`: the (indptr, indices, values) a kernel takes, int64 and
  contiguous, from a canonical CSR array.
- :func:`kl_log_term`: Σ_ij over the non-zeros of V of V_ij log (WH)_ij, with
  (WH)_ij formed at the non-zeros only (O(nnz · r)). The rest of the data term,
  Σ_ij (WH)_ij = (Σ_i W_i·)·(Σ_j H_·j), costs O((m + n) · r).
- :func:`kl_update_rows_reference` and :func:`kl_log_term_reference`: the same
  computations in NumPy over scipy CSR rows, for the tests.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ._numba_cache import njit

_FLOAT_TYPES = ("float32", "float64")


def csr_parts(X):
    """``(indptr, indices, values)`` of a CSR array as the kernels take them."""
    return (
        np.ascontiguousarray(X.indptr, dtype=np.int64),
        np.ascontiguousarray(X.indices, dtype=np.int64),
        np.ascontiguousarray(X.data),
    )


@njit(
    [
        f"float64(int64[::1], int64[::1], {t}[::1], {t}[:, ::1], {t}[:, ::1])"
        for t in _FLOAT_TYPES
    ],
    parallel=True,
    cache=True,
    nogil=True,
)
def kl_log_term(indptr, indices, values, F, Ot):
    """Σ over the stored entries of X (CSR, p × q) of X_ij · log (F·Otᵀ)_ij.

    ``F`` is (p, r), ``Ot`` (q, r). Each product is formed at a stored entry
    only: O(nnz · r).
    """
    p, r = F.shape
    sums = np.zeros(p)
    for i in nb.prange(p):
        total = 0.0
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            u = 0.0
            for k in range(r):
                u += F[i, k] * Ot[j, k]
            total += values[e] * np.log(u)
        sums[i] = total
    out = 0.0
    for i in range(p):
        out += sums[i]
    return out


def kl_log_term_reference(X, W, H) -> float:
    """Reference for :func:`kl_log_term`: X a scipy CSR array, in NumPy."""
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    U = np.einsum("ek,ek->e", W[rows].astype(np.float64), H.T[X.indices])
    return float(np.sum(X.data * np.log(U)))


def kl_update_rows_reference(F, X, Ot, l1, l2, max_sweeps, newton_steps):
    """Reference for ``_kl_kernels.kl_update_rows`` on CSR ``X`` (no graph).

    Updates ``F`` (p, r) in place row by row, each coordinate by the
    safeguarded Newton steps of the kernel, with the data term over the row's
    stored entries and the linear term Σ_j O_kj over all columns; returns
    Σ_ij ((F·Otᵀ)_ij − X_ij log (F·Otᵀ)_ij) at the new F.
    """
    base = Ot.sum(axis=0)
    total = 0.0
    for i in range(F.shape[0]):
        cols = X.indices[X.indptr[i] : X.indptr[i + 1]]
        x = X.data[X.indptr[i] : X.indptr[i + 1]].astype(np.float64)
        O = Ot[cols].T.astype(np.float64)
        f = F[i].astype(np.float64)
        u = f @ O
        _row_reference(f, x, O, u, base, l1, l2, max_sweeps, newton_steps)
        F[i] = f
        total += float(f @ base) - float(np.sum(x * np.log(f @ O)))
    return total


def _curvature(x, o, u, s):
    un = u + o * s
    if np.any(un <= 0):
        return np.inf
    return float(np.sum(x * o * o / (un * un)))


def _row_reference(f, x, O, u, base, l1, l2, max_sweeps, newton_steps):
    for _ in range(max_sweeps):
        moved = 0.0
        for k in range(f.shape[0]):
            o = O[k]
            for _step in range(newton_steps):
                g = l1 + l2 * f[k] + base[k] - float(np.sum(x * o / u))
                hess = l2 + float(np.sum(x * o * o / (u * u)))
                if hess <= 0:
                    if g > 0 and f[k] > 0:
                        moved += f[k] ** 2
                        u -= f[k] * o
                        f[k] = 0.0
                    break
                s = max(-g / hess, -f[k])
                if s == 0:
                    break
                if s < 0:
                    h1 = _curvature(x, o, u, s) + l2
                    while h1 == np.inf:
                        s *= 0.5
                        h1 = _curvature(x, o, u, s) + l2
                    s = max(-g / h1, s)
                    if s == 0:
                        break
                f[k] += s
                moved += s * s
                u += s * o
        if moved == 0:
            break
