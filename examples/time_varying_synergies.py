"""Synergies in time: time-varying synergies (d'Avella) and space-by-time (Delis).

1. Simulated EMG made of three time-varying synergies with known onsets:
   ``extract(kind="time-varying", duration=...)`` recovers the waveforms and the
   onsets; the figure shows them with their occurrences.
2. With the santuz_gait_emg mirror ($NEURONMF_DATA_DIR, default ../shared/data):
   the real raw treadmill trial ID0012_TW_01 (13 muscles, 1 kHz), its envelope,
   time-varying synergies with an automatic rank, and where their onsets fall in
   the stride (touchdown = 0, lift-off about 0.64).
3. Simulated trials (trial, time, muscle): ``space_by_time(trials, 3, 2)``
   recovers the spatial and temporal modules and the per-trial coefficients.

    python examples/time_varying_synergies.py --out results/synergies_time
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np

import neuronmf as nm
from neuronmf.plotting.synergies_time import plot_space_by_time, plot_time_varying
from neuronmf.synergies._time_varying import aligned_cosine

REPO = Path(__file__).resolve().parents[1]


def simulated(out: Path) -> None:
    sim = nm.datasets.simulate_time_varying_emg(total_time=30.0, seed=0)
    ds = nm.synergies.extract(
        sim.data, kind="time-varying", duration=0.45, rank=3, n_restarts=3
    )
    step = ds.attrs["scan_step"]
    truth = sim.truth.synergies.values[:, :, ::step]
    for k, w in enumerate(ds.synergies.values):
        best = max(aligned_cosine(t, w) for t in truth)
        print(f"synergy {k}: cosine with its planted synergy {best[0]:.3f}")
    print(
        f"{ds.sizes['occurrence']} occurrences found, "
        f"{sim.truth.sizes['occurrence']} planted; VAF {float(ds.vaf):.4f}"
    )
    plot_time_varying(ds, envelope=sim.data, window=(0, 10)).savefig(
        out / "time_varying_simulated.png", dpi=120
    )
    nm.io.save_netcdf(ds, out / "time_varying_simulated.nc")


def santuz(out: Path) -> None:
    root = Path(os.environ.get("NEURONMF_DATA_DIR", REPO.parent / "shared" / "data"))
    csv = root / "santuz_gait_emg" / "csv"
    if not (csv / "ID0012_TW_01_raw_emg.csv").exists():
        print("santuz_gait_emg mirror not found: real-data part skipped")
        return
    import pandas as pd

    raw = nm.io.load_emg(csv / "ID0012_TW_01_raw_emg.csv")
    events = pd.read_csv(csv / "ID0012_TW_01_gait_cycles.csv")
    td = events.touchdown_s.to_numpy()
    env = nm.synergies.envelope(raw, lowpass=6.0)
    ds = nm.synergies.extract(
        env, kind="time-varying", duration=0.5, rank="auto", ranks=range(1, 7),
        n_restarts=3,
    )  # fmt: skip
    print(
        f"santuz ID0012_TW_01: {ds.attrs['rank']} time-varying synergies "
        f"(rule {ds.attrs['rank_rule']}), VAF {float(ds.vaf):.3f}"
    )
    for k in range(ds.attrs["rank"]):
        sel = ds.occurrence_synergy.values == k
        on, amp = ds.onset.values[sel], ds.amplitude.values[sel]
        big = amp >= 0.5 * amp.max()
        i = np.searchsorted(td, on[big]) - 1
        ok = (i >= 0) & (i < td.size - 1)
        phase = (on[big][ok] - td[i[ok]]) / (td[i[ok] + 1] - td[i[ok]])
        print(f"  synergy {k}: major onsets at stride phase {np.round(phase, 2)}")
    plot_time_varying(ds, envelope=env).savefig(
        out / "time_varying_santuz.png", dpi=120
    )


def trials(out: Path) -> None:
    sim = nm.datasets.simulate_space_by_time(noise=0.1, seed=0)
    ds = nm.synergies.space_by_time(sim.data, 3, 2)
    print(
        f"space-by-time: {ds.attrs['n_spatial']} spatial x "
        f"{ds.attrs['n_temporal']} temporal modules, VAF {float(ds.vaf):.4f}"
    )
    plot_space_by_time(ds).savefig(out / "space_by_time.png", dpi=120)
    nm.io.save_netcdf(ds, out / "space_by_time.nc")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("results/synergies_time"))
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    simulated(args.out)
    santuz(args.out)
    trials(args.out)


if __name__ == "__main__":
    main()
