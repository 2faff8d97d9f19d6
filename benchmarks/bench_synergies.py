"""Muscle-synergy benchmarks: the 15 santuz people against the reference modules,
and the speed of an automatic rank scan on a long 16-muscle envelope.

Run from the repository root::

    python benchmarks/bench_synergies.py reference          # per-person table
    python benchmarks/bench_synergies.py scan --minutes 10  # 16 x 600,000 scan timing
    python benchmarks/bench_synergies.py musyn --musyn-python ../bench-venv/bin/python

``reference`` reads ``$NEURONMF_DATA_DIR`` (default ``../shared/data``)
``santuz_gait_emg/csv/IDxxxx_TW_01_V.csv`` (200 × 13, time × muscle) and
``IDxxxx_TW_01_reference_modules.csv`` (muscle × k): it extracts synergies at the
reference rank k (best of ``--restarts`` fits), matches them to the reference
modules (Hungarian, cosine), and runs the automatic curve-fit rank choice.
It prints a Markdown table (the one in docs/synergies.md).

``musyn`` runs the same 15 matrices through neuronmf (here) and through the peer
package musyn (in the Python given by ``--musyn-python``, a separate environment
where ``pip install musyn[wavelet]`` was run; musyn is not a neuronmf dependency).
The musyn half runs as a subprocess of this script (``musyn-worker``, which needs
only numpy and musyn) and hands back its synergies as JSON; both sets are matched
to the reference here, by the same ``neuronmf.synergies.match``. Both packages run
with their defaults at the reference rank (neuronmf: NNDSVDa + random starts, 10
fits, tol 1e-6; musyn: ``extract_synergies``, sparse init, 10 runs, multiplicative
updates, tol 1e-4), plus musyn with neuronmf's stopping rule (tol 1e-6, 2000
iterations) to separate the algorithm from its stopping default. Automatic rank:
neuronmf's curve-fit rule against musyn's ``select_synergy_number`` (AIC minimum,
Ranaldi et al. 2021), both over ranks 1..10. Results go to
``benchmarks/results/synergies_musyn.json``.
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


def people_in(csv_dir: Path) -> list[str]:
    return sorted(p.name[:12] for p in csv_dir.glob("ID*_TW_01_V.csv"))


def csv_header(path: Path) -> list[str]:
    with open(path) as f:
        return f.readline().strip().split(",")


# musyn configurations run by ``musyn-worker``: its defaults, then neuronmf's
# stopping rule (tol 1e-6, up to 2000 iterations) with musyn's updates and init
MUSYN_CONFIGS = {
    "defaults": {},
    "tol 1e-6": {"tol": 1e-6, "max_iter": 2000},
}


def musyn_worker(args) -> None:
    """The musyn half: fits at the reference rank and the AIC rank, as JSON."""
    import musyn

    csv_dir = Path(args.csv_dir)
    out = {"musyn": musyn.__version__, "numpy": np.__version__, "people": {}}
    try:
        import scipy

        out["scipy"] = scipy.__version__
    except ImportError:  # pragma: no cover
        pass
    ranks = list(range(1, args.max_rank + 1))
    for pid in people_in(csv_dir):
        # numpy only (no pandas in the musyn environment)
        muscles = csv_header(csv_dir / f"{pid}_V.csv")
        V = np.loadtxt(csv_dir / f"{pid}_V.csv", delimiter=",", skiprows=1)
        k = len(csv_header(csv_dir / f"{pid}_reference_modules.csv")) - 1
        D = V.T  # musyn wants (muscle, time)
        row = {"k": k, "muscles": muscles}
        for name, options in MUSYN_CONFIGS.items():
            t = time.perf_counter()
            W, C, info = musyn.extract_synergies(D, k, seed=0, **options)
            dt = time.perf_counter() - t
            vaf = 1 - float(np.sum((D - W @ C) ** 2) / np.sum(D**2))
            row[name] = {
                "W": W.tolist(),
                "time_s": dt,
                "vaf": vaf,
                "n_iter_best_run": int(info["n_iter"]),
                "converged_best_run": bool(info["converged"]),
            }
        t = time.perf_counter()
        sel = musyn.select_synergy_number(
            D, k_range=ranks, method="min", n_jobs=1, seed=0, return_full=True
        )
        row["aic"] = {
            "rank": int(sel["k_opt"]),
            "aic": [float(a) for a in sel["aic_values"]],
            "ranks": ranks,
            "time_s": time.perf_counter() - t,
        }
        out["people"][pid] = row
        print(f"musyn {pid} done", file=sys.stderr, flush=True)
    Path(args.out).write_text(json.dumps(out))


def run_musyn(python: str, csv_dir: Path, max_rank: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "musyn.json"
        cmd = [python, __file__, "musyn-worker", "--csv-dir", str(csv_dir)]
        cmd += ["--out", str(out), "--max-rank", str(max_rank)]
        subprocess.run(cmd, check=True)
        return json.loads(out.read_text())


def musyn_side_by_side(args) -> None:
    import neuronmf as nm

    csv_dir = data_dir() / "santuz_gait_emg" / "csv"
    people = people_in(csv_dir)
    ranks = range(1, args.max_rank + 1)
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    # Numba compiles the engine on first use: one untimed fit first (musyn has
    # nothing to compile), its time recorded apart
    env, M = load_person(csv_dir, people[0])
    t = time.perf_counter()
    nm.synergies.extract(env, rank=M.shape[1], n_restarts=1, seed=0)
    warmup = time.perf_counter() - t
    ours = {}
    for pid in people:
        env, M = load_person(csv_dir, pid)
        k = M.shape[1]
        t = time.perf_counter()
        fixed = nm.synergies.extract(env, rank=k, n_restarts=args.restarts, seed=0)
        t_fit = time.perf_counter() - t
        t = time.perf_counter()
        auto = nm.synergies.extract(
            env, rank="auto", criterion="curvefit", ranks=ranks, seed=0
        )
        t_auto = time.perf_counter() - t
        ref = M.loc[list(fixed.muscle.values)].to_numpy()
        sim = nm.synergies.match(ref, fixed, n_shuffles=0)
        ours[pid] = {
            "k": k,
            "mean_cosine": float(sim.attrs["mean"]),
            "worst_synergy": float(sim.similarity.min()),
            "vaf": float(fixed.vaf),
            "time_s": t_fit,
            "auto_rank": int(auto.attrs["rank"]),
            "auto_time_s": t_auto,
        }
        print(f"neuronmf {pid} done ({time.perf_counter() - t0:.1f} s)", flush=True)
    t = time.perf_counter()
    peer = run_musyn(args.musyn_python, csv_dir, args.max_rank)
    t_musyn_total = time.perf_counter() - t
    theirs = {name: {} for name in [*MUSYN_CONFIGS, "aic"]}
    for pid in people:
        row = peer["people"][pid]
        M = load_person(csv_dir, pid)[1]
        ref = M.loc[row["muscles"]].to_numpy()
        for name in MUSYN_CONFIGS:
            fit = row[name]
            sim = nm.synergies.match(ref, np.asarray(fit.pop("W")), n_shuffles=0)
            theirs[name][pid] = {
                "mean_cosine": float(sim.attrs["mean"]),
                "worst_synergy": float(sim.similarity.min()),
                **fit,
            }
        theirs["aic"][pid] = row["aic"]

    def summary(rows, key="mean_cosine"):
        x = np.array([r[key] for r in rows.values()])
        worst = min(rows, key=lambda p: rows[p][key])
        return {"median": float(np.median(x)), "worst": float(x.min()), "who": worst}

    def median_time(rows, key="time_s"):
        return float(np.median([r[key] for r in rows.values()]))

    result = {
        "what": "santuz 15 people (200 x 13 V), cosine to the reference modules at "
        "the reference rank (Hungarian-matched, mean over synergies) and wall time",
        "command": "python benchmarks/bench_synergies.py musyn --musyn-python "
        + args.musyn_python,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_start": load_start,
            "load_average_end": os.getloadavg(),
        },
        "versions": {
            "python": platform.python_version(),
            "neuronmf": nm.__version__,
            "numpy": np.__version__,
            "musyn": peer["musyn"],
            "musyn_env_numpy": peer["numpy"],
            "musyn_env_scipy": peer.get("scipy"),
        },
        "settings": {
            "neuronmf": f"extract(rank=k, n_restarts={args.restarts}, seed=0) "
            "(defaults: NNDSVDa + random starts, tol 1e-6, max_iter 2000); "
            f"auto: curvefit over ranks 1..{args.max_rank}, default scan restarts",
            "musyn defaults": "extract_synergies(D, k, seed=0): sparse init, "
            "n_runs 10, multiplicative updates, tol 1e-4, max_iter 1000",
            "musyn tol 1e-6": "the same with tol=1e-6, max_iter=2000",
            "musyn aic": f"select_synergy_number(D, k_range=1..{args.max_rank}, "
            "method='min', n_runs=5 (default), n_jobs=1, seed=0), no events (each "
            "V is one 200-point cycle)",
            "timing": "wall time per call, inside each process (imports excluded); "
            "neuronmf after one untimed warm-up fit (Numba compilation)",
        },
        "neuronmf_warmup_s": warmup,
        "musyn_subprocess_total_s": t_musyn_total,
        "neuronmf": ours,
        "musyn": theirs,
        "summary": {
            "neuronmf": {
                **summary(ours),
                "median_time_s": median_time(ours),
                "median_auto_time_s": median_time(ours, "auto_time_s"),
                "auto_rank_hits": sum(r["auto_rank"] == r["k"] for r in ours.values()),
            },
            **{
                f"musyn {name}": {
                    **summary(theirs[name]),
                    "median_time_s": median_time(theirs[name]),
                }
                for name in MUSYN_CONFIGS
            },
            "musyn aic": {
                "median_time_s": median_time(theirs["aic"]),
                "rank_hits": sum(
                    theirs["aic"][p]["rank"] == ours[p]["k"] for p in people
                ),
            },
        },
    }
    out = REPO / "benchmarks" / "results" / "synergies_musyn.json"
    out.write_text(json.dumps(result, indent=1) + "\n")

    d, t6, aic = theirs["defaults"], theirs["tol 1e-6"], theirs["aic"]
    print()
    print(
        "| person | k | neuronmf cosine | musyn cosine | musyn cosine (tol 1e-6) "
        "| neuronmf time (s) | musyn time (s) | musyn time (tol 1e-6) (s) "
        "| curve-fit rank (neuronmf) | AIC rank (musyn) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for pid in people:
        o = ours[pid]
        print(
            f"| {pid} | {o['k']} | {o['mean_cosine']:.4f} | "
            f"{d[pid]['mean_cosine']:.4f} | {t6[pid]['mean_cosine']:.4f} | "
            f"{o['time_s']:.3f} | {d[pid]['time_s']:.3f} | {t6[pid]['time_s']:.3f} | "
            f"{o['auto_rank']} | {aic[pid]['rank']} |"
        )
    print()
    for name, s in result["summary"].items():
        print(f"{name}: {json.dumps(s)}")
    print(f"neuronmf warm-up (untimed above) {warmup:.2f} s; written {out}")


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
    m = sub.add_parser("musyn", help="the 15 people side by side with musyn")
    m.add_argument(
        "--musyn-python",
        default=str(REPO.parent / "bench-venv" / "bin" / "python"),
        help="a Python with musyn[wavelet] installed (not neuronmf's environment)",
    )
    m.add_argument("--restarts", type=int, default=10)
    m.add_argument("--max-rank", type=int, default=10)
    w = sub.add_parser("musyn-worker", help="(internal) the musyn half, as JSON")
    w.add_argument("--csv-dir", required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--max-rank", type=int, default=10)
    args = p.parse_args()
    modes = {"reference": reference, "scan": scan, "musyn": musyn_side_by_side}
    modes["musyn-worker"] = musyn_worker
    modes[args.what](args)


if __name__ == "__main__":
    main()
