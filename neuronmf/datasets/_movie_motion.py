"""Known motion for simulated movies: ``simulate_movie(..., motion=...)``.

``motion`` is a dict with any of

``"rigid"`` (px, default 0)
    Rigid translation per frame: a Gaussian random walk scaled to reach
    0.8 × N px at most, plus independent frame-to-frame jitter of up to
    0.2 × N px, per axis; |shift| ≤ N on each axis.
``"nonrigid"`` (px, default 0)
    A smooth deformation added to it: three half-cycle cosine modes across the
    field of view with zero-mean, slowly varying (smoothed random-walk)
    weights, scaled so that its largest value on either axis is M px.
``"resting"`` (default 0)
    Resting fluorescence of every neuron, in units of a unit calcium level
    (added to its calcium in the movie, not in ``truth["traces"]``). Real
    GCaMP somata are visible at rest, so the anatomy moves with the sample;
    with 0 (the simulator's default) a neuron is dark between transients and
    a frame holds little but the neuropil and the few active cells, from which
    no registration can recover subpixel shifts (docs/benchmarks.md).
``"seed"`` (int, optional)
    Seed of the motion; default: derived from the movie's seed, from its own
    stream, so the neurons, calcium and noise are those of the same movie
    without motion.

Frame ``t`` shows the sample displaced by ``d_t(p)``: the expected neuron and
neuropil signal is resampled (cubic spline) at ``p - d_t(p)`` before photon and
read noise are drawn; the vignetted background is optical and does not move.
Neurons outside the field of view are not simulated (empty tissue moves in).

The truth holds ``shifts`` (time, axis): the rigid part, and with non-rigid
motion ``motion_modes`` (mode, y, x) and ``motion_weights`` (time, mode,
axis); the displacement at pixel ``p`` of frame ``t`` is
``shifts[t] + Σ_k motion_weights[t, k] · motion_modes[k, p]``
(:func:`displacement`). A registration recovers it up to a constant
(the template's position).
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy import ndimage
from scipy.ndimage import gaussian_filter1d

from neuronmf.errors import input_error

__all__ = [
    "check_motion",
    "displacement",
    "make_motion",
    "motion_truth",
    "moving_frames",
]

_KEYS = ("rigid", "nonrigid", "resting", "seed")
N_MODES = 3


def check_motion(motion) -> dict | None:
    """The ``motion`` argument checked; None or a dict with every key."""
    if motion is None:
        return None
    if not isinstance(motion, dict):
        raise input_error(
            "motion",
            'None or a dict like {"rigid": 10, "nonrigid": 3}',
            repr(motion),
        )
    unknown = sorted(set(motion) - set(_KEYS))
    if unknown:
        raise input_error("motion keys", f"among {list(_KEYS)}", unknown)
    out = {}
    for k in ("rigid", "nonrigid", "resting"):
        v = motion.get(k, 0.0)
        if (
            isinstance(v, bool)
            or not isinstance(v, numbers.Real)
            or not np.isfinite(v)
            or v < 0
        ):
            raise input_error(f"motion[{k!r}]", "a number of pixels >= 0", repr(v))
        out[k] = float(v)
    seed = motion.get("seed")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
    ):
        raise input_error('motion["seed"]', "an integer or None", repr(seed))
    out["seed"] = seed
    return out


def make_motion(motion: dict, T: int, ny: int, nx: int, seed) -> dict:
    """Rigid shifts (T, 2), modes (K, ny, nx) and weights (T, K, 2)."""
    s = motion["seed"]
    if s is None:
        s = [0 if seed is None else int(seed), 7919]
    rng = np.random.default_rng(s)
    rigid = np.zeros((T, 2))
    if motion["rigid"] > 0:
        walk = np.cumsum(rng.standard_normal((T, 2)), axis=0)
        walk -= walk.mean(axis=0)
        walk /= np.maximum(np.abs(walk).max(axis=0), 1e-12)
        jitter = rng.uniform(-1, 1, (T, 2))
        rigid = motion["rigid"] * (0.8 * walk + 0.2 * jitter)
    yy, xx = np.mgrid[:ny, :nx].astype(float)
    yn, xn = yy / max(ny - 1, 1), xx / max(nx - 1, 1)
    modes = np.zeros((N_MODES, ny, nx))
    weights = np.zeros((T, N_MODES, 2))
    if motion["nonrigid"] > 0:
        for k in range(N_MODES):
            a, b = rng.uniform(-1, 1, 2)
            modes[k] = np.cos(np.pi * (a * yn + b * xn) + rng.uniform(0, 2 * np.pi))
        w = np.cumsum(rng.standard_normal((T, N_MODES, 2)), axis=0)
        w = gaussian_filter1d(w, max(1.0, T / 50), axis=0)
        w -= w.mean(axis=0)
        peak = max(
            np.abs(np.einsum("kyx,k->yx", modes, w[t, :, a])).max()
            for t in range(T)
            for a in range(2)
        )
        weights = w * (motion["nonrigid"] / max(peak, 1e-12))
    return {
        "rigid": rigid,
        "modes": modes,
        "weights": weights,
        "resting": motion["resting"],
    }


def displacement(truth, frames=None) -> np.ndarray:
    """(time, y, x, axis) displacement of the simulated sample (float32).

    ``truth``: the ``truth`` of ``simulate_movie(..., motion=...)``; ``frames``:
    indices (default all; mind the size).
    """
    rigid = np.asarray(truth["shifts"].values)
    idx = np.arange(len(rigid)) if frames is None else np.asarray(frames)
    ny, nx = truth.sizes["y"], truth.sizes["x"]
    out = np.broadcast_to(rigid[idx, None, None, :], (len(idx), ny, nx, 2))
    out = np.array(out, np.float32)
    if "motion_modes" in truth:
        modes = truth["motion_modes"].values
        w = truth["motion_weights"].values[idx]
        out += np.einsum("kyx,tka->tyxa", modes, w).astype(np.float32)
    return out


def moving_frames(m: dict, brightness_neurons, bg_img, drift, npil_img, npil_t):
    """Expected photons (T, y, x) of a moving sample (see the module docstring).

    ``brightness_neurons`` (T, y, x) is the neuron signal of the still sample;
    it is overwritten frame by frame (it is a temporary of ``_frames``).
    """
    T, ny, nx = brightness_neurons.shape
    yy, xx = np.mgrid[:ny, :nx].astype(float)
    out = brightness_neurons
    npil_coef = ndimage.spline_filter(npil_img, order=3, mode="reflect")
    for t in range(T):
        dy = m["rigid"][t, 0] + np.einsum(
            "kyx,k->yx", m["modes"], m["weights"][t, :, 0]
        )
        dx = m["rigid"][t, 1] + np.einsum(
            "kyx,k->yx", m["modes"], m["weights"][t, :, 1]
        )
        coords = np.stack([yy - dy, xx - dx])
        neurons = ndimage.map_coordinates(
            out[t], coords, order=3, mode="constant", cval=0.0
        )
        npil = ndimage.map_coordinates(
            npil_coef, coords, order=3, mode="reflect", prefilter=False
        )
        out[t] = np.maximum(neurons, 0.0) + bg_img * drift[t] + npil * npil_t[t]
    return out


def motion_truth(truth, moves: dict, motion: dict) -> dict:
    """Add the known motion to ``truth`` (in place); the motion for ``params``."""
    truth["shifts"] = (("time", "axis"), moves["rigid"])
    if motion["nonrigid"] > 0:
        truth["motion_modes"] = (("mode", "y", "x"), moves["modes"])
        truth["motion_weights"] = (("time", "mode", "axis"), moves["weights"])
    truth.attrs["motion"] = (
        f"rigid {motion['rigid']} px, nonrigid {motion['nonrigid']} px"
    )
    return dict(motion)
