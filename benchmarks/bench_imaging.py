"""Imaging benchmarks: neuronmf vs suite2p on neurofinder_subset; memory benchmark.

Usage::

    python benchmarks/bench_imaging.py simulated
    python benchmarks/bench_imaging.py neurofinder [--radius 5] [--jobs 2]
    python benchmarks/bench_imaging.py memory [--size 1024] [--frames 2000]
    /work/bench-venv-s2p/bin/python benchmarks/bench_imaging.py suite2p

suite2p is only ever installed in its own virtual environment (never a neuronmf
dependency); its mode imports suite2p and scores its ROIs with the same
``score`` rule (scoring reimplemented here only if neuronmf is not importable there).
Each mode prints one JSON line: F1/precision/recall by both methods, wall time,
peak RSS (``resource.getrusage``, MB).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np

DATA = (
    Path(os.environ.get("NEURONMF_DATA_DIR", "/work/shared/data"))
    / "neurofinder_subset"
)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_neurofinder(radius: float, jobs: int) -> dict:
    import neuronmf as nm

    mov = nm.io.load_movie(DATA / "images")
    truth = nm.io.load_regions(DATA, mov.shape[1:]).values
    t0 = time.perf_counter()
    seg = nm.imaging.segment(mov, neuron_radius=radius, n_jobs=jobs)
    out = {
        "tool": "neuronmf",
        "wall_s": time.perf_counter() - t0,
        "peak_rss_mb": _rss_mb(),
        "n_found": int(seg.sizes["neuron"]),
    }
    for m in ("iou", "centroid"):
        s = nm.imaging.score(seg, truth, method=m)
        out[m] = {k: round(s[k], 3) for k in ("precision", "recall", "f1")}
    return out


SIMULATED = [  # (shape, frames, neurons, radius, seed) for datasets.simulate_movie
    ((64, 64), 300, 20, 4.0, 0),
    ((48, 48), 150, 8, 4.0, 3),
    ((48, 48), 200, 8, 4.0, 1),
    ((40, 40), 120, 5, 3.0, 2),
]


def bench_simulated() -> list[dict]:
    """Precision/recall/F1 (IoU rule) on small ``datasets.simulate_movie`` movies."""
    import neuronmf as nm

    rows = []
    for shape, frames, n, radius, seed in SIMULATED:
        sim = nm.datasets.simulate_movie(shape, frames, n, radius, seed=seed)
        t0 = time.perf_counter()
        seg = nm.imaging.segment(sim.data, neuron_radius=radius)
        s = nm.imaging.score(seg, sim.truth)
        rows.append(
            {
                "movie": [list(shape), frames, n, radius, seed],
                "n_found": int(seg.sizes["neuron"]),
                "wall_s": round(time.perf_counter() - t0, 1),
                **{k: round(s[k], 3) for k in ("precision", "recall", "f1")},
            }
        )
    return rows


def bench_memory(size: int, frames: int, path: Path) -> dict:
    """Write a simulated size×size×frames HDF5 movie, then segment it lazily."""
    import h5py

    import neuronmf as nm

    if not path.exists():
        with h5py.File(path, "w") as f:
            d = f.create_dataset(
                "movie", (frames, size, size), "float32", chunks=(frames, 64, 64)
            )
            tile = 128
            for i in range(0, size, tile):
                for j in range(0, size, tile):
                    sim = nm.datasets.simulate_movie(
                        (tile, tile), frames, 30, 5.0, seed=i * size + j
                    )
                    d[:, i : i + tile, j : j + tile] = sim.data.values.astype(
                        np.float32
                    )
    t0 = time.perf_counter()
    seg = nm.imaging.segment(nm.io.load_movie(path, lazy=True), neuron_radius=5.0)
    return {
        "tool": "neuronmf",
        "bench": "memory",
        "shape": [frames, size, size],
        "wall_s": time.perf_counter() - t0,
        "peak_rss_mb": _rss_mb(),
        "n_found": int(seg.sizes["neuron"]),
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("mode", choices=["simulated", "neurofinder", "memory", "suite2p"])
    p.add_argument("--radius", type=float, default=5.0)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--frames", type=int, default=2000)
    p.add_argument("--path", type=Path, default=Path("/tmp/bench_imaging_movie.h5"))
    a = p.parse_args()
    if a.mode == "simulated":
        for row in bench_simulated():
            print(json.dumps(row))
        return
    if a.mode == "neurofinder":
        res = bench_neurofinder(a.radius, a.jobs)
    elif a.mode == "memory":
        res = bench_memory(a.size, a.frames, a.path)
    else:
        raise SystemExit("suite2p mode: not implemented yet (see docs/imaging.md)")
    print(json.dumps(res))
    np.asarray(0)


if __name__ == "__main__":
    main()
