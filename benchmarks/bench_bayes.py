"""Benchmark: Bayesian position decoding on hc_linear_track, neuronmf vs pynapple.

Real data (``$NEURONMF_DATA_DIR/hc_linear_track/spikes_flat_and_position.npz``):
31 units, LED x position (pixels) at 60 Hz. Spikes are binned (default 250 ms),
position is the x coordinate at each bin centre, and only running bins are kept
(speed of the 0.5-s smoothed x above ``--min-speed`` pixels/s). Folds are
contiguous blocks of the running bins (default 5); training bins are the running
bins farther than ``--gap`` seconds from the test block. Both decoders get the
same time bins, the same position bin edges (``--position-bins`` over the range
of the training positions), the same folds and a uniform prior, and both predict
the centre of the maximum a posteriori position bin.

- neuronmf: :class:`neuronmf.decoding.BayesianPositionDecoder` on the count
  matrix, at its defaults (tuning curves smoothed by 1 position bin, floor 1 % of
  each unit's mean rate), and with pynapple's settings (no smoothing, floor
  1e-12 Hz) as a check that the two compute the same thing.
- pynapple (benchmark venv only, never a dependency of neuronmf):
  ``compute_1d_tuning_curves`` on the training epochs (spike times and the 60-Hz
  position), then ``decode_1d`` on the test epochs (it bins the spikes itself).

Run it in the benchmark environment::

    python -m venv /work/benchenv
    /work/benchenv/bin/pip install pynapple -e /work/main
    NEURONMF_DATA_DIR=/work/shared/data /work/benchenv/bin/python \\
        benchmarks/bench_bayes.py --repeats 7

Prints a table (pooled median position error in pixels, mean R² over folds,
median fit+predict time over repeats) and appends a JSON line to
``benchmarks/results/bench_bayes.jsonl``. Without pynapple only neuronmf runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import r2_score

import neuronmf
from neuronmf.decoding import BayesianPositionDecoder, median_position_error

HERE = Path(__file__).resolve().parent


def load(data_dir: Path, bin_width: float, min_speed: float):
    d = np.load(data_dir / "hc_linear_track" / "spikes_flat_and_position.npz")
    st, su = d["spike_times"], d["spike_unit"]
    pt, px = d["position_t"], d["position_x"].astype(float)
    n_units = int(su.max()) + 1
    t0, t1 = max(pt[0], st.min()), min(pt[-1], st.max())
    edges = t0 + bin_width * np.arange(int((t1 - t0) / bin_width) + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    n_bins = centres.size
    inside = (st >= edges[0]) & (st < edges[-1])
    b = np.minimum(((st[inside] - edges[0]) / bin_width).astype(int), n_bins - 1)
    counts = np.bincount(b * n_units + su[inside], minlength=n_bins * n_units).reshape(
        n_bins, n_units
    )
    x = np.interp(centres, pt, px)
    k = max(1, round(0.5 / bin_width))  # 0.5-s moving average before the slope
    xs = np.convolve(
        np.pad(x, (k // 2, k - 1 - k // 2), mode="edge"), np.ones(k) / k, "valid"
    )
    speed = np.abs(np.gradient(xs, bin_width))
    running = speed > min_speed
    return dict(
        counts=counts.astype(float),
        x=x,
        edges=edges,
        running=running,
        spike_times=st,
        spike_unit=su,
        pos_t=pt,
        pos_x=px,
        n_units=n_units,
    )


def folds_over(idx: np.ndarray, n_folds: int, gap_bins: int):
    """Contiguous test blocks of the scored bins ``idx``; train = the rest of
    ``idx`` farther than ``gap_bins`` from the block."""
    out = []
    for block in np.array_split(idx, n_folds):
        lo, hi = block[0] - gap_bins, block[-1] + gap_bins
        train = idx[(idx < lo) | (idx > hi)]
        out.append((train, block))
    return out


def runs_to_intervals(bins: np.ndarray, edges: np.ndarray):
    """Start/end times of the runs of consecutive time-bin indices."""
    brk = np.flatnonzero(np.diff(bins) > 1)
    first = np.r_[bins[0], bins[brk + 1]]
    last = np.r_[bins[brk], bins[-1]]
    return edges[first], edges[last + 1]


def run_neuronmf(data, train, test, n_pos, bin_width, **kw):
    dec = BayesianPositionDecoder(bin_width=bin_width, n_position_bins=n_pos, **kw)
    dec.fit(data["counts"][train], data["x"][train])
    return dec.predict(data["counts"][test])


def run_pynapple(nap, data, train, test, n_pos, bin_width, occupancy):
    """pynapple's own pipeline on the same epochs; returns (pred, time-bin index).

    Spike positions and occupancy come from the 60-Hz position (the usual
    pynapple pipeline); test spikes are counted by pynapple in the same bins.
    """
    edges = data["edges"]
    group = data["group"]
    feature = data["feature"]
    s, e = runs_to_intervals(train, edges)
    train_ep = nap.IntervalSet(start=s, end=e)
    s, e = runs_to_intervals(test, edges)
    test_ep = nap.IntervalSet(start=s, end=e)
    xtr = data["x"][train]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        tc = nap.compute_1d_tuning_curves(
            group, feature, n_pos, ep=train_ep, minmax=(xtr.min(), xtr.max())
        )
        decoded, _ = nap.decode_1d(
            tc,
            group,
            test_ep,
            bin_size=bin_width,
            feature=feature.restrict(train_ep) if occupancy else None,
        )
    t = decoded.index.values
    b = np.searchsorted(edges, t) - 1  # time bin of each decoded bin centre
    return decoded.values, b


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin-width", type=float, default=0.25, help="s (default 0.25)")
    p.add_argument(
        "--min-speed", type=float, default=20.0, help="pixels/s (default 20)"
    )
    p.add_argument("--position-bins", type=int, default=50, help="(default 50)")
    p.add_argument("--folds", type=int, default=5, help="(default 5)")
    p.add_argument("--gap", type=float, default=1.0, help="s (default 1.0)")
    p.add_argument("--repeats", type=int, default=5, help="timing runs (default 5)")
    p.add_argument("--no-pynapple", action="store_true")
    args = p.parse_args(argv)

    data_dir = Path(
        os.environ.get("NEURONMF_DATA_DIR", HERE.parent.parent / "shared/data")
    )
    t0 = time.perf_counter()
    data = load(data_dir, args.bin_width, args.min_speed)
    t_bin = time.perf_counter() - t0
    idx = np.flatnonzero(data["running"])
    folds = folds_over(idx, args.folds, round(args.gap / args.bin_width))
    x = data["x"]

    nap = None
    if not args.no_pynapple:
        try:
            import pynapple as nap
        except ImportError:
            print("pynapple not importable: neuronmf only")
    if nap is not None:
        data["group"] = nap.TsGroup(
            {
                u: nap.Ts(t=data["spike_times"][data["spike_unit"] == u])
                for u in range(data["n_units"])
            }
        )
        data["feature"] = nap.Tsd(t=data["pos_t"], d=data["pos_x"])

    def nm(**kw):
        return lambda tr, te: (
            run_neuronmf(data, tr, te, args.position_bins, args.bin_width, **kw),
            te,
        )

    def pn(occupancy):
        return lambda tr, te: run_pynapple(
            nap, data, tr, te, args.position_bins, args.bin_width, occupancy
        )

    same = dict(prior="uniform", smoothing=0.0, min_rate=1e-12)
    methods = {
        "neuronmf defaults (occupancy prior, MAP)": nm(),
        "neuronmf estimate='mean'": nm(estimate="mean"),
        "neuronmf prior='uniform'": nm(prior="uniform"),
        "neuronmf as pynapple (uniform, no smoothing)": nm(**same),
    }
    if nap is not None:
        methods["pynapple decode_1d (uniform prior)"] = pn(False)
        methods["pynapple decode_1d (occupancy prior)"] = pn(True)

    rows, preds_by = {}, {}
    for name, fn in methods.items():
        times, preds = [], None
        for _ in range(args.repeats):
            s = time.perf_counter()
            out = [fn(tr, te) for tr, te in folds]
            times.append(time.perf_counter() - s)
            preds = out
        r2s, errs_all, truth_all, n_scored = [], [], [], 0
        pooled = {}
        for (_, te), (pred, b) in zip(folds, preds, strict=True):
            keep = np.isin(b, te) & np.isfinite(pred)
            pb, tb = np.asarray(pred)[keep], b[keep]
            n_scored += tb.size
            r2s.append(r2_score(x[tb], pb) if np.ptp(x[tb]) > 0 else np.nan)
            errs_all.append(pb)
            truth_all.append(x[tb])
            pooled.update(zip(tb.tolist(), pb.tolist(), strict=True))
        preds_by[name] = pooled
        yp, yt = np.concatenate(errs_all), np.concatenate(truth_all)
        rows[name] = dict(
            median_error_px=median_position_error(yt, yp),
            fold_median_errors_px=[
                round(median_position_error(t, q), 2)
                for t, q in zip(truth_all, errs_all, strict=True)
            ],
            r2_mean=float(np.nanmean(r2s)),
            fold_r2=[round(float(r), 3) for r in r2s],
            n_scored=int(n_scored),
            time_s_median=float(np.median(times)),
            time_s_all=[round(t, 4) for t in times],
        )

    print(
        f"hc_linear_track: {data['n_units']} units, {args.bin_width * 1000:g}-ms bins, "
        f"{idx.size} running bins of {x.size} (speed > {args.min_speed:g} px/s), "
        f"{args.folds} contiguous folds, gap {args.gap:g} s, "
        f"{args.position_bins} position bins; binning {t_bin:.3f} s"
    )
    print(
        f"{'method':46s} {'median err px':>13s} {'mean R²':>8s} {'bins':>6s} "
        f"{'time s (median)':>15s}"
    )
    for name, r in rows.items():
        print(
            f"{name:46s} {r['median_error_px']:13.2f} {r['r2_mean']:8.3f} "
            f"{r['n_scored']:6d} {r['time_s_median']:15.4f}"
        )
    extra = {}
    pairs = {
        "defaults": (
            "neuronmf defaults (occupancy prior, MAP)",
            "pynapple decode_1d (uniform prior)",
        ),
        "occupancy_prior": (
            "neuronmf defaults (occupancy prior, MAP)",
            "pynapple decode_1d (occupancy prior)",
        ),
    }
    for key, (a_name, b_name) in pairs.items():
        if b_name not in rows:
            continue
        ra, rb = rows[a_name], rows[b_name]
        extra[f"error_ratio_{key}"] = ra["median_error_px"] / rb["median_error_px"]
        extra[f"time_ratio_{key}"] = ra["time_s_median"] / rb["time_s_median"]
        pa, pb = preds_by[a_name], preds_by[b_name]
        common = sorted(set(pa) & set(pb))
        extra[f"identical_fraction_{key}"] = float(
            np.mean([np.isclose(pa[i], pb[i]) for i in common])
        )
    for k, v in extra.items():
        print(f"{k}: {v:.3f}")
    for name, r in rows.items():
        print(
            f"{name}: fold R² {r['fold_r2']}, "
            f"fold median errors {r['fold_median_errors_px']}"
        )

    try:
        commit = subprocess.run(
            ["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    import scipy
    import sklearn

    record = dict(
        benchmark="bayes_hc_linear_track",
        args=vars(args),
        n_running_bins=int(idx.size),
        results=rows,
        **extra,
        versions=dict(
            python=platform.python_version(),
            numpy=np.__version__,
            scipy=scipy.__version__,
            sklearn=sklearn.__version__,
            neuronmf=getattr(neuronmf, "__version__", "?"),
            pynapple=getattr(nap, "__version__", None),
            commit=commit,
        ),
        machine=dict(cpus=os.cpu_count(), platform=platform.platform()),
    )
    out = HERE / "results" / "bench_bayes.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("a") as fh:
        fh.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
