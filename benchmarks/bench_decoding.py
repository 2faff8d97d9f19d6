"""Benchmark: full nested decode (5 outer folds, ranks 1..15) on simulated counts.

Default size is the issue's target, 200 neurons × 50,000 bins:

    python benchmarks/bench_decoding.py
    python benchmarks/bench_decoding.py --bins 10000 --inner-cv 2 --max-iter 50

Prints the wall time, the chosen ranks and the test R², and appends a JSON line to
benchmarks/results/bench_decoding.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

import neuronmf as nm


def simulate(n_neurons: int, n_bins: int, rank: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    H = np.maximum(
        gaussian_filter1d(rng.standard_normal((rank, n_bins)), 5, axis=1) * 6, 0
    )
    W = rng.random((n_neurons, rank)) ** 4
    X = rng.poisson(W @ H + 0.1).T.astype(float)
    y = rng.standard_normal(rank) @ H + 0.5 * rng.standard_normal(n_bins)
    return X, y


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--neurons", type=int, default=200)
    p.add_argument("--bins", type=int, default=50_000)
    p.add_argument("--max-rank", type=int, default=15)
    p.add_argument("--inner-cv", type=int, default=3)
    p.add_argument("--max-iter", type=int, default=200)
    p.add_argument("--null", type=int, default=0)
    p.add_argument("--inner-nmf", default="refit", choices=["refit", "shared"])
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--tol", type=float, default=1e-4)
    args = p.parse_args(argv)
    X, y = simulate(args.neurons, args.bins)
    nm.nmf(X[:200].T, 2, max_iter=3)  # compile the kernels outside the timing
    t0 = time.perf_counter()
    res = nm.decoding.decode(
        X,
        y,
        ranks=range(1, args.max_rank + 1),
        cv=5,
        inner_cv=args.inner_cv,
        inner_nmf=args.inner_nmf,
        n_null=args.null,
        max_iter=args.max_iter,
        n_jobs=args.n_jobs,
        tol=args.tol,
        progress=True,
    )
    dt = time.perf_counter() - t0
    row = {
        "neurons": args.neurons,
        "bins": args.bins,
        "ranks": f"1..{args.max_rank}",
        "outer_folds": 5,
        "inner_cv": args.inner_cv,
        "inner_nmf": args.inner_nmf,
        "max_iter": args.max_iter,
        "n_null": args.null,
        "n_jobs": args.n_jobs,
        "tol": args.tol,
        "seconds": round(dt, 1),
        "r2": round(res.score, 4),
        "chosen_ranks": res.ranks.values.tolist(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "neuronmf": nm.__version__,
    }
    print(json.dumps(row))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    with open(out / "bench_decoding.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
