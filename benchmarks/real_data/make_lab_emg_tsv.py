"""Rewrite the santuz raw EMG as a lab would hand it over, for docs/assumptions.md.

Time in milliseconds, 2,000 scattered rows dropped (timing gaps), and an integer
``class`` column (gait phase: 0 before the first touchdown, 1 stance, 2 swing).

    python benchmarks/real_data/make_lab_emg_tsv.py lab.tsv
    neuronmf synergies lab.tsv --rate 1000             # refused: rate vs time
    neuronmf synergies lab.tsv --time-unit ms          # refused: 1469 gaps
    neuronmf synergies lab.tsv --time-unit ms --resample  # right time axis
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def main(out: str) -> None:
    root = Path(os.environ.get("NEURONMF_DATA_DIR", "../shared/data"))
    csv = root / "santuz_gait_emg" / "csv"
    df = pd.read_csv(csv / "ID0012_TW_01_raw_emg.csv")
    cycles = pd.read_csv(csv / "ID0012_TW_01_gait_cycles.csv").to_numpy()
    t = df["time"].to_numpy()
    phase = np.zeros(len(t), dtype=int)
    for touchdown, lift_off in cycles:
        phase[(t >= touchdown) & (t < lift_off)] = 1
        phase[t >= lift_off] = 2
    df["time"] = np.round(t * 1000).astype(int)  # ms
    df["class"] = phase
    rng = np.random.default_rng(0)
    drop = rng.choice(np.arange(1, len(df) - 1), size=2000, replace=False)
    lab = df.drop(index=drop)
    lab.to_csv(out, sep="\t", index=False)
    steps = np.diff(lab["time"].to_numpy())
    n_gaps = int((steps > 1).sum())
    print(f"{out}: {lab.shape}, {n_gaps} gaps, largest step {steps.max()} ms")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "lab.tsv")
