"""Numba kernels of the greedy seeding (:mod:`neuronmf.imaging.seeds`).

Pure functions on arrays: no validation, no exceptions, no printing. Each one
fuses into a single pass over the movie what NumPy does with (time, y, x)
temporaries; ``tests/imaging/test_seeds.py`` compares them with plain-NumPy
references.
"""

from __future__ import annotations

import numpy as np

from neuronmf.engine.solvers._numba_cache import njit


@njit(cache=True, nogil=True)
def subtract_outer(X, c, image, y0, x0):  # pragma: no cover - compiled
    """``X[t, y0 + i, x0 + j] -= c[t] * image[i, j]`` in place.

    ``c`` and ``image`` have ``X``'s dtype, so each product is rounded as
    NumPy's ``c[:, None, None] * image[None]`` would round it. Only the
    non-zero pixels of ``image`` are visited (subtracting 0 changes nothing):
    a seeding speck touches a few pixels of its window.
    """
    T = X.shape[0]
    h, w = image.shape
    n = 0
    for i in range(h):
        for j in range(w):
            if image[i, j] != 0:
                n += 1
    ii = np.empty(n, np.int64)
    jj = np.empty(n, np.int64)
    vv = np.empty(n, image.dtype)
    n = 0
    for i in range(h):
        for j in range(w):
            if image[i, j] != 0:
                ii[n], jj[n], vv[n] = y0 + i, x0 + j, image[i, j]
                n += 1
    for t in range(T):
        ct = c[t]
        for k in range(n):
            X[t, ii[k], jj[k]] -= ct * vv[k]


@njit(cache=True, nogil=True)
def neighbour_correlation(R):  # pragma: no cover - compiled
    """Mean Pearson correlation of each pixel with its (up to 8) neighbours.

    ``R`` is (time, y, x). Means, deviations and the sums of products are
    accumulated in float64; a pixel with no variance correlates 0.
    """
    T, ny, nx = R.shape
    mean = np.zeros((ny, nx))
    for t in range(T):
        for y in range(ny):
            for x in range(nx):
                mean[y, x] += R[t, y, x]
    mean /= T
    scale = np.zeros((ny, nx))
    for t in range(T):
        for y in range(ny):
            for x in range(nx):
                d = R[t, y, x] - mean[y, x]
                scale[y, x] += d * d
    for y in range(ny):
        for x in range(nx):
            scale[y, x] = 1.0 / (np.sqrt(scale[y, x] / T) + 1e-12)
    # products with the right, lower-left, lower and lower-right neighbours
    right = np.zeros((ny, nx))
    down_left = np.zeros((ny, nx))
    down = np.zeros((ny, nx))
    down_right = np.zeros((ny, nx))
    z = np.empty((ny, nx))
    for t in range(T):
        for y in range(ny):
            for x in range(nx):
                z[y, x] = (R[t, y, x] - mean[y, x]) * scale[y, x]
        for y in range(ny):
            for x in range(nx):
                v = z[y, x]
                if x + 1 < nx:
                    right[y, x] += v * z[y, x + 1]
                if y + 1 < ny:
                    down[y, x] += v * z[y + 1, x]
                    if x >= 1:
                        down_left[y, x] += v * z[y + 1, x - 1]
                    if x + 1 < nx:
                        down_right[y, x] += v * z[y + 1, x + 1]
    acc = np.zeros((ny, nx))
    cnt = np.zeros((ny, nx))
    for y in range(ny):
        for x in range(nx):
            if x + 1 < nx:
                acc[y, x] += right[y, x]
                acc[y, x + 1] += right[y, x]
                cnt[y, x] += 1
                cnt[y, x + 1] += 1
            if y + 1 < ny:
                acc[y, x] += down[y, x]
                acc[y + 1, x] += down[y, x]
                cnt[y, x] += 1
                cnt[y + 1, x] += 1
                if x >= 1:
                    acc[y, x] += down_left[y, x]
                    acc[y + 1, x - 1] += down_left[y, x]
                    cnt[y, x] += 1
                    cnt[y + 1, x - 1] += 1
                if x + 1 < nx:
                    acc[y, x] += down_right[y, x]
                    acc[y + 1, x + 1] += down_right[y, x]
                    cnt[y, x] += 1
                    cnt[y + 1, x + 1] += 1
    out = np.zeros((ny, nx), np.float32)
    for y in range(ny):
        for x in range(nx):
            if cnt[y, x] > 0:
                out[y, x] = acc[y, x] / (T * cnt[y, x])
    return out
