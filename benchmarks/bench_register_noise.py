"""imaging.register: the noise resampling leaves; where piecewise error comes from.

Usage::

    python benchmarks/bench_register_noise.py noise           # white noise, 512² frames
    python benchmarks/bench_register_noise.py resample SEED   # still movie, segment F1
    python benchmarks/bench_register_noise.py patches SEED '{"patch": 64}' ...

``noise``: 32 frames of white noise moved by random rigid shifts in ±10 px and
corrected by each interpolation; the correlation of neighbouring pixels (y, x),
the variance (1 before) and the CPU time of the correction per frame; then
the same frames warped by a non-rigid field (the rigid shift plus a smooth
±3 px field, as piecewise registration does) with each kernel: the same
statistics and the CPU time of ``warp_frame`` per frame.
``resample``: the motion-free 128² × 600 movie of ``bench_register.py f1``
moved by half a pixel (or jittered by a random ±0.5 px per frame) with cubic and
Fourier resampling, then segmented and scored (all in one process, so the
``segment`` code is the same for every row). ``patches``: piecewise registration
of the 128² × 600 movie with rigid 10 + non-rigid 3 px motion, per variant of
``register``'s options: RMSE at the patch centres (the true displacement there),
its time SD per patch (the frame-to-frame jitter), the field RMSE, the floor of
the field model (the true centre values interpolated like the estimates), and
the slope of the estimated against the true shift relative to each patch's cut
position. Prints JSON lines; results in docs/benchmarks.md ("Registration
accuracy and resampled noise").
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_register import RADIUS


def noise() -> None:
    from neuronmf.imaging import _register_core as core

    rng = np.random.default_rng(0)
    n = 32
    X = rng.standard_normal((n, 512, 512)).astype(np.float32)
    sh = rng.uniform(-10, 10, (n, 2))
    for name, order, fourier in [("fourier", 3, True), ("cubic", 3, False),
                                 ("lanczos", 6, False),
                                 ("bilinear", 1, False)]:  # fmt: skip
        o = core.Options("rigid", 77, 128, 64, 3, "dft", 10, 0.5, 1.0, order, 0.0,
                         fourier)  # fmt: skip
        al = core.Aligner.__new__(core.Aligner)
        al.opts, al.grid = o, None
        al.correct(X[:2], sh[:2], None)  # compile / warm up
        cpu = []
        for _ in range(3):
            c = time.process_time()
            Z = al.correct(X, sh, None)
            cpu.append((time.process_time() - c) / n * 1e3)
        row = {"interpolation": name, **_stats(Z)}
        row["cpu_ms_per_frame"] = round(min(cpu), 2)
        print(json.dumps(row), flush=True)
    warp(X, sh)


def _stats(Z: np.ndarray) -> dict:
    z = Z[:, 20:-20, 20:-20]
    v = float(z.var())
    z = (z - z.mean()) / z.std()
    return {
        "corr_y": round(float((z[:, 1:] * z[:, :-1]).mean()), 4),
        "corr_x": round(float((z[:, :, 1:] * z[:, :, :-1]).mean()), 4),
        "variance": round(v, 4),
    }


def warp(X: np.ndarray, sh: np.ndarray) -> None:
    from neuronmf.imaging import _register_kernels as k

    n, ny, nx = X.shape
    yy, xx = np.mgrid[:ny, :nx] / 512.0
    fields = []
    for i, (sy, sx) in enumerate(sh):
        a, b = np.random.default_rng(i).uniform(0, 2 * np.pi, 2)
        fy = sy + 3 * np.sin(2 * np.pi * yy + a) * np.cos(np.pi * xx)
        fx = sx + 3 * np.cos(np.pi * yy) * np.sin(2 * np.pi * xx + b)
        fields.append(np.stack([fy, fx]).astype(np.float32))
    for name, kind in [("cubic", 3), ("lanczos", 6), ("bilinear", 1)]:
        Z = np.empty_like(X)
        k.warp_frame(X[0], fields[0][0], fields[0][1], kind, Z[0])  # compile
        cpu = []
        for _ in range(3):
            c = time.process_time()
            for i in range(n):
                k.warp_frame(X[i], fields[i][0], fields[i][1], kind, Z[i])
            cpu.append((time.process_time() - c) / n * 1e3)
        row = {"warp": name, **_stats(Z), "cpu_ms_per_frame": round(min(cpu), 2)}
        print(json.dumps(row), flush=True)


def resample(seed: int) -> None:
    from neuronmf.datasets import simulate_movie
    from neuronmf.imaging import _register_warp as wp
    from neuronmf.imaging import score, segment

    sim = simulate_movie((128, 128), 600, 40, RADIUS, seed=seed,
                         motion={"rigid": 0, "resting": 0.5})  # fmt: skip
    Y = sim.data.values.astype(np.float32)
    half = np.full((len(Y), 2), 0.5)
    jitter = np.random.default_rng(5).uniform(-0.5, 0.5, (len(Y), 2))

    def cubic(s):
        return np.stack([wp.shift_rigid(y, v, 3) for y, v in zip(Y, s, strict=True)])

    cases = {
        "as simulated": lambda: Y,
        "half a pixel, cubic": lambda: cubic(half),
        "half a pixel, fourier": lambda: wp.shift_fourier(Y, half),
        "jitter, cubic": lambda: cubic(jitter),
        "jitter, fourier": lambda: wp.shift_fourier(Y, jitter),
    }
    for name, make in cases.items():
        seg = segment(sim.data.copy(data=make()), neuron_radius=RADIUS)
        s = score(seg, sim.truth["masks"].values)
        print(json.dumps({"seed": seed, "movie": name, "f1": round(s["f1"], 3),
                          "found": int(seg.sizes["neuron"])}), flush=True)  # fmt: skip


def _rmse(d) -> float:
    d = d - d.reshape(-1, 2).mean(0)
    return float(np.sqrt((d**2).mean()))


def patches(seed: int, variants: list[dict]) -> None:
    from neuronmf.datasets import simulate_movie
    from neuronmf.datasets._movie_motion import displacement
    from neuronmf.imaging import register
    from neuronmf.imaging._register_warp import PatchGrid

    motion = {"rigid": 10, "nonrigid": 3, "resting": 0.5}
    sim = simulate_movie((128, 128), 600, 40, RADIUS, seed=seed, motion=motion)
    true = displacement(sim.truth)  # (T, y, x, 2)
    b = slice(10, -10)
    for kw in variants or [{}]:
        reg = register(sim.data, method="piecewise", **kw)
        prm = json.loads(reg.attrs["params"])
        g = PatchGrid(true.shape[1:3], prm["patch"], prm["overlap"])
        cy, cx = np.rint(g.cy).astype(int), np.rint(g.cx).astype(int)
        at = true[:, cy][:, :, cx]
        sh = reg["shifts"].values
        est = np.stack([np.moveaxis(g.field(s), 0, -1) for s in sh])
        floor = np.stack([np.moveaxis(g.field(s), 0, -1) for s in at])
        off = (at - sh).reshape(-1, 2).mean(0)
        cut = np.rint(reg["rigid_shifts"].values)[:, None, None, :]
        slope = np.polyfit((at - off - cut).ravel(), (sh - cut).ravel(), 1)[0]
        row = {
            "options": kw,
            "rmse_centres": round(_rmse(at - sh), 4),
            "jitter": round(float((at - sh).std(0).mean()), 3),
            "rmse_field": round(_rmse(est[:, b, b] - true[:, b, b]), 4),
            "field_model_floor": round(_rmse(floor[:, b, b] - true[:, b, b]), 4),
            "slope": round(float(slope), 3),
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    cmd = sys.argv[1] if len(sys.argv) > 1 else "noise"
    if cmd == "noise":
        noise()
    elif cmd == "resample":
        resample(int(sys.argv[2]))
    elif cmd == "patches":
        patches(int(sys.argv[2]), [json.loads(a) for a in sys.argv[3:]])
