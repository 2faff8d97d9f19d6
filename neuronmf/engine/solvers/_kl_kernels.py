"""Numba kernels for the generalised Kullback–Leibler (Poisson) loss.

Pure functions on arrays and scalars: no validation, no exceptions, no printing;
they import nothing from neuronmf. Plain-NumPy twins live in ``_reference.py``.

Row problem
-----------
A factor ``F`` (p, r) is updated row by row. Row i solves

    min_{f >= 0}  sum_j M_ij [ (f·o_j) − X_ij log(f·o_j) ]
                  + l1 sum(f) + (l2 + 2λ d_i)/2 |f|² − 2λ f·(S F)_i

with o_j the j-th column of ``O`` (r, q), ``X`` (p, q) the data in row
orientation and ``M`` an optional observation mask (uint8, 1 = observed). For
the H update F = Hᵀ, X = Vᵀ, O = Wᵀ; for the W update F = W, X = V, O = H. The
graph term (S the adjacency, d its degrees) couples rows, so rows are visited
colour by colour: rows of one colour share no edge and are updated in parallel.

Coordinate update (Hsieh & Dhillon 2011)
----------------------------------------
Each coordinate takes Newton steps on the convex one-dimensional problem
φ(s) = objective(f + s e_k). φ' is increasing and concave, so a Newton step to
the right (φ' < 0) never passes the minimiser and always lowers φ. A step to the
left may pass it; there the step is recomputed with the curvature at the Newton
point, which bounds φ'' on the whole step (φ'' decreases with s), so the
quadratic model majorises φ and the shorter step lowers φ. Every coordinate
step therefore lowers the objective: the fit is monotone. Entries with
X_ij = 0 contribute only their linear term (0·log 0 = 0), and (f·o_j) is never
floored: steps that would make it ≤ 0 where X_ij > 0 are halved. So are steps
that would bring it below 1e-10 of its value (``_RESIDUAL``): a step to f_k = 0
empties (f·o_j) where f_k alone made it, and the difference is then exact 0 or a
rounding residual of either sign; treating both alike keeps the fit continuous
in its start (docs/engine.md, "KL CCD and its start").
"""

from __future__ import annotations

import numba as nb
import numpy as np

# numba.njit with a cache that falls back instead of failing (numba + stdlib only)
from ._numba_cache import njit

_FLOAT_TYPES = ("float32", "float64")


def _sigs(template: str) -> list[str]:
    return [template.replace("T", t) for t in _FLOAT_TYPES]


# Reassociation lets LLVM vectorise the sums; no "no-inf"/"no-nan" flags, since the
# domain check relies on infinities.
_FAST = {"reassoc", "contract", "arcp"}

