"""``segment``: neurons (footprints + traces) from a calcium-imaging movie.

The pipeline is split along its seams, one private module each: the
parameters (:mod:`neuronmf.imaging._parameters`, public as
:class:`SegmentParameters`), one patch (:mod:`neuronmf.imaging._patch`), the
out-of-core path (:mod:`neuronmf.imaging._out_of_core`) and the assembly of the
result with its named per-neuron measures (:mod:`neuronmf.imaging._assembly`).
This module checks the call, reads the movie once and runs the patches.
"""

from __future__ import annotations

import numbers
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr

from neuronmf._provenance import result_attrs
from neuronmf._threads import one_thread_unless_user_set
from neuronmf.engine._validation import check_bool, check_int
from neuronmf.errors import input_error
from neuronmf.imaging._assembly import _assemble, _collect_patch
from neuronmf.imaging._out_of_core import (
    _lazy_frame_stats,
    _lazy_patch,
    _patch_nbytes,
)
from neuronmf.imaging._parameters import SEEDS, SegmentParameters, default_parameters
from neuronmf.imaging._patch import _segment_patch
from neuronmf.imaging._ring import grow_tiles
from neuronmf.imaging._summary_images import summary_images
from neuronmf.imaging.anatomy import _check_radius, soma_candidates
from neuronmf.imaging.patches import make_patches

__all__ = ["SEEDS", "SegmentParameters", "default_parameters", "segment"]


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


def _check_frames(movie: xr.DataArray, mean_image: bool = False) -> dict:
    """One (lazy) pass over the movie: non-finite, constant and saturated frames.

    With ``mean_image`` the temporal mean image (float64) is computed in the
    same pass (key ``"mean"``), and so is the half-difference image (key
    ``"mean_noise"``): (sum of the even frames − sum of the odd frames) / T,
    whose variance is the mean image's noise variance (for noise independent
    from frame to frame) and in which anything slower than the frame rate
    cancels: the noise the anatomical candidates must stand out of.
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
            even = np.sum(data[0::2], axis=0, dtype=np.float64)
            odd = np.sum(data[1::2], axis=0, dtype=np.float64)
            stats.append(((even + odd) / len(data), (even - odd) / len(data)))
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
        "mean": stats[-1][0] if mean_image else None,
        "mean_noise": stats[-1][1] if mean_image else None,
    }


def _check_call(
    neuron_radius,
    n_neurons,
    background_rank,
    n_jobs,
    refine,
    seeds,
    progress,
) -> tuple:
    """The call's own arguments, refused (never coerced) before any work.

    Issue 21, defect 7: ``"no"`` is truthy, ``int(64.5)`` is 64,
    ``float("0.1")`` parses. Returns ``refine`` (``False`` for any false
    bool), ``background_rank`` and ``n_jobs`` as ints.
    """
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
    if seeds not in SEEDS:
        raise input_error("seeds", " or ".join(repr(s) for s in SEEDS), seeds)
    return refine, background_rank, n_jobs


def _parameters(parameters, r: float, named: dict, options: dict) -> SegmentParameters:
    """The :class:`SegmentParameters` of a call.

    ``parameters`` (or the defaults for radius ``r``), then the keyword
    ``options`` and the named arguments given (``smoothness``, ``sparsity``,
    ``patch``, ``overlap``) on top; every value checked once, by its field.
    """
    if parameters is not None and not isinstance(parameters, SegmentParameters):
        raise input_error(
            "parameters",
            "a SegmentParameters or None",
            repr(parameters),
            "Build one with SegmentParameters.from_radius(neuron_radius, ...).",
        )
    changes = {**options, **{k: v for k, v in named.items() if v is not None}}
    if parameters is None:
        p = SegmentParameters.from_radius(r, **changes)
    else:
        p = parameters.replace(**changes)
    p.check_radius(r)
    return p


def _check_movie_radius(mov: xr.DataArray, neuron_radius, n_neurons) -> float:
    """The movie's length, the radius against its field of view, ``n_neurons``."""
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
    return r


def _check_ring(mov, p: SegmentParameters, background_rank: int) -> int:
    """The background rank of the patches: 0 for the ring model (no NMF background).

    The ring model holds its patch in memory: a patch above ``patch_memory``
    with ``background="ring"`` is refused before any work.
    """
    if p.background != "ring":
        return background_rank
    T, ny, nx = mov.shape
    size = p.patch if max(ny, nx) > p.patch else max(ny, nx)
    tiles = grow_tiles(make_patches((ny, nx), size, p.overlap), p.ring_radius, (ny, nx))
    if any(_patch_nbytes(T, ys, xs) > p.patch_memory for ys, xs, _ in tiles):
        raise input_error(
            "background",
            "'low-rank' when patches exceed patch_memory",
            "'ring'",
            "The ring model holds each patch in memory: raise patch_memory or "
            "pass a smaller patch.",
        )
    return 0


