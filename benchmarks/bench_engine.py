"""Frobenius engine: neuronmf HALS against scikit-learn's cd and mu solvers.

Four shapes, one process, the same init (NNDSVDa) for every method. neuronmf is
traced by its ``callback`` (wall time, objective per iteration). scikit-learn has
no per-iteration hook for ``cd``, so it is traced by a ladder of runs with
max_iter = 1, 2, 4, ... from the same init (each deterministic run ends where a
longer one passes; its wall time includes its own setup). Reported per method:
time to reach within 1 % and 0.1 % of the best final relative error any method
reached, final relative error, iterations, time per iteration; and, for
reference, the time of the two BLAS products V·Hᵀ and Wᵀ·V and the physical
floor max(4mnr / peak GEMM rate, bytes of V / memory bandwidth) measured here.

Run:  python benchmarks/bench_engine.py [--quick] [--ladder-max 128] [--budget 60]
      python benchmarks/bench_engine.py --only EMG     (re-run the shapes whose name
                                                        starts so; others are kept)
      python benchmarks/bench_engine.py --paired-only  (only the paired per-iteration
                                                        measurement: a BLAS pair timed
                                                        after each of our iterations)
Results: benchmarks/results/engine.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np


def emg_like(m, n, r, rng):
    W = rng.random((m, r)) ** 2
    t = np.linspace(0, 200, n)
    H = (
        np.abs(np.sin(np.outer(rng.uniform(0.5, 3, r), t) + rng.uniform(0, 6, (r, 1))))
        ** 3
    )
    V = W @ H
    return np.maximum(V + 0.05 * V.std() * rng.standard_normal(V.shape), 0)


def movie_like(side, n, r, rng):
    yy, xx = np.mgrid[0:side, 0:side]
    c = rng.uniform(4, side - 4, (r - 1, 2))
    W = np.stack(
        [np.exp(-((yy - a) ** 2 + (xx - b) ** 2) / 8.0).ravel() for a, b in c]
        + [np.full(side * side, 0.3)],
        axis=1,
    )
    V = W @ rng.gamma(0.3, 1.0, (r, n))
    return np.maximum(V + 0.1 * V.std() * rng.standard_normal(V.shape), 0)


def counts_like(m, n, r, rng):
    return rng.poisson(
        rng.gamma(0.5, 1, (m, r)) @ rng.gamma(0.5, 1, (r, n)) * 0.5
    ).astype(float)


def large(m, n, r, rng):
    V = rng.random((m, r), dtype=np.float32) @ rng.random((r, n), dtype=np.float32)
    V += 0.1 * V.std() * rng.standard_normal(V.shape, dtype=np.float32)
    return np.maximum(V, 0, out=V)


def median_time(f, repeat=5):
    f()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def machine_rates(dtype):
    a = np.random.default_rng(0).random((2000, 2000)).astype(dtype)
    gemm = 2 * 2000**3 / median_time(lambda: a @ a, 3)
    big = np.zeros(50_000_000 // np.dtype(dtype).itemsize, dtype)
    bandwidth = big.nbytes / median_time(lambda: big.sum(), 3)
    return gemm, bandwidth


def trace_neuronmf(V, r, W0, H0, max_iter, budget):
    import neuronmf as nm

    norm = np.linalg.norm(V.astype(np.float64))
    trace = []
    t0 = time.perf_counter()

    def cb(i, loss):
        trace.append((time.perf_counter() - t0, np.sqrt(2 * max(loss, 0)) / norm))
        return time.perf_counter() - t0 < budget

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nm.nmf(V, r, W=W0, H=H0, max_iter=max_iter, tol=1e-10, callback=cb)
    return trace


def paired_per_iteration(V, r, W0, H0, n_iter):
    """Our iteration and the BLAS pair, timed alternately on the same load (dated).

    After each of ``n_iter`` iterations the callback times the BLAS pair twice:
    as written (V @ Hᵀ and Wᵀ @ V) and in the faster forms neuronmf picks for
    this V (:mod:`neuronmf.engine.products`). The pairs' time is kept out of
    the next iteration's. Returns medians of the per-iteration ratios and of
    the times, and the ratio of the sums; the first iteration (setup and
    initial products) is dropped, and the sums include the projected-gradient
    check made every 10 iterations.
    """
    import neuronmf as nm
    from neuronmf.engine.products import data_product, data_product_T

    Ht0 = np.ascontiguousarray(H0.T)
    iteration, pair, best_pair = [], [], []
    last = [0.0]

    def cb(i, loss):
        iteration.append(time.perf_counter() - last[0])
        t = time.perf_counter()
        V @ H0.T, W0.T @ V
        pair.append(time.perf_counter() - t)
        t = time.perf_counter()
        data_product(V, Ht0), data_product_T(V, W0)
        best_pair.append(time.perf_counter() - t)
        last[0] = time.perf_counter()
        return i < n_iter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        last[0] = time.perf_counter()
        nm.nmf(V, r, W=W0, H=H0, max_iter=n_iter, tol=1e-10, callback=cb)
    it, bp, fp = (np.array(x[1:]) for x in (iteration, pair, best_pair))
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "iterations": n_iter,
        "median_ratio": float(np.median(it / bp)),
        "ratio_of_sums": float(it.sum() / bp.sum()),
        "median_ratio_to_faster_forms": float(np.median(it / fp)),
        "median_iteration_s": float(np.median(it)),
        "median_blas_pair_s": float(np.median(bp)),
        "median_blas_pair_faster_forms_s": float(np.median(fp)),
    }


def trace_sklearn(V, r, W0, H0, solver, ladder_max, budget, first=1):
    """One run per ladder step k = first, 2·first, ... ≤ ladder_max from (W0, H0)."""
    from sklearn.decomposition import NMF

    norm = np.linalg.norm(V.astype(np.float64))
    trace = []
    k = first
    spent = 0.0
    while k <= ladder_max and spent < budget:
        est = NMF(r, solver=solver, init="custom", max_iter=k, tol=0.0)
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Wt = est.fit_transform(
                V.T, W=np.ascontiguousarray(H0.T), H=np.ascontiguousarray(W0.T)
            )
        dt = time.perf_counter() - t
        spent += dt
        err = residual_norm(V, (Wt @ est.components_).T) / norm
        trace.append((dt, float(err), k))
        k *= 2
    return trace


def residual_norm(V, WH):
    """|V − WH|_F summed in float64.

    ``np.linalg.norm`` of a float32 array sums in float32: on the large shape's
    residual (2·10⁸ entries) it comes out 0.13 % low (1386.03 against 1387.77).
    """
    R = V - WH
    return float(np.sqrt(np.sum(np.square(R, dtype=np.float64))))


def time_to(trace, target):
    for point in trace:
        if point[1] <= target:
            return point[0]
    return None


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true")
    p.add_argument("--ladder-max", type=int, default=256)
    p.add_argument(
        "--budget", type=float, default=60.0, help="seconds per method and shape"
    )
    p.add_argument(
        "--only",
        default=None,
        help="run only the shapes whose name starts with this (e.g. EMG, counts); "
        "the other shapes' results already in the JSON file are kept",
    )
    p.add_argument(
        "--budget-ours",
        type=float,
        default=None,
        help="seconds for neuronmf's trace (default: --budget)",
    )
    p.add_argument(
        "--mu-ladder-max",
        type=int,
        default=None,
        help="ladder cap for scikit-learn's mu (default: --ladder-max)",
    )
    p.add_argument(
        "--reuse-peers",
        action="store_true",
        help="re-run only neuronmf; take scikit-learn's traces (and their ladder "
        "settings) from the shape's previous row in the JSON file",
    )
    p.add_argument(
        "--extend-cd-ladder",
        type=int,
        default=None,
        help="with --reuse-peers: run scikit-learn's cd for the further ladder "
        "steps (2x the last saved one, ... up to this) and append them",
    )
    p.add_argument(
        "--paired-iterations",
        type=int,
        default=60,
        help="iterations of the paired per-iteration measurement (a BLAS pair "
        "is timed after each of our iterations)",
    )
    p.add_argument(
        "--paired-only",
        action="store_true",
        help="only (re)do the paired per-iteration measurement; keep the rest "
        "of each shape's row in the JSON file",
    )
    p.add_argument(
        "--out",
        default=None,
        help="result file name in benchmarks/results (default engine.json)",
    )
    args = p.parse_args()
    import neuronmf as nm
    from neuronmf.engine.init import initialize

    rng = np.random.default_rng(0)
    if args.quick:
        shapes = {"EMG-like 16x20000 r5": (emg_like(16, 20000, 5, rng), 5)}
    else:
        shapes = {
            "EMG-like 16x200000 r5": (emg_like(16, 200_000, 5, rng), 5),
            "movie-like 4096x6000 r31": (movie_like(64, 6000, 31, rng), 31),
            "counts-like 500x20000 r12": (counts_like(500, 20000, 12, rng), 12),
            "large 20000x10000 r20 float32": (large(20000, 10000, 20, rng), 20),
        }
    results = Path(__file__).parent / "results"
    default_name = "engine_quick.json" if args.quick else "engine.json"
    out_file = results / (args.out or default_name)
    rows = {}
    if (args.only or args.paired_only) and out_file.exists():
        rows = json.loads(out_file.read_text())["results"]
    for name, (V, r) in shapes.items():
        if args.only and not name.startswith(args.only):
            continue
        W0, H0 = initialize(V, r, "nndsvda", np.random.default_rng(0))
        # warm-up on a slice of the same dtype: kernels that compile on first
        # call (or reload from the cache) do so outside the timed trace
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nm.nmf(np.ascontiguousarray(V[:, :300]), r, max_iter=3)
        previous = rows.get(name, {})
        if args.paired_only:
            if not previous:
                raise SystemExit(f"--paired-only: no saved row for {name!r}")
            rows[name] = {
                **previous,
                "paired": paired_per_iteration(V, r, W0, H0, args.paired_iterations),
            }
            print(name, json.dumps(rows[name]["paired"], indent=1), flush=True)
            continue
        m, n = V.shape
        gemm, bandwidth = machine_rates(V.dtype)
        blas_pair = median_time(lambda V=V, W0=W0, H0=H0: (V @ H0.T, W0.T @ V))
        floor = max(4 * m * n * r / gemm, V.nbytes / bandwidth)
        ours_budget = args.budget_ours or args.budget
        mu_ladder = args.mu_ladder_max or args.ladder_max
        ours = trace_neuronmf(V, r, W0, H0, 3000, ours_budget)
        if args.reuse_peers:
            if "trace" not in previous.get("sklearn_cd", {}):
                raise SystemExit(f"--reuse-peers: no saved traces for {name!r}")
            cd, mu = (
                [
                    (t, e, it)
                    for (t, e), it in zip(
                        previous[k]["trace"], previous[k]["ladder"], strict=True
                    )
                ]
                for k in ("sklearn_cd", "sklearn_mu")
            )
            if args.extend_cd_ladder:
                cd += trace_sklearn(
                    V, r, W0, H0, "cd", args.extend_cd_ladder, np.inf, cd[-1][2] * 2
                )
        else:
            cd = trace_sklearn(V, r, W0, H0, "cd", args.ladder_max, args.budget)
            mu = trace_sklearn(V, r, W0, H0, "mu", mu_ladder, args.budget)
        best = min(min(x[1] for x in t) for t in (ours, cd, mu))
        row = {
            "shape": [m, n],
            "rank": r,
            "dtype": str(V.dtype),
            "best_rel_error": best,
            "blas_pair_s": blas_pair,
            "floor_s": floor,
            "peak_gemm_gflops": gemm / 1e9,
            "bandwidth_gbs": bandwidth / 1e9,
        }
        for label, trace in (
            ("neuronmf_hals", ours),
            ("sklearn_cd", cd),
            ("sklearn_mu", mu),
        ):
            iters = len(trace) if label == "neuronmf_hals" else trace[-1][2]
            total = trace[-1][0]
            row[label] = {
                # neuronmf returns its best iterate: an escape round that ended
                # higher is dropped (its trace still shows it)
                "final_rel_error": min(p[1] for p in trace)
                if label == "neuronmf_hals"
                else trace[-1][1],
                "iterations": iters,
                "wall_s": total,
                "time_to_1pct_s": time_to(trace, best * 1.01),
                "time_to_0.1pct_s": time_to(trace, best * 1.001),
                "s_per_iter": total / iters,
                # (seconds, relative error) points: every iteration for
                # neuronmf, one run per ladder step for scikit-learn
                "trace": [[float(p[0]), float(p[1])] for p in trace],
            }
            if label != "neuronmf_hals":  # max_iter of each run of the ladder
                row[label]["ladder"] = [int(p[2]) for p in trace]
        ours_row = row["neuronmf_hals"]
        per_iter = (
            float(np.median(np.diff([t for t, _ in ours]))) if len(ours) > 2 else None
        )
        ours_row["s_per_iter_median"] = per_iter
        if per_iter:
            row["per_iter_vs_blas_pair"] = per_iter / blas_pair
            row["per_iter_vs_floor"] = per_iter / floor
        row["paired"] = paired_per_iteration(V, r, W0, H0, args.paired_iterations)
        for level in ("1pct", "0.1pct"):
            a = ours_row[f"time_to_{level}_s"]
            for other in ("sklearn_cd", "sklearn_mu"):
                b = row[other][f"time_to_{level}_s"]
                row[f"speedup_vs_{other}_{level}"] = (
                    b / a
                    if (a and b)
                    else (
                        f">{row[other]['wall_s'] / a:.1f} (not reached)" if a else None
                    )
                )
        row["settings"] = {
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "peers_reused_from": (
                previous.get("settings", {}).get("date") if args.reuse_peers else None
            ),
            "budget_s": args.budget,
            "budget_ours_s": ours_budget,
            "ladder_max": args.ladder_max,
            "mu_ladder_max": mu_ladder,
        }
        if args.reuse_peers:  # the peers ran with the previous row's settings
            for key in ("budget_s", "ladder_max", "mu_ladder_max"):
                row["settings"][key] = previous["settings"][key]
            if args.extend_cd_ladder:
                row["settings"]["cd_ladder_extended_to"] = cd[-1][2]
                row["settings"]["cd_ladder_extended_on"] = time.strftime("%Y-%m-%d")
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
        "budget_s": args.budget,
        "budget_ours_s": args.budget_ours or args.budget,
        "ladder_max": args.ladder_max,
        "mu_ladder_max": args.mu_ladder_max or args.ladder_max,
        "results": rows,
    }
    if args.paired_only:  # the traces' settings stay those of their own runs
        out = {**json.loads(out_file.read_text()), "results": rows}
    results.mkdir(exist_ok=True)
    out_file.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
