"""``neuronmf imaging MOVIE``: raw movie to traces (register → segment → traces)."""

from __future__ import annotations

import argparse
from pathlib import Path

from neuronmf.cli._common import add_movie_arguments

EXAMPLE = """examples:
  neuronmf imaging session.nwb --radius 5 --out run1
  neuronmf imaging neurofinder_subset/images --rate 7 --radius 5 --jobs 2 --out run1
  neuronmf imaging endoscope.h5 --background ring --radius 6 --out run1
      Any movie neuronmf.io.load_movie reads (NWB, HDF5, TIFF file or folder,
      Zarr, .npy). Steps: motion correction (--registration rigid, piecewise or
      none; the corrected movie is written to run1/registered.h5 and read from
      there lazily), segmentation, neuropil-corrected fluorescence, dF/F and
      deconvolved spikes. Writes run1/imaging.nwb (MotionCorrection,
      PlaneSegmentation, Fluorescence, DfOverF, deconvolved series),
      run1/registration.nc, run1/segmentation.nc, figures and summary.txt."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "imaging",
        help="the whole imaging pipeline: register, segment, traces, spikes",
        description="Motion correction, segmentation, neuropil-corrected dF/F and "
        "spike deconvolution of a (time, y, x) calcium-imaging movie, written as "
        "one NWB file with every step.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_movie_arguments(p)
    p.add_argument(
        "--registration",
        default="rigid",
        choices=["rigid", "piecewise", "none"],
        help="motion correction method",
    )
    p.add_argument("--radius", type=float, default=5.0, help="neuron radius in pixels")
    p.add_argument(
        "--background",
        default="low-rank",
        choices=["low-rank", "ring"],
        help="background model: low-rank (two-photon) or ring (one-photon, CNMF-E)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="threads: chunks registered and patches segmented at once",
    )
    p.add_argument(
        "--neuropil",
        default="fixed",
        choices=["fixed", "estimate", "none"],
        help="neuropil coefficient: fixed (--neuropil-coefficient), estimated per "
        "neuron, or none",
    )
    p.add_argument(
        "--neuropil-coefficient",
        type=float,
        default=0.7,
        help="the fixed coefficient α in F − α·neuropil, in [0, 2]",
    )
    p.add_argument(
        "--spike-model", default="ar1", choices=["ar1", "ar2"], help="OASIS model"
    )
    p.add_argument("--out", type=Path, default=Path("neuronmf-imaging"))
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def _summary(args, movie, reg, seg) -> list[str]:
    import numpy as np

    T, ny, nx = movie.shape
    lines = [
        "neuronmf imaging",
        f"input: {args.movie}, {T} frames of {ny} x {nx} px, rate "
        f"{movie.attrs.get('rate', 'unknown')} Hz",
    ]
    if reg is None:
        lines.append("registration: none (--registration none)")
    elif reg.attrs.get("structureless"):
        lines.append(
            f"registration: {args.registration}; not applied: the movie holds no "
            "structure to register to (templates from its first and second half "
            f"correlate {reg.attrs['split_agreement']:.3f}); every shift is 0"
        )
    else:
        rigid = reg["rigid_shifts"] if "rigid_shifts" in reg else reg["shifts"]
        mag = np.hypot(*np.asarray(rigid.values, float).T)
        lines.append(
            f"registration: {args.registration}; rigid shift median "
            f"{np.median(mag):.2f} px, max {mag.max():.2f} px; correlation with "
            f"the template {float(reg.correlation_before.median()):.3f} -> "
            f"{float(reg.correlation.median()):.3f} (median); crispness "
            f"{reg.attrs['crispness_before']:.4g} -> {reg.attrs['crispness_after']:.4g}"
        )
    n = seg.sizes["neuron"]
    lines.append(
        f"segmentation: {n} neurons kept, {seg.sizes['rejected']} rejected; "
        f"radius {args.radius:g} px; background {args.background}"
    )
    if "segmented_region" in seg.attrs:
        y0, y1, x0, x1 = seg.attrs["segmented_region"]
        lines.append(
            f"segmented region: y {y0}-{y1}, x {x0}-{x1} (covered by every frame "
            "after registration; outside it the edge pixels are repeated)"
        )
    if n and "dff" in seg:
        dff = seg["dff"].values
        ok = np.isfinite(dff).all(axis=1)
        some = np.isfinite(dff).any(axis=1)  # all-NaN neurons have no peak
        neuropil = args.neuropil
        if neuropil == "fixed":
            neuropil += f" ({args.neuropil_coefficient:g})"
        peak = (
            f"{np.median(np.nanmax(dff[some], axis=1)):.2f}"
            if some.any()
            else "undefined (no finite dF/F)"
        )
        lines.append(
            f"traces: neuropil {neuropil}; dF/F finite for {int(ok.sum())} of {n}"
            f" neurons; median peak dF/F {peak}"
        )
    if n and "spikes" in seg:
        rate = float(movie.attrs.get("rate", np.nan))
        S = seg["spikes"].values
        defined = np.isfinite(S).all(axis=1)  # no spikes where dF/F is NaN
        if defined.any():
            median = float(np.median((S[defined] > 0).sum(axis=1)))
            per_s = f" ({median / (T / rate):.2f} /s)" if np.isfinite(rate) else ""
            text = f"median {median:.0f} events per neuron{per_s}"
        else:
            text = "undefined (no neuron with a finite dF/F)"
        lines.append(
            f"spikes ({args.spike_model}): {text}, over the {int(defined.sum())} "
            "neurons with a finite dF/F"
        )
    return lines


class _Clock:
    """Wall and CPU seconds (this process, every thread) of each step."""

    def __init__(self) -> None:
        import time

        self._time = time
        self.steps: list[tuple[str, float, float]] = []
        self._start = self._mark = (time.perf_counter(), time.process_time())

    def lap(self, name: str) -> None:
        now = (self._time.perf_counter(), self._time.process_time())
        wall, cpu = now[0] - self._mark[0], now[1] - self._mark[1]
        self.steps.append((name, wall, cpu))
        self._mark = now
        print(f"imaging: {name} took {wall:.1f} s (CPU {cpu:.1f} s)", flush=True)

    def line(self) -> str:
        """``time: step wall s (CPU s), ...; total ...`` for the summary."""
        parts = [f"{n} {w:.1f} s (CPU {c:.1f} s)" for n, w, c in self.steps]
        wall = sum(w for _, w, _ in self.steps)
        cpu = sum(c for _, _, c in self.steps)
        return f"time: {', '.join(parts)}; total {wall:.1f} s (CPU {cpu:.1f} s)"


def _check_args(args) -> None:
    """The numeric options, checked before the movie is read."""
    import math

    from neuronmf.errors import input_error

    if not (math.isfinite(args.radius) and args.radius > 0):
        raise input_error(
            "--radius", "a positive number of pixels", args.radius, "Try --radius 5."
        )
    if args.jobs < 1:
        raise input_error("--jobs", "an integer >= 1", args.jobs, "Try --jobs 1.")
    if args.rate is not None and not (math.isfinite(args.rate) and args.rate > 0):
        raise input_error(
            "--rate", "a positive frame rate in Hz", args.rate, "Try --rate 30."
        )
    alpha = args.neuropil_coefficient
    if not (math.isfinite(alpha) and 0 <= alpha <= 2):
        raise input_error(
            "--neuropil-coefficient",
            "a number in [0, 2]",
            alpha,
            "Try 0.7 (the usual value) or --neuropil estimate.",
        )


def run(args) -> int:
    """The command, on one BLAS/OpenMP thread unless the user set the count.

    The pipeline's products are per patch and small: extra BLAS threads spin
    more than they compute. On 256 x 256 x 300 frames (2 cores, load 20) the
    command took 33-37 s CPU on one thread against 46-53 s on two, same
    output (docs/benchmarks.md, "End to end"). Any of OMP_NUM_THREADS,
    OPENBLAS_NUM_THREADS, ... or NEURONMF_NUM_THREADS set by the user wins.
    """
    from neuronmf._threads import one_thread_unless_user_set

    with one_thread_unless_user_set():
        return _run(args)


def _run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import neuronmf as nm
    from neuronmf.cli._common import (
        check_input,
        save_figure,
        write_results,
        write_summary,
    )
    from neuronmf.errors import input_error
    from neuronmf.plotting.deconvolution import plot_deconvolution
    from neuronmf.plotting.imaging import plot_contours, plot_traces
    from neuronmf.plotting.registration import plot_registration

    progress = not args.no_progress
    _check_args(args)
    clock = _Clock()
    movie = nm.io.load_movie(
        check_input(args.movie, "MOVIE"), series=args.series, rate=args.rate
    )
    if movie.ndim != 3 or movie.shape[0] < 2:
        raise input_error(
            "MOVIE",
            "a (time, y, x) movie with at least 2 frames",
            f"shape {movie.shape}",
            "Check the file (and --series).",
        )
    args.out.mkdir(parents=True, exist_ok=True)
    reg = None
    corrected = movie
    if args.registration != "none":
        print(f"imaging: 1/3 registration ({args.registration})", flush=True)
        reg = nm.imaging.register(
            movie,
            method=args.registration,
            out=args.out / "registered.h5",
            n_jobs=args.jobs,
            progress=progress,
        )
        corrected = reg["corrected"]
        corrected.attrs.update(movie.attrs)
        clock.lap("registration")
    # segment only where every frame holds real pixels (registration repeats the
    # edge pixel elsewhere, and that filler segments as streaks, not neurons)
    region = (
        {"y": slice(None), "x": slice(None)}
        if reg is None
        else nm.imaging.valid_region(reg)
    )
    # cut from the file: a patch of an isel'd lazy movie reads whole frames
    inner = nm.io.movie.lazy_window(corrected, region["y"], region["x"])
    print("imaging: 2/3 segmentation", flush=True)
    seg = nm.imaging.segment(
        inner,
        neuron_radius=args.radius,
        background=args.background,
        n_jobs=args.jobs,
        progress=progress,
    )
    clock.lap("segmentation")
    print("imaging: 3/3 traces and spikes", flush=True)
    seg = nm.imaging.traces(
        seg,
        inner,
        neuropil=args.neuropil,
        neuropil_coefficient=args.neuropil_coefficient,
        model=args.spike_model,
        progress=progress,
    )
    if reg is not None:
        seg = nm.imaging.to_full_frame(seg, corrected, region)
    seg.attrs["input_file"] = str(args.movie)
    clock.lap("traces")
    print("imaging: writing results", flush=True)
    files = []
    if reg is not None:
        files += write_results(
            reg.drop_vars("corrected"), args.out, "registration", nwb=False
        )
    files += write_results(seg, args.out, "segmentation", nwb=False)
    nwb = args.out / "imaging.nwb"
    if reg is not None:
        nm.io.save_nwb(reg, nwb, source=str(args.movie), overwrite=True)
    nm.io.save_nwb(seg, nwb, source=str(args.movie), overwrite=reg is None)
    files.append(nwb)
    figs = []
    if reg is not None:
        figs.append(save_figure(plot_registration(reg), args.out / "registration.png"))
    figs.append(save_figure(plot_contours(seg, corrected), args.out / "contours.png"))
    if seg.sizes["neuron"]:
        figs.append(save_figure(plot_traces(seg), args.out / "traces.png"))
        if "spikes" in seg:
            figs.append(save_figure(plot_deconvolution(seg), args.out / "spikes.png"))
    lines = _summary(args, movie, reg, seg)
    clock.lap("writing")
    lines.append(clock.line())
    lines.append("files: " + ", ".join(p.name for p in [*files, *figs]))
    write_summary(args.out, lines)
    print(
        f"imaging: {seg.sizes['neuron']} neuron(s), {seg.sizes['rejected']} "
        f"rejected; results in {args.out}"
    )
    return 0
