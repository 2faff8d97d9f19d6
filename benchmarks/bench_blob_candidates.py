"""Experiment: filled-disc ("blob") anatomical candidates beside the ring ones.

    python benchmarks/bench_blob_candidates.py ring
    python benchmarks/bench_blob_candidates.py blob OFFSET

Segments the whole neurofinder_subset movie (``segment``, radius 5, ``n_jobs=2``)
and scores it (IoU rule) against the 330 annotated neurons, on the whole field
and on its left and right halves (by centroid column, < 256 or not), so that an
offset chosen on one half is tested on the other. ``blob`` replaces the
anatomical response :func:`neuronmf.imaging.anatomy.ring_response` by
``max(ring, blob − OFFSET)``, where ``blob`` is the contrast-normalised mean
image (clipped as for the ring) correlated with a zero-sum filled-disc template
(+1 spread over the disc ≤ 0.9 r, −1 over the surround 1.3–2 r). This is an
experiment, not the package's behaviour: it patches the module at run time.
Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import ndimage

from neuronmf.imaging import anatomy, masks_from_footprints, score, segment
from neuronmf.io.movie import load_movie

DATA = Path(os.environ.get("NEURONMF_DATA_DIR", "../shared/data"))


def blob_template(r: float) -> np.ndarray:
    h = int(np.ceil(2 * r))
    y, x = np.mgrid[-h : h + 1, -h : h + 1]
    d = np.hypot(y, x)
    disc, surround = d <= 0.9 * r, (d >= 1.3 * r) & (d <= 2 * r)
    return disc / disc.sum() - surround / surround.sum()


def ring_or_blob(offset: float):
    ring = anatomy.ring_response

    def response(image, r):
        clip = anatomy._CLIP
        Mn = np.clip(anatomy.normalise_contrast(image, r), -clip, clip)
        blob = ndimage.correlate(Mn, blob_template(r), mode="reflect")
        return np.maximum(ring(image, r), blob - offset)

    return response


def truth_masks() -> np.ndarray:
    regions = json.loads((DATA / "neurofinder_subset/regions/regions.json").read_text())
    out = np.zeros((len(regions), 512, 512), bool)
    for i, reg in enumerate(regions):
        c = np.asarray(reg["coordinates"])
        out[i, c[:, 0], c[:, 1]] = True
    return out


def main(mode: str, offset: float) -> dict:
    if mode == "blob":
        anatomy.ring_response = ring_or_blob(offset)
    truth = truth_masks()
    movie = load_movie(DATA / "neurofinder_subset/images", rate=7.0)
    warnings.simplefilter("ignore")
    t0 = time.process_time()
    seg = segment(movie, neuron_radius=5.0, n_jobs=2)
    found = masks_from_footprints(seg["footprints"].values)
    row = {"mode": mode, "offset": offset if mode == "blob" else None}
    row.update({"found": len(found), "cpu_s": round(time.process_time() - t0, 1)})
    col_t = np.array([np.nonzero(m)[1].mean() for m in truth])
    col_f = np.array([np.nonzero(m)[1].mean() for m in found])
    for name, keep_t, keep_f in [
        ("all", col_t >= 0, col_f >= 0),
        ("left", col_t < 256, col_f < 256),
        ("right", col_t >= 256, col_f >= 256),
    ]:
        s = score(found[keep_f], truth[keep_t], method="iou")
        row[name] = {k: round(float(s[k]), 3) for k in ("precision", "recall", "f1")}
    return row


if __name__ == "__main__":
    mode = sys.argv[1]
    print(json.dumps(main(mode, float(sys.argv[2]) if len(sys.argv) > 2 else 0.0)))
