"""Data products shared by the solvers.

The two products of an NMF iteration are V·Hᵀ and Vᵀ·W. With OpenBLAS, for a
C-ordered V with more than a few rows, Vᵀ·W (a transposed-operand GEMM with a
thin output) is 2-2.5x slower than computing (Wᵀ·V)ᵀ, which streams V along its
rows: 500 × 20,000 at rank 12, 16.8 ms against 6.9 ms; 4,096 × 6,000 at rank 31,
59 ms against 27 ms (this 2-core machine, `benchmarks/bench_engine.py` shapes).
For very skinny V (16 rows) the opposite holds (3.1 ms against 4.8 ms).

V·Hᵀ has the same choice, between V·Ht and (Htᵀ·Vᵀ)ᵀ, and there the memory
order and the dtype decide (OpenBLAS 0.3.31, SkylakeX kernels, this machine):

- F-ordered V: the transposed form, 1.25-2.1x faster for both dtypes (float32
  4,096 × 6,000 at rank 31: 17.6 ms against 28.7 ms).
- C-ordered float64 V with more than 128 rows: the transposed form, 1.0-1.8x
  faster, typically 1.4x (4,096 × 6,000 at rank 31: 27-28 ms against 43-46 ms;
  500 × 20,000 at rank 12: 6.6 ms against 8.6 ms). At 128 rows the direct
  form is as fast or faster.
- C-ordered float32 V: the direct form, faster in 27 of 28 shapes and ranks
  tried, by up to 1.7x (20,000 × 10,000 at rank 20: 125 ms against 157 ms).
"""

from __future__ import annotations

import numpy as np

#: Up to this many rows a C-ordered V uses Vᵀ·W directly (measured faster for
#: 16 × 200,000); above it, (Wᵀ·V)ᵀ.
TRANSPOSED_PRODUCT_MAX_ROWS = 16

#: C-ordered data with at most this many rows take HALS's fused one-pass H step
#: (:func:`neuronmf.engine.solvers._hals_kernels.fused_h_step`) instead of two
#: BLAS products; the measured crossover is between 64 and 128 rows.
FUSED_MAX_ROWS = 64

#: Up to this many rows a C-ordered float64 V computes V·Ht directly; above it,
#: as (Htᵀ·Vᵀ)ᵀ (see the module docstring).
DIRECT_PRODUCT_MAX_ROWS = 128


def uses_fused_step(V) -> bool:
    """Whether HALS computes V's two products in one fused pass (skinny, C-ordered)."""
    return bool(V.flags.c_contiguous) and V.shape[0] <= FUSED_MAX_ROWS


def product_is_transposed(V) -> bool:
    """Whether V·Ht is faster computed as (Htᵀ·Vᵀ)ᵀ for this V (module docstring)."""
    if not V.flags.c_contiguous:
        return True
    return V.dtype == np.float64 and V.shape[0] > DIRECT_PRODUCT_MAX_ROWS


def data_product(V: np.ndarray, Ht: np.ndarray) -> np.ndarray:
    """V·Ht as a C-contiguous (m, r) array, in the faster of two equal forms.

    Parameters
    ----------
    V : ndarray (m, n)
        Data, C- or F-ordered.
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
    V : ndarray (m, n)
        Data, C- or F-ordered.
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
    if V.flags.c_contiguous and V.shape[0] > TRANSPOSED_PRODUCT_MAX_ROWS:
        return np.ascontiguousarray((W.T @ V).T)
    return np.ascontiguousarray(V.T @ W)
