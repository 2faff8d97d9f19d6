"""``segment``: neurons (footprints + traces) from a calcium-imaging movie."""

from __future__ import annotations

import numbers
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr
from scipy import ndimage

from neuronmf.engine._validation import check_bool, check_int, check_real
from neuronmf.engine.chunked import is_dask
from neuronmf.errors import input_error
from neuronmf.imaging.anatomy import (
    _NEUROPIL,
    _NEUROPIL_FACTOR,
    _check_radius,
    _disc_and_annulus,
    activity_evidence,
    anatomy_score,
    disc_footprints,
    ring_candidates,
)
from neuronmf.imaging.merging import merge_duplicates
from neuronmf.imaging.patches import make_patches
from neuronmf.imaging.quality import compactness, trace_correlation, trace_snr
from neuronmf.imaging.seeds import greedy_seeds


def _as_movie(movie) -> xr.DataArray:
    if isinstance(movie, xr.DataArray):
        if movie.ndim != 3:
            raise input_error(
                "movie", "a 3-D (time, y, x) DataArray", f"dims {movie.dims}"
            )
        if "time" in movie.dims:
            others = [d for d in movie.dims if d != "time"]
            movie = movie.transpose("time", *others)
        return movie
    arr = movie if hasattr(movie, "ndim") else np.asarray(movie)
    if arr.ndim != 3:
        raise input_error(
            "movie", "a 3-D (time, y, x) array", f"shape {getattr(arr, 'shape', None)}"
        )
    return xr.DataArray(arr, dims=("time", "y", "x"), name="movie")


def _lazy_frame_stats(data, finite: bool, mean_image: bool) -> list:
    """Per-frame min, max (and all-finite), and the mean image, of a dask movie.

    One block is read at a time and every statistic is taken from it before the
    next: computing the four dask reductions together kept every block of an
    8.4 GB movie in memory until all four had used it (peak RSS 10.2 GB).
    """
    T, ny, nx = data.shape
    mn = np.full(T, np.inf)
    mx = np.full(T, -np.inf)
    ok = np.ones(T, bool)
    total = np.zeros((ny, nx))
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
            total[y0 : y0 + block.shape[1], x0 : x0 + block.shape[2]] += block.sum(
                axis=0, dtype=np.float64
            )
    stats = [mn, mx]
    if finite:
        stats.append(ok)
    if mean_image:
        stats.append(total / T)
    return stats


def _check_frames(movie: xr.DataArray, mean_image: bool = False) -> dict:
    """One (lazy) pass over the movie: non-finite, constant and saturated frames.

    With ``mean_image`` the temporal mean image (float64) is computed in the
    same pass (key ``"mean"``).
    """
    data = movie.data
    dtype = np.dtype(movie.dtype)
    if not (np.issubdtype(dtype, np.number)) or np.issubdtype(
        dtype, np.complexfloating
    ):
        raise input_error("movie", "real numbers", f"dtype {dtype}")
    axes = (1, 2)
    if hasattr(data, "dask"):
        import dask.array as da

        lib = da
    else:
        lib = np
    finite = np.issubdtype(dtype, np.floating)
    if lib is np:
        stats = [np.min(data, axis=axes), np.max(data, axis=axes)]
        if finite:
            stats.append(np.isfinite(data).all(axis=axes))
        if mean_image:
            stats.append(np.mean(data, axis=0, dtype=np.float64))
    else:
        stats = _lazy_frame_stats(data, finite, mean_image)
    mn, mx = np.asarray(stats[0], float), np.asarray(stats[1], float)
    if finite:
        bad = np.nonzero(~np.asarray(stats[2]))[0]
        if len(bad):
            t = movie["time"].values[bad[0]] if "time" in movie.coords else bad[0]
            raise input_error(
                f"frame {int(bad[0])} (time {t}) of the movie",
                "finite",
                "NaN or Inf",
                f"{len(bad)} frame(s) are non-finite; drop or interpolate them.",
            )
    constant = np.nonzero(mx == mn)[0].tolist()
    if len(constant) == len(mn):
        raise input_error("movie", "not constant", f"every frame is constant ({mn[0]})")
    saturated: list[int] = []
    if np.issubdtype(dtype, np.integer):
        top = np.iinfo(dtype).max
        saturated = np.nonzero((mn == top) | ((mx == top) & (mn == mx)))[0].tolist()
    return {
        "constant_frames": constant,
        "saturated_frames": saturated,
        "min": float(mn.min()),
        "max": float(mx.max()),
        "mean": np.asarray(stats[-1], np.float64) if mean_image else None,
    }


SEEDS = ("activity", "anatomy+activity", "anatomy")


def default_parameters(neuron_radius: float) -> dict:
    """Every parameter of :func:`segment` derived from the neuron radius (pixels).

    Examples
    --------
    >>> default_parameters(5.0)["patch"]
    64
    """
    r = float(neuron_radius)
    return {
        "patch": int(max(64, np.ceil(12 * r))),
        "overlap": int(np.ceil(4 * r)),
        "min_corr": 0.2,
        "min_pnr": 5.0,
        "min_snr": 3.0,
        "min_trace_corr": 0.5,
        "min_area": int(np.ceil(np.pi * (0.4 * r) ** 2)),
        "max_area": int(np.ceil(np.pi * (2.5 * r) ** 2)),
        "merge_threshold": 0.8,
        "merge_dilation": int(max(1, round(r / 2))),
        "smoothness": 0.1,
        "sparsity": 0.0,
        "baseline_percentile": 10.0,
        "support_dilation": 1,
        "refine_iter": 30,
        "footprint_threshold": 0.3,
        "seed_frames": 1000,
        "anatomy_threshold": 0.55,
        "anatomy_activity_weight": 0.0,
        "patch_memory": 1 << 30,
    }


