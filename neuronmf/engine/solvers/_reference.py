"""Plain-NumPy twins of the Numba kernels, for tests and for reading.

Each function computes what its namesake in ``_hals_kernels`` computes, with the
same arithmetic in the same order where it matters, but written for clarity.
"""

from __future__ import annotations

import numpy as np


def cd_row(f, b, G, l1, l2, max_sweeps, delta):
    """Reference for ``_hals_kernels._cd_row`` (updates ``f`` in place)."""
    first = 0.0
    for sweep in range(max_sweeps):
        moved = 0.0
        for k in range(f.shape[0]):
            gkk = G[k, k] + l2
            if gkk <= 0:
                continue
            grad = float(G[k] @ f) + l2 * f[k] - b[k] + l1
            new = max(0.0, f[k] - grad / gkk)
            moved += (new - f[k]) ** 2
            f[k] = new
        if sweep == 0:
            first = moved
            if first == 0.0:
                break
        elif moved <= delta * delta * first:
            break
    return first


def update_rows(F, B, G, l1, l2, max_sweeps, delta):
    """Reference for ``_hals_kernels.update_rows``."""
    for i in range(F.shape[0]):
        cd_row(F[i], B[i], G, l1, l2, max_sweeps, delta)


def fused_h_step(V, W, Hy, G, l1, l2, max_sweeps, delta):
    """Reference for ``_hals_kernels.fused_h_step``: the same step unfused."""
    H = Hy.copy()
    update_rows(H, V.T @ W, G, l1, l2, max_sweeps, delta)
    return H, V @ H, H.T @ H


def update_columns_unit_norm(F, B, G, n_sweeps):
    """Reference for ``_hals_kernels.update_columns_unit_norm``."""
    for _ in range(n_sweeps):
        for k in range(F.shape[1]):
            c = B[:, k] - F @ G[:, k] + F[:, k] * G[k, k]
            pos = np.maximum(c, 0.0)
            norm = np.linalg.norm(pos)
            if norm > 0:
                F[:, k] = pos / norm
            else:
                F[:, k] = 0.0
                F[int(np.argmax(c)), k] = 1.0


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
):
    """Reference for ``_hals_kernels.update_rows_graph`` (rows in colour order)."""
    for t in range(colour_ptr[-1]):
        i = colour_rows[t]
        nbrs = slice(indptr[i], indptr[i + 1])
        b = B[i] + 2 * lam * weights[nbrs] @ F[indices[nbrs]]
        degree = weights[nbrs].sum()
        cd_row(F[i], b, G, l1, l2 + 2 * lam * degree, max_sweeps, delta)


def fill_entries(X, rows, cols, W, Ht):
    """Reference for ``_hals_kernels.fill_entries``."""
    X[rows, cols] = np.einsum("tk,tk->t", W[rows], Ht[cols])


def fill_and_update_product(X, rows, cols, W, Ht, P):
    """Reference for ``_hals_kernels.fill_and_update_product``."""
    new = np.einsum("tk,tk->t", W[rows], Ht[cols])
    delta = new - X[rows, cols]
    X[rows, cols] = new
    np.add.at(P, rows, delta[:, None] * Ht[cols])


def entries_squares(X, rows, cols, W, Ht):
    """Reference for ``_hals_kernels.entries_squares``: [Σ X², Σ (X − WH)²]."""
    x = X[rows, cols].astype(np.float64)
    d = x - np.einsum("tk,tk->t", W[rows], Ht[cols])
    return np.array([np.sum(x * x), np.sum(d * d)])


def greedy_colouring(indptr, indices):
    """Reference for ``_hals_kernels.greedy_colouring``."""
    p = len(indptr) - 1
    colours = np.full(p, -1)
    for i in range(p):
        taken = {
            colours[j] for j in indices[indptr[i] : indptr[i + 1]] if colours[j] >= 0
        }
        c = 0
        while c in taken:
            c += 1
        colours[i] = c
    return colours


def _curvature_at(x, o, u, m, s):
    un = u + o * s
    keep = (m != 0) & (o != 0) & (x != 0)
    # as the kernel: (f·o) emptied up to rounding counts as leaving the domain
    if np.any(un[keep] <= 1e-10 * u[keep]):
        return np.inf
    return float(np.sum(x[keep] * o[keep] ** 2 / un[keep] ** 2))


def kl_row(f, x, O, m, u, l1, l2, graph_grad, max_sweeps, newton_steps):
    """Reference for ``_kl_kernels._kl_row`` (m: the row's 0/1 mask)."""
    u[:] = f @ O
    for _ in range(max_sweeps):
        moved = 0.0
        for k in range(f.shape[0]):
            o = O[k]
            for _step in range(newton_steps):
                keep = (m != 0) & (o != 0)
                pos = keep & (x != 0)
                t = np.zeros_like(u)
                t[pos] = x[pos] / u[pos]
                g = (
                    l1
                    + l2 * f[k]
                    - graph_grad[k]
                    + np.sum(o[keep])
                    - np.sum(o[pos] * t[pos])
                )
                hess = l2 + np.sum(o[pos] * t[pos] * o[pos] / u[pos])
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
                    h1 = _curvature_at(x, o, u, m, s) + l2
                    while h1 == np.inf:
                        s *= 0.5
                        h1 = _curvature_at(x, o, u, m, s) + l2
                    s = max(-g / h1, s)
                    if s == 0:
                        break
                f[k] += s
                moved += s * s
                u += s * o
        if moved == 0:
            break


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
):
    """Reference for ``_kl_kernels.kl_update_rows``."""
    total = 0.0
    q = X.shape[1]
    for t in range(colour_ptr[-1]):
        i = colour_rows[t]
        nbrs = slice(indptr[i], indptr[i + 1])
        graph_grad = (
            2 * lam * weights[nbrs] @ F[indices[nbrs]] if lam else np.zeros(F.shape[1])
        )
        l2_i = l2 + (2 * lam * weights[nbrs].sum() if lam else 0.0)
        m = M[i] if use_mask else np.ones(q)
        u = np.empty(q)
        kl_row(F[i], X[i], O, m, u, l1, l2_i, graph_grad, max_sweeps, newton_steps)
        total += kl_data_loss(X[i : i + 1], F[i : i + 1], O, M[i : i + 1], use_mask)
    return total


def kl_data_loss(X, F, O, M, use_mask):
    """Reference for ``_kl_kernels.kl_data_loss``."""
    U = F @ O
    keep = np.ones_like(X, bool) if not use_mask else M != 0
    logs = np.where((X != 0) & keep, X * np.log(np.where(keep, U, 1.0)), 0.0)
    return float(np.sum(np.where(keep, U, 0.0)) - np.sum(logs))
