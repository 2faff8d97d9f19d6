"""``neuronmf assemblies INPUT``: find neural assemblies in binned activity."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLE = """examples:
  neuronmf assemblies session.nwb --bin-width 0.025 --out asm   # NWB Units, binned
  neuronmf assemblies session.nwb --series RoiResponseSeries --out asm
  neuronmf assemblies spikes.npz --bin-width 0.025 --rank 4 --out asm
      (.npz with spike_times and spike_unit arrays)
  neuronmf assemblies counts.nc --out asm   # NetCDF from neuronmf.io.save_netcdf
      Any input neuronmf.io.load_activity reads (NWB, NPZ, HDF5, .npy), CSV/TSV
      tables (time column + one column per neuron) and NetCDF. Writes
      asm/assemblies.nc, asm/assemblies.nwb, asm/membership.png,
      asm/activations.png and asm/summary.txt."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "assemblies",
        help="find neural assemblies (KL-NMF) with a surrogate significance test",
        description="Detect assemblies in (time, neuron) activity; write a NetCDF "
        "result and figures into the output folder.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "input", type=Path, help="NWB, NPZ, HDF5, .npy, CSV/TSV or NetCDF input"
    )
    p.add_argument(
        "--series", default=None, help="NWB series/table, or array/variable name"
    )
    p.add_argument(
        "--rate", type=float, default=None, help="sampling rate (Hz) of array input"
    )
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
    from neuronmf.plotting.assemblies import plot_activations, plot_membership

    rank = parse_rank(args.rank)
    X = load_activity(
        args.input, series=args.series, bin_width=args.bin_width, rate=args.rate
    )
    ds = nm.assemblies.detect(
        X,
        rank=rank,
        ranks=range(1, args.max_rank + 1),
        n_surrogates=args.surrogates,
        seed=args.seed,
        progress=True,
    )
    ds.attrs["input_file"] = str(args.input)
    files = write_results(ds, args.out, "assemblies", source=args.input)
    figs = [
        save_figure(plot_membership(ds), args.out / "membership.png"),
        save_figure(plot_activations(ds), args.out / "activations.png"),
    ]
    sig = ds.significant.values
    n_sig = int(sig.sum())
    members = ds.n_members.values.tolist()
    lines = [
        "neuronmf assemblies",
        f"input: {args.input} ({X.sizes['time']} bins x {X.sizes['neuron']} neurons"
        + (f", bin width {X.attrs['bin_width']:g} s" if "bin_width" in X.attrs else "")
        + ")",
        f"rank: {ds.attrs['rank']} ({ds.attrs.get('rank_rule', 'given')})",
        f"significant assemblies: {n_sig} of {ds.attrs['rank']} components "
        f"({args.surrogates} circular-shift surrogates)",
        f"members per component: {members}",
        f"member rule: {ds.attrs.get('member_rule', '')}",
        "files: " + ", ".join(p.name for p in [*files, *figs]),
    ]
    write_summary(args.out, lines)
    print(
        f"{ds.attrs['rank']} components, {n_sig} significant assemblies; "
        f"members: {members}; results in {args.out}"
    )
    return 0
