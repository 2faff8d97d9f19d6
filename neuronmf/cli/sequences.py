"""``neuronmf sequences INPUT``: neural sequences (convolutive NMF, seqNMF)."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLE = """examples:
  neuronmf sequences hvc_neural_song.npz --series neural --rate 30 --lags 20 \\
      --rank 10 --l1-w 0.1 --out seq          (the seqNMF songbird demo's settings)
  neuronmf sequences session.nwb --bin-width 0.01 --lags 50 --out seq
      Any input neuronmf.io.load_activity reads (NWB, NPZ, HDF5, MATLAB, .npy,
      CSV/TSV, NetCDF). The first --train-fraction of the recording is fitted,
      the rest tests each pattern. Writes seq/sequences.nc, seq/sequences.nwb,
      seq/sequences.png (patterns, occurrences, sorted activity), seq/x_ortho.png
      (with --x-ortho auto) and seq/summary.txt."""


def _count(n: int, word: str) -> str:
    """``n`` and ``word``, plural unless n is 1: "1 occurrence", "2 occurrences"."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def _occurrences(ds, k: int) -> str:
    """How often sequence k occurs, and how often in the held-out part."""
    n = int(ds.n_occurrences.values[k])
    tested = int(ds.n_tested_occurrences.values[k])
    return f"{_count(n, 'occurrence')} ({tested} in the held-out part)"


def _why_not(ds, k: int) -> str:
    """Why sequence k, which passed the held-out test, is not significant."""
    reasons = []
    if ds.n_members.values[k] < 2:
        reasons.append("fewer than 2 members")
    n = int(ds.n_occurrences.values[k])
    if n < 2:
        seen = "never" if n == 0 else "only once"
        reasons.append(f"seen {seen} (a sequence must recur)")
    if n and ds.n_tested_occurrences.values[k] < 1:
        reasons.append(
            "none of its occurrences is in the held-out part it was tested on"
        )
    return "; ".join(reasons)


def _x_ortho(text: str):
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be 'auto' or a number >= 0; got {text!r}"
        ) from None


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sequences",
        help="find neural sequences (convolutive NMF) with a held-out test",
        description="Fit seqNMF-style convolutive NMF on the first part of a "
        "(time, neuron) recording, test each pattern on the rest, and list the "
        "significant sequences, their members in firing order and their "
        "occurrences.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "input", type=Path, help="NWB, NPZ, HDF5, MATLAB, .npy, CSV/TSV or NetCDF"
    )
    p.add_argument(
        "--series", default=None, help="NWB series/table, or array/variable name"
    )
    p.add_argument(
        "--rate", type=float, default=None, help="sampling rate (Hz) of array input"
    )
    p.add_argument("--bin-width", type=float, default=None, help="bin width (s)")
    p.add_argument("--rank", type=int, default=5, help="patterns fitted (5)")
    p.add_argument("--lags", type=int, default=20, help="pattern length in bins (20)")
    p.add_argument(
        "--x-ortho",
        type=_x_ortho,
        default="auto",
        help="cross-orthogonality weight, or 'auto' (seqNMF's cost crossover)",
    )
    p.add_argument("--l1-w", type=float, default=0.0, help="L1 weight on W (0)")
    p.add_argument("--l1-h", type=float, default=0.0, help="L1 weight on H (0)")
    p.add_argument(
        "--kind",
        default="auto",
        choices=["auto", "counts", "fluorescence", "dff", "deconvolved"],
        help="what the activity is (auto: from the file, else inferred)",
    )
    p.add_argument(
        "--train-fraction",
        type=float,
        default=0.75,
        help="fraction fitted; the rest tests the patterns (0.75)",
    )
    p.add_argument("--alpha", type=float, default=0.05, help="test level (0.05)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument("--out", type=Path, default=Path("neuronmf-sequences"))
    p.set_defaults(func=run)


def run(args) -> int:
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import neuronmf as nm
    from neuronmf.cli._common import (
        load_activity,
        save_figure,
        write_results,
        write_summary,
    )
    from neuronmf.plotting.sequences import plot_sequences, plot_x_ortho

    X = load_activity(
        args.input, series=args.series, bin_width=args.bin_width, rate=args.rate
    )
    ds = nm.assemblies.sequences(
        X,
        rank=args.rank,
        lags=args.lags,
        x_ortho=args.x_ortho,
        l1_W=args.l1_w,
        l1_H=args.l1_h,
        kind=args.kind,
        train_fraction=args.train_fraction,
        alpha=args.alpha,
        seed=args.seed,
        progress=True,
    )
    ds.attrs["input_file"] = str(args.input)
    files = write_results(ds, args.out, "sequences", source=args.input)
    figs = [save_figure(plot_sequences(ds, X), args.out / "sequences.png")]
    if "reconstruction_norm" in ds:
        figs.append(save_figure(plot_x_ortho(ds), args.out / "x_ortho.png"))
    sig = np.flatnonzero(ds.significant.values)
    neurons = ds["neuron"].values
    lines = [
        "neuronmf sequences",
        f"input: {args.input} ({X.sizes['time']} bins x {X.sizes['neuron']} "
        f"neurons); activity: {ds.attrs['activity_kind']} "
        f"({ds.attrs['preprocessing']}); loss {ds.attrs['loss']}",
        f"patterns: {args.rank} of {_count(args.lags, 'bin')}; x_ortho "
        f"{float(ds.attrs['x_ortho']):.3g} ({ds.attrs['x_ortho_rule']})",
        f"fitted on the first {ds.attrs['train_bins']} bins, tested on the last "
        f"{ds.attrs['test_bins']} (skewness against lag-shifted patterns, "
        f"Bonferroni over {args.rank}); significant: passes the test, >= 2 "
        "members, >= 2 occurrences with >= 1 in the held-out part",
        f"significant sequences: {sig.size} of {args.rank}",
    ]
    for k in sig:
        members = sorted(
            np.flatnonzero(ds.members.values[:, k]),
            key=lambda i: ds.peak_lag.values[i, k],
        )
        lines.append(
            f"  sequence {k}: p = {ds.p_value.values[k]:.3g}, "
            f"{_count(len(members), 'member')} in firing order "
            f"{[neurons[i].item() for i in members]}, "
            f"{_occurrences(ds, k)}, power explained "
            f"{ds.power_explained.values[k]:.3f}"
        )
    rejected = np.flatnonzero(ds.passes_test.values & ~ds.significant.values)
    if rejected.size:
        lines.append(
            f"passed the held-out test but not significant: {rejected.size} of "
            f"{args.rank}"
        )
    for k in rejected:
        lines.append(
            f"  sequence {k}: p = {ds.p_value.values[k]:.3g}, "
            f"{_count(int(ds.n_members.values[k]), 'member')}, "
            f"{_occurrences(ds, k)}: not significant, {_why_not(ds, k)}"
        )
    lines.append(f"p-values: {np.round(ds.p_value.values, 3).tolist()}")
    lines.append("files: " + ", ".join(p.name for p in [*files, *figs]))
    write_summary(args.out, lines)
    print(
        f"sequences: {sig.size} significant of {args.rank}; members "
        f"{ds.n_members.values[sig].tolist()}; results in {args.out}"
    )
    return 0
