"""One-photon benchmark: ``segment(background="ring")`` against the default background.

Usage::

    python benchmarks/bench_one_photon.py [--size 128] [--frames 1000]
        [--neurons 40] [--radius 4] [--seeds 0 1 2] [--backgrounds ring low-rank]
        [--out FILE]

For each seed, a one-photon movie (``simulate_movie(one_photon=True)``: blurred
footprints on a blob-and-vessel background 5–20 × the neurons' brightness) is
segmented with ``background="ring"`` and with the default ``"low-rank"``
background (``seeds="activity"`` for both, and the defaults otherwise), and
scored with ``nm.imaging.score`` (IoU rule, IoU > 0.3). The same movie without
neurons (``n_neurons=0``) gives the null count. Prints one JSON line per run
(F1, precision, recall, neurons found, wall time, peak RSS in MB) and writes
them all to ``--out`` (default ``benchmarks/results/one_photon.json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

import numpy as np

import neuronmf as nm


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(sim, background: str, radius: float) -> dict:
    t0 = time.perf_counter()
    seg = nm.imaging.segment(
        sim.data, neuron_radius=radius, seeds="activity", background=background
    )
    wall = time.perf_counter() - t0
    row = {"background": background, "found": int(seg.sizes["neuron"])}
    if sim.truth.sizes["neuron"]:
        sc = nm.imaging.score(seg.footprints, sim.truth["masks"])
        row.update({k: round(float(sc[k]), 4) for k in ("f1", "precision", "recall")})
    row.update(wall_s=round(wall, 2), peak_rss_mb=round(_rss_mb(), 1))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--neurons", type=int, default=40)
    ap.add_argument("--radius", type=float, default=4.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument(
        "--backgrounds",
        nargs="+",
        default=["ring", "low-rank"],
        choices=["ring", "low-rank"],
    )
    ap.add_argument("--out", default="benchmarks/results/one_photon.json")
    args = ap.parse_args()
    rows = []
    for seed in args.seeds:
        for n in (args.neurons, 0):
            sim = nm.datasets.simulate_movie(
                (args.size, args.size),
                args.frames,
                n,
                args.radius,
                one_photon=True,
                seed=seed,
            )
            for background in args.backgrounds:
                row = {
                    "seed": seed,
                    "n_neurons": n,
                    **_run(sim, background, args.radius),
                }
                print(json.dumps(row), flush=True)
                rows.append(row)
    summary = {}
    for background in args.backgrounds:
        f1 = [r["f1"] for r in rows if r["background"] == background and r["n_neurons"]]
        null = [
            r["found"]
            for r in rows
            if r["background"] == background and not r["n_neurons"]
        ]
        summary[background] = {
            "median_f1": float(np.median(f1)),
            "null_found": null,
        }
    print(json.dumps(summary))
    meta = {
        "command": "python benchmarks/bench_one_photon.py "
        + " ".join(
            f"--{k} {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in vars(args).items()
            if k != "out"
        ),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "neuronmf": nm.__version__,
        "numpy": np.__version__,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps({"meta": meta, "rows": rows, "summary": summary}, indent=1)
    )


if __name__ == "__main__":
    main()
