"""Decode behaviour from NMF activations without leakage.

Default (fast, simulated): Poisson counts whose assemblies drive a behavioural
variable; decode it from NMF activations and from raw counts with the same GLM,
with a circularly shifted null, and save results and figures.

``--real``: the hc_linear_track recording (31 tetrode units, position at 60 Hz;
found through NEURONMF_DATA_DIR, default /work/shared/data): decode position
during running only (``where=nm.decoding.min_speed(position, 15.0)``: speed of
the 0.5 s-smoothed position >= 15 pixels/s) from NMF activations and raw binned
counts, over the whole session (run, then rest). This made the table in
docs/decoding.md:

    python examples/decoding.py --real --out results/hc

Decoding is correlation between activity and behaviour, not causation.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import xarray as xr

import neuronmf as nm
from neuronmf.io.activity import bin_spikes


def load_hc_linear_track(bin_width: float = 0.1, min_speed: float = 15.0):
    """(counts (time, neuron), position x (time), running mask (time))."""
    root = Path(os.environ.get("NEURONMF_DATA_DIR", "/work/shared/data"))
    d = np.load(root / "hc_linear_track" / "spikes_flat_and_position.npz")
    times, units = d["spike_times"], d["spike_unit"]
    tp = d["position_t"]
    start, stop = max(tp[0], times.min()), tp[-1]
    c, centres, labels = bin_spikes(
        times, units, bin_width, units=np.arange(31), t_start=start, t_stop=stop
    )
    counts = xr.DataArray(
        c, dims=("time", "neuron"), coords={"time": centres, "neuron": labels}
    )
    t = counts.time.values
    xy = xr.DataArray(
        np.c_[d["position_x"], d["position_y"]].astype(float),
        dims=("time", "axis"),
        coords={"time": tp, "axis": ["x", "y"]},
    )
    # Running: speed of the 0.5 s-smoothed 2-D position >= min_speed pixels/s,
    # on the 60 Hz position clock; decode() takes it onto the bins (nearest).
    running = nm.decoding.min_speed(xy, min_speed, smooth=0.5)
    y = xr.DataArray(
        np.interp(t, tp, d["position_x"].astype(float)),
        dims=("time",),
        coords={"time": t},
        name="position_x",
    )
    return counts, y, running


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("decoding-example"))
    parser.add_argument("--real", action="store_true", help="run on hc_linear_track")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    from neuronmf.plotting.decoding import plot_predictions, plot_rank_scores

    if args.real:
        X, y, running = load_hc_linear_track()
        print(
            f"hc_linear_track: {X.sizes['time']} bins × {X.sizes['neuron']} units, "
            f"running {100 * float(running.mean()):.0f} % of position samples"
        )
        kw = dict(
            cv=5, inner_cv=3, lags=2, n_null=10, seed=0, progress=True, where=running
        )
        ranks = range(1, 16)
    else:
        sim = nm.datasets.simulate_assemblies(
            n_neurons=30, n_assemblies=3, n_bins=1500, seed=0
        )
        X, y = sim.data, sim.behavior
        kw = dict(cv=5, inner_cv=2, lags=2, n_null=5, seed=0)
        ranks = range(2, 6)
    rows = []
    for features in ("nmf", "raw"):
        t0 = time.perf_counter()
        res = nm.decoding.decode(X, y, features=features, ranks=ranks, **kw)
        dt = time.perf_counter() - t0
        rows.append((features, res))
        print(
            f"{features:>4}: R² = {res.score:.3f} "
            f"(folds {np.round(res.scores.values, 3)}), "
            f"rank {res.rank}, null {float(res.null_scores.mean()):.3f} ± "
            f"{float(res.null_scores.std()):.3f}, p = {res.p_value:.3g}, {dt:.0f} s"
        )
        nm.io.save_netcdf(res.to_dataset(), args.out / f"decoding_{features}.nc")
        plot_predictions(res).savefig(args.out / f"predictions_{features}.png", dpi=100)
    plot_rank_scores(rows[0][1]).savefig(args.out / "rank_scores.png", dpi=100)
    # The field's standard for place cells: Poisson naive Bayes on the raw counts
    # (tuning curves fitted on the training folds only), R² and median error.
    t0 = time.perf_counter()
    bayes = nm.decoding.decode(
        X, y, model="bayes", features="raw", **{**kw, "lags": 0, "n_null": 0}
    )
    print(
        f"bayes: R² = {bayes.score:.3f} (folds {np.round(bayes.scores.values, 3)}), "
        f"median error {bayes.median_error:.3g} "
        f"({np.round(bayes.median_errors.values, 1)}), "
        f"{time.perf_counter() - t0:.0f} s"
    )
    print(f"results and figures in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
