"""Spike times to counts: binning, trial alignment, and their checks.

:func:`bin_spikes` counts spikes per (bin, unit) on a continuous time base;
:func:`aligned_counts` counts them in windows around trial events. Both refuse
NaN/infinite spike times and count arrays that cannot fit in memory before
allocating anything. Public through :mod:`neuronmf.io.activity`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from neuronmf.errors import input_error
from neuronmf.io._common import available_memory, base_attrs, check_rate

__all__ = [
    "MAX_COUNTS_BYTES",
    "MAX_COUNTS_MEMORY_FRACTION",
    "align_refused",
    "aligned_counts",
    "bin_spikes",
    "bin_spikes_sparse",
    "check_align",
    "check_bin_width",
]


def bin_spikes(
    spike_times: np.ndarray,
    spike_unit: np.ndarray,
    bin_width: float,
    *,
    units: np.ndarray | None = None,
    t_start: float | None = None,
    t_stop: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count spikes per (bin, unit).

    Returns ``(counts (time, neuron), bin centres in s, unit labels)``. Bins are
    ``[t_start + k·bin_width, t_start + (k+1)·bin_width)``; spikes outside
    ``[t_start, t_stop)`` are dropped.

    Examples
    --------
    >>> c, t, u = bin_spikes(np.array([0.1, 0.2, 0.7]), np.array([0, 1, 0]), 0.5)
    >>> c.tolist(), t.tolist(), u.tolist()
    ([[1, 1], [1, 0]], [0.25, 0.75], [0, 1])
    """
    if not (
        isinstance(bin_width, (int, float, np.integer, np.floating))
        and not isinstance(bin_width, bool)
        and np.isfinite(bin_width)
        and bin_width > 0
    ):
        raise input_error(
            "bin_width",
            "a positive number of seconds",
            repr(bin_width),
            "Pass e.g. bin_width=0.05 (50 ms bins).",
        )
    b, col, n_bins, centres, units = _bin_index(
        spike_times, spike_unit, bin_width, units, t_start, t_stop, dense=True
    )
    counts = np.zeros((n_bins, len(units)), dtype=np.int64)
    np.add.at(counts, (b, col), 1)
    return counts, centres, units


def bin_spikes_sparse(
    spike_times: np.ndarray,
    spike_unit: np.ndarray,
    bin_width: float,
    *,
    units: np.ndarray | None = None,
    t_start: float | None = None,
    t_stop: float | None = None,
):
    """:func:`bin_spikes` as a ``scipy.sparse.csr_array`` (time, neuron) of int64.

    The same bins and counts, built from the spikes in O(number of spikes):
    the dense (time, neuron) matrix is never allocated (so no size limit).

    Examples
    --------
    >>> c, t, u = bin_spikes_sparse(np.array([0.1, 0.2, 0.7]), np.array([0, 1, 0]),
    ...                             0.5)
    >>> c.toarray().tolist(), t.tolist(), u.tolist()
    ([[1, 1], [1, 0]], [0.25, 0.75], [0, 1])
    """
    import scipy.sparse as sp

    if not (
        isinstance(bin_width, (int, float, np.integer, np.floating))
        and not isinstance(bin_width, bool)
        and np.isfinite(bin_width)
        and bin_width > 0
    ):
        raise input_error("bin_width", "a positive number of seconds", repr(bin_width))
    b, col, n_bins, centres, units = _bin_index(
        spike_times, spike_unit, bin_width, units, t_start, t_stop, dense=False
    )
    counts = sp.csr_array(
        (np.ones(b.size, dtype=np.int64), (b, col)), shape=(n_bins, len(units))
    )
    counts.sum_duplicates()
    return counts, centres, units


def _bin_index(spike_times, spike_unit, bin_width, units, t_start, t_stop, *, dense):
    """``(bin, unit column, n_bins, centres, units)`` of every spike kept."""
    st = _finite_spike_times(spike_times)
    su = np.asarray(spike_unit)
    if units is None:
        units = np.unique(su)
    lo = float(np.floor(st.min() / bin_width) * bin_width) if st.size else 0.0
    t0 = lo if t_start is None else float(t_start)
    t1 = (float(st.max()) if st.size else t0) if t_stop is None else float(t_stop)
    n_bins = max(1.0, np.floor((t1 - t0) / bin_width) + (t_stop is None))
    if dense:
        _check_count_size(n_bins, len(units), bin_width, t1 - t0)
    n_bins = int(n_bins)
    keep = (st >= t0) & (st < t0 + n_bins * bin_width)
    b = np.minimum(((st[keep] - t0) / bin_width).astype(np.int64), n_bins - 1)
    col = np.searchsorted(units, su[keep])
    centres = t0 + (np.arange(n_bins) + 0.5) * bin_width
    return b, col, n_bins, centres, np.asarray(units)


