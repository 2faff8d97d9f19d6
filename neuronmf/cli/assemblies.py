"""``neuronmf assemblies INPUT``: find neural assemblies in binned activity."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLE = """examples:
  neuronmf assemblies counts.nc --out asm        # (time, neuron) DataArray, NetCDF
  neuronmf assemblies spikes.npz --bin-width 0.025 --rank 4 --out asm
      (.npz with spike_times and spike_unit arrays)"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "assemblies",
        help="find neural assemblies (KL-NMF) with a surrogate significance test",
        description="Detect assemblies in (time, neuron) activity; write a NetCDF "
        "result and figures into the output folder.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", type=Path, help="NWB, NetCDF (.nc) or .npz input")
    p.add_argument("--rank", default="auto", help="number of assemblies or 'auto'")
    p.add_argument(
        "--max-rank", type=int, default=10, help="largest rank scanned by auto"
    )
    p.add_argument("--bin-width", type=float, default=None, help="bin width (s)")
    p.add_argument(
        "--surrogates", type=int, default=200, help="surrogates (default 200)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("neuronmf-assemblies"))
    p.set_defaults(func=run)


def load_activity_any(path: Path, bin_width: float | None, variable: str | None = None):
    """Activity (time, neuron) from NWB (via neuronmf.io), NetCDF or npz spikes."""
    import numpy as np
    import xarray as xr

    from neuronmf.errors import input_error

    if not path.exists():
        raise input_error("INPUT", "an existing file", str(path))
    suffix = path.suffix.lower()
    if suffix == ".nwb":
        import neuronmf.io as nio

        if not hasattr(nio, "load_activity"):
            raise input_error(
                "INPUT",
                "NetCDF or .npz (NWB needs neuronmf.io.load_activity,"
                " not available yet)",
                str(path),
            )
        return nio.load_activity(path, bin_width=bin_width)
    if suffix in (".nc", ".netcdf"):
        obj = xr.load_dataset(path)
        names = (
            [variable]
            if variable
            else [
                v
                for v in obj.data_vars
                if {"time"} <= set(obj[v].dims) and obj[v].ndim == 2
            ]
        )
        if not names or names[0] not in obj:
            raise input_error(
                f"{path}",
                "to hold a 2-D variable with a 'time' dim",
                str(list(obj.data_vars)),
            )
        return obj[names[0]]
    if suffix == ".npz":
        from neuronmf.assemblies import bin_spikes

        d = np.load(path)
        if not {"spike_times", "spike_unit"} <= set(d.files):
            raise input_error(
                f"{path}", "to contain spike_times and spike_unit", str(d.files)
            )
        if bin_width is None:
            raise input_error("--bin-width", "given for spike-time input", "None")
        units = np.unique(d["spike_unit"])
        return bin_spikes(
            [d["spike_times"][d["spike_unit"] == u] for u in units], bin_width
        )
    raise input_error("INPUT", "a .nwb, .nc or .npz file", str(path))


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import neuronmf as nm
    from neuronmf.errors import input_error
    from neuronmf.plotting.assemblies import plot_activations, plot_membership

    rank = args.rank
    if rank != "auto":
        try:
            rank = int(rank)
        except ValueError:
            raise input_error("--rank", "an integer or 'auto'", rank) from None
    X = load_activity_any(args.input, args.bin_width)
    ds = nm.assemblies.detect(
        X,
        rank=rank,
        ranks=range(1, args.max_rank + 1),
        n_surrogates=args.surrogates,
        seed=args.seed,
        progress=True,
    )
    ds.attrs["input_file"] = str(args.input)
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / ".assemblies.nc.tmp"
    ds.to_netcdf(tmp)
    tmp.replace(args.out / "assemblies.nc")
    plot_membership(ds).savefig(args.out / "membership.png", dpi=100)
    plot_activations(ds).savefig(args.out / "activations.png", dpi=100)
    n_sig = int(ds.significant.sum())
    print(
        f"{ds.attrs['rank']} components, {n_sig} significant assemblies; "
        f"members: {ds.n_members.values.tolist()}; results in {args.out}"
    )
    return 0
