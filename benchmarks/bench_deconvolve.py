"""Spike deconvolution: ``neuronmf.imaging.deconvolve`` beside ``oasis-deconv``.

Usage (oasis-deconv lives only in the benchmark environment; it is never a
neuronmf dependency)::

    /work/benchenv/bin/pip install oasis-deconv          # 0.3.2, GPL-3.0
    python benchmarks/bench_deconvolve.py [--repeats 5] [--oasis-python PATH]

The traces are made here (seeded) and written to a temporary ``.npz``; the
neuronmf side runs in this process (``/work/venv``), the OASIS side in a child
process with the benchmark environment's Python (``--oasis-python``, default
``/work/benchenv/bin/python``), which runs this same file with ``--oasis-side``
and imports only numpy and oasis. Both sides estimate everything per trace (noise
from the high-frequency spectrum, AR coefficients from the autocovariance, the
sparsity from the noise constraint, the baseline) with their defaults:

* neuronmf: ``deconvolve(Y, model="ar1" | "ar2")`` on the (neuron, time) array;
* OASIS: ``oasis.functions.deconvolve(y, g=(None,) | (None, None), penalty=1)``
  trace by trace (``penalty=1``: the L1 problem, its default).

Each side is called once untimed per repeat (Numba's cache load, imports), then
the whole set of traces is deconvolved; the repeats alternate between the two
sides (an OASIS child, then neuronmf) so that both see the same machine load, and
the medians of the wall time and of the process CPU time over ``--repeats`` are
reported (CPU time is the fairer figure on a shared machine). Quality: the
Pearson correlation of inferred and true spike trains, per trace, in bins of 1
and 4 frames, averaged over the traces where it is defined (``n_undefined``
counts traces with no inferred or no true spike). Null traces (white noise)
report the fraction of frames with a spike and the largest
spike in noise standard deviations.

One JSON object is printed and written to ``benchmarks/results/deconvolve.json``.
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
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def make_sets(seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """The traces (neuron, time), true spikes and noise level of each set."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    sets = {}

    def ar(n, T, g1, g2, sn, rate):
        s = rng.poisson(rate, (n, T)).astype(float)
        c = lfilter([1.0], [1.0, -g1, -g2], s, axis=1)
        return c + 1.0 + sn * rng.normal(size=(n, T)), s

    Y, S = ar(200, 5000, 0.95, 0.0, 0.3, 0.02)
    sets["ar1"] = {"Y": Y, "S": S, "sn": np.full(200, 0.3)}
    d, r = 0.95, 0.5
    Y, S = ar(200, 5000, d + r, -d * r, 0.3, 0.02)
    sets["ar2"] = {"Y": Y, "S": S, "sn": np.full(200, 0.3)}
    sys.path.insert(0, str(HERE.parent))
    from neuronmf.datasets import simulate_movie

    sim = simulate_movie((96, 96), 3000, 50, 4.0, seed=seed)
    C, S = sim.truth["traces"].values, sim.truth["spikes"].values
    sets["movie_truth"] = {
        "Y": C + 0.15 * rng.normal(size=C.shape),
        "S": S,
        "sn": np.full(len(C), 0.15),
    }
    sets["null"] = {
        "Y": 5.0 + rng.normal(size=(200, 5000)),
        "S": np.zeros((200, 5000)),
        "sn": np.ones(200),
    }
    return sets


def binned_corr(inferred: np.ndarray, truth: np.ndarray, k: int) -> tuple[float, int]:
    """Mean per-trace correlation in bins of ``k`` frames, and the undefined count."""
    T = inferred.shape[1] // k * k
    A = inferred[:, :T].reshape(len(inferred), -1, k).sum(-1)
    B = truth[:, :T].reshape(len(truth), -1, k).sum(-1)
    values = []
    for a, b in zip(A, B, strict=True):
        if a.std() == 0 or b.std() == 0:
            values.append(np.nan)
        else:
            values.append(np.corrcoef(a, b)[0, 1])
    values = np.asarray(values)
    ok = np.isfinite(values)
    return (float(values[ok].mean()) if ok.any() else float("nan")), int((~ok).sum())


def quality(spikes: np.ndarray, data: dict) -> dict:
    if not data["S"].any():
        return {
            "frames_with_spike": float((spikes > 0).mean()),
            "max_spike_over_noise": float((spikes.max(1) / data["sn"]).max()),
            "traces_with_spike_over_3sd": int((spikes.max(1) > 3 * data["sn"]).sum()),
        }
    out = {}
    for k in (1, 4):
        out[f"corr_bin{k}"], out[f"n_undefined_bin{k}"] = binned_corr(
            spikes, data["S"], k
        )
    return out


