"""Simulated raw EMG with planted synergies, for tests and examples."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["simulate"]

MUSCLES = (
    "ME",
    "MA",
    "FL",
    "RF",
    "VM",
    "VL",
    "ST",
    "BF",
    "TA",
    "PL",
    "GM",
    "GL",
    "SO",
    "ES",
    "RA",
    "TFL",
)


def simulate(
    n_muscles: int = 12,
    n_synergies: int = 4,
    n_cycles: int = 10,
    *,
    rate: float = 1000.0,
    cycle_duration: float = 1.0,
    noise: float = 0.05,
    tonic: float = 0.0,
    density: float = 0.4,
    seed: int | None = 0,
):
    """Raw EMG whose envelope is W·H, with gait events.

    Each synergy's activation is a Gaussian bump per cycle at its own phase
    (jittered from cycle to cycle); each muscle's envelope is its synergy mix
    plus a small tonic level; the raw signal is that envelope times
    band-limited (20–450 Hz) Gaussian noise, plus white measurement noise of
    relative size ``noise``.

    Returns
    -------
    raw : xarray.DataArray (time, channel)
        With ``attrs["rate"]`` and muscle names.
    truth : dict
        ``synergies`` (muscle, synergy) DataArray with unit-norm columns,
        ``touchdowns`` (s) of every cycle (n_cycles + 1 values), ``envelope``
        (time, channel) ndarray.

    Examples
    --------
    >>> from neuronmf.synergies import simulate
    >>> raw, truth = simulate(n_muscles=8, n_synergies=3, n_cycles=4)
    >>> raw.dims, raw.shape, truth["synergies"].shape
    (('time', 'channel'), (6000, 8), (8, 3))
    """
    from scipy.signal import butter, sosfiltfilt

    rng = np.random.default_rng(seed)
    names = [MUSCLES[i] if i < len(MUSCLES) else f"M{i}" for i in range(n_muscles)]
    W = (0.2 + 0.8 * rng.random((n_muscles, n_synergies))) * (
        rng.random((n_muscles, n_synergies)) < density
    )
    W[rng.permutation(n_muscles)[:n_synergies], np.arange(n_synergies)] += 1.0
    idle = ~W.any(axis=1)  # every muscle takes part in at least one synergy
    W[idle, rng.integers(n_synergies, size=int(idle.sum()))] = 0.5 + 0.5 * rng.random(
        int(idle.sum())
    )
    W /= np.linalg.norm(W, axis=0)
    pad = 1.0  # seconds before the first and after the last touchdown
    total = n_cycles * cycle_duration + 2 * pad
    n = round(total * rate)
    t = np.arange(n) / rate
    touchdowns = pad + cycle_duration * np.arange(n_cycles + 1)
    centres = (np.arange(n_synergies) + 0.5) / n_synergies
    width = 0.06 * cycle_duration
    H = np.zeros((n_synergies, n))
    for c in range(-1, n_cycles + 1):
        start = pad + c * cycle_duration
        for k in range(n_synergies):
            mu = start + cycle_duration * (centres[k] + 0.02 * rng.standard_normal())
            H[k] += (0.8 + 0.4 * rng.random()) * np.exp(-0.5 * ((t - mu) / width) ** 2)
    env = (W @ H).T + tonic
    sos = butter(
        4, (20, min(450, 0.45 * rate)), btype="bandpass", fs=rate, output="sos"
    )
    carrier = sosfiltfilt(sos, rng.standard_normal((n, n_muscles)), axis=0)
    carrier /= carrier.std(axis=0)
    raw = env * carrier + noise * env.mean() * rng.standard_normal((n, n_muscles))
    da = xr.DataArray(
        raw * 100.0,
        dims=("time", "channel"),
        coords={"time": t, "channel": names},
        attrs={"rate": float(rate), "units": "uV", "source": "simulated"},
    )
    truth = {
        "synergies": xr.DataArray(
            W, dims=("muscle", "synergy"), coords={"muscle": names}
        ),
        "touchdowns": touchdowns,
        "envelope": env,
    }
    return da, truth
