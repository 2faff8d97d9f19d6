"""Simulators with known ground truth: EMG synergies, calcium movies, assemblies.

Each simulator is seeded (same arguments and seed → identical output) and returns a
:class:`Simulation`: ``.data`` is the recording as the matching
``neuronmf.io.load_*`` function returns it, ``.truth`` an :class:`xarray.Dataset`
of the planted structure, and ``.to_nwb(path)`` writes the recording (and the
truth where NWB has a place for it) to an NWB file that the loaders read back.

NWB conventions used (and read by the loaders):

- EMG: an ``ElectricalSeries`` named ``"EMG"`` in ``acquisition``, data
  (time, channel) in volts with a ``rate``; the electrodes table has one row per
  muscle with the muscle name in its ``location`` column. Envelopes
  (``raw=False``): a ``TimeSeries`` ``"EMGEnvelope"`` in ``processing["emg"]``
  whose description lists the channels. Gait cycles / reach trials: a
  ``TimeIntervals`` table (``"gait_cycles"`` or ``"reaches"``) in ``intervals``.
- Movies: a ``TwoPhotonSeries`` ``"TwoPhotonSeries"`` in ``acquisition`` in NWB's
  (frames, x, y) order (the (time, y, x) movie transposed), with its imaging plane,
  optical channel and device; the planted footprints as ``image_mask`` (roi, x, y)
  of the PlaneSegmentation ``"GroundTruth"`` in ``processing["ophys"]``, with the
  true calcium in ``Fluorescence/GroundTruthCalcium``.
- Assemblies: a ``Units`` table (spike times placed inside their bins, so binning
  at ``bin_width`` from time 0 gives back the counts) and the behaviour as a
  ``TimeSeries`` ``"behavior"`` in a ``BehavioralTimeSeries`` in
  ``processing["behavior"]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy.ndimage import gaussian_filter, gaussian_filter1d
from scipy.signal import butter, lfilter, sosfiltfilt

from neuronmf.errors import input_error

__all__ = [
    "Simulation",
    "simulate_assemblies",
    "simulate_emg",
    "simulate_movie",
    "simulate_synergy_envelopes",
]

_SIM_SUBJECT = (
    "Simulated data (neuronmf.datasets); no real subject. Sex and age are unknown "
    "by construction."
)

GAIT_MUSCLES = [
    "TA", "SO", "GM", "GL", "PL", "VM", "VL", "RF",
    "BF", "ST", "ME", "MA", "FL", "AL", "ES", "IL",
]  # fmt: skip
REACH_MUSCLES = [
    "AD", "MD", "PD", "PM", "BI", "BR", "TRlat", "TRlong",
    "TM", "IS", "LD", "ECR", "FCR", "ECU", "FCU", "PT",
]  # fmt: skip


@dataclass
class Simulation:
    """A simulated recording with its ground truth.

    Attributes
    ----------
    data : xarray.DataArray
        The recording, labelled as the matching loader returns it.
    truth : xarray.Dataset
        The planted structure (synergies and activations, footprints and
        spikes, assembly membership and behaviour, ...).
    params : dict
        The simulator's arguments.
    behavior : xarray.DataArray or None
        A behavioural variable (assemblies only), as ``load_behavior`` returns it.
    """

    data: xr.DataArray
    truth: xr.Dataset
    params: dict[str, Any] = field(default_factory=dict)
    behavior: xr.DataArray | None = None
    _writer: Callable[[Any], None] | None = field(default=None, repr=False)

    def to_nwb(
        self, path: str | os.PathLike, *, overwrite: bool = False, **nwbfile_kwargs
    ) -> Path:
        """Write the simulation to a new NWB file (atomically).

        Parameters
        ----------
        path : path-like
            Destination ``.nwb`` file.
        overwrite : bool
            Replace ``path`` if it exists (otherwise an existing file is an error).
        **nwbfile_kwargs
            Extra ``pynwb.NWBFile`` fields (``session_start_time``,
            ``identifier``, ``experimenter``, ...).

        Returns
        -------
        pathlib.Path
        """
        from neuronmf.io.writers import unknown_subject, write_nwb_atomic

        path = Path(path)
        if path.exists() and not overwrite:
            raise input_error(
                "path",
                "a file that does not exist yet",
                str(path),
                "Choose another path or pass overwrite=True.",
            )
        kind = self.params.get("simulator", "simulation")
        nwbfile_kwargs.setdefault("subject", unknown_subject(_SIM_SUBJECT))
        nwbfile_kwargs.setdefault("keywords", ["neuronmf", "simulation"])
        nwbfile_kwargs.setdefault(
            "experiment_description",
            f"Synthetic data from neuronmf.datasets.{kind} with parameters "
            f"{self.params}.",
        )
        return write_nwb_atomic(
            path,
            self._writer,
            session_description=f"Simulated recording ({kind}, seed "
            f"{self.params.get('seed')}) with known ground truth.",
            overwrite=True,
            **nwbfile_kwargs,
        )


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise input_error(name, f"an integer >= {low}", value)
    if value < low:
        raise input_error(name, f"an integer >= {low}", value)
    return int(value)


def _check_pos(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise input_error(name, "a positive number", value) from None
    if not np.isfinite(v) or v <= 0:
        raise input_error(name, "a positive number", value)
    return v


def _names(base: list[str], n: int) -> list[str]:
    return base[:n] + [f"m{i + 1}" for i in range(len(base), n)]


# ------------------------------------------------------------------------- EMG
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
    seed : int or None

    Returns
    -------
    Simulation
        ``data`` (time, channel) with channel = muscle names, attrs ``rate``
        and ``units`` (``"volts"``); ``truth`` with ``synergies`` (muscle,
        synergy), ``activations`` (synergy, time), ``envelope`` (time,
        channel, volts) and the events ``cycle_start`` / ``cycle_event``
        (touchdown / lift-off, or movement onset / offset, seconds).

    Examples
    --------
    >>> sim = simulate_emg(n_muscles=8, n_synergies=3, n_cycles=4, seed=1)
    >>> sim.data.dims, sim.data.sizes["channel"], sim.data.attrs["rate"]
    (('time', 'channel'), 8, 1000.0)
    >>> 3.5 < sim.data.sizes["time"] / 1000.0 < 4.5  # four strides of about 1 s
    True
    >>> sim.truth["synergies"].shape
    (8, 3)
    """
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
    if raw and rate < 1000.0:
        raise input_error(
            "rate",
            "at least 1000 Hz for raw EMG (the carrier spans 20-450 Hz)",
            rate,
            "Pass rate=1000.0 or more, or raw=False for envelopes.",
        )
    noise = float(noise)
    rng = np.random.default_rng(seed)

    W = rng.random((m, r)) ** 2
    W[rng.permutation(m)[:r], np.arange(r)] += 1.0  # each synergy has a lead muscle
    W /= np.linalg.norm(W, axis=0)

    durations = cycle_duration * (1 + 0.04 * rng.standard_normal(n_cycles))
    starts = np.concatenate([[0.0], np.cumsum(durations)[:-1]]) + 0.0
    n = round(float(durations.sum()) * rate)
    t = np.arange(n, dtype=float) / rate
    idx = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, n_cycles - 1)
    phase = (t - starts[idx]) / durations[idx]
    H = np.zeros((r, n))
    if kind == "gait":
        centres = (np.arange(r) + 0.5) / r
        width = 0.35 / r
        events = starts + 0.6 * durations  # lift-off
        for c in range(n_cycles):
            sel = idx == c
            amp = np.abs(1 + 0.15 * rng.standard_normal(r))
            shift = 0.015 * rng.standard_normal(r)
            d = (phase[sel][None, :] - (centres + shift)[:, None] + 0.5) % 1 - 0.5
            H[:, sel] = amp[:, None] * np.exp(-0.5 * (d / width) ** 2)
    else:
        preferred = np.linspace(0, 2 * np.pi, r, endpoint=False)
        onset_phase, move = 0.2, 0.5  # movement from 20 % to 70 % of the trial
        events = starts + (onset_phase + move) * durations  # movement offset
        order = (np.arange(r) + 0.5) / r
        for c in range(n_cycles):
            sel = idx == c
            theta = rng.uniform(0, 2 * np.pi)
            tuning = 0.15 + np.clip(np.cos(theta - preferred), 0, None)
            centre = onset_phase + move * order
            d = phase[sel][None, :] - centre[:, None]
            H[:, sel] = tuning[:, None] * np.exp(-0.5 * (d / (0.3 * move / r)) ** 2)
        starts = starts + onset_phase * durations  # movement onset
    H /= H.max()
    envelope = amplitude * (W @ H).T  # (time, muscle), volts
    names = _names(GAIT_MUSCLES if kind == "gait" else REACH_MUSCLES, m)
    if raw:
        sos = butter(
            4, [20.0, min(450.0, 0.45 * rate)], btype="band", fs=rate, output="sos"
        )
        carrier = sosfiltfilt(sos, rng.standard_normal((n, m)), axis=0)
        carrier /= carrier.std(axis=0, keepdims=True)
        values = envelope * carrier + noise * amplitude * rng.standard_normal((n, m))
    else:
        values = envelope + noise * amplitude * rng.standard_normal((n, m))
        values = np.clip(values, 0.0, None)
    data = xr.DataArray(
        values,
        dims=("time", "channel"),
        coords={"time": t, "channel": names},
        name="emg",
        attrs={"rate": rate, "units": "volts"},
    )
    labels = ("touchdown", "liftoff") if kind == "gait" else ("onset", "offset")
    truth = xr.Dataset(
        {
            "synergies": (("muscle", "synergy"), W),
            "activations": (("synergy", "time"), H),
            "envelope": (("time", "channel"), envelope),
            "cycle_start": ("cycle", starts),
            "cycle_event": ("cycle", events),
        },
        coords={
            "muscle": names,
            "channel": names,
            "synergy": np.arange(r),
            "time": t,
            "cycle": np.arange(n_cycles),
        },
        attrs={
            "kind": kind,
            "amplitude": amplitude,
            "events": f"cycle_start = {labels[0]}, cycle_event = {labels[1]} (s)",
        },
    )
    params = {
        "simulator": "simulate_emg",
        "n_muscles": m,
        "n_synergies": r,
        "n_cycles": n_cycles,
        "rate": rate,
        "kind": kind,
        "raw": bool(raw),
        "cycle_duration": cycle_duration,
        "amplitude": amplitude,
        "noise": noise,
        "seed": seed,
    }

    def writer(nwbfile) -> None:
        from pynwb import TimeSeries

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
            region=list(range(m)), description="EMG electrodes, one per muscle."
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
        table = "gait_cycles" if kind == "gait" else "reaches"
        from pynwb.epoch import TimeIntervals

        intervals = TimeIntervals(
            name=table,
            description=f"Simulated {'strides' if kind == 'gait' else 'reaches'}: "
            f"start_time = {labels[0]}, {labels[1]} in its own column.",
        )
        intervals.add_column(name=labels[1], description=f"{labels[1]} time (s).")
        stops = starts + durations if kind == "gait" else events
        for c in range(n_cycles):
            intervals.add_interval(
                start_time=float(starts[c]),
                stop_time=float(stops[c]),
                **{labels[1]: float(events[c])},
            )
        nwbfile.add_time_intervals(intervals)

    return Simulation(data=data, truth=truth, params=params, _writer=writer)


