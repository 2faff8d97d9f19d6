"""End to end: ``neuronmf imaging`` (register -> segment -> traces -> spikes).

Usage::

    python benchmarks/bench_pipeline.py prepare /tmp/pipe --frames 1000
    python benchmarks/bench_pipeline.py ours /tmp/pipe [piecewise] [--jobs 2]
    /work/bench-venv-s2p/bin/python benchmarks/bench_pipeline_suite2p.py /tmp/pipe
    python benchmarks/bench_pipeline.py neurofinder

``prepare`` simulates a 512 x 512 movie with motion (``simulate_movie(...,
motion={"rigid": 10, "nonrigid": 3})``, 300 neurons of radius 5 px, 10 Hz,
seed 0) and writes it once as a multi-page TIFF (``movie.tif``, uint16) that
both tools read, with the truth masks (``truth.npz``: flat pixel indices).

``ours`` runs the command ``neuronmf imaging movie.tif --registration
piecewise --radius 5 --rate 10`` in a child process; wall time, CPU time
(user + system of the child) and peak RSS (``getrusage(RUSAGE_CHILDREN)``)
are measured around it. The neurons of ``segmentation.nc`` are scored with
``nm.imaging.score`` (IoU rule and neurofinder centroid rule).

The registered movie sits where the template is, a constant offset away from
the frame of the simulated truth; each tool's masks are scored against the
truth moved by the integer offset (|offset| <= 15 px) that maximises the
overlap of the union of its masks with the union of the truth masks
(:func:`best_offset`, the same rule for both tools).

``neurofinder`` runs the command on ``neurofinder_subset/images`` (200 frames,
7 Hz assumed, radius 5, registration rigid) and scores against the 330
annotated neurons with both rules.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "pipeline.jsonl"
SHAPE, NEURONS, RADIUS, RATE = (512, 512), 300, 5.0, 10.0
MOTION = {"rigid": 10, "nonrigid": 3}
NEURONMF = str(Path(sys.executable).parent / "neuronmf")  # the console script


def best_offset(found: np.ndarray, truth: np.ndarray, limit: int = 15) -> tuple:
    """Integer (dy, dx) moving ``truth`` (y, x) onto ``found`` (y, x), 0/1 images."""
    f = np.fft.rfft2(found.astype(np.float64))
    t = np.fft.rfft2(truth.astype(np.float64))
    cc = np.fft.irfft2(f * np.conj(t), s=found.shape)
    cc = np.fft.fftshift(cc)
    cy, cx = found.shape[0] // 2, found.shape[1] // 2
    win = cc[cy - limit : cy + limit + 1, cx - limit : cx + limit + 1]
    iy, ix = np.unravel_index(int(np.argmax(win)), win.shape)
    return int(iy - limit), int(ix - limit)


def moved(masks: np.ndarray, c) -> np.ndarray:
    """Masks (n, y, x) moved by the integer offset ``c`` (y, x), zero-filled."""
    out = np.zeros_like(masks)
    (dy, dx), (_, ny, nx) = c, masks.shape
    ys, yd = slice(max(0, -dy), ny - max(0, dy)), slice(max(0, dy), ny - max(0, -dy))
    xs, xd = slice(max(0, -dx), nx - max(0, dx)), slice(max(0, dx), nx - max(0, -dx))
    out[:, yd, xd] = masks[:, ys, xs]
    return out


def load_truth(folder: Path) -> np.ndarray:
    z = np.load(folder / "truth.npz")
    shape = tuple(z["shape"])
    out = np.zeros((len(z["starts"]) - 1, *shape), bool)
    for i in range(len(out)):
        idx = z["pixels"][z["starts"][i] : z["starts"][i + 1]]
        out[i].flat[idx] = True
    return out


def prepare(folder: Path, frames: int) -> None:
    import tifffile

    from neuronmf.datasets import simulate_movie

    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sim = simulate_movie(
        SHAPE, frames, NEURONS, RADIUS, rate=RATE, motion=MOTION, seed=0
    )
    masks = sim.truth["masks"].values.astype(bool)
    pix = [np.flatnonzero(m) for m in masks]
    np.savez(
        folder / "truth.npz",
        pixels=np.concatenate(pix),
        starts=np.cumsum([0] + [len(p) for p in pix]),
        shape=np.array(SHAPE),
    )
    tifffile.imwrite(folder / "movie.tif", sim.data.values)
    print(
        json.dumps(
            {
                "prepared": str(folder),
                "shape": list(sim.data.shape),
                "dtype": str(sim.data.dtype),
                "neurons": len(pix),
                "simulate_s": round(time.perf_counter() - t0, 1),
            }
        ),
        flush=True,
    )


def timed_child(cmd: list[str]) -> dict:
    """Run ``cmd``; wall, CPU (user+sys) and peak RSS of the child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        print(proc.stderr[-4000:], file=sys.stderr)
        raise SystemExit(proc.returncode)
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(
            (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1
        ),
        "peak_rss_mb": round(after.ru_maxrss / 1024),
        "load_before": [round(x, 1) for x in load],
        "load_after": [round(x, 1) for x in os.getloadavg()],
        "stdout_tail": proc.stdout.strip().splitlines()[-1:],
    }


