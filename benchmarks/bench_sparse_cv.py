"""Masked CV on sparse counts: select_rank(method="cv") on CSR vs the dense array.

Data: Poisson counts of a rank-5 gamma model at about 2 % non-zero, 2,000 units ×
20,000 bins (``--shape``), built block by block straight into CSR
(``bench_sparse.make_counts``) and cached as ``.npz`` in the temp directory.

Arms, each in its own subprocess (so ``ru_maxrss`` is that arm's peak):

- ``sparse``: ``select_rank(X, ranks, method="cv", loss=...)`` on the CSR array;
  the held-out entries (10 %, zeros included) are ``HeldOut`` patterns;
- ``dense``: the same on ``X.toarray()`` (float64; the clock starts after the
  conversion, the peak includes the dense matrix and the dense masks).

Both draw the same held-out entries from the same seed. Reported per arm: wall
time of the scan, peak RSS, RSS after loading (the baseline), the chosen rank and
the mean held-out score per rank.

Run:  python benchmarks/bench_sparse_cv.py [--shape 2000 20000] [--loss kl]
Results: benchmarks/results/sparse_cv_{M}x{N}_{loss}.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).parent))
from bench_sparse import make_counts, peak_mb

MODEL_RANK = 5
DENSITY = 0.02


def data_path(m, n):
    return Path(tempfile.gettempdir()) / f"neuronmf_bench_sparse_cv_{m}x{n}.npz"


def run_arm(arm, path, loss, ranks, repeats):
    from neuronmf.model_selection import select_rank

    X = sp.load_npz(path).tocsr()
    V = X.toarray() if arm == "dense" else X
    baseline = peak_mb()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scan = select_rank(V, ranks, method="cv", loss=loss, n_repeats=repeats, seed=0)
    seconds = time.perf_counter() - t0
    return {
        "arm": arm,
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "baseline_mb": baseline,
        "best_rank": scan.best_rank,
        "cv_mean": scan.scores["cv_mean"].values.tolist(),
        "cv_error": scan.scores["cv_error"].values.tolist(),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", nargs=2, type=int, default=[2000, 20000])
    ap.add_argument("--loss", default="kl")
    ap.add_argument("--ranks", nargs="+", type=int, default=[1, 2, 3, 4, 5, 6, 7])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--arms", default="sparse,dense")
    ap.add_argument("--arm", help=argparse.SUPPRESS)
    args = ap.parse_args()
    m, n = args.shape
    path = data_path(m, n)
    if args.arm:
        out = run_arm(args.arm, path, args.loss, args.ranks, args.repeats)
        print(json.dumps(out))
        return
    if not path.exists():
        sp.save_npz(path, make_counts(m, n, MODEL_RANK, DENSITY, seed=0))
    X = sp.load_npz(path)
    results = {
        "shape": [m, n],
        "nnz": int(X.nnz),
        "density": X.nnz / (m * n),
        "dense_matrix_mb": m * n * 8 / 2**20,
        "loss": args.loss,
        "ranks": args.ranks,
        "repeats": args.repeats,
        "holdout": 0.1,
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "arms": {},
    }
    for arm in args.arms.split(","):
        cmd = [sys.executable, __file__, "--arm", arm, "--shape", str(m), str(n)]
        cmd += ["--loss", args.loss, "--repeats", str(args.repeats), "--ranks"]
        cmd += [str(r) for r in args.ranks]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results["arms"][arm] = json.loads(done.stdout.strip().splitlines()[-1])
        print(arm, json.dumps(results["arms"][arm]), flush=True)
    a = results["arms"]
    if "sparse" in a and "dense" in a:
        d, s = np.array(a["dense"]["cv_error"]), np.array(a["sparse"]["cv_error"])
        results["max_rel_score_difference"] = float(np.max(np.abs(s - d) / d))
    out = Path(__file__).parent / "results" / f"sparse_cv_{m}x{n}_{args.loss}.json"
    out.write_text(json.dumps(results, indent=1))
    print(out)


if __name__ == "__main__":
    main()
