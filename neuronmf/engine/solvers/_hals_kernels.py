"""Numba kernels for the Frobenius-loss HALS solver.

Pure functions on arrays and scalars: no validation, no exceptions, no printing.
They import nothing from neuronmf. Each has a plain-NumPy twin in
:mod:`neuronmf.engine.solvers._reference` that the tests compare it with.

Conventions
-----------
A factor ``F`` of shape (p, r) is updated row by row: row i of F solves the
non-negative least-squares problem

    min_{f >= 0}  1/2 f G f^T - f . b_i + l1 sum(f) + l2/2 |f|^2,

with ``G`` (r, r) the Gram matrix of the other factor and ``b_i`` row i of ``B``
(p, r), the data product. For W, F = W, B = V H^T, G = H H^T; for H, F = H^T,
B = V^T W, G = W^T W. Rows are independent, so they run in parallel and the
result does not depend on the number of threads.
"""

from __future__ import annotations

import numba as nb
import numpy as np

# numba.njit with a cache that falls back instead of failing (numba + stdlib only)
from ._numba_cache import njit

_FLOAT_TYPES = ("float32", "float64")


#: Reassociation only (no inf/nan assumptions): lets the r-long dot products vectorise.
_DOT = {"reassoc", "contract"}


def _sigs(template: str) -> list[str]:
    return [template.replace("T", t) for t in _FLOAT_TYPES]


@njit(
    _sigs("float64(T[::1], T[::1], T[:, ::1], float64, float64, int64, float64)"),
    cache=True,
    nogil=True,
    fastmath=False,
)
def _cd_row(f, b, G, l1, l2, max_sweeps, delta):
    """Cyclic coordinate descent on one row; returns the first sweep's |Δ|².

    Sweeps stop after ``max_sweeps`` or once a sweep moves the row by less than
    ``delta`` times the first sweep (the Gillis–Glineur rule, applied per row).
    """
    r = f.shape[0]
    first = 0.0
    for sweep in range(max_sweeps):
        moved = 0.0
        for k in range(r):
            gkk = G[k, k] + l2
            if gkk <= 0.0:
                continue
            acc = 0.0
            for j in range(r):
                acc += G[k, j] * f[j]
            # gradient of the row objective w.r.t. f_k
            grad = acc + l2 * f[k] - b[k] + l1
            new = f[k] - grad / gkk
            if new < 0.0:
                new = 0.0
            diff = new - f[k]
            moved += diff * diff
            f[k] = new
        if sweep == 0:
            first = moved
            if first == 0.0:
                break
        elif moved <= delta * delta * first:
            break
    return first


#: Rows of a factor updated together by :func:`update_rows` (one SIMD-friendly
#: block: the coordinate updates run across the rows of the block).
ROW_BLOCK = 128


@njit(cache=True, nogil=True)
def _sweep_block(X, Bt, G, l1, l2, max_sweeps, d2, size, acc, moved, first, live):
    """HALS sweeps on one transposed block ``X`` (r, ROW_BLOCK), in place.

    ``Bt`` (r, ROW_BLOCK) holds the block's data products; columns ``size`` and
    beyond are padding (zero, never live). ``live``/``first`` must be set by the
    caller (live for the real rows, first = 0). The per-row stopping rule of
    :func:`_cd_row` freezes a row (a select discards its later updates); the
    sweeps end when no row of the block is live.
    """
    r = X.shape[0]
    for sweep in range(max_sweeps):
        moved[:] = 0.0
        for k in range(r):
            gkk = G[k, k] + l2
            if gkk <= 0.0:
                continue
            acc[:] = 0.0
            for j in range(r):
                g = G[k, j]
                for i in range(ROW_BLOCK):
                    acc[i] += g * X[j, i]
            for i in range(ROW_BLOCK):
                old = X[k, i]
                # gradient of the row objective w.r.t. f_k
                grad = acc[i] + l2 * old - Bt[k, i] + l1
                new = old - grad / gkk
                if new < 0.0:
                    new = 0.0
                diff = new - old if live[i] else 0.0
                moved[i] += diff * diff
                X[k, i] = new if live[i] else old
        n_live = 0
        for i in range(size):
            if live[i]:
                if sweep == 0:
                    first[i] = moved[i]
                    if moved[i] == 0.0:
                        live[i] = False
                elif moved[i] <= d2 * first[i]:
                    live[i] = False
                if live[i]:
                    n_live += 1
        if n_live == 0:
            break


