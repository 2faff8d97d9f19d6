"""suite2p 1.1.0's full pipeline on the movie of ``bench_pipeline.py prepare``.

Usage (suite2p lives only in its own virtual environment)::

    python benchmarks/bench_pipeline.py prepare /tmp/pipe --frames 1000
    /work/bench-venv-s2p/bin/python benchmarks/bench_pipeline_suite2p.py /tmp/pipe

One ``suite2p.run_s2p`` call in a child process on ``movie.tif`` (the same
multi-page TIFF neuronmf reads): registration on (suite2p's defaults: rigid +
nonrigid blocks), detection, extraction, neuropil, deconvolution and its
classifier, CPU, with suite2p's defaults except ``fs`` = 10 Hz, ``tau`` = 0.7 s
(the simulation's decay) and ``diameter`` = 10 px (the neurons' size, radius
5). Wall time, CPU time (user + system) and peak RSS of the child are measured
with ``getrusage(RUSAGE_CHILDREN)`` around it (the RSS after importing suite2p
and torch is reported beside). ROIs (``stat.npy``) are scored with
``bench_suite2p.score`` (the same rules and arithmetic as
``neuronmf.imaging.score``), all ROIs and those its classifier accepts, against
the truth moved by ``bench_pipeline.best_offset`` (the same rule as for
neuronmf).
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import (
    RESULTS,
    _provenance,
    best_offset,
    load_truth,
    moved,
    timed_child,
)
from bench_suite2p import score

SETTINGS = {"torch_device": "cpu", "fs": 10.0, "tau": 0.7, "diameter": [10.0, 10.0]}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and k in out else v
    return out


def child(folder: Path) -> None:
    import suite2p

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    work = folder / "suite2p_run"
    shutil.rmtree(work, ignore_errors=True)
    data = work / "input"
    data.mkdir(parents=True)
    (data / "movie.tif").symlink_to(folder / "movie.tif")
    settings = _merge(suite2p.default_settings(), SETTINGS)
    settings["run"]["do_registration"] = 1
    db = {
        "data_path": [str(data)],
        "save_path0": str(work),
        "fast_disk": str(work),
        "input_format": "tif",
        "force_sktiff": True,
    }
    t0 = time.perf_counter()
    suite2p.run_s2p(db=db, settings=settings)
    ops = np.load(work / "suite2p" / "plane0" / "ops.npy", allow_pickle=True).item()
    print(
        json.dumps(
            {
                "suite2p": suite2p.version,
                "run_s2p_s": round(time.perf_counter() - t0, 1),
                "rss_after_import_mb": round(rss0),
                "nonrigid": bool(settings["registration"]["nonrigid"]),
                "steps_s": {
                    k: round(float(v), 1) for k, v in ops.get("plane_times", {}).items()
                },
            }
        )
    )


def main(folder: Path) -> None:
    row = {"tool": "suite2p full pipeline", "settings": SETTINGS, **_provenance()}
    t = timed_child([sys.executable, __file__, "_child", str(folder)])
    row.update(json.loads(t.pop("stdout_tail")[0]))
    row.update(t)
    plane = folder / "suite2p_run" / "suite2p" / "plane0"
    stat = np.load(plane / "stat.npy", allow_pickle=True)
    iscell = np.load(plane / "iscell.npy")
    truth = load_truth(folder)
    shape = truth.shape[1:]
    found = [
        np.unique(np.ravel_multi_index((s["ypix"], s["xpix"]), shape)) for s in stat
    ]
    union = np.zeros(shape, bool)
    for f in found:
        union.flat[f] = True
    c = best_offset(union, truth.any(0))
    tm = moved(truth, c)
    tpix = [np.flatnonzero(m) for m in tm]
    ok = iscell[:, 0].astype(bool) if len(found) else np.zeros(0, bool)
    nframes = np.load(plane / "ops.npy", allow_pickle=True).item()["nframes"]
    row["shape"] = [int(nframes), *shape]
    row["truth_offset_px"] = list(c)
    row["n_rois"], row["n_iscell"] = len(found), int(ok.sum())
    for m in ("iou", "centroid"):
        row[m] = score(found, tpix, shape, m)
        row[m + "_iscell"] = score(
            [f for f, a in zip(found, ok, strict=True) if a], tpix, shape, m
        )
    print(json.dumps(row), flush=True)
    with RESULTS.open("a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "_child":
        child(Path(sys.argv[2]))
    else:
        main(Path(sys.argv[1]))