def _finite_spike_times(spike_times: Any, what: str = "spike_times") -> np.ndarray:
    """Spike times as floats, refusing NaN and infinite values (before binning)."""
    st = np.asarray(spike_times, dtype=float)
    bad = ~np.isfinite(st)
    if bad.any():
        first = int(np.flatnonzero(bad.ravel())[0])
        raise input_error(
            what,
            "finite times in seconds",
            f"{int(bad.sum())} NaN or infinite value(s) of {st.size}, the first "
            f"at index {first} ({st.ravel()[first]})",
            "Drop the missing spikes before binning, e.g. "
            "times[np.isfinite(times)] with their unit labels.",
        )
    return st


#: Spike-count arrays are refused above this fraction of the free memory.
MAX_COUNTS_MEMORY_FRACTION = 0.5
#: ... and above this many bytes where the free memory cannot be told.
MAX_COUNTS_BYTES = 16 * 2**30


def _check_count_size(
    n_bins: float, n_units: int, bin_width: float, span: float, n_trials: int = 1
) -> None:
    """Refuse a spike-count array that cannot fit in memory, before allocating.

    ``n_trials × n_bins × n_units`` int64 counts must take at most
    :data:`MAX_COUNTS_MEMORY_FRACTION` of the available memory (or
    :data:`MAX_COUNTS_BYTES` where that cannot be told), e.g. ``bin_width=1e-9``
    over a 10-minute recording asks for 600 billion bins.
    """
    nbytes = float(n_trials) * float(n_bins) * max(int(n_units), 1) * 8
    free = available_memory()
    limit = MAX_COUNTS_MEMORY_FRACTION * free if free > 0 else MAX_COUNTS_BYTES
    if np.isfinite(nbytes) and nbytes <= limit:
        return
    per_bin = float(n_trials) * max(int(n_units), 1) * 8
    wider = span * per_bin / limit if span > 0 and limit > 0 else float("nan")
    raise input_error(
        "bin_width",
        f"wide enough for the spike counts to fit in memory (at most "
        f"{_size(limit)}, {'half the free memory' if free > 0 else 'the cap'})",
        f"{bin_width:g} s: {n_bins:.4g} bins x {int(n_units)} units"
        + (f" x {n_trials} trials" if n_trials > 1 else "")
        + f" x 8 bytes = {_size(nbytes)}",
        f"Use bin_width >= {wider:.3g} s, or t_start/t_stop to bin a shorter range.",
    )


def _size(nbytes: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.3g} {unit}"
        nbytes /= 1024
    return f"{nbytes:.3g} PiB"  # pragma: no cover


def check_bin_width(bin_width: Any) -> float:
    if bin_width is None:
        raise input_error(
            "bin_width",
            "a positive number of seconds to bin spike times",
            None,
            "Pass e.g. bin_width=0.05 (50 ms bins).",
        )
    return check_rate(bin_width, name="bin_width", unit="s")  # positive finite float


def check_align(align, window, align_to, bin_width, t_start, t_stop):
    """Validate ``align``/``window`` before any file is read.

    Returns None or ``(events, trial coords, t0, t1, bin_width, align_to)``.
    """
    if align is None:
        if window is not None:
            raise input_error(
                "window",
                "given together with align=",
                window,
                "Pass align=<trial table or event times>, or drop window.",
            )
        return None
    if t_start is not None or t_stop is not None:
        raise input_error(
            "t_start/t_stop",
            "None when align= is given (the window sets the range)",
            (t_start, t_stop),
        )
    try:
        t0, t1 = (float(v) for v in window)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise input_error(
            "window",
            "two numbers (t0, t1) in seconds relative to each event",
            window,
            "Pass e.g. window=(-0.5, 1.0).",
        ) from None
    if not (np.isfinite(t0) and np.isfinite(t1) and t1 > t0):
        raise input_error("window", "(t0, t1) with finite t0 < t1", window)
    bw = None
    if bin_width is not None:
        bw = check_rate(bin_width, name="bin_width", unit="s")
        n = (t1 - t0) / bw
        if abs(n - round(n)) > 1e-6 * max(1.0, n) or round(n) < 1:
            raise input_error(
                "bin_width",
                f"a divisor of the window length ({t1 - t0:g} s)",
                bin_width,
                "Choose a window that holds a whole number of bins.",
            )
    coords: dict[str, Any] = {}
    if isinstance(align, str):
        raise input_error(
            "align",
            "a trial table (from load_behavior(path, table=..., column=...)), "
            "a DataFrame or an array of event times in seconds",
            align,
            f"Use trials = load_behavior(path, table={align!r}, column=...), then "
            "align=trials.",
        )
    if isinstance(align, xr.DataArray | xr.Dataset):
        dim = "trial" if "trial" in align.dims else (align.dims or ("trial",))[0]
        if align_to not in align.coords and align_to not in getattr(
            align, "data_vars", {}
        ):
            raise input_error(
                f"align_to={align_to!r}",
                "a coordinate of the align table",
                f"coordinates {', '.join(map(str, align.coords)) or 'none'}",
                "Pass align_to=<one of them>, e.g. align_to='start_time'.",
            )
        events = np.asarray(align[align_to].values, dtype=float)
        for name, c in align.coords.items():
            if c.dims == (dim,):
                coords[str(name)] = np.asarray(c.values)
        if dim in coords:
            coords["trial"] = coords.pop(dim)
        if isinstance(align, xr.DataArray) and align.name and align.ndim == 1:
            coords.setdefault(str(align.name), np.asarray(align.values))
    elif hasattr(align, "columns") and hasattr(align, "index"):  # a DataFrame
        if align_to not in align.columns:
            raise input_error(
                f"align_to={align_to!r}",
                "a column of the align table",
                f"columns {', '.join(map(str, align.columns))}",
            )
        events = np.asarray(align[align_to], dtype=float)
        coords["trial"] = np.asarray(align.index)
        for name in align.columns:
            col = np.asarray(align[name])
            if col.ndim == 1 and (col.dtype.kind in "biufUS" or name == align_to):
                coords[str(name)] = col
    else:
        try:
            events = np.asarray(align, dtype=float)
        except (TypeError, ValueError):
            raise input_error(
                "align",
                "a trial table, a DataFrame or an array of event times (s)",
                type(align).__name__,
            ) from None
    events = np.atleast_1d(events)
    if events.ndim != 1 or events.size == 0 or not np.all(np.isfinite(events)):
        raise input_error(
            f"align event times ({align_to})",
            "a non-empty 1-D array of finite times in seconds",
            f"shape {events.shape}"
            + ("" if np.all(np.isfinite(events)) else " with NaN/Inf"),
        )
    coords.setdefault("trial", np.arange(events.size))
    coords.setdefault(align_to, events)
    return events, coords, t0, t1, bw, str(align_to)


