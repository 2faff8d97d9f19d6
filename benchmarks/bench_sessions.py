"""Cross-session matching on simulated drifting sessions (issue 23, item 5).

For each seed, ``simulate_movie(..., n_sessions=S)`` images one field of
neurons in S sessions with drift (rigid shift, smooth deformation, cells
missing, brightness changes). ``match_sessions`` then matches

- the *truth* footprints of every session (registration on the mean images);
- end to end, the footprints that ``imaging.segment`` finds in each session's
  movie (with the sessions' mean images), scored on the detected neurons that
  match a planted neuron (IoU matching, ``imaging.score``);

and a *null*: sessions of entirely different cells (independent seeds).
Identity pairs (two neurons of two sessions given one identity) are scored
for precision and recall against the truth identity table.

Run::

    python benchmarks/bench_sessions.py                 # the recorded run
    python benchmarks/bench_sessions.py --quick         # 2 seeds, no segment

Writes ``benchmarks/results/sessions.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import scipy

from neuronmf._provenance import version
from neuronmf.datasets import simulate_movie
from neuronmf.imaging import score, segment
from neuronmf.imaging.sessions import match_sessions, score_matching

DRIFT = {"shift": 8.0, "deformation": 1.5, "turnover": 0.2, "brightness": 0.3}


def _detected_truth(sims, segs) -> np.ndarray:
    """The truth identity table in the indices of the detected neurons."""
    ident = sims[0].truth["identities"].values
    found = []
    for sim, seg in zip(sims, segs, strict=True):
        sc = score(seg, sim.truth["footprints"])
        found.append({t: f for f, t in sc["matches"]})
    table = np.full(ident.shape, -1)
    for c, s in zip(*np.nonzero(ident >= 0), strict=True):
        table[c, s] = found[s].get(int(ident[c, s]), -1)
    return table


def run(args) -> dict:
    rows = []
    for seed in range(args.seeds):
        sims = simulate_movie(
            (args.size, args.size), args.frames, args.neurons, 4.0,
            n_sessions=args.sessions, session_drift=DRIFT, seed=seed,
        )  # fmt: skip
        means = [s.data.mean("time").values for s in sims]
        truth = sims[0].truth["identities"].values
        row = {"seed": seed}
        for name, kw in {"rigid": {}, "nonrigid": {"nonrigid": True}}.items():
            t0 = time.perf_counter()
            out = match_sessions(
                [s.truth["footprints"] for s in sims], mean_images=means, **kw
            )
            row[f"truth_{name}"] = score_matching(out, truth)
            row[f"truth_{name}"]["seconds"] = time.perf_counter() - t0
            err = out["rigid_shift"].values - np.array(
                [s.truth["rigid_shift"].values for s in sims]
            )
            row[f"truth_{name}"]["shift_error_px"] = float(np.abs(err).max())
        if not args.quick:
            segs = [segment(s.data, neuron_radius=4.0) for s in sims]
            table = _detected_truth(sims, segs)
            for name, kw in {"rigid": {}, "nonrigid": {"nonrigid": True}}.items():
                out = match_sessions(segs, mean_images=means, **kw)
                row[f"segment_{name}"] = score_matching(out, table)
            row["segment_f1"] = [
                score(g, s.truth["footprints"])["f1"]
                for g, s in zip(segs, sims, strict=False)
            ]
        other = simulate_movie(
            (args.size, args.size), 50, args.neurons, 4.0, seed=seed + 1000
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            null = match_sessions(
                [sims[0].truth["footprints"], other.truth["footprints"]]
            )
        n_cells = sims[0].truth.sizes["neuron"]
        matched = int(((null["neuron"] >= 0).all("session")).sum())
        row["null"] = {
            "cells": n_cells,
            "matched": matched,
            "fraction": matched / n_cells,
            "pairs_p_above_0.9": int((null["pair_p_same"] > 0.9).sum()),
        }
        rows.append(row)
        print(json.dumps(row, default=float))
    return rows


def _summary(rows) -> dict:
    out = {}
    for key in rows[0]:
        if key in ("seed", "segment_f1", "null"):
            continue
        p = [r[key]["precision"] for r in rows]
        q = [r[key]["recall"] for r in rows]
        out[key] = {
            "precision_median": float(np.median(p)),
            "precision_min": float(np.min(p)),
            "recall_median": float(np.median(q)),
            "recall_min": float(np.min(q)),
        }
    out["null_fraction_matched_max"] = max(r["null"]["fraction"] for r in rows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--neurons", type=int, default=60)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="benchmarks/results/sessions.json")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.frames = min(args.seeds, 2), 50
    t0 = time.perf_counter()
    rows = run(args)
    result = {
        "command": "python benchmarks/bench_sessions.py"
        + (" --quick" if args.quick else ""),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "neuronmf": version(),
        "settings": vars(args) | {"drift": DRIFT},
        "summary": _summary(rows),
        "runs": rows,
        "wall_seconds": time.perf_counter() - t0,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1, default=float))
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()
