"""``segment`` on the centre of ``bench_pipeline.py``'s registered 512² movie.

    python benchmarks/bench_segment_crop.py FOLDER [--seed-frames N] [--patch N]
                                             [--profile]

``FOLDER`` is a ``bench_pipeline.py prepare`` folder after ``bench_pipeline.py
ours FOLDER piecewise`` (it reads ``ours_piecewise/registered.h5``). The
232 × 232 centre (y, x 140–372), all frames, is read into memory and segmented
in this process on one BLAS thread (the CLI's setting); the truth is moved by
the registration's offset (``best_offset`` of the union masks) and scored by
IoU. Prints one JSON line (CPU and wall seconds of ``segment``); ``--profile``
prints cProfile's 25 costliest functions first. The per-step figures of
docs/benchmarks.md ("detection on binned frames") come from this script.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import best_offset, load_truth, moved

CROP = (slice(140, 372), slice(140, 372))


def main() -> None:
    import h5py

    import neuronmf as nm
    from neuronmf._threads import one_thread_unless_user_set

    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--seed-frames", type=int, default=None)
    ap.add_argument("--patch", type=int, default=None)
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args()
    ys, xs = CROP
    with h5py.File(a.folder / "ours_piecewise" / "registered.h5", "r") as f:
        mov = f["corrected"][:, ys, xs].astype(np.float32)
        shape = f["corrected"].shape[1:]
    kw = {"neuron_radius": 5.0}
    if a.seed_frames:
        kw["seed_frames"] = a.seed_frames
    if a.patch:
        kw["patch"] = a.patch
    nm.imaging.segment(mov[:300, :64, :64], neuron_radius=5.0)  # compile, load caches
    prof = cProfile.Profile() if a.profile else None
    t0, w0 = time.process_time(), time.perf_counter()
    with one_thread_unless_user_set():
        if prof:
            prof.enable()
        seg = nm.imaging.segment(mov, **kw)
        if prof:
            prof.disable()
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    A = seg["footprints"].values
    union = np.zeros(shape, bool)
    union[ys, xs] = (A >= 0.2 * A.max(axis=(1, 2), keepdims=True)).any(0)
    truth = load_truth(a.folder)
    inside = moved(truth, best_offset(union, truth.any(0)))[:, ys, xs]
    inside = inside[inside.sum((1, 2)) > 20]
    s = nm.imaging.score(A, inside, method="iou")
    print(
        json.dumps(
            {
                "frames": int(mov.shape[0]),
                "settings": {k: v for k, v in kw.items() if k != "neuron_radius"},
                "found": len(A),
                "truth": len(inside),
                "precision": round(s["precision"], 3),
                "recall": round(s["recall"], 3),
                "f1": round(s["f1"], 3),
                "mean_iou": round(float(np.mean(s["iou"])), 3),
                "cpu_s": round(cpu, 1),
                "wall_s": round(wall, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