def _provenance() -> dict:
    """The checkout's commit (and whether it had local changes), UTC start time."""
    here = Path(__file__).resolve().parent
    git = ["git", "-C", str(here)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "../neuronmf"],
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    return {
        "commit": head + ("+local" if dirty else ""),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _scores(found: np.ndarray, truth: np.ndarray) -> dict:
    from neuronmf.imaging import score

    out = {}
    for m in ("iou", "centroid"):
        s = score(found, truth, method=m)
        out[m] = {k: round(float(s[k]), 3) for k in ("precision", "recall", "f1")}
        out[m]["n_found"], out[m]["n_matched"] = s["n_found"], s["n_matched"]
    return out


def ours(folder: Path, registration: str = "piecewise", jobs: int = 1) -> dict:
    import xarray as xr

    from neuronmf.imaging import masks_from_footprints

    out = folder / f"ours_{registration}"
    cmd = [NEURONMF, "imaging", str(folder / "movie.tif"),
           "--registration", registration, "--radius", str(RADIUS),
           "--rate", str(RATE), "--jobs", str(jobs), "--no-progress",
           "--out", str(out)]  # fmt: skip
    row = {"tool": "neuronmf imaging", "command": " ".join(cmd[1:])}
    row.update(_provenance())
    row.update(timed_child(cmd))
    summary = (out / "summary.txt").read_text().splitlines()
    row["steps"] = [x for x in summary if x.startswith("time: ")][-1:]
    with xr.open_dataset(out / "segmentation.nc") as seg:
        found = masks_from_footprints(seg["footprints"].values)
    truth = load_truth(folder)
    c = best_offset(found.any(0), truth.any(0))
    row["shape"] = [int(tifffile_frames(folder)), *SHAPE]
    row["truth_offset_px"] = list(c)
    row.update(_scores(found, moved(truth, c)))
    return row


def tifffile_frames(folder: Path) -> int:
    import tifffile

    with tifffile.TiffFile(folder / "movie.tif") as tf:
        return len(tf.pages)


def neurofinder(registration: str = "rigid") -> dict:
    import tempfile

    import xarray as xr

    from neuronmf.imaging import masks_from_footprints
    from neuronmf.io import load_regions

    data = Path(os.environ.get("NEURONMF_DATA_DIR", "/work/shared/data"))
    data = data / "neurofinder_subset"
    out = Path(tempfile.mkdtemp(prefix="bench_pipe_nf_"))
    cmd = [NEURONMF, "imaging", str(data / "images"),
           "--registration", registration, "--radius", "5", "--rate", "7",
           "--no-progress", "--out", str(out)]  # fmt: skip
    row = {"tool": "neuronmf imaging", "movie": "neurofinder_subset"}
    row["command"] = " ".join(cmd[1:])
    row.update(timed_child(cmd))
    with xr.open_dataset(out / "segmentation.nc") as seg:
        found = masks_from_footprints(seg["footprints"].values)
    truth = load_regions(data, found.shape[1:]).values.astype(bool)
    row.update(_scores(found, truth))
    return row


def _save(row: dict) -> None:
    print(json.dumps(row), flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "prepare":
        n = (
            int(sys.argv[sys.argv.index("--frames") + 1])
            if "--frames" in sys.argv
            else 3000
        )
        prepare(Path(sys.argv[2]), n)
    elif what == "ours":
        jobs = (
            int(sys.argv[sys.argv.index("--jobs") + 1]) if "--jobs" in sys.argv else 1
        )
        rest = [a for a in sys.argv[3:] if a != "--jobs" and not a.isdigit()]
        reg = rest[0] if rest else "piecewise"
        _save(ours(Path(sys.argv[2]), reg, jobs))
    elif what == "neurofinder":
        reg = sys.argv[2] if len(sys.argv) > 2 else "rigid"
        _save(neurofinder(reg))
