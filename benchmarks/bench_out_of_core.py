"""Out-of-core NMF of a movie larger than the memory budget (issue: chunked path).

Writes a float32 HDF5 movie (default 256 × 256 × 32,000 frames = 8.4 GB) of
sparse Gaussian footprints with activity and noise, then

1. times one plain sequential read of the file, block by block (the floor: an
   iteration must read V once);
2. fits rank 30 Frobenius NMF through the chunked path (``nm.nmf`` on a dask
   array read lazily from the file) for a few outer iterations, timing each;
3. reports peak RSS of the process (``resource.getrusage``).

Run:  python benchmarks/bench_out_of_core.py [--frames 32000] [--iters 4] [--path FILE]
      python benchmarks/bench_out_of_core.py --quick      (small, for a smoke test)
Results go to benchmarks/results/out_of_core.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_movie(path: Path, side: int, frames: int, rank: int, block: int, seed=0):
    import h5py

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side]
    centres = rng.uniform(8, side - 8, size=(rank - 1, 2))
    W = np.stack(
        [
            np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 4.0**2)).ravel()
            for cy, cx in centres
        ]
        + [np.full(side * side, 0.3)],  # background
        axis=1,
    ).astype(np.float32)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset(
            "movie",
            shape=(frames, side, side),
            dtype="f4",
            chunks=(min(block, frames), side, side),
        )
        for start in range(0, frames, block):
            stop = min(frames, start + block)
            H = rng.gamma(0.3, 1.0, size=(rank, stop - start)).astype(np.float32)
            Y = (W @ H).T + 0.05 * rng.random(
                (stop - start, side * side), dtype=np.float32
            )
            ds[start:stop] = Y.reshape(stop - start, side, side)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--frames", type=int, default=32000)
    parser.add_argument("--rank", type=int, default=30)
    parser.add_argument("--block", type=int, default=500, help="frames per chunk")
    parser.add_argument("--iters", type=int, default=4)
    parser.add_argument("--path", type=Path, default=Path("/tmp/neuronmf_ooc_movie.h5"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.side, args.frames, args.iters = 64, 2000, 3
    import dask
    import dask.array as da
    import h5py

    import neuronmf as nm

    if not args.path.exists() or args.quick:
        t0 = time.perf_counter()
        write_movie(args.path, args.side, args.frames, args.rank, args.block)
        print(
            f"wrote {args.path} ({args.path.stat().st_size / 1e9:.2f} GB) in "
            f"{time.perf_counter() - t0:.0f} s"
        )
    size_gb = args.path.stat().st_size / 1e9
    with h5py.File(args.path, "r") as f:
        ds = f["movie"]
        t0 = time.perf_counter()
        for start in range(0, ds.shape[0], args.block):
            ds[start : start + args.block]
        read_s = time.perf_counter() - t0
        print(f"one sequential read: {read_s:.2f} s ({size_gb / read_s:.2f} GB/s)")
        movie = da.from_array(ds, chunks=(args.block, args.side, args.side))
        V = movie.reshape(ds.shape[0], args.side * args.side).T
        stamps = []
        t_start = time.perf_counter()

        def callback(iteration, loss):
            stamps.append(time.perf_counter())
            previous = stamps[-2] if len(stamps) > 1 else t_start
            print(
                f"  iteration {iteration}: {stamps[-1] - previous:.2f} s,"
                f" loss {loss:.6g}, peak RSS {peak_rss_mb():.0f} MB",
                flush=True,
            )

        with dask.config.set(scheduler="threads", num_workers=2):
            res = nm.nmf(
                V,
                args.rank,
                init="random",
                seed=0,
                max_iter=args.iters,
                tol=1e-12,
                callback=callback,
            )
        total = time.perf_counter() - t_start
    per_iter = float(np.median(np.diff(stamps))) if len(stamps) > 1 else float("nan")
    out = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "file_gb": size_gb,
        "shape": [args.frames, args.side, args.side],
        "rank": args.rank,
        "block_frames": args.block,
        "sequential_read_s": read_s,
        "seconds_per_iteration_median": per_iter,
        "ratio_to_read_floor": per_iter / read_s,
        "total_fit_s_including_setup": total,
        "peak_rss_mb": peak_rss_mb(),
        "relative_error": res.relative_error,
        "iterations": res.n_iter,
    }
    print(json.dumps(out, indent=2))
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    name = "out_of_core_quick.json" if args.quick else "out_of_core.json"
    (results / name).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
