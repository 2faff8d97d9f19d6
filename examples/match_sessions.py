"""The same neurons across imaging sessions: segment each session, then match.

Run: python examples/match_sessions.py --out DIR

1. ``simulate_movie(..., n_sessions=3)``: one field of neurons imaged in three
   sessions that drift (a rigid shift of a few px, a smooth deformation, some
   cells missing, brightness changes), with the truth identity table;
2. ``imaging.segment`` on each session's movie;
3. ``imaging.match_sessions`` registers the sessions' mean images, aligns the
   footprints and gives every candidate pair a probability of being one cell;
   the identity table is scored against the truth, and a figure is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np

import neuronmf as nm
from neuronmf.imaging.sessions import score_matching
from neuronmf.plotting.sessions import plot_session_matching


def detected_truth(sims, segs) -> np.ndarray:
    """The truth identity table, in the indices of the detected neurons."""
    ident = sims[0].truth["identities"].values
    table = np.full(ident.shape, -1)
    for s, (sim, seg) in enumerate(zip(sims, segs, strict=True)):
        found = {
            t: f for f, t in nm.imaging.score(seg, sim.truth["footprints"])["matches"]
        }
        for c in np.nonzero(ident[:, s] >= 0)[0]:
            table[c, s] = found.get(int(ident[c, s]), -1)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="match_sessions_out")
    args = parser.parse_args()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    sims = nm.datasets.simulate_movie(
        (128, 128), 200, 40, 4.0, n_sessions=3, seed=0,
        session_drift={"shift": 6.0, "deformation": 1.0, "turnover": 0.15},
    )  # fmt: skip
    segs = [nm.imaging.segment(s.data, neuron_radius=4.0) for s in sims]
    means = [s.data.mean("time").values for s in sims]
    result = nm.imaging.match_sessions(segs, mean_images=means)

    table = result["neuron"].values
    print(f"{len(table)} identities; in all 3 sessions: {(table >= 0).all(1).sum()}")
    print("rigid shifts (y, x) px:", result["rigid_shift"].values.round(2).tolist())
    print(
        "true shifts  (y, x) px:",
        [s.truth["rigid_shift"].values.round(2).tolist() for s in sims],
    )
    sc = score_matching(result, detected_truth(sims, segs))
    print(f"identity pairs: precision {sc['precision']:.3f}, recall {sc['recall']:.3f}")

    nm.io.save_netcdf(result, out_dir / "sessions.nc")
    fig = plot_session_matching(result, segs)
    fig.savefig(out_dir / "sessions.png", dpi=120)
    print(f"wrote {out_dir / 'sessions.nc'} and {out_dir / 'sessions.png'}")


if __name__ == "__main__":
    main()
