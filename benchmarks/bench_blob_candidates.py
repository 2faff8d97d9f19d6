"""Filled-disc ("blob") anatomical candidates beside the ring ones.

    python benchmarks/bench_blob_candidates.py package
    python benchmarks/bench_blob_candidates.py ring
    python benchmarks/bench_blob_candidates.py blob OFFSET

``package`` is ``segment`` as it is: since session 13 its anatomical response is
:func:`neuronmf.imaging.anatomy.soma_response`, ``max(ring, disc − 1)``, and its
candidates must also stand 6 × out of the mean image's noise. ``ring`` and
``blob`` are the session-12 experiment (run before either change; on today's
package they set the disc's offset, ∞ for the ring alone, and keep the noise
test).

Segments the whole neurofinder_subset movie (``segment``, radius 5, ``n_jobs=2``)
and scores it (IoU rule) against the 330 annotated neurons, on the whole field
and on its left and right halves (by centroid column, < 256 or not), so that an
offset chosen on one half is tested on the other. ``blob`` makes the
anatomical response ``max(ring, disc − OFFSET)``, where ``disc`` is the
contrast-normalised mean image (clipped as for the ring) correlated with the
zero-sum filled-disc template (+1 spread over the disc ≤ 0.9 r, −1 over the
surround 1.3–2 r; :func:`neuronmf.imaging.anatomy.disc_template`). Prints one
JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from neuronmf.imaging import anatomy, masks_from_footprints, score, segment
from neuronmf.io.movie import load_movie

DATA = Path(os.environ.get("NEURONMF_DATA_DIR", "../shared/data"))


def truth_masks() -> np.ndarray:
    regions = json.loads((DATA / "neurofinder_subset/regions/regions.json").read_text())
    out = np.zeros((len(regions), 512, 512), bool)
    for i, reg in enumerate(regions):
        c = np.asarray(reg["coordinates"])
        out[i, c[:, 0], c[:, 1]] = True
    return out


def main(mode: str, offset: float) -> dict:
    if mode == "ring":
        anatomy._DISC_OFFSET = np.inf
    elif mode == "blob":
        anatomy._DISC_OFFSET = offset
    truth = truth_masks()
    movie = load_movie(DATA / "neurofinder_subset/images", rate=7.0)
    warnings.simplefilter("ignore")
    t0 = time.process_time()
    seg = segment(movie, neuron_radius=5.0, n_jobs=2)
    found = masks_from_footprints(seg["footprints"].values)
    row = {"mode": mode, "offset": offset if mode == "blob" else None}
    row["anatomy"] = int((seg.origin.values == "anatomy").sum())
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
