"""Muscle-synergy benchmarks: the 15 santuz people against the reference modules,
and the speed of an automatic rank scan on a long 16-muscle envelope.

Run from the repository root::

    python benchmarks/bench_synergies.py reference          # per-person table
    python benchmarks/bench_synergies.py scan --minutes 10  # 16 x 600,000 scan timing

``reference`` reads ``$NEURONMF_DATA_DIR`` (default ``../shared/data``)
``santuz_gait_emg/csv/IDxxxx_TW_01_V.csv`` (200 × 13, time × muscle) and
``IDxxxx_TW_01_reference_modules.csv`` (muscle × k): it extracts synergies at the
reference rank k (best of ``--restarts`` fits), matches them to the reference
modules (Hungarian, cosine), and runs the automatic curve-fit rank choice.
It prints a Markdown table (the one in docs/synergies.md).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    return Path(os.environ.get("NEURONMF_DATA_DIR", REPO.parent / "shared" / "data"))


def load_person(csv_dir: Path, pid: str):
    """(time, muscle) envelope DataArray and the (muscle, k) reference modules."""
    import pandas as pd
    import xarray as xr

    V = pd.read_csv(csv_dir / f"{pid}_V.csv")
    M = pd.read_csv(csv_dir / f"{pid}_reference_modules.csv", index_col=0)
    env = xr.DataArray(
        V.to_numpy(float),
        dims=("time", "channel"),
        coords={"time": np.arange(len(V)), "channel": list(V.columns)},
    )
    return env, M


def reference(args) -> None:
    import neuronmf as nm

    csv_dir = data_dir() / "santuz_gait_emg" / "csv"
    people = sorted(p.name[:12] for p in csv_dir.glob("ID*_TW_01_V.csv"))
    rows = []
    t0 = time.perf_counter()
    for pid in people:
        env, M = load_person(csv_dir, pid)
        k = M.shape[1]
        t = time.perf_counter()
        fixed = nm.synergies.extract(env, rank=k, n_restarts=args.restarts, seed=0)
        t_fit = time.perf_counter() - t
        ref = M.loc[list(fixed.muscle.values)].to_numpy()
        sim = nm.synergies.match(ref, fixed, n_shuffles=args.shuffles, seed=0)
        t = time.perf_counter()
        auto = nm.synergies.extract(
            env,
            rank="auto",
            criterion="curvefit",
            ranks=range(1, 11),
            n_restarts=args.restarts,
            scan_restarts=args.scan_restarts,
            seed=0,
        )
        t_auto = time.perf_counter() - t
        rows.append(
            (
                pid,
                k,
                float(sim.attrs["mean"]),
                float(sim.similarity.min()),
                float(sim.attrs["chance"]),
                int(auto.attrs["rank"]),
                auto.attrs["rank_choices"],
                t_fit,
                t_auto,
            )
        )
        print(f"{pid} done ({time.perf_counter() - t0:.1f} s)", flush=True)
    means = np.array([r[2] for r in rows])
    hits = sum(r[1] == r[5] for r in rows)
    print()
    print(
        "| person | reference k | mean matched cosine | worst synergy | chance "
        "(95th pct) | curve-fit rank | hit | fit time (s) | auto time (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for pid, k, mean, worst, chance, auto, _, t_fit, t_auto in rows:
        print(
            f"| {pid} | {k} | {mean:.4f} | {worst:.4f} | {chance:.3f} | {auto} | "
            f"{'yes' if auto == k else '**no**'} | {t_fit:.2f} | {t_auto:.2f} |"
        )
    print()
    print(
        f"median of the per-person mean cosine {np.median(means):.4f}, worst person "
        f"{means.min():.4f}; curve-fit rank = reference rank for {hits}/{len(rows)}; "
        f"total {time.perf_counter() - t0:.1f} s"
    )


def long_envelope(n_muscles=16, rank=5, rate=1000.0, minutes=10.0, seed=0):
    """A smooth planted (time, muscle) envelope: W·H with 1 Hz gait-like bumps."""
    import xarray as xr

    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * rate)
    t = np.arange(n) / rate
    W = (0.2 + 0.8 * rng.random((n_muscles, rank))) * (
        rng.random((n_muscles, rank)) < 0.5
    )
    W[rng.permutation(n_muscles)[:rank], np.arange(rank)] += 1
    phase = (t % 1.0)[None, :]
    centres = (np.arange(rank)[:, None] + 0.5) / rank
    d = np.minimum(np.abs(phase - centres), 1 - np.abs(phase - centres))
    H = np.exp(-0.5 * (d / 0.06) ** 2)
    V = W @ H
    V += 0.05 * V.mean() * np.abs(rng.standard_normal(V.shape))
    return xr.DataArray(
        V.T, dims=("time", "channel"), coords={"time": t}, attrs={"rate": rate}
    )


def scan(args) -> None:
    import neuronmf as nm

    env = long_envelope(minutes=args.minutes)
    print(f"envelope {env.shape} (time, muscle)", flush=True)
    modes = {"default (subsampled scan)": 20_000}
    if args.full:
        modes["every sample"] = None
    for label, max_scan in modes.items():
        t = time.perf_counter()
        ds = nm.synergies.extract(
            env,
            rank="auto",
            criterion="curvefit",
            ranks=range(1, 11),
            n_restarts=args.restarts,
            tol=1e-4,
            max_iter=200,
            max_scan_samples=max_scan,
        )
        t_scan = time.perf_counter() - t
        print(
            f"neuronmf extract rank='auto', {label}: curvefit over ranks 1..10, "
            f"{args.restarts} start(s) per rank, step {ds.attrs['scan_step']}: "
            f"{t_scan:.1f} s, chose {ds.attrs['rank']} ({ds.attrs['rank_choices']}), "
            f"VAF {float(ds.vaf):.4f} on all samples",
            flush=True,
        )
    t = time.perf_counter()
    res = nm.nmf(env.values.T, 5, seed=0, tol=1e-4, max_iter=200)
    print(
        f"neuronmf one rank-5 fit: {time.perf_counter() - t:.1f} s "
        f"({res.n_iter} iterations, VAF {res.vaf:.4f})",
        flush=True,
    )
    if args.sklearn:
        from sklearn.decomposition import NMF

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            est = NMF(5, solver="cd", init="nndsvda", tol=1e-4, max_iter=200)
            Wt = est.fit_transform(env.values)  # samples x features orientation
            dt = time.perf_counter() - t
        V = env.values
        vaf = 1 - np.sum((V - Wt @ est.components_) ** 2) / np.sum(V**2)
        print(
            f"scikit-learn NMF(solver='cd') one rank-5 fit: {dt:.1f} s "
            f"({est.n_iter_} iterations, VAF {vaf:.4f})"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    r = sub.add_parser("reference", help="15 people vs reference modules")
    r.add_argument("--restarts", type=int, default=10)
    r.add_argument("--scan-restarts", type=int, default=None)
    r.add_argument("--shuffles", type=int, default=1000)
    s = sub.add_parser("scan", help="timing of an automatic rank scan")
    s.add_argument("--minutes", type=float, default=10.0)
    s.add_argument("--restarts", type=int, default=3, help="starts per rank")
    s.add_argument("--full", action="store_true", help="also scan every sample")
    s.add_argument("--no-sklearn", dest="sklearn", action="store_false")
    args = p.parse_args()
    {"reference": reference, "scan": scan}[args.what](args)


if __name__ == "__main__":
    main()
