"""Activity in: spike trains binned, arrays and DataArrays as (time, neuron) counts."""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from neuronmf.errors import input_error
from neuronmf.io.activity import bin_spikes as _io_bin_spikes

__all__ = ["bin_spikes"]


def bin_spikes(spike_times, bin_width: float, *, start=None, stop=None) -> xr.DataArray:
    """Bin spike trains into a (time, neuron) count DataArray.

    .. deprecated::
        Kept for compatibility; the one implementation is
        :func:`neuronmf.io.activity.bin_spikes` (flat spike times with unit labels,
        returning ``(counts, bin centres, units)``), which this function calls.

    This alias keeps its own anchoring: by default the first bin starts at the
    first spike (``start``) and the bins cover ``[start, stop]`` with a partial
    last bin kept and a spike at exactly the last edge counted in the last bin.
    :func:`neuronmf.io.activity.bin_spikes` instead anchors bins on multiples of
    ``bin_width`` by default (so bins line up across recordings, the better
    choice for new code) and drops a partial last bin when ``t_stop`` is given.
    With ``start`` and ``stop`` a whole number of bins apart the two give the
    same counts; a spike lying exactly on an inner bin edge may fall one bin
    apart from the earlier ``np.histogram`` version (floating-point rounding of
    the edge, either side is as right).

    Parameters
    ----------
    spike_times : sequence of 1-D arrays
        Spike times in seconds, one array per neuron.
    bin_width : float
        Bin width in seconds.
    start, stop : float, optional
        Time range (default: first and last spike).

    Examples
    --------
    >>> import numpy as np
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", DeprecationWarning)
    ...     counts = bin_spikes([np.array([0.01, 0.02, 0.15]), np.array([0.12])],
    ...                         0.1, start=0.0, stop=0.2)
    >>> counts.values.tolist()
    [[2.0, 0.0], [1.0, 1.0]]
    """
    warnings.warn(
        "neuronmf.assemblies.bin_spikes is deprecated; use "
        "neuronmf.io.activity.bin_spikes (or pass spike times with bin_width= to "
        "assemblies.detect).",
        DeprecationWarning,
        stacklevel=2,
    )
    return _bin_trains(spike_times, bin_width, start=start, stop=stop)


def _bin_trains(spike_times, bin_width, *, start=None, stop=None) -> xr.DataArray:
    """:func:`bin_spikes` without the deprecation warning (``detect``'s spike input)."""
    if not (isinstance(bin_width, (int, float)) and bin_width > 0):
        raise input_error("bin_width", "a positive number of seconds", bin_width)
    trains = [np.asarray(s, dtype=float).ravel() for s in spike_times]
    if not trains or not any(t.size for t in trains):
        raise input_error("spike_times", "at least one spike", "no spikes")
    times = np.concatenate(trains)
    labels = np.repeat(np.arange(len(trains)), [t.size for t in trains])
    finite = times[np.isfinite(times)]
    lo = float(finite.min()) if start is None else float(start)
    hi = float(finite.max()) if stop is None else float(stop)
    n = max(1, int(np.ceil((hi - lo) / bin_width - 1e-9)))
    # The old histogram's last edge was closed: a spike exactly on it is counted
    # in the last bin (moved to that bin's centre before the half-open binning).
    times = np.where(times == lo + bin_width * n, lo + bin_width * (n - 0.5), times)
    counts, centres, _ = _io_bin_spikes(
        times,
        labels,
        float(bin_width),
        units=np.arange(len(trains)),
        t_start=lo,
        t_stop=lo + (n + 0.5) * bin_width,  # exactly n bins, whatever the rounding
    )
    return xr.DataArray(
        counts.astype(float),
        dims=("time", "neuron"),
        coords={"time": centres, "neuron": np.arange(len(trains))},
        attrs={"bin_width": float(bin_width), "units": "spikes per bin"},
    )


def _as_counts(activity, bin_width, time_dim: str) -> xr.DataArray:
    if isinstance(activity, xr.DataArray):
        if time_dim not in activity.dims or activity.ndim != 2:
            raise input_error(
                "activity",
                f"a 2-D DataArray with a {time_dim!r} dim",
                str(activity.dims),
            )
        other = next(d for d in activity.dims if d != time_dim)
        A = activity.transpose(time_dim, other).rename(
            {time_dim: "time", other: "neuron"}
        )
        if "time" not in A.coords:
            A = A.assign_coords(time=np.arange(A.sizes["time"]))
        if "neuron" not in A.coords:
            A = A.assign_coords(neuron=np.arange(A.sizes["neuron"]))
        return A.astype(float)
    if (
        isinstance(activity, (list, tuple))
        and activity
        and np.ndim(activity[0]) == 1
        and (bin_width is not None)
    ):
        return _bin_trains(activity, bin_width)
    a = np.asarray(activity, dtype=float)
    if a.ndim != 2:
        raise input_error(
            "activity",
            "(time, neuron) counts, a DataArray, or spike-time arrays with bin_width",
            f"shape {a.shape}",
        )
    return xr.DataArray(
        a,
        dims=("time", "neuron"),
        coords={"time": np.arange(a.shape[0]), "neuron": np.arange(a.shape[1])},
    )


def _axis_coords(A: xr.DataArray) -> dict:
    """The ``neuron`` and ``time`` coordinates of ``A``, with any extra coordinate
    along one of them (unit ``location``, ``electrodes``, ``quality``, ...), so
    that unit metadata reaches the result."""
    coords: dict = {"neuron": A["neuron"].values, "time": A["time"].values}
    for name, c in A.coords.items():
        if name not in coords and c.ndim == 1 and c.dims[0] in ("neuron", "time"):
            coords[name] = (c.dims[0], c.values, dict(c.attrs))
    return coords


def refuse_constant(X, why: str) -> None:
    """Refuse (time × neuron, dense or sparse) activity with < 2 varying neurons.

    ``why`` ends the fix: what a constant neuron cannot do in this analysis.
    """
    import scipy.sparse as sp

    lo, hi = X.min(axis=0), X.max(axis=0)
    lo = lo.toarray() if sp.issparse(lo) else np.asarray(lo)
    hi = hi.toarray() if sp.issparse(hi) else np.asarray(hi)
    n_varying = int(np.count_nonzero(hi.ravel() > lo.ravel()))
    if n_varying < 2:
        raise input_error(
            "activity",
            "at least 2 neurons that vary over time",
            f"{n_varying} of {X.shape[1]} neurons varying",
            f"A constant neuron {why}; check the time range and the series "
            "(every bin the same value).",
        )
