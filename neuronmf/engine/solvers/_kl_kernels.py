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
floored: steps that would make it ≤ 0 where X_ij > 0 are halved.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_FLOAT_TYPES = ("float32", "float64")


def _sigs(template: str) -> list[str]:
    return [template.replace("T", t) for t in _FLOAT_TYPES]


@nb.njit(cache=True, nogil=True)
def _curvature_at(x, o, u, m, use_mask, s):
    """Σ M x o² / (u + o s)² at step s; inf if a term leaves the domain."""
    hess = 0.0
    for j in range(x.shape[0]):
        if use_mask and m[j] == 0:
            continue
        oj = o[j]
        if oj == 0.0 or x[j] == 0.0:
            continue
        un = u[j] + oj * s
        if un <= 0.0:
            return np.inf
        hess += x[j] * oj * oj / (un * un)
    return hess


@nb.njit(cache=True, nogil=True)
def _kl_row(f, x, O, m, use_mask, u, l1, l2, graph_grad, max_sweeps, newton_steps):
    """Coordinate descent on one row. ``u`` (q) receives f·O and is kept current."""
    r = f.shape[0]
    q = x.shape[0]
    for j in range(q):
        acc = 0.0
        for k in range(r):
            acc += f[k] * O[k, j]
        u[j] = acc
    for _ in range(max_sweeps):
        moved = 0.0
        for k in range(r):
            o = O[k]
            for _step in range(newton_steps):
                g = l1 + l2 * f[k] - graph_grad[k]
                hess = l2
                for j in range(q):
                    if use_mask and m[j] == 0:
                        continue
                    oj = o[j]
                    if oj == 0.0:
                        continue
                    g += oj
                    if x[j] != 0.0:
                        t = x[j] / u[j]
                        g -= oj * t
                        hess += oj * t * oj / u[j]
                if hess <= 0.0:
                    break
                s = -g / hess
                if f[k] + s < 0.0:
                    s = -f[k]
                if s == 0.0:
                    break
                if s < 0.0:
                    # left step: curvature at the Newton point bounds φ'' on the step
                    h1 = _curvature_at(x, o, u, m, use_mask, s) + l2
                    while h1 == np.inf:
                        s *= 0.5
                        h1 = _curvature_at(x, o, u, m, use_mask, s) + l2
                    # the bound holds on [s, 0] only: never step beyond s
                    s2 = -g / h1
                    if s2 < s:
                        s2 = s
                    s = s2
                    if s == 0.0:
                        break
                f[k] += s
                moved += s * s
                for j in range(q):
                    u[j] += s * o[j]
        if moved == 0.0:
            break


@nb.njit(cache=True, nogil=True)
def _row_loss(x, u, m, use_mask):
    """Σ_j M_ij (u_j − x_j log u_j) for one row (the data-dependent KL terms)."""
    total = 0.0
    for j in range(x.shape[0]):
        if use_mask and m[j] == 0:
            continue
        total += u[j]
        if x[j] != 0.0:
            total -= x[j] * np.log(u[j])
    return total


@nb.njit(
    _sigs(
        "float64(T[:, ::1], T[:, ::1], T[:, ::1], uint8[:, ::1], boolean, float64,"
        " float64, int64, int64, float64, int64[::1], int64[::1], float64[::1],"
        " int64[::1], int64[::1], float64[:, ::1])"
    ),
    parallel=True,
    cache=True,
    nogil=True,
)
def kl_update_rows(
    F,
    X,
    O,
    M,
    use_mask,
    l1,
    l2,
    max_sweeps,
    newton_steps,
    lam,
    indptr,
    indices,
    weights,
    colour_ptr,
    colour_rows,
    scratch,
):
    """Update every row of ``F`` by CCD-KL; return Σ_i row loss after the update.

    ``indptr, indices, weights`` are the CSR adjacency over rows (empty arrays
    and ``lam = 0`` for no graph); ``colour_ptr``/``colour_rows`` list the rows
    colour by colour. ``scratch`` is a (number of Numba threads, q + r) float64
    work array, one row per thread. The
    returned value is Σ_ij M_ij ((FO)_ij − X_ij log (FO)_ij) at the new F.
    """
    p, r = F.shape
    q = X.shape[1]
    n_colours = colour_ptr.shape[0] - 1
    losses = np.zeros(p)
    for c in range(n_colours):
        for t in nb.prange(colour_ptr[c], colour_ptr[c + 1]):
            i = colour_rows[t]
            work = scratch[nb.get_thread_id()]
            u = work[:q]
            graph_grad = work[q : q + r]
            graph_grad[:] = 0.0
            l2_i = l2
            if lam != 0.0:
                degree = 0.0
                for e in range(indptr[i], indptr[i + 1]):
                    w = weights[e]
                    degree += w
                    for k in range(r):
                        graph_grad[k] += 2.0 * lam * w * F[indices[e], k]
                l2_i = l2 + 2.0 * lam * degree
            _kl_row(
                F[i],
                X[i],
                O,
                M[i] if use_mask else M[0],
                use_mask,
                u,
                l1,
                l2_i,
                graph_grad,
                max_sweeps,
                newton_steps,
            )
            losses[i] = _row_loss(X[i], u, M[i] if use_mask else M[0], use_mask)
    total = 0.0
    for i in range(p):
        total += losses[i]
    return total


@nb.njit(
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
