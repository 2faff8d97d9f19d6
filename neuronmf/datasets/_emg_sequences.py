"""Simulated EMG with structure in time: time-varying synergies and space-by-time.

:func:`simulate_time_varying_emg`: a (time, channel) EMG envelope made of
time-varying synergies (d'Avella et al. 2003): each synergy is a (muscle × lag)
waveform, played at known onsets with known amplitudes and summed.

:func:`simulate_space_by_time`: trial-structured EMG envelopes (trial, time,
channel) from the space-by-time model (Delis et al. 2014):
``X[s] = Wt @ A[s] @ Ws`` with known temporal modules ``Wt`` (time × P),
spatial modules ``Ws`` (L × muscle) and per-trial coefficients ``A[s]`` that
depend on the trial's condition.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from neuronmf.datasets._emg import GAIT_MUSCLES, _measure
from neuronmf.datasets._simulation import Simulation, _check_int, _check_pos, _names
from neuronmf.errors import input_error

__all__ = ["simulate_space_by_time", "simulate_time_varying_emg"]


def _check_fraction(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise input_error(name, "a number >= 0", value) from None
    if not np.isfinite(v) or v < 0:
        raise input_error(name, "a number >= 0", value)
    return v


def _waveforms(rng, m: int, r: int, n_lags: int) -> np.ndarray:
    """(synergy, muscle, lag): each muscle of a synergy a sum of 1-2 bumps."""
    lag = np.arange(n_lags, dtype=float)
    W = np.zeros((r, m, n_lags))
    width = max(n_lags / 10.0, 1.0)
    for k in range(r):
        lead = rng.permutation(m)[: max(2, m // 3)]
        for j in range(m):
            if j not in lead and rng.random() < 0.5:
                continue  # half of the other muscles stay silent
            for _ in range(1 + int(rng.random() < 0.4)):
                centre = rng.uniform(0.15, 0.85) * (n_lags - 1)
                w = width * rng.uniform(0.7, 1.5)
                amp = rng.uniform(0.4, 1.0) * (2.0 if j in lead else 1.0)
                W[k, j] += amp * np.exp(-0.5 * ((lag - centre) / w) ** 2)
        W[k] /= np.linalg.norm(W[k])
    return W


def _onsets(rng, n: int, n_lags: int, rate_per_sample: float) -> np.ndarray:
    """Onset samples of one synergy: a Poisson process with a dead time of a
    synergy's duration (occurrences of one synergy never overlap)."""
    onsets, t = [], int(rng.integers(0, n_lags))
    while True:
        t += n_lags + int(rng.geometric(min(rate_per_sample, 1.0)))
        if t + n_lags > n:
            return np.asarray(onsets, dtype=int)
        onsets.append(t)


