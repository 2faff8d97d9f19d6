"""``neuronmf decode INPUT --behavior NAME``: decode behaviour without leakage."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLE = """examples:
  neuronmf decode session.nwb --bin-width 0.025 --behavior behavior --out dec
      (NWB Units binned at 25 ms; the behaviour series from the same file,
       resampled onto the bins by linear interpolation, never extrapolated)
  neuronmf decode spikes.npz --bin-width 0.05 --behavior-file pos.npz \\
      --behavior position --axis x --out dec
  neuronmf decode session.nc --behavior speed --model poisson --features raw
      (NetCDF Dataset with a (time, neuron) activity variable and a (time,) one)
Writes dec/decoding.nc (NetCDF), dec/decoding.nwb (processing module
"decoding": predicted and observed behaviour as TimeSeries, per-fold and null
scores as tables; read back with neuronmf.io.load_result), dec/predictions.png,
dec/rank_scores.png (NMF features) and dec/summary.txt.
Decoding measures correlation between activity and behaviour, not causation."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "decode",
        help="decode a behavioural variable from NMF activations (nested CV, null)",
        description="Nested, leakage-free decoding with a circularly shifted null. "
        "Decoding measures correlation, not causation.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "input",
        type=Path,
        help="activity: NWB, NPZ, HDF5, .npy, CSV/TSV or NetCDF (.nc)",
    )
    p.add_argument(
        "--behavior",
        required=True,
        help="behaviour series (NWB name/path, NPZ group, NetCDF variable)",
    )
    p.add_argument(
        "--behavior-file",
        type=Path,
        default=None,
        help="file holding the behaviour (default: INPUT)",
    )
    p.add_argument(
        "--axis", default=None, help="component of a multi-axis behaviour (e.g. x)"
    )
    p.add_argument(
        "--series", default=None, help="activity series/table, or array/variable name"
    )
    p.add_argument("--activity", default=None, help=argparse.SUPPRESS)
    p.add_argument("--bin-width", type=float, default=None, help="bin width (s)")
    p.add_argument(
        "--rate", type=float, default=None, help="sampling rate (Hz) of array input"
    )
    p.add_argument(
        "--model",
        default="gaussian",
        choices=["gaussian", "poisson", "bernoulli", "multinomial"],
    )
    p.add_argument("--features", default="nmf", choices=["nmf", "raw"])
    p.add_argument("--rank", default="auto", help="NMF rank or 'auto'")
    p.add_argument("--max-rank", type=int, default=15)
    p.add_argument("--lags", type=int, default=0)
    p.add_argument("--cv", type=int, default=5)
    p.add_argument("--null", type=int, default=20, help="shifted-null repetitions")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--n-jobs", type=int, default=1, help="NMF fits in parallel (-1: every core)"
    )
    p.add_argument("--out", type=Path, default=Path("neuronmf-decode"))
    p.set_defaults(func=run)


def _behavior(args, activity_path: Path):
    """The behaviour DataArray (time,) named by ``--behavior``."""
    import xarray as xr

    import neuronmf.io as nio
    from neuronmf.cli._common import NETCDF_SUFFIXES, check_input
    from neuronmf.errors import input_error

    path = check_input(args.behavior_file or activity_path, "--behavior-file")
    if path.suffix.lower() in NETCDF_SUFFIXES:
        obj = nio.load_result(path)
        if isinstance(obj, xr.DataArray):
            obj = obj.to_dataset(name=obj.name or "data")
        if args.behavior not in obj:
            raise input_error(
                f"--behavior in {path}", f"one of {list(obj.data_vars)}", args.behavior
            )
        beh = obj[args.behavior]
    else:
        beh = nio.load_behavior(path, series=args.behavior)
    if beh.ndim == 2:
        other = next(d for d in beh.dims if d != "time")
        names = [str(v) for v in beh[other].values] if other in beh.coords else []
        if args.axis is None:
            raise input_error(
                "--axis",
                f"given for the multi-component behaviour '{args.behavior}'",
                None,
                f"Choose one of {names}.",
            )
        if args.axis not in names:
            raise input_error("--axis", f"one of {names}", args.axis)
        beh = beh.isel({other: names.index(args.axis)}, drop=True)
    return beh.rename(args.behavior)


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import neuronmf as nm
    from neuronmf.cli._common import (
        load_activity,
        parse_rank,
        save_figure,
        write_results,
        write_summary,
    )
    from neuronmf.plotting.decoding import plot_predictions, plot_rank_scores

    rank = parse_rank(args.rank)
    X = load_activity(
        args.input,
        series=args.series or args.activity,
        bin_width=args.bin_width,
        rate=args.rate,
    )
    y = _behavior(args, args.input)
    res = nm.decoding.decode(
        X,
        y,
        model=args.model,
        features=args.features,
        rank=rank,
        ranks=range(1, args.max_rank + 1),
        lags=args.lags,
        cv=args.cv,
        n_null=args.null,
        seed=args.seed,
        n_jobs=args.n_jobs,
        progress=True,
    )
    out = res.to_dataset()
    out.attrs["input_file"] = str(args.input)
    out.attrs["behavior_name"] = str(args.behavior)
    # decoding.nc and decoding.nwb (nm.io.save_nwb, replacing an earlier run's file)
    files = write_results(out, args.out, "decoding", source=args.input)
    figs = [save_figure(plot_predictions(res), args.out / "predictions.png")]
    if args.features == "nmf":
        figs.append(save_figure(plot_rank_scores(res), args.out / "rank_scores.png"))
    null = (
        f"{float(res.null_scores.mean()):.3f} +/- {float(res.null_scores.std()):.3f} "
        f"({res.null_scores.size} circular shifts), p = {res.p_value:.3g}"
        if res.null_scores.size
        else "not computed (--null 0)"
    )
    lines = [
        "neuronmf decode",
        f"input: {args.input} ({X.sizes['time']} bins x {X.sizes['neuron']} neurons); "
        f"behaviour '{args.behavior}' from {args.behavior_file or args.input}",
        f"model: {res.model}; features: {res.features}; rank: {res.rank}",
        f"{res.metric}: {res.score:.3f} (mean of {res.scores.size} blocked folds: "
        + ", ".join(f"{v:.3f}" for v in res.scores.values)
        + ")",
        f"null: {null}",
        "decoding measures correlation between activity and behaviour, not causation",
        "files: " + ", ".join(p.name for p in [*files, *figs]),
    ]
    write_summary(args.out, lines)
    print(repr(res))
    print(f"results in {args.out} (decoding is correlation, not causation)")
    return 0