# ----------------------------------------------------------------------- movie
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


def _place(rng, n, shape, radius, sep) -> list[tuple[float, float]]:
    ny, nx = shape
    centres: list[tuple[float, float]] = []
    tries = 0
    margin = radius + 1
    while len(centres) < n and tries < 20000:
        tries += 1
        c = rng.uniform(margin, ny - margin - 1), rng.uniform(margin, nx - margin - 1)
        if all(np.hypot(c[0] - a, c[1] - b) > sep for a, b in centres):
            centres.append(c)
    return centres


def simulate_movie(
    shape: tuple[int, int] = (64, 64),
    n_frames: int = 300,
    n_neurons: int = 20,
    neuron_radius: float = 4.0,
    *,
    rate: float = 10.0,
    spike_rate: float = 0.3,
    tau_rise: float = 0.05,
    tau_decay: float = 0.7,
    brightness: float = 200.0,
    background: float = 100.0,
    neuropil: float = 0.3,
    read_noise: float = 4.0,
    min_separation: float | None = None,
    dtype: str = "uint16",
    seed: int | None = 0,
) -> Simulation:
    """Two-photon-like calcium movie with planted neurons.

    Somata are elliptical Gaussian-like footprints (semi-axes ``neuron_radius``
    × 0.8–1.2, random orientation, cut to zero outside 1.5 radii). Each neuron
    fires Poisson spikes (``spike_rate`` Hz) that become calcium through AR(2)
    dynamics (rise ``tau_rise``, decay ``tau_decay`` seconds) with a per-neuron
    amplitude. The field adds a vignetted background, spatially smooth neuropil
    whose time course follows the population activity, photon shot noise
    (Poisson counts) and Gaussian read noise.

    Parameters
    ----------
    shape : (int, int)
        Frame size (y, x).
    n_frames, n_neurons : int
    neuron_radius : float
        Soma radius in pixels (about 4–8 px at typical two-photon resolution).
    rate : float
        Frame rate in Hz.
    spike_rate : float
        Mean firing rate in Hz.
    tau_rise, tau_decay : float
        Calcium rise and decay time constants in seconds (GCaMP6f-like default).
    brightness : float
        Photons per frame at the peak of a footprint for a unit calcium level.
    background : float
        Mean background photons per pixel per frame.
    neuropil : float
        Neuropil strength relative to ``background``.
    read_noise : float
        Standard deviation of the Gaussian read noise (counts).
    min_separation : float, optional
        Minimum centre distance (default ``1.5 * neuron_radius``).
    dtype : {"uint16", "float32"}
        Movie data type (uint16 counts like a microscope, or float32).
    seed : int or None

    Returns
    -------
    Simulation
        ``data`` (time, y, x) with attrs ``rate`` and ``units``; ``truth`` with
        ``footprints`` (neuron, y, x), ``masks`` (neuron, y, x, bool: footprint
        above 20 % of its peak), ``traces`` (neuron, time: calcium), ``spikes``
        (neuron, time: counts per frame), ``centres`` (neuron, axis),
        ``background`` (y, x) and ``neuropil`` (y, x).

    Examples
    --------
    >>> sim = simulate_movie((32, 32), n_frames=50, n_neurons=4, seed=0)
    >>> sim.data.dims, sim.data.shape, str(sim.data.dtype)
    (('time', 'y', 'x'), (50, 32, 32), 'uint16')
    >>> sim.truth["footprints"].shape
    (4, 32, 32)
    """
    if len(shape) != 2:
        raise input_error("shape", "a pair (ny, nx)", shape)
    ny, nx = (_check_int("shape", int(s), 8) for s in shape)
    T = _check_int("n_frames", n_frames, 2)
    n_neurons = _check_int("n_neurons", n_neurons, 0)
    radius = _check_pos("neuron_radius", neuron_radius)
    rate = _check_pos("rate", rate)
    if dtype not in ("uint16", "float32"):
        raise input_error("dtype", "'uint16' or 'float32'", dtype)
    rng = np.random.default_rng(seed)
    sep = 1.5 * radius if min_separation is None else float(min_separation)
    centres = _place(rng, n_neurons, (ny, nx), radius, sep)
    k = len(centres)
    yy, xx = np.mgrid[:ny, :nx].astype(float)
    A = np.zeros((k, ny, nx))
    for i, (cy, cx) in enumerate(centres):
        ry, rx = radius * rng.uniform(0.8, 1.2, 2)
        a = rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u = (dy * np.cos(a) + dx * np.sin(a)) / ry
        v = (-dy * np.sin(a) + dx * np.cos(a)) / rx
        d2 = u**2 + v**2
        A[i] = np.exp(-d2 / 0.8) * (d2 <= 2.25)
        A[i] /= A[i].max()
    masks = A >= 0.2

    d = np.exp(-1.0 / (tau_decay * rate))
    g = np.exp(-1.0 / (tau_rise * rate))
    g1, g2 = d + g, -d * g
    S = rng.poisson(spike_rate / rate, (k, T)).astype(float)
    C = lfilter([1.0], [1.0, -g1, -g2], S, axis=1)
    peak = lfilter([1.0], [1.0, -g1, -g2], np.r_[1.0, np.zeros(200)]).max()
    C = C / peak * rng.uniform(0.6, 1.4, (k, 1))

    bg_img = background * (1.0 - 0.35 * ((yy / ny - 0.5) ** 2 + (xx / nx - 0.5) ** 2))
    field_ = gaussian_filter(rng.standard_normal((ny, nx)), 6.0)
    field_ = (field_ - field_.min()) / max(np.ptp(field_), 1e-12)
    npil_img = neuropil * background * (0.5 + field_)
    pop = C.mean(0) if k else np.zeros(T)
    npil_t = 1.0 + gaussian_filter1d(pop, 2.0 * rate) / max(pop.max(), 1e-12) * 0.5
    drift = 1.0 + 0.03 * np.sin(2 * np.pi * np.arange(T) / max(T, 1))
    expected = (
        brightness * np.einsum("kyx,kt->tyx", A, C)
        + bg_img[None] * drift[:, None, None]
        + npil_img[None] * npil_t[:, None, None]
    )
    Y = rng.poisson(expected).astype(np.float64) + read_noise * rng.standard_normal(
        expected.shape
    )
    if dtype == "uint16":
        Y = np.clip(np.rint(Y), 0, 65535).astype(np.uint16)
        units = "counts"
    else:
        Y = Y.astype(np.float32)
        units = "photons"
    t = np.arange(T, dtype=float) / rate
    data = xr.DataArray(
        Y,
        dims=("time", "y", "x"),
        coords={"time": t, "y": np.arange(ny), "x": np.arange(nx)},
        name="movie",
        attrs={"rate": rate, "units": units},
    )
    truth = xr.Dataset(
        {
            "footprints": (("neuron", "y", "x"), A),
            "masks": (("neuron", "y", "x"), masks),
            "traces": (("neuron", "time"), C),
            "spikes": (("neuron", "time"), S),
            "centres": (("neuron", "axis"), np.array(centres).reshape(-1, 2)),
            "background": (("y", "x"), bg_img),
            "neuropil": (("y", "x"), npil_img),
        },
        coords={
            "neuron": np.arange(k),
            "y": np.arange(ny),
            "x": np.arange(nx),
            "time": t,
            "axis": ["y", "x"],
        },
        attrs={"ar2_coefficients": [g1, g2], "brightness": brightness},
    )
    params = {
        "simulator": "simulate_movie",
        "shape": [ny, nx],
        "n_frames": T,
        "n_neurons": n_neurons,
        "neuron_radius": radius,
        "rate": rate,
        "spike_rate": spike_rate,
        "tau_rise": tau_rise,
        "tau_decay": tau_decay,
        "seed": seed,
    }

    def writer(nwbfile) -> None:
        from pynwb.ophys import (
            Fluorescence,
            ImageSegmentation,
            OpticalChannel,
            TwoPhotonSeries,
        )

        device = nwbfile.create_device(
            name="Microscope", description="Simulated two-photon microscope."
        )
        channel = OpticalChannel(
            name="OpticalChannel",
            description="Green emission (simulated GCaMP).",
            emission_lambda=510.0,
        )
        plane = nwbfile.create_imaging_plane(
            name="ImagingPlane",
            optical_channel=channel,
            device=device,
            description="Simulated imaging plane.",
            excitation_lambda=920.0,
            indicator="GCaMP6f (simulated)",
            location="simulated cortex",
            imaging_rate=rate,
        )
        nwbfile.add_acquisition(
            TwoPhotonSeries(
                name="TwoPhotonSeries",
                data=np.ascontiguousarray(Y.transpose(0, 2, 1)),  # (frames, x, y)
                imaging_plane=plane,
                unit=units,
                rate=rate,
                starting_time=0.0,
                dimension=[nx, ny],
                description="Simulated calcium movie, stored (frames, x, y).",
            )
        )
        ophys = nwbfile.create_processing_module(
            "ophys", "Ground truth of the simulated movie."
        )
        seg = ImageSegmentation(name="ImageSegmentation")
        ophys.add(seg)
        ps = seg.create_plane_segmentation(
            name="GroundTruth",
            description="Planted neuron footprints (image_mask stored (roi, x, y)).",
            imaging_plane=plane,
        )
        for i in range(k):
            ps.add_roi(image_mask=A[i].T)
        if k:
            rois = ps.create_roi_table_region(
                region=list(range(k)), description="All planted neurons."
            )
            fl = Fluorescence(name="Fluorescence")
            ophys.add(fl)
            fl.create_roi_response_series(
                name="GroundTruthCalcium",
                data=C.T,
                rois=rois,
                unit="a.u.",
                rate=rate,
                starting_time=0.0,
                description="True calcium (time, roi) of the planted neurons.",
            )

    return Simulation(data=data, truth=truth, params=params, _writer=writer)


