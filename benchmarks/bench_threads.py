"""Wall time with the default thread pools against one thread (issue 21, 11(d)).

Each case runs in a fresh subprocess, ``--repeats`` times, (a) with the default
environment (neuronmf picks thread counts by problem size:
``neuronmf._threads.blas_threads_for`` and the engine's per-fit rule) and (b) with
``OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=1``; the medians are
printed. Requirement: small decodes and the demo no slower by default than on one
thread; large fits no slower than before.

Cases:

- ``decode``: 90 bins × 35 neurons, 3 classes, ``model="multinomial"``,
  NMF features ranks 1-5, ``n_null=0`` (the timed call only; import excluded);
- ``demo``: ``neuronmf demo --out <tmp>`` (whole command, wall time);
- ``large``: ``nm.nmf`` of a 2000 × 5000 random matrix at rank 20, 100 iterations.

Usage::

    python benchmarks/bench_threads.py [--cases decode,demo,large] [--repeats 3]
        [--pythonpath OLD_TREE] [--out benchmarks/results/threads.json]

``--pythonpath`` runs another source tree (e.g. ``git archive <commit>``) for a
before/after comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

DECODE = r"""
import time, warnings, numpy as np
import neuronmf as nm
rng = np.random.default_rng(0)
y = np.repeat(np.arange(3), 30)
rng.shuffle(y)
mean = 1.0 + 2.0 * (y[:, None] == (np.arange(35) % 3)[None, :])
X = rng.poisson(mean, size=(90, 35)).astype(float)
warnings.simplefilter("ignore")
t = time.perf_counter()
nm.decoding.decode(X, y, model="multinomial", ranks=range(1, 6), n_null=0)
print(time.perf_counter() - t)
"""

LARGE = r"""
import time, numpy as np
import neuronmf as nm
V = np.random.default_rng(0).random((2000, 5000))
nm.nmf(V, 20, seed=0, max_iter=2)  # compile / warm up
t = time.perf_counter()
nm.nmf(V, 20, seed=0, max_iter=100, tol=1e-12)
print(time.perf_counter() - t)
"""

ONE = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
THREAD_VARS = (*ONE, "BLIS_NUM_THREADS", "NEURONMF_NUM_THREADS")


def _env(one: bool, pythonpath: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env["MPLBACKEND"] = "Agg"
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    if one:
        env.update(ONE)
    return env


def _time(case: str, env: dict) -> float:
    if case == "demo":
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            code = "import sys; from neuronmf.cli.main import main; sys.exit(main())"
            subprocess.run(
                [sys.executable, "-c", code, "demo", "--out", f"{tmp}/demo"],
                env=env,
                check=True,
                capture_output=True,
            )
            return time.perf_counter() - t
    code = DECODE if case == "decode" else LARGE
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True
    )
    return float(out.stdout.decode().strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", default="decode,demo,large")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--pythonpath", default=None)
    p.add_argument("--out", default=None, help="JSON results file")
    a = p.parse_args()
    results = {}
    for case in a.cases.split(","):
        for label, one in (("default", False), ("one_thread", True)):
            runs = [_time(case, _env(one, a.pythonpath)) for _ in range(a.repeats)]
            results[f"{case}/{label}"] = {
                "median_s": round(statistics.median(runs), 2),
                "runs_s": [round(r, 2) for r in runs],
            }
            print(
                f"{case:7s} {label:10s} median {statistics.median(runs):7.2f} s "
                f"runs {[round(r, 1) for r in runs]}",
                flush=True,
            )
    if a.out:
        results["machine"] = {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_at_end": os.getloadavg(),
            "pythonpath": a.pythonpath,
        }
        with open(a.out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
