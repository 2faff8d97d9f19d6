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
  neuronmf decode spikes_flat_and_position.npz --bin-width 0.05 \
      --behavior position --axis x --min-speed 15 --out dec
      (decode only while the animal moves at >= 15 position units per second;
       folds are blocks of the running bins, so no test block is all rest)
  neuronmf decode session.nwb --bin-width 0.05 --behavior position --axis x \
      --epochs running.csv --model bayes --features raw
      (only inside the start,stop epochs of running.csv; Bayesian decoder)
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
        "--min-speed",
        type=float,
        default=None,
        help="decode only bins where the behaviour moves at least this fast, in "
        "behaviour units per second (speed of all its axes, 0.5 s moving average; "
        "default: all bins)",
    )
    p.add_argument(
        "--epochs",
        type=Path,
        default=None,
        help="decode only inside these epochs: CSV/TSV or .npy of start,stop "
        "seconds (one row each), or an NWB file's interval table (default: all "
        "bins)",
    )
    p.add_argument(
        "--epochs-table",
        default=None,
        help="interval table of an NWB --epochs file (default: its only table)",
    )
    p.add_argument(
        "--model",
        default="gaussian",
        choices=["gaussian", "poisson", "bernoulli", "multinomial", "bayes"],
        help="GLM, or 'bayes' (Poisson naive-Bayes position decoder) "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--position-bins",
        type=int,
        default=None,
        help="--model bayes: number of position bins (default: the decoder's)",
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
    """The behaviour DataArray (time,) named by ``--behavior``.

    Read by :func:`neuronmf.io.load_behavior` (NWB, NPZ, MATLAB, CSV/TSV,
    NetCDF); its ``series=`` is ``--behavior`` in error messages.
    """
    import neuronmf.io as nio
    from neuronmf.cli._common import check_input, name_flags
    from neuronmf.errors import InputError, input_error

    path = check_input(args.behavior_file or activity_path, "--behavior-file")
    try:
        beh = nio.load_behavior(path, series=args.behavior)
    except InputError as exc:
        raise InputError(name_flags(str(exc), {"series": "--behavior"})) from None
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
        full = beh
        beh = beh.isel({other: names.index(args.axis)}, drop=True)
    else:
        full = beh
    return beh.rename(args.behavior), full


def _epochs(path: Path, table: str | None):
    """(n_epochs, 2) start/stop seconds read by :func:`neuronmf.io.load_intervals`
    (CSV/TSV, .npy, NWB interval table, NetCDF); errors name ``--epochs`` and
    ``--epochs-table``."""
    import neuronmf.io as nio
    from neuronmf.cli._common import check_input, name_flags
    from neuronmf.errors import InputError, input_error

    path = check_input(path, "--epochs")
    try:
        epochs = nio.load_intervals(path, table=table)
    except InputError as exc:
        flags = {"intervals": "--epochs", "table": "--epochs-table"}
        raise InputError(name_flags(str(exc), flags)) from None
    if epochs.sizes["interval"] == 0:
        raise input_error(
            "--epochs",
            "a file with at least one (start, stop) interval",
            f"none in '{path}'",
        )
    return epochs.values


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np

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
    y, y_full = _behavior(args, args.input)
    # The conditions go to decode as they are (each on its own time base);
    # decode puts them on the activity's bins and combines them with AND.
    where, texts = [], []
    if args.min_speed is not None:
        running = nm.decoding.min_speed(y_full, args.min_speed)
        where.append(running)
        texts.append(
            f"speed >= {args.min_speed:g} behaviour units/s "
            f"({100 * float(running.mean()):.0f} % of behaviour samples)"
        )
    if args.epochs is not None:
        epochs = _epochs(args.epochs, args.epochs_table)
        where.append(nm.decoding.in_epochs(X.time, epochs))
        texts.append(f"inside the epochs of {args.epochs}")
    where_text = " and ".join(texts) or "all bins"
    options = None
    if args.model == "bayes" and args.position_bins is not None:
        options = {"n_position_bins": args.position_bins}
    res = nm.decoding.decode(
        X,
        y,
        where=where or None,
        model_options=options,
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
    finite = int(np.isfinite(res.scores.values).sum())
    undefined = res.attrs.get("undefined_folds", "")
    lines = [
        "neuronmf decode",
        f"input: {args.input} ({X.sizes['time']} bins x {X.sizes['neuron']} neurons); "
        f"behaviour '{args.behavior}' from {args.behavior_file or args.input}",
        f"scored bins: {res.attrs['n_scored']} of {res.attrs['n_samples']} "
        f"({where_text})",
        f"model: {res.model}; features: {res.features}; rank: {res.rank}",
        f"{res.metric}: {res.score:.3f} (mean of {finite} of {res.scores.size} "
        "blocked folds: "
        + ", ".join(f"{v:.3f}" for v in res.scores.values)
        + (f"; fold(s) {undefined} undefined, left out" if undefined else "")
        + ")",
        f"null: {null}",
        *(
            [f"median position error: {res.median_error:.3g} (behaviour units)"]
            if res.model == "bayes"
            else []
        ),
        "decoding measures correlation between activity and behaviour, not causation",
        "files: " + ", ".join(p.name for p in [*files, *figs]),
    ]
    write_summary(args.out, lines)
    print(repr(res))
    print(f"results in {args.out} (decoding is correlation, not causation)")
    return 0
