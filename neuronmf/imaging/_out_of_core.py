"""Segment's out-of-core path: dask patches read block by block, never whole.

A patch above ``patch_memory`` (T × h × w × 4 bytes) stays a dask float32
(time, y, x) array chunked along time (:func:`_lazy_patch`) and is never read
whole: what needs each pixel's whole time series comes from the binned frames
(:func:`_binned_frames`); what is at the full frame rate goes through the
engine's chunked path (:meth:`_OutOfCorePatch.matrix`) or is a reduction over
pixels computed block by block (:meth:`_OutOfCorePatch.mask_means`). The
helpers at the end (:func:`_residual`, :func:`_rows_times`, :func:`_row_means`)
take a (pixels × time) matrix in memory or lazy alike.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from neuronmf.engine.chunked import is_dask
from neuronmf.imaging._filters import gaussian_frames
from neuronmf.imaging.anatomy import (
    _NEUROPIL,
    _NEUROPIL_FACTOR,
    _disc_and_annulus,
    activity_evidence,
)
from neuronmf.imaging.quality import mean_trace_correlation


def _lazy_frame_stats(data, finite: bool, mean_image: bool) -> list:
    """Per-frame min, max (and all-finite), the mean and half-difference images.

    The half-difference image is (sum of the even frames − sum of the odd
    frames) / T (see :func:`neuronmf.imaging.segment._check_frames`).

    One block is read at a time and every statistic is taken from it before the
    next: computing the four dask reductions together kept every block of an
    8.4 GB movie in memory until all four had used it (peak RSS 10.2 GB).
    """
    T, ny, nx = data.shape
    mn = np.full(T, np.inf)
    mx = np.full(T, -np.inf)
    ok = np.ones(T, bool)
    total = np.zeros((ny, nx))
    difference = np.zeros((ny, nx))
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]) for c in data.chunks]
    for i, j, k in np.ndindex(*data.numblocks):
        block = np.asarray(data.blocks[i, j, k].compute())
        t0, y0, x0 = starts[0][i], starts[1][j], starts[2][k]
        ts = slice(t0, t0 + block.shape[0])
        mn[ts] = np.minimum(mn[ts], block.min(axis=(1, 2)))
        mx[ts] = np.maximum(mx[ts], block.max(axis=(1, 2)))
        if finite:
            ok[ts] &= np.isfinite(block).all(axis=(1, 2))
        if mean_image:
            at = np.s_[y0 : y0 + block.shape[1], x0 : x0 + block.shape[2]]
            even = block[t0 % 2 :: 2].sum(axis=0, dtype=np.float64)
            odd = block[1 - t0 % 2 :: 2].sum(axis=0, dtype=np.float64)
            total[at] += even + odd
            difference[at] += even - odd
    stats = [mn, mx]
    if finite:
        stats.append(ok)
    if mean_image:
        stats.append((total / T, difference / T))
    return stats


#: Bytes of one time chunk of an out-of-core patch (float32), at most; the
#: (pixels × time) float64 block of V built from it is twice as large.
OUT_OF_CORE_CHUNK_BYTES = 16 << 20


def _patch_nbytes(T: int, ys: slice, xs: slice) -> int:
    """Bytes of a float32 (T, h, w) patch: what ``patch_memory`` is compared with."""
    return 4 * T * (ys.stop - ys.start) * (xs.stop - xs.start)


def _lazy_patch(data, ys: slice, xs: slice, offset: float, budget: int):
    """One patch as a dask float32 (time, y, x) array chunked along time only.

    A chunk holds at most :data:`OUT_OF_CORE_CHUNK_BYTES` and at most
    ``budget / 8`` bytes (one frame at least), so a few chunks and the float64
    blocks of V made from them stay well under the memory budget. Each chunk
    is its own slice of the movie (for a dask movie, fused into the read of
    its source chunks): rechunking the sliced patch instead would read every
    source chunk whole, all frames of a movie chunked only in space.
    """
    import dask
    import dask.array as da

    T = data.shape[0]
    h, w = ys.stop - ys.start, xs.stop - xs.start
    per_chunk = max(1, min(OUT_OF_CORE_CHUNK_BYTES, budget // 8) // (4 * h * w))
    parts = []
    for t0 in range(0, T, per_chunk):
        t1 = min(t0 + per_chunk, T)
        piece = data[t0:t1, ys, xs]  # a view of an in-memory movie: no copy
        if is_dask(piece):
            if piece.npartitions > 1:
                piece = piece.rechunk(-1)
            (piece,) = piece.to_delayed().ravel()
        parts.append(
            da.from_delayed(
                dask.delayed(_float_frames)(piece, offset),
                shape=(t1 - t0, h, w),
                dtype=np.float32,
            )
        )
    return da.concatenate(parts)


def _float_frames(frames, offset: float) -> np.ndarray:
    """Frames as float32 plus the offset (the arithmetic of an in-memory patch)."""
    Y = np.asarray(frames, dtype=np.float32)
    if offset:
        Y = Y + np.float32(offset)
    return Y


def _bin_sums(block, t0: int, step: int, n_bins: int):
    """Per-bin float64 sums of the frames of a block starting at frame ``t0``."""
    t1 = min(t0 + len(block), n_bins * step)
    if t1 <= t0:
        return None
    idx = np.arange(t0, t1) // step
    cuts = np.concatenate([[0], np.nonzero(np.diff(idx))[0] + 1])
    return int(idx[0]), np.add.reduceat(
        np.asarray(block[: t1 - t0], dtype=np.float64), cuts, axis=0
    )


def _binned_frames(Y, step: int) -> np.ndarray:
    """Frames of a dask (T, h, w) movie averaged in bins of ``step`` (float32).

    Computed block by block (bins may straddle blocks); the incomplete last bin
    is dropped, as in the in-memory seeding. At most ``seed_frames`` frames.
    """
    T, h, w = Y.shape
    n_bins = T // step
    out = np.zeros((n_bins, h, w))
    starts = np.concatenate([[0], np.cumsum(Y.chunks[0])[:-1]])
    import dask

    parts = dask.compute(
        *[
            dask.delayed(_bin_sums)(b, int(t0), step, n_bins)
            for b, t0 in zip(Y.to_delayed().ravel(), starts, strict=True)
        ]
    )
    for part in parts:
        if part is not None:
            first, sums = part
            out[first : first + len(sums)] += sums
    return (out / step).astype(np.float32)


def _highpass(R: np.ndarray, r: float) -> np.ndarray:
    """The movie minus its local spatial mean (Gaussian σ = 2r), frame by frame."""
    return R - gaussian_frames(R, 2 * r)


def _V_block(Y_block, b0: np.ndarray, r: float) -> np.ndarray:
    """(pixels × frames) float64 block of V = max(Y − b0 − local mean, 0)."""
    R = np.asarray(Y_block, dtype=np.float32) - b0
    Rh = _highpass(R, r)
    return np.maximum(Rh, 0).reshape(len(R), -1).T.astype(np.float64)


def _mask_means_block(Y_block, b0: np.ndarray, masks, dtypes) -> np.ndarray:
    """``(Y − b0)[:, m].mean(1, dtype)`` of a block for each mask (rows)."""
    R = np.asarray(Y_block, dtype=np.float32) - b0
    out = np.empty((len(masks), len(R)))
    for i, (m, dt) in enumerate(zip(masks, dtypes, strict=True)):
        out[i] = R[:, m].mean(1, dtype=dt)
    return out


class _OutOfCorePatch:
    """A patch above ``patch_memory``: R = Y − b0 read block by block, never whole.

    ``Y`` is a dask float32 (time, y, x) array chunked along time. What needs
    whole time series of single pixels (the baseline percentile, the seeding)
    comes from the binned frames (at most ``seed_frames``); what is at the full
    frame rate goes through the engine's chunked path (:meth:`matrix`) or is a
    reduction over pixels computed block by block (:meth:`mask_means`), so it
    is exact.
    """

    def __init__(self, Y, b0: np.ndarray, r: float) -> None:
        self.Y = Y
        self.b0 = b0
        self.r = r
        self.T, self.h, self.w = Y.shape

    def matrix(self):
        """Lazy (pixels × time) float64 V = max(Rh, 0), one block per time chunk."""
        import dask
        import dask.array as da

        parts = [
            da.from_delayed(
                dask.delayed(_V_block)(b, self.b0, self.r),
                shape=(self.h * self.w, n),
                dtype=np.float64,
            )
            for b, n in zip(self.Y.to_delayed().ravel(), self.Y.chunks[0], strict=True)
        ]
        return da.concatenate(parts, axis=1)

    def mask_means(self, masks, dtype=None) -> np.ndarray:
        """(len(masks), T): ``R[:, m].mean(1, dtype=dtype)`` per mask, in one pass."""
        if not len(masks):
            return np.zeros((0, self.T))
        dtypes = [dtype] * len(masks)
        blocks = self.Y.to_delayed().ravel()
        parts = _compute_blocks(blocks, _mask_means_block, self.b0, masks, dtypes)
        return np.concatenate(parts, axis=1)

    def trace_correlation(self, A: np.ndarray, C: np.ndarray) -> np.ndarray:
        """:func:`~neuronmf.imaging.quality.trace_correlation` of ``R`` (exact)."""
        K = len(A)
        masks = [a >= 0.2 * max(a.max(), 1e-30) for a in A]
        idx = [k for k in range(K) if masks[k].any()]
        means = np.zeros((K, self.T))
        means[idx] = self.mask_means([masks[k] for k in idx]).astype(np.float32)
        return mean_trace_correlation(means, C)

    def activity_evidence(self, points) -> np.ndarray:
        """:func:`~neuronmf.imaging.anatomy.activity_evidence` of ``R`` (exact)."""
        r = self.r
        P = np.asarray(points, dtype=float).reshape(-1, 2)
        out = np.zeros(len(P))
        half = int(np.ceil(_NEUROPIL[1] * r)) + 1
        discs, rings = [], []
        for y, x in P:
            # the window, disc and annulus of activity_evidence, in patch pixels
            y0, y1 = max(int(y) - half, 0), min(int(y) + half + 1, self.h)
            x0, x1 = max(int(x) - half, 0), min(int(x) + half + 1, self.w)
            d, g = _disc_and_annulus((y1 - y0, x1 - x0), y - y0, x - x0, r)
            disc = np.zeros((self.h, self.w), bool)
            ring = np.zeros((self.h, self.w), bool)
            disc[y0:y1, x0:x1], ring[y0:y1, x0:x1] = d, g
            discs.append(disc)
            rings.append(ring)
        use = [k for k in range(len(P)) if discs[k].any()]
        with_ring = [k for k in use if rings[k].any()]
        masks = [discs[k] for k in use] + [rings[k] for k in with_ring]
        F = self.mask_means(masks, np.float64)
        for i, k in enumerate(use):
            f = F[i]
            if k in with_ring:
                f = f - _NEUROPIL_FACTOR * F[len(use) + with_ring.index(k)]
            # a one-pixel movie: its disc is that pixel and it has no annulus,
            # so f is scored exactly as activity_evidence scores a disc trace
            out[k] = activity_evidence(f[:, None, None], [[0.0, 0.0]], r)[0]
        return out


def _compute_blocks(blocks, func, *args) -> list:
    """``func(block, *args)`` for every block (dask tasks, a few blocks in memory)."""
    import dask

    return list(dask.compute(*[dask.delayed(func)(b, *args) for b in blocks]))


def _map_columns(V, func, W, H):
    """Lazy ``func(V_j, W, H[:, j])`` over the column blocks ``V_j`` of a dask V."""
    import dask
    import dask.array as da

    V = V.rechunk({0: -1})
    edges = np.concatenate([[0], np.cumsum(V.chunks[1])])
    parts = [
        da.from_delayed(
            dask.delayed(func)(block, W, H[:, a:b]),
            shape=(V.shape[0], b - a),
            dtype=V.dtype,
        )
        for block, a, b in zip(
            V.to_delayed().ravel(), edges[:-1], edges[1:], strict=True
        )
    ]
    return da.concatenate(parts, axis=1)


def _residual(V, W, H):
    """``max(V − W·H, 0)``; lazy for a dask ``V`` (W·H is never formed whole)."""
    if not is_dask(V):
        return _residual_block(V, W, H)
    return _map_columns(V, _residual_block, W, H)


def _residual_block(V_block, W, H_block):
    """``max(V − W·H, 0)`` in one new array.

    Footprints cover a few hundred of a patch's pixels: a mostly-zero ``W``
    is multiplied as a sparse matrix (its non-zeros × time products instead
    of pixels × components × time).
    """
    W = np.asarray(W)
    if W.size and np.count_nonzero(W) < 0.25 * W.size:
        out = np.asarray(sparse.csr_array(W) @ np.asarray(H_block))
    else:
        out = W @ H_block
    out = out.astype(np.result_type(V_block, out), copy=False)
    np.subtract(V_block, out, out=out)
    return np.maximum(out, 0, out=out)


def _rows_times(M: np.ndarray, V) -> np.ndarray:
    """``M @ V`` (in memory), V in memory or a dask (pixels × time) matrix."""
    if not is_dask(V):
        return M @ V
    import dask.array as da

    return np.asarray((da.from_array(M, chunks=M.shape) @ V).compute())


def _row_means(V) -> np.ndarray:
    if not is_dask(V):
        return V.mean(1, keepdims=True)
    return np.asarray(V.mean(axis=1, keepdims=True).compute())