@njit(cache=True, nogil=True)
def _block_buffers(F, r):
    """One worker's block buffers for F's rows: X, Bt, acc, moved, first, live."""
    return (
        np.empty((r, ROW_BLOCK), F.dtype),
        np.empty((r, ROW_BLOCK), F.dtype),
        np.empty(ROW_BLOCK, np.float64),
        np.empty(ROW_BLOCK, np.float64),
        np.empty(ROW_BLOCK, np.float64),
        np.empty(ROW_BLOCK, np.bool_),
    )


@njit(cache=True, nogil=True)
def _load_block(F, i0, size, X, Bt, first, live):
    """Rows i0 … i0+size of ``F`` into X, transposed; pad X and Bt with zeros.

    The real rows are marked live with ``first`` = 0 (as :func:`_sweep_block`
    expects); the caller fills Bt[:, :size].
    """
    r = X.shape[0]
    for i in range(ROW_BLOCK):
        live[i] = i < size
        first[i] = 0.0
    for k in range(r):
        for i in range(size):
            X[k, i] = F[i0 + i, k]
        for i in range(size, ROW_BLOCK):
            X[k, i] = 0.0
            Bt[k, i] = 0.0


def update_rows(F, B, G, l1, l2, max_sweeps, delta):
    """Update every row of ``F`` in place by up to ``max_sweeps`` HALS sweeps.

    See :func:`_update_row_blocks`; the rows are split into one contiguous
    range of blocks per Numba thread (the result does not depend on it).
    """
    n_blocks = (F.shape[0] + ROW_BLOCK - 1) // ROW_BLOCK
    n_workers = max(1, min(n_blocks, nb.get_num_threads()))
    _update_row_blocks(F, B, G, l1, l2, max_sweeps, delta, n_workers)


@njit(
    _sigs(
        "void(T[:, ::1], T[:, ::1], T[:, ::1], float64, float64, int64, float64, int64)"
    ),
    parallel=True,
    cache=True,
    nogil=True,
)
def _update_row_blocks(F, B, G, l1, l2, max_sweeps, delta, n_workers):
    """Blocked HALS sweeps on the rows of ``F`` (in place), ``n_workers`` ranges.

    Same arithmetic and the same per-row stopping rule as :func:`_cd_row` applied
    to each row, but rows are processed in blocks of :data:`ROW_BLOCK`,
    transposed into a (r, block) buffer, so that each coordinate update is a
    vector operation across the rows of the block instead of an r-long scalar
    dot product per row (docs/benchmarks.md, "HALS row blocks"). A row that has met the
    stopping rule is frozen (its later updates are discarded by a select)
    while the other rows of its block go on; the block stops when all are.
    Each thread takes a contiguous range of blocks and allocates its buffers
    once (allocating them per block was measurably slower at small r).
    """
    p, r = F.shape
    d2 = delta * delta
    n_blocks = (p + ROW_BLOCK - 1) // ROW_BLOCK
    for worker in nb.prange(n_workers):
        X, Bt, acc, moved, first, live = _block_buffers(F, r)
        for block in range(
            worker * n_blocks // n_workers, (worker + 1) * n_blocks // n_workers
        ):
            i0 = block * ROW_BLOCK
            size = min(ROW_BLOCK, p - i0)
            _load_block(F, i0, size, X, Bt, first, live)
            for k in range(r):
                for i in range(size):
                    Bt[k, i] = B[i0 + i, k]
            _sweep_block(
                X, Bt, G, l1, l2, max_sweeps, d2, size, acc, moved, first, live
            )
            for i in range(size):
                for k in range(r):
                    F[i0 + i, k] = X[k, i]


