"""Gaussian filters of frame stacks as matrix products.

``scipy.ndimage.gaussian_filter(X, (0, σ, σ))`` filters every frame of a
(time, y, x) stack with a separable kernel of 8σ + 1 taps per axis; for the
local means of segmentation (σ = 2 × the neuron radius, 81 taps at r = 5) on
a patch a few kernels wide, the same linear map as two matrix products
(``Gy · frame · Gxᵀ``) runs in BLAS and is 2–3× faster. The matrices are the
1-D filter applied to the unit impulses, so edges (reflected) and the
truncation at 4σ are scipy's, exactly.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage


@lru_cache(maxsize=32)
def _matrix(n: int, sigma: float, dtype: str) -> np.ndarray:
    G = ndimage.gaussian_filter1d(np.eye(n), sigma, axis=0).astype(dtype)
    G.flags.writeable = False
    return G


def gaussian_matrix(n: int, sigma: float, dtype=np.float64) -> np.ndarray:
    """scipy's 1-D Gaussian filter on ``n`` samples as an (n, n) matrix.

    Column j is the filtered unit impulse at j, so ``G @ x`` equals
    ``ndimage.gaussian_filter1d(x, sigma)``. Cached and read-only.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> x = np.arange(12.0) ** 2
    >>> want = ndimage.gaussian_filter1d(x, 2.0)
    >>> bool(np.allclose(gaussian_matrix(12, 2.0) @ x, want))
    True
    """
    return _matrix(int(n), float(sigma), np.dtype(dtype).str)


def gaussian_frames(X: np.ndarray, sigma: float) -> np.ndarray:
    """Each frame of ``X`` (time, y, x) filtered with the 2-D Gaussian ``sigma``.

    Equal to ``ndimage.gaussian_filter(X, (0, sigma, sigma))`` up to rounding
    (float32 stays float32), as two matrix products.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> X = np.random.default_rng(0).random((3, 9, 14))
    >>> want = ndimage.gaussian_filter(X, (0, 2.0, 2.0))
    >>> bool(np.allclose(gaussian_frames(X, 2.0), want))
    True
    """
    X = np.asarray(X)
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    T, h, w = X.shape
    Gy, Gx = gaussian_matrix(h, sigma, dtype), gaussian_matrix(w, sigma, dtype)
    rows = (X.astype(dtype, copy=False).reshape(T * h, w) @ Gx.T).reshape(T, h, w)
    return np.matmul(Gy, rows)


def gaussian_frames_adjoint(F: np.ndarray, sigma: float) -> np.ndarray:
    """``Gᵀ f`` for each image ``f`` of ``F`` (n, y, x), G the filter of
    :func:`gaussian_frames`: ``⟨f, G X⟩ = ⟨Gᵀ f, X⟩`` for every frame ``X``,
    edges included (``Gᵀ f = Gyᵀ f Gx``)."""
    _, h, w = F.shape
    Gy = gaussian_matrix(h, sigma)
    Gx = gaussian_matrix(w, sigma)
    return Gy.T @ np.asarray(F, dtype=np.float64) @ Gx
