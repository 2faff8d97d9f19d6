"""``neuronmf info FILE``: list the series, types, shapes and rates a file holds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

EXAMPLE = """examples:
  neuronmf info recording.nwb
  neuronmf info neurofinder_subset/images        (a folder of TIFF frames)
  neuronmf info emg.csv --json                   (machine-readable)
  neuronmf info spikes.mat                       (MATLAB v5/v7.3: variables, kind)

The "path" column is what loaders accept as series= (variable= for .mat), e.g.
  neuronmf.io.load_activity("nwb_test.nwb", series="RoiResponseSeries")
  neuronmf.io.load_activity("spikes.mat", variable="spikes", bin_width=0.05)"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "info",
        help="list what a recording file holds (series, types, shapes, rates)",
        description="List the series/datasets of an NWB, HDF5, MATLAB .mat (v5/v7.3), "
        "TIFF, Zarr, CSV/TSV or NPZ file: path inside the file, type, shape, dtype "
        "and rate (for .mat: each variable with a guess of what it holds).",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", type=Path, help="file or folder to inspect")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args) -> int:
    from neuronmf.io import inspect

    contents = inspect(args.file)
    if args.json:
        print(
            json.dumps(
                {
                    "source": contents.source,
                    "format": contents.format,
                    "items": list(contents),
                },
                indent=2,
                default=str,
            )
        )
    else:
        print(contents.to_text())
    return 0
