"""KL (Poisson) NMF: neuronmf's CCD-KL against scikit-learn's KL multiplicative updates.

For each shape, both start from the same init (NNDSVDa, exact zeros lifted as
neuronmf does for KL). neuronmf is traced with its ``callback`` (wall time and
objective after every iteration); scikit-learn ``NMF(solver="mu",
beta_loss="kullback-leibler")`` is traced from its own ``verbose`` output, which
reports the divergence every 10 iterations with the elapsed time (the error
evaluation it does anyway whenever ``tol > 0``). Reported: time to reach within
1 % and 0.1 % of the best final KL either method reached, final KL, iterations.
Also: the cost of a masked fit (10 % of entries held out) per iteration,
against an unmasked one, for ``ccd`` and ``hals``.

Run:  python benchmarks/bench_kl.py [--quick]
Results: benchmarks/results/kl.json
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import re
import time
import warnings
from pathlib import Path

import numpy as np


def counts_like(m, n, r, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.gamma(0.5, 1.0, (m, r))
    H = rng.gamma(0.5, 1.0, (r, n))
    return rng.poisson(W @ H * 0.5).astype(np.float64)


def movie_like(side, n, r, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side]
    centres = rng.uniform(4, side - 4, size=(r - 1, 2))
    W = np.stack(
        [np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 8.0).ravel() for cy, cx in centres]
        + [np.full(side * side, 0.2)],
        axis=1,
    )
    H = rng.gamma(0.3, 3.0, (r, n))
    return rng.poisson(W @ H).astype(np.float64)


def kl(V, WH):
    pos = V > 0
    return float(
        np.sum(np.where(pos, V * np.log(np.where(pos, V, 1) / WH), 0))
        - V.sum()
        + WH.sum()
    )


def trace_neuronmf(V, r, W0, H0, max_iter, budget_s):
    import neuronmf as nm

    trace = []
    t0 = time.perf_counter()

    def callback(iteration, loss):
        trace.append((time.perf_counter() - t0, loss))
        return time.perf_counter() - t0 < budget_s

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = nm.nmf(
            V,
            r,
            loss="kl",
            solver="ccd",
            W=W0,
            H=H0,
            max_iter=max_iter,
            tol=1e-9,
            callback=callback,
        )
    return trace, res.n_iter


def trace_sklearn(V, r, W0, H0, max_iter):
    from sklearn.decomposition import NMF

    est = NMF(
        r,
        solver="mu",
        beta_loss="kullback-leibler",
        init="custom",
        max_iter=max_iter,
        tol=1e-12,
        verbose=1,
    )
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit_transform(
            V.T, W=np.ascontiguousarray(H0.T), H=np.ascontiguousarray(W0.T)
        )
    trace = []
    for line in buffer.getvalue().splitlines():
        match = re.match(
            r"Epoch (\d+) reached after ([\d.]+) seconds, error: ([\d.e+-]+)", line
        )
        if match:
            error = float(match.group(3))
            trace.append((float(match.group(2)), error**2 / 2))
    return trace, est.n_iter_


def time_to(trace, target):
    for t, loss in trace:
        if loss <= target:
            return t
    return None


def masked_cost(V, r, W0, H0) -> dict:
    """Seconds per iteration with and without 10 % of the entries masked."""
    rng = np.random.default_rng(1)
    mask = rng.random(V.shape) > 0.1
    mc = {
        "ccd_unmasked_s_per_iter": per_iteration(V, r, W0, H0, "kl", "ccd", None),
        "ccd_masked_s_per_iter": per_iteration(V, r, W0, H0, "kl", "ccd", mask),
        "hals_unmasked_s_per_iter": per_iteration(
            V, r, W0, H0, "frobenius", "hals", None
        ),
        "hals_masked_s_per_iter": per_iteration(
            V, r, W0, H0, "frobenius", "hals", mask
        ),
    }
    mc["ccd_ratio"] = mc["ccd_masked_s_per_iter"] / mc["ccd_unmasked_s_per_iter"]
    mc["hals_ratio"] = mc["hals_masked_s_per_iter"] / mc["hals_unmasked_s_per_iter"]
    return mc


def per_iteration(V, r, W0, H0, loss, solver, mask, n=8):
    import neuronmf as nm

    stamps = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nm.nmf(
            V,
            r,
            loss=loss,
            solver=solver,
            W=W0,
            H=H0,
            mask=mask,
            max_iter=n,
            tol=1e-14,
            callback=lambda i, f: stamps.append(time.perf_counter()),
        )
    return float(np.median(np.diff(stamps)))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--masked-cost",
        action="store_true",
        help="only the cost per iteration of masked vs unmasked fits (no sklearn)",
    )
    args = parser.parse_args()
    import neuronmf as nm
    from neuronmf.engine.init import initialize

    if args.quick:
        shapes = {"counts-like 100x2000 r12": counts_like(100, 2000, 12)}
        budgets = {"counts-like 100x2000 r12": (200, 20, 200)}
    else:
        shapes = {
            "counts-like 500x20000 r12": counts_like(500, 20000, 12),
            "movie-like 4096x6000 r31": movie_like(64, 6000, 31),
        }
        # (neuronmf max_iter, neuronmf time budget s, sklearn max_iter)
        budgets = {
            "counts-like 500x20000 r12": (300, 150, 1000),
            "movie-like 4096x6000 r31": (300, 150, 600),
        }
    rows = {}
    for name, V in shapes.items():
        r = int(name.split(" r")[-1])
        W0, H0 = initialize(V, r, "nndsvda", np.random.default_rng(0))
        W0 = np.maximum(W0, 1e-6 * W0.max())
        H0 = np.maximum(H0, 1e-6 * H0.max())
        nm_iter, budget, sk_iter = budgets[name]
        if args.masked_cost:
            rows[name] = {"masked_cost": masked_cost(V, r, W0, H0)}
            print(name, json.dumps(rows[name], indent=1), flush=True)
            continue
        ours, ours_iter = trace_neuronmf(V, r, W0, H0, nm_iter, budget)
        theirs, theirs_iter = trace_sklearn(V, r, W0, H0, sk_iter)
        best = min(min(l for _, l in ours), min(l for _, l in theirs))
        row = {"best_final_kl": best}
        for label, trace, iters in (
            ("neuronmf_ccd", ours, ours_iter),
            ("sklearn_mu", theirs, theirs_iter),
        ):
            row[label] = {
                "final_kl": trace[-1][1],
                "iterations": int(iters),
                "wall_s": trace[-1][0],
                "time_to_1pct_s": time_to(trace, best * 1.01),
                "time_to_0.1pct_s": time_to(trace, best * 1.001),
            }
        for level in ("1pct", "0.1pct"):
            a = row["neuronmf_ccd"][f"time_to_{level}_s"]
            b = row["sklearn_mu"][f"time_to_{level}_s"]
            row[f"speedup_to_{level}"] = (
                (b / a)
                if (a and b)
                else (
                    f">{row['sklearn_mu']['wall_s'] / a:.1f} (sklearn never reached it)"
                    if a
                    else None
                )
            )
        row["masked_cost"] = masked_cost(V, r, W0, H0)
        rows[name] = row
        print(name, json.dumps(row, indent=1), flush=True)
    import numba
    import sklearn

    out = {
        "date": time.strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "sklearn": sklearn.__version__,
        "neuronmf": nm.__version__,
        "results": rows,
    }
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    name = "kl_quick" if args.quick else "kl_masked_cost" if args.masked_cost else "kl"
    (results / f"{name}.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
