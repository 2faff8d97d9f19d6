"""A small stand-in simulator of Poisson counts with planted assemblies.

``neuronmf.datasets.simulate_assemblies`` is to be the package's simulator; it had
not landed when this module was written. This stand-in exists so the assemblies and
decoding modules, tests and examples can run; switch them to the package simulator
once it exists.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.ndimage import gaussian_filter1d


def simulate(
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
    seed: int = 0,
):
    """Poisson counts where assemblies fire together and drive a behaviour.

    Assembly k's members (``members`` neurons, consecutive blocks sharing
    ``overlap`` neurons with the next block) fire ``gain`` extra spikes per bin
    during its events (Bernoulli ``event_prob`` per bin, smoothed over a few
    bins). The behaviour is a smooth variable equal to the sum of the
    activations with alternating signs plus noise.

    Returns
    -------
    counts : xarray.DataArray (time, neuron)
    truth : dict with "W" (neuron, assembly, unit columns), "H" (assembly, time)
        and "behavior" (time,)

    Examples
    --------
    >>> counts, truth = simulate(n_neurons=20, n_assemblies=2, n_bins=500)
    >>> counts.shape, truth["W"].shape
    ((500, 20), (20, 2))
    """
    rng = np.random.default_rng(seed)
    W = np.zeros((n_neurons, n_assemblies))
    step = members - overlap
    for k in range(n_assemblies):
        W[(k * step + np.arange(members)) % n_neurons, k] = 1.0 + 0.5 * rng.random(
            members
        )
    events = (rng.random((n_assemblies, n_bins)) < event_prob).astype(float)
    H = gaussian_filter1d(events, 1.0, axis=1) * 2.5
    lam = rate + gain * (W @ H)
    counts = rng.poisson(lam).T.astype(float)
    signs = np.where(np.arange(n_assemblies) % 2 == 0, 1.0, -1.0)
    smooth = gaussian_filter1d(H, 4.0, axis=1)
    behavior = signs @ smooth + 0.05 * rng.standard_normal(n_bins)
    t = (np.arange(n_bins) + 0.5) * bin_width
    da = xr.DataArray(
        counts,
        dims=("time", "neuron"),
        coords={"time": t, "neuron": np.arange(n_neurons)},
        attrs={"bin_width": bin_width, "units": "spikes per bin"},
    )
    Wn = W / np.linalg.norm(W, axis=0)
    return da, {"W": Wn, "H": H, "behavior": behavior}
