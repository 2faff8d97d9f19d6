"""Segment neurons from a simulated calcium-imaging movie and score them.

Run: python examples/segment_movie.py --out DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import neuronmf as nm
from neuronmf.plotting.imaging import plot_contours, plot_footprints, plot_traces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("segment_movie_out"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sim = nm.datasets.simulate_movie((64, 64), 300, 20, 4.0, seed=0)
    seg = nm.imaging.segment(sim.data, neuron_radius=4.0)
    for method in ("iou", "centroid"):
        s = nm.imaging.score(seg, sim.truth, method=method)
        print(
            f"{method:8s} precision {s['precision']:.2f} recall {s['recall']:.2f} "
            f"F1 {s['f1']:.2f}"
        )
    nm.io.save_netcdf(seg, args.out / "segmentation.nc")
    nm.io.save_nwb(seg, args.out / "segmentation.nwb", overwrite=True)
    plot_contours(seg, sim.data).savefig(args.out / "contours.png")
    plot_traces(seg).savefig(args.out / "traces.png")
    plot_footprints(seg).savefig(args.out / "footprints.png")
    print(f"{seg.sizes['neuron']} neurons; results in {args.out}")


if __name__ == "__main__":
    main()
