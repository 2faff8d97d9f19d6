"""CPU time of a fixed number of iterations on the engine's three default paths.

For comparing two versions of the package on a noisy machine: the iteration count
is fixed (``tol=0``), so both versions do the same arithmetic, and the time is the
median CPU time of five fits in one process after a warm-up fit (Numba compiled,
caches loaded), so start-up and import time do not enter. Run it alternately
against two source trees and compare medians:

    python benchmarks/bench_fixed_iterations.py emg
    PYTHONPATH=/path/to/old/tree python benchmarks/bench_fixed_iterations.py emg

Shapes: ``emg`` (16 × 100,000, rank 5, Frobenius HALS, 150 iterations), ``movie``
(2,048 × 2,000, rank 31, Frobenius HALS, 30 iterations), ``counts`` (200 × 10,000
Poisson counts, rank 8, KL coordinate descent, 40 iterations). Prints the median
seconds and the final objective (which must be equal between versions).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def problem(shape: str):
    rng = np.random.default_rng(0)
    if shape == "emg":
        W = rng.random((16, 5))
        t = np.linspace(0, 400, 100_000)[None]
        V = W @ np.abs(np.sin(t * rng.random((5, 1)))) + 0.01 * rng.random((16, t.size))
        return V, 5, "frobenius", 150
    if shape == "movie":
        V = rng.random((2048, 31)) @ rng.random((31, 2000))
        return V + 0.1 * rng.random((2048, 2000)), 31, "frobenius", 30
    rates = rng.random((200, 8)) @ rng.random((8, 10_000)) * 0.5
    return rng.poisson(rates).astype(float), 8, "kl", 40


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shape", choices=("emg", "movie", "counts"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import neuronmf as nm

    V, rank, loss, iterations = problem(args.shape)
    options = dict(loss=loss, max_iter=iterations, tol=0.0, seed=0)
    result = nm.nmf(V, rank, **options)  # warm-up: compile, load caches
    seconds = []
    for _ in range(args.repeats):
        start = time.process_time()
        result = nm.nmf(V, rank, **options)
        seconds.append(time.process_time() - start)
    print(f"{args.shape} {np.median(seconds):.4f} s objective {result.loss:.10g}")


if __name__ == "__main__":
    main()
