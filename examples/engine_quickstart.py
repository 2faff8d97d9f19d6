"""Factorise a simulated recording, check the fit, and project new data.

Run: python examples/engine_quickstart.py [--out FOLDER]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import xarray as xr

import neuronmf as nm
from neuronmf.plotting import plot_components


def main(out: Path) -> None:
    rng = np.random.default_rng(0)
    parts = rng.random((12, 3)) ** 2
    activations = np.abs(np.sin(np.linspace(0, 20, 3000)[None] * [[1.0], [1.7], [2.9]]))
    data = xr.DataArray(
        (parts @ activations).T + 0.01 * rng.random((3000, 12)),
        dims=("time", "channel"),
        coords={
            "time": np.arange(3000) / 100.0,
            "channel": [f"ch{i}" for i in range(12)],
        },
    )
    res = nm.nmf(data.isel(time=slice(0, 2000)), 3, seed=0)
    print(res)
    H_test = nm.project(data.isel(time=slice(2000, None)), res.W)
    print("held-out activations:", dict(H_test.sizes))
    out.mkdir(parents=True, exist_ok=True)
    plot_components(res).savefig(out / "engine_quickstart.png", dpi=100)
    print("wrote", out / "engine_quickstart.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("example-output"))
    main(parser.parse_args().out)