def fused_h_step(V, W, Hy, G, l1, l2, max_sweeps, delta):
    """One H update and the products the W update needs, in one pass over V.

    For each block of :data:`ROW_BLOCK` columns of V: the block's data products
    Vᵀ·W, HALS sweeps on the matching rows of ``Hy`` (as :func:`update_rows`),
    then the block's share of P = V·Hᵀ and Q = Hᵀ·H from the updated rows while
    they are still in cache. For skinny V (a few rows, many columns) this
    replaces two BLAS products that run far below the memory bandwidth.

    Parameters
    ----------
    V : ndarray (m, n), C-contiguous
    W : ndarray (m, r), C-contiguous
    Hy : ndarray (n, r), C-contiguous
        The rows of H (H transposed) to start from; not modified.
    G : ndarray (r, r)
        Wᵀ·W.

    Returns
    -------
    H_new : ndarray (n, r), P : ndarray (m, r), Q : ndarray (r, r)
        P and Q are accumulated in float64; P is returned in V's dtype, Q in
        float64 (the objective needs it accurate).
    """
    n = V.shape[1]
    m, r = W.shape
    n_blocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    n_workers = max(1, min(n_blocks, nb.get_num_threads()))
    H_new = np.empty_like(Hy)
    P_parts = np.zeros((n_workers, m, r))
    Q_parts = np.zeros((n_workers, r, r))
    _fused_h_blocks(V, W, Hy, H_new, G, l1, l2, max_sweeps, delta, P_parts, Q_parts)
    P = P_parts.sum(axis=0).astype(V.dtype)
    return H_new, P, Q_parts.sum(axis=0)


@njit(cache=True, nogil=True)
def _block_data_product(V, W, j0, size, Bt):
    """Bt[:, :size] = (V[:, j0:j0+size])ᵀ·W, transposed: one row of V at a time.

    Rows are taken as unit-stride slices so that the inner loop vectorises.
    """
    m = V.shape[0]
    r = W.shape[1]
    for k in range(r):
        Bt[k, :size] = 0.0
    for row in range(m):
        v = V[row, j0 : j0 + size]
        for k in range(r):
            w = W[row, k]
            b = Bt[k]
            for i in range(size):
                b[i] += w * v[i]


@njit(fastmath=_DOT, cache=True, nogil=True)
def _block_products(V, j0, size, X, P, Q):
    """Add V[:, j0:j0+size]·Xᵀ to P and X·Xᵀ to Q (float64 accumulators)."""
    m = V.shape[0]
    r = X.shape[0]
    for row in range(m):
        v = V[row, j0 : j0 + size]
        for k in range(r):
            x = X[k]
            acc = 0.0
            for i in range(size):
                acc += v[i] * x[i]
            P[row, k] += acc
    for k in range(r):
        x = X[k]
        for q in range(k, r):
            y = X[q]
            acc = 0.0
            for i in range(size):
                acc += x[i] * y[i]
            Q[k, q] += acc
            if q != k:
                Q[q, k] += acc


@njit(
    _sigs(
        "void(T[:, ::1], T[:, ::1], T[:, ::1], T[:, ::1], T[:, ::1], float64, float64,"
        " int64, float64, float64[:, :, ::1], float64[:, :, ::1])"
    ),
    parallel=True,
    cache=True,
    nogil=True,
)
def _fused_h_blocks(V, W, Hy, H_new, G, l1, l2, max_sweeps, delta, P_parts, Q_parts):
    """The loop of :func:`fused_h_step`: one contiguous range of blocks per worker."""
    n = V.shape[1]
    r = W.shape[1]
    d2 = delta * delta
    n_workers = P_parts.shape[0]
    n_blocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    for worker in nb.prange(n_workers):
        X, Bt, acc, moved, first, live = _block_buffers(Hy, r)
        for block in range(
            worker * n_blocks // n_workers, (worker + 1) * n_blocks // n_workers
        ):
            j0 = block * ROW_BLOCK
            size = min(ROW_BLOCK, n - j0)
            _load_block(Hy, j0, size, X, Bt, first, live)
            _block_data_product(V, W, j0, size, Bt)
            _sweep_block(
                X, Bt, G, l1, l2, max_sweeps, d2, size, acc, moved, first, live
            )
            for i in range(size):
                for k in range(r):
                    H_new[j0 + i, k] = X[k, i]
            _block_products(V, j0, size, X, P_parts[worker], Q_parts[worker])


