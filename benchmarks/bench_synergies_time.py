"""Synergies in time: time-varying synergies and space-by-time, recovered and real.

Run from the repository root (``NEURONMF_DATA_DIR`` as for the tests)::

    python benchmarks/bench_synergies_time.py time-varying --seeds 10
    python benchmarks/bench_synergies_time.py space-by-time --seeds 10
    python benchmarks/bench_synergies_time.py null --seeds 5
    python benchmarks/bench_synergies_time.py santuz
    python benchmarks/bench_synergies_time.py people

``time-varying``: ``simulate_time_varying_emg`` (8 muscles, 3 synergies of 0.3 s,
30 s at 100 Hz, noise 0.02), ``extract(kind="time-varying", duration=0.45,
rank=3)`` (``--duration 0.3``: a window as long as the planted synergies);
per seed the matched cosine of every synergy after the best lag shift,
the fraction of planted occurrences found within 3 samples (30 ms) after that
shift, the number of occurrences reported, the amplitude correlation and the time.

``space-by-time``: ``simulate_space_by_time`` (60 trials × 50 samples × 12
muscles, 3 spatial × 2 temporal modules, noise 0.1); matched cosines of the spatial
and temporal modules, HALS and the multiplicative reference (same starts, budget
and stopping rule), their objective and time.

``null``: VAF excess over per-muscle circularly shifted copies, for data whose
muscles burst independently and for the planted data, with both methods.

``santuz``: the raw 1 kHz treadmill trial ID0012_TW_01 (13 muscles, 7.6 s, six
touchdowns), its envelope (20-450 Hz band-pass, 6 Hz low-pass, peak-normalised),
time-varying synergies of 0.5 s with the rank by the curve-fit rule over 1..6;
every occurrence's phase in its stride (touchdown = 0) against lift-off, the
shuffle null, and the synchronous synergies of the same envelope for comparison.

``people``: space-by-time across the 15 santuz people (their published cycle-averaged
envelopes, 200 × 13, as 15 trials), scan 1..5 × 1..6, with the VAF of 5 shared spatial
modules with free timing and of 6 shared temporal modules with free weights (NMF of the
stacked data: upper bounds for those numbers of modules).

Results go to ``benchmarks/results/synergies_time.json`` (one key per command).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import linear_sum_assignment

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "synergies_time.json"


def data_dir() -> Path:
    return Path(os.environ.get("NEURONMF_DATA_DIR", REPO.parent / "shared" / "data"))


def _save(key, value):
    import neuronmf

    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    results[key] = {
        "value": value,
        "machine": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "neuronmf": neuronmf.__version__,
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    OUT.write_text(json.dumps(results, indent=1))


def _cosines(found, truth):
    a = found / np.linalg.norm(found, axis=1, keepdims=True)
    b = truth / np.linalg.norm(truth, axis=1, keepdims=True)
    c = a @ b.T
    r, k = linear_sum_assignment(-c)
    return c[r, k]


def _tv_eval(ds, truth, within=3):
    from neuronmf.synergies._time_varying import aligned_cosine

    step = ds.attrs["scan_step"]
    Wt, Wf = truth.synergies.values[:, :, ::step], ds.synergies.values
    C = np.zeros((len(Wt), len(Wf)))
    D = np.zeros((len(Wt), len(Wf)), int)
    for i, a in enumerate(Wt):
        for j, b in enumerate(Wf):
            C[i, j], D[i, j] = aligned_cosine(a, b)
    rows, cols = linear_sum_assignment(-C)
    err, amps = [], []
    for i, j in zip(rows, cols, strict=True):
        sel_t = truth.occurrence_synergy.values == i
        sel = ds.occurrence_synergy.values == j
        found = ds.onset_sample.values[sel] + D[i, j] * step
        for t0, a0 in zip(
            truth.onset_sample.values[sel_t], truth.amplitude.values[sel_t], strict=True
        ):
            k = int(np.argmin(np.abs(found - t0))) if found.size else None
            err.append(np.inf if k is None else found[k] - t0)
            amps.append((a0, np.nan if k is None else ds.amplitude.values[sel][k]))
    err, amps = np.asarray(err, float), np.asarray(amps)
    ok = np.isfinite(amps[:, 1])
    return {
        "cosines": C[rows, cols].round(4).tolist(),
        "found_within": float(np.mean(np.abs(err) <= within)),
        "median_abs_onset_error_samples": float(np.median(np.abs(err))),
        "n_planted": len(err),
        "n_reported": int(ds.sizes["occurrence"]),
        "amplitude_r": float(np.corrcoef(amps[ok, 0], amps[ok, 1])[0, 1]),
        "vaf": float(ds.vaf),
    }


def time_varying(args):
    from neuronmf.datasets import simulate_time_varying_emg
    from neuronmf.synergies import extract

    rows = []
    for seed in range(args.seeds):
        sim = simulate_time_varying_emg(total_time=30.0, seed=seed)
        t = time.perf_counter()
        ds = extract(
            sim.data,
            kind="time-varying",
            duration=args.duration,
            rank=3,
            n_restarts=3,
            seed=0,
        )
        row = {
            "seed": seed,
            "seconds": time.perf_counter() - t,
            **_tv_eval(ds, sim.truth),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    worst = [min(r["cosines"]) for r in rows]
    summary = {
        "rows": rows,
        "seeds_all_cosines_ge_0.95": int(sum(w >= 0.95 for w in worst)),
        "median_worst_cosine": float(np.median(worst)),
        "median_found_within_3": float(np.median([r["found_within"] for r in rows])),
        "median_seconds": float(np.median([r["seconds"] for r in rows])),
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}))
    _save(
        "time_varying" + ("" if args.duration == 0.45 else f"_{args.duration:g}s"),
        summary,
    )


def space_by_time(args):
    from neuronmf.datasets import simulate_space_by_time
    from neuronmf.synergies import _sbt_solvers as sbt
    from neuronmf.synergies import space_by_time as sbt_fit
    from neuronmf.synergies._space_by_time import _starts

    rows = []
    for seed in range(args.seeds):
        sim = simulate_space_by_time(noise=0.1, seed=seed)
        t = time.perf_counter()
        ds = sbt_fit(sim.data, 3, 2, seed=0)
        row = {
            "seed": seed,
            "seconds": time.perf_counter() - t,
            "spatial": _cosines(ds.spatial.values, sim.truth.spatial.values)
            .round(4)
            .tolist(),
            "temporal": _cosines(ds.temporal.values.T, sim.truth.temporal.values.T)
            .round(4)
            .tolist(),
            "vaf": float(ds.vaf),
        }
        # HALS against the multiplicative reference from the same random start
        X = sim.data.values
        start = _starts(X, 2, 3, 2, np.random.default_rng(seed))[1]
        for solver in ("hals", "mu"):
            t = time.perf_counter()
            fit = sbt.solve(X, *start, solver=solver, max_iter=5000, tol=1e-8)
            row[f"{solver}_seconds"] = time.perf_counter() - t
            row[f"{solver}_iterations"] = len(fit[3]) - 1
            row[f"{solver}_objective"] = fit[3][-1]
        rows.append(row)
        print(json.dumps(row), flush=True)
    worst = [min(r["spatial"] + r["temporal"]) for r in rows]
    summary = {
        "rows": rows,
        "seeds_all_cosines_ge_0.95": int(sum(w >= 0.95 for w in worst)),
        "median_worst_cosine": float(np.median(worst)),
        "median_seconds": float(np.median([r["seconds"] for r in rows])),
        "median_hals_seconds": float(np.median([r["hals_seconds"] for r in rows])),
        "median_mu_seconds": float(np.median([r["mu_seconds"] for r in rows])),
        "median_objective_ratio_mu_over_hals": float(
            np.median([r["mu_objective"] / r["hals_objective"] for r in rows])
        ),
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}))
    _save("space_by_time", summary)


def null(args):
    import xarray as xr

    from neuronmf.datasets import simulate_space_by_time, simulate_time_varying_emg
    from neuronmf.synergies import extract, space_by_time

    rows = []
    for seed in range(args.seeds):
        rng = np.random.default_rng(100 + seed)
        n, m = 1500, 8
        x = np.zeros((n, m))
        for j in range(m):
            x[rng.choice(n, 30, replace=False), j] = rng.uniform(0.5, 1.5, 30)
        x = gaussian_filter1d(x, 2, axis=0) + 0.002 * np.abs(
            rng.standard_normal((n, m))
        )
        null_tv = xr.DataArray(
            x, dims=("time", "channel"), coords={"time": np.arange(n) / 50.0}
        )
        sim = simulate_time_varying_emg(total_time=30.0, rate=50.0, seed=seed)
        opts = {"kind": "time-varying", "duration": 0.45, "rank": 3, "n_restarts": 2}
        tv_null = extract(null_tv, n_shuffles=3, **opts)
        tv_sim = extract(sim.data, n_shuffles=3, **opts)
        xs = np.abs(gaussian_filter1d(rng.standard_normal((60, 50, 12)), 3, axis=1))
        null_sbt = xr.DataArray(xs, dims=("trial", "time", "muscle"))
        sb_null = space_by_time(null_sbt, 3, 2, n_shuffles=3, n_restarts=1)
        sb_sim = space_by_time(
            simulate_space_by_time(noise=0.1, seed=seed).data, 3, 2, n_shuffles=3
        )
        row = {
            "seed": seed,
            "tv_null_vaf": float(tv_null.vaf),
            "tv_null_excess": float(tv_null.vaf_excess),
            "tv_planted_vaf": float(tv_sim.vaf),
            "tv_planted_excess": float(tv_sim.vaf_excess),
            "sbt_null_vaf": float(sb_null.vaf),
            "sbt_null_excess": float(sb_null.vaf_excess),
            "sbt_planted_vaf": float(sb_sim.vaf),
            "sbt_planted_excess": float(sb_sim.vaf_excess),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    _save("null", rows)


def santuz(args):
    import pandas as pd

    import neuronmf.io as nio
    from neuronmf.synergies import envelope, extract

    d = data_dir() / "santuz_gait_emg" / "csv"
    raw = nio.load_emg(d / "ID0012_TW_01_raw_emg.csv")
    cycles = pd.read_csv(d / "ID0012_TW_01_gait_cycles.csv")
    td, lo = cycles.touchdown_s.to_numpy(), cycles.liftoff_s.to_numpy()
    env = envelope(raw, lowpass=6.0)
    t = time.perf_counter()
    ds = extract(
        env,
        kind="time-varying",
        duration=args.duration,
        rank="auto",
        ranks=range(1, 7),
        n_restarts=3,
        n_shuffles=3,
        seed=0,
    )
    seconds = time.perf_counter() - t
    out = {
        "duration_s": args.duration,
        "seconds": seconds,
        "rank": ds.attrs["rank"],
        "rank_choices": json.loads(ds.attrs["rank_choices"]),
        "scan_vaf": ds.scan_vaf.values.round(4).tolist(),
        "scan_r2": ds.scan_r2.values.round(4).tolist(),
        "vaf": float(ds.vaf),
        "vaf_shuffled": ds.vaf_shuffled.values.round(4).tolist(),
        "vaf_excess": float(ds.vaf_excess),
        "liftoff_phase": ((lo[:-1] - td[:-1]) / np.diff(td)).round(3).tolist(),
        "synergies": [],
    }
    for k in range(ds.attrs["rank"]):
        sel = ds.occurrence_synergy.values == k
        on, amp = ds.onset.values[sel], ds.amplitude.values[sel]
        i = np.searchsorted(td, on) - 1
        inside = (i >= 0) & (i < len(td) - 1)
        phase = (on[inside] - td[i[inside]]) / (td[i[inside] + 1] - td[i[inside]])
        w = ds.synergies.sel(synergy=k)
        weight = np.sqrt((w**2).sum("lag"))
        top = np.argsort(-weight.values)[:5]
        out["synergies"].append(
            {
                "onsets_s": on.round(3).tolist(),
                "amplitudes": amp.round(2).tolist(),
                "phase_in_stride": phase.round(3).tolist(),
                "major_phase": phase[amp[inside] >= 0.5 * amp.max()].round(3).tolist(),
                "top_muscles": [str(ds.muscle.values[j]) for j in top],
                "top_weights": weight.values[top].round(3).tolist(),
                "peak_lag_s_of_top": [
                    float(w.lag.values[int(w.isel(muscle=j).argmax())]) for j in top
                ],
            }
        )
    sync = extract(env, rank="auto", ranks=range(1, 9), seed=0)
    out["synchronous_rank"] = int(sync.attrs["rank"])
    out["synchronous_vaf"] = float(sync.vaf)
    out["synchronous_vaf_at_tv_rank"] = float(
        extract(env, rank=ds.attrs["rank"], seed=0).vaf
    )
    print(json.dumps(out, indent=1))
    _save(f"santuz_{args.duration:g}s", out)


def people(args):
    """Space-by-time across the 15 santuz people (their cycle-averaged envelopes V,
    200 phase points x 13 muscles, as 15 'trials'), with the two stacked-NMF bounds."""
    import pandas as pd
    import xarray as xr

    from neuronmf.engine.api import nmf
    from neuronmf.synergies import space_by_time

    d = data_dir() / "santuz_gait_emg" / "csv"
    ids = [f"ID{i:04d}_TW_01" for i in range(1, 16)]
    frames = [pd.read_csv(d / f"{p}_V.csv") for p in ids]
    muscles = [c for c in frames[0].columns if c.lower() != "time"]
    X = np.stack([f[muscles].to_numpy(float) for f in frames])
    S, T, N = X.shape
    da = xr.DataArray(
        X,
        dims=("trial", "time", "muscle"),
        coords={"trial": ids, "time": np.arange(T) / T, "muscle": muscles},
    )
    t = time.perf_counter()
    ds = space_by_time(da, range(1, 6), range(1, 7), n_restarts=3, seed=0)
    seconds = time.perf_counter() - t
    xx = float(np.sum(X**2))
    bounds = {}
    for name, M, r in (
        ("spatial_L5_free_timing", X.reshape(S * T, N), 5),
        ("temporal_P6_free_weights", X.transpose(1, 0, 2).reshape(T, S * N), 6),
    ):
        f = nmf(M, r, n_restarts=3, seed=0, max_iter=2000)
        bounds[name] = 1 - float(np.sum((M - f.W @ f.H) ** 2)) / xx
    out = {
        "seconds": seconds,
        "chosen": [ds.attrs["n_spatial"], ds.attrs["n_temporal"]],
        "vaf": float(ds.vaf),
        "scan_vaf (n_spatial 1..5 x n_temporal 1..6)": ds.scan_vaf.values.round(
            3
        ).tolist(),
        "bounds": bounds,
    }
    print(json.dumps(out, indent=1))
    _save("santuz_people_space_by_time", out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("time-varying", "space-by-time", "null"):
        s = sub.add_parser(name)
        s.add_argument("--seeds", type=int, default=10 if name != "null" else 5)
    sub.choices["time-varying"].add_argument("--duration", type=float, default=0.45)
    sub.add_parser("people")
    s = sub.add_parser("santuz")
    s.add_argument("--duration", type=float, default=0.5)
    args = p.parse_args()
    warnings.simplefilter("ignore")
    {
        "time-varying": time_varying,
        "space-by-time": space_by_time,
        "null": null,
        "santuz": santuz,
        "people": people,
    }[args.cmd](args)


if __name__ == "__main__":
    main()