def run_neuronmf(sets, models, results: dict) -> None:
    """One timed repeat of every set and model; appends to ``results``."""
    from neuronmf.imaging.deconvolve import deconvolve

    for name, data in sets.items():
        for model in models:
            deconvolve(data["Y"][:2], model=model)  # warm: Numba cache load
            w0, c0 = time.perf_counter(), time.process_time()
            res = deconvolve(data["Y"], model=model)
            w1, c1 = time.perf_counter(), time.process_time()
            row = results.setdefault(f"{name}/{model}", {"wall": [], "cpu": []})
            row["wall"].append(w1 - w0)
            row["cpu"].append(c1 - c0)
            row.update(quality(res["spikes"].values, data))
            row["g_median"] = np.median(res["g"].values, axis=0).tolist()


def oasis_side(npz: str, out: str, models: list[str]) -> None:
    """Run in the benchmark environment: one timed repeat of OASIS on every set."""
    import warnings

    from oasis.functions import deconvolve

    warnings.simplefilter("ignore", DeprecationWarning)  # g= (0.3.2 prefers tau)
    arrays = np.load(npz)
    names = sorted({k.split("__")[0] for k in arrays.files})
    results = {}
    for name in names:
        Y = arrays[f"{name}__Y"]
        for model in models:
            g = (None,) if model == "ar1" else (None, None)
            deconvolve(Y[0], g=g, penalty=1)  # warm
            S = np.empty_like(Y)
            G = []
            w0, c0 = time.perf_counter(), time.process_time()
            for i, y in enumerate(Y):
                res = deconvolve(y, g=g, penalty=1)
                S[i] = res[1]
                G.append(list(np.atleast_1d(res[3])))
            w1, c1 = time.perf_counter(), time.process_time()
            np.save(f"{out}.{name}.{model}.npy", S)
            results[f"{name}/{model}"] = {
                "wall": w1 - w0,
                "cpu": c1 - c0,
                "g_median": np.median(np.asarray(G, float), axis=0).tolist(),
            }
    import oasis

    results["_version"] = getattr(oasis, "__version__", None)
    Path(out).write_text(json.dumps(results))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--oasis-python", default="/work/benchenv/bin/python")
    ap.add_argument("--models", default="ar1,ar2")
    ap.add_argument("--oasis-side", nargs=2, metavar=("NPZ", "OUT"))
    args = ap.parse_args()
    models = args.models.split(",")
    if args.oasis_side:
        oasis_side(*args.oasis_side, models)
        return
    sets = make_sets()
    mine: dict = {}
    oasis: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        npz = os.path.join(tmp, "traces.npz")
        np.savez(npz, **{f"{n}__Y": d["Y"] for n, d in sets.items()})
        out = os.path.join(tmp, "oasis.json")
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        cmd = [args.oasis_python, __file__, "--oasis-side", npz, out]
        for _ in range(args.repeats):  # interleaved: both sides see the same load
            subprocess.run([*cmd, "--models", args.models], check=True, env=env)
            rows = json.loads(Path(out).read_text())
            oasis["_version"] = rows.pop("_version")
            for key, row in rows.items():
                dest = oasis.setdefault(key, {"wall": [], "cpu": []})
                dest["wall"].append(row["wall"])
                dest["cpu"].append(row["cpu"])
                dest["g_median"] = row["g_median"]
            run_neuronmf(sets, models, mine)
        for key, row in oasis.items():
            if key.startswith("_"):
                continue
            name, model = key.split("/")
            row.update(quality(np.load(f"{out}.{name}.{model}.npy"), sets[name]))
    for side in (mine, oasis):
        for key, row in side.items():
            if not key.startswith("_"):
                row["wall_median_s"] = float(np.median(row["wall"]))
                row["cpu_median_s"] = float(np.median(row["cpu"]))
    version = oasis.pop("_version")
    import numba
    import scipy

    import neuronmf

    report = {
        "command": "python benchmarks/bench_deconvolve.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores (shared), {platform.system()}",
        "python": platform.python_version(),
        "versions": {
            "neuronmf": neuronmf.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "numba": numba.__version__,
            "oasis-deconv": version or "0.3.2",
        },
        "repeats": args.repeats,
        "shapes": {n: list(d["Y"].shape) for n, d in sets.items()},
        "load_average": os.getloadavg(),
        "neuronmf": mine,
        "oasis": oasis,
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "deconvolve.json").write_text(json.dumps(report, indent=1))
    for key in report["neuronmf"]:
        a, b = report["neuronmf"][key], report["oasis"][key]
        keys = [k for k in a if k.startswith(("corr", "frames", "max_spike"))]
        print(
            key,
            f"wall neuronmf {a['wall_median_s']:.3f}s oasis {b['wall_median_s']:.3f}s",
            f"cpu neuronmf {a['cpu_median_s']:.3f}s oasis {b['cpu_median_s']:.3f}s",
            *(f"{k} {a[k]:.4f}/{b[k]:.4f}" for k in keys),
        )


if __name__ == "__main__":
    main()
