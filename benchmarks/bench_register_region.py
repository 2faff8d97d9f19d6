"""Segmentation F1 after registration, inside the region every frame covers.

    python benchmarks/bench_register_region.py SEED rigid10|nonrigid3 [INTERPOLATION]

Registers a simulated moving movie (128² × 600, 40 neurons, ``resting`` 0.5, as
``bench_register.py f1``), segments ``reg["corrected"].isel(**valid_region(reg))``,
and scores it against the truth neurons whose centroid lies in that region; the
motion-free movie with the same seed is segmented and scored on the same region.
``INTERPOLATION`` is passed to ``register`` (default: its own default).
Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_register import RADIUS, _moved

from neuronmf.datasets import simulate_movie
from neuronmf.imaging import (
    register,
    score,
    segment,
    to_full_frame,
    valid_region,
)

MOTIONS = {
    "rigid10": ({"rigid": 10, "resting": 0.5}, "rigid"),
    "nonrigid3": ({"rigid": 10, "nonrigid": 3, "resting": 0.5}, "piecewise"),
}


def _inside(masks: np.ndarray, region: dict) -> np.ndarray:
    cy = np.array([np.nonzero(m)[0].mean() for m in masks])
    cx = np.array([np.nonzero(m)[1].mean() for m in masks])
    y, x = region["y"], region["x"]
    return (cy >= y.start) & (cy < y.stop) & (cx >= x.start) & (cx < x.stop)


def run(seed: int, label: str, interpolation: str | None = None) -> dict:
    motion, method = MOTIONS[label]
    args = ((128, 128), 600, 40, RADIUS)
    still = simulate_movie(*args, seed=seed, motion={"rigid": 0, "resting": 0.5})
    sim = simulate_movie(*args, seed=seed, motion=motion)
    reg = register(sim.data, method=method, interpolation=interpolation)
    region = valid_region(reg)
    shifts = reg["shifts"].values.reshape(len(sim.data), -1, 2).mean(axis=1)
    c = np.rint((sim.truth["shifts"].values - shifts).mean(0)).astype(int)
    masks = _moved(sim.truth["masks"].values, c)
    inner = reg["corrected"].isel(**region)
    seg = to_full_frame(segment(inner, neuron_radius=RADIUS), reg["corrected"], region)
    keep = _inside(masks, region)
    # the same region in the still movie's frame (undo the template offset)
    y, x = region["y"], region["x"]
    still_region = {
        "y": slice(y.start - c[0], y.stop - c[0]),
        "x": slice(x.start - c[1], x.stop - c[1]),
    }
    smasks = still.truth["masks"].values
    inner_still = segment(still.data.isel(**still_region), neuron_radius=RADIUS)
    seg_still = to_full_frame(inner_still, still.data, still_region)
    keep_still = _inside(_moved(smasks, c), region)
    return {
        "seed": seed,
        "case": label,
        "interpolation": json.loads(reg.attrs["params"])["interpolation"],
        "region": [y.start, y.stop, x.start, x.stop],
        "template_offset": c.tolist(),
        "truth_inside": int(keep.sum()),
        "of": len(keep),
        "f1_registered_in_region": round(score(seg, masks[keep])["f1"], 3),
        "f1_still_same_region": round(score(seg_still, smasks[keep_still])["f1"], 3),
        "f1_still_whole": round(
            score(segment(still.data, neuron_radius=RADIUS), smasks)["f1"], 3
        ),
    }


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    interp = sys.argv[3] if len(sys.argv) > 3 else None
    print(json.dumps(run(int(sys.argv[1]), sys.argv[2], interp)), flush=True)
