"""Escape rounds (``nm.nmf(..., escape=True)``, the default): when do they run,
what do they gain, what do they cost?

Each problem is fitted twice from the same NNDSVDa init at the default
tolerance, with ``escape=False`` and with ``escape=True``, and the script prints
both relative errors, iterations and seconds, and how far the first fit's
in-frame residual stands above the projected-noise edge (above 1 = locked
components were found, and a round ran). Groups (``--groups``):

- ``dense``: the large benchmark shape's generator (uniform W and H, 10 %
  noise, float32) at ``--shape`` and ``--rank`` over ``--seeds`` seeds, with
  the planted factors' error for reference;
- ``small``: the same generator in float64 at 600 × 400 r 8, 1,000 × 500 r 10
  and 1,500 × 800 r 12, ten seeds each;
- ``shapes``: the EMG-, movie- and counts-like shapes of ``bench_engine.py``;
- ``real``: the shared recordings (15 people's gait EMG at ranks 4 and 5, the
  tetrode units binned at 250 ms, the neurofinder movie downsampled to
  256 × 256, the endoscope NWB's ROI traces), read from ``NEURONMF_DATA_DIR``.

Run:  python benchmarks/study_escape.py [--groups dense,small,shapes,real]
                                        [--shape 8000 4000] [--rank 20] [--seeds 6]
"""

from __future__ import annotations

import argparse
import glob
import os
import time
import warnings
from pathlib import Path

import numpy as np

GROUPS = ("dense", "small", "shapes", "real")


def data_dir() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("NEURONMF_DATA_DIR", default))


def compare(label, V, r, reference=None):
    """Fit without and with escape rounds; print one line."""
    import neuronmf as nm
    from neuronmf.engine.escape import in_frame_residual
    from neuronmf.engine.init import initialize

    V = np.ascontiguousarray(V)
    W0, H0 = initialize(V, r, "nndsvda", np.random.default_rng(0))
    fits = []
    for escape in (False, True):
        t = time.perf_counter()
        res = nm.nmf(V, r, W=W0, H=H0, escape=escape)
        fits.append((res, time.perf_counter() - t))
    (plain, t_plain), (esc, t_esc) = fits
    norm_V2 = float(np.sum(np.square(V, dtype=np.float64)))
    s, _, edge = in_frame_residual(
        np.asarray(plain.W).T @ V, plain.W, plain.H, norm_V2, V.shape
    )
    ref = "" if reference is None else f"planted {reference:.6f} | "
    if f"r{r}" not in label.split():
        label += f" r{r}"
    print(
        f"{label}: {ref}in-frame/edge {s[0] / edge:.2f} | "
        f"plain {plain.relative_error:.6f} ({plain.n_iter} it, {t_plain:.2f} s) | "
        f"escape {esc.relative_error:.6f} ({esc.n_iter} it, {t_esc:.2f} s)",
        flush=True,
    )


def dense(args):
    from study_basins import planted

    m, n = args.shape
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        V, W, H = planted(m, n, args.rank, np.random.default_rng(seed))
        err = np.linalg.norm((V - W @ H).astype(np.float64)) / np.linalg.norm(
            V.astype(np.float64)
        )
        compare(f"{m}x{n} r{args.rank} seed {seed}", V, args.rank, err)


def small(args):
    for m, n, r in ((600, 400, 8), (1000, 500, 10), (1500, 800, 12)):
        for seed in range(10):
            rng = np.random.default_rng(seed)
            W, H = rng.random((m, r)), rng.random((r, n))
            V = W @ H
            V = np.maximum(V + 0.1 * V.std() * rng.standard_normal(V.shape), 0)
            err = np.linalg.norm(V - W @ H) / np.linalg.norm(V)
            compare(f"{m}x{n} r{r} seed {seed}", V, r, err)


def shapes(args):
    from bench_engine import counts_like, emg_like, movie_like

    rng = np.random.default_rng(0)  # the benchmark's draws, in its order
    compare("EMG-like 16x200000 r5", emg_like(16, 200_000, 5, rng), 5)
    compare("movie-like 4096x6000 r31", movie_like(64, 6000, 31, rng), 31)
    compare("counts-like 500x20000 r12", counts_like(500, 20000, 12, rng), 12)


def real(args):
    import neuronmf as nm

    d = data_dir()
    for path in sorted(glob.glob(str(d / "santuz_gait_emg" / "csv" / "*_V.csv"))):
        V = np.loadtxt(path, delimiter=",", skiprows=1)
        V = V[:, -13:].T  # 13 muscles x 200 time points
        for r in (4, 5):
            compare(f"gait EMG {Path(path).name[:12]}", V, r)
    z = np.load(d / "hc_linear_track" / "spikes_flat_and_position.npz")
    times, unit = z["spike_times"], z["spike_unit"]
    edges = np.arange(times.min(), times.max(), 0.25)
    counts = np.stack([np.histogram(times[unit == u], edges)[0] for u in range(31)])
    for r in (3, 5, 8, 12):
        compare("tetrode units, 250 ms bins", counts.astype(float), r)
    movie = nm.io.load_movie(d / "neurofinder_subset" / "images")
    X = np.asarray(movie.values, dtype=float)[:, ::2, ::2]  # (time, 256, 256)
    V = X.reshape(X.shape[0], -1).T
    for r in (10, 30, 60):
        compare("neurofinder 256x256 x 200 frames", V, r)
    traces = nm.io.load_activity(
        d / "endoscope_ophys_nwb" / "nwb_test.nwb",
        series="processing/ophys/Fluorescence/RoiResponseSeries",
    )
    A = np.maximum(np.asarray(traces.transpose("neuron", "time").values, float), 0)
    for r in (3, 6, 10):
        compare("endoscope ROI traces (negatives clipped)", A, r)


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--groups", default=",".join(GROUPS))
    p.add_argument("--shape", type=int, nargs=2, default=(8000, 4000))
    p.add_argument("--rank", type=int, default=20)
    p.add_argument("--seeds", type=int, default=6)
    p.add_argument("--first-seed", type=int, default=0)
    args = p.parse_args()
    groups = args.groups.split(",")
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        p.error(f"--groups must be among {', '.join(GROUPS)}; got {unknown}.")
    warnings.simplefilter("ignore")
    for group in groups:
        globals()[group](args)


if __name__ == "__main__":
    main()
