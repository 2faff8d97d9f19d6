"""``neuronmf decode INPUT --behavior NAME``: decode behaviour without leakage."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLE = """examples:
  neuronmf decode session.nc --behavior position --out dec
      (NetCDF Dataset with a (time, neuron) activity variable and a (time,) behaviour)
  neuronmf decode session.nc --behavior choice --model bernoulli --features raw"""


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
        "input", type=Path, help="NetCDF Dataset (.nc) with activity + behaviour"
    )
    p.add_argument("--behavior", required=True, help="name of the behaviour variable")
    p.add_argument("--activity", default=None, help="name of the activity variable")
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
    p.add_argument("--out", type=Path, default=Path("neuronmf-decode"))
    p.set_defaults(func=run)


def run(args) -> int:
    import matplotlib
    import xarray as xr

    matplotlib.use("Agg")
    import neuronmf as nm
    from neuronmf.errors import input_error
    from neuronmf.plotting.decoding import plot_predictions, plot_rank_scores

    if not args.input.exists():
        raise input_error("INPUT", "an existing file", str(args.input))
    if args.input.suffix.lower() not in (".nc", ".netcdf"):
        raise input_error("INPUT", "a NetCDF Dataset (.nc)", str(args.input))
    ds = xr.load_dataset(args.input)
    if args.behavior not in ds:
        raise input_error(
            f"--behavior in {args.input}", f"one of {list(ds.data_vars)}", args.behavior
        )
    name = args.activity or next(
        (v for v in ds.data_vars if ds[v].ndim == 2 and "time" in ds[v].dims), None
    )
    if name is None or name not in ds:
        raise input_error(
            f"activity in {args.input}",
            "a 2-D variable with a time dim",
            str(list(ds.data_vars)),
        )
    rank = args.rank
    if rank != "auto":
        try:
            rank = int(rank)
        except ValueError:
            raise input_error("--rank", "an integer or 'auto'", rank) from None
    res = nm.decoding.decode(
        ds[name],
        ds[args.behavior],
        model=args.model,
        features=args.features,
        rank=rank,
        ranks=range(1, args.max_rank + 1),
        lags=args.lags,
        cv=args.cv,
        n_null=args.null,
        seed=args.seed,
        progress=True,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    out = res.to_dataset()
    out.attrs["input_file"] = str(args.input)
    tmp = args.out / ".decoding.nc.tmp"
    out.to_netcdf(tmp)
    tmp.replace(args.out / "decoding.nc")
    plot_predictions(res).savefig(args.out / "predictions.png", dpi=100)
    if args.features == "nmf":
        plot_rank_scores(res).savefig(args.out / "rank_scores.png", dpi=100)
    print(repr(res))
    print(f"results in {args.out} (decoding is correlation, not causation)")
    return 0
