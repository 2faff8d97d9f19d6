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
      python benchmarks/bench_out_of_core.py --cold   (every pass reads from disk)
      python benchmarks/bench_out_of_core.py --side 64 --frames 50000 --rank 6 \
          --dtype f8 --init nndsvda --iters 2   (issue 21: 1.6 GB float64, default init)
Results go to benchmarks/results/out_of_core.json (out_of_core_cold.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_movie(
    path: Path, side: int, frames: int, rank: int, block: int, seed=0, dtype="f4"
):
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
            dtype=dtype,
            chunks=(min(block, frames), side, side),
        )
        for start in range(0, frames, block):
            stop = min(frames, start + block)
            H = rng.gamma(0.3, 1.0, size=(rank, stop - start)).astype(np.float32)
            Y = (W @ H).T + 0.05 * rng.random(
                (stop - start, side * side), dtype=np.float32
            )
            ds[start:stop] = Y.reshape(stop - start, side, side)


def sequential_read_seconds(ds, block: int) -> float:
    """Time of one plain sequential read of the dataset, block by block."""
    t0 = time.perf_counter()
    for start in range(0, ds.shape[0], block):
        ds[start : start + block]
    return time.perf_counter() - t0


def evict_from_page_cache(path: Path) -> None:
    """Ask the kernel to drop the file's (clean) pages from the page cache."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def block_gemm_seconds(ds, block: int, rank: int) -> float:
    """Median time of one block's two data products on one BLAS thread.

    The products of the chunked HALS pass (Vᵀ·W and Htᵀ·Vᵀ, in the memory
    order a (time, pixels) block arrives in) for the file's first block: the
    compute an iteration cannot avoid, whatever the reading costs.
    """
    from threadpoolctl import threadpool_limits

    frames = np.asarray(ds[:block], dtype=np.float32).reshape(block, -1)
    rng = np.random.default_rng(0)
    W = rng.random((frames.shape[1], rank), dtype=np.float32)
    Ht = rng.random((block, rank), dtype=np.float32)
    times = []
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(7):
            t0 = time.perf_counter()
            frames @ W
            Ht.T @ frames
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


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
    parser.add_argument("--init", default="random", help="initialisation of the fit")
    parser.add_argument("--dtype", default="f4", choices=["f4", "f8"])
    parser.add_argument(
        "--cold",
        action="store_true",
        help="drop the file from the page cache before the floor read and before "
        "every iteration (posix_fadvise DONTNEED): each pass then reads from disk, "
        "as it must when the file is larger than the machine's memory",
    )
    args = parser.parse_args()
    if args.quick:
        args.side, args.frames, args.iters = 64, 2000, 3
    import dask
    import dask.array as da
    import h5py

    import neuronmf as nm

    if not args.path.exists() or args.quick:
        t0 = time.perf_counter()
        write_movie(
            args.path, args.side, args.frames, args.rank, args.block, dtype=args.dtype
        )
        print(
            f"wrote {args.path} ({args.path.stat().st_size / 1e9:.2f} GB) in "
            f"{time.perf_counter() - t0:.0f} s"
        )
    size_gb = args.path.stat().st_size / 1e9
    if args.cold:
        evict_from_page_cache(args.path)
    with h5py.File(args.path, "r") as f:
        ds = f["movie"]
        read_s = sequential_read_seconds(ds, args.block)
        print(f"one sequential read: {read_s:.2f} s ({size_gb / read_s:.2f} GB/s)")
        gemm_s = block_gemm_seconds(ds, args.block, args.rank)
        n_blocks = -(-ds.shape[0] // args.block)
        compute_core_s = n_blocks * gemm_s
        cpus = os.cpu_count() or 1
        print(
            f"the two data products of one block on one core: {gemm_s * 1e3:.1f} ms; "
            f"all blocks {compute_core_s:.2f} core-s; with the read spread over "
            f"{cpus} cores: {(compute_core_s + read_s) / cpus:.2f} s"
        )
        movie = da.from_array(ds, chunks=(args.block, args.side, args.side))
        V = movie.reshape(ds.shape[0], args.side * args.side).T
        stamps = []
        t_start = time.perf_counter()

        def callback(iteration, loss):
            if args.cold:  # the next pass reads from disk again
                evict_from_page_cache(args.path)
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
                init=args.init,
                seed=0,
                max_iter=args.iters,
                tol=1e-12,
                callback=callback,
            )
        total = time.perf_counter() - t_start
        if args.cold:  # disk speed drifts on a shared machine: bracket the fit
            evict_from_page_cache(args.path)
            read_after_s = sequential_read_seconds(ds, args.block)
            print(f"one sequential read after the fit: {read_after_s:.2f} s")
    per_iter = float(np.median(np.diff(stamps))) if len(stamps) > 1 else float("nan")
    out = {
        "command": "python benchmarks/bench_out_of_core.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "file_gb": size_gb,
        "cold": args.cold,
        "shape": [args.frames, args.side, args.side],
        "rank": args.rank,
        "init": args.init,
        "dtype": args.dtype,
        "block_frames": args.block,
        "sequential_read_s": read_s,
        "sequential_read_after_fit_s": read_after_s if args.cold else None,
        "seconds_per_iteration_median": per_iter,
        "ratio_to_read_floor": per_iter / read_s,
        "block_products_one_core_s": gemm_s,
        "products_core_s": compute_core_s,
        "compute_and_read_floor_s": (compute_core_s + read_s) / cpus,
        "ratio_to_compute_and_read_floor": per_iter
        / ((compute_core_s + read_s) / cpus),
        "total_fit_s_including_setup": total,
        "peak_rss_mb": peak_rss_mb(),
        "relative_error": res.relative_error,
        "iterations": res.n_iter,
    }
    print(json.dumps(out, indent=2))
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    name = "out_of_core_quick.json" if args.quick else "out_of_core.json"
    if args.init != "random" or args.dtype != "f4":
        name = name.replace(".json", f"_{args.init}_{args.dtype}.json")
    if args.cold:
        name = name.replace(".json", "_cold.json")
    (results / name).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
