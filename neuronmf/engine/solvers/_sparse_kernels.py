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


# ---------------------------------------------------------------------------
# Held-out entries of sparse data (masked fits; see ``engine/_heldout.py``).
# A held-out set is a CSR pattern (``h_indptr`` int64, ``h_indices`` int32 or
# int64, sorted within rows, no values). The kernels below merge it with the
# stored entries of V, sum the other factor over it and form W·H on it; every
# one costs O(nnz + n_held) or O(n_held · r), never O(m · n).
# ---------------------------------------------------------------------------

_INDEX_TYPES = ("int32", "int64")


def _held_sigs(template: str) -> list[str]:
    return [
        template.replace("T", t).replace("I", i)
        for t in _FLOAT_TYPES
        for i in _INDEX_TYPES
    ]


@njit(
    [
        f"int64[::1](int64[::1], {i}[::1], int64[::1], {j}[::1])"
        for i in _INDEX_TYPES
        for j in _INDEX_TYPES
    ],
    parallel=True,
    cache=True,
    nogil=True,
)
def union_counts(indptr, indices, h_indptr, h_indices):
    """Per row, the size of the union of the stored and the held-out columns."""
    p = indptr.shape[0] - 1
    counts = np.zeros(p, dtype=np.int64)
    for i in nb.prange(p):
        a, a_end = indptr[i], indptr[i + 1]
        b, b_end = h_indptr[i], h_indptr[i + 1]
        c = 0
        while a < a_end or b < b_end:
            if b == b_end or (a < a_end and indices[a] < h_indices[b]):
                a += 1
            elif a == a_end or h_indices[b] < indices[a]:
                b += 1
            else:
                a += 1
                b += 1
            c += 1
        counts[i] = c
    return counts


@njit(
    [
        f"void(int64[::1], {i}[::1], {t}[::1], int64[::1], {j}[::1], int64[::1],"
        f" {j}[::1], {t}[::1], int64[::1], float64[::1])"
        for t in _FLOAT_TYPES
        for i in _INDEX_TYPES
        for j in _INDEX_TYPES
    ],
    parallel=True,
    cache=True,
    nogil=True,
)
def union_rows(
    indptr,
    indices,
    values,
    h_indptr,
    h_indices,
    out_indptr,
    out_indices,
    out_values,
    slots,
    train_sums,
):
    """Merge stored and held-out entries row by row (sorted, each column once).

    Fills ``out_indices``/``out_values`` (a stored value where the entry is
    stored and trains, 0 where it is held out), ``slots`` (for each held-out
    entry, its position in the merged arrays) and ``train_sums`` (each row's
    sum over its training entries, in float64, in column order).
    """
    p = indptr.shape[0] - 1
    for i in nb.prange(p):
        a, a_end = indptr[i], indptr[i + 1]
        b, b_end = h_indptr[i], h_indptr[i + 1]
        e = out_indptr[i]
        total = 0.0
        while a < a_end or b < b_end:
            if b == b_end or (a < a_end and indices[a] < h_indices[b]):
                out_indices[e] = indices[a]
                out_values[e] = values[a]
                total += values[a]
                a += 1
            else:
                if a < a_end and indices[a] == h_indices[b]:
                    a += 1  # a stored entry that is held out
                out_indices[e] = h_indices[b]
                out_values[e] = 0.0
                slots[b] = e
                b += 1
            e += 1
        train_sums[i] = total


@njit(
    [
        f"int64[::1](int64[::1], {i}[::1], int64[::1], {j}[::1])"
        for i in _INDEX_TYPES
        for j in _INDEX_TYPES
    ],
    parallel=True,
    cache=True,
    nogil=True,
)
def locate(indptr, indices, h_indptr, h_indices):
    """For each held-out entry, its position among the stored entries of the
    same matrix (every held-out entry must be stored, as in a merged matrix)."""
    p = indptr.shape[0] - 1
    slots = np.empty(h_indices.shape[0], dtype=np.int64)
    for i in nb.prange(p):
        a = indptr[i]
        for b in range(h_indptr[i], h_indptr[i + 1]):
            while indices[a] != h_indices[b]:
                a += 1
            slots[b] = a
    return slots