def _warn_frames(frames: dict) -> None:
    """Warn (at segment's caller) of constant or saturated frames; they are kept."""
    if frames["constant_frames"] or frames["saturated_frames"]:
        warnings.warn(
            f"movie has {len(frames['constant_frames'])} constant frame(s) "
            f"{frames['constant_frames'][:10]} and "
            f"{len(frames['saturated_frames'])} saturated "
            f"frame(s) {frames['saturated_frames'][:10]}; they are kept.",
            stacklevel=3,
        )


def _plan(mov, r: float, p: SegmentParameters, seeds: str, mean, noise):
    """The patches, which of them go out of core, and the anatomical candidates.

    Patches above ``patch_memory`` stay dask arrays (chunked along time). The
    candidates ``(peaks, ring, response)`` come from the whole mean image and
    its noise (the half-difference image), both computed in the check pass;
    each belongs to the patch whose core holds its peak (none with
    ``seeds="activity"``).
    """
    T, ny, nx = mov.shape
    size = p.patch if max(ny, nx) > p.patch else max(ny, nx)
    tiles = make_patches((ny, nx), size, p.overlap)
    if p.background == "ring":  # whole rings around every pixel of the cores
        tiles = grow_tiles(tiles, p.ring_radius, (ny, nx))
    out_of_core = [_patch_nbytes(T, ys, xs) > p.patch_memory for ys, xs, _ in tiles]
    peaks, ring, response = soma_candidates(
        mean,
        r,
        min_response=p.anatomy_threshold if p.anatomy_activity_weight == 0 else 0.0,
        noise_image=noise,
        min_snr=p.anatomy_min_snr,
    )
    if seeds == "activity":
        peaks, ring = peaks[:0], ring[:0]
    return tiles, out_of_core, (peaks, ring, response)


def _patch_input(mov, tile, out_of_core: bool, offset, p, candidates):
    """One patch of the movie (float32 plus ``offset``) and its anatomical input.

    In memory, or a lazy dask array chunked along time when ``out_of_core``.
    The anatomical input is the patch's slice of the ring response and the
    candidates whose peak lies in the patch core (in patch coordinates).
    """
    ys, xs, (cy, cx) = tile
    if out_of_core:
        Y = _lazy_patch(mov.data, ys, xs, offset, p.patch_memory)
    else:
        Y = np.asarray(mov.data[:, ys, xs], dtype=np.float32)
        if offset:
            Y = Y + np.float32(offset)
    peaks, ring, response = candidates
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
    return Y, anat


def _attrs(mov, call: dict, p: SegmentParameters, frames: dict, offset) -> dict:
    """The result's provenance (:func:`result_attrs`) and its plain attributes.

    Besides ``neuronmf_kind``, ``neuronmf_version``, ``params`` (JSON of
    ``call`` and ``p``) and ``seed``, every option and parameter is kept as a
    plain str/int/float attribute, as before the provenance convention.
    """
    seeds = call["seeds"]
    source = mov.attrs.get("source")
    attrs = result_attrs(
        "segmentation", params={**call, **p.as_dict()}, seed=None, source=source
    )
    anatomy = " + ring-template anatomical candidates" if seeds != "activity" else ""
    attrs.update(
        {
            "method": f"greedy corr-PNR seeds{anatomy}, NMF background, NNLS traces",
            "seeds": seeds,
            "neuron_radius": call["neuron_radius"],
            "n_neurons": str(call["n_neurons"]),
            "background_rank": int(call["background_rank"]),
            "refine": str(call["refine"]),
            "n_jobs": int(call["n_jobs"]),
            "constant_frames": str(frames["constant_frames"]),
            "saturated_frames": str(frames["saturated_frames"]),
            "offset_added": float(offset),
            "source": str(source if source is not None else ""),
        }
    )
    for k, v in p.as_dict().items():
        attrs[k] = v if isinstance(v, str | float) else int(v)
    if p.background == "ring":
        attrs["method"] = attrs["method"].replace(
            "NMF background", "ring background (CNMF-E)"
        )
    return attrs


