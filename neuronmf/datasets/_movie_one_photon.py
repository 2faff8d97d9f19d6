"""One-photon (endoscope, wide-field) movies: ``simulate_movie(one_photon=True)``.

A miniscope sees every neuron through a wide-field blur and on top of a
background many times brighter than the neurons, which is spatially
structured and fluctuates slowly on its own (out-of-focus tissue, blood
vessels): the case CNMF-E's ring model was built for (Zhou et al. 2018,
eLife 7:e28728). This module adds that to :func:`simulate_movie`; the neurons,
their calcium and the two-photon-like noise model are the plain simulator's.

The background (expected photons per pixel and frame) is the sum of

* a static field: :data:`LEVEL` × ``brightness`` on average, smooth (Gaussian
  noise filtered at σ = 4 radii, values 0.6–1.0 of the level) and vignetted;
* large blurred blobs, one per (6 radii)² of field (at least 3), σ = 2–5
  radii, peak 2–6 × ``brightness``, each with its own slow time course
  (smoothed Gaussian noise, time scale 1–4 s, ±50 %);
* dark blood vessels, one per 16 radii of the field's side (at least 1):
  smooth curves 1–2 px wide that absorb 10–50 % of the static field, the
  absorption fluctuating on its own time scale (0.5–2 s).

So the background is 5–20 × the neurons' peak brightness and its
fluctuations are as large as a neuron's transients; the footprints are blurred
by a Gaussian of σ = :data:`BLUR` × radius (renormalised to peak 1) and the
ground truth holds these blurred footprints.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.ndimage import gaussian_filter, gaussian_filter1d

from neuronmf.errors import input_error

__all__ = ["BLUR", "LEVEL", "check_flag", "one_photon_frames"]

#: Mean of the static background, in units of ``brightness``.
LEVEL = 10.0
#: Wide-field blur of the footprints (Gaussian σ, in neuron radii).
BLUR = 0.4


def check_flag(name: str, value) -> bool:
    """``value`` if it is a bool (NumPy's too), else an ``InputError``."""
    if not isinstance(value, bool | np.bool_):
        raise input_error(name, "True or False", repr(value))
    return bool(value)


def _slow(rng, T: int, rate: float, seconds: tuple[float, float]) -> np.ndarray:
    """Smooth zero-mean unit-SD noise (T,) with a random time scale in ``seconds``."""
    z = gaussian_filter1d(rng.standard_normal(T), rng.uniform(*seconds) * rate)
    return (z - z.mean()) / max(z.std(), 1e-12)


def _blobs(rng, shape, radius: float, T: int, rate: float, brightness: float):
    """Blob maps (n, y, x) at peak amplitude and their time courses (n, T)."""
    ny, nx = shape
    n = max(3, round(ny * nx / (6 * radius) ** 2))
    yy, xx = np.mgrid[:ny, :nx].astype(float)
    maps = np.empty((n, ny, nx))
    courses = np.empty((n, T))
    for i in range(n):
        cy, cx = rng.uniform(0, ny), rng.uniform(0, nx)
        s = rng.uniform(2, 5) * radius
        amp = rng.uniform(2, 6) * brightness
        maps[i] = amp * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
        courses[i] = np.maximum(1 + 0.5 * _slow(rng, T, rate, (1.0, 4.0)), 0)
    return maps, courses


def _vessels(rng, shape, radius: float, T: int, rate: float):
    """Vessel profiles (n, y, x) in [0, 1] and absorption time courses (n, T)."""
    ny, nx = shape
    n = max(1, round(max(ny, nx) / (16 * radius)))
    yy, xx = np.mgrid[:ny, :nx].astype(float)
    maps = np.empty((n, ny, nx))
    courses = np.empty((n, T))
    for i in range(n):
        # a wavy curve across the field: x = x0 + slope·y + a·sin(2π y / λ + φ)
        x0, slope = rng.uniform(0.2, 0.8) * nx, rng.uniform(-0.5, 0.5)
        amp, lam = rng.uniform(2, 6) * radius, rng.uniform(0.5, 1.5) * ny
        phi = rng.uniform(0, 2 * np.pi)
        path = x0 + slope * (yy - ny / 2) + amp * np.sin(2 * np.pi * yy / lam + phi)
        width = rng.uniform(1.0, 2.0)
        if rng.uniform() < 0.5:  # some run along x instead
            path = x0 * ny / nx + slope * (xx - nx / 2)
            path = path + amp * np.sin(2 * np.pi * xx / lam + phi)
            maps[i] = np.exp(-((yy - path) ** 2) / (2 * width**2))
        else:
            maps[i] = np.exp(-((xx - path) ** 2) / (2 * width**2))
        depth = rng.uniform(0.1, 0.5)
        courses[i] = np.clip(depth * (1 + 0.4 * _slow(rng, T, rate, (0.5, 2.0))), 0, 1)
    return maps, courses


def one_photon_frames(
    rng: np.random.Generator,
    A: np.ndarray,
    C: np.ndarray,
    radius: float,
    rate: float,
    brightness: float,
    frames: Callable,
    frame_args: tuple,
):
    """Blurred footprints and the one-photon movie (see the module docstring).

    ``frames(rng, A_blurred, C, rate, brightness, *frame_args)`` is the plain
    simulator's frame maker (neurons, its two-photon-like background and
    neuropil, shot and read noise); the one-photon background is added as
    further Poisson counts (a sum of Poisson counts is Poisson with the summed
    mean, so the noise model is exact).

    Returns
    -------
    A : ndarray (neuron, y, x)
        The blurred footprints, peak 1 (the ground truth of the movie).
    Y, bg_img, npil_img : ndarray
        As the plain frame maker returns them.
    extra : dict
        Ground-truth variables: ``one_photon_background`` (y, x), the mean
        expected one-photon background in photons.
    """
    k, ny, nx = A.shape
    T = C.shape[1]
    if k:
        A = gaussian_filter(A, (0, BLUR * radius, BLUR * radius))
        A = A / np.maximum(A.max(axis=(1, 2), keepdims=True), 1e-30)
        A[A < 1e-3] = 0.0
    Y, bg_img, npil_img = frames(rng, A, C, rate, brightness, *frame_args)
    yy, xx = np.mgrid[:ny, :nx].astype(float)
    field_ = gaussian_filter(rng.standard_normal((ny, nx)), 4 * radius)
    field_ = (field_ - field_.min()) / max(np.ptp(field_), 1e-12)
    vignette = 1.0 - 0.3 * ((yy / ny - 0.5) ** 2 + (xx / nx - 0.5) ** 2)
    static = LEVEL * brightness * (0.6 + 0.4 * field_) * vignette / 0.8
    bmaps, bcourses = _blobs(rng, (ny, nx), radius, T, rate, brightness)
    vmaps, vcourses = _vessels(rng, (ny, nx), radius, T, rate)
    mean_img = np.zeros((ny, nx))
    for t in range(T):
        absorb = np.einsum("v,vyx->yx", vcourses[:, t], vmaps)
        E = static * np.clip(1.0 - absorb, 0.0, 1.0)
        E += np.einsum("b,byx->yx", bcourses[:, t], bmaps)
        mean_img += E / T
        Y[t] += rng.poisson(E)
    extra = {"one_photon_background": (("y", "x"), mean_img)}
    return A, Y, bg_img, npil_img, extra