@njit(
    [
        f"{t}[::1](int64[::1], {i}[::1], {t}[::1], int64[::1], {j}[::1])"
        for t in _FLOAT_TYPES
        for i in _INDEX_TYPES
        for j in _INDEX_TYPES
    ],
    parallel=True,
    cache=True,
    nogil=True,
)
def values_at(indptr, indices, values, h_indptr, h_indices):
    """The value of X at each held-out entry (0 where X stores nothing)."""
    p = indptr.shape[0] - 1
    out = np.zeros(h_indices.shape[0], dtype=values.dtype)
    for i in nb.prange(p):
        a, a_end = indptr[i], indptr[i + 1]
        for b in range(h_indptr[i], h_indptr[i + 1]):
            while a < a_end and indices[a] < h_indices[b]:
                a += 1
            if a < a_end and indices[a] == h_indices[b]:
                out[b] = values[a]
    return out


@njit(
    _held_sigs("void(int64[::1], I[::1], T[:, ::1], T[:, ::1])"),
    parallel=True,
    cache=True,
    nogil=True,
)
def pattern_sums(h_indptr, h_indices, Ot, out):
    """``out[i] = Σ_{j held out in row i} Ot[j]`` (out (p, r), zeroed here).

    Entries are added in column order, as scipy's CSR product with a 0/1
    matrix does (the dense masked solver's ``unobserved @ Ot``).
    """
    p = h_indptr.shape[0] - 1
    r = Ot.shape[1]
    for i in nb.prange(p):
        for k in range(r):
            out[i, k] = 0.0
        for e in range(h_indptr[i], h_indptr[i + 1]):
            j = h_indices[e]
            for k in range(r):
                out[i, k] += Ot[j, k]


@njit(
    _held_sigs("float64[::1](int64[::1], I[::1], T[:, ::1], T[:, ::1])"),
    parallel=True,
    cache=True,
    nogil=True,
)
def pattern_products(h_indptr, h_indices, F, Ot):
    """(F·Otᵀ)_ij at every entry of the pattern, in float64, in pattern order."""
    p, r = F.shape
    out = np.empty(h_indices.shape[0])
    for i in nb.prange(p):
        for e in range(h_indptr[i], h_indptr[i + 1]):
            j = h_indices[e]
            acc = 0.0
            for k in range(r):
                acc += F[i, k] * Ot[j, k]
            out[e] = acc
    return out


@njit(
    _held_sigs(
        "void(T[::1], int64[::1], I[::1], int64[::1], T[:, ::1], T[:, ::1],"
        " T[:, ::1], boolean)"
    ),
    parallel=True,
    cache=True,
    nogil=True,
)
def fill_slots(values, h_indptr, h_indices, slots, W, Ht, P, update):
    """Set the held-out entries of a merged matrix to (W·Htᵀ)_ij.

    With ``update``, also keep P = X·Ht current: P[i] += ΔX_ij · Ht[j] (each
    row of P is written by the thread of its row only). The sparse twin of
    ``_hals_kernels.fill_entries`` / ``fill_and_update_product``.
    """
    p, r = W.shape
    for i in nb.prange(p):
        for e in range(h_indptr[i], h_indptr[i + 1]):
            j = h_indices[e]
            s = slots[e]
            acc = 0.0
            for k in range(r):
                acc += W[i, k] * Ht[j, k]
            delta = acc - values[s]
            values[s] = acc
            if update and delta != 0.0:
                for k in range(r):
                    P[i, k] += delta * Ht[j, k]


@njit(
    _held_sigs(
        "float64[::1](T[::1], int64[::1], I[::1], int64[::1], T[:, ::1], T[:, ::1])"
    ),
    parallel=True,
    cache=True,
    nogil=True,
)
def slot_squares(values, h_indptr, h_indices, slots, W, Ht):
    """[Σ x², Σ (x − W·Htᵀ)²] over the held-out entries of a merged matrix."""
    p, r = W.shape
    total_x = 0.0
    total_d = 0.0
    for i in nb.prange(p):
        for e in range(h_indptr[i], h_indptr[i + 1]):
            j = h_indices[e]
            acc = 0.0
            for k in range(r):
                acc += W[i, k] * Ht[j, k]
            x = float(values[slots[e]])
            d = x - acc
            total_x += x * x
            total_d += d * d
    out = np.empty(2)
    out[0] = total_x
    out[1] = total_d
    return out
