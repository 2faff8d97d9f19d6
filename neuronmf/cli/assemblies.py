"""``neuronmf assemblies INPUT``: find neural assemblies in binned activity."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLE = """examples:
  neuronmf assemblies session.nwb --bin-width 0.025 --out asm   # NWB Units, binned
  neuronmf assemblies session.nwb --series RoiResponseSeries --out asm
      (raw fluorescence: converted to dF/F with a per-neuron 8th-percentile
      baseline; --kind overrides what the file says)
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
        "--rank-method",
        default="mp",
        choices=["mp", "cv"],
        help="how --rank auto chooses: mp = Marchenko-Pastur count of the z-scored "
        "activity + 1 (pairwise correlations above chance); cv = the held-out "
        "Poisson deviance of `neuronmf rank --method cv` (same masks and score, so "
        "the two commands agree)",
    )
    p.add_argument(
        "--max-rank", type=int, default=10, help="largest rank scanned by auto"
    )
    p.add_argument("--bin-width", type=float, default=None, help="bin width (s)")
    p.add_argument(
        "--surrogates",
        type=int,
        default=100,
        help="surrogates, each an NMF refit (default 100; 0 skips the test)",
    )
    p.add_argument(
        "--kind",
        default="auto",
        choices=["auto", "counts", "fluorescence", "dff", "deconvolved"],
        help="what the activity is (default auto: from the NWB type/name, else "
        "inferred and reported); fluorescence is converted to dF/F",
    )
    p.add_argument(
        "--baseline-window",
        type=float,
        default=60.0,
        help="fluorescence: running-percentile baseline window in s (default 60)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", type=Path, default=Path("neuronmf-assemblies"))
    p.set_defaults(func=run)


def run(args) -> int:
    import matplotlib
    import numpy as np

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
        rank_method=args.rank_method,
        ranks=range(1, args.max_rank + 1),
        n_surrogates=args.surrogates,
        kind=args.kind,
        baseline_window=args.baseline_window,
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
    flat = ds.coactive.values & ~ds.specific.values
    n_flat = int(flat.sum())
    members = ds.n_members.values.tolist()
    flat_line = (
        f"non-specific: {n_flat} co-active component(s) spread over (nearly) all "
        f"neurons (participation ratio > {ds.attrs['max_participation']:g} of N; "
        f"components "
        f"{np.flatnonzero(flat).tolist()}): a shared signal such as neuropil, "
        "baseline drift or global state, NOT counted as assemblies"
        if n_flat
        else "non-specific components: none"
    )
    lines = [
        "neuronmf assemblies",
        f"input: {args.input} ({X.sizes['time']} bins x {X.sizes['neuron']} neurons"
        + (f", bin width {X.attrs['bin_width']:g} s" if "bin_width" in X.attrs else "")
        + ")",
        f"activity: {ds.attrs['activity_kind']} ({ds.attrs['activity_kind_source']}"
        f"); {ds.attrs['preprocessing']}; loss {ds.attrs['loss']}",
        f"rank: {ds.attrs['rank']} ({ds.attrs.get('rank_rule', 'given')})",
        f"significant assemblies: {n_sig} of {ds.attrs['rank']} components "
        f"({args.surrogates} surrogates: every neuron circularly shifted, "
        "NMF refitted; p family-wise over components)",
        flat_line,
        f"members per component: {members}",
        f"p-values: {np.round(ds.p_value.values, 3).tolist()}",
        "participation (fraction of neurons): "
        f"{np.round(ds.participation.values, 2).tolist()}",
        f"member rule: {ds.attrs.get('member_rule', '')}",
        "files: " + ", ".join(p.name for p in [*files, *figs]),
    ]
    write_summary(args.out, lines)
    print(
        f"{ds.attrs['rank']} components, {n_sig} significant assemblies"
        + (
            f", {n_flat} non-specific (spread over nearly all neurons)"
            if n_flat
            else ""
        )
        + f"; activity: {ds.attrs['activity_kind']}"
        f"; members: {members}; results in {args.out}"
    )
    return 0