def _run_patches(tiles, work, n_jobs: int, progress: bool) -> list:
    """``work(i)`` for every patch (threads if ``n_jobs > 1``), with a progress bar.

    Each result is cut down to what the assembly keeps as soon as it is made
    (:func:`~neuronmf.imaging._assembly._collect_patch`): core-owned
    components, kept footprints cropped to their support (1,024² px movies
    have ~500 patches).
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=len(tiles), desc="segment", unit="patch", disable=not progress)

    def tracked(i):
        result = work(i)
        bar.update(1)
        bar.set_postfix(components=len(result["A"]), refresh=False)
        return _collect_patch(tiles[i], result)

    try:
        if n_jobs > 1 and len(tiles) > 1:
            with ThreadPoolExecutor(max_workers=n_jobs) as ex:
                return list(ex.map(tracked, range(len(tiles))))
        return [tracked(i) for i in range(len(tiles))]
    finally:
        bar.close()


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
    refine: str | bool = "full",
    seeds: str = "anatomy+activity",
    progress: bool = False,
    parameters: SegmentParameters | None = None,
    **options,
) -> xr.Dataset:
    """Segment neurons from a calcium-imaging movie with spatially penalised NMF.

    One pass over the movie checks its frames and computes its temporal mean
    image; the anatomical candidates come from that image (step 6). Then, per
    overlapping patch (read lazily, one patch at a time; docs/imaging.md
    describes every step):

    1. baseline ``b0`` = per-pixel ``baseline_percentile`` over time;
    2. seeds (``seeds`` includes ``"activity"``): greedy rank-1 components at
       the best local-correlation × peak-to-noise pixels (CNMF-like);
    3. refinement: with ``refine="full"`` (default) the footprints are
       refined from the seeds on the baseline-subtracted patch with a local
       background fitted jointly (HALS with the traces fixed, alternated with
       the traces; graph-Laplacian ``smoothness`` and L1 ``sparsity``
       relative to each trace's energy; within the seed support dilated by
       ``support_dilation`` px; pulled towards the seed by ``refine_prior``
       / SNR², so a silent cell keeps it); then an unpenalised
       rank-``background_rank`` NMF background and exact NNLS traces
       (``neuronmf.project``);
    4. merging of overlapping or touching (``merge_dilation``) components
       whose traces correlate > ``merge_threshold``, after seeding and again
       after refinement;
    5. quality: SNR, compactness, trace correlation; components failing
       ``min_snr``, ``min_trace_corr``, ``min_area`` or ``max_area`` are
       rejected with the reason kept, and so are fragments of a stronger
       component (more than ``fragment_overlap`` of the mask on it, weaker
       there and active only while it is: what residual motion leaves at a
       bright neuron's edge, :func:`~neuronmf.imaging.quality.nested_fragments`);
    6. anatomy (``seeds`` includes ``"anatomy"``): ring-shaped or filled
       somata in the contrast-normalised mean image
       (:mod:`neuronmf.imaging.anatomy`) that stand ``anatomy_min_snr`` times
       out of its noise (the half-difference of even and odd frames), kept
       when their ``anatomy_score`` reaches ``anatomy_threshold`` and no
       accepted activity component lies within one radius (a rejected one
       gives way); a disc footprint each, then the traces of all components
       are fitted again jointly. Anatomical components are rejected only for
       their area; activity components keep the decision of step 5, while
       ``snr`` and ``trace_correlation`` report the final traces.

    A movie longer than ``seed_frames`` (1000) is detected on frames averaged
    in bins of ⌈T / seed_frames⌉ (steps 1–6), and its traces and background
    traces are then fitted at the full frame rate, one product per patch.

    A patch larger than ``patch_memory`` (T × h × w × 4 bytes) is processed
    out of core, never read whole (see :class:`SegmentParameters`);
    ``attrs["n_patches_out_of_core"]`` counts these patches.

    Parameters
    ----------
    movie : DataArray (time, y, x) or array
        In memory or dask-backed (from ``neuronmf.io.load_movie``).
    neuron_radius : float
        Typical soma radius in pixels; every default follows from it
        (:meth:`SegmentParameters.from_radius`, :func:`default_parameters`).
    n_neurons : "auto" or int
        Maximum number of seeds per patch (``"auto"``: until no pixel passes
        ``min_corr`` and ``min_pnr``); anatomical components fill what the
        activity seeds leave.
    background_rank : int
        Rank of the unpenalised background per patch (``background="low-rank"``,
        the default; with ``background="ring"``, CNMF-E's ring model for
        one-photon movies, there is no low-rank background and
        ``background_footprints`` / ``background_traces`` are empty).
    smoothness, sparsity, patch, overlap : optional
        Fields of :class:`SegmentParameters` named here for convenience:
        graph-Laplacian weight λ on footprints (0.1), L1 weight (0), patch
        side and overlap in pixels (max(64, 12·r) and 4·r).
    n_jobs : int
        Patches processed in parallel threads.
    refine : {"traces", "full", False}
        ``"full"`` (default): footprints refined from the seeds (step 3; mean
        IoU of matched neurons 0.67 → 0.94 on simulated movies, see
        docs/imaging.md), then background by an unpenalised NMF and traces
        by exact NNLS (``neuronmf.project``); ``"traces"``: footprints are
        the seeds (the default before issue 23); ``False``: seeds only
        (anatomical traces by NNLS).
    seeds : {"anatomy+activity", "activity", "anatomy"}
        Where neurons come from: transients (steps 2–5), somata in the mean
        image (step 6, rings or filled blobs), or both (default: in short
        movies most neurons barely fire but are visible anatomically).
    progress : bool
        Show a progress bar over patches (tqdm, on stderr).
    parameters : SegmentParameters, optional
        Every tuning parameter at once (default: the defaults for
        ``neuron_radius``); keywords given beside it override its fields.
    **options
        Any field of :class:`SegmentParameters` by name (``min_corr``,
        ``min_pnr``, ``min_snr``, ``min_trace_corr``, ``min_area``,
        ``max_area``, ``merge_threshold``, ``merge_dilation``,
        ``fragment_overlap``,
        ``baseline_percentile``, ``support_dilation``, ``refine_iter``,
        ``footprint_threshold``, ``seed_frames``, ``anatomy_threshold``,
        ``anatomy_min_snr``, ``anatomy_activity_weight``, ``patch_memory``,
        ``background``,
        ``ring_radius``, ``ring_iter``), each documented there.
        Any other keyword is an ``InputError`` naming the valid ones.

    Returns
    -------
    xarray.Dataset
        ``footprints`` (neuron, y, x), ``traces`` (neuron, time), ``dff``
        (neuron, time), ``snr``, ``compactness``, ``trace_correlation``,
        ``area``, ``centroid`` (neuron, axis), ``baseline`` (y, x),
        ``background_footprints`` (background, y, x) and
        ``background_traces`` (background, time); per neuron ``origin``
        (``"activity"`` or ``"anatomy"``), ``soma_response``,
        ``activity_evidence`` and ``anatomy_score`` (step 6); the rejected
        components (``rejected_centroid``, ``rejected_reason``,
        ``rejected_origin``); the summary images ``mean_image`` (y, x), the
        movie's temporal mean, and ``correlation_image`` (y, x), the
        seeding's local correlation (absent with ``seeds="anatomy"``).
        ``attrs``: the provenance
        (``neuronmf_kind="segmentation"``, ``neuronmf_version``, ``params``
        as JSON, ``seed="none"``) and, as plain values, every parameter and
        ``n_patches``, ``n_patches_out_of_core``, ``n_anatomy``, ...

    Examples
    --------
    >>> from neuronmf.datasets import simulate_movie
    >>> sim = simulate_movie((48, 48), 200, 8, 4.0, seed=1)
    >>> seg = segment(sim.data, neuron_radius=4.0)
    >>> seg.sizes["neuron"] >= 6
    True
    """
    refine, background_rank, n_jobs = _check_call(
        neuron_radius, n_neurons, background_rank, n_jobs, refine, seeds, progress
    )
    mov = _as_movie(movie)
    r = _check_movie_radius(mov, neuron_radius, n_neurons)
    named = {"smoothness": smoothness, "sparsity": sparsity}
    p = _parameters(
        parameters, r, {**named, "patch": patch, "overlap": overlap}, options
    )
    rank = _check_ring(mov, p, background_rank)
    frames = _check_frames(mov, mean_image=True)
    _warn_frames(frames)
    offset = -frames["min"] if frames["min"] < 0 else 0.0
    mean = frames.pop("mean")  # kept as the result's mean_image
    noise = frames.pop("mean_noise")
    tiles, out_of_core, candidates = _plan(mov, r, p, seeds, mean, noise)
    kmax = None if n_neurons == "auto" else int(n_neurons)

    def work(i):
        Y, anat = _patch_input(mov, tiles[i], out_of_core[i], offset, p, candidates)
        return _segment_patch(Y, r, p, kmax, rank, refine, seeds, anat)

    # many small products per patch: one BLAS thread each (n_jobs for more)
    with one_thread_unless_user_set():
        results = _run_patches(tiles, work, n_jobs, progress)
    images = summary_images(tiles, results, mean, mov.dims[1:])
    variables, coords = _assemble(
        tiles, results, mov, r, rank, offset, p.merge_threshold
    )
    variables.update(images)
    call = {
        "neuron_radius": r,
        "n_neurons": n_neurons,
        "background_rank": background_rank,
        "refine": refine,
        "seeds": seeds,
        "n_jobs": n_jobs,
    }
    attrs = _attrs(mov, call, p, frames, offset)
    attrs.update(
        n_patches=len(tiles),
        n_patches_out_of_core=int(sum(out_of_core)),
        n_rejected=int(coords["rejected"].size),
        n_anatomy=int((variables["origin"][1] == "anatomy").sum()),
    )
    return xr.Dataset(variables, coords=coords, attrs=attrs)
