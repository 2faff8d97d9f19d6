"""Deprecated: ``neuronmf.synergies.simulate`` (use ``neuronmf.datasets``)."""

from __future__ import annotations

import warnings

import xarray as xr

__all__ = ["simulate"]


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
    """Raw EMG whose envelope is W·H, with gait events (deprecated).

    .. deprecated::
        Use ``neuronmf.datasets.simulate_emg(..., variant="padded")``, the same
        stride model as a :class:`~neuronmf.datasets.Simulation` (data in volts;
        the touchdowns are ``truth["cycle_start"]`` and the last
        ``truth["cycle_stop"]``). This alias returns what it always did.

    Returns
    -------
    raw : xarray.DataArray (time, channel)
        With ``attrs["rate"]`` and muscle names (arbitrary units, "uV").
    truth : dict
        ``synergies`` (muscle, synergy) DataArray with unit-norm columns,
        ``touchdowns`` (s) of every cycle (n_cycles + 1 values), ``envelope``
        (time, channel) ndarray.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", DeprecationWarning)
    ...     raw, truth = simulate(n_muscles=8, n_synergies=3, n_cycles=4)
    >>> raw.dims, raw.shape, truth["synergies"].shape
    (('time', 'channel'), (6000, 8), (8, 3))
    """
    import numpy as np

    from neuronmf.datasets._emg import _padded_gait

    warnings.warn(
        "neuronmf.synergies.simulate is deprecated; use "
        "neuronmf.datasets.simulate_emg(..., variant='padded'), the same model "
        "(data in volts, touchdowns in truth['cycle_start'] and "
        "truth['cycle_stop']).",
        DeprecationWarning,
        stacklevel=2,
    )
    sim = _padded_gait(
        np.random.default_rng(seed),
        n_muscles,
        n_synergies,
        n_cycles,
        rate=rate,
        cycle_duration=cycle_duration,
        noise=noise,
        tonic=tonic,
        density=density,
    )
    names = sim["names"]
    da = xr.DataArray(
        sim["values"] * 100.0,
        dims=("time", "channel"),
        coords={"time": sim["t"], "channel": names},
        attrs={"rate": float(rate), "units": "uV", "source": "simulated"},
    )
    truth = {
        "synergies": xr.DataArray(
            sim["W"], dims=("muscle", "synergy"), coords={"muscle": names}
        ),
        "touchdowns": sim["touchdowns"],
        "envelope": sim["envelope"],
    }
    return da, truth
