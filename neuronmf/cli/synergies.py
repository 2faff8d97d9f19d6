"""``neuronmf synergies INPUT``: muscle synergies from an EMG recording."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLE = """examples:
  neuronmf synergies trial.csv --out syn                  # raw EMG, time column in s
  neuronmf synergies trial.nwb --cycles events.csv --rank auto --criterion vaf
  neuronmf synergies envelope.csv --envelope --rank 5     # already an envelope

--cycles takes a CSV whose first column holds touchdown times in seconds (an
optional second column holds lift-offs), e.g. touchdown_s,liftoff_s."""

CRITERIA = ("curvefit", "vaf", "cv", "aic", "bic")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "synergies",
        help="extract muscle synergies from EMG (envelope, NMF, rank choice)",
        description="Compute the EMG envelope, factorise it into muscle synergies "
        "and activations, and write NetCDF, figures and a summary into --out.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", type=Path, help="EMG as CSV/TSV, NWB or HDF5")
    p.add_argument("--rank", default="auto", help="number of synergies or 'auto'")
    p.add_argument(
        "--criterion",
        default="curvefit",
        choices=CRITERIA,
        help="rank rule for --rank auto (default curvefit)",
    )
    p.add_argument("--max-rank", type=int, default=10, help="largest rank scanned")
    p.add_argument("--cycles", type=Path, help="CSV of gait events (touchdown [s])")
    p.add_argument(
        "--points-per-cycle", type=int, default=200, help="samples per cycle"
    )
    p.add_argument(
        "--band",
        type=float,
        nargs=2,
        default=(20.0, 450.0),
        metavar=("LOW", "HIGH"),
        help="band-pass in Hz (default 20 450)",
    )
    p.add_argument("--lowpass", type=float, default=6.0, help="envelope cut-off Hz")
    p.add_argument(
        "--normalize",
        default="max",
        choices=("max", "unit_variance", "none"),
        help="amplitude normalisation per muscle",
    )
    p.add_argument(
        "--envelope",
        action="store_true",
        help="INPUT is already an envelope: skip band-pass, rectification, low-pass",
    )
    p.add_argument(
        "--rate",
        type=float,
        help="sampling rate in Hz, if not in file (checked against its times)",
    )
    p.add_argument(
        "--series", help="NWB/HDF5 series, NPZ array or MATLAB variable to read"
    )
    p.add_argument(
        "--time-column",
        help="CSV/TSV: the time column (default: 'time', 't', 'time_ms', ...)",
    )
    p.add_argument(
        "--time-unit",
        choices=("s", "ms", "us"),
        help="CSV/TSV: unit of the time column (default: from its name, else s, "
        "with a warning when s gives an implausible rate)",
    )
    p.add_argument(
        "--channels",
        nargs="+",
        action="extend",
        metavar="NAME",
        help="use only these channels (names, space- or comma-separated)",
    )
    p.add_argument(
        "--exclude",
        nargs="+",
        action="extend",
        metavar="NAME",
        help="drop these channels/columns, e.g. --exclude class trigger",
    )
    p.add_argument(
        "--resample",
        action="store_true",
        help="put timestamps with gaps on a regular grid (gaps of up to 5 samples "
        "interpolated, longer ones NaN and masked); without it they are refused",
    )
    p.add_argument("--restarts", type=int, default=10, help="NMF restarts (10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("neuronmf-synergies"))
    p.set_defaults(func=run)


_LOAD_FLAGS = {
    "time_column": "--time-column",
    "time_unit": "--time-unit",
    "channels": "--channels",
    "exclude": "--exclude",
    "series": "--series",
    "rate": "--rate",
    "resample": "--resample",
}


def _as_flags(message: str) -> str:
    """Name the command-line flags, not load_emg's keywords, in a message."""
    from neuronmf.cli._common import name_flags

    return name_flags(message, _LOAD_FLAGS)


def _split_names(values):
    if not values:
        return None
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


