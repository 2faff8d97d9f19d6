"""Motion correction: register a moving simulated movie, then segment it.

Run: python examples/register_movie.py --out DIR

1. ``simulate_movie(..., motion=...)``: rigid random-walk motion up to 8 px and a
   smooth non-rigid field up to 2 px, with the true displacement in the truth;
2. ``register`` rigid and piecewise; the error of the shifts against the truth
   (a constant offset removed: the template sits where the sample was on
   average);
3. the piecewise-corrected movie written lazily to HDF5 (``out=``), segmented,
   and the registration written to NWB as ``MotionCorrection``; a figure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np

import neuronmf as nm
from neuronmf.datasets._movie_motion import displacement
from neuronmf.plotting import plot_registration


def rmse(est: np.ndarray, true: np.ndarray) -> float:
    d = est - true
    d = d - d.reshape(-1, 2).mean(axis=0)
    return float(np.sqrt((d**2).mean()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("register_movie_out"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    motion = {"rigid": 8, "nonrigid": 2, "resting": 0.5}
    sim = nm.datasets.simulate_movie((128, 128), 300, 40, 4.0, seed=0, motion=motion)
    true = displacement(sim.truth)  # (time, y, x, axis)

    rigid = nm.imaging.register(sim.data)
    err = rmse(rigid["shifts"].values[:, None, None, :], true)
    print(f"rigid: field RMSE {err:.3f} px")

    pw = nm.imaging.register(sim.data, method="piecewise", out=args.out / "reg.h5")
    local = pw["shifts"]
    centres = true[:, np.rint(local["patch_y"]).astype(int)][
        :, :, np.rint(local["patch_x"]).astype(int)
    ]
    print(f"piecewise: RMSE at the patch centres {rmse(local.values, centres):.3f} px")
    print(
        f"crispness of the mean image {pw.attrs['crispness_before']:.0f} -> "
        f"{pw.attrs['crispness_after']:.0f}"
    )

    seg = nm.imaging.segment(pw["corrected"], neuron_radius=4.0)
    print(f"{seg.sizes['neuron']} neurons found in the corrected movie")
    nm.io.save_nwb(pw, args.out / "registration.nwb", overwrite=True)
    plot_registration(pw).savefig(args.out / "registration.png", dpi=100)
    print(f"written: {sorted(p.name for p in args.out.iterdir())}")


if __name__ == "__main__":
    main()
