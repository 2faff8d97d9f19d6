"""conv_nmf (convolutive NMF, seqNMF) — recovery, null data and speed against the
Python ports of seqNMF.

Usage (the ports live only in the benchmark environments, never in neuronmf's
dependencies; ``gseqnmf`` needs Python >= 3.12)::

    /work/benchenv/bin/pip install seqnmf "setuptools<81"
    /root/.pyenv/versions/3.12.1/bin/python -m venv /work/benchenv/py312
    /work/benchenv/py312/bin/pip install gseqnmf
    export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1
    python benchmarks/bench_conv_nmf.py data                  # inputs -> /tmp
    /work/benchenv/bin/python benchmarks/bench_conv_nmf.py port seqnmf
    /work/benchenv/py312/bin/python benchmarks/bench_conv_nmf.py port gseqnmf
    python benchmarks/bench_conv_nmf.py speed                 # equal objective
    python benchmarks/bench_conv_nmf.py recovery [--seeds 10] [--case calcium]
    python benchmarks/bench_conv_nmf.py null

Everything runs on one thread (the machine is shared); times are CPU seconds of
the process (``time.process_time``), medians of 3, excluding Numba compilation
(cached on disk; one warm-up fit first).

- ``recovery``: seqNMF's demo data (3 sequences of 10 neurons, a neuron every 3
  frames, background events with probability 0.001, T = 3000, calcium kernel),
  K = 5, L = 50, λ chosen by ``choose_x_ortho`` (20 λ in [1e-5, 1e-1]), then a
  fit at that λ: recovered when seqNMF's factor similarity to the truth is
  ≥ 0.9 and the two extra components each explain < 1 % of the power.
  ``--case poisson`` (spike counts, KL loss), ``--case jitter`` (50 %
  participation, jitter SD 1 frame) and ``--case jitter2`` (jitter SD 2).
  The fit then goes through ``merge_fragments`` (components locked at a
  fixed lag merged when held-out data allow); ``--no-merge`` skips it.
- ``null``: fit on the first 75 %, ``factor_significance`` on the last 25 %, for
  the data as they are and two shuffles: ``global`` (each neuron circularly
  shifted by its own random offset over the whole recording: neurons whose new
  lags fall within L of each other still fire in a fixed order, a genuine
  sequence in both parts) and ``split`` (independent shifts in the training and
  the test part: nothing learnt in training recurs in the test data).
- ``speed``: every tool's (W, H) is scored by one objective, seqNMF's
  ½‖V − V̂‖²_F + λ·‖(W ⊛ᵀ V) S Hᵀ‖_{1,i≠j} on the unpadded data; each port runs
  its default 100 iterations; neuronmf runs the fewest iterations (of a fixed
  ladder) that reach the best port's objective, and that fit is timed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

TMP = Path("/tmp/convnmf_bench")
RESULTS = Path(__file__).resolve().parent / "results"
HVC = Path("/work/shared/data/songbird_hvc_seqnmf/hvc_neural_song.npz")
#: name -> (K, L, λ, l1_W): seqNMF's demo settings
SETTINGS = {
    "sim": (5, 50, 0.002, 0.0),
    "sim_lam0": (5, 50, 0.0, 0.0),
    "hvc": (10, 20, 0.005, 0.1),
}


def _median_cpu(fn, repeats=3):
    times, out = [], None
    for _ in range(repeats):
        t = time.process_time()
        out = fn()
        times.append(time.process_time() - t)
    return float(np.median(times)), out


def cmd_data() -> None:
    from neuronmf.datasets._neural_sequences import simulate_sequences

    TMP.mkdir(exist_ok=True)
    sim = simulate_sequences(seed=1)
    np.savez(TMP / "sim.npz", V=sim.data)
    np.savez(TMP / "sim_lam0.npz", V=sim.data)
    neural = np.load(HVC)["neural"]
    split = int(np.floor(neural.shape[1] * 0.75))
    np.savez(TMP / "hvc.npz", V=neural[:, :split])
    print("wrote", sorted(p.name for p in TMP.glob("*.npz")))


def cmd_port(tool: str) -> None:
    out = {}
    for name, (K, L, lam, l1w) in SETTINGS.items():
        V = np.load(TMP / f"{name}.npz")["V"]
        if tool == "seqnmf":
            from seqnmf import seqnmf

            def fit(V=V, K=K, L=L, lam=lam, l1w=l1w):
                np.random.seed(0)  # noqa: NPY002 - the port draws from it
                W, H, *_ = seqnmf(V, K=K, L=L, Lambda=lam, lambda_L1W=l1w, max_iter=100)
                return W, H

        else:
            from gseqnmf import GseqNMF

            def fit(V=V, K=K, L=L, lam=lam, l1w=l1w):
                m = GseqNMF(
                    K, L, lam=lam, alpha_W=l1w, max_iter=100, tol=0, random_state=0
                )
                m.fit(V.T)  # scikit-learn's (samples, features): (time, neuron)
                return np.asarray(m.W_), np.asarray(m.H_)

        if tool == "seqnmf":
            fit()  # warm-up
            cpu, (W, H) = _median_cpu(fit)
        else:
            fit()  # warm-up
            cpu, (W, H) = _median_cpu(fit)
        np.savez(TMP / f"{tool}_{name}.npz", W=W, H=H)
        out[name] = cpu
        print(tool, name, f"{cpu:.3f} s", W.shape, H.shape, flush=True)
    (TMP / f"{tool}_times.json").write_text(json.dumps(out))


def _objective(V, W, H, lam):
    from neuronmf.model_selection.x_ortho import seqnmf_costs

    cost, reg = seqnmf_costs(V, W, H)
    return 0.5 * cost**2 + lam * reg


def _shift(H, s):
    out = np.zeros_like(H)
    if s >= 0:
        out[:, s:] = H[:, : H.shape[1] - s]
    else:
        out[:, :s] = H[:, -s:]
    return out


def _orient(V, W, H):
    """Ports' factors as (N, K, L) and (K, T)."""
    W, H = np.asarray(W), np.asarray(H)
    if W.shape[0] != V.shape[0]:
        W = np.moveaxis(W, next(i for i, s in enumerate(W.shape) if s == V.shape[0]), 0)
    if H.shape[1] != V.shape[1]:
        H = H.T
    return W, H


