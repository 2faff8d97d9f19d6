"""``neuronmf rank INPUT``: how many components? Every rank criterion side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLE = """examples:
  neuronmf rank ID0001_TW_01_V.csv --rate 200 --method curvefit --ranks 1-10
  neuronmf rank session.nwb --kind activity --series units --bin-width 0.05 \\
      --loss kl --method cv --repeats 5 --out rank-scan
  neuronmf rank counts.nc --criteria all --jobs 2

The input is read with neuronmf.io (load_emg for --kind emg, load_activity for
--kind activity and for NetCDF: a (time, ...) DataArray, or the Dataset's only
2-D variable with a time dim, or --series NAME) and must be non-negative:
for raw EMG use `neuronmf synergies`, which computes the envelope first."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "rank",
        help="choose the number of components: cross-validation and classic criteria",
        description="Fit NMF at each rank and report the rank every criterion picks "
        "(cv, bicv, vaf, curvefit, aic, bic, consensus, stability); writes scores "
        "(NetCDF), a figure and a summary into the output folder.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", type=Path, help="CSV/NWB/HDF5/NetCDF/npz input")
    p.add_argument(
        "--kind",
        choices=("emg", "activity"),
        default="emg",
        help="emg: (time, channel) via load_emg; activity: (time, neuron) via "
        "load_activity (default emg); NetCDF input always via load_activity",
    )
    p.add_argument("--series", default=None, help="series inside the file")
    p.add_argument("--bin-width", type=float, default=None, help="spike bin (s)")
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="sampling rate (Hz) of a table without a time column",
    )
    p.add_argument("--ranks", default="1-10", help="e.g. 1-10 or 2,3,4 (default 1-10)")
    p.add_argument("--method", default="cv", help="criterion that decides (cv)")
    p.add_argument(
        "--criteria", default=None, help="extra criteria, comma separated, or 'all'"
    )
    p.add_argument("--loss", choices=("frobenius", "kl"), default="frobenius")
    p.add_argument("--repeats", type=int, default=5, help="repeats per rank (5)")
    p.add_argument("--holdout", type=float, default=0.1, help="CV fraction (0.1)")
    p.add_argument("--block", type=int, default=1, help="hold-out run length (1)")
    p.add_argument("--jobs", type=int, default=1, help="ranks in parallel (1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("neuronmf-rank"))
    p.set_defaults(func=run)


def parse_ranks(text: str) -> list[int]:
    """``"1-10"`` or ``"2,3,5"`` → list of ints.

    Examples
    --------
    >>> parse_ranks("1-4"), parse_ranks("2,5")
    ([1, 2, 3, 4], [2, 5])
    """
    from neuronmf.errors import input_error

    try:
        if "-" in text:
            low, high = (int(x) for x in text.split("-", 1))
            return list(range(low, high + 1))
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise input_error("--ranks", "like 1-10 or 2,3,4", repr(text)) from None


def read_input(
    path: Path, kind: str, series: str | None, bin_width: float | None, rate=None
):
    """The data as a DataArray with a ``time`` dim: io's ``load_emg`` (--kind emg)
    or ``load_activity`` (--kind activity, and every NetCDF file)."""
    import neuronmf.io as nio
    from neuronmf.cli._common import check_input, series_or_variable
    from neuronmf.io._formats import NETCDF_SUFFIXES

    path = check_input(path)
    source = series_or_variable(path, series)
    if kind == "emg" and path.suffix.lower() not in NETCDF_SUFFIXES:
        return nio.load_emg(path, **source, rate=rate)
    return nio.load_activity(path, **source, bin_width=bin_width, rate=rate)


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import warnings

    import neuronmf as nm
    from neuronmf.io import save_netcdf

    data = read_input(args.input, args.kind, args.series, args.bin_width, args.rate)
    criteria = args.criteria
    if criteria and criteria != "all":
        criteria = [c.strip() for c in criteria.split(",") if c.strip()]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scan = _select_rank(nm, data, args, criteria)
    keys = ("ceiling of the scan", "undefined above")  # vaf ceiling; bicv too big
    notes = [str(w.message) for w in caught if any(k in str(w.message) for k in keys)]
    for w in caught:  # shown as before
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    args.out.mkdir(parents=True, exist_ok=True)
    scores = scan.scores.assign_attrs(input_file=str(args.input))
    save_netcdf(scores, args.out / "rank_scan.nc")
    from neuronmf.cli._common import save_figure  # atomic; closes the figure

    save_figure(scan.plot(), args.out / "rank_scan.png")
    ceiling = (
        " — the top of the scan, not a choice (see note)"
        if any(f"rule '{scan.method}'" in n for n in notes)
        else ""
    )
    lines = [
        f"input: {args.input} ({dict(data.sizes)})",
        f"best rank: {scan.best_rank}{ceiling} ({scan.method}: {scan.rule})",
        "rank by criterion: "
        + ", ".join(f"{k}={v}" for k, v in scan.choices.items())
        + _at_least_two(scan.choices),
        *score_lines(scan.scores, args.loss),
        *(f"note: {n}" for n in notes),
    ]
    from neuronmf.cli._common import write_summary  # unique temp: no race

    write_summary(args.out, lines)
    print("\n".join(lines))
    print(f"results in {args.out}")
    return 0


def _at_least_two(choices) -> str:
    """Why consensus/stability never say 1: they are undefined at rank 1."""
    named = [k for k in ("consensus", "stability") if k in choices]
    if not named:
        return ""
    return (
        f" ({' and '.join(named)} choose{'s' if len(named) == 1 else ''} among "
        "ranks >= 2 only: undefined at rank 1, so never a sign of structure by itself)"
    )


def _select_rank(nm, data, args, criteria):
    return nm.select_rank(
        data,
        parse_ranks(args.ranks),
        method=args.method,
        criteria=criteria,
        loss=args.loss,
        n_repeats=args.repeats,
        holdout=args.holdout,
        block=args.block,
        seed=args.seed,
        n_jobs=args.jobs,
        progress=True,
    )


def score_lines(scores, loss: str) -> list[str]:
    """The held-out scores by rank, named by what they are (mean ± SE over repeats).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"cv_mean": ("rank", [0.5, 0.4]),
    ...                  "cv_se": ("rank", [0.01, 0.02])}, coords={"rank": [1, 2]})
    >>> print(score_lines(ds, "kl")[0].replace("by rank: ", "by rank:\\n"))
    cv score (held-out Poisson deviance per entry, mean ± SE) by rank:
    1: 0.5 ± 0.01, 2: 0.4 ± 0.02
    """
    from neuronmf.engine.losses import get as loss_spec

    unit = f"held-out {loss_spec(loss).score_name} per entry"
    lines = []
    for name in ("cv", "bicv"):
        if f"{name}_mean" not in scores:
            continue
        pairs = ", ".join(
            f"{int(r)}: {m:.4g} ± {e:.2g}"
            for r, m, e in zip(
                scores["rank"].values,
                scores[f"{name}_mean"].values,
                scores[f"{name}_se"].values,
                strict=True,
            )
        )
        lines.append(f"{name} score ({unit}, mean ± SE) by rank: {pairs}")
    return lines
