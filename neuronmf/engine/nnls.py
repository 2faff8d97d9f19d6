"""Exact non-negative least squares, batched over the columns of the data."""

from __future__ import annotations

import numpy as np


def nnls_columns(V, W) -> np.ndarray:
    """Solve ``min_{H >= 0} |V - W H|_F`` exactly, one column of V at a time.

    An active-set (Lawson–Hanson) solve on the Gram matrix ``WᵀW`` per column,
    compiled with Numba and run in parallel over columns. Agrees with
    :func:`scipy.optimize.nnls` column by column. Computed in float64.

    Parameters
    ----------
    V : ndarray of shape (m, n)
    W : ndarray of shape (m, r)

    Returns
    -------
    H : ndarray of shape (r, n), float64

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import nnls
    >>> rng = np.random.default_rng(1)
    >>> W, V = rng.random((8, 3)), rng.random((8, 4))
    >>> H = nnls_columns(V, W)
    >>> bool(np.allclose(H[:, 0], nnls(W, V[:, 0])[0]))
    True
    """
    from neuronmf.engine.products import data_product_T

    # solve for V / 2**kv and W / 2**kw (exact power-of-two scalings, so results
    # in the usual range are unchanged bit for bit), then scale H back: data or
    # parts near 1e±200 would otherwise overflow or underflow WᵀW and WᵀV
    sparse = hasattr(V, "tocsr")  # scipy.sparse: a sparse product, never densified
    V64 = V.astype(np.float64) if sparse else np.asarray(V, dtype=np.float64)
    W64 = np.asarray(W, dtype=np.float64)
    kv, kw = exponent(V64.data if sparse else V64), exponent(W64)
    if kv and sparse:
        V64.data = np.ldexp(V64.data, -kv)  # V64 is a copy (astype)
    elif kv:
        V64 = np.ldexp(V64, -kv)
    if kw:
        W64 = np.ldexp(W64, -kw)
    H = nnls_gram(data_product_T(V64, W64).T, W64.T @ W64)
    if kv != kw:
        with np.errstate(over="ignore", under="ignore"):
            H = np.ldexp(H, kv - kw)
    return np.ascontiguousarray(H)


def nnls_gram(B, G) -> np.ndarray:
    """Solve ``min_{H >= 0} |V - W H|_F`` from its products ``B = WᵀV``, ``G = WᵀW``.

    The solve of :func:`nnls_columns` for callers that form ``WᵀV`` their own
    way (without ``V``: a filtered movie's products from the raw frames, a
    lazy movie block by block). Exact (active set, per column, in parallel),
    float64; no rescaling, so ``B`` and ``G`` must be in a range where ``G``'s
    products neither overflow nor underflow.

    Parameters
    ----------
    B : ndarray of shape (r, n)
        ``WᵀV``.
    G : ndarray of shape (r, r)
        ``WᵀW``, symmetric positive semi-definite.

    Returns
    -------
    H : ndarray of shape (r, n), float64

    Examples
    --------
    >>> import numpy as np
    >>> W = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> V = W @ np.array([[2.0], [0.5]])
    >>> nnls_gram(W.T @ V, W.T @ W).round(6).ravel().tolist()
    [2.0, 0.5]
    """
    from neuronmf.engine.solvers import _hals_kernels

    Bt = np.ascontiguousarray(np.asarray(B, dtype=np.float64).T)
    G = np.ascontiguousarray(G, dtype=np.float64)
    r = G.shape[0]
    Ht = np.zeros((Bt.shape[0], r))
    tol = 1e-12 * max(float(np.abs(Bt).max(initial=0.0)), 1e-300) * max(r, 1)
    _hals_kernels.nnls_rows(Ht, Bt, G, 30 * r + 100, tol)
    return Ht.T


def exponent(X, limit: int = 40) -> int:
    """k with max|X| / 2**k near 1, or 0 when max|X| is in [2**-limit, 2**limit].

    Examples
    --------
    >>> exponent(np.array([3e100])), exponent(np.array([3.0])), exponent(np.zeros(2))
    (334, 0, 0)
    """
    X = np.asarray(X)
    # the largest magnitude without an |X| temporary (V can be GBs); NaN stays NaN
    top = float(np.maximum(X.max(initial=0.0), -X.min(initial=0.0)))
    if top == 0.0 or not np.isfinite(top):
        return 0
    _, e = np.frexp(top)
    return int(e) if abs(int(e)) > limit else 0
