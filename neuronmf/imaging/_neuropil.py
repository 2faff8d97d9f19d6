"""Masks, one-pass extraction, neuropil coefficient and running baseline of ``traces``.

Private helpers of :func:`neuronmf.imaging.traces`:

* :func:`cell_weights` and :func:`annulus_weights`: the (pixel, neuron) sparse
  weights of each cell's own pixels and of its neuropil annulus;
* :func:`extract`: both weighted means over the movie in one pass, a chunk of
  frames at a time (lazy movies are never read whole);
* :func:`estimate_coefficient`: the neuropil coefficient by robust regression;
* :func:`running_baseline`: the running-percentile baseline F0.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy import ndimage

__all__ = [
    "annulus_weights",
    "cell_masks",
    "cell_weights",
    "estimate_coefficient",
    "extract",
    "running_baseline",
]

_CHUNK_BYTES = 64 << 20  # float32 frames read per extraction step


def cell_masks(footprints: np.ndarray, threshold: float) -> np.ndarray:
    """(neuron, y, x) bool: each footprint at or above ``threshold`` × its peak."""
    peak = footprints.max(axis=(1, 2), initial=0.0)
    return (footprints >= threshold * peak[:, None, None]) & (footprints > 0)


def cell_weights(footprints: np.ndarray, masks: np.ndarray) -> sp.csc_array:
    """(pixel, neuron) weights summing to 1: the footprint on the cell's own pixels.

    Pixels that belong to another cell's mask are left out (their light is
    shared), unless that would leave the cell with none.
    """
    n, ny, nx = footprints.shape
    count = masks.sum(axis=0)
    rows, cols, vals = [], [], []
    for i in range(n):
        own = masks[i] & (count == 1)
        if not own.any():
            own = masks[i]
        idx = np.flatnonzero(own)
        w = footprints[i].ravel()[idx].astype(float)
        rows.append(idx)
        cols.append(np.full(len(idx), i))
        vals.append(w / w.sum())
    return _sparse(rows, cols, vals, (ny * nx, n))


def annulus_weights(
    masks: np.ndarray, inner_gap: float, outer_radius: float, min_pixels: int
) -> tuple[sp.csc_array, np.ndarray, np.ndarray]:
    """(pixel, neuron) uniform weights of each cell's neuropil annulus.

    The annulus holds the pixels farther than ``inner_gap`` and at most
    ``outer_radius`` px from the cell's mask (Euclidean distance to its
    nearest pixel) that lie in no cell's mask. While it has fewer than
    ``min_pixels``, the outer radius grows by half its value (three times at
    most). Returns the weights, the pixel count and the outer radius used per
    neuron.
    """
    n, ny, nx = masks.shape
    any_cell = masks.any(axis=0)
    rows, cols, vals = [], [], []
    counts = np.zeros(n, np.int64)
    radii = np.zeros(n)
    for i in range(n):
        ys, xs = np.nonzero(masks[i])
        radius = float(outer_radius)
        if not len(ys):  # an empty footprint has no surround
            rows.append(np.zeros(0, np.int64))
            cols.append(np.zeros(0, np.int64))
            vals.append(np.zeros(0))
            continue
        for _ in range(4):
            pad = int(np.ceil(radius)) + 1
            y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, ny)
            x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, nx)
            d = ndimage.distance_transform_edt(~masks[i, y0:y1, x0:x1])
            ring = (d > inner_gap) & (d <= radius) & ~any_cell[y0:y1, x0:x1]
            if ring.sum() >= min_pixels:
                break
            radius *= 1.5
        ry, rx = np.nonzero(ring)
        idx = (ry + y0) * nx + (rx + x0)
        counts[i], radii[i] = len(idx), radius
        rows.append(idx)
        cols.append(np.full(len(idx), i))
        vals.append(np.full(len(idx), 1.0 / max(len(idx), 1)))
    return _sparse(rows, cols, vals, (ny * nx, n)), counts, radii


def _sparse(rows, cols, vals, shape) -> sp.csc_array:
    if not rows:
        return sp.csc_array(shape)
    return sp.csc_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=shape,
    )


def extract(data, weights: list[sp.csc_array], progress: bool = False):
    """``[Wᵀ Y]`` (neuron, time) for each weight matrix, in one pass over ``data``.

    ``data`` (time, y, x) is NumPy or lazy (dask, h5py): it is read a chunk of
    frames at a time (about 64 MB as float32). Each neuron's pixels are
    gathered and summed with their weights (the weights are sparse and local).
    """
    from tqdm.auto import tqdm

    T = data.shape[0]
    P = int(np.prod(data.shape[1:]))
    step = max(1, _CHUNK_BYTES // (4 * P))
    out = [np.zeros((w.shape[1], T)) for w in weights]
    plans = []
    for w in weights:
        w = sp.csc_array(w)
        w.sort_indices()
        counts = np.diff(w.indptr)
        filled = np.flatnonzero(counts)
        plans.append((w.indices, w.data, w.indptr[filled], filled))
    for t0 in tqdm(range(0, T, step), desc="traces", disable=not progress):
        block = data[t0 : t0 + step]
        if hasattr(block, "compute"):  # dask
            block = block.compute()
        block = np.asarray(block, np.float64)
        flat = block.reshape(len(block), P)  # (frames, pixel)
        for o, (idx, vals, starts, filled) in zip(out, plans, strict=True):
            if len(filled):
                sums = np.add.reduceat(flat[:, idx] * vals, starts, axis=1)
                o[filled, t0 : t0 + len(block)] = sums.T
    return out


def estimate_coefficient(F: np.ndarray, N: np.ndarray, n_iter: int = 50) -> np.ndarray:
    """Neuropil coefficient α per neuron: a robust (Huber) slope of F on N, in [0, 1].

    ``F = β + α N + e``: the cell's transients are large positive residuals,
    which Huber's loss down-weights. Iteratively reweighted least squares
    (weights ``min(1, k s / |e|)``, ``k = 1.345``, ``s`` the residuals'
    median absolute deviation / 0.6745), all neurons at once; a neuropil
    without variation gives α = 0.
    """
    n_mean = N.mean(axis=1, keepdims=True)
    x = N - n_mean
    ok = x.std(axis=1) > 0
    w = np.ones_like(F)
    alpha = np.zeros(len(F))
    beta = F.mean(axis=1)
    for _ in range(n_iter):
        sw = w.sum(axis=1)
        xm = (w * x).sum(axis=1) / sw
        fm = (w * F).sum(axis=1) / sw
        xc = x - xm[:, None]
        den = (w * xc * xc).sum(axis=1)
        new = np.where(
            ok,
            (w * xc * (F - fm[:, None])).sum(axis=1) / np.where(den > 0, den, 1.0),
            0.0,
        )
        beta = fm - new * xm
        e = F - beta[:, None] - new[:, None] * x
        s = np.median(np.abs(e - np.median(e, axis=1, keepdims=True)), axis=1)
        s = np.maximum(s / 0.6745, 1e-12 * (np.abs(F).max(axis=1) + 1e-300))
        w = np.minimum(1.0, 1.345 * s[:, None] / np.maximum(np.abs(e), 1e-300))
        done = np.allclose(new, alpha, rtol=1e-6, atol=1e-9)
        alpha = new
        if done:
            break
    return np.clip(alpha, 0.0, 1.0)


def running_baseline(F: np.ndarray, window: int, percentile: float) -> np.ndarray:
    """Running ``percentile`` of each row over ``window`` frames (centred).

    Long windows are computed on block means of ``k = window // 25`` frames
    (a window of about 25 blocks) and linearly interpolated back, so the cost
    does not grow with the window.
    """
    T = F.shape[1]
    window = int(min(max(window, 3), T))
    k = max(1, window // 25)
    if k == 1:
        return ndimage.percentile_filter(
            F, percentile, size=(1, window), mode="nearest"
        )
    nb = T // k
    blocks = F[:, : nb * k].reshape(len(F), nb, k).mean(axis=2)
    if nb * k < T:
        blocks = np.concatenate([blocks, F[:, nb * k :].mean(1, keepdims=True)], 1)
    size = max(3, window // k)
    base = ndimage.percentile_filter(blocks, percentile, size=(1, size), mode="nearest")
    centres = np.concatenate(
        [np.arange(nb) * k + (k - 1) / 2, [(nb * k + T - 1) / 2] if nb * k < T else []]
    )
    t = np.arange(T)
    return np.stack([np.interp(t, centres, b) for b in base])
