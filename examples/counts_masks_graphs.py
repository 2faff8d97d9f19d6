"""Poisson counts with KL, held-out entries, and a smoothness graph over pixels.

Run: python examples/counts_masks_graphs.py [--out FOLDER]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

import neuronmf as nm


def main(out: Path) -> None:
    rng = np.random.default_rng(0)
    # 1. spike counts (neurons x time bins): KL is the Poisson likelihood
    counts = rng.poisson(rng.random((40, 3)) @ rng.random((3, 500)) * 4).astype(float)
    fit = nm.nmf(counts, 3, loss="kl", seed=0)
    print("KL fit:", fit)

    # 2. hold out 10 % of the entries and score them (cross-validation)
    train = rng.random(counts.shape) > 0.1
    for rank in (1, 3, 6):
        held = nm.nmf(counts, rank, loss="kl", mask=train, seed=0)
        deviance = held.heldout_loss(counts, ~train)
        print(f"rank {rank}: held-out Poisson deviance {deviance:.3f}")

    # 3. footprints smooth over a 32 x 32 pixel grid
    yy, xx = np.mgrid[0:32, 0:32]
    blobs = np.stack(
        [
            np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 18.0).ravel()
            for cy, cx in [(8, 8), (10, 24), (24, 16)]
        ],
        axis=1,
    )
    movie = blobs @ rng.gamma(0.5, 1.0, (3, 60))
    movie = np.maximum(movie + movie.std() * rng.standard_normal(movie.shape), 0)
    rough = nm.nmf(movie, 3, seed=0)
    smooth = nm.nmf(movie, 3, seed=0, graph_W=nm.grid_graph((32, 32)), graph_weight=0.2)
    fig, axes = plt.subplots(2, 3, figsize=(7, 4.5))
    for k in range(3):
        axes[0, k].imshow(rough.W[:, k].reshape(32, 32))
        axes[1, k].imshow(smooth.W[:, k].reshape(32, 32))
        axes[0, k].set_axis_off()
        axes[1, k].set_axis_off()
    axes[0, 0].set_title("no penalty")
    axes[1, 0].set_title("graph_weight=0.2")
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "graph_smoothness.png", dpi=100)
    print("wrote", out / "graph_smoothness.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("example-output"))
    main(parser.parse_args().out)
