"""Simulated surface EMG with planted muscle synergies.

One implementation of every EMG simulator of the package: :func:`simulate_emg`
(raw EMG or envelopes, gait or reach, as a :class:`Simulation` with an NWB
writer) and :func:`simulate_synergy_envelopes` (plain arrays for the
rank-selection tests and benchmarks). ``variant="padded"`` of
:func:`simulate_emg` is the stride model of the former
``neuronmf.synergies.simulate`` (kept there as a deprecated alias that calls
:func:`_padded_gait` and returns its old tuple).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy.signal import butter, sosfiltfilt

from neuronmf.datasets._simulation import (
    Simulation,
    _check_int,
    _check_pos,
    _names,
)
from neuronmf.errors import input_error

__all__ = ["simulate_emg", "simulate_synergy_envelopes"]

GAIT_MUSCLES = [
    "TA", "SO", "GM", "GL", "PL", "VM", "VL", "RF",
    "BF", "ST", "ME", "MA", "FL", "AL", "ES", "IL",
]  # fmt: skip
REACH_MUSCLES = [
    "AD", "MD", "PD", "PM", "BI", "BR", "TRlat", "TRlong",
    "TM", "IS", "LD", "ECR", "FCR", "ECU", "FCU", "PT",
]  # fmt: skip
#: Muscle names of the ``"padded"`` variant (those of ``synergies.simulate``).
PADDED_MUSCLES = (
    "ME", "MA", "FL", "RF", "VM", "VL", "ST", "BF",
    "TA", "PL", "GM", "GL", "SO", "ES", "RA", "TFL",
)  # fmt: skip
VARIANTS = ("standard", "padded")


def simulate_emg(
    n_muscles: int = 16,
    n_synergies: int = 5,
    n_cycles: int = 20,
    *,
    rate: float = 1000.0,
    kind: str = "gait",
    raw: bool = True,
    cycle_duration: float = 1.0,
    amplitude: float = 1e-4,
    noise: float = 0.05,
    variant: str = "standard",
    seed: int | None = 0,
) -> Simulation:
    """Surface EMG from planted muscle synergies.

    Synergies ``W`` (muscle × synergy, unit-norm columns, sparse-ish) are
    activated by ``H`` (synergy × time): in ``"gait"`` mode each synergy fires
    a bump at its own phase of every stride (stride durations jitter by 4 %;
    touchdown at stride onset, lift-off at ~60 %); in ``"reach"`` mode each
    trial is a reach to a random direction and the synergies, tuned to
    preferred directions, fire in sequence during the movement. The envelope
    ``amplitude · W H`` (volts) modulates a band-limited (20–450 Hz) Gaussian
    carrier to give raw, signed EMG, plus white sensor noise.

    Parameters
    ----------
    n_muscles, n_synergies : int
        Sizes; ``n_synergies <= n_muscles``.
    n_cycles : int
        Number of strides (gait) or reaches.
    rate : float
        Sampling rate in Hz (raw EMG is usually 1–2 kHz; at least 1000).
    kind : {"gait", "reach"}
    raw : bool
        True: ``data`` is raw EMG (signed). False: ``data`` is the noisy,
        non-negative envelope.
    cycle_duration : float
        Mean stride / trial duration in seconds.
    amplitude : float
        Peak envelope in volts (1e-4 = 100 µV).
    noise : float
        Sensor noise (raw) or envelope noise, relative to ``amplitude``.
    variant : {"standard", "padded"}
        ``"standard"``: the model above. ``"padded"`` (gait only): the model of
        the former ``neuronmf.synergies.simulate`` — every muscle in at least one
        synergy (weights 0.2–1 on ~40 % of the pairs), strides of exactly
        ``cycle_duration``, one second of walking before the first and after
        the last touchdown (so every stride is whole), unnormalised activations,
        muscle names ``ME, MA, FL, ...``, ``amplitude`` per unit of ``W H`` and
        ``noise`` relative to the mean envelope.
    seed : int or None

    Returns
    -------
    Simulation
        ``data`` (time, channel) with channel = muscle names, attrs ``rate``
        and ``units`` (``"volts"``); ``truth`` with ``synergies`` (muscle,
        synergy), ``activations`` (synergy, time), ``envelope`` (time,
        channel, volts) and the events ``cycle_start`` / ``cycle_event``
        (touchdown / lift-off, or movement onset / offset, seconds) and
        ``cycle_stop`` (the stride's end, i.e. the next touchdown, or the
        trial's end).

    Examples
    --------
    >>> sim = simulate_emg(n_muscles=8, n_synergies=3, n_cycles=4, seed=1)
    >>> sim.data.dims, sim.data.sizes["channel"], sim.data.attrs["rate"]
    (('time', 'channel'), 8, 1000.0)
    >>> 3.5 < sim.data.sizes["time"] / 1000.0 < 4.5  # four strides of about 1 s
    True
    >>> sim.truth["synergies"].shape
    (8, 3)
    >>> padded = simulate_emg(8, 3, 4, variant="padded", seed=1)
    >>> padded.data.sizes["time"] / 1000.0  # four strides and a second each side
    6.0
    """
    p = _check_emg(
        n_muscles,
        n_synergies,
        n_cycles,
        rate,
        kind,
        raw,
        cycle_duration,
        amplitude,
        noise,
        variant,
    )
    rng = np.random.default_rng(seed)
    if variant == "padded":
        sim = _padded_gait(
            rng,
            p["m"],
            p["r"],
            p["n_cycles"],
            rate=p["rate"],
            cycle_duration=p["cycle_duration"],
            noise=p["noise"],
            raw=raw,
        )
        values = sim["values"] * p["amplitude"]
        envelope = sim["envelope"] * p["amplitude"]
    else:
        sim = _standard(rng, p, kind)
        envelope = p["amplitude"] * (sim["W"] @ sim["H"]).T  # (time, muscle), volts
        values = _measure(rng, envelope, raw, p["rate"], p["noise"] * p["amplitude"])
    labels = ("touchdown", "liftoff") if kind == "gait" else ("onset", "offset")
    data = xr.DataArray(
        values,
        dims=("time", "channel"),
        coords={"time": sim["t"], "channel": sim["names"]},
        name="emg",
        attrs={"rate": p["rate"], "units": "volts"},
    )
    truth = _truth(sim, envelope, kind, p["amplitude"], labels)
    params = {
        "simulator": "simulate_emg",
        "n_muscles": p["m"],
        "n_synergies": p["r"],
        "n_cycles": p["n_cycles"],
        "rate": p["rate"],
        "kind": kind,
        "raw": bool(raw),
        "cycle_duration": p["cycle_duration"],
        "amplitude": p["amplitude"],
        "noise": p["noise"],
        **({"variant": variant} if variant != "standard" else {}),
        "seed": seed,
    }

    def writer(nwbfile) -> None:
        _write_emg_nwb(nwbfile, values, sim, kind, raw, p["rate"], labels)

    return Simulation(data=data, truth=truth, params=params, _writer=writer)


def _check_emg(
    n_muscles,
    n_synergies,
    n_cycles,
    rate,
    kind,
    raw,
    cycle_duration,
    amplitude,
    noise,
    variant,
) -> dict[str, Any]:
    """The checked arguments of :func:`simulate_emg` (errors before any work)."""
    m = _check_int("n_muscles", n_muscles, 1)
    r = _check_int("n_synergies", n_synergies, 1)
    n_cycles = _check_int("n_cycles", n_cycles, 1)
    rate = _check_pos("rate", rate)
    cycle_duration = _check_pos("cycle_duration", cycle_duration)
    amplitude = _check_pos("amplitude", amplitude)
    if r > m:
        raise input_error(
            "n_synergies", f"at most n_muscles ({m})", r, "Use fewer synergies."
        )
    if kind not in ("gait", "reach"):
        raise input_error("kind", "'gait' or 'reach'", kind)
    if variant not in VARIANTS:
        raise input_error("variant", "'standard' or 'padded'", variant)
    if variant == "padded" and kind != "gait":
        raise input_error(
            "kind", "'gait' with variant='padded'", kind, "Use variant='standard'."
        )
    if raw and rate < 1000.0:
        raise input_error(
            "rate",
            "at least 1000 Hz for raw EMG (the carrier spans 20-450 Hz)",
            rate,
            "Pass rate=1000.0 or more, or raw=False for envelopes.",
        )
    return {
        "m": m,
        "r": r,
        "n_cycles": n_cycles,
        "rate": rate,
        "cycle_duration": cycle_duration,
        "amplitude": amplitude,
        "noise": float(noise),
    }


def _carrier(rng, n: int, m: int, rate: float) -> np.ndarray:
    """Band-limited (20–450 Hz) unit-variance Gaussian noise, (time, muscle)."""
    sos = butter(
        4, [20.0, min(450.0, 0.45 * rate)], btype="band", fs=rate, output="sos"
    )
    carrier = sosfiltfilt(sos, rng.standard_normal((n, m)), axis=0)
    carrier /= carrier.std(axis=0, keepdims=True)
    return carrier


def _measure(rng, envelope, raw: bool, rate: float, noise_scale: float):
    """Raw EMG (envelope × carrier + sensor noise) or a noisy, clipped envelope."""
    n, m = envelope.shape
    if raw:
        carrier = _carrier(rng, n, m, rate)
        return envelope * carrier + noise_scale * rng.standard_normal((n, m))
    values = envelope + noise_scale * rng.standard_normal((n, m))
    return np.clip(values, 0.0, None)


def _standard(rng, p: dict, kind: str) -> dict[str, Any]:
    """Weights, jittered cycles and activations of the ``"standard"`` variant."""
    m, r, n_cycles = p["m"], p["r"], p["n_cycles"]
    W = rng.random((m, r)) ** 2
    W[rng.permutation(m)[:r], np.arange(r)] += 1.0  # each synergy has a lead muscle
    W /= np.linalg.norm(W, axis=0)

    durations = p["cycle_duration"] * (1 + 0.04 * rng.standard_normal(n_cycles))
    starts = np.concatenate([[0.0], np.cumsum(durations)[:-1]]) + 0.0
    n = round(float(durations.sum()) * p["rate"])
    t = np.arange(n, dtype=float) / p["rate"]
    idx = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, n_cycles - 1)
    phase = (t - starts[idx]) / durations[idx]
    ends = starts + durations
    if kind == "gait":
        H = _gait_bumps(rng, phase, idx, r, n_cycles)
        events = starts + 0.6 * durations  # lift-off
    else:
        onset_phase, move = 0.2, 0.5  # movement from 20 % to 70 % of the trial
        H = _reach_bumps(rng, phase, idx, r, n_cycles, onset_phase, move)
        events = starts + (onset_phase + move) * durations  # movement offset
        starts = starts + onset_phase * durations  # movement onset
    H /= H.max()
    names = _names(GAIT_MUSCLES if kind == "gait" else REACH_MUSCLES, m)
    stops = ends if kind == "gait" else events  # the NWB intervals' stop_time
    return {
        "W": W,
        "H": H,
        "t": t,
        "names": names,
        "starts": starts,
        "events": events,
        "ends": ends,
        "stops": stops,
    }


def _gait_bumps(rng, phase, idx, r: int, n_cycles: int) -> np.ndarray:
    """(synergy, time): one bump per stride at each synergy's own phase."""
    H = np.zeros((r, phase.size))
    centres = (np.arange(r) + 0.5) / r
    width = 0.35 / r
    for c in range(n_cycles):
        sel = idx == c
        amp = np.abs(1 + 0.15 * rng.standard_normal(r))
        shift = 0.015 * rng.standard_normal(r)
        d = (phase[sel][None, :] - (centres + shift)[:, None] + 0.5) % 1 - 0.5
        H[:, sel] = amp[:, None] * np.exp(-0.5 * (d / width) ** 2)
    return H


def _reach_bumps(rng, phase, idx, r, n_cycles, onset_phase, move) -> np.ndarray:
    """(synergy, time): direction-tuned synergies firing in sequence per reach."""
    H = np.zeros((r, phase.size))
    preferred = np.linspace(0, 2 * np.pi, r, endpoint=False)
    order = (np.arange(r) + 0.5) / r
    for c in range(n_cycles):
        sel = idx == c
        theta = rng.uniform(0, 2 * np.pi)
        tuning = 0.15 + np.clip(np.cos(theta - preferred), 0, None)
        centre = onset_phase + move * order
        d = phase[sel][None, :] - centre[:, None]
        H[:, sel] = tuning[:, None] * np.exp(-0.5 * (d / (0.3 * move / r)) ** 2)
    return H


def _padded_gait(
    rng,
    n_muscles: int,
    n_synergies: int,
    n_cycles: int,
    *,
    rate: float = 1000.0,
    cycle_duration: float = 1.0,
    noise: float = 0.05,
    tonic: float = 0.0,
    density: float = 0.4,
    raw: bool = True,
) -> dict[str, Any]:
    """The ``"padded"`` stride model, in units of ``W H`` (one implementation).

    Each synergy's activation is a Gaussian bump per stride at its own phase
    (jittered from stride to stride), also in the padding before the first and
    after the last touchdown; each muscle's envelope is its synergy mix plus
    ``tonic``; raw EMG is that envelope times band-limited Gaussian noise, plus
    white noise of ``noise`` × the mean envelope. Used by
    ``simulate_emg(variant="padded")`` and the deprecated
    ``neuronmf.synergies.simulate`` (which scales ``values`` by 100).
    """
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
    n = round((n_cycles * cycle_duration + 2 * pad) * rate)
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
    values = _measure(rng, env, raw, rate, noise * env.mean())
    names = [
        PADDED_MUSCLES[i] if i < len(PADDED_MUSCLES) else f"M{i}"
        for i in range(n_muscles)
    ]
    return {
        "W": W,
        "H": H,
        "t": t,
        "names": names,
        "values": values,
        "envelope": env,
        "touchdowns": touchdowns,
        "starts": touchdowns[:-1],
        "events": touchdowns[:-1] + 0.6 * cycle_duration,  # lift-off
        "ends": touchdowns[1:],
        "stops": touchdowns[1:],
    }


def _truth(sim: dict, envelope, kind: str, amplitude: float, labels) -> xr.Dataset:
    """The planted structure of an EMG simulation as a Dataset."""
    names, r = sim["names"], sim["W"].shape[1]
    return xr.Dataset(
        {
            "synergies": (("muscle", "synergy"), sim["W"]),
            "activations": (("synergy", "time"), sim["H"]),
            "envelope": (("time", "channel"), envelope),
            "cycle_start": ("cycle", sim["starts"]),
            "cycle_event": ("cycle", sim["events"]),
            "cycle_stop": ("cycle", sim["ends"]),
        },
        coords={
            "muscle": names,
            "channel": names,
            "synergy": np.arange(r),
            "time": sim["t"],
            "cycle": np.arange(sim["starts"].size),
        },
        attrs={
            "kind": kind,
            "amplitude": amplitude,
            "events": f"cycle_start = {labels[0]}, cycle_event = {labels[1]}, "
            "cycle_stop = end of the "
            + ("stride (next touchdown)" if kind == "gait" else "trial")
            + " (s)",
        },
    )


def _write_emg_nwb(nwbfile, values, sim: dict, kind, raw, rate, labels) -> None:
    """Electrodes, the EMG series (raw or envelope) and the cycle intervals."""
    from pynwb import TimeSeries
    from pynwb.epoch import TimeIntervals

    names = sim["names"]
    device = nwbfile.create_device(
        name="EMGAmplifier", description="Simulated surface-EMG amplifier."
    )
    group = nwbfile.create_electrode_group(
        name="EMG",
        description="Bipolar surface EMG electrodes, one pair per muscle.",
        location="lower limb" if kind == "gait" else "upper limb",
        device=device,
    )
    for name in names:
        nwbfile.add_electrode(location=name, group=group)
    region = nwbfile.create_electrode_table_region(
        region=list(range(len(names))), description="EMG electrodes, one per muscle."
    )
    if raw:
        from pynwb.ecephys import ElectricalSeries

        nwbfile.add_acquisition(
            ElectricalSeries(
                name="EMG",
                data=values,
                electrodes=region,
                rate=rate,
                starting_time=0.0,
                description="Raw surface EMG (simulated); channels: "
                + ", ".join(names),
            )
        )
    else:
        module = nwbfile.create_processing_module(
            "emg", "Processed EMG (simulated envelopes)."
        )
        module.add(
            TimeSeries(
                name="EMGEnvelope",
                data=values,
                unit="volts",
                rate=rate,
                starting_time=0.0,
                description="EMG envelopes (time, channel); channels: "
                + ", ".join(names),
            )
        )
    intervals = TimeIntervals(
        name="gait_cycles" if kind == "gait" else "reaches",
        description=f"Simulated {'strides' if kind == 'gait' else 'reaches'}: "
        f"start_time = {labels[0]}, {labels[1]} in its own column.",
    )
    intervals.add_column(name=labels[1], description=f"{labels[1]} time (s).")
    for start, stop, event in zip(
        sim["starts"], sim["stops"], sim["events"], strict=True
    ):
        intervals.add_interval(
            start_time=float(start), stop_time=float(stop), **{labels[1]: float(event)}
        )
    nwbfile.add_time_intervals(intervals)


def simulate_synergy_envelopes(
    n_muscles=16, n_synergies=5, n_cycles=20, points_per_cycle=200, seed=0
):
    """Planted synergies × cycle-locked activations plus envelope-like noise.

    Each muscle has one main synergy (weight 0.5–1) and weak loadings (< 0.3) on
    about 40 % of the others, as in recorded lower-limb synergies. Returns
    ``(V, W, H)`` with V of shape (muscles, cycles × points). A plain-array
    companion of :func:`simulate_emg` (no EMG raw signal, no Dataset), used by
    the rank-selection tests, benchmarks and examples.

    Examples
    --------
    >>> V, W, H = simulate_synergy_envelopes(n_muscles=8, n_synergies=3, n_cycles=2)
    >>> V.shape, W.shape, H.shape
    ((8, 400), (8, 3), (3, 400))
    """
    rng = np.random.default_rng(seed)
    primary = rng.permutation(np.arange(n_muscles) % n_synergies)
    W = (
        0.3
        * rng.random((n_muscles, n_synergies)) ** 2
        * (rng.random((n_muscles, n_synergies)) < 0.4)
    )
    W[np.arange(n_muscles), primary] += 0.5 + 0.5 * rng.random(n_muscles)
    W /= np.linalg.norm(W, axis=0)
    phase = np.linspace(0, 1, points_per_cycle, endpoint=False)
    centres = (np.arange(n_synergies) + 0.5) / n_synergies
    H = []
    for _ in range(n_cycles):
        jitter = centres + 0.02 * rng.standard_normal(n_synergies)
        amp = 1 + 0.2 * rng.standard_normal(n_synergies)
        d = (phase[None, :] - jitter[:, None] + 0.5) % 1 - 0.5
        H.append(np.abs(amp)[:, None] * np.exp(-0.5 * (d / 0.06) ** 2))
    H = np.concatenate(H, axis=1)
    clean = W @ H
    noise = 0.05 * clean.std() * rng.standard_normal(clean.shape)
    V = np.maximum(clean + noise, 0) + 0.01
    return V, W, H