def simulate_time_varying_emg(
    n_muscles: int = 8,
    n_synergies: int = 3,
    duration: float = 0.3,
    total_time: float = 60.0,
    *,
    rate: float = 100.0,
    occurrence_rate: float = 0.5,
    amplitude_range: tuple[float, float] = (0.5, 1.5),
    noise: float = 0.02,
    raw: bool = False,
    seed: int | None = 0,
) -> Simulation:
    """EMG made of time-varying synergies with known onsets and amplitudes.

    Each synergy ``k`` is a waveform ``W[k]`` (muscle × lag, ``duration``
    seconds long, unit Frobenius norm; every muscle a sum of one or two
    Gaussian bumps, about half the muscles silent). It occurs at onsets drawn
    from a Poisson process (``occurrence_rate`` per second after a dead time
    of one ``duration``, so occurrences of one synergy do not overlap; those
    of different synergies may), each time scaled by an amplitude drawn
    uniformly from ``amplitude_range``. The envelope is the sum of all
    occurrences, ``envelope[t, j] = sum_(k, i) c_i W[k, j, t - t_i]``.

    Parameters
    ----------
    n_muscles, n_synergies : int
    duration : float
        Length of a synergy in seconds.
    total_time : float
        Length of the recording in seconds.
    rate : float
        Samples per second (100 Hz suits an envelope; raw EMG needs >= 1000).
    occurrence_rate : float
        Occurrences per second of each synergy (beyond the dead time).
    amplitude_range : (low, high)
    noise : float
        Gaussian noise relative to the envelope's mean (the envelope is then
        clipped at 0), or sensor noise with ``raw=True``.
    raw : bool
        True: raw signed EMG (the envelope modulating a 20-450 Hz carrier),
        for :func:`neuronmf.synergies.envelope`.
    seed : int or None

    Returns
    -------
    Simulation
        ``data`` (time, channel) with ``time`` in seconds and ``attrs["rate"]``;
        ``truth``: ``synergies`` (synergy, muscle, lag) with ``lag`` in seconds,
        the occurrences ``onset`` (s), ``onset_sample`` and ``amplitude`` along
        ``occurrence`` with their ``synergy``, and the clean ``envelope``.

    Examples
    --------
    >>> from neuronmf.datasets import simulate_time_varying_emg
    >>> sim = simulate_time_varying_emg(n_muscles=6, n_synergies=2, seed=1)
    >>> sim.data.dims, sim.data.shape, sim.truth["synergies"].shape
    (('time', 'channel'), (6000, 6), (2, 6, 30))
    >>> bool((sim.truth["onset"] >= 0).all())
    True
    """
    m = _check_int("n_muscles", n_muscles, 2)
    r = _check_int("n_synergies", n_synergies, 1)
    rate = _check_pos("rate", rate)
    duration = _check_pos("duration", duration)
    total_time = _check_pos("total_time", total_time)
    occurrence_rate = _check_pos("occurrence_rate", occurrence_rate)
    noise = _check_fraction("noise", noise)
    try:
        lo, hi = (float(a) for a in amplitude_range)
    except (TypeError, ValueError):
        raise input_error(
            "amplitude_range", "a pair (low, high)", amplitude_range
        ) from None
    if not 0 < lo <= hi:
        raise input_error("amplitude_range", "0 < low <= high", amplitude_range)
    n_lags = round(duration * rate)
    n = round(total_time * rate)
    if n_lags < 2 or n < 3 * n_lags:
        raise input_error(
            "duration and total_time",
            "at least 2 samples per synergy and 3 synergy durations in total",
            f"{n_lags} lag(s), {n} sample(s) at {rate:g} Hz",
        )
    if raw and rate < 1000:
        raise input_error("rate", "at least 1000 Hz for raw EMG", rate)
    rng = np.random.default_rng(seed)
    W = _waveforms(rng, m, r, n_lags)
    clean = np.zeros((n, m))
    syn, on, amp = [], [], []
    for k in range(r):
        ts = _onsets(rng, n, n_lags, occurrence_rate / rate)
        cs = rng.uniform(lo, hi, ts.size)
        for t0, c in zip(ts, cs, strict=True):
            clean[t0 : t0 + n_lags] += c * W[k].T
        syn += [k] * ts.size
        on += ts.tolist()
        amp += cs.tolist()
    order = np.lexsort((np.asarray(syn), np.asarray(on)))
    syn, on, amp = (np.asarray(a)[order] for a in (syn, on, amp))
    values = _measure(rng, clean, raw, rate, noise * float(clean.mean()))
    names = _names(GAIT_MUSCLES, m)
    t = np.arange(n) / rate
    data = xr.DataArray(
        values,
        dims=("time", "channel"),
        coords={"time": t, "channel": names},
        name="emg" if raw else "envelope",
        attrs={"rate": rate, "units": "a.u.", "source": "simulated"},
    )
    truth = xr.Dataset(
        {
            "synergies": (("synergy", "muscle", "lag"), W),
            "onset": ("occurrence", on / rate),
            "onset_sample": ("occurrence", on.astype(int)),
            "amplitude": ("occurrence", amp),
            "occurrence_synergy": ("occurrence", syn.astype(int)),
            "envelope": (("time", "channel"), clean),
        },
        coords={
            "synergy": np.arange(r),
            "muscle": names,
            "channel": names,
            "lag": np.arange(n_lags) / rate,
            "time": t,
            "occurrence": np.arange(on.size),
        },
        attrs={"model": "envelope[t] = sum_i amplitude_i W[k_i, :, t - onset_i]"},
    )
    params = {
        "simulator": "simulate_time_varying_emg",
        "n_muscles": m,
        "n_synergies": r,
        "duration": duration,
        "total_time": total_time,
        "rate": rate,
        "occurrence_rate": occurrence_rate,
        "amplitude_range": [lo, hi],
        "noise": noise,
        "raw": bool(raw),
        "seed": seed,
    }
    return Simulation(data=data, truth=truth, params=params)


def _bumps(n_time: int, P: int, rng) -> np.ndarray:
    """(time, P): Gaussian bumps at spread latencies, unit-norm columns."""
    t = np.linspace(0.0, 1.0, n_time)
    centres = (np.arange(P) + 0.5) / P + rng.uniform(-0.05, 0.05, P)
    widths = rng.uniform(0.06, 0.1, P)
    Wt = np.exp(-0.5 * ((t[:, None] - centres) / widths) ** 2)
    return Wt / np.linalg.norm(Wt, axis=0)