def _centroids(A: np.ndarray) -> np.ndarray:
    """(y, x) centroid of each footprint's pixels ≥ 0.2 × its max (NaN if empty)."""
    out = np.full((len(A), 2), np.nan)
    for k, a in enumerate(A):
        yy, xx = np.nonzero(a >= 0.2 * max(a.max(), 1e-30))
        if len(yy):
            out[k] = yy.mean(), xx.mean()
    return out


def _fit_traces(V, W, C0, bg_W, bg_H, background_rank):
    """Unpenalised NMF background on what the neurons leave, then exact NNLS traces."""
    import neuronmf as nm

    bres = nm.nmf(_residual(V, W, C0), background_rank, W=bg_W, H=bg_H, max_iter=20)
    bg_W, bg_H = np.asarray(bres.W), np.asarray(bres.H)
    C = np.asarray(nm.project(_residual(V, bg_W, bg_H), W))
    return C, bg_W, bg_H


def _residual(V, W, H):
    """``max(V − W·H, 0)``; lazy for a dask ``V`` (W·H is never formed whole)."""
    if not is_dask(V):
        return np.maximum(V - W @ H, 0)
    return _map_columns(V, _residual_block, W, H)


def _residual_block(V_block, W, H_block):
    return np.maximum(V_block - W @ H_block, 0)


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


def _compute_blocks(blocks, func, *args) -> list:
    """``func(block, *args)`` for every block (dask tasks, a few blocks in memory)."""
    import dask

    return list(dask.compute(*[dask.delayed(func)(b, *args) for b in blocks]))


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
    return R - ndimage.gaussian_filter(R, (0, 2 * r, 2 * r))


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
        F = self.mask_means([masks[k] for k in idx]).astype(np.float32)
        # a one-pixel-per-component movie holding each mask's mean trace: the
        # same correlations, by the same function
        R1 = np.zeros((self.T, 1, K), np.float32)
        A1 = np.zeros((K, 1, K))
        R1[:, 0, idx] = F.T
        A1[idx, 0, idx] = 1.0
        return trace_correlation(A1, C, R1)

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


def _evidence(R, points, r: float) -> np.ndarray:
    if isinstance(R, _OutOfCorePatch):
        return R.activity_evidence(points)
    return activity_evidence(R, points, r)


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


def _bin_traces(C: np.ndarray, step: int) -> np.ndarray:
    """Traces averaged in bins of ``step`` frames (the incomplete last bin dropped)."""
    n = C.shape[1] // step
    return C[:, : n * step].reshape(len(C), n, step).mean(axis=2)


#: Above this size the footprints of a segmentation are a lazy dask array (one
#: chunk per neuron, built from its patch-sized crop) instead of a dense NumPy
#: array: 2,088 neurons in a 1024 × 1024 field are 8.8 GB dense.
DENSE_FOOTPRINTS_MAX_BYTES = 1 << 30


def _dense_footprint(a: np.ndarray, ys: slice, xs: slice, shape) -> np.ndarray:
    out = np.zeros((1, *shape), np.float32)
    out[0, ys, xs] = a
    return out


def _footprint_array(crops, shape):
    """(neuron, y, x) footprints from ``(a, ys, xs)`` crops of the field of view.

    Dense in memory up to :data:`DENSE_FOOTPRINTS_MAX_BYTES`; beyond that a
    dask array whose chunks are built on demand (one neuron each), so the
    segmentation's memory stays bounded by the patch until the footprints are
    written (NetCDF and NWB writers go chunk by chunk) or computed.
    """
    n = len(crops)
    if 4 * n * shape[0] * shape[1] <= DENSE_FOOTPRINTS_MAX_BYTES:
        A = np.zeros((n, *shape), np.float32)
        for i, (a, ys, xs) in enumerate(crops):
            A[i, ys, xs] = a
        return A
    import dask
    import dask.array as da

    return da.concatenate(
        [
            da.from_delayed(
                dask.delayed(_dense_footprint)(a, ys, xs, shape),
                shape=(1, *shape),
                dtype=np.float32,
            )
            for a, ys, xs in crops
        ]
    )


def _refine_footprints(V, A, C, bg_W, bg_H, p):
    """Footprint refinement of ``refine="full"`` (step 3 of :func:`segment`).

    Two rounds of a background NMF and the graph-Laplacian/L1 NMF from the
    seeds, in memory (``V`` is a NumPy matrix). Returns the footprints ``A``
    (K, h, w), the same as unit columns ``W`` (pixels × K), and the background
    ``bg_W``, ``bg_H``.
    """
    import neuronmf as nm

    K, h, w = A.shape
    background_rank = bg_W.shape[1]
    support = (
        ndimage.binary_dilation(
            A > 0,
            structure=np.ones((1, 3, 3), bool),
            iterations=p["support_dilation"],
        )
        .reshape(K, -1)
        .T
    )
    W = A.reshape(K, -1).T.copy()
    H = C.copy()
    graph = nm.grid_graph((h, w), connectivity=8)
    for _ in range(2):
        # unpenalised low-rank background on what the neurons leave
        Rb = np.maximum(V - W @ H, 0)
        bres = nm.nmf(Rb, background_rank, W=bg_W, H=bg_H, max_iter=20)
        bg_W, bg_H = np.asarray(bres.W), np.asarray(bres.H)
        Vn = np.maximum(V - bg_W @ bg_H, 0)
        res = nm.nmf(
            Vn,
            K,
            W=W,
            H=np.maximum(H, 1e-6),
            graph_W=graph,
            graph_weight=p["smoothness"],
            l1_W=p["sparsity"],
            max_iter=p["refine_iter"],
        )
        W = np.asarray(res.W) * support
        W /= np.maximum(np.linalg.norm(W, axis=0), 1e-30)
        H = np.asarray(nm.project(Vn, W))
    A = W.T.reshape(K, h, w)
    # same footprint rule as the seeds: connected part >= footprint_threshold × max
    for k in range(K):
        a = A[k]
        if a.max() <= 0:
            continue
        lab, _n = ndimage.label(a >= p["footprint_threshold"] * a.max())
        A[k] = a * (lab == lab.flat[np.argmax(a)])
    W = A.reshape(K, -1).T
    W = W / np.maximum(np.linalg.norm(W, axis=0), 1e-30)
    A = W.T.reshape(K, h, w)
    return A, W, bg_W, bg_H


