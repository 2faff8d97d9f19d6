"""Initial factors: random, NNDSVD and its variants, and the successive projection
algorithm (SPA).

All functions take the validated data ``V`` (m, n) as a float array and return
``(W, H)`` in ``V``'s dtype, scaled so that ``α·W·H`` with the optimal
``α = <V, WH> / |WH|²`` is used (Gillis' initial scaling).
"""

from __future__ import annotations

import contextlib

import numpy as np
import scipy.linalg

INITS = ("random", "nndsvd", "nndsvda", "nndsvdar", "spa")


def initialize(V, rank: int, init: str, rng: np.random.Generator):
    """Return initial ``(W, H)`` for ``V`` by the named method.

    Parameters
    ----------
    V : ndarray of shape (m, n)
        Non-negative data, float32 or float64.
    rank : int
        Number of components.
    init : {"random", "nndsvd", "nndsvda", "nndsvdar", "spa"}
        The method. ``"nndsvd"`` leaves exact zeros (which HALS can move but
        multiplicative updates cannot); ``"nndsvda"`` fills them with the mean of
        V; ``"nndsvdar"`` with small random values; ``"spa"`` picks ``rank``
        columns of V as W (successive projection, exact for separable data) and
        solves for H by non-negative least squares.
    rng : numpy.random.Generator
        Source of randomness for ``"random"``, ``"nndsvdar"`` and the randomised
        SVD used on large inputs.

    Examples
    --------
    >>> import numpy as np
    >>> V = np.random.default_rng(0).random((6, 8))
    >>> W, H = initialize(V, 2, "nndsvda", np.random.default_rng(0))
    >>> W.shape, H.shape, bool((W >= 0).all() and (H >= 0).all())
    ((6, 2), (2, 8), True)
    """
    if not _is_dask(V):
        # extreme scales (callers outside the fit path, e.g. decoding's rank
        # chain): initialise V / 2**k and scale W, H by 2**(k/2), exact
        from neuronmf.engine._scale import scale_exponent

        dt = np.float32 if V.dtype == np.float32 else np.float64
        sparse = _is_sparse(V)
        top = float(V.max()) if sparse else float(np.max(V, initial=0.0))
        k = scale_exponent(top, dt)
        if k:
            if sparse:
                from neuronmf.engine._sparse import scaled

                Vs = scaled(V, k)
            else:
                Vs = np.ldexp(V, -k).astype(V.dtype, copy=False)
            W, H = initialize(Vs, rank, init, rng)
            return (
                np.ldexp(W, k // 2).astype(W.dtype, copy=False),
                np.ldexp(H, k // 2).astype(H.dtype, copy=False),
            )
    if init == "random":
        W, H = _random(V, rank, rng)
    elif init == "spa":
        if _is_sparse(V):
            from neuronmf.errors import input_error

            raise input_error(
                "init", "'random' or an 'nndsvd' variant for sparse V", "'spa'"
            )
        if _is_dask(V):
            from neuronmf.errors import input_error

            raise input_error(
                "init", "'random' or an 'nndsvd' variant for a dask array", "'spa'"
            )
        W, H = _spa(V, rank)
    else:
        with _blas_threads(V):
            W, H = _nndsvd(V, rank, fill=init[len("nndsvd") :], rng=rng)
    with _blas_threads(V):
        return _rescale(V, W.astype(V.dtype), H.astype(V.dtype))


def _blas_threads(V):
    """One BLAS thread for sparse V (its dense blocks are (m + n) × ~rank)."""
    if not _is_sparse(V):
        return contextlib.nullcontext()
    from neuronmf.engine._sparse import one_blas_thread

    return one_blas_thread()


def _random(V, rank, rng):
    m, n = V.shape
    scale = np.sqrt(float(V.mean(dtype=np.float64)) / rank)
    W = scale * np.abs(rng.standard_normal((m, rank)))
    H = scale * np.abs(rng.standard_normal((rank, n)))
    return W, H


def _is_dask(V) -> bool:
    from neuronmf.engine.chunked import is_dask

    return is_dask(V)


def _is_sparse(V) -> bool:
    import scipy.sparse as sp

    return sp.issparse(V)


def _truncated_svd(V, rank, rng):
    m, n = V.shape
    if _is_sparse(V):
        # sparse products only (never densified): the small Gram matrix of
        # skinny data, else a randomised SVD
        triplets = _gram_svd(V, rank) if min(m, n) <= 600 else None
        if triplets is not None:
            return triplets
        from sklearn.utils.extmath import randomized_svd

        seed = int(rng.integers(2**31 - 1))
        return randomized_svd(V, rank, n_iter=4, random_state=seed)
    if _is_dask(V):
        # a few bounded passes, never the whole matrix in memory
        from neuronmf.engine.chunked import truncated_svd

        return truncated_svd(V, rank, rng)
    if min(m, n) <= 600 and max(m, n) >= 4 * min(m, n):
        triplets = _gram_svd(V, rank)
        if triplets is not None:
            return triplets
    if min(m, n) <= 600 or rank > min(m, n) // 4:
        U, S, Vt = scipy.linalg.svd(V, full_matrices=False, check_finite=False)
        return U[:, :rank], S[:rank], Vt[:rank]
    from sklearn.utils.extmath import randomized_svd

    seed = int(rng.integers(2**31 - 1))
    return randomized_svd(V, rank, n_iter=4, random_state=seed)


def _gram_svd(V, rank):
    """Leading singular triplets of a skinny ``V`` from its small Gram matrix.

    For ``V`` of shape (m, n) with m ≪ n, the eigenvectors of ``V·Vᵀ`` (m, m)
    are the left singular vectors and ``Vᵀ·U / S`` the right ones; this costs one
    product of V with itself instead of a full SVD, many times faster for skinny
    data (docs/benchmarks.md, "SVD of skinny data from its Gram matrix").
    Squaring loses the precision of singular values below about
    1e-7 of the largest, so None is returned (and the caller falls back to the
    full SVD) when a requested one is that small.
    """
    wide = V.shape[0] <= V.shape[1]
    A = V if wide else V.T
    G = A @ A.T
    evals, evecs = np.linalg.eigh(G.toarray() if hasattr(G, "toarray") else G)
    order = np.argsort(evals)[::-1][:rank]
    S = np.sqrt(np.maximum(evals[order], 0.0))
    if S[0] <= 0 or S[-1] < 1e-6 * S[0]:
        return None
    U = evecs[:, order]
    Vt = (A.T @ U / S).T
    return (U, S, Vt) if wide else (Vt.T, S, U.T)


def _float64(V):
    """V in float64 (a sparse V stays sparse)."""
    if _is_sparse(V):
        return V.astype(np.float64)
    return np.asarray(V, np.float64)


def _nndsvd(V, rank, fill, rng):
    """NNDSVD of Boutsidis & Gallopoulos (2008), with the a/ar zero fills."""
    U, S, Vt = _truncated_svd(V if _is_dask(V) else _float64(V), rank, rng)
    m, n = V.shape
    W = np.zeros((m, rank))
    H = np.zeros((rank, n))
    # The leading singular pair of a non-negative matrix can be taken non-negative.
    W[:, 0] = np.sqrt(S[0]) * np.abs(U[:, 0])
    H[0] = np.sqrt(S[0]) * np.abs(Vt[0])
    for j in range(1, rank):
        x, y = U[:, j], Vt[j]
        xp, xn = np.maximum(x, 0), np.maximum(-x, 0)
        yp, yn = np.maximum(y, 0), np.maximum(-y, 0)
        nxp, nyp = np.linalg.norm(xp), np.linalg.norm(yp)
        nxn, nyn = np.linalg.norm(xn), np.linalg.norm(yn)
        if nxp * nyp >= nxn * nyn:
            u, v, sigma = xp / max(nxp, 1e-300), yp / max(nyp, 1e-300), nxp * nyp
        else:
            u, v, sigma = xn / max(nxn, 1e-300), yn / max(nyn, 1e-300), nxn * nyn
        lam = np.sqrt(S[j] * sigma)
        W[:, j] = lam * u
        H[j] = lam * v
    tiny = 1e-6 * max(W.max(initial=0.0), H.max(initial=0.0))
    W[W < tiny] = 0.0
    H[H < tiny] = 0.0
    if fill == "a":
        avg = float(V.mean(dtype=np.float64))
        W[W == 0] = avg
        H[H == 0] = avg
    elif fill == "ar":
        avg = float(V.mean(dtype=np.float64))
        zw, zh = W == 0, H == 0
        W[zw] = avg / 100 * np.abs(rng.standard_normal(int(zw.sum())))
        H[zh] = avg / 100 * np.abs(rng.standard_normal(int(zh.sum())))
    return W, H


def spa_columns(V, rank: int) -> np.ndarray:
    """Indices of ``rank`` columns of V chosen by the successive projection algorithm.

    Each step takes the column with the largest residual norm and projects every
    column onto the orthogonal complement of the chosen ones (Gillis & Vavasis
    2014). Runs in ``rank`` passes over V with no copy of it.
    """
    V64 = np.asarray(V, dtype=np.float64)
    norms2 = np.einsum("ij,ij->j", V64, V64)
    basis = []
    chosen: list[int] = []
    for _ in range(rank):
        j = int(np.argmax(norms2))
        chosen.append(j)
        u = V64[:, j].copy()
        for b in basis:
            u -= (b @ u) * b
        norm = np.linalg.norm(u)
        if norm <= 1e-12 * np.sqrt(max(norms2.max(), 1e-300)):
            # Data has fewer independent columns than the rank: reuse the largest.
            norms2[j] = -np.inf
            continue
        u /= norm
        basis.append(u)
        norms2 -= (u @ V64) ** 2
        norms2[chosen] = -np.inf
    return np.asarray(chosen)


def _spa(V, rank):
    from neuronmf.engine.nnls import nnls_columns

    W = np.asarray(V[:, spa_columns(V, rank)], dtype=np.float64)
    norms = np.linalg.norm(W, axis=0)
    W /= np.where(norms > 0, norms, 1.0)
    H = nnls_columns(np.asarray(V, dtype=np.float64), W)
    return W, H


def _rescale(V, W, H):
    """Scale W and H by sqrt(α), α = <V, WH> / |WH|², the best scalar fit."""
    cross = float(
        np.vdot(np.asarray(W, np.float64), np.asarray(np.asarray(V @ H.T), np.float64))
    )
    gram = float(
        np.vdot(np.asarray(W.T @ W, np.float64), np.asarray(H @ H.T, np.float64))
    )
    if gram > 0 and cross > 0:
        s = np.sqrt(cross / gram)
        W = W * W.dtype.type(s)
        H = H * H.dtype.type(s)
    return W, H
