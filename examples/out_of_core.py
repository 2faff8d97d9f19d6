"""Fit a movie stored on disk block by block (dask), with a checkpoint.

Run: python examples/out_of_core.py [--out FOLDER]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import dask.array as da
import h5py
import numpy as np

import neuronmf as nm


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "movie.h5"
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32]
    parts = np.stack(
        [
            np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 20.0).ravel()
            for cy, cx in [(8, 8), (8, 24), (24, 16)]
        ],
        axis=1,
    )
    with h5py.File(path, "w") as f:
        frames = (parts @ rng.gamma(0.5, 1.0, (3, 3000))).T.reshape(3000, 32, 32)
        f.create_dataset("movie", data=frames + 0.01, chunks=(250, 32, 32))
    with h5py.File(path, "r") as f:  # read-only; only 250-frame blocks are ever loaded
        movie = da.from_array(f["movie"], chunks=(250, 32, 32))
        V = movie.reshape(3000, -1).T  # pixels × time, lazy
        res = nm.nmf(
            V, 3, init="random", seed=0, checkpoint=out / "fit.npz", checkpoint_every=5
        )
        print("chunked fit:", res)
        again = nm.nmf(
            V,
            3,
            init="random",
            seed=0,
            checkpoint=out / "fit.npz",
            checkpoint_every=5,
            resume=True,
        )
        print(
            "resumed from the final checkpoint, same result:",
            bool(np.array_equal(again.W, res.W)),
        )
        online = nm.online_nmf(V, 3, batch_size=250, seed=0)  # one block at a time
        print("online fit:", online)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("example-output"))
    main(parser.parse_args().out)
