"""Decode behaviour from NMF activations without leakage.

Default (fast, simulated): Poisson counts whose assemblies drive a behavioural
variable; decode it from NMF activations and from raw counts with the same GLM,
with a circularly shifted null, and save results and figures.

``--real``: the hc_linear_track recording (31 tetrode units, position at 60 Hz;
found through NEURONMF_DATA_DIR, default /work/shared/data): decode position
during running (speed > 5 cm/s equivalent in pixels, see below) from NMF
activations and raw binned counts. This made the table in docs/decoding.md:

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
from scipy.ndimage import uniform_filter1d

import neuronmf as nm


def load_hc_linear_track(bin_width: float = 0.1):
    """(counts (time, neuron), position x during running with NaN elsewhere)."""
    root = Path(os.environ.get("NEURONMF_DATA_DIR", "/work/shared/data"))
    d = np.load(root / "hc_linear_track" / "spikes_flat_and_position.npz")
    spikes = [d["spike_times"][d["spike_unit"] == u] for u in range(31)]
    tp, x = d["position_t"], d["position_x"].astype(float)
    start, stop = max(tp[0], min(s.min() for s in spikes)), tp[-1]
    counts = nm.assemblies.bin_spikes(spikes, bin_width, start=start, stop=stop)
    t = counts.time.values
    xb = np.interp(t, tp, x)
    # Speed from position smoothed over ~0.5 s, in pixels per second.
    k = max(1, round(0.5 / bin_width))
    xs = uniform_filter1d(xb, k, mode="nearest")
    speed = np.abs(np.gradient(xs, bin_width))
    running = speed > 15.0
    # The recording is a run session then a rest session: keep the run session
    # (up to the last running bin) so that every test block has running bins.
    last = int(np.flatnonzero(running)[-1]) + 1
    counts, t, xb, running = (
        counts.isel(time=slice(0, last)),
        t[:last],
        xb[:last],
        running[:last],
    )
    y = xr.DataArray(
        np.where(running, xb, np.nan),
        dims=("time",),
        coords={"time": t},
        name="position_x",
    )
    return counts, y, float(running.mean())


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
        X, y, frac = load_hc_linear_track()
        print(
            f"hc_linear_track: {X.sizes['time']} bins × {X.sizes['neuron']} units, "
            f"running {100 * frac:.0f} % of bins"
        )
        kw = dict(cv=5, inner_cv=3, lags=2, n_null=10, seed=0, progress=True)
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
        res.to_dataset().to_netcdf(args.out / f"decoding_{features}.nc")
        plot_predictions(res).savefig(args.out / f"predictions_{features}.png", dpi=100)
    plot_rank_scores(rows[0][1]).savefig(args.out / "rank_scores.png", dpi=100)
    print(f"results and figures in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