def cmd_speed() -> None:
    import neuronmf as nm

    rows = []
    ladder = [5, 8, 10, 12, 15, 20, 25, 30, 40, 50, 70, 100, 150, 200, 300]
    for name, (K, L, lam, l1w) in SETTINGS.items():
        V = np.load(TMP / f"{name}.npz")["V"]
        row = {
            "data": name,
            "shape": list(V.shape),
            "K": K,
            "L": L,
            "x_ortho": lam,
            "l1_W": l1w,
        }
        for tool in ("seqnmf", "gseqnmf"):
            f = TMP / f"{tool}_{name}.npz"
            if not f.exists():
                continue
            d = np.load(f)
            W, H = _orient(V, d["W"], d["H"])
            # the ports place lag 0 one frame off (seqnmf's reconstruct rolls H by
            # ℓ − 1): score each at its own convention, the best of H shifted by
            # -1, 0, +1 frames
            row[f"{tool}_objective"] = min(
                _objective(V, W, _shift(H, s), lam) for s in (-1, 0, 1)
            )
            row[f"{tool}_cpu_s"] = json.loads((TMP / f"{tool}_times.json").read_text())[
                name
            ]
        targets = [row[k] for k in row if k.endswith("_objective")]
        target = min(targets) if targets else np.inf
        for solver in ("hals", "mu"):
            nm.conv_nmf(
                V, K, L, x_ortho=lam, l1_W=l1w, solver=solver, seed=0, max_iter=3
            )
            for it in ladder:

                def fit(it=it, solver=solver, V=V, K=K, L=L, lam=lam, l1w=l1w):
                    return nm.conv_nmf(
                        V,
                        K,
                        L,
                        x_ortho=lam,
                        l1_W=l1w,
                        solver=solver,
                        seed=0,
                        max_iter=it,
                        tol=0,
                    )

                res = fit()
                J = _objective(V, res.W, res.H, lam)
                if J <= target or it == ladder[-1]:
                    cpu, _ = _median_cpu(fit)
                    row[f"neuronmf_{solver}_iters"] = it
                    row[f"neuronmf_{solver}_objective"] = J
                    row[f"neuronmf_{solver}_cpu_s"] = cpu
                    row[f"neuronmf_{solver}_reached"] = bool(J <= target)
                    break
        port_times = [
            row[k] for k in row if k.endswith("_cpu_s") and not k.startswith("neuronmf")
        ]
        if port_times:
            row["speedup_vs_fastest_port"] = (
                min(port_times) / row["neuronmf_hals_cpu_s"]
            )
        rows.append(row)
        print(json.dumps(row), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "conv_nmf_speed.json").write_text(json.dumps(rows, indent=1))


def _recovered(sim, res, extra_max=0.01):
    from neuronmf.engine.convolutive import factor_similarity

    S = sim.W.shape[1]
    sim_score = factor_similarity(sim.W, sim.H, res.W, res.H)
    extra = np.sort(res.power_explained)[::-1][S:]
    return (
        sim_score,
        float(extra.max(initial=0.0)),
        bool(sim_score >= 0.9 and np.all(extra < extra_max)),
    )


