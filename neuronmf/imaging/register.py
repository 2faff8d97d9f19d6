"""``register``: motion correction of a calcium-imaging movie (rigid or piecewise).

Phase correlation (whitened cross-power spectrum, Gaussian low-pass) with
subpixel refinement by an upsampled DFT (:mod:`neuronmf.imaging._register_phase`)
against a template refined on a sample of frames; piecewise-rigid correction
estimates one shift per overlapping patch and warps each frame with the smooth
(cubic-spline) interpolation of the patch shifts, NoRMCorre-like
(:mod:`neuronmf.imaging._register_warp`). The passes are in
:mod:`neuronmf.imaging._register_core`.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path

import numpy as np
import xarray as xr

from neuronmf._provenance import result_attrs
from neuronmf.engine._validation import check_bool, check_int, check_real, choice
from neuronmf.errors import input_error
from neuronmf.imaging import _register_core as core
from neuronmf.imaging import _register_warp as wp
from neuronmf.imaging.segment import _as_movie

__all__ = ["METHODS", "register"]

METHODS = ("rigid", "piecewise")
SUBPIXEL = ("dft", "parabola", "none")
#: float32 bytes of raw frames per chunk of the pass (the working set is ~6×).
CHUNK_BYTES = 32 << 20


def _check_movie(mov: xr.DataArray) -> None:
    dtype = np.dtype(mov.dtype)
    if not np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.complexfloating):
        raise input_error("movie", "real numbers", f"dtype {dtype}")
    T, ny, nx = mov.shape
    if T < 2:
        raise input_error("movie", "at least 2 frames", f"{T} frame(s)")
    if min(ny, nx) < 16:
        raise input_error(
            "movie frames",
            "at least 16 × 16 px",
            f"{ny} × {nx}",
            "Pass the full field.",
        )


def _options(
    mov,
    method,
    max_shift,
    patch,
    overlap,
    max_deviation,
    subpixel,
    upsample,
    whiten,
    smooth,
    interpolation,
    min_peak_ratio,
) -> core.Options:
    """Every tuning argument checked (refused, never coerced) and its default."""
    _, ny, nx = mov.shape
    method = choice("method", method, METHODS)
    subpixel = choice("subpixel", subpixel, SUBPIXEL)
    if interpolation is None:
        interpolation = "fourier" if method == "rigid" else "cubic"
    interpolation = choice("interpolation", interpolation, tuple(wp.ORDERS))
    short = min(ny, nx)
    if max_shift is None:
        max_shift = int(min(max(10, round(0.15 * short)), short // 3))
    max_shift = check_int("max_shift", max_shift, 1, short // 2 - 1)
    if patch is None:
        patch = int(min(128, max(32, short // 3)))
    patch = check_int("patch", patch, 16, short)
    if overlap is None:
        overlap = patch // 2
    overlap = check_int("overlap", overlap, 0, patch - 1)
    max_deviation = check_int("max_deviation", max_deviation, 1, patch // 4)
    return core.Options(
        method=method,
        max_shift=max_shift,
        patch=patch,
        overlap=overlap,
        max_deviation=max_deviation,
        subpixel=subpixel,
        upsample=check_int("upsample", upsample, 1, 100),
        whiten=_check_whiten(whiten),
        smooth=check_real("smooth", smooth, 0.0),
        order=wp.ORDERS[interpolation],
        min_peak_ratio=check_real("min_peak_ratio", min_peak_ratio, 0.0),
        fourier=interpolation.startswith("fourier"),
    )


def _check_whiten(whiten) -> float:
    w = check_real("whiten", whiten, 0.0)
    if w > 1:
        raise input_error(
            "whiten", "a number in [0, 1]", repr(whiten), "1 is phase correlation."
        )
    return w


def _check_out(out) -> Path | None:
    if out is None:
        return None
    if not isinstance(out, (str, os.PathLike)):
        raise input_error("out", "a file path or None", repr(out))
    p = Path(out)
    if not p.parent.is_dir():
        raise input_error(
            "out", "a path in an existing folder", str(p), "Create the folder first."
        )
    return p


def _chunk(mov, chunk_frames) -> int:
    T, ny, nx = mov.shape
    if chunk_frames is None:
        n = max(1, CHUNK_BYTES // (4 * ny * nx))
        if n > FILE_TILE[0]:  # whole tiles of the output file per write
            n -= n % FILE_TILE[0]
        return int(min(T, n))
    return check_int("chunk_frames", chunk_frames, 1)


#: (frames, y, x) of the output file's HDF5 chunks: a segmentation patch reads
#: the tiles it covers (0.1-0.35 s for 104² px x 3,000 frames of a 512² movie)
#: instead of every frame whole (0.65-0.85 s); writers read 32 frames at a time
FILE_TILE = (32, 64, 64)


def register(
    movie,
    *,
    method: str = "rigid",
    max_shift: int | None = None,
    patch: int | None = None,
    overlap: int | None = None,
    max_deviation: int = 3,
    template: np.ndarray | None = None,
    template_frames: int = 200,
    template_rounds: int = 3,
    subpixel: str = "dft",
    upsample: int = 10,
    whiten: float = 0.5,
    smooth: float = 1.0,
    interpolation: str | None = None,
    min_peak_ratio: float = 0.0,
    bidi: bool = False,
    chunk_frames: int | None = None,
    out: str | os.PathLike | None = None,
    n_jobs: int = 1,
    progress: bool = False,
) -> xr.Dataset:
    """Correct the motion of a calcium-imaging movie (rigid or piecewise rigid).

    1. A sample of ``template_frames`` frames spread over the movie is read
       once; the initial template is the mean of its most mutually correlated
       frames; ``template_rounds`` times, the sample is registered to the
       template and the template becomes the mean of the better-correlated
       half of the corrected sample. Null data: such a template finds
       structure even in noise, so two more templates are built the same way
       (rigid), one from the sample's first and one from its second half; when
       they correlate less than 0.3 once aligned (a field of view gives near
       1, noise near 0), the movie holds nothing to register to: every shift
       is 0, with a warning (``attrs["structureless"]``).
    2. One pass over the movie, ``chunk_frames`` frames at a time (memory is
       bounded by the chunk and the sample, never the movie): each frame's
       shift is the peak of the phase correlation (whitened cross-power
       spectrum, Gaussian low-pass of ``smooth`` px) with the template within
       ``±max_shift`` px, refined to subpixel by an upsampled DFT
       (Guizar-Sicairos; ``1/upsample`` px grid, then a parabola). With
       ``method="piecewise"`` each overlapping ``patch`` × ``patch`` patch is
       then registered the same way within ``±max_deviation`` px of the rigid
       shift, and the frame is warped by the cubic-spline interpolation of
       the patch shifts (NoRMCorre-like). Frames are resampled with
       ``interpolation`` (edges: nearest pixel): by default a rigid shift
       is a Fourier phase ramp, which keeps the pixel noise white.

    Parameters
    ----------
    movie : DataArray (time, y, x) or array
        In memory or dask-backed (as ``neuronmf.io.load_movie`` returns it);
        never modified, read chunk by chunk.
    method : {"rigid", "piecewise"}
    max_shift : int, optional
        Largest rigid shift searched, px (default 15 % of the shorter side,
        at least 10, at most a third of it).
    patch, overlap : int, optional
        Piecewise patch side and overlap, px (default a third of the shorter
        side within [32, 128], and half a patch).
    max_deviation : int
        Largest difference between a patch's shift and the rigid shift, px.
    template : (y, x) array, optional
        A template to register to; skips step 1.
    template_frames, template_rounds : int
        Size of the sample and the number of refinement rounds (step 1).
    subpixel : {"dft", "parabola", "none"}
        Subpixel refinement (the DFT one reaches < 0.05 px on simulated
        movies; docs/benchmarks.md).
    upsample : int
        Upsampling factor of the DFT refinement.
    whiten : float in [0, 1]
        Exponent of the spectral whitening: the cross-power spectrum is
        divided by its modulus to this power (1: phase correlation, 0: plain
        cross-correlation). 0.5 was the most accurate on simulated movies
        (docs/benchmarks.md).
    smooth : float
        Sigma (px) of the Gaussian low-pass of the correlation.
    interpolation : str, optional
        Resampling of the corrected frames, one of ``"fourier"``, ``"cubic"``,
        ``"lanczos"``, ``"fourier-lanczos"``, ``"bilinear"``; default ``"fourier"`` for
        ``method="rigid"`` and ``"cubic"`` for ``"piecewise"`` (the recorded ``params``
        hold the one used). ``"fourier"`` applies the rigid shift as a phase ramp (whole
        pixels by indexing, frames padded so that their periodic extension is
        continuous; the filler band is the edge pixel as with the kernels): unitary, so
        pixel noise stays white and keeps its variance, where the kernels average
        neighbouring pixels at subpixel shifts (cubic: neighbour correlation up to 0.38
        and variance down to 0.64 at half a pixel), which costs segmentation F1 (0.964
        -> 0.930 on a still movie moved by half a pixel; 0.964 with "fourier").
        Piecewise, only the residual field (patch shifts minus the rigid shift) is then
        interpolated (cubic): its noise stays partly correlated, and F1 after piecewise
        registration was not better than with "cubic" (the piecewise default). "cubic"
        (Keys) was the rigid default before; about 10 % less CPU. ``"lanczos"``:
        Lanczos-3 (windowed sinc, 6 x 6 taps, weights normalised to sum 1, edges
        clamped) for everything; ``"fourier-lanczos"``: the rigid part by the phase ramp
        and the piecewise residual by Lanczos-3. Lanczos leaves less correlated noise
        than cubic (512 px white noise, rigid: neighbour correlation 0.12 / 0.14 against
        0.17 / 0.19, variance 0.77 against 0.62) at about 2.2x the warp time (9 against
        4 ms per 512 x 512 frame), but segmentation F1 after piecewise registration was
        not better (simulated movies: the same gap to the motion-free movie on 7 of 8
        seeds, 0.012 larger on one). Measured in docs/benchmarks.md.
    min_peak_ratio : float
        Piecewise: a patch whose correlation peak stands less than this many
        standard deviations above its window mean takes the rigid shift.
    bidi : bool
        Estimate and correct a bidirectional scan-phase offset (odd rows
        displaced along x against even rows) before registering.
    chunk_frames : int, optional
        Frames per chunk of the pass (default: 32 MiB of float32 frames).
    n_jobs : int
        Chunks of the pass aligned at once, in threads (default 1). Memory
        holds ``n_jobs + 1`` chunks; the result does not depend on it.
    out : path, optional
        Write the corrected movie to this HDF5 file (dataset ``corrected``,
        float32, one chunk per frame, with ``shifts``, ``correlation`` and
        ``template``), atomically; the result then holds it lazily (dask,
        through ``neuronmf.io.load_movie``). Default: in memory.
    progress : bool
        Progress bar over frames (tqdm, on stderr).

    Returns
    -------
    xarray.Dataset
        ``corrected`` (time, y, x) float32; ``shifts`` (time, axis), or
        (time, patch_y, patch_x, axis) for piecewise (then ``rigid_shifts``
        (time, axis) too), in px: the content of the template at ``p`` is at
        ``p + shift`` in the frame; ``correlation`` and ``correlation_before``
        (time): Pearson correlation of each corrected (raw) frame with the
        template; ``peak_ratio`` (time); ``template``, ``mean_before``,
        ``mean_after`` (y, x). ``attrs``: the provenance
        (``neuronmf_kind="registration"``), ``crispness_before`` and
        ``crispness_after`` (Frobenius norm of the gradient of the mean
        image, NoRMCorre's measure; larger is sharper), ``bidi_offset`` (px),
        ``split_agreement`` (the two half templates' correlation, step 1; NaN
        with a given ``template``, which is trusted) and ``structureless``
        (1 when it was below 0.3 and every shift was set to 0).

    Examples
    --------
    >>> from neuronmf.datasets import simulate_movie
    >>> sim = simulate_movie((64, 64), 60, 10, seed=0, motion={"rigid": 4})
    >>> reg = register(sim.data)
    >>> reg["shifts"].dims, reg["corrected"].shape
    (('time', 'axis'), (60, 64, 64))
    >>> bool(reg.attrs["crispness_after"] > reg.attrs["crispness_before"])
    True
    """
    mov = _as_movie(movie)
    _check_movie(mov)
    opts = _options(
        mov,
        method,
        max_shift,
        patch,
        overlap,
        max_deviation,
        subpixel,
        upsample,
        whiten,
        smooth,
        interpolation,
        min_peak_ratio,
    )
    interpolation = {1: "bilinear", 3: "cubic", 6: "lanczos"}[opts.order]
    if opts.fourier:
        interpolation = "fourier" if opts.order == 3 else "fourier-" + interpolation
    check_bool("bidi", bidi)
    check_bool("progress", progress)
    template_frames = check_int("template_frames", template_frames, 1)
    template_rounds = check_int("template_rounds", template_rounds, 0)
    chunk = _chunk(mov, chunk_frames)
    n_jobs = check_int("n_jobs", n_jobs, 1)
    path = _check_out(out)
    T, ny, nx = mov.shape
    if template is not None:
        template = np.asarray(template)
        if template.shape != (ny, nx) or not np.isfinite(template).all():
            raise input_error(
                "template", f"a finite ({ny}, {nx}) image", f"shape {template.shape}"
            )
    data = mov.data
    bidi_offset = 0.0
    agreement = float("nan")  # a given template is trusted
    if template is None or bidi:
        sample = core.read_sample(data, template_frames)
        if bidi:
            bidi_offset = wp.bidi_offset(sample.mean(axis=0, keepdims=True))
            sample = wp.fix_bidi(sample, bidi_offset, opts.order)
        if template is None:
            agreement = core.split_agreement(sample, opts, template_rounds, chunk)
            if agreement < MIN_SPLIT_AGREEMENT:  # nothing to refine a template on
                template = sample.mean(axis=0, dtype=np.float64)
            else:
                template = core.build_template(sample, opts, template_rounds, chunk)
        del sample
    template = np.asarray(template, np.float32)
    structureless = bool(agreement < MIN_SPLIT_AGREEMENT)  # False for nan
    if structureless:
        _warn_structureless(agreement)
    aligner = core.Aligner(template, opts, identity=structureless)
    from tqdm.auto import tqdm

    bar = tqdm(total=T, desc="register", unit="frame", disable=not progress)
    try:
        if path is None:
            corrected = np.empty((T, ny, nx), np.float32)
            stats = core.run_pass(
                data, aligner, template, corrected, chunk, bidi_offset, bar, n_jobs
            )
        else:
            stats = _pass_to_file(
                path, mov, aligner, template, chunk, bidi_offset, bar, n_jobs
            )
            corrected = _lazy_corrected(path)
    finally:
        bar.close()
    call = {
        "method": opts.method, "max_shift": opts.max_shift, "patch": opts.patch,
        "overlap": opts.overlap, "max_deviation": opts.max_deviation,
        "template_frames": template_frames, "template_rounds": template_rounds,
        "subpixel": opts.subpixel, "upsample": opts.upsample, "whiten": opts.whiten,
        "smooth": opts.smooth, "interpolation": interpolation,
        "min_peak_ratio": opts.min_peak_ratio, "bidi": bool(bidi),
        "chunk_frames": chunk, "out": str(path) if path is not None else None,
    }  # fmt: skip
    return _result(
        mov, aligner, template, stats, corrected, call, bidi_offset, agreement
    )


#: Least correlation of the templates built from the sample's first and second
#: halves (``split_agreement``) for the movie to be registered: simulated
#: movies 0.42 (48 px, 8 neurons, 100 frames) to 0.96, neurofinder_subset
#: 0.87; white noise 0.007-0.094 (48-512 px fields), AR(1) noise (phi 0.9,
#: 0.95) 0.015-0.034 (docs/imaging.md, "Registration", null data).
MIN_SPLIT_AGREEMENT = 0.3


def _warn_structureless(agreement: float) -> None:
    import warnings

    warnings.warn(
        "register: the movie holds no structure to register to: templates built "
        "independently from its first and its second half correlate "
        f"{agreement:.3f} (< {MIN_SPLIT_AGREEMENT}; a field of view gives near 1, "
        "noise near 0), so any shift found would be fitted to noise. Every shift "
        "is 0 and the frames are returned as they are. If the movie does hold a "
        "field of view, pass template= (e.g. a mean image) to register to it.",
        RuntimeWarning,
        stacklevel=3,
    )


def _warn_at_limit(limit: np.ndarray, max_shift: int) -> None:
    """Warn when more than 1 % of the frames' shifts lie on the search limit."""
    n, T = int(limit.sum()), len(limit)
    if n > 0.01 * T:
        import warnings

        warnings.warn(
            f"register: the shifts of {n} of {T} frames lie on the ±{max_shift} px "
            "limit of the search, where the correlation still rose: those estimates "
            "are not to be trusted (the motion may be larger: raise max_shift; or "
            "the frames hold too little structure, e.g. neurons dark between "
            "transients: check reg['peak_ratio'] and plot_registration).",
            RuntimeWarning,
            stacklevel=3,
        )


def _pass_to_file(
    path, mov, aligner, template, chunk, bidi_offset, bar, n_jobs: int
) -> dict:
    """The pass writing into an HDF5 file built beside ``path`` and renamed."""
    import h5py

    from neuronmf.io._atomic import atomic_path

    T, ny, nx = mov.shape
    with atomic_path(path, size_hint=4 * T * ny * nx) as tmp:
        with h5py.File(tmp, "w") as f:
            tile = (
                min(FILE_TILE[0], chunk),
                min(FILE_TILE[1], ny),
                min(FILE_TILE[2], nx),
            )
            d = f.create_dataset("corrected", (T, ny, nx), np.float32, chunks=tile)
            rate = mov.attrs.get("rate")
            if isinstance(rate, numbers.Real):
                d.attrs["rate"] = float(rate)
            stats = core.run_pass(
                mov.data, aligner, template, d, chunk, bidi_offset, bar, n_jobs
            )
            local = stats["local"]
            f["shifts"] = stats["rigid"] if local is None else local
            f["correlation"] = stats["correlation"]
            f["template"] = template
    return stats


def _lazy_corrected(path: Path):
    from neuronmf.io.movie import load_movie

    return load_movie(path, series="corrected", lazy=True).data


def _result(mov, aligner, template, stats, corrected, call, bidi_offset, agreement):
    coords = {d: mov.coords[d].values for d in ("time", "y", "x") if d in mov.coords}
    coords["axis"] = ["y", "x"]
    variables = {
        "corrected": (("time", "y", "x"), corrected),
        "correlation": ("time", stats["correlation"]),
        "correlation_before": ("time", stats["correlation_before"]),
        "peak_ratio": ("time", stats["peak_ratio"]),
        "template": (("y", "x"), template),
        "mean_before": (("y", "x"), stats["mean_before"]),
        "mean_after": (("y", "x"), stats["mean_after"]),
    }
    if aligner.grid is None:
        variables["shifts"] = (("time", "axis"), stats["rigid"])
    else:
        variables["shifts"] = (("time", "patch_y", "patch_x", "axis"), stats["local"])
        variables["rigid_shifts"] = (("time", "axis"), stats["rigid"])
        coords["patch_y"] = aligner.grid.cy
        coords["patch_x"] = aligner.grid.cx
    border = call["max_shift"]
    source = mov.attrs.get("source")
    attrs = result_attrs("registration", params=call, seed=None, source=source)
    attrs.update(
        method=call["method"],
        crispness_before=core.crispness(stats["mean_before"], border),
        crispness_after=core.crispness(stats["mean_after"], border),
        bidi_offset=float(bidi_offset),
        max_abs_shift=float(np.abs(stats["rigid"]).max()),
        frames_at_max_shift=int(stats["at_limit"].sum()),
        split_agreement=float(agreement),
        structureless=int(aligner.identity),
    )
    _warn_at_limit(stats["at_limit"], call["max_shift"])
    if "rate" in mov.attrs:
        attrs["rate"] = mov.attrs["rate"]
    ds = xr.Dataset(variables, coords=coords, attrs=attrs)
    ds["shifts"].attrs["units"] = "pixels"
    return ds
