"""Muscle synergies from raw EMG: envelope, NMF, number of synergies, comparison.

With the santuz_gait_emg mirror ($NEURONMF_DATA_DIR, default ../shared/data) it
runs on the real raw trial ID0012_TW_01 (13 muscles, 1 kHz, gait events) and
compares the synergies with the published reference modules; otherwise it
simulates raw EMG with planted synergies and compares with the truth. Then it
refits a second trial with the synergies held fixed and groups several sets into
common synergies. Writes NetCDF, figures and prints a summary.

    python examples/synergies_from_emg.py --out results/synergies
    python examples/synergies_from_emg.py --simulate --out results/synergies
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

import neuronmf as nm
from neuronmf.plotting.synergies import (
    plot_activations,
    plot_rank_curve,
    plot_similarity,
    plot_synergies,
)

REPO = Path(__file__).resolve().parents[1]


def real_trial():
    """Raw EMG, gait events and reference modules of ID0012_TW_01, or None."""
    root = Path(os.environ.get("NEURONMF_DATA_DIR", REPO.parent / "shared" / "data"))
    csv = root / "santuz_gait_emg" / "csv"
    if not (csv / "ID0012_TW_01_raw_emg.csv").exists():
        return None
    import pandas as pd

    raw = nm.io.load_emg(csv / "ID0012_TW_01_raw_emg.csv")
    events = pd.read_csv(csv / "ID0012_TW_01_gait_cycles.csv")
    cycles = events[["touchdown_s", "liftoff_s"]].to_numpy()
    ref = pd.read_csv(csv / "ID0012_TW_01_reference_modules.csv", index_col=0)
    return raw, cycles, ref.loc[list(raw.channel.values)].to_numpy(), "reference"


def people_sets():
    """Synergy sets of the 15 people's published envelopes (V, 200 x 13)."""
    import pandas as pd
    import xarray as xr

    root = Path(os.environ.get("NEURONMF_DATA_DIR", REPO.parent / "shared" / "data"))
    csv = root / "santuz_gait_emg" / "csv"
    sets, labels = [], []
    for path in sorted(csv.glob("ID*_TW_01_V.csv")):
        V = pd.read_csv(path)
        env = xr.DataArray(
            V.to_numpy(float), dims=("time", "channel"), coords={"channel": V.columns}
        )
        sets.append(nm.synergies.extract(env, rank=5, n_restarts=3))
        labels.append(path.name[:6])
    return sets, labels


def simulated_trial(seed=0):
    sim = nm.datasets.simulate_emg(13, 4, 10, variant="padded", seed=seed)
    touchdowns = np.append(sim.truth["cycle_start"], sim.truth["cycle_stop"][-1])
    return sim.data, touchdowns, sim.truth["synergies"].values, "planted truth"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("synergies-example"))
    p.add_argument("--simulate", action="store_true", help="ignore real data")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    trial = None if args.simulate else real_trial()
    source = "ID0012_TW_01 (santuz_gait_emg)" if trial else "simulated EMG"
    raw, cycles, reference, ref_name = trial or simulated_trial()

    # 1. envelope: 20-450 Hz band-pass, rectification, 6 Hz low-pass, max = 1,
    #    every gait cycle time-normalised to 200 points
    env = nm.synergies.envelope(raw, cycles=cycles, points_per_cycle=200)
    # 2. synergies, with the number chosen by the curve-fit rule
    ds = nm.synergies.extract(env, rank="auto", criterion="curvefit", n_restarts=10)
    nm.io.save_netcdf(ds, args.out / "synergies.nc")  # read back: nm.io.load_result
    print(f"{source}: {env.sizes['channel']} muscles, {env.attrs['n_cycles']} cycles")
    print(
        f"rank {ds.attrs['rank']} ({ds.attrs['rank_choices']}), VAF {float(ds.vaf):.3f}"
    )

    # 3. comparison with the reference (or truth), at our rank
    if ref_name == "planted truth":  # the truth in the envelope's per-muscle units
        reference = reference / ds.envelope_scale.values[:, None]
    a, b = (
        (ds, reference)
        if reference.shape[1] >= ds.sizes["synergy"]
        else (
            reference,
            ds,
        )
    )
    m = nm.synergies.match(a, b, n_shuffles=1000)
    print(
        f"matched cosine to the {ref_name}: {np.round(m.similarity.values, 3)} "
        f"(chance level {m.attrs['chance']:.2f})"
    )

    # 4. refit: activations of some cycles with the synergies held fixed
    first = env.where(env.cycle < env.attrs["n_cycles"] // 2, drop=True)
    again = nm.synergies.refit(first, ds)
    print(f"refit of the first cycles on fixed synergies: VAF {float(again.vaf):.3f}")

    # 5. group synergy sets (people, or blocks of cycles) into common synergies
    if trial is not None:
        sets, labels = people_sets()
    else:
        blocks = [env.where(env.cycle % 3 == b, drop=True) for b in range(3)]
        sets = [nm.synergies.extract(e, rank=4, n_restarts=3) for e in blocks]
        labels = [f"cycles {b}, {b + 3}, ..." for b in range(3)]
    g = nm.synergies.group(sets, labels=labels)
    print(
        f"{g.sizes['synergy']} common synergies over {len(sets)} sets: "
        f"members {g.n_members.values.tolist()}, "
        f"consistency {np.round(g.consistency.values, 3).tolist()}"
    )

    figs = {
        "synergies.png": plot_synergies(ds),
        "activations.png": plot_activations(ds),
        "rank.png": plot_rank_curve(ds),
        "similarity.png": plot_similarity(m),
    }
    for name, fig in figs.items():
        fig.savefig(args.out / name, dpi=100)
        plt.close(fig)
    print(f"results in {args.out}")


if __name__ == "__main__":
    main()