CASES = {
    "calcium": ({}, {"loss": "frobenius"}),
    "poisson": ({"kind": "poisson"}, {"loss": "kl"}),
    "jitter": ({"participation": 0.5, "jitter": 1.0}, {"loss": "frobenius"}),
    "jitter2": ({"participation": 0.5, "jitter": 2.0}, {"loss": "frobenius"}),
}


def cmd_recovery(seeds: int, case: str, max_iter: int, merge: bool = True) -> None:
    import neuronmf as nm
    from neuronmf.datasets._neural_sequences import simulate_sequences
    from neuronmf.model_selection import choose_x_ortho, merge_fragments

    sim_kw, fit_kw = CASES[case]
    rows = []
    for seed in range(seeds):
        sim = simulate_sequences(seed=100 + seed, **sim_kw)
        t = time.process_time()
        ch = choose_x_ortho(sim.data, 5, 50, seed=seed, max_iter=max_iter, **fit_kw)
        res = nm.conv_nmf(
            sim.data, 5, 50, x_ortho=ch.x_ortho, seed=seed, max_iter=max_iter, **fit_kw
        )
        n_merged = 0
        if merge:
            merged = merge_fragments(sim.data, res, seed=seed)
            res, n_merged = merged.result, merged.n_merged
        cpu = time.process_time() - t
        score, extra, ok = _recovered(sim, res)
        row = {
            "case": case,
            "seed": seed,
            "x_ortho": ch.x_ortho,
            "similarity": round(score, 4),
            "extra_power_max": round(extra, 4),
            "recovered": ok,
            "merge_fragments": merge,
            "n_merged": n_merged,
            "cpu_s": round(cpu, 2),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    n_ok = sum(r["recovered"] for r in rows)
    summary = {
        "case": case,
        "merge_fragments": merge,
        "recovered": n_ok,
        "of": len(rows),
        "median_similarity": float(np.median([r["similarity"] for r in rows])),
    }
    print(json.dumps(summary))
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "conv_nmf_recovery.jsonl", "a") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
        fh.write(json.dumps(summary) + "\n")


def cmd_null(seeds: int) -> None:
    import warnings

    import neuronmf as nm
    from neuronmf.datasets._neural_sequences import simulate_sequences
    from neuronmf.model_selection import factor_significance

    rows = []
    sources = [
        ("sim", simulate_sequences(seed=200 + s).data, 5, 50, 0.002, 0.0)
        for s in range(seeds)
    ]
    neural = np.load(HVC)["neural"]
    sources += [("hvc", neural, 10, 20, 0.005, 0.1) for _ in range(seeds)]
    for i, (name, V, K, L, lam, l1w) in enumerate(sources):
        rng = np.random.default_rng(i)
        split = int(V.shape[1] * 0.75)
        for mode in ("real", "global", "split"):
            if mode == "real":
                X = V
            elif mode == "global":  # one shift per neuron for the whole recording
                X = np.stack([np.roll(v, rng.integers(V.shape[1])) for v in V])
            else:  # independent shifts in the training and the test part
                X = np.concatenate(
                    [
                        np.stack(
                            [np.roll(v, rng.integers(part.shape[1])) for v in part]
                        )
                        for part in (V[:, :split], V[:, split:])
                    ],
                    axis=1,
                )
            res = nm.conv_nmf(
                X[:, :split], K, L, x_ortho=lam, l1_W=l1w, seed=i, max_iter=100
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                sig = factor_significance(X[:, split:], res.W, seed=i)
            row = {
                "data": name,
                "shuffle": mode,
                "run": i,
                "n_significant": int(sig.significant.sum()),
                "pvalues": [
                    None if np.isnan(p) else round(float(p), 4) for p in sig.pvalues
                ],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "conv_nmf_null.jsonl", "a") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("data", "port", "speed", "recovery", "null"))
    p.add_argument("tool", nargs="?", choices=("seqnmf", "gseqnmf"))
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--case", choices=tuple(CASES), default="calcium")
    p.add_argument("--max-iter", type=int, default=100)
    p.add_argument(
        "--no-merge",
        action="store_true",
        help="recovery: skip merge_fragments (the fit as conv_nmf leaves it)",
    )
    a = p.parse_args(argv)
    if a.what == "data":
        cmd_data()
    elif a.what == "port":
        cmd_port(a.tool)
    elif a.what == "speed":
        cmd_speed()
    elif a.what == "recovery":
        cmd_recovery(a.seeds, a.case, a.max_iter, merge=not a.no_merge)
    else:
        cmd_null(a.seeds)


if __name__ == "__main__":
    sys.exit(main())
