"""Data products shared by the solvers.

The two products of an NMF iteration, V·Hᵀ and Vᵀ·W, can each be computed
directly or as the transpose of the transposed product; which is faster depends
on V's memory order, dtype and number of rows. The functions here pick the form
from the thresholds below (measured on the project's benchmark machine; the
timings are in ``docs/benchmarks.md``, "Data products V·Hᵀ and Vᵀ·W").
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: Up to this many rows a C-ordered V uses Vᵀ·W directly (measured faster for
#: 16 × 200,000); above it, (Wᵀ·V)ᵀ.
TRANSPOSED_PRODUCT_MAX_ROWS = 16

#: C-ordered data with at most this many rows take HALS's fused one-pass H step
#: (:func:`neuronmf.engine.solvers._hals_kernels.fused_h_step`) instead of two
#: BLAS products; the measured crossover is between 64 and 128 rows.
FUSED_MAX_ROWS = 64

#: Up to this many rows a C-ordered float64 V computes V·Ht directly; above it,
#: as (Htᵀ·Vᵀ)ᵀ (timings in docs/benchmarks.md, "Data products V·Hᵀ and Vᵀ·W").
DIRECT_PRODUCT_MAX_ROWS = 128


def uses_fused_step(V) -> bool:
    """Whether HALS computes V's two products in one fused pass (skinny, C-ordered)."""
    if sp.issparse(V):
        return False
    return bool(V.flags.c_contiguous) and V.shape[0] <= FUSED_MAX_ROWS


def product_is_transposed(V) -> bool:
    """Whether V·Ht is faster computed as (Htᵀ·Vᵀ)ᵀ for this V (docs/benchmarks.md)."""
    if sp.issparse(V):
        return False
    if not V.flags.c_contiguous:
        return True
    return V.dtype == np.float64 and V.shape[0] > DIRECT_PRODUCT_MAX_ROWS


def data_product(V: np.ndarray, Ht: np.ndarray) -> np.ndarray:
    """V·Ht as a C-contiguous (m, r) array, in the faster of two equal forms.

    Parameters
    ----------
    V : ndarray (m, n) or scipy.sparse array
        Data, C- or F-ordered, or sparse (a sparse product).
    Ht : ndarray (n, r)
        Transposed factor H.

    Returns
    -------
    ndarray (m, r), C-contiguous.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> V, Ht = rng.random((300, 40)), rng.random((40, 3))
    >>> bool(np.allclose(data_product(V, Ht), V @ Ht))
    True
    """
    if product_is_transposed(V):
        return np.ascontiguousarray((Ht.T @ V.T).T)
    return np.ascontiguousarray(V @ Ht)


def data_product_T(V: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Vᵀ·W as a C-contiguous (n, r) array, in the faster of two equal forms.

    Parameters
    ----------
    V : ndarray (m, n) or scipy.sparse array
        Data, C- or F-ordered, or sparse (a sparse product).
    W : ndarray (m, r)
        Factor.

    Returns
    -------
    ndarray (n, r), C-contiguous.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> V, W = rng.random((40, 300)), rng.random((40, 3))
    >>> bool(np.allclose(data_product_T(V, W), V.T @ W))
    True
    """
    if sp.issparse(V):  # a sparse product, O(nnz · r): V is never densified
        return np.ascontiguousarray(V.T @ W)
    if V.flags.c_contiguous and V.shape[0] > TRANSPOSED_PRODUCT_MAX_ROWS:
        return np.ascontiguousarray((W.T @ V).T)
    return np.ascontiguousarray(V.T @ W)
