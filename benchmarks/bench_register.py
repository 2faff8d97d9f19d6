"""neuronmf.imaging.register on simulated motion: error, speed, memory, F1.

Usage::

    python benchmarks/bench_register.py prepare /tmp/regbench   # the movies (once)
    python benchmarks/bench_register.py run /tmp/regbench       # error, fps, RSS
    python benchmarks/bench_register.py subpixel                # dft/parabola/none
    python benchmarks/bench_register.py f1                      # segment F1
    python benchmarks/bench_register.py neurofinder             # the real movie
    /work/bench-venv-s2p/bin/python benchmarks/bench_register_suite2p.py /tmp/regbench

``prepare`` writes two simulated movies (``simulate_movie`` with
``motion={"rigid": 10, "resting": 0.5}`` and ``{"rigid": 10, "nonrigid": 3,
"resting": 0.5}``; 256 x 256 px, 1,000 frames, 160 neurons of radius 4, seed 1)
as ``.npy`` (uint16) with their true displacements, so that suite2p's script
registers the very same frames. ``run`` registers each in a fresh child
process (its peak RSS, ``getrusage``, is its own; the movie is loaded before
the clock starts) and prints one JSON line per case, appended to
``benchmarks/results/register.jsonl``.

Error: the registration recovers the displacement up to the template's own
position, so the mean difference (a constant per axis) is removed first. Rigid:
RMSE over frames and both axes. Piecewise: the true displacement at each
patch centre against the patch shifts ("at centres"), and the whole
interpolated field against the true field inside a 10 px border ("field").
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "register.jsonl"
SHAPE, FRAMES, NEURONS, RADIUS = (256, 256), 1000, 160, 4.0
CASES = {
    "rigid": {"rigid": 10, "resting": 0.5},
    "nonrigid": {"rigid": 10, "nonrigid": 3, "resting": 0.5},
}


def prepare(folder: Path) -> None:
    from neuronmf.datasets import simulate_movie
    from neuronmf.datasets._movie_motion import displacement

    folder.mkdir(parents=True, exist_ok=True)
    for name, motion in CASES.items():
        sim = simulate_movie(SHAPE, FRAMES, NEURONS, RADIUS, seed=1, motion=motion)
        np.save(folder / f"{name}.npy", sim.data.values)
        field = displacement(sim.truth)  # (T, y, x, 2) float32
        np.save(folder / f"{name}_field.npy", field)
        np.save(folder / f"{name}_shifts.npy", sim.truth["shifts"].values)
        print(name, sim.data.shape, "max |shift|", np.abs(field).max(), flush=True)


def _rmse(est, true) -> float:
    d = np.asarray(est, float) - np.asarray(true, float)
    d -= d.reshape(-1, 2).mean(axis=0)
    return float(np.sqrt((d**2).mean()))


def run_case(folder: Path, name: str, method: str) -> dict:
    from neuronmf.imaging import register
    from neuronmf.imaging._register_warp import PatchGrid

    mov = np.load(folder / f"{name}.npy")
    field = np.load(folder / f"{name}_field.npy", mmap_mode="r")
    t0 = time.perf_counter()
    reg = register(mov, method=method)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {
        "tool": "neuronmf",
        "movie": name,
        "method": method,
        "shape": list(mov.shape),
        "wall_s": round(wall, 2),
        "fps": round(mov.shape[0] / wall, 1),
        "peak_rss_mb": round(rss),
        "crispness_before": round(reg.attrs["crispness_before"], 1),
        "crispness_after": round(reg.attrs["crispness_after"], 1),
    }
    if method == "rigid":
        est = reg["shifts"].values
        if name == "rigid":
            out["rmse_px"] = round(
                _rmse(est, np.load(folder / f"{name}_shifts.npy")), 4
            )
        else:
            full = np.broadcast_to(est[:, None, None], field.shape)
            inner = (slice(None), slice(10, -10), slice(10, -10))
            out["rmse_field_px"] = round(_rmse(full[inner], field[inner]), 4)
        return out
    prm = json.loads(reg.attrs["params"])
    g = PatchGrid(mov.shape[1:], prm["patch"], prm["overlap"])
    cy, cx = np.rint(g.cy).astype(int), np.rint(g.cx).astype(int)
    at = np.asarray(field[:, cy][:, :, cx])  # (T, npy, npx, 2)
    out["rmse_centres_px"] = round(_rmse(reg["shifts"].values, at), 4)
    est = np.stack([np.moveaxis(g.field(s), 0, -1) for s in reg["shifts"].values])
    out["rmse_field_px"] = round(_rmse(est[:, 10:-10, 10:-10],
                                       field[:, 10:-10, 10:-10]), 4)  # fmt: skip
    return out


def run(folder: Path) -> None:
    import neuronmf

    for name, method in [("rigid", "rigid"), ("nonrigid", "rigid"),
                         ("nonrigid", "piecewise")]:  # fmt: skip
        cmd = [sys.executable, __file__, "_case", str(folder), name, method]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        res = json.loads(proc.stdout.splitlines()[-1])
        res["version"] = neuronmf.__version__
        print(json.dumps(res), flush=True)
        RESULTS.parent.mkdir(exist_ok=True)
        with open(RESULTS, "a") as f:
            f.write(json.dumps(res) + "\n")


def subpixel() -> None:
    """Subpixel refinements and whitening exponents on 4 simulated movies."""
    from neuronmf.datasets import simulate_movie
    from neuronmf.imaging import register

    sims = [
        simulate_movie((s, s), t, n, seed=seed, motion={"rigid": 10, "resting": 0.5})
        for seed, s, t, n in [(2, 128, 200, 40), (3, 128, 200, 40),
                              (6, 128, 200, 40), (4, 256, 150, 160)]
    ]  # fmt: skip
    for kw in [{"subpixel": "dft"}, {"subpixel": "parabola"}, {"subpixel": "none"},
               {"whiten": 0.0}, {"whiten": 1.0}, {"resting": 0.0}]:  # fmt: skip
        errs = []
        for sim in sims:
            if "resting" in kw:
                sim = simulate_movie(sim.data.shape[1:], sim.data.shape[0],
                                     sim.truth.sizes["neuron"],
                                     seed=int(sim.params["seed"]),
                                     motion={"rigid": 10})  # fmt: skip
                reg = register(sim.data)
            else:
                reg = register(sim.data, **kw)
            errs.append(round(_rmse(reg["shifts"], sim.truth["shifts"]), 3))
        print(json.dumps({"options": kw, "rmse_px": errs}), flush=True)


def _moved(masks: np.ndarray, c) -> np.ndarray:
    """Masks moved by the integer offset ``c`` (y, x), zero-filled."""
    out = np.zeros_like(masks)
    (dy, dx), (_, ny, nx) = c, masks.shape
    ys, yd = slice(max(0, -dy), ny - max(0, dy)), slice(max(0, dy), ny - max(0, -dy))
    xs, xd = slice(max(0, -dx), nx - max(0, dx)), slice(max(0, dx), nx - max(0, -dx))
    out[:, yd, xd] = masks[:, ys, xs]
    return out


def f1() -> None:
    """Segmentation F1 on the still movie and after registering the moving one."""
    from neuronmf.datasets import simulate_movie
    from neuronmf.imaging import register, score, segment

    for seed in (1, 2):
        base = {"rigid": 0, "resting": 0.5}
        args = ((128, 128), 600, 40, RADIUS)
        still = simulate_movie(*args, seed=seed, motion=base)
        f_still = score(segment(still.data, neuron_radius=RADIUS), still.truth)["f1"]
        row = {"seed": seed, "still": round(f_still, 3)}
        for label, motion, method in [
            ("rigid10", {"rigid": 10, "resting": 0.5}, "rigid"),
            ("nonrigid3", {"rigid": 10, "nonrigid": 3, "resting": 0.5}, "piecewise"),
        ]:
            sim = simulate_movie(*args, seed=seed, motion=motion)
            raw = score(segment(sim.data, neuron_radius=RADIUS), sim.truth)["f1"]
            reg = register(sim.data, method=method)
            shifts = reg["shifts"].values.reshape(len(sim.data), -1, 2).mean(axis=1)
            # the template sits where the sample was on average: the truth is
            # moved there (the integer part of the mean offset) to be scored
            c = np.rint((sim.truth["shifts"].values - shifts).mean(0)).astype(int)
            masks = _moved(sim.truth["masks"].values, c)
            moved = segment(reg["corrected"], neuron_radius=RADIUS)
            row[label] = {
                "raw": round(raw, 3),
                "registered": round(score(moved, masks)["f1"], 3),
                "template_offset_px": c.tolist(),
            }
        print(json.dumps(row), flush=True)


def neurofinder() -> None:
    """Register neurofinder_subset (already registered by its authors)."""
    import os

    from neuronmf.imaging import register
    from neuronmf.io import load_movie

    root = Path(os.environ.get("NEURONMF_DATA_DIR", "/work/shared/data"))
    mov = load_movie(root / "neurofinder_subset" / "images")
    for method in ("rigid", "piecewise"):
        t0 = time.perf_counter()
        reg = register(mov, method=method)
        wall = time.perf_counter() - t0
        s = reg["shifts"].values.reshape(len(mov), -1, 2)
        rig = (reg["rigid_shifts"] if "rigid_shifts" in reg else reg["shifts"]).values
        dev = np.abs(s - np.median(s, axis=0)).max()
        row = {
            "method": method,
            "wall_s": round(wall, 1),
            "fps": round(len(mov) / wall, 1),
            "rigid_shift_sd_px": rig.std(0).round(3).tolist(),
            "rigid_shift_range_px": [
                rig.min(0).round(2).tolist(),
                rig.max(0).round(2).tolist(),
            ],
            "max_abs_patch_shift_minus_median": round(float(dev), 2),
            "patch_shift_sd_px": round(float(s.std(0).mean()), 3),
            "corr_before_mean": round(float(reg["correlation_before"].mean()), 4),
            "corr_after_mean": round(float(reg["correlation"].mean()), 4),
            "crispness_before": round(reg.attrs["crispness_before"], 1),
            "crispness_after": round(reg.attrs["crispness_after"], 1),
            "peak_rss_mb": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            ),
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "run"
    if cmd == "prepare":
        prepare(Path(sys.argv[2]))
    elif cmd == "run":
        run(Path(sys.argv[2]))
    elif cmd == "_case":
        print(json.dumps(run_case(Path(sys.argv[2]), sys.argv[3], sys.argv[4])))
    elif cmd == "subpixel":
        subpixel()
    elif cmd == "f1":
        f1()
    elif cmd == "neurofinder":
        neurofinder()
