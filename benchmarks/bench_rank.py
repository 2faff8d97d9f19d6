"""Rank selection: cost of a CV scan, and every criterion on the 15 real EMG matrices.

1. Time of a 10-rank CV scan with 5 repeats on a 16 × 20,000 envelope-like matrix
   (issue target: under 20 s), median of ``--repeats`` runs after a warm-up.
2. On the 15 people's ``IDxxxx_TW_01_V.csv`` (santuz_gait_emg; 200 time points ×
   13 muscles), the rank each criterion picks beside the reference rank (number
   of columns of ``_reference_modules.csv``, from musclesyneRgies).

Run: ``python benchmarks/bench_rank.py [--repeats 3] [--out benchmarks/results]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

import neuronmf as nm
from neuronmf.datasets import simulate_synergy_envelopes

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("NEURONMF_DATA_DIR", REPO.parent / "shared" / "data"))
CRITERIA = ("cv", "bicv", "vaf", "curvefit", "aic", "bic", "consensus", "stability")


def scan_cost(repeats: int) -> dict:
    V, _, _ = simulate_synergy_envelopes(
        n_muscles=16, n_synergies=5, n_cycles=100, points_per_cycle=200, seed=0
    )
    nm.select_rank(V[:, :2000], range(1, 11), n_repeats=5)  # warm-up (compile)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        scan = nm.select_rank(V, range(1, 11), n_repeats=5, seed=0)
        times.append(time.perf_counter() - t0)
    return {
        "shape": list(V.shape),
        "ranks": "1..10",
        "n_repeats": 5,
        "seconds": times,
        "median_s": float(np.median(times)),
        "best_rank": scan.best_rank,
        "choices": scan.choices,
    }


def santuz_table() -> list[dict]:
    folder = DATA / "santuz_gait_emg" / "csv"
    rows = []
    for path in sorted(folder.glob("ID*_TW_01_V.csv")):
        person = path.name[:6]
        V = np.loadtxt(path, delimiter=",", skiprows=1).T  # muscles × time
        ref = np.loadtxt(
            folder / f"{person}_TW_01_reference_modules.csv",
            delimiter=",",
            skiprows=1,
            usecols=None,
            dtype=str,
        )
        reference_rank = ref.shape[1] - 1  # first column holds the muscle names
        t0 = time.perf_counter()
        scan = nm.select_rank(
            V, range(1, 11), method="curvefit", criteria="all", n_repeats=5, seed=0
        )
        rows.append(
            {
                "person": person,
                "reference": int(reference_rank),
                **{c: int(scan.choices[c]) for c in CRITERIA},
                "seconds": time.perf_counter() - t0,
            }
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    result = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "neuronmf": nm.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cv_scan_16x20000": scan_cost(args.repeats),
    }
    print(json.dumps(result["cv_scan_16x20000"], indent=1), flush=True)
    result["santuz"] = santuz_table()
    rows = result["santuz"]
    print("\n| person | reference | " + " | ".join(CRITERIA) + " |")
    print("|---" * (len(CRITERIA) + 2) + "|")
    for row in rows:
        cells = [str(row[c]) for c in ("person", "reference", *CRITERIA)]
        print("| " + " | ".join(cells) + " |")
    hits = {c: sum(r[c] == r["reference"] for r in rows) for c in CRITERIA}
    print(
        "| agrees with reference | | "
        + " | ".join(f"{hits[c]}/{len(rows)}" for c in CRITERIA)
        + " |"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "rank.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
