"""Private stand-in movie simulator (until ``datasets.simulate_movie`` lands)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import xarray as xr


def simulate_movie(
    shape=(64, 64),
    n_frames=300,
    n_neurons=20,
    neuron_radius=4.0,
    *,
    rate=10.0,
    snr=4.0,
    neuropil=0.5,
    min_separation=None,
    seed=0,
):
    """Two-photon-like movie: soma footprints with AR(1) calcium, neuropil, noise.

    Returns a namespace with ``data`` (time, y, x) DataArray, ``truth`` masks
    (neuron, y, x) bool, ``footprints``, ``traces``.
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    r = float(neuron_radius)
    sep = 1.2 * r if min_separation is None else min_separation
    centres: list[tuple[float, float]] = []
    tries = 0
    while len(centres) < n_neurons and tries < 10000:
        tries += 1
        c = rng.uniform(r + 1, ny - r - 2), rng.uniform(r + 1, nx - r - 2)
        if all(np.hypot(c[0] - a, c[1] - b) > sep for a, b in centres):
            centres.append(c)
    yy, xx = np.mgrid[:ny, :nx]
    A = np.zeros((len(centres), ny, nx))
    for k, (cy, cx) in enumerate(centres):
        ry, rx = r * rng.uniform(0.85, 1.15, 2)
        d2 = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
        A[k] = np.exp(-d2 / 1.2) * (d2 <= 1.0)
    truth = A > 0
    g = np.exp(-1.0 / (0.7 * rate))
    C = np.zeros((len(centres), n_frames))
    for k in range(len(centres)):
        s = rng.poisson(0.02, n_frames) * rng.uniform(0.7, 1.3, n_frames)
        s[rng.integers(0, n_frames)] += 1.0
        for t in range(n_frames):
            C[k, t] = (g * C[k, t - 1] if t else 0.0) + s[t]
    bg_img = 1.0 + 0.3 * np.sin(yy / 9.0) * np.cos(xx / 11.0)
    bg_t = 1.0 + 0.1 * np.sin(np.arange(n_frames) / 30.0)
    npil = (
        neuropil
        * rng.standard_normal((ny // 8 + 1, nx // 8 + 1, n_frames)).cumsum(2)
        * 0.02
    )
    npil = np.repeat(np.repeat(npil, 8, 0), 8, 1)[:ny, :nx]
    sigma = 1.0 / snr
    Y = (
        np.einsum("kyx,kt->tyx", A, C)
        + 2.0 * bg_img[None] * bg_t[:, None, None]
        + np.abs(npil).transpose(2, 0, 1)
        + sigma * rng.standard_normal((n_frames, ny, nx))
    )
    Y = np.clip(Y, 0, None).astype(np.float32)
    da = xr.DataArray(
        Y,
        dims=("time", "y", "x"),
        coords={
            "time": np.arange(n_frames) / rate,
            "y": np.arange(ny),
            "x": np.arange(nx),
        },
        name="movie",
        attrs={"rate": rate},
    )
    return SimpleNamespace(data=da, truth=truth, footprints=A, traces=C)
