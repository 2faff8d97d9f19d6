"""``neuronmf segment MOVIE``: neurons (footprints + traces) from a movie."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLE = """examples:
  neuronmf segment movie.h5 --radius 5 --out seg
  neuronmf segment neurofinder_subset/images --radius 5 --jobs 2 --out seg
      (TIFF folder; writes seg/segmentation.nc, seg/segmentation.nwb when the NWB
       writer is available, and seg/contours.png)"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "segment",
        help="find neurons (footprints + traces) in a calcium-imaging movie",
        description="Seeded NMF segmentation of a (time, y, x) movie.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "movie", type=Path, help="movie file or TIFF folder (NWB/HDF5/TIFF/Zarr)"
    )
    p.add_argument("--radius", type=float, default=5.0, help="neuron radius in pixels")
    p.add_argument("--jobs", type=int, default=1, help="patches processed in parallel")
    p.add_argument("--patch", type=int, default=None, help="patch side in pixels")
    p.add_argument("--out", type=Path, default=Path("neuronmf-segment"))
    p.add_argument("--no-progress", action="store_true", help="hide patch progress")
    p.set_defaults(func=run)


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import neuronmf as nm
    from neuronmf.imaging._io import load_movie

    movie = load_movie(args.movie)
    seg = nm.imaging.segment(
        movie,
        neuron_radius=args.radius,
        n_jobs=args.jobs,
        patch=args.patch,
        progress=not args.no_progress,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / "segmentation.nc.tmp"
    seg.to_netcdf(tmp)
    tmp.replace(args.out / "segmentation.nc")
    if hasattr(nm.io, "save_nwb"):
        nm.io.save_nwb(seg, args.out / "segmentation.nwb")
    from neuronmf.plotting.imaging import plot_contours

    fig = plot_contours(seg, movie)
    fig.savefig(args.out / "contours.png", dpi=100)
    print(
        f"segment: {seg.sizes['neuron']} neuron(s), {seg.sizes['rejected']} rejected; "
        f"results in {args.out}"
    )
    return 0