# ------------------------------------------------------------------ assemblies
def simulate_assemblies(
    n_neurons: int = 40,
    n_assemblies: int = 3,
    n_bins: int = 4000,
    *,
    members: int = 8,
    overlap: int = 2,
    rate: float = 0.3,
    gain: float = 3.0,
    event_prob: float = 0.05,
    bin_width: float = 0.025,
    behavior_noise: float = 0.05,
    seed: int | None = 0,
) -> Simulation:
    """Poisson spike counts with overlapping planted assemblies.

    Assembly ``k`` has ``members`` neurons (consecutive blocks, each sharing
    ``overlap`` neurons with the next, with weights 1–1.5). Its activation is a
    train of brief events (Bernoulli ``event_prob`` per bin, smoothed over about
    a bin); during events its members fire ``gain`` × weight extra spikes per
    bin on top of a baseline of ``rate`` spikes per bin. A behavioural variable
    is driven by the assemblies: the sum of their slowly smoothed activations
    with alternating signs, plus noise.

    Parameters
    ----------
    n_neurons, n_assemblies, n_bins : int
    members, overlap : int
        Assembly size and the overlap of consecutive assemblies.
    rate : float
        Baseline spikes per bin.
    gain : float
        Extra spikes per bin at unit activation and weight.
    event_prob : float
        Probability per bin of an assembly event.
    bin_width : float
        Bin width in seconds.
    behavior_noise : float
        Standard deviation of the noise added to the behaviour.
    seed : int or None

    Returns
    -------
    Simulation
        ``data`` (time, neuron) spike counts (time = bin centres, s) with attrs
        ``bin_width``, ``rate`` (bins per second) and ``units``; ``behavior``
        (time,); ``truth`` with ``membership`` (neuron, assembly, unit-norm
        columns), ``members`` (neuron, assembly, bool), ``activations``
        (assembly, time) and ``behavior`` (time,).

    Examples
    --------
    >>> sim = simulate_assemblies(n_neurons=20, n_assemblies=2, n_bins=500)
    >>> sim.data.dims, sim.data.shape, sim.truth["membership"].shape
    (('time', 'neuron'), (500, 20), (20, 2))
    """
    n = _check_int("n_neurons", n_neurons, 1)
    r = _check_int("n_assemblies", n_assemblies, 1)
    T = _check_int("n_bins", n_bins, 2)
    members = _check_int("members", members, 1)
    overlap = _check_int("overlap", overlap, 0)
    bin_width = _check_pos("bin_width", bin_width)
    if overlap >= members:
        raise input_error("overlap", f"smaller than members ({members})", overlap)
    if members > n:
        raise input_error("members", f"at most n_neurons ({n})", members)
    rng = np.random.default_rng(seed)
    W = np.zeros((n, r))
    step = members - overlap
    for k in range(r):
        W[(k * step + np.arange(members)) % n, k] = 1.0 + 0.5 * rng.random(members)
    events = (rng.random((r, T)) < event_prob).astype(float)
    H = gaussian_filter1d(events, 1.0, axis=1) * 2.5
    lam = rate + gain * (W @ H)
    counts = rng.poisson(lam).T.astype(float)
    signs = np.where(np.arange(r) % 2 == 0, 1.0, -1.0)
    behavior = signs @ gaussian_filter1d(H, 4.0, axis=1)
    behavior = behavior + behavior_noise * rng.standard_normal(T)
    t = (np.arange(T) + 0.5) * bin_width
    neurons = np.arange(n)
    data = xr.DataArray(
        counts,
        dims=("time", "neuron"),
        coords={"time": t, "neuron": neurons},
        name="activity",
        attrs={
            "bin_width": bin_width,
            "rate": 1.0 / bin_width,
            "units": "spikes per bin",
        },
    )
    beh = xr.DataArray(
        behavior,
        dims=("time",),
        coords={"time": t},
        name="behavior",
        attrs={"rate": 1.0 / bin_width, "units": "a.u."},
    )
    truth = xr.Dataset(
        {
            "membership": (("neuron", "assembly"), W / np.linalg.norm(W, axis=0)),
            "members": (("neuron", "assembly"), W > 0),
            "activations": (("assembly", "time"), H),
            "behavior": ("time", behavior),
        },
        coords={"neuron": neurons, "assembly": np.arange(r), "time": t},
        attrs={"behavior_signs": signs.tolist(), "bin_width": bin_width},
    )
    params = {
        "simulator": "simulate_assemblies",
        "n_neurons": n,
        "n_assemblies": r,
        "n_bins": T,
        "members": members,
        "overlap": overlap,
        "rate": rate,
        "gain": gain,
        "event_prob": event_prob,
        "bin_width": bin_width,
        "seed": seed,
    }
    spike_rng = np.random.default_rng([0 if seed is None else seed, 1])

    def writer(nwbfile) -> None:
        from pynwb import TimeSeries
        from pynwb.behavior import BehavioralTimeSeries

        nwbfile.add_unit_column(name="neuron", description="Simulated neuron index.")
        for j in range(n):
            c = counts[:, j].astype(int)
            bins = np.repeat(np.arange(T), c)
            # inside the bin, away from its edges, so re-binning is exact
            spikes = (bins + spike_rng.uniform(0.05, 0.95, bins.size)) * bin_width
            nwbfile.add_unit(spike_times=np.sort(spikes), neuron=int(j), id=int(j))
        module = nwbfile.create_processing_module(
            "behavior", "Behaviour driven by the simulated assemblies."
        )
        bts = BehavioralTimeSeries(name="BehavioralTimeSeries")
        bts.add_timeseries(
            TimeSeries(
                name="behavior",
                data=behavior,
                unit="a.u.",
                timestamps=t,
                description="Behavioural variable driven by assembly activity "
                "(signed sum of smoothed activations plus noise), sampled at the "
                "spike-count bin centres.",
            )
        )
        module.add(bts)

    return Simulation(
        data=data, truth=truth, params=params, behavior=beh, _writer=writer
    )