# (f·o) at a step that empties it up to rounding: u − f_k o_k is exact 0 or a
# residual of ±a few ulps of u, and 1/residual² would bound the curvature by
# ~1e34 (no move) where exact 0 halves the step. Below this fraction of u the
# step is treated as leaving the domain (halved), whichever way rounding fell.
_RESIDUAL = 1e-10


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _curvature_at(x, o, u, s):
    """Σ x o² / (u + o s)² over the row's active entries; inf outside the domain."""
    hess = 0.0
    low = np.inf
    for t in range(x.shape[0]):
        ot = o[t]
        un = u[t] + ot * s
        low = min(low, un - _RESIDUAL * u[t])
        inv = 1.0 / un
        hess += x[t] * ot * ot * inv * inv
    if low <= 0.0:
        return np.inf
    return hess


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _kl_row(f, x, Oloc, u, base, l1, l2, graph_grad, max_sweeps, newton_steps):
    """Coordinate descent on one row over its active entries.

    ``x`` (a) holds the row's observed non-zero data, ``Oloc`` (r, a) the other
    factor at those entries, ``base`` (r) = Σ_j M_ij O_kj over all observed
    entries (zeros included: their only term is linear). ``u`` (a) receives
    f·Oloc. The update of ``u`` after a step is fused into the pass that
    computes the next step's derivatives, so each Newton step reads the row once
    (twice for a step to the left).
    """
    r = f.shape[0]
    a = x.shape[0]
    for t in range(a):
        acc = 0.0
        for k in range(r):
            acc += f[k] * Oloc[k, t]
        u[t] = acc
    pending = 0.0  # a step not yet applied to u
    pending_k = 0
    for _ in range(max_sweeps):
        moved = 0.0
        for k in range(r):
            o = Oloc[k]
            for _step in range(newton_steps):
                g = l1 + l2 * f[k] - graph_grad[k] + base[k]
                hess = l2
                # active entries have x > 0, hence u > 0: no branch needed
                if pending != 0.0:
                    op = Oloc[pending_k]
                    for t in range(a):
                        ut = u[t] + pending * op[t]
                        u[t] = ut
                        ot = o[t]
                        inv = 1.0 / ut
                        q = x[t] * inv * ot
                        g -= q
                        hess += q * ot * inv
                    pending = 0.0
                else:
                    for t in range(a):
                        ot = o[t]
                        inv = 1.0 / u[t]
                        q = x[t] * inv * ot
                        g -= q
                        hess += q * ot * inv
                if hess <= 0.0:
                    # the objective is linear in f_k: its minimum is at a bound
                    if g > 0.0 and f[k] > 0.0:
                        moved += f[k] * f[k]
                        pending = -f[k]
                        pending_k = k
                        f[k] = 0.0
                    break
                s = -g / hess
                if f[k] + s < 0.0:
                    s = -f[k]
                if s == 0.0:
                    break
                if s < 0.0:
                    # left step: curvature at the Newton point bounds φ'' on [s, 0]
                    h1 = _curvature_at(x, o, u, s) + l2
                    while h1 == np.inf:
                        s *= 0.5
                        h1 = _curvature_at(x, o, u, s) + l2
                    # the bound holds on [s, 0] only: never step beyond s
                    s2 = -g / h1
                    if s2 < s:
                        s2 = s
                    s = s2
                    if s == 0.0:
                        break
                f[k] += s
                moved += s * s
                pending = s
                pending_k = k
        if moved == 0.0:
            break
    if pending != 0.0:
        op = Oloc[pending_k]
        for t in range(a):
            u[t] += pending * op[t]