def _load(args):
    """load_emg with the command's options; errors and warnings name the flags."""
    import warnings

    from neuronmf.cli._common import series_or_variable
    from neuronmf.errors import InputError
    from neuronmf.io import load_emg

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw = load_emg(
                args.input,
                **series_or_variable(args.input, args.series),
                channels=_split_names(args.channels),
                exclude=_split_names(args.exclude),
                time_column=args.time_column,
                time_unit=args.time_unit,
                rate=args.rate,
                resample=args.resample,
            )
        except InputError as exc:
            _warn(caught)
            raise InputError(_as_flags(str(exc))) from None
    return raw, _warn(caught)


def _warn(caught) -> list[str]:
    import sys

    notes = [_as_flags(str(w.message)) for w in caught]
    for text in notes:
        print(f"neuronmf synergies: warning: {text}", file=sys.stderr, flush=True)
    return notes


def _loading(raw) -> str:
    """One line on how the input was read (rate, unit, resampling, exclusions)."""
    a = raw.attrs
    parts = [f"{raw.sizes['channel']} channels, {raw.sizes['time']} samples"]
    if "rate" in a:
        parts.append(f"{a['rate']:g} Hz")
    t = raw["time"].values
    if t.size:
        parts.append(f"time {float(t[0]):g}-{float(t[-1]):g} s")
    if a.get("time_unit"):
        parts.append(f"time column in {a['time_unit']}")
    if a.get("resampled"):
        parts.append(
            f"resampled over {a['n_gaps']} gaps ({a['n_interpolated']} samples "
            f"interpolated, {a['n_masked']} NaN)"
        )
    if a.get("excluded"):
        parts.append(f"left out: {a['excluded']}")
    return "loaded: " + ", ".join(parts)


def _drop_empty_samples(env, args):
    """Leave out samples where every muscle is NaN (long gaps after --resample).

    The fit masks single NaN entries but needs each sample observed somewhere.
    """
    import numpy as np

    empty = np.isnan(env.values).all(axis=1)
    if not empty.any():
        return env
    args.loaded += (
        f"\n{int(empty.sum())} samples with every muscle missing (long gaps) "
        "left out of the fit"
    )
    return env.isel(time=np.flatnonzero(~empty))


def _read_cycles(path: Path):
    """Gait events for ``--cycles``: (n, 1) touchdowns or (n, 2) touchdown,
    lift-off (the first two columns read by :func:`neuronmf.io.load_events`)."""
    import neuronmf.io as nio
    from neuronmf.cli._common import check_input
    from neuronmf.errors import InputError

    path = check_input(path, "--cycles")
    try:
        events = nio.load_events(path)
    except InputError as exc:
        raise InputError(f"--cycles: {exc}") from None
    return events.values[:, :2]


def _choices_text(choices) -> str:
    """``curvefit=3, vaf=3`` from the rank choices (a dict, JSON or ``k=v`` text).

    Examples
    --------
    >>> _choices_text('{"curvefit": 3, "vaf": 4}'), _choices_text(None)
    ('curvefit=3, vaf=4', 'n/a')
    """
    import json

    if isinstance(choices, str) and choices.lstrip().startswith("{"):
        choices = json.loads(choices)
    if isinstance(choices, dict):
        choices = ", ".join(f"{k}={v}" for k, v in choices.items())
    return str(choices) if choices else "n/a"