def projected_gradient_sq_rows(V, W, Ht, G, l1, l2, scale):
    """Σ (scale_k · ∇ᴾ_jk)² over Ht for the H problem, in one pass over V.

    The gradient of the objective with respect to row j of ``Ht`` (H
    transposed) is ``Ht[j]·G − (Vᵀ·W)[j] + l1 + l2·Ht[j]``; ∇ᴾ is the gradient
    where the entry is positive and min(0, gradient) where it is zero (Lin
    2007). Vᵀ·W is formed block by block as in :func:`fused_h_step`, so the
    (n, r) product and gradient are never stored.

    Parameters
    ----------
    V : ndarray (m, n), C-contiguous
    W : ndarray (m, r), C-contiguous
    Ht : ndarray (n, r), C-contiguous
    G : ndarray (r, r)
        Wᵀ·W.
    scale : ndarray (r,), float64
        Factor per component (the balancing of
        :func:`neuronmf.engine.solvers.base.projected_gradient_norm`).
    """
    n = V.shape[1]
    n_blocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    n_workers = max(1, min(n_blocks, nb.get_num_threads()))
    parts = np.zeros(n_workers)
    _projected_gradient_blocks(V, W, Ht, G, l1, l2, scale, parts)
    return float(parts.sum())


@njit(
    _sigs(
        "void(T[:, ::1], T[:, ::1], T[:, ::1], T[:, ::1], float64, float64,"
        " float64[::1], float64[::1])"
    ),
    parallel=True,
    cache=True,
    nogil=True,
)
def _projected_gradient_blocks(V, W, Ht, G, l1, l2, scale, parts):
    """The loop of :func:`projected_gradient_sq_rows`, one block range per worker."""
    n = V.shape[1]
    r = W.shape[1]
    n_workers = parts.shape[0]
    n_blocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    for worker in nb.prange(n_workers):
        Bt = np.empty((r, ROW_BLOCK), V.dtype)
        total = 0.0
        for block in range(
            worker * n_blocks // n_workers, (worker + 1) * n_blocks // n_workers
        ):
            j0 = block * ROW_BLOCK
            size = min(ROW_BLOCK, n - j0)
            _block_data_product(V, W, j0, size, Bt)
            for i in range(size):
                for k in range(r):
                    grad = l1 + l2 * Ht[j0 + i, k] - Bt[k, i]
                    for q in range(r):
                        grad += Ht[j0 + i, q] * G[q, k]
                    if Ht[j0 + i, k] <= 0.0 and grad > 0.0:
                        grad = 0.0
                    grad *= scale[k]
                    total += grad * grad
        parts[worker] = total


@njit(
    _sigs("T[:, ::1](T[:, ::1], T[:, ::1], float64)"),
    parallel=True,
    cache=True,
    nogil=True,
)
def extrapolate(X, X_prev, beta):
    """max(X + beta·(X − X_prev), 0) in one pass (Ang–Gillis extrapolation)."""
    p, r = X.shape
    Y = np.empty_like(X)
    for i in nb.prange(p):
        for k in range(r):
            y = X[i, k] + beta * (X[i, k] - X_prev[i, k])  # in float64
            Y[i, k] = y if y > 0.0 else 0.0
    return Y


