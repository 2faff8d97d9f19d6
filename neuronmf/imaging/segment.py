"""``segment``: neurons (footprints + traces) from a calcium-imaging movie."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr
from scipy import ndimage

from neuronmf.errors import input_error
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


def _check_frames(movie: xr.DataArray) -> dict:
    """One (lazy) pass over the movie: non-finite, constant and saturated frames."""
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
    stats = [lib.min(data, axis=axes), lib.max(data, axis=axes)]
    if np.issubdtype(dtype, np.floating):
        stats.append(lib.isfinite(data).all(axis=axes))
    if lib is not np:
        import dask

        stats = list(dask.compute(*stats))
    mn, mx = np.asarray(stats[0], float), np.asarray(stats[1], float)
    if len(stats) == 3:
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
    }


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
    }


def _segment_patch(
    Y: np.ndarray, r: float, p: dict, n_neurons, background_rank: int, refine: bool
):
    """Seeds → engine refinement → merging → quality, on one patch (time, h, w)."""
    import neuronmf as nm

    Y = np.asarray(Y, dtype=np.float32)
    T, h, w = Y.shape
    b0 = np.percentile(Y, p["baseline_percentile"], axis=0).astype(np.float32)
    R = Y - b0
    Rh = R - ndimage.gaussian_filter(R, (0, 2 * r, 2 * r))
    cap = max(1, min(h * w, T) - background_rank - 1)
    # seeds on the movie minus its local spatial mean (neuropil flattened)
    A, C, _ = greedy_seeds(
        Rh.copy(),
        r,
        max_neurons=cap if n_neurons is None else min(n_neurons, cap),
        min_corr=p["min_corr"],
        min_pnr=p["min_pnr"],
        min_area=p["min_area"],
    )
    if len(A) > 1:
        # fragments of one soma (its dim rim left in the residual) before the
        # costly joint trace projection
        A, C, _groups = merge_duplicates(
            A, C, threshold=p["merge_threshold"], dilation=p["merge_dilation"]
        )
    K = len(A)
    # refinement data: baseline- and neuropil-flattened movie, clipped at zero
    V = np.maximum(Rh, 0).reshape(T, -1).T.astype(np.float64)
    bg_W = np.maximum(V.mean(1, keepdims=True), 1e-6)
    bg_W = np.repeat(bg_W, background_rank, axis=1) * (
        1 + 0.01 * np.arange(background_rank)
    )
    bg_H = np.ones((background_rank, T))
    if refine == "traces" and K:
        W = A.reshape(K, -1).T
        bres = nm.nmf(
            np.maximum(V - W @ C, 0), background_rank, W=bg_W, H=bg_H, max_iter=20
        )
        bg_W, bg_H = np.asarray(bres.W), np.asarray(bres.H)
        C = np.asarray(nm.project(np.maximum(V - bg_W @ bg_H, 0), W))
    elif refine == "full" and K:
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
        C = np.asarray(nm.project(np.maximum(V - bg_W @ bg_H, 0), W))
    if K:
        A, C, _groups = merge_duplicates(
            A, C, threshold=p["merge_threshold"], dilation=p["merge_dilation"]
        )
        if refine and len(A) < K:
            Wm = A.reshape(len(A), -1).T
            C = np.asarray(nm.project(np.maximum(V - bg_W @ bg_H, 0), Wm))
    return {
        "A": A,
        "C": C,
        "b0": b0,
        "bg_W": bg_W.T.reshape(background_rank, h, w),
        "bg_H": bg_H,
        "R": R,
    }


def _quality(A, C, R, r, p):
    snr = trace_snr(C)
    comp = compactness(A)
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
    progress: bool = False,
    **options,
) -> xr.Dataset:
    """Segment neurons from a calcium-imaging movie with spatially penalised NMF.

    Pipeline, per overlapping patch (read lazily, one patch at a time):

    1. baseline ``b0`` = per-pixel ``baseline_percentile`` over time;
    2. seeds: greedy rank-1 components at the best local-correlation ×
       peak-to-noise pixels of the baseline-subtracted movie (CNMF-like);
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
       rejected with the reason kept.

    Parameters
    ----------
    movie : DataArray (time, y, x) or array
        In memory or dask-backed (from ``neuronmf.io.load_movie``).
    neuron_radius : float
        Typical soma radius in pixels; every default follows from it
        (:func:`default_parameters`).
    n_neurons : "auto" or int
        Maximum number of seeds per patch (``"auto"``: until no pixel passes
        ``min_corr`` and ``min_pnr``).
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
        1.0 to about 0.8, so it is not the default); ``False``: seeds only.
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
        (footprints keep their connected part ≥ this × max, 0.3).

    Returns
    -------
    xarray.Dataset
        ``footprints`` (neuron, y, x), ``traces`` (neuron, time), ``dff``
        (neuron, time), ``snr``, ``compactness``, ``trace_correlation``,
        ``area``, ``centroid`` (neuron, axis), ``baseline`` (y, x),
        ``background_footprints`` (background, y, x) and
        ``background_traces`` (background, time) (patch backgrounds joined on
        their cores; temporal components averaged over patches), and the
        rejected components (``rejected_centroid``, ``rejected_reason``);
        parameters and provenance in ``attrs`` (str/int/float only).

    Examples
    --------
    >>> import neuronmf as nm
    >>> sim = nm.datasets.simulate_movie((48, 48), 200, 8, 4.0, seed=1)
    >>> seg = segment(sim.data, neuron_radius=4.0)
    >>> seg.sizes["neuron"] >= 6
    True
    """
    if refine not in ("traces", "full", False):
        raise input_error("refine", "'traces', 'full' or False", refine)
    mov = _as_movie(movie)
    T, ny, nx = mov.shape
    if T < 2:
        raise input_error(
            "movie", "at least 2 frames", f"{T} frame(s)", "Pass a longer movie."
        )
    try:
        r = float(neuron_radius)
    except (TypeError, ValueError):
        raise input_error(
            "neuron_radius", "a positive number of pixels", neuron_radius
        ) from None
    if not np.isfinite(r) or r <= 0:
        raise input_error("neuron_radius", "a positive number of pixels", neuron_radius)
    if 2 * r >= min(ny, nx):
        raise input_error(
            "neuron_radius",
            f"smaller than half the field of view ({ny} × {nx} px)",
            r,
            "Give the radius in pixels, not micrometres.",
        )
    if not (n_neurons == "auto" or (isinstance(n_neurons, int) and n_neurons >= 1)):
        raise input_error("n_neurons", "'auto' or a positive integer", n_neurons)
    if not isinstance(background_rank, int) or background_rank < 1:
        raise input_error("background_rank", "a positive integer", background_rank)
    p = default_parameters(r)
    unknown = set(options) - set(p)
    if unknown:
        raise input_error("options", f"among {sorted(p)}", sorted(unknown))
    p.update(options)
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
    frames = _check_frames(mov)
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

    def work(i):
        ys, xs, _core = tiles[i]
        Y = np.asarray(mov.data[:, ys, xs], dtype=np.float32)
        if offset:
            Y = Y + np.float32(offset)
        out = _segment_patch(Y, r, p, kmax, background_rank, refine)
        q = _quality(out["A"], out["C"], out["R"], r, p)
        del out["R"]
        return out, q

    from tqdm.auto import tqdm

    bar = tqdm(total=len(tiles), desc="segment", unit="patch", disable=not progress)

    def tracked(i):
        result = work(i)
        bar.update(1)
        bar.set_postfix(components=len(result[0]["A"]), refresh=False)
        return result

    try:
        if n_jobs > 1 and len(tiles) > 1:
            with ThreadPoolExecutor(max_workers=n_jobs) as ex:
                results = list(ex.map(tracked, range(len(tiles))))
        else:
            results = [tracked(i) for i in range(len(tiles))]
    finally:
        bar.close()

    keep_A, keep_C, keep_q, rej_c, rej_r = [], [], [], [], []
    baseline = np.zeros((ny, nx), np.float32)
    bgA = np.zeros((background_rank, ny, nx), np.float32)
    bgC = np.zeros((background_rank, T))
    for (ys, xs, core), (out, q) in zip(tiles, results, strict=False):
        cy, cx = core
        lc = (
            slice(cy.start - ys.start, cy.stop - ys.start),
            slice(cx.start - xs.start, cx.stop - xs.start),
        )
        baseline[cy, cx] = out["b0"][lc]
        scale = out["bg_H"].mean(1, keepdims=True) + 1e-30
        bgA[:, cy, cx] = (out["bg_W"] * scale[:, :, None])[(slice(None), *lc)]
        bgC += out["bg_H"] / scale / len(tiles)
        snr, comp, rval, area, reasons = q
        for k, a in enumerate(out["A"]):
            yy, xx = np.nonzero(a >= 0.2 * max(a.max(), 1e-30))
            if not len(yy):
                continue
            gy, gx = yy.mean() + ys.start, xx.mean() + xs.start
            if not (
                cy.start <= round(gy) < cy.stop and cx.start <= round(gx) < cx.stop
            ):
                continue
            if reasons[k]:
                rej_c.append((gy, gx))
                rej_r.append(reasons[k])
                continue
            full = np.zeros((ny, nx), np.float32)
            full[ys, xs] = a
            keep_A.append(full)
            keep_C.append(out["C"][k])
            keep_q.append((snr[k], comp[k], rval[k], area[k], gy, gx))
    n = len(keep_A)
    A = np.array(keep_A) if n else np.zeros((0, ny, nx), np.float32)
    C = np.array(keep_C) if n else np.zeros((0, T))
    Q = np.array(keep_q) if n else np.zeros((0, 6))
    order = np.argsort(-Q[:, 0]) if n else np.zeros(0, int)
    A, C, Q = A[order], C[order], Q[order]
    # ΔF/F: trace over the footprint-weighted baseline + background
    bg_mean = baseline + bgA.sum(0) * float(bgC.mean()) if background_rank else baseline
    f0 = (
        np.array(
            [(a * (bg_mean + offset)).sum() / max((a * a).sum(), 1e-30) for a in A]
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
        "method": "greedy corr-PNR seeds + graph-Laplacian NMF refinement",
        "neuron_radius": r,
        "n_neurons": str(n_neurons),
        "background_rank": int(background_rank),
        "n_patches": len(tiles),
        "refine": str(refine),
        "n_jobs": int(n_jobs),
        "constant_frames": str(frames["constant_frames"]),
        "saturated_frames": str(frames["saturated_frames"]),
        "offset_added": float(offset),
        "source": str(mov.attrs.get("source", "")),
        "n_rejected": len(rej_r),
    }
    for k, v in p.items():
        attrs[k] = float(v) if isinstance(v, float) else int(v)
    ds = xr.Dataset(
        {
            "footprints": (("neuron", ydim, xdim), A.astype(np.float32)),
            "traces": (("neuron", "time"), C),
            "dff": (("neuron", "time"), dff),
            "snr": ("neuron", Q[:, 0]),
            "compactness": ("neuron", Q[:, 1]),
            "trace_correlation": ("neuron", Q[:, 2]),
            "area": ("neuron", Q[:, 3].astype(int)),
            "centroid": (("neuron", "axis"), Q[:, 4:6]),
            "baseline": ((ydim, xdim), baseline),
            "background_footprints": (("background", ydim, xdim), bgA),
            "background_traces": (("background", "time"), bgC),
            "rejected_centroid": (("rejected", "axis"), np.array(rej_c).reshape(-1, 2)),
            "rejected_reason": ("rejected", np.array(rej_r, dtype=str)),
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
