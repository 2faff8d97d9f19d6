"""Segmentation F1 after registration, inside the region every frame covers.

    python benchmarks/bench_register_region.py SEED rigid10|nonrigid3

Registers a simulated moving movie (128² × 600, 40 neurons, ``resting`` 0.5, as
``bench_register.py f1``), segments ``reg["corrected"].isel(**valid_region(reg))``,
and scores it against the truth neurons whose centroid lies in that region; the
motion-free movie with the same seed is segmented and scored on the same region.
Prints one JSON line.
"""

import json, sys, numpy as np, warnings

sys.path.insert(0, "benchmarks")
warnings.simplefilter("ignore")
from bench_register import _moved, RADIUS
from neuronmf.datasets import simulate_movie
from neuronmf.imaging import register, score, segment, valid_region, to_full_frame

seed = int(sys.argv[1])
label = sys.argv[2]
args = ((128, 128), 600, 40, RADIUS)
motion = (
    {"rigid": 10, "resting": 0.5}
    if label == "rigid10"
    else {"rigid": 10, "nonrigid": 3, "resting": 0.5}
)
method = "rigid" if label == "rigid10" else "piecewise"
still = simulate_movie(*args, seed=seed, motion={"rigid": 0, "resting": 0.5})
sim = simulate_movie(*args, seed=seed, motion=motion)
reg = register(sim.data, method=method)
region = valid_region(reg)
shifts = reg["shifts"].values.reshape(len(sim.data), -1, 2).mean(axis=1)
c = np.rint((sim.truth["shifts"].values - shifts).mean(0)).astype(int)
masks = _moved(sim.truth["masks"].values, c)
inner = reg["corrected"].isel(**region)
seg = to_full_frame(segment(inner, neuron_radius=RADIUS), reg["corrected"], region)
y0, y1 = region["y"].start, region["y"].stop
x0, x1 = region["x"].start, region["x"].stop


def inside(m):
    cy, cx = [np.array([np.nonzero(k)[a].mean() for k in m]) for a in (0, 1)]
    return (cy >= y0) & (cy < y1) & (cx >= x0) & (cx < x1)


keep = inside(masks)
f_reg = score(seg, masks[keep])["f1"]
# still movie, same region (in the still frame: undo the template offset)
smasks = still.truth["masks"].values
sseg = segment(still.data, neuron_radius=RADIUS)
region_s = {"y": slice(y0 - c[0], y1 - c[0]), "x": slice(x0 - c[1], x1 - c[1])}
sseg_in = to_full_frame(
    segment(still.data.isel(**region_s), neuron_radius=RADIUS), still.data, region_s
)
keep_s = inside(_moved(smasks, c))
f_still_all = score(sseg, smasks)["f1"]
f_still_in = score(sseg_in, smasks[keep_s])["f1"]
print(
    json.dumps(
        {
            "seed": seed,
            "case": label,
            "region": [y0, y1, x0, x1],
            "template_offset": c.tolist(),
            "truth_inside": int(keep.sum()),
            "of": len(keep),
            "f1_registered_in_region": round(f_reg, 3),
            "f1_still_same_region": round(f_still_in, 3),
            "f1_still_whole": round(f_still_all, 3),
        }
    ),
    flush=True,
)
