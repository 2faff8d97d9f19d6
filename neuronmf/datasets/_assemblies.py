"""Simulated spike counts with planted, overlapping neural assemblies."""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.ndimage import gaussian_filter1d

from neuronmf.datasets._simulation import Simulation, _check_int, _check_pos
from neuronmf.errors import input_error

__all__ = ["simulate_assemblies"]


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
        _write_assemblies_nwb(nwbfile, counts, behavior, t, bin_width, spike_rng)

    return Simulation(
        data=data, truth=truth, params=params, behavior=beh, _writer=writer
    )


def _write_assemblies_nwb(nwbfile, counts, behavior, t, bin_width, spike_rng):
    """Spike times in a Units table and the behaviour as a BehavioralTimeSeries."""
    from pynwb import TimeSeries
    from pynwb.behavior import BehavioralTimeSeries

    nwbfile.add_unit_column(name="neuron", description="Simulated neuron index.")
    T, n = counts.shape
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