def simulate_space_by_time(
    n_trials: int = 60,
    n_time: int = 50,
    n_muscles: int = 12,
    n_spatial: int = 3,
    n_temporal: int = 2,
    *,
    n_conditions: int = 4,
    trial_duration: float = 1.0,
    noise: float = 0.05,
    seed: int | None = 0,
) -> Simulation:
    """Trial-structured EMG envelopes from known space-by-time modules.

    ``X[s] = Wt @ A[s] @ Ws`` (Delis et al. 2014): temporal modules ``Wt``
    (time × ``n_temporal``, Gaussian bumps at spread latencies, unit-norm
    columns), spatial modules ``Ws`` (``n_spatial`` × muscle, sparse
    non-negative, each with a lead muscle of its own, unit-norm rows) and coefficients
    ``A[s]`` (``n_temporal`` × ``n_spatial``): in condition ``c`` temporal
    module ``p`` drives spatial module ``(c + p) mod n_spatial`` (and, 30 % of
    the time, a weaker second one); each trial scales this by a log-normal gain
    (SD 0.2) with 10 % jitter per entry. Gaussian noise (``noise`` × the mean
    of the clean data) is added and the result clipped at 0.

    Parameters
    ----------
    n_trials, n_time, n_muscles, n_spatial, n_temporal, n_conditions : int
    trial_duration : float
        Seconds per trial (``time`` runs from 0 in steps of
        ``trial_duration / n_time``).
    noise : float
    seed : int or None

    Returns
    -------
    Simulation
        ``data`` (trial, time, channel), with ``condition`` on ``trial`` and
        ``attrs["rate"]``; ``truth``: ``spatial`` (spatial_module, muscle),
        ``temporal`` (time, temporal_module), ``activations`` (trial,
        temporal_module, spatial_module) and the clean ``trials``.

    Examples
    --------
    >>> from neuronmf.datasets import simulate_space_by_time
    >>> sim = simulate_space_by_time(n_trials=8, seed=1)
    >>> sim.data.dims, sim.data.shape
    (('trial', 'time', 'channel'), (8, 50, 12))
    >>> sim.truth["spatial"].dims, sim.truth["temporal"].dims
    (('spatial_module', 'muscle'), ('time', 'temporal_module'))
    """
    S = _check_int("n_trials", n_trials, 1)
    T = _check_int("n_time", n_time, 2)
    m = _check_int("n_muscles", n_muscles, 2)
    L = _check_int("n_spatial", n_spatial, 1)
    P = _check_int("n_temporal", n_temporal, 1)
    C = _check_int("n_conditions", n_conditions, 1)
    dur = _check_pos("trial_duration", trial_duration)
    noise = _check_fraction("noise", noise)
    if L > m:
        raise input_error("n_spatial", f"at most n_muscles = {m}", L)
    if P > T:
        raise input_error("n_temporal", f"at most n_time = {T}", P)
    rng = np.random.default_rng(seed)
    Wt = _bumps(T, P, rng)
    Ws = rng.random((L, m)) * (rng.random((L, m)) < 0.4)  # sparse: identifiable
    lead = rng.permutation(m)[:L]
    Ws[:, lead] = 0.0  # a lead muscle belongs to its module only (identifiable)
    Ws[np.arange(L), lead] = 1.0
    Ws /= np.linalg.norm(Ws, axis=1, keepdims=True)
    # each condition: temporal module p drives spatial module (c + p) mod L, plus
    # sometimes a weaker second one (sparse coefficients: identifiable modules)
    patterns = rng.uniform(0.0, 0.5, (C, P, L)) * (rng.random((C, P, L)) < 0.3)
    c_, p_ = np.meshgrid(np.arange(C), np.arange(P), indexing="ij")
    patterns[c_, p_, (c_ + p_) % L] = rng.uniform(0.8, 1.2, (C, P))
    cond = np.arange(S) % C
    gain = np.exp(0.2 * rng.standard_normal(S))
    jitter = 1.0 + 0.1 * rng.standard_normal((S, P, L))
    A = np.clip(patterns[cond] * gain[:, None, None] * jitter, 0.0, None)
    clean = np.einsum("tp,spl,ln->stn", Wt, A, Ws)
    values = np.clip(
        clean + noise * clean.mean() * rng.standard_normal(clean.shape), 0.0, None
    )
    names = _names(GAIT_MUSCLES, m)
    t = np.arange(T) * (dur / T)
    data = xr.DataArray(
        values,
        dims=("trial", "time", "channel"),
        coords={
            "trial": np.arange(S),
            "time": t,
            "channel": names,
            "condition": ("trial", cond),
        },
        name="envelope",
        attrs={"rate": T / dur, "units": "a.u.", "source": "simulated"},
    )
    truth = xr.Dataset(
        {
            "spatial": (("spatial_module", "muscle"), Ws),
            "temporal": (("time", "temporal_module"), Wt),
            "activations": (("trial", "temporal_module", "spatial_module"), A),
            "trials": (("trial", "time", "channel"), clean),
        },
        coords={
            "trial": np.arange(S),
            "time": t,
            "muscle": names,
            "channel": names,
            "spatial_module": np.arange(L),
            "temporal_module": np.arange(P),
            "condition": ("trial", cond),
        },
        attrs={"model": "trials[s] = temporal @ activations[s] @ spatial"},
    )
    params = {
        "simulator": "simulate_space_by_time",
        "n_trials": S,
        "n_time": T,
        "n_muscles": m,
        "n_spatial": L,
        "n_temporal": P,
        "n_conditions": C,
        "trial_duration": dur,
        "noise": noise,
        "seed": seed,
    }
    return Simulation(data=data, truth=truth, params=params)
