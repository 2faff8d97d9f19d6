"""Imaging benchmarks: neuronmf vs suite2p on neurofinder_subset; memory benchmark.

Usage::

    python benchmarks/bench_imaging.py simulated [--refine full|traces]
    python benchmarks/bench_imaging.py neurofinder [--radius 5] [--jobs 2] [--seeds S]
        [--refine full|traces]
    python benchmarks/bench_imaging.py split [--radius 5] [--jobs 2]
    python benchmarks/bench_imaging.py memory [--size 1024] [--frames 2000]
    /work/bench-venv-s2p/bin/python benchmarks/bench_imaging.py suite2p

suite2p is only ever installed in its own virtual environment (never a neuronmf
dependency); its mode imports suite2p and scores its ROIs with the same
``score`` rule (scoring reimplemented here only if neuronmf is not importable there).
Each mode prints JSON lines: F1/precision/recall by both methods, wall time,
peak RSS (``resource.getrusage``, MB).

neurofinder: ``segment`` with defaults (``--seeds`` picks the seeding), scored by
both rules against all 330 annotated neurons, against the *active* ones (mask-mean
trace peak-to-noise >= 8, as in the crop test), and per half of the field of view
(found and annotated neurons with centroid x < 256, resp. >= 256).

split: the split-half protocol for the anatomical score's parameters. One
``segment`` run keeps every anatomical candidate with a positive ring response
(``anatomy_threshold=-1e9``); because an anatomical candidate's footprint, its
score and its deduplication do not depend on the other candidates, keeping those
whose ``soma_response + w * activity_evidence >= t`` afterwards gives the same
footprints as a run with ``anatomy_threshold=t, anatomy_activity_weight=w``. For
each half of the field of view the (t, w) with the best IoU-F1 on that half is
chosen and reported on the other half.
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


def _neurofinder():
    import neuronmf as nm

    mov = nm.io.load_movie(DATA / "images")
    truth = nm.io.load_regions(DATA, mov.shape[1:]).values
    centre_x = np.array([np.nonzero(m)[1].mean() for m in truth])
    return mov, truth, centre_x


def _active(mov, truth) -> np.ndarray:
    """Annotated neurons whose mask-mean trace has peak-to-noise >= 8."""
    from neuronmf.imaging.seeds import noise_level

    Y = np.asarray(mov.values)
    traces = np.array([Y[:, m].mean(1, dtype=np.float64) for m in truth])
    pnr = (traces.max(1) - np.median(traces, 1)) / noise_level(traces, axis=1)
    return pnr >= 8


def _scores(footprints, found_x, truth, active, truth_x) -> dict:
    import neuronmf as nm

    def one(f_sel, t_sel, method):
        s = nm.imaging.score(footprints[f_sel], truth[t_sel], method=method)
        return {k: round(s[k], 3) for k in ("precision", "recall", "f1")} | {
            "n_found": s["n_found"],
            "n_truth": s["n_truth"],
        }

    every_f = np.ones(len(footprints), bool)
    out = {}
    for m in ("iou", "centroid"):
        out[m] = one(every_f, np.ones(len(truth), bool), m)
        out[m + "_active"] = one(every_f, active, m)
        out[m + "_left"] = one(found_x < 256, truth_x < 256, m)
        out[m + "_right"] = one(found_x >= 256, truth_x >= 256, m)
    return out


def bench_neurofinder(radius: float, jobs: int, seeds: str, refine="full") -> dict:
    import neuronmf as nm

    mov, truth, truth_x = _neurofinder()
    t0 = time.perf_counter()
    seg = nm.imaging.segment(
        mov, neuron_radius=radius, n_jobs=jobs, seeds=seeds, refine=refine
    )
    wall, rss = time.perf_counter() - t0, _rss_mb()  # before scoring
    active = _active(mov, truth)
    out = {
        "tool": "neuronmf",
        "seeds": seeds,
        "refine": refine,
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(rss),
        "n_found": int(seg.sizes["neuron"]),
        "n_anatomy": int(seg.attrs["n_anatomy"]),
        "n_rejected": int(seg.sizes["rejected"]),
        "n_active_truth": int(active.sum()),
    }
    fp = seg.footprints.values
    out.update(_scores(fp, seg.centroid.values[:, 1], truth, active, truth_x))
    # mean IoU of the matched pairs (IoU rule), the footprint-refinement figure
    s = nm.imaging.score(fp, truth)
    out["iou"]["mean_matched_iou"] = round(float(np.mean(s["iou"])), 3)
    return out


def bench_split(radius: float, jobs: int) -> list[dict]:
    """Split-half choice of (anatomy_threshold, anatomy_activity_weight)."""
    import neuronmf as nm

    mov, truth, truth_x = _neurofinder()
    seg = nm.imaging.segment(
        mov,
        neuron_radius=radius,
        n_jobs=jobs,
        anatomy_threshold=-1e9,
        anatomy_activity_weight=1e-12,  # every candidate with a positive ring
    )
    fp = seg.footprints.values
    fx = seg.centroid.values[:, 1]
    anat = seg.origin.values == "anatomy"
    ring, act = seg.soma_response.values, seg.activity_evidence.values
    grid = [
        (round(float(t), 2), w)
        for w in (0.0, 0.005, 0.01, 0.02, 0.05)
        for t in np.arange(0.3, 0.91, 0.05)
    ]
    f1 = {}
    for t, w in grid:
        keep = ~anat | (ring + w * act >= t)
        for half, fs, ts in (
            ("left", fx < 256, truth_x < 256),
            ("right", fx >= 256, truth_x >= 256),
        ):
            s = nm.imaging.score(fp[keep & fs], truth[ts])
            f1[(t, w, half)] = (round(s["f1"], 3), round(s["precision"], 3))
    rows = []
    for tune, report in (("left", "right"), ("right", "left")):
        t, w = max(grid, key=lambda g: f1[(*g, tune)][0])
        rows.append(
            {
                "bench": "split",
                "tuned_on": tune,
                "anatomy_threshold": t,
                "anatomy_activity_weight": w,
                "f1_tuned_half": f1[(t, w, tune)][0],
                "reported_on": report,
                "iou_f1_reported_half": f1[(t, w, report)][0],
                "iou_precision_reported_half": f1[(t, w, report)][1],
                "defaults_f1_reported_half": f1[(0.55, 0.0, report)][0],
            }
        )
    return rows


SIMULATED = [  # (shape, frames, neurons, radius, seed) for datasets.simulate_movie
    ((64, 64), 300, 20, 4.0, 0),
    ((48, 48), 150, 8, 4.0, 3),
    ((48, 48), 200, 8, 4.0, 1),
    ((40, 40), 120, 5, 3.0, 2),
    # denser, larger and longer (issue 23, footprint refinement)
    ((64, 64), 400, 30, 4.0, 5),
    ((80, 80), 300, 25, 5.0, 7),
    ((64, 64), 300, 12, 6.0, 11),
    ((96, 96), 500, 50, 4.0, 13),
]


def bench_simulated(refine="full") -> list[dict]:
    """Precision/recall/F1 and mean matched IoU (IoU rule) on simulated movies."""
    import neuronmf as nm

    rows = []
    for shape, frames, n, radius, seed in SIMULATED:
        sim = nm.datasets.simulate_movie(shape, frames, n, radius, seed=seed)
        t0 = time.perf_counter()
        seg = nm.imaging.segment(sim.data, neuron_radius=radius, refine=refine)
        s = nm.imaging.score(seg, sim.truth)
        rows.append(
            {
                "movie": [list(shape), frames, n, radius, seed],
                "n_found": int(seg.sizes["neuron"]),
                "n_anatomy": int(seg.attrs["n_anatomy"]),
                "wall_s": round(time.perf_counter() - t0, 1),
                **{k: round(s[k], 3) for k in ("precision", "recall", "f1")},
                "refine": refine,
                "mean_matched_iou": round(float(np.mean(s["iou"])), 3),
            }
        )
    return rows


def _write_memory_movie(size: int, frames: int, path: Path) -> None:
    """Simulated size×size×frames float32 HDF5 movie, 128² tiles of 30 neurons."""
    import h5py

    import neuronmf as nm

    tmp = path.with_suffix(".part")
    with h5py.File(tmp, "w") as f:
        d = f.create_dataset(
            "movie", (frames, size, size), "float32", chunks=(frames, 64, 64)
        )
        tile = 128
        for i in range(0, size, tile):
            for j in range(0, size, tile):
                sim = nm.datasets.simulate_movie(
                    (tile, tile), frames, 30, 5.0, seed=i * size + j
                )
                d[:, i : i + tile, j : j + tile] = sim.data.values.astype(np.float32)
    tmp.replace(path)


def bench_memory(size: int, frames: int, path: Path, jobs: int) -> dict:
    """Segment a simulated size×size×frames HDF5 movie lazily; peak RSS.

    The movie is written first (once) in a child process, so the peak RSS
    reported is that of the segmentation alone.
    """
    import multiprocessing

    import neuronmf as nm

    if not path.exists():
        child = multiprocessing.get_context("spawn").Process(
            target=_write_memory_movie, args=(size, frames, path)
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"writing {path} failed (exit code {child.exitcode})")
    t0 = time.perf_counter()
    seg = nm.imaging.segment(
        nm.io.load_movie(path, lazy=True), neuron_radius=5.0, n_jobs=jobs, progress=True
    )
    return {
        "tool": "neuronmf",
        "bench": "memory",
        "shape": [frames, size, size],
        "file_gb": round(path.stat().st_size / 1e9, 2),
        "n_jobs": jobs,
        "wall_s": round(time.perf_counter() - t0, 1),
        "peak_rss_mb": round(_rss_mb(), 1),
        "n_found": int(seg.sizes["neuron"]),
        "n_simulated": 30 * (size // 128) ** 2,
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "mode", choices=["simulated", "neurofinder", "split", "memory", "suite2p"]
    )
    p.add_argument(
        "--seeds",
        default="anatomy+activity",
        choices=["anatomy+activity", "activity", "anatomy"],
    )
    p.add_argument("--refine", default="full", choices=["full", "traces"])
    p.add_argument("--radius", type=float, default=5.0)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--frames", type=int, default=2000)
    p.add_argument("--path", type=Path, default=Path("/tmp/bench_imaging_movie.h5"))
    a = p.parse_args()
    if a.mode in ("simulated", "split"):
        rows = (
            bench_simulated(a.refine)
            if a.mode == "simulated"
            else bench_split(a.radius, a.jobs)
        )
        for row in rows:
            print(json.dumps(row))
        return
    if a.mode == "neurofinder":
        res = bench_neurofinder(a.radius, a.jobs, a.seeds, a.refine)
    elif a.mode == "memory":
        res = bench_memory(a.size, a.frames, a.path, a.jobs)
    else:
        raise SystemExit("suite2p mode: not implemented yet (see docs/imaging.md)")
    print(json.dumps(res))
    np.asarray(0)


if __name__ == "__main__":
    main()
