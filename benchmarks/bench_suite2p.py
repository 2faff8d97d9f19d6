"""suite2p 1.1.0 on neurofinder_subset, side by side with neuronmf.

Usage (suite2p lives only in its own virtual environment; it is never a neuronmf
dependency)::

    python3 -m venv /work/bench-venv-s2p
    /work/bench-venv-s2p/bin/pip install torch==2.13.0 suite2p==1.1.0 tifffile
    /work/bench-venv-s2p/bin/python benchmarks/bench_suite2p.py            # one run
    /work/bench-venv-s2p/bin/python benchmarks/bench_suite2p.py --sweep    # grid
    /work/bench-venv-s2p/bin/python benchmarks/bench_suite2p.py --sweep sparsery
    /work/bench-venv-s2p/bin/python benchmarks/bench_suite2p.py \\
        --set '{"diameter": [10, 10], "detection": {"algorithm": "sourcery"}}'

(pip upgrades torch to 2.14.1 because cellpose, a suite2p dependency, needs
torchvision; suite2p runs on the CPU with ``torch_device="cpu"``.)

The movie (200 frames, 512 x 512, already registered) and the 330 ground-truth
ROIs are read from ``$NEURONMF_DATA_DIR/neurofinder_subset`` (default
``/work/shared/data``). Each configuration runs ``suite2p.run_s2p`` in-process in
a fresh child process (so that its peak RSS, ``getrusage(RUSAGE_SELF)``, is its
own), with registration off, in a temporary directory. The movie is first staged,
untimed, as one multi-page TIFF there (neuronmf's benchmark also loads the movie
before its clock starts): suite2p 1.1.0 calls ``gc.collect()`` after every input
file, which with torch and cellpose imported costs ~0.25 s per file, ~50 s for the
200 single-page TIFFs (``--frames-input`` times that path). Wall time covers the
whole ``run_s2p`` call (TIFF -> binary, detection, extraction, deconvolution,
classification); suite2p's own per-step times are reported too. Peak RSS is read
right after ``run_s2p`` returns, before scoring; the RSS after importing suite2p
(torch, cellpose) is reported beside it.

suite2p's ROIs (``stat.npy``: ``ypix``/``xpix``, every pixel of the ROI) are
scored against the truth by both of neuronmf's rules, reimplemented here because
neuronmf is not installed in this environment; they reproduce
``neuronmf.imaging.score`` exactly (same float32 IoU arithmetic, same matching):

* ``iou`` (CaImAn): cost 1 - IoU when the centroids are < 10 px apart, else 1;
  Hungarian matching; a pair matches when IoU > 0.3.
* ``centroid`` (neurofinder): greedy nearest-centroid matching, closest pairs
  first; a pair matches when the centroids are < 5 px apart.

Both are reported for all ROIs and for the ROIs that suite2p's built-in
classifier accepts (``iscell[:, 0] == 1``). One JSON line per configuration is
printed and appended to ``benchmarks/results/suite2p.jsonl``.

Assumed acquisition settings (unknown for this neurofinder subset): ``fs`` = 7 Hz
(the neurofinder training sets were recorded at 6.75-8 Hz), ``tau`` = 1.0 s
(GCaMP6), neuron ``diameter`` = 10 px.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment

DATA = (
    Path(os.environ.get("NEURONMF_DATA_DIR", "/work/shared/data"))
    / "neurofinder_subset"
)
RESULTS = Path(__file__).resolve().parent / "results" / "suite2p.jsonl"
SHAPE = (512, 512)

# Settings changed from suite2p's defaults in every run (nested like suite2p's
# settings dict). Everything else stays at suite2p 1.1.0's defaults, e.g.
# detection algorithm "sparsery", threshold_scaling 1.0, spatial_scale 0 (auto),
# max_overlap 0.75, highpass_time 100, built-in classifier.
BASE = {
    "torch_device": "cpu",
    "fs": 7.0,
    "tau": 1.0,
    "diameter": [10.0, 10.0],
    "run": {"do_registration": 0},
}

# --sweep, sparsery (the default algorithm): threshold_scaling x temporal bin size
# x spatial_scale. bin_size None = suite2p's rule round(tau * fs) = 7 frames (28
# binned frames of 200); spatial_scale 0 = auto, 1 = 6 px, 2 = 12 px.
SWEEP_SPARSERY = [
    {
        "detection": {
            "threshold_scaling": ts,
            "bin_size": bs,
            "sparsery_settings": {"spatial_scale": sc},
        }
    }
    for ts in (0.2, 0.35, 0.5, 0.75, 1.0)
    for bs in (None, 3, 1)
    for sc in (0, 1, 2)
]
# ... and sourcery (the older algorithm, which uses the diameter): three points
# only, because it is slow here (threshold_scaling 0.35: 10 min, 9.7 GB peak RSS).
SWEEP_SOURCERY = [
    {
        "diameter": [d, d],
        "detection": {"algorithm": "sourcery", "threshold_scaling": ts},
    }
    for ts, d in ((0.35, 8.0), (0.5, 10.0), (1.0, 10.0))
]


# --------------------------------------------------------------------------
# scoring (same rules and arithmetic as neuronmf.imaging.score)


def _pixel_matrix(rois: list[np.ndarray], npix: int) -> sparse.csr_matrix:
    """(n_roi, npix) 0/1 matrix from lists of flat pixel indices."""
    rows = np.concatenate([[], *(np.full(len(r), i) for i, r in enumerate(rois))])
    cols = np.concatenate([[], *rois])
    m = sparse.csr_matrix(
        (np.ones(len(rows), np.float32), (rows.astype(int), cols.astype(int))),
        shape=(len(rois), npix),
    )
    m.data[:] = 1.0
    return m


def _centroids(rois: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    out = np.full((len(rois), 2), np.nan)
    for i, r in enumerate(rois):
        if len(r):
            yy, xx = np.unravel_index(r, shape)
            out[i] = yy.mean(), xx.mean()
    return out


def score(
    found: list[np.ndarray],
    truth: list[np.ndarray],
    shape: tuple[int, int],
    method: str,
) -> dict:
    """Precision/recall/F1; ROIs are arrays of unique flat pixel indices."""
    nf, nt = len(found), len(truth)
    cf, ct = _centroids(found, shape), _centroids(truth, shape)
    dist = np.full((nf, nt), np.inf)
    if nf and nt:
        dist = np.sqrt(((cf[:, None, :] - ct[None, :, :]) ** 2).sum(-1))
        dist = np.nan_to_num(dist, nan=np.inf)
    npix = shape[0] * shape[1]
    F, T = _pixel_matrix(found, npix), _pixel_matrix(truth, npix)
    inter = np.asarray((F @ T.T).todense(), dtype=np.float32).reshape(nf, nt)
    fsum = np.array([len(r) for r in found], np.float32)
    tsum = np.array([len(r) for r in truth], np.float32)
    union = fsum[:, None] + tsum[None, :] - inter
    iou = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    matches: list[tuple[int, int]] = []
    if method == "iou":
        cost = np.where(dist < 10.0, 1.0 - iou, 1.0)
        if nf and nt:
            rows, cols = linear_sum_assignment(cost)
            matches = [
                (int(r), int(c))
                for r, c in zip(rows, cols, strict=False)
                if cost[r, c] < 1.0 - 0.3
            ]
    else:
        order = np.argsort(dist, axis=None)
        used_f, used_t = set(), set()
        for flat in order:
            r, c = divmod(int(flat), nt)
            if dist[r, c] >= 5.0:
                break
            if r in used_f or c in used_t:
                continue
            used_f.add(r)
            used_t.add(c)
            matches.append((r, c))
    tp = len(matches)
    return {
        "precision": round(tp / nf, 3) if nf else 0.0,
        "recall": round(tp / nt, 3) if nt else 0.0,
        "f1": round(2 * tp / (nf + nt), 3) if nf + nt else 0.0,
        "n_matched": tp,
    }


def load_truth(shape: tuple[int, int] = SHAPE) -> list[np.ndarray]:
    regions = json.loads((DATA / "regions" / "regions.json").read_text())
    out = []
    for r in regions:
        rc = np.asarray(r["coordinates"], dtype=np.int64).reshape(-1, 2)
        ok = (rc[:, 0] >= 0) & (rc[:, 0] < shape[0])
        ok &= (rc[:, 1] >= 0) & (rc[:, 1] < shape[1])
        out.append(np.unique(np.ravel_multi_index((rc[ok, 0], rc[ok, 1]), shape)))
    return out


# --------------------------------------------------------------------------
# one suite2p run (child process)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and k in out else v
    return out


def run_one(overrides: dict) -> dict:
    t_import = time.perf_counter()
    import suite2p
    import torch

    t_import = time.perf_counter() - t_import
    rss_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    overrides = dict(overrides)
    frames_input = overrides.pop("frames_input", False)
    cfg = _merge(BASE, overrides)
    settings = _merge(suite2p.default_settings(), cfg)
    tmp = Path(tempfile.mkdtemp(prefix="bench_s2p_"))
    try:
        t_stage = time.perf_counter()
        if frames_input:  # suite2p reads the 200 single-page TIFFs itself
            data_path = DATA / "images"
        else:  # untimed staging: the movie as one multi-page TIFF
            import tifffile

            data_path = tmp / "input"
            data_path.mkdir()
            files = sorted((DATA / "images").glob("image*.tiff"))
            mov = np.stack([tifffile.imread(f) for f in files])
            tifffile.imwrite(data_path / "movie.tif", mov)
            del mov
        t_stage = time.perf_counter() - t_stage
        db = {
            "data_path": [str(data_path)],
            "save_path0": str(tmp),
            "fast_disk": str(tmp),
            "input_format": "tif",
            "force_sktiff": True,  # plain (non-ScanImage) TIFFs: read with tifffile
        }
        t0 = time.perf_counter()
        suite2p.run_s2p(db=db, settings=settings)
        wall = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        plane = tmp / "suite2p" / "plane0"
        stat = np.load(plane / "stat.npy", allow_pickle=True)
        iscell = np.load(plane / "iscell.npy")
        ops = np.load(plane / "ops.npy", allow_pickle=True).item()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    found = [
        np.unique(np.ravel_multi_index((s["ypix"], s["xpix"]), SHAPE)) for s in stat
    ]
    accepted = iscell[:, 0].astype(bool) if len(found) else np.zeros(0, bool)
    truth = load_truth()
    out = {
        "tool": "suite2p",
        "suite2p": suite2p.version,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "settings": cfg,
        "input": "200 single-page TIFFs" if frames_input else "one multi-page TIFF",
        "n_rois": len(found),
        "n_iscell": int(accepted.sum()),
        "n_truth": len(truth),
    }
    for m in ("iou", "centroid"):
        out[m] = score(found, truth, SHAPE, m)
        out[m + "_iscell"] = score(
            [f for f, a in zip(found, accepted, strict=True) if a], truth, SHAPE, m
        )
    out.update(
        wall_s=round(wall, 1),
        import_s=round(t_import, 1),
        stage_s=round(t_stage, 1),
        steps_s={k: round(float(v), 1) for k, v in ops.get("plane_times", {}).items()},
        peak_rss_mb=round(rss),
        rss_after_import_mb=round(rss_import),
        spatscale_pix=int(np.asarray(ops.get("spatscale_pix", -1)).ravel()[0]),
        bin_size=int(
            settings["detection"]["bin_size"]
            or max(1, round(settings["tau"] * settings["fs"]))
        ),
    )
    return out


# --------------------------------------------------------------------------
# driver


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--sweep",
        nargs="?",
        const="all",
        choices=["all", "sparsery", "sourcery"],
        help="run the settings grid (default: both algorithms)",
    )
    p.add_argument(
        "--set",
        metavar="JSON",
        help="one run with these settings overrides (suite2p's nested keys)",
    )
    p.add_argument("--config", help=argparse.SUPPRESS)  # child: one JSON override
    p.add_argument("--no-save", action="store_true", help="do not append results")
    p.add_argument(
        "--frames-input",
        action="store_true",
        help="let suite2p read the 200 single-page TIFFs (adds ~50 s of gc.collect)",
    )
    a = p.parse_args()
    if a.config is not None:
        print(json.dumps(run_one(json.loads(a.config))))
        return
    if a.sweep:
        configs = {"sparsery": SWEEP_SPARSERY, "sourcery": SWEEP_SOURCERY}.get(
            a.sweep, SWEEP_SPARSERY + SWEEP_SOURCERY
        )
    else:
        configs = [json.loads(a.set) if a.set else {}]
    run = "sweep" if a.sweep else ("set" if a.set else "default")
    if a.frames_input:
        configs = [{**c, "frames_input": True} for c in configs]
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    rows = []
    for cfg in configs:
        proc = subprocess.run(
            [sys.executable, __file__, "--config", json.dumps(cfg)],
            stdout=subprocess.PIPE,
            text=True,
        )
        if proc.returncode:
            row = {"tool": "suite2p", "settings": cfg, "error": proc.returncode}
        else:
            row = json.loads(proc.stdout.strip().splitlines()[-1])
        row.update(run=run, date=stamp, cpus=os.cpu_count())
        print(json.dumps(row), flush=True)
        rows.append(row)
        if not a.no_save:
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            with RESULTS.open("a") as f:
                f.write(json.dumps(row) + "\n")
    ok = [r for r in rows if "error" not in r]
    if a.sweep and ok:
        for key in ("iou", "iou_iscell", "centroid", "centroid_iscell"):
            best = max(ok, key=lambda r, k=key: r[k]["f1"])
            print(json.dumps({"best_by": key, "f1": best[key]["f1"], **best}))


if __name__ == "__main__":
    main()