@njit(
    _sigs("void(T[:, ::1], T[:, ::1], T[:, ::1], int64)"),
    cache=True,
    nogil=True,
)
def update_columns_unit_norm(F, B, G, n_sweeps):
    """HALS on ``F`` with every column held at unit Euclidean norm.

    The exact minimiser of the objective over column k on the non-negative unit
    sphere is ``[c]_+ / |[c]_+|`` with ``c = B[:, k] - sum_{j != k} F[:, j] G[j, k]``;
    when ``c`` has no positive entry it is the unit vector at ``argmax c``. Used
    for the unpenalised factor when only the other one carries a penalty, so that
    the penalty cannot be dodged by rescaling.
    """
    p, r = F.shape
    c = np.empty(p, dtype=np.float64)
    for _ in range(n_sweeps):
        for k in range(r):
            norm2 = 0.0
            best = 0
            for i in range(p):
                acc = B[i, k]
                for j in range(r):
                    if j != k:
                        acc -= F[i, j] * G[j, k]
                c[i] = acc
                if acc > c[best]:
                    best = i
                if acc > 0.0:
                    norm2 += acc * acc
            if norm2 > 0.0:
                inv = 1.0 / np.sqrt(norm2)
                for i in range(p):
                    F[i, k] = c[i] * inv if c[i] > 0.0 else 0.0
            else:
                for i in range(p):
                    F[i, k] = 0.0
                F[best, k] = 1.0


@njit(cache=True, nogil=True)
def _lstsq_passive(G, b, idx, q, out):
    """Minimum-norm least squares on G[idx, idx] (the fallback when singular)."""
    Gp = np.empty((q, q))
    bp = np.empty(q)
    for s in range(q):
        bp[s] = b[idx[s]]
        for t in range(q):
            Gp[s, t] = G[idx[s], idx[t]]
    sol, _, _, _ = np.linalg.lstsq(Gp, bp, 1e-12)
    for s in range(q):
        out[s] = sol[s]


@njit(cache=True, nogil=True)
def _solve_passive(G, b, idx, q, L, out):
    """Solve G[idx, idx] s = b[idx] into ``out[:q]``.

    A Cholesky factorisation in the preallocated ``L`` (no allocation); when a
    pivot is not clearly positive (a singular or badly conditioned passive
    set) it falls back to :func:`_lstsq_passive`.
    """
    scale = 0.0
    for s in range(q):
        d = G[idx[s], idx[s]]
        if d > scale:
            scale = d
    for s in range(q):
        for t in range(s + 1):
            acc = G[idx[s], idx[t]]
            for u in range(t):
                acc -= L[s, u] * L[t, u]
            if s == t:
                if acc <= 1e-12 * scale:
                    _lstsq_passive(G, b, idx, q, out)
                    return
                L[s, s] = np.sqrt(acc)
            else:
                L[s, t] = acc / L[t, t]
    for s in range(q):  # forward: L y = b
        acc = b[idx[s]]
        for u in range(s):
            acc -= L[s, u] * out[u]
        out[s] = acc / L[s, s]
    for s in range(q - 1, -1, -1):  # backward: Lᵀ x = y
        acc = out[s]
        for u in range(s + 1, q):
            acc -= L[u, s] * out[u]
        out[s] = acc / L[s, s]


