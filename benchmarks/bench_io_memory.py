"""Peak memory of a lazy movie load: mean image of a ~2 GB float32 HDF5 movie.

Writes the movie (frame by frame, never whole) into a temporary folder, then runs
``neuronmf.io.load_movie(..., lazy=True).mean("time")`` in a fresh subprocess and
reads that subprocess's peak RSS (``ru_maxrss``). Target: < 500 MB.

Usage::

    python benchmarks/bench_io_memory.py --out benchmarks/results/io_memory.json
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = r"""
import json, resource, sys, time
import numpy as np
t0 = time.perf_counter()
import neuronmf.io as nio
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t1 = time.perf_counter()
mov = nio.load_movie(sys.argv[1], lazy=True)
mean = mov.mean("time").values
t2 = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({
    "peak_rss_mb": peak / 1024, "rss_after_import_mb": base / 1024,
    "load_and_mean_s": t2 - t1, "shape": list(mov.shape),
    "chunks_time": int(mov.data.chunksize[0]), "mean_of_mean": float(mean.mean()),
}))
"""


def write_movie(path: Path, gb: float, ny: int = 512, nx: int = 512) -> tuple:
    import h5py

    frame_bytes = ny * nx * 4
    n = int(gb * 1e9 // frame_bytes)
    rng = np.random.default_rng(0)
    block = rng.random((64, ny, nx), dtype=np.float32)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset(
            "movie", shape=(n, ny, nx), dtype="f4", chunks=(8, ny, nx)
        )
        ds.attrs["rate"] = 30.0
        for i in range(0, n, 64):
            k = min(64, n - i)
            ds[i : i + k] = block[:k] + np.float32(i % 7)
    return n, ny, nx


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=2.0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "movie.h5"
        t = time.perf_counter()
        shape = write_movie(path, args.gb)
        write_s = time.perf_counter() - t
        size = path.stat().st_size
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res.update(
        {
            "benchmark": "lazy HDF5 movie load + mean image",
            "file_gb": size / 1e9,
            "movie_shape": list(shape),
            "dtype": "float32",
            "write_s": write_s,
            "target_peak_rss_mb": 500,
            "passed": res["peak_rss_mb"] < 500,
            "python": platform.python_version(),
            "machine": platform.machine(),
        }
    )
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