@njit(
    _sigs(
        "float64(T[:, ::1], int64[::1], int64[::1], T[::1], T[:, ::1], T[:, ::1],"
        " float64, float64, int64, int64, float64, int64[::1], int64[::1],"
        " float64[::1], int64[::1], int64[::1], float64[:, ::1])"
    ),
    parallel=True,
    cache=True,
    nogil=True,
)
def kl_update_rows(
    F,
    indptr,
    indices,
    values,
    Ot,
    base,
    l1,
    l2,
    max_sweeps,
    newton_steps,
    lam,
    g_indptr,
    g_indices,
    g_weights,
    colour_ptr,
    colour_rows,
    scratch,
):
    """Update every row of ``F`` (p, r) by CCD-KL; return the data terms after.

    The data enter as CSR rows (``indptr``, ``indices``, ``values``) holding the
    observed non-zero entries of X (p, q) only; ``Ot`` (q, r) is the other
    factor, transposed; ``base`` (p, r) = M·Ot (Σ of the other factor over each
    row's observed entries). ``g_*`` are the CSR adjacency over rows (empty,
    with ``lam = 0``, for no graph); ``colour_ptr``/``colour_rows`` list the
    rows colour by colour. ``scratch`` is (number of Numba threads,
    (r + 2)·max_row_nnz + 3r) float64, one row per thread. Returns
    Σ_ij M_ij ((FO)_ij − X_ij log (FO)_ij) at the new F.
    """
    p, r = F.shape
    n_colours = colour_ptr.shape[0] - 1
    losses = np.zeros(p)
    for c in range(n_colours):
        for t in nb.prange(colour_ptr[c], colour_ptr[c + 1]):
            i = colour_rows[t]
            start = indptr[i]
            a = indptr[i + 1] - start
            work = scratch[nb.get_thread_id()]
            u = work[:a]
            Oloc = work[a : a + r * a].reshape((r, a))
            x = work[a + r * a : 2 * a + r * a]
            end = 2 * a + r * a
            graph_grad = work[end : end + r]
            f = work[end + r : end + 2 * r]
            b = work[end + 2 * r : end + 3 * r]
            for e in range(a):
                j = indices[start + e]
                x[e] = values[start + e]
                for k in range(r):
                    Oloc[k, e] = Ot[j, k]
            for k in range(r):
                graph_grad[k] = 0.0
            l2_i = l2
            if lam != 0.0:
                degree = 0.0
                for e in range(g_indptr[i], g_indptr[i + 1]):
                    w = g_weights[e]
                    degree += w
                    for k in range(r):
                        graph_grad[k] += 2.0 * lam * w * F[g_indices[e], k]
                l2_i = l2 + 2.0 * lam * degree
            for k in range(r):
                f[k] = F[i, k]
                b[k] = base[i, k]
            _kl_row(f, x, Oloc, u, b, l1, l2_i, graph_grad, max_sweeps, newton_steps)
            total = 0.0
            for k in range(r):
                F[i, k] = f[k]
                total += f[k] * b[k]
            for e in range(a):
                total -= x[e] * np.log(u[e])
            losses[i] = total
    out = 0.0
    for i in range(p):
        out += losses[i]
    return out


@njit(
    _sigs("float64(T[:, ::1], T[:, ::1], T[:, ::1], uint8[:, ::1], boolean)"),
    parallel=True,
    cache=True,
    nogil=True,
)
def kl_data_loss(X, F, O, M, use_mask):
    """Σ_ij M_ij ((FO)_ij − X_ij log (FO)_ij), with (FO)_ij formed row by row."""
    p = X.shape[0]
    q = X.shape[1]
    r = F.shape[1]
    losses = np.zeros(p)
    for i in nb.prange(p):
        total = 0.0
        for j in range(q):
            if use_mask and M[i, j] == 0:
                continue
            u = 0.0
            for k in range(r):
                u += F[i, k] * O[k, j]
            total += u
            if X[i, j] != 0.0:
                total -= X[i, j] * np.log(u)
        losses[i] = total
    out = 0.0
    for i in range(p):
        out += losses[i]
    return out


@njit(
    [
        f"Tuple((int64[::1], int64[::1], {t}[::1]))({t}[:, :], uint8[:, :], boolean)"
        for t in _FLOAT_TYPES
    ],
    parallel=True,
    cache=True,
    nogil=True,
)
def active_rows(X, M, use_mask):
    """CSR rows of the observed non-zero entries of X (any memory layout).

    Returns ``(indptr, indices, values)``; with ``use_mask`` only entries where
    ``M`` is non-zero are kept. Two parallel passes: count, then fill.
    """
    p, q = X.shape
    counts = np.zeros(p + 1, dtype=np.int64)
    for i in nb.prange(p):
        c = 0
        for j in range(q):
            if X[i, j] != 0.0 and (not use_mask or M[i, j] != 0):
                c += 1
        counts[i + 1] = c
    indptr = np.cumsum(counts)
    indices = np.empty(indptr[p], dtype=np.int64)
    values = np.empty(indptr[p], dtype=X.dtype)
    for i in nb.prange(p):
        e = indptr[i]
        for j in range(q):
            if X[i, j] != 0.0 and (not use_mask or M[i, j] != 0):
                indices[e] = j
                values[e] = X[i, j]
                e += 1
    return indptr, indices, values