@njit(cache=True, nogil=True)
def _nnls_row(x, b, G, max_iter, tol, passive, idx, L, s_p, w):
    """Lawson–Hanson active set for one row, warm-started from CD sweeps.

    Ten coordinate-descent sweeps from zero give a feasible point whose support
    is the starting passive set; the active-set iterations then make the
    solution exact. On return ``x`` solves ``min_{x>=0} 1/2 xGx - x.b``.
    """
    r = x.shape[0]
    for k in range(r):
        x[k] = 0.0
    for _sweep in range(10):
        for k in range(r):
            if G[k, k] <= 0.0:
                continue
            acc = b[k]
            for j in range(r):
                acc -= G[k, j] * x[j]
            new = x[k] + acc / G[k, k]
            x[k] = new if new > 0.0 else 0.0
    for k in range(r):
        passive[k] = x[k] > 0.0
    for outer in range(max_iter + 1):
        if outer > 0:
            # gradient (negative): w = b - G x; the best inactive coordinate enters
            for k in range(r):
                acc = b[k]
                for j in range(r):
                    acc -= G[k, j] * x[j]
                w[k] = acc
            best = -1
            best_w = tol
            for k in range(r):
                if not passive[k] and w[k] > best_w:
                    best_w = w[k]
                    best = k
            if best < 0:
                return
            passive[best] = True
        # inner loop: solve on the passive set, step back while infeasible
        for _inner in range(3 * r + 10):
            q = 0
            for k in range(r):
                if passive[k]:
                    idx[q] = k
                    q += 1
            if q == 0:
                break
            _solve_passive(G, b, idx, q, L, s_p)
            feasible = True
            for t in range(q):
                if s_p[t] <= 0.0:
                    feasible = False
                    break
            if feasible:
                for t in range(q):
                    x[idx[t]] = s_p[t]
                break
            alpha = 2.0
            for t in range(q):
                if s_p[t] <= 0.0:
                    denom = x[idx[t]] - s_p[t]
                    if denom > 0.0:
                        a = x[idx[t]] / denom
                        if a < alpha:
                            alpha = a
            if alpha > 1.0:
                alpha = 0.0
            for t in range(q):
                x[idx[t]] += alpha * (s_p[t] - x[idx[t]])
            for t in range(q):
                k = idx[t]
                if x[k] <= 1e-15 * (1.0 + abs(s_p[t])):
                    x[k] = 0.0
                    passive[k] = False


@njit(
    ["void(float64[:, ::1], float64[:, ::1], float64[:, ::1], int64, float64)"],
    parallel=True,
    cache=True,
    nogil=True,
)
def nnls_rows(F, B, G, max_iter, tol):
    """Exact non-negative least squares for every row of ``F`` (active set).

    Row i solves ``min_{f >= 0} 1/2 f G f^T - f . b_i`` with the Lawson–Hanson
    active-set method on the Gram matrix ``G`` (r, r), warm-started from the
    support of a few coordinate-descent sweeps: a coordinate enters the passive
    set while its gradient exceeds ``tol``. Passive-set systems are solved by an
    allocation-free Cholesky factorisation (least squares when singular). Rows
    are independent and run in parallel. ``F`` is overwritten with the
    solution. float64 only.
    """
    p = F.shape[0]
    r = G.shape[0]
    for i in nb.prange(p):
        passive = np.zeros(r, dtype=np.bool_)
        idx = np.zeros(r, dtype=np.int64)
        L = np.zeros((r, r))
        s_p = np.zeros(r)
        w = np.zeros(r)
        _nnls_row(F[i], B[i], G, max_iter, tol, passive, idx, L, s_p, w)


@njit(
    _sigs(
        "void(T[:, ::1], T[:, ::1], T[:, ::1], float64, float64, int64, float64,"
        " float64, int64[::1], int64[::1], float64[::1], int64[::1], int64[::1],"
        " T[:, ::1])"
    ),
    parallel=True,
    cache=True,
    nogil=True,
)
def update_rows_graph(
    F,
    B,
    G,
    l1,
    l2,
    max_sweeps,
    delta,
    lam,
    indptr,
    indices,
    weights,
    colour_ptr,
    colour_rows,
    scratch,
):
    """``update_rows`` with the graph penalty λ·tr(FᵀLF), L = D − S.

    Row i's problem gains λ(d_i |f|² − 2 f·(S F)_i), i.e. ``l2 + 2λ d_i`` and
    ``b_i + 2λ (S F)_i``: the exact coordinate update of ALGORITHMS.md §4. Rows
    sharing an edge are coupled, so rows are visited colour by colour
    (``colour_ptr``, ``colour_rows``; on a 4-neighbour grid this is red–black);
    rows of one colour are independent and run in parallel. ``scratch`` is a
    (number of Numba threads, r) work array in F's dtype.
    """
    r = F.shape[1]
    n_colours = colour_ptr.shape[0] - 1
    for c in range(n_colours):
        for t in nb.prange(colour_ptr[c], colour_ptr[c + 1]):
            i = colour_rows[t]
            b = scratch[nb.get_thread_id()]
            degree = 0.0
            for k in range(r):
                b[k] = B[i, k]
            for e in range(indptr[i], indptr[i + 1]):
                w = weights[e]
                degree += w
                j = indices[e]
                for k in range(r):
                    b[k] += 2.0 * lam * w * F[j, k]
            _cd_row(F[i], b, G, l1, l2 + 2.0 * lam * degree, max_sweeps, delta)