def _segment_patch(
    Y,
    r: float,
    p: dict,
    n_neurons,
    background_rank: int,
    refine,
    seeds: str,
    anat: dict,
):
    """Seeds → engine refinement → merging → quality (→ anatomy), on one patch.

    ``anat`` holds the patch's slice of the ring-response image (``"response"``)
    and the anatomical candidates whose peak lies in the patch core
    (``"peaks"`` in patch coordinates, ``"ring"``; empty unless ``seeds``
    includes anatomy).

    ``Y`` is a NumPy (time, y, x) patch, or a dask one (a patch above
    ``patch_memory``, chunked along time) that is never read whole: see
    :class:`_OutOfCorePatch`.
    """
    import neuronmf as nm

    out_of_core = is_dask(Y)
    T, h, w = Y.shape
    # long movies are seeded on frames averaged in bins of `step` (calcium
    # transients span several frames; averaging also lowers the noise)
    step = max(1, int(np.ceil(T / p["seed_frames"])))
    if out_of_core:
        # baseline from the binned frames (an approximation: averaging lowers
        # the noise, so the low percentile sits a little higher); subtracting
        # the baseline and the local mean are linear, so the binned Rh is the
        # high-pass of the binned movie minus the baseline
        Yb = _binned_frames(Y, step)
        b0 = np.percentile(Yb, p["baseline_percentile"], axis=0).astype(np.float32)
        Yb -= b0
        Rs = _highpass(Yb, r)
        # the seeding subtracts its components from Rs: keep the binned movie
        # for the footprint refinement
        Rb = Rs.copy() if refine == "full" else None
        del Yb
        R = _OutOfCorePatch(Y, b0, r)
    else:
        Y = np.asarray(Y, dtype=np.float32)
        b0 = np.percentile(Y, p["baseline_percentile"], axis=0).astype(np.float32)
        R = Y - b0
        Rh = R - ndimage.gaussian_filter(R, (0, 2 * r, 2 * r))
        if step > 1:
            Rs = Rh[: T // step * step].reshape(T // step, step, h, w).mean(axis=1)
        else:
            Rs = Rh.copy()
    cap = max(1, min(h * w, T) - background_rank - 1)
    limit = cap if n_neurons is None else min(n_neurons, cap)
    if seeds != "anatomy":
        # seeds on the movie minus its local spatial mean (neuropil flattened)
        A, C, _ = greedy_seeds(
            Rs,
            r,
            max_neurons=limit,
            min_corr=p["min_corr"],
            min_pnr=p["min_pnr"],
            min_area=p["min_area"],
        )
    else:
        A, C = np.zeros((0, h, w)), np.zeros((0, T))
    if len(A) > 1:
        # fragments of one soma (its dim rim left in the residual) before the
        # costly joint trace projection
        A, C, _groups = merge_duplicates(
            A, C, threshold=p["merge_threshold"], dilation=p["merge_dilation"]
        )
    K = len(A)
    # refinement data: baseline- and neuropil-flattened movie, clipped at zero
    # (out of core: a lazy matrix the engine reads block by block)
    if out_of_core:
        V = R.matrix()
    else:
        V = np.maximum(Rh, 0).reshape(T, -1).T.astype(np.float64)
    bg_W = np.maximum(_row_means(V), 1e-6)
    bg_W = np.repeat(bg_W, background_rank, axis=1) * (
        1 + 0.01 * np.arange(background_rank)
    )
    bg_H = np.ones((background_rank, T))
    if step > 1 and K:  # traces at the full frame rate
        C = np.asarray(nm.project(V, A.reshape(K, -1).T))
    if refine == "traces" and K:
        C, bg_W, bg_H = _fit_traces(
            V, A.reshape(K, -1).T, C, bg_W, bg_H, background_rank
        )
    elif refine == "full" and K and out_of_core:
        # footprints refined on the binned movie (the graph penalty needs the
        # data in memory); background and traces then at the full frame rate
        Tb = len(Rb)
        Vb = np.maximum(Rb, 0).reshape(Tb, -1).T.astype(np.float64)
        A, W, bg_W, _ = _refine_footprints(
            Vb, A, _bin_traces(C, step), bg_W, np.ones((background_rank, Tb)), p
        )
        del Vb
        C0 = np.asarray(nm.project(V, W))
        C, bg_W, bg_H = _fit_traces(V, W, C0, bg_W, bg_H, background_rank)
    elif refine == "full" and K:
        A, W, bg_W, bg_H = _refine_footprints(V, A, C, bg_W, bg_H, p)
        C = np.asarray(nm.project(np.maximum(V - bg_W @ bg_H, 0), W))
    if K:
        A, C, _groups = merge_duplicates(
            A, C, threshold=p["merge_threshold"], dilation=p["merge_dilation"]
        )
        if refine and len(A) < K:
            Wm = A.reshape(len(A), -1).T
            C = np.asarray(nm.project(_residual(V, bg_W, bg_H), Wm))
    K = len(A)
    # activity components are accepted or rejected on the activity-only fit
    quality = _quality(A, C, R, p)
    reasons = quality[4]
    origin = ["activity"] * K
    cen = _centroids(A)
    at = np.nan_to_num(cen, nan=-1.0).round().astype(int)
    valid = (at[:, 0] >= 0) & (at[:, 1] >= 0)
    at = np.clip(at, 0, [h - 1, w - 1])
    resp = anat["response"]
    ring = np.where(valid, resp[at[:, 0], at[:, 1]], np.nan)
    act = np.where(valid, _evidence(R, at, r), np.nan)
    peaks, cring = anat["peaks"], anat["ring"]
    if len(peaks):
        cact = _evidence(R, peaks, r)
        z = anatomy_score(cring, cact, p["anatomy_activity_weight"])
        ok = z >= p["anatomy_threshold"]
        kept = np.array([not why for why in reasons], bool)
        dist = np.full((len(peaks), K), np.inf)
        if K:
            dist = np.nan_to_num(
                np.hypot(*(peaks[:, None, :] - cen[None, :, :]).transpose(2, 0, 1)),
                nan=np.inf,
            )
            # a kept activity component within r of a candidate wins
            ok &= (dist[:, kept] >= r).all(1)
        idx = np.nonzero(ok)[0]
        idx = idx[np.argsort(-z[idx], kind="stable")][: max(limit - K, 0)]
        # a rejected activity component within r of a chosen candidate gives way
        replaced = ~kept & (dist[idx] < r).any(0)
        if len(idx):
            D = disc_footprints(peaks[idx], (h, w), r)
            stay = np.nonzero(~replaced)[0]
            W = np.concatenate([A[stay], D]).reshape(len(stay) + len(idx), -1).T
            Dm = D.reshape(len(idx), -1)
            C0 = np.concatenate([C[stay], np.maximum(_rows_times(Dm, V), 0)])
            if refine:
                C_all, bg_W, bg_H = _fit_traces(V, W, C0, bg_W, bg_H, background_rank)
            else:
                C_all = np.concatenate(
                    [C[stay], np.asarray(nm.project(V, W))[len(stay) :]]
                )
            C = C.copy()
            C[stay] = C_all[: len(stay)]
            A = np.concatenate([A, D])
            C = np.concatenate([C, C_all[len(stay) :]])
            origin += ["anatomy"] * len(idx)
            ring = np.concatenate([ring, cring[idx]])
            act = np.concatenate([act, cact[idx]])
    if len(A) > K:
        # quality values of the final traces; anatomical components are not
        # judged on activity: only their area counts
        snr, comp, rval, area, new_reasons = _quality(A, C, R, p)
        for why in new_reasons[K:]:
            reasons.append(
                "; ".join(x for x in why.split("; ") if x.startswith("area"))
            )
        quality = (snr, comp, rval, area, reasons)
    return {
        "A": A,
        "C": C,
        "b0": b0,
        "bg_W": bg_W.T.reshape(background_rank, h, w),
        "bg_H": bg_H,
        "quality": quality,
        "origin": origin,
        "ring": ring,
        "activity": act,
        "score": anatomy_score(ring, act, p["anatomy_activity_weight"]),
    }


def _quality(A, C, R, p):
    snr = trace_snr(C)
    comp = compactness(A)
    if isinstance(R, _OutOfCorePatch):
        rval = R.trace_correlation(A, C)
    else:
        rval = trace_correlation(A, C, R)
    area = np.array([(a >= 0.2 * max(a.max(), 1e-30)).sum() for a in A])
    reasons = []
    for k in range(len(A)):
        why = []
        if snr[k] < p["min_snr"]:
            why.append(f"snr {snr[k]:.2f} < {p['min_snr']}")
        if rval[k] < p["min_trace_corr"]:
            why.append(f"trace correlation {rval[k]:.2f} < {p['min_trace_corr']}")
        if area[k] < p["min_area"]:
            why.append(f"area {area[k]} px < {p['min_area']}")
        if area[k] > p["max_area"]:
            why.append(f"area {area[k]} px > {p['max_area']}")
        reasons.append("; ".join(why))
    return snr, comp, rval, area, reasons


def _collect_patch(tile, out: dict) -> dict:
    """The part of one patch's result that the assembly keeps.

    Components whose centroid lies outside the patch core belong to a
    neighbouring patch and are dropped; rejected ones keep only their centroid,
    reason and origin; kept footprints are cropped to their non-zero bounding
    box (float32) with the matching slices of the field of view.
    """
    ys, xs, (cy, cx) = tile
    lc = (
        slice(cy.start - ys.start, cy.stop - ys.start),
        slice(cx.start - xs.start, cx.stop - xs.start),
    )
    scale = out["bg_H"].mean(1, keepdims=True) + 1e-30
    kept = {
        "baseline": out["b0"][lc],
        "bg_A": (out["bg_W"] * scale[:, :, None])[(slice(None), *lc)],
        "bg_C": out["bg_H"] / scale,
        "rejected_centroid": [],
        "rejected_reason": [],
        "rejected_origin": [],
        "crops": [],
        "traces": [],
        "origin": [],
        "quality": [],
    }
    snr, comp, rval, area, reasons = out["quality"]
    for k, a in enumerate(out["A"]):
        yy, xx = np.nonzero(a >= 0.2 * max(a.max(), 1e-30))
        if not len(yy):
            continue
        gy, gx = yy.mean() + ys.start, xx.mean() + xs.start
        if not (cy.start <= round(gy) < cy.stop and cx.start <= round(gx) < cx.stop):
            continue
        if reasons[k]:
            kept["rejected_centroid"].append((gy, gx))
            kept["rejected_reason"].append(reasons[k])
            kept["rejected_origin"].append(out["origin"][k])
            continue
        rows = np.nonzero(a.any(1))[0]
        cols = np.nonzero(a.any(0))[0]
        by = slice(rows[0], rows[-1] + 1)
        bx = slice(cols[0], cols[-1] + 1)
        kept["crops"].append(
            (
                np.array(a[by, bx], dtype=np.float32),
                slice(ys.start + by.start, ys.start + by.stop),
                slice(xs.start + bx.start, xs.start + bx.stop),
            )
        )
        kept["traces"].append(out["C"][k])
        kept["origin"].append(out["origin"][k])
        kept["quality"].append(
            (
                snr[k],
                comp[k],
                rval[k],
                area[k],
                gy,
                gx,
                out["ring"][k],
                out["activity"][k],
                out["score"][k],
            )
        )
    return kept


def segment(
    movie,
    *,
    neuron_radius: float = 5.0,
    n_neurons: int | str = "auto",
    background_rank: int = 1,
    smoothness: float | None = None,
    sparsity: float | None = None,
    patch: int | None = None,
    overlap: int | None = None,
    n_jobs: int = 1,
    refine: str | bool = "traces",
    seeds: str = "anatomy+activity",
    progress: bool = False,
    **options,
) -> xr.Dataset:
    """Segment neurons from a calcium-imaging movie with spatially penalised NMF.

    One pass over the movie checks its frames and computes its temporal mean
    image; the anatomical candidates come from that image (step 6). Then, per
    overlapping patch (read lazily, one patch at a time):

    1. baseline ``b0`` = per-pixel ``baseline_percentile`` over time;
    2. seeds (``seeds`` includes ``"activity"``): greedy rank-1 components at
       the best local-correlation × peak-to-noise pixels of the
       baseline-subtracted movie (CNMF-like);
    3. refinement with the engine (``refine="full"``; two rounds): an unpenalised rank-
       ``background_rank`` NMF background, then ``neuronmf.nmf`` on the
       background-subtracted patch started from the seeds with a
       graph-Laplacian penalty over the 8-neighbour pixel grid
       (``smoothness``) and L1 (``sparsity``) on the footprints; footprints
       are then zeroed outside their seed support dilated by
       ``support_dilation`` px (the neighbourhood restriction) and the traces
       re-projected exactly (``neuronmf.project``);
    4. merging of overlapping or touching (supports dilated by
       ``merge_dilation`` px) components whose traces correlate >
       ``merge_threshold``, once after seeding and again after refinement;
    5. quality: SNR, compactness, trace correlation; components failing
       ``min_snr``, ``min_trace_corr``, ``min_area`` or ``max_area`` are
       rejected with the reason kept;
    6. anatomy (``seeds`` includes ``"anatomy"``): ring-shaped somata in the
       contrast-normalised mean image (:mod:`neuronmf.imaging.anatomy`: a
       ring matched filter, local maxima ≥ 1.5 radii apart). A candidate is
       kept when its ``anatomy_score`` = ring response +
       ``anatomy_activity_weight`` × the peak-to-noise of its
       neuropil-corrected disc trace reaches ``anatomy_threshold``, and no
       accepted activity component has its centroid within one radius (a
       rejected one within one radius gives way). Its footprint is a disc of
       one radius; the traces of all components are then fitted again jointly
       (background NMF + exact NNLS, as in step 3). Anatomical components are
       rejected only for their area, never for a quiet trace; activity
       components keep the decision of step 5, made before anatomy was added,
       while ``snr`` and ``trace_correlation`` report the final traces.

    Out of core: a patch larger than ``patch_memory`` (T × h × w × 4 bytes) is
    never read whole. It stays a dask array chunked along time (chunks of at
    most 16 MiB and ``patch_memory / 8``), and

    - what needs each pixel's whole time series comes from the frames binned
      for the seeding (at most ``seed_frames``, computed block by block): the
      seeds, and the baseline ``b0`` — the percentile of the *binned* frames,
      an approximation used only out of core (averaging lowers the noise, so
      the low percentile sits higher: for white noise in bins of 3 frames,
      by about half a noise SD);
    - what is at the full frame rate goes through the engine's chunked path:
      the background NMF and the NNLS traces (``neuronmf.nmf`` /
      ``neuronmf.project`` on the lazy (pixels × time) matrix, one block per
      chunk), so traces keep the full frame rate;
    - the trace correlation (step 5) and the activity evidence (step 6) are
      exact: the mask-mean traces they use are reductions over pixels,
      computed block by block (a per-pixel baseline does not change them);
    - ``refine="full"`` refines the footprints on the binned movie (its graph
      penalty needs the data in memory), then fits background and traces at
      the full frame rate as ``"traces"`` does.

    Each pass over such a patch reads it again (some 20–30 passes with the
    default ``refine``). Patches within the budget are processed in memory,
    exactly as before; ``attrs["n_patches_out_of_core"]`` counts the others.

    Parameters
    ----------
    movie : DataArray (time, y, x) or array
        In memory or dask-backed (from ``neuronmf.io.load_movie``).
    neuron_radius : float
        Typical soma radius in pixels; every default follows from it
        (:func:`default_parameters`).
    n_neurons : "auto" or int
        Maximum number of seeds per patch (``"auto"``: until no pixel passes
        ``min_corr`` and ``min_pnr``); anatomical components fill what the
        activity seeds leave.
    background_rank : int
        Rank of the unpenalised background per patch.
    smoothness : float, optional
        Graph-Laplacian weight λ on footprints (default 0.1).
    sparsity : float, optional
        L1 weight on footprints (default 0).
    patch, overlap : int, optional
        Patch side and overlap in pixels (defaults max(64, 12·r) and 4·r).
    n_jobs : int
        Patches processed in parallel threads.
    refine : {"traces", "full", False}
        ``"traces"`` (default): footprints from the seeds, background by an
        unpenalised NMF and traces by exact NNLS (``neuronmf.project``);
        ``"full"``: also refine footprints with the graph-Laplacian/L1 NMF
        (step 3; experimental: on our simulated movies it *lowers* IoU from
        1.0 to about 0.8, so it is not the default; anatomical discs are not
        refined); ``False``: seeds only (anatomical traces by NNLS).
    seeds : {"anatomy+activity", "activity", "anatomy"}
        Where neurons come from: transients (steps 2–5), ring-shaped somata in
        the mean image (step 6), or both (default). On neurofinder_subset
        (200 frames) both raise IoU-F1 from 0.12 to 0.44, because most
        annotated neurons barely fire in so short a movie but are visible
        anatomically; on movies whose somata are filled blobs, not rings
        (``datasets.simulate_movie``), anatomy adds nothing and nothing is lost.
    progress : bool
        Show a progress bar over patches (tqdm, on stderr).
    **options
        Any key of :func:`default_parameters`: ``min_corr`` (seed local
        correlation, 0.2), ``min_pnr`` (seed peak-to-noise, 5), ``min_snr``
        (trace SNR, 3), ``min_trace_corr`` (trace vs movie under the mask,
        0.5), ``min_area``/``max_area`` (px; seeds smaller than ``min_area`` are
        not kept), ``merge_threshold`` (0.8), ``merge_dilation`` (px, r/2),
        ``baseline_percentile`` (10), ``support_dilation`` (px),
        ``refine_iter`` (engine iterations per round), ``footprint_threshold``
        (footprints keep their connected part ≥ this × max, 0.3),
        ``seed_frames`` (1000: longer movies are seeded on frames averaged in
        bins of ⌈T / seed_frames⌉; traces are always fitted at the full frame
        rate), ``anatomy_threshold`` (minimum anatomical score, 0.55, in units of the
        local contrast of the mean image; a sharp ring scores up to ≈ 2–4),
        ``anatomy_activity_weight`` (weight of the transient evidence in the
        anatomical score, ≥ 0; default 0: on neurofinder_subset it did not
        help on held-out halves of the field of view, see docs/imaging.md) and
        ``patch_memory`` (bytes, positive integer, 1 GiB = ``1 << 30``: the
        largest patch, counted as T × h × w × 4 bytes, processed in memory;
        larger patches are processed out of core, see above).

    Returns
    -------
    xarray.Dataset
        ``footprints`` (neuron, y, x), ``traces`` (neuron, time), ``dff``
        (neuron, time), ``snr``, ``compactness``, ``trace_correlation``,
        ``area``, ``centroid`` (neuron, axis), ``baseline`` (y, x),
        ``background_footprints`` (background, y, x) and
        ``background_traces`` (background, time) (patch backgrounds joined on
        their cores; temporal components averaged over patches); per neuron
        ``origin`` (``"activity"`` or ``"anatomy"``), ``ring_response``,
        ``activity_evidence`` and ``anatomy_score`` (step 6, at the anatomical
        peak or at an activity component's centroid, for every neuron); the
        rejected components (``rejected_centroid``, ``rejected_reason``,
        ``rejected_origin``); parameters and provenance in ``attrs``
        (str/int/float only; ``seeds``, ``n_anatomy``,
        ``n_patches_out_of_core``).

    Examples
    --------
    >>> import neuronmf as nm
    >>> sim = nm.datasets.simulate_movie((48, 48), 200, 8, 4.0, seed=1)
    >>> seg = segment(sim.data, neuron_radius=4.0)
    >>> seg.sizes["neuron"] >= 6
    True
    """
    # Every option's type and range before any work: refused, never coerced
    # (issue 21, defect 7: "no" is truthy, int(64.5) is 64, float("0.1") parses).
    if not (
        (isinstance(refine, str) and refine in ("traces", "full"))
        or (isinstance(refine, (bool, np.bool_)) and not refine)
    ):
        raise input_error("refine", "'traces', 'full' or False", repr(refine))
    refine = refine if isinstance(refine, str) else False
    check_bool("progress", progress)
    if isinstance(neuron_radius, (bool, np.bool_)) or not isinstance(
        neuron_radius, numbers.Real
    ):
        raise input_error(
            "neuron_radius", "a positive number of pixels", repr(neuron_radius)
        )
    if not (isinstance(n_neurons, str) and n_neurons == "auto"):
        if isinstance(n_neurons, (bool, np.bool_)) or not isinstance(
            n_neurons, numbers.Integral
        ):
            raise input_error(
                "n_neurons", "'auto' or a positive integer", repr(n_neurons)
            )
    background_rank = check_int("background_rank", background_rank, 1)
    n_jobs = check_int("n_jobs", n_jobs, 1)
    if smoothness is not None:
        smoothness = check_real("smoothness", smoothness, 0.0)
    if sparsity is not None:
        sparsity = check_real("sparsity", sparsity, 0.0)
    if patch is not None:
        patch = check_int("patch", patch, 1)
    if overlap is not None:
        overlap = check_int("overlap", overlap, 0)
    if seeds not in SEEDS:
        raise input_error("seeds", " or ".join(repr(s) for s in SEEDS), seeds)
    mov = _as_movie(movie)
    T, ny, nx = mov.shape
    if T < 2:
        raise input_error(
            "movie", "at least 2 frames", f"{T} frame(s)", "Pass a longer movie."
        )
    r = _check_radius(neuron_radius)
    if 2 * r >= min(ny, nx):
        raise input_error(
            "neuron_radius",
            f"smaller than half the field of view ({ny} × {nx} px)",
            r,
            "Give the radius in pixels, not micrometres.",
        )
    if n_neurons != "auto" and n_neurons < 1:
        raise input_error("n_neurons", "'auto' or a positive integer", n_neurons)
    p = default_parameters(r)
    unknown = set(options) - set(p)
    if unknown:
        raise input_error("options", f"among {sorted(p)}", sorted(unknown))
    p.update(options)
    for key in ("min_corr", "min_pnr", "min_snr", "min_trace_corr", "merge_threshold"):
        p[key] = check_real(key, p[key])
    for key in ("smoothness", "sparsity"):
        p[key] = check_real(key, p[key], 0.0)
    for key, low in (
        ("min_area", 0),
        ("max_area", 0),
        ("merge_dilation", 0),
        ("support_dilation", 0),
        ("refine_iter", 1),
        ("patch", 1),
        ("overlap", 0),
    ):
        p[key] = check_int(key, p[key], low)
    for key, high in (("baseline_percentile", 100.0), ("footprint_threshold", 1.0)):
        value = check_real(key, p[key], 0.0)
        if value > high:
            raise input_error(key, f"a number in [0, {high:g}]", repr(p[key]))
        p[key] = value
    for key in ("anatomy_threshold", "anatomy_activity_weight"):
        p[key] = check_real(key, p[key])
    if smoothness is not None:
        p["smoothness"] = float(smoothness)
    if sparsity is not None:
        p["sparsity"] = float(sparsity)
    if patch is not None:
        p["patch"] = int(patch)
    if overlap is not None:
        p["overlap"] = int(overlap)
    if p["patch"] <= 4 * r:
        raise input_error(
            "patch", f"larger than 4 × neuron_radius ({4 * r:g} px)", p["patch"]
        )
    if not 0 <= p["overlap"] < p["patch"]:
        raise input_error("overlap", f"in [0, patch={p['patch']})", p["overlap"])
    for key, low, expected in (
        (
            "seed_frames",
            2,
            "an integer ≥ 2 (frames the seeding looks at; longer movies are binned)",
        ),
        (
            "patch_memory",
            1,
            "a positive integer (bytes: the largest patch, time × y × x × 4, "
            "processed in memory)",
        ),
    ):
        value = p[key]
        if (
            not isinstance(value, int | np.integer)
            or isinstance(value, bool)
            or value < low
        ):
            raise input_error(key, expected, value)
        p[key] = int(value)
    for key in ("anatomy_threshold", "anatomy_activity_weight"):
        value = p[key]
        if not isinstance(value, int | float | np.number) or not np.isfinite(value):
            raise input_error(key, "a finite number", value)
        p[key] = float(value)
    if p["anatomy_activity_weight"] < 0:
        raise input_error(
            "anatomy_activity_weight",
            "≥ 0",
            p["anatomy_activity_weight"],
            "Transient evidence can only add to the anatomical score.",
        )
    frames = _check_frames(mov, mean_image=True)
    if frames["constant_frames"] or frames["saturated_frames"]:
        warnings.warn(
            f"movie has {len(frames['constant_frames'])} constant frame(s) "
            f"{frames['constant_frames'][:10]} and "
            f"{len(frames['saturated_frames'])} saturated "
            f"frame(s) {frames['saturated_frames'][:10]}; they are kept.",
            stacklevel=2,
        )
    offset = -frames["min"] if frames["min"] < 0 else 0.0
    size = p["patch"] if max(ny, nx) > p["patch"] else max(ny, nx)
    tiles = make_patches((ny, nx), size, p["overlap"])
    kmax = None if n_neurons == "auto" else int(n_neurons)
    # anatomical candidates on the whole mean image (computed in the check pass);
    # each belongs to the patch whose core holds its peak
    peaks, ring, response = ring_candidates(
        frames["mean"],
        r,
        min_response=(
            p["anatomy_threshold"] if p["anatomy_activity_weight"] == 0 else 0.0
        ),
    )
    if seeds == "activity":
        peaks, ring = peaks[:0], ring[:0]
    del frames["mean"]

    # patches above the memory budget stay dask arrays (chunked along time)
    out_of_core = [_patch_nbytes(T, ys, xs) > p["patch_memory"] for ys, xs, _ in tiles]

    def work(i):
        ys, xs, (cy, cx) = tiles[i]
        if out_of_core[i]:
            Y = _lazy_patch(mov.data, ys, xs, offset, p["patch_memory"])
        else:
            Y = np.asarray(mov.data[:, ys, xs], dtype=np.float32)
            if offset:
                Y = Y + np.float32(offset)
        mine = (
            (peaks[:, 0] >= cy.start)
            & (peaks[:, 0] < cy.stop)
            & (peaks[:, 1] >= cx.start)
            & (peaks[:, 1] < cx.stop)
        )
        anat = {
            "response": response[ys, xs],
            "peaks": peaks[mine] - [ys.start, xs.start],
            "ring": ring[mine],
        }
        return _segment_patch(Y, r, p, kmax, background_rank, refine, seeds, anat)

    from tqdm.auto import tqdm

    bar = tqdm(total=len(tiles), desc="segment", unit="patch", disable=not progress)

    def tracked(i):
        result = work(i)
        bar.update(1)
        bar.set_postfix(components=len(result["A"]), refresh=False)
        # only what the assembly needs is kept: core-owned components, kept
        # footprints cropped to their support (1,024² px movies have ~500 patches)
        return _collect_patch(tiles[i], result)

    try:
        if n_jobs > 1 and len(tiles) > 1:
            with ThreadPoolExecutor(max_workers=n_jobs) as ex:
                results = list(ex.map(tracked, range(len(tiles))))
        else:
            results = [tracked(i) for i in range(len(tiles))]
    finally:
        bar.close()

    keep_A, keep_C, keep_q, keep_o = [], [], [], []
    rej_c, rej_r, rej_o = [], [], []
    baseline = np.zeros((ny, nx), np.float32)
    bgA = np.zeros((background_rank, ny, nx), np.float32)
    bgC = np.zeros((background_rank, T))
    for (_ys, _xs, (cy, cx)), out in zip(tiles, results, strict=True):
        baseline[cy, cx] = out["baseline"]
        bgA[:, cy, cx] = out["bg_A"]
        bgC += out["bg_C"] / len(tiles)
        rej_c += out["rejected_centroid"]
        rej_r += out["rejected_reason"]
        rej_o += out["rejected_origin"]
        keep_A += out["crops"]
        keep_C += out["traces"]
        keep_o += out["origin"]
        keep_q += out["quality"]
    del results
    n = len(keep_A)
    C = np.array(keep_C) if n else np.zeros((0, T))
    Q = np.array(keep_q, dtype=float) if n else np.zeros((0, 9))
    O = np.array(keep_o, dtype=str) if n else np.zeros(0, dtype=str)
    sel = np.ones(n, bool)
    if n:
        # an anatomical component within r of an activity one kept by another
        # patch (a neuron in an overlap) is the same neuron: activity wins
        act = O == "activity"
        d = np.hypot(*(Q[:, None, 4:6] - Q[None, act, 4:6]).transpose(2, 0, 1))
        sel = act | ~(d < r).any(1)
    order = np.nonzero(sel)[0]
    order = order[np.argsort(-Q[order, 0], kind="stable")]
    C, Q, O = C[order], Q[order], O[order]
    n = len(order)
    crops = [keep_A[k] for k in order]
    del keep_A
    A = _footprint_array(crops, (ny, nx))
    # ΔF/F: trace over the footprint-weighted baseline + background
    bg_mean = baseline + bgA.sum(0) * float(bgC.mean()) if background_rank else baseline
    f0 = (
        np.array(
            [
                (a * (bg_mean[ys, xs] + offset)).sum() / max((a * a).sum(), 1e-30)
                for a, ys, xs in crops
            ]
        )
        if n
        else np.zeros(0)
    )
    dff = C / np.maximum(f0, 1e-6)[:, None]
    ycoord = mov["y"].values if "y" in mov.coords else np.arange(ny)
    xcoord = mov["x"].values if "x" in mov.coords else np.arange(nx)
    tcoord = mov["time"].values if "time" in mov.coords else np.arange(T)
    ydim, xdim = mov.dims[1], mov.dims[2]
    import neuronmf

    attrs = {
        "neuronmf_version": str(getattr(neuronmf, "__version__", "unknown")),
        "method": (
            "greedy corr-PNR seeds"
            + (" + ring-template anatomical candidates" if seeds != "activity" else "")
            + ", NMF background, NNLS traces"
        ),
        "seeds": seeds,
        "neuron_radius": r,
        "n_neurons": str(n_neurons),
        "background_rank": int(background_rank),
        "n_patches": len(tiles),
        "n_patches_out_of_core": int(sum(out_of_core)),
        "refine": str(refine),
        "n_jobs": int(n_jobs),
        "constant_frames": str(frames["constant_frames"]),
        "saturated_frames": str(frames["saturated_frames"]),
        "offset_added": float(offset),
        "source": str(mov.attrs.get("source", "")),
        "n_rejected": len(rej_r),
        "n_anatomy": int((O == "anatomy").sum()),
    }
    for k, v in p.items():
        attrs[k] = float(v) if isinstance(v, float) else int(v)
    ds = xr.Dataset(
        {
            "footprints": (("neuron", ydim, xdim), A),
            "traces": (("neuron", "time"), C),
            "dff": (("neuron", "time"), dff),
            "snr": ("neuron", Q[:, 0]),
            "compactness": ("neuron", Q[:, 1]),
            "trace_correlation": ("neuron", Q[:, 2]),
            "area": ("neuron", Q[:, 3].astype(int)),
            "centroid": (("neuron", "axis"), Q[:, 4:6]),
            "origin": ("neuron", O),
            "ring_response": ("neuron", Q[:, 6]),
            "activity_evidence": ("neuron", Q[:, 7]),
            "anatomy_score": ("neuron", Q[:, 8]),
            "baseline": ((ydim, xdim), baseline),
            "background_footprints": (("background", ydim, xdim), bgA),
            "background_traces": (("background", "time"), bgC),
            "rejected_centroid": (("rejected", "axis"), np.array(rej_c).reshape(-1, 2)),
            "rejected_reason": ("rejected", np.array(rej_r, dtype=str)),
            "rejected_origin": ("rejected", np.array(rej_o, dtype=str)),
        },
        coords={
            "neuron": np.arange(n),
            ydim: ycoord,
            xdim: xcoord,
            "time": tcoord,
            "axis": ["y", "x"],
            "background": np.arange(background_rank),
            "rejected": np.arange(len(rej_r)),
        },
        attrs=attrs,
    )
    return ds
