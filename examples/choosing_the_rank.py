"""Choose the number of components: every criterion side by side, with a figure.

Simulated muscle-activity envelopes (12 muscles, 4 planted synergies): held-out
squared error in runs along time (the default "cv" method, ``block=`` for
autocorrelated data), bi-cross-validation, stability with bootstrap intervals of
the parts, and the classical criteria (VAF, curve fit, AIC/BIC).

Run: python examples/choosing_the_rank.py [--out FOLDER]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import xarray as xr

import neuronmf as nm
from neuronmf.datasets import simulate_synergy_envelopes


def main(out: Path) -> None:
    V, _, _ = simulate_synergy_envelopes(
        n_muscles=12, n_synergies=4, n_cycles=10, points_per_cycle=100, seed=0
    )
    envelopes = xr.DataArray(
        V.T, dims=("time", "muscle"), coords={"muscle": [f"m{i}" for i in range(12)]}
    )
    scan = nm.select_rank(
        envelopes,
        ranks=range(1, 8),
        method="cv",
        block=10,
        criteria=["bicv", "stability"],
        n_repeats=3,
        seed=0,
        max_iter=200,
    )
    print(scan)
    print("rule:", scan.rule)
    out.mkdir(parents=True, exist_ok=True)
    scan.plot().savefig(out / "rank_scan.png", dpi=100)
    scan.plot_intervals(scan.best_rank).savefig(out / "rank_intervals.png", dpi=100)
    nm.io.save_netcdf(scan.scores, out / "rank_scan.nc")
    print("wrote", out / "rank_scan.png", "and", out / "rank_scan.nc")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("rank-example"))
    main(parser.parse_args().out)
