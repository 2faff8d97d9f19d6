"""``neuronmf segment MOVIE``: neurons (footprints + traces) from a movie."""

from __future__ import annotations

import argparse
from pathlib import Path

from neuronmf.cli._common import add_movie_arguments

EXAMPLE = """examples:
  neuronmf segment session.nwb --radius 5 --out seg
  neuronmf segment session.nwb --series TwoPhotonSeries --out seg
  neuronmf segment neurofinder_subset/images --radius 5 --jobs 2 --rate 7 --out seg
      (TIFF folder). Any movie neuronmf.io.load_movie reads: NWB, HDF5, TIFF
      file or folder, Zarr, .npy. Writes seg/segmentation.nc (NetCDF),
      seg/segmentation.nwb (PlaneSegmentation + RoiResponseSeries),
      seg/contours.png, seg/traces.png, seg/footprints.png and seg/summary.txt."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "segment",
        help="find neurons (footprints + traces) in a calcium-imaging movie",
        description="Seeded NMF segmentation of a (time, y, x) movie.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_movie_arguments(p)
    p.add_argument("--radius", type=float, default=5.0, help="neuron radius in pixels")
    p.add_argument("--jobs", type=int, default=1, help="patches processed in parallel")
    p.add_argument("--patch", type=int, default=None, help="patch side in pixels")
    p.add_argument(
        "--seeds",
        default="anatomy+activity",
        choices=["anatomy+activity", "activity", "anatomy"],
        help="neurons from transients, from ring-shaped somata in the mean image, "
        "or both (default)",
    )
    p.add_argument(
        "--patch-memory",
        type=float,
        default=None,
        metavar="MB",
        help="largest patch (frames x pixels x 4 bytes) segmented in memory; "
        "bigger ones are streamed through the out-of-core path (default 1024 MB)",
    )
    p.add_argument("--out", type=Path, default=Path("neuronmf-segment"))
    p.add_argument("--no-progress", action="store_true", help="hide patch progress")
    p.set_defaults(func=run)


def run(args) -> int:
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import neuronmf as nm
    from neuronmf.cli._common import (
        check_input,
        save_figure,
        write_results,
        write_summary,
    )
    from neuronmf.plotting.imaging import plot_contours, plot_footprints, plot_traces

    movie = nm.io.load_movie(
        check_input(args.movie, "MOVIE"), series=args.series, rate=args.rate
    )
    seg = nm.imaging.segment(
        movie,
        neuron_radius=args.radius,
        n_jobs=args.jobs,
        patch=args.patch,
        seeds=args.seeds,
        progress=not args.no_progress,
        **(
            {}
            if args.patch_memory is None
            else {"patch_memory": max(1, int(args.patch_memory * 2**20))}
        ),
    )
    seg.attrs["input_file"] = str(args.movie)
    files = write_results(seg, args.out, "segmentation", source=args.movie)
    n = seg.sizes["neuron"]
    figs = [save_figure(plot_contours(seg, movie), args.out / "contours.png")]
    if n:
        figs.append(save_figure(plot_traces(seg), args.out / "traces.png"))
        figs.append(save_figure(plot_footprints(seg), args.out / "footprints.png"))
    T, ny, nx = movie.shape
    lines = [
        "neuronmf segment",
        f"input: {args.movie} (series {movie.attrs.get('source_path', '')!r}), "
        f"{T} frames of {ny} x {nx} px, rate {movie.attrs.get('rate', 'unknown')} Hz",
        f"neuron radius: {args.radius:g} px; patches: {seg.attrs['n_patches']} "
        f"({seg.attrs['n_patches_out_of_core']} out of core)",
        f"neurons kept: {n} ({seg.attrs['n_anatomy']} from anatomy, seeds "
        f"{args.seeds!r}); rejected: {seg.sizes['rejected']}",
    ]
    if n:
        snr = seg.snr.values
        lines.append(
            f"trace SNR: median {float(np.median(snr)):.1f}, "
            f"min {snr.min():.1f}, max {snr.max():.1f}"
        )
    if seg.sizes["rejected"]:
        reasons = {}
        for r in seg.rejected_reason.values:
            for why in str(r).split("; "):
                key = why.split(" ")[0] + (
                    " correlation" if why.startswith("trace") else ""
                )
                reasons[key] = reasons.get(key, 0) + 1
        lines.append(
            "rejection reasons: "
            + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()))
        )
    lines.append("files: " + ", ".join(p.name for p in [*files, *figs]))
    write_summary(args.out, lines)
    print(
        f"segment: {n} neuron(s), {seg.sizes['rejected']} rejected; "
        f"results in {args.out}"
    )
    return 0