def _summary(ds, env, args) -> str:
    import numpy as np

    W = ds["synergies"]
    notes = getattr(args, "ceiling", [])
    chosen = args.rank == "auto" and any(f"'{args.criterion}'" in n for n in notes)
    top = " — the top of the scan, not a choice (see note)" if chosen else ""
    lines = [
        f"input: {args.input}",
        *([args.loaded] if getattr(args, "loaded", None) else []),
        f"envelope: band {env.attrs.get('band_hz')} Hz, low-pass "
        f"{env.attrs.get('lowpass_hz')} Hz, normalize {env.attrs.get('normalize')}, "
        f"{env.sizes['channel']} muscles, {env.sizes['time']} samples"
        + (
            f", {env.attrs['n_cycles']} cycles x {env.attrs['points_per_cycle']} points"
            if env.attrs.get("time_normalized")
            else ""
        ),
        f"synergies: {ds.attrs['rank']}{top} (rule: {ds.attrs['rank_rule']})",
        f"rank choices: {_choices_text(ds.attrs.get('rank_choices'))}",
        *(f"note: {n}" for n in notes),
        f"VAF {float(ds.vaf):.4f}, R² {float(ds.r2):.4f}, lowest muscle VAF "
        f"{float(ds.vaf_muscle.min()):.3f} "
        f"({ds.muscle.values[int(np.argmin(ds.vaf_muscle.values))]})",
    ]
    if "scan_vaf" in ds:
        lines.append("rank  VAF     R²")
        for r, v, q in zip(
            ds["rank"].values, ds.scan_vaf.values, ds.scan_r2.values, strict=True
        ):
            lines.append(f"{int(r):4d}  {v:.4f}  {q:.4f}")
    for j in range(W.sizes["synergy"]):
        w = W.isel(synergy=j).values
        top = np.argsort(-w)[:3]
        names = ", ".join(f"{W.muscle.values[i]} {w[i]:.2f}" for i in top)
        lines.append(f"synergy {j}: {names}")
    return "\n".join(lines) + "\n"


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")

    import neuronmf as nm
    from neuronmf.errors import input_error
    from neuronmf.plotting.synergies import (
        plot_activations,
        plot_rank_curve,
        plot_synergies,
    )

    rank = args.rank
    if rank != "auto":
        try:
            rank = int(rank)
        except ValueError:
            raise input_error("--rank", "an integer or 'auto'", rank) from None
    from neuronmf.cli._common import (
        check_input,
        save_figure,
        write_results,
        write_summary,
    )

    check_input(args.input)  # exists and is readable
    print(f"reading {args.input}", flush=True)
    raw, notes = _load(args)
    args.loaded = "\n".join([_loading(raw), *(f"warning: {n}" for n in notes)])
    print(args.loaded.split("\n")[0], flush=True)
    cycles = _read_cycles(args.cycles) if args.cycles else None
    print("computing the envelope", flush=True)
    env = nm.synergies.envelope(
        raw,
        band=None if args.envelope else tuple(args.band),
        lowpass=None if args.envelope else args.lowpass,
        normalize=None if args.normalize == "none" else args.normalize,
        cycles=cycles,
        points_per_cycle=args.points_per_cycle,
    )
    env = _drop_empty_samples(env, args)
    print("extracting synergies", flush=True)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = nm.synergies.extract(
            env,
            rank=rank,
            criterion=args.criterion,
            ranks=range(1, args.max_rank + 1),
            n_restarts=args.restarts,
            seed=args.seed,
            progress=True,
        )
    # a rule that stopped at the top of the scan made no choice: said in the summary
    once = list({str(w.message): w for w in caught}.values())  # each message once
    args.ceiling = [n for n in _warn(once) if "ceiling of the scan" in n]
    ds.attrs["input_file"] = str(args.input)
    if args.cycles:
        ds.attrs["cycles_file"] = str(args.cycles)
    # Like every command: a re-run replaces its own result in --out (never adds
    # synergies_2, synergies_3 to it); a foreign file at that path was refused
    # before any work (cli._common.check_outputs).
    files = write_results(ds, args.out, "synergies", source=args.input)
    figures = {
        "synergies.png": plot_synergies(ds),
        "activations.png": plot_activations(ds),
    }
    if "scan_vaf" in ds:
        figures["rank.png"] = plot_rank_curve(ds)
    for name, fig in figures.items():
        save_figure(fig, args.out / name)  # atomic; closes the figure
    text = _summary(ds, env, args) + f"NWB: {files[-1]}\n"
    write_summary(args.out, [text.rstrip("\n")])  # unique temp: no torn summary
    print(text, end="")
    print(f"results in {args.out}")
    return 0