@njit(
    _sigs("void(T[:, ::1], int64[::1], int64[::1], T[:, ::1], T[:, ::1])"),
    parallel=True,
    cache=True,
    nogil=True,
    fastmath=_DOT,
)
def fill_entries(X, rows, cols, W, Ht):
    """Set X[rows[t], cols[t]] = (W Hᵀₜ)[rows[t], cols[t]] for every listed entry."""
    r = W.shape[1]
    for t in nb.prange(rows.shape[0]):
        i = rows[t]
        j = cols[t]
        acc = 0.0
        for k in range(r):
            acc += W[i, k] * Ht[j, k]
        X[i, j] = acc


@njit(
    _sigs("float64[::1](T[:, ::1], int64[::1], int64[::1], T[:, ::1], T[:, ::1])"),
    parallel=True,
    cache=True,
    nogil=True,
    fastmath=_DOT,
)
def entries_squares(X, rows, cols, W, Ht):
    """[Σ_t X², Σ_t (X − W Htᵀ)²] over the listed entries, in float64, in one pass."""
    r = W.shape[1]
    total_x = 0.0
    total_d = 0.0
    for t in nb.prange(rows.shape[0]):
        i = rows[t]
        j = cols[t]
        acc = 0.0
        for k in range(r):
            acc += W[i, k] * Ht[j, k]
        x = float(X[i, j])
        d = x - acc
        total_x += x * x
        total_d += d * d
    out = np.empty(2)
    out[0] = total_x
    out[1] = total_d
    return out


@njit("int64[::1](int64[::1], int64[::1])", cache=True, nogil=True)
def greedy_colouring(indptr, indices):
    """Colour the nodes of a CSR graph greedily in index order (smallest free colour).

    On a 4-neighbour grid in raster order this gives the red–black checkerboard;
    on an 8-neighbour grid, four colours.
    """
    p = indptr.shape[0] - 1
    colours = np.full(p, -1, dtype=np.int64)
    used = np.full(p + 1, -1, dtype=np.int64)
    for i in range(p):
        for e in range(indptr[i], indptr[i + 1]):
            c = colours[indices[e]]
            if c >= 0:
                used[c] = i
        c = 0
        while used[c] == i:
            c += 1
        colours[i] = c
    return colours


@njit(
    _sigs("void(T[:, ::1], int64[::1], int64[::1], T[:, ::1], T[:, ::1], T[:, ::1])"),
    parallel=True,
    cache=True,
    nogil=True,
    fastmath=_DOT,
)
def fill_and_update_product(X, rows, cols, W, Ht, P):
    """``fill_entries``, also keeping P = X·Ht current: P[i] += ΔX_ij · Ht[j].

    ``rows`` must be sorted (as ``np.nonzero`` returns them): each run of one
    row is handled by one thread, so rows of P are never written concurrently.
    """
    r = W.shape[1]
    n = rows.shape[0]
    n_runs = 0
    for t in range(n):
        if t == 0 or rows[t] != rows[t - 1]:
            n_runs += 1
    starts = np.empty(n_runs + 1, dtype=np.int64)
    c = 0
    for t in range(n):
        if t == 0 or rows[t] != rows[t - 1]:
            starts[c] = t
            c += 1
    starts[n_runs] = n
    for run in nb.prange(n_runs):
        for t in range(starts[run], starts[run + 1]):
            i = rows[t]
            j = cols[t]
            acc = 0.0
            for k in range(r):
                acc += W[i, k] * Ht[j, k]
            delta = acc - X[i, j]
            X[i, j] = acc
            if delta != 0.0:
                for k in range(r):
                    P[i, k] += delta * Ht[j, k]