def align_refused(what: str):
    return input_error(
        "align",
        "used with spike times (NWB Units, npz spike_times/spike_unit, MATLAB "
        "cells of spike-time vectors)",
        f"{what}",
        "For continuous traces, select the window from the (time, neuron) array "
        "with xarray, e.g. act.sel(time=slice(t + t0, t + t1)).",
    )


def aligned_counts(
    p, key, trains, units, aligned, meta, *, stacklevel: int = 4
) -> xr.DataArray:
    """Count each unit's spikes in ``[event + t0, event + t1)`` (per bin)."""
    events, coords, t0, t1, bw, align_to = aligned
    n_bins = 1 if bw is None else round((t1 - t0) / bw)
    _check_count_size(n_bins, len(trains), bw or t1 - t0, t1 - t0, events.size)
    trains = [_finite_spike_times(st) for st in trains]
    step = (t1 - t0) / n_bins
    edges = events[:, None] + t0 + step * np.arange(n_bins + 1)[None, :]
    counts = np.zeros((events.size, n_bins, len(trains)), dtype=np.int64)
    lo, hi = np.inf, -np.inf
    for j, st in enumerate(trains):
        st = np.sort(np.asarray(st, dtype=float))
        if st.size:
            lo, hi = min(lo, st[0]), max(hi, st[-1])
        idx = np.searchsorted(st, edges, side="left")
        counts[:, :, j] = np.diff(idx, axis=1)
    # a window with no spike of any unit on either side lies outside the recording
    outside = (edges[:, -1] <= lo) | (edges[:, 0] > hi)
    if np.all(outside):
        raise input_error(
            "align event times",
            f"on the spikes' clock (spikes span [{lo:g}, {hi:g}] s)",
            f"events {events.min():g}..{events.max():g} s whose windows hold no spike",
            "Check that the events are in seconds on the same clock as the spikes.",
        )
    if np.any(outside):
        warnings.warn(
            f"{int(outside.sum())} of {events.size} trial windows lie entirely "
            f"outside the spikes' time range [{lo:g}, {hi:g}] s (trials "
            f"{', '.join(map(str, np.asarray(coords['trial'])[outside][:5]))}"
            f"{', ...' if outside.sum() > 5 else ''}); their counts are 0 because "
            "nothing was recorded there, not because the neurons were silent.",
            UserWarning,
            stacklevel=stacklevel,  # user -> load_activity -> reader -> here
        )
    attrs = base_attrs(
        p,
        key,
        units="spikes",
        window_start=t0,
        window_stop=t1,
        align_to=align_to,
        activity_kind="counts",
    )
    trial_coords = {
        k: ("trial", np.asarray(v)) for k, v in coords.items() if k != "trial"
    }
    neuron_coords = {k: ("neuron", np.asarray(v)) for k, v in meta.items()}
    base = {"trial": np.asarray(coords["trial"]), "neuron": np.asarray(units)}
    if bw is None:
        return xr.DataArray(
            counts[:, 0, :],
            dims=("trial", "neuron"),
            coords={**base, **trial_coords, **neuron_coords},
            name="activity",
            attrs=attrs,
        )
    attrs.update(rate=1.0 / bw, bin_width=bw)
    attrs["time_reference"] = f"relative to each trial's {attrs['align_to']} (s)"
    centres = t0 + (np.arange(n_bins) + 0.5) * step
    return xr.DataArray(
        counts,
        dims=("trial", "time", "neuron"),
        coords={**base, "time": centres, **trial_coords, **neuron_coords},
        name="activity",
        attrs=attrs,
    )
