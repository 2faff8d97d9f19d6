"""Neural activity (time, neuron) and behaviour (time, ...) loaders.

Activity comes from NWB ``Units`` (spike times, binned), ``RoiResponseSeries``
(fluorescence traces), ``.npz`` files with ``spike_times`` + ``spike_unit`` (binned)
or a 2-D array, and HDF5 datasets. Behaviour comes from NWB ``SpatialSeries`` /
``TimeSeries`` (e.g. inside ``Position`` or ``BehavioralTimeSeries``), ``.npz``
groups ``<name>_t`` + ``<name>_<component>``, or CSV tables, and is resampled by
linear interpolation onto a given time base.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neuronmf.errors import input_error
from neuronmf.io._common import (
    as_path,
    available_memory,
    base_attrs,
    check_ndim,
    check_rate,
    check_times,
    choose,
    detect_format,
    load_npy,
    numeric_data,
    open_hdf5,
    rate_from_times,
    read_npz,
    time_coord,
)

__all__ = ["bin_spikes", "load_activity", "load_behavior"]


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
    st = _finite_spike_times(spike_times)
    su = np.asarray(spike_unit)
    if units is None:
        units = np.unique(su)
    lo = float(np.floor(st.min() / bin_width) * bin_width) if st.size else 0.0
    t0 = lo if t_start is None else float(t_start)
    t1 = (float(st.max()) if st.size else t0) if t_stop is None else float(t_stop)
    n_bins = max(1.0, np.floor((t1 - t0) / bin_width) + (t_stop is None))
    _check_count_size(n_bins, len(units), bin_width, t1 - t0)
    n_bins = int(n_bins)
    keep = (st >= t0) & (st < t0 + n_bins * bin_width)
    b = np.minimum(((st[keep] - t0) / bin_width).astype(np.int64), n_bins - 1)
    col = np.searchsorted(units, su[keep])
    counts = np.zeros((n_bins, len(units)), dtype=np.int64)
    np.add.at(counts, (b, col), 1)
    centres = t0 + (np.arange(n_bins) + 0.5) * bin_width
    return counts, centres, np.asarray(units)


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


def _check_bin_width(bin_width: Any) -> float:
    if bin_width is None:
        raise input_error(
            "bin_width",
            "a positive number of seconds to bin spike times",
            None,
            "Pass e.g. bin_width=0.05 (50 ms bins).",
        )
    return check_rate(bin_width, name="bin_width", unit="s")  # positive finite float


def load_activity(
    path: str | os.PathLike,
    *,
    series: str | None = None,
    bin_width: float | None = None,
    t_start: float | None = None,
    t_stop: float | None = None,
    rate: float | None = None,
    variable: str | None = None,
    time_axis: int | None = None,
    align: Any = None,
    window: Sequence[float] | None = None,
    align_to: str = "start_time",
) -> xr.DataArray:
    """Load neural activity as a (time, neuron) DataArray, or aligned to trials.

    Parameters
    ----------
    path : str or path-like
        NWB file (``Units`` table or ``RoiResponseSeries``), ``.npz`` (with
        ``spike_times`` and ``spike_unit``, or a 2-D array), MATLAB ``.mat`` (v5
        or v7.3), HDF5 or ``.npy``.
    series : str, optional
        NWB series/table name or path (``"RoiResponseSeries"``, ``"units"``), or the
        array name in an npz/HDF5 file. None takes the only candidate.
    bin_width : float, optional
        Bin width in seconds; required for spike times.
    t_start, t_stop : float, optional
        Binning range in seconds (default: from the first to the last spike).
    rate : float, optional
        Sampling rate (Hz) of array data that does not store one.
    variable : str, optional
        MATLAB files: the variable (or ``"struct.field"``). A cell array or struct
        (nested as deep as needed) of spike-time vectors in seconds, one per unit
        (struct fields ``time``/``times``/``spike_times``/``ts`` are taken as the
        times; empty vectors are skipped and counted in the attribute
        ``empty_skipped``), or a numeric (neuron, time) / (time, neuron) matrix.
        None takes the only candidate.
    time_axis : {0, 1}, optional
        MATLAB matrices: which axis is time (0 = rows, 1 = columns). By default
        the longer axis is time (recordings have more samples than neurons); a
        square matrix needs ``time_axis``. The axis used is recorded in the
        attribute ``time_axis``.
    align : DataArray, DataFrame or array-like, optional
        Trials to align spikes to: the trial table from
        ``load_behavior(path, table="trials", column=...)`` (its ``align_to``
        coordinate gives the event times and all its ``trial`` coordinates are
        kept), a DataFrame with an ``align_to`` column (e.g. pynwb's
        ``nwbfile.trials.to_dataframe()``), or a 1-D array of event times (s).
        Needs ``window``; spike-time sources only.
    window : (float, float), optional
        ``(t0, t1)`` in seconds relative to each event: spikes in
        ``[event + t0, event + t1)`` are counted.
    align_to : str
        The trial-table column/coordinate giving the event times
        (``"start_time"``, ``"stop_time"`` or any other time column).

    Returns
    -------
    xarray.DataArray
        Dims ``(time, neuron)``; coords ``time`` (s; bin centres for spikes) and
        ``neuron`` (unit ids / ROI ids / MATLAB cell indices such as ``"3.2"``)
        plus, for NWB units, per-unit metadata on ``neuron`` (``location``,
        ``quality``, ``electrode_group``, ``electrode_location``, ...); attrs
        ``rate``, ``units`` (``"spikes"`` for counts), ``bin_width`` when binned,
        ``source``, ``source_path``.

        With ``align``: dims ``(trial, neuron)`` (spike counts over the whole
        window) when ``bin_width`` is None, or ``(trial, time, neuron)`` with
        ``time`` = bin centres relative to the event when ``bin_width`` is given
        (``t1 - t0`` must be a whole number of bins); the trial table's
        coordinates are on ``trial``; attrs ``window_start``, ``window_stop``,
        ``align_to``.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from neuronmf.io import load_activity
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "spikes.npz"
    >>> np.savez(p, spike_times=[0.1, 0.2, 0.7], spike_unit=[0, 1, 0])
    >>> a = load_activity(p, bin_width=0.5)
    >>> a.dims, a.values.tolist(), a.attrs["rate"]
    (('time', 'neuron'), [[1, 1], [1, 0]], 2.0)
    >>> trials = load_activity(p, align=[0.1, 0.2], window=(0.0, 0.5))
    >>> trials.dims, trials.values.tolist()
    (('trial', 'neuron'), [[1, 1], [0, 1]])
    """
    p = as_path(path)
    rate = check_rate(rate)
    aligned = _check_align(align, window, align_to, bin_width, t_start, t_stop)
    fmt = detect_format(p)
    _check_source(fmt, series, variable=variable, time_axis=time_axis)
    if fmt == "matlab":
        return _activity_mat(
            p, variable, bin_width, t_start, t_stop, rate, time_axis, aligned
        )
    if aligned is not None and fmt not in ("nwb", "npz"):
        raise _align_refused(f"a {fmt} array")
    if fmt == "nwb":
        return _activity_nwb(p, series, bin_width, t_start, t_stop, aligned=aligned)
    if fmt == "npz":
        arrays = read_npz(p)
        if series is None and {"spike_times", "spike_unit"} <= set(arrays):
            return _binned(
                p,
                "spike_times",
                arrays["spike_times"],
                arrays["spike_unit"],
                bin_width,
                t_start,
                t_stop,
                aligned,
            )
        if aligned is not None:
            raise _align_refused("a 2-D array (not spike times)")
        cands = [k for k, a in arrays.items() if a.ndim == 2]
        key = choose(
            cands,
            series,
            path=p,
            what="a 2-D (time, neuron) array",
            available=list(arrays),
        )
        return _matrix(p, key, arrays[key], rate)
    if fmt == "hdf5":
        import h5py

        with open_hdf5(p) as f:
            every: dict[str, Any] = {}
            f.visititems(
                lambda n, o: (
                    every.__setitem__(n, o) if isinstance(o, h5py.Dataset) else None
                )
            )
            cands = [k for k, d in every.items() if d.ndim == 2]
            key = choose(
                cands,
                series,
                path=p,
                what="a 2-D (time, neuron) dataset",
                available=list(every),
            )
            numeric_data(every[key].dtype, what=f"dataset '{key}' in '{p}'")
            check_ndim(
                every[key].shape,
                (2,),
                what=f"dataset '{key}' in '{p}'",
                expect="(time, neuron) matrix",
            )
            data = np.asarray(every[key][()])
            attr = every[key].attrs.get("rate")
        return _matrix(p, key, data, rate or (None if attr is None else float(attr)))
    if fmt == "npy":
        return _matrix(p, "", np.asarray(load_npy(p)), rate)
    raise input_error(f"activity file '{p}'", "NWB, NPZ, HDF5 or .npy", f"a {fmt} file")


def _matrix(p: Path, key: str, data: np.ndarray, rate: float | None) -> xr.DataArray:
    check_ndim(
        data.shape, (2,), what=f"array '{key}' in '{p}'", expect="(time, neuron) data"
    )
    coords: dict[str, Any] = {"neuron": np.arange(data.shape[1])}
    if rate is not None:
        coords["time"] = time_coord(data.shape[0], rate=rate)
    return xr.DataArray(
        data,
        dims=("time", "neuron"),
        coords=coords,
        name="activity",
        attrs=base_attrs(p, key, rate=rate, units="unknown"),
    )


def _binned(p, key, st, su, bin_width, t_start, t_stop, aligned=None):
    st = np.asarray(st, dtype=float).ravel()
    su = np.asarray(su).ravel()
    if st.size != su.size:
        raise input_error(
            f"spike_unit in '{p}'",
            f"one label per spike ({st.size} spike times)",
            f"{su.size} labels",
        )
    if aligned is not None:
        units = np.unique(su)
        order = np.argsort(su, kind="stable")
        bounds = np.searchsorted(su[order], units, side="right")
        trains = np.split(st[order], bounds[:-1])
        return _aligned(p, key, trains, units, aligned, {})
    bw = _check_bin_width(bin_width)
    counts, centres, units = bin_spikes(st, su, bw, t_start=t_start, t_stop=t_stop)
    return _counts(p, key, counts, centres, units, bw)


def _counts(p, key, counts, centres, units, bw) -> xr.DataArray:
    attrs = base_attrs(p, key, rate=1.0 / bw, units="spikes", bin_width=bw)
    return xr.DataArray(
        counts,
        dims=("time", "neuron"),
        coords={"time": centres, "neuron": units},
        name="activity",
        attrs=attrs,
    )


def _activity_nwb(p, series, bin_width, t_start, t_stop, aligned=None):
    import pynwb

    from neuronmf.io.nwb import (
        object_paths,
        open_nwb,
        series_times,
        to_values,
        unit_coords,
    )

    with open_nwb(p) as nwb:
        every = object_paths(nwb, pynwb.base.TimeSeries)
        tables = object_paths(nwb, pynwb.misc.Units)
        rrs = [
            k for k, v in every.items() if isinstance(v, pynwb.ophys.RoiResponseSeries)
        ]
        key = choose(
            [*tables, *rrs],
            series,
            path=p,
            what="activity (a Units table or a RoiResponseSeries)",
            available=[*tables, *every],
        )
        if key in tables:
            u = tables[key]
            ids = np.asarray(u.id.data[:])
            flat = np.asarray(u.spike_times.data[:], dtype=float)
            ends = np.asarray(u.spike_times_index.data[:])
            meta = unit_coords(u)
            if aligned is not None:
                trains = np.split(flat, ends[:-1])
                return _aligned(p, key, trains, ids, aligned, meta)
            bw = _check_bin_width(bin_width)
            labels = np.repeat(ids, np.diff(np.concatenate([[0], ends])))
            order = np.argsort(ids)
            counts, centres, _ = bin_spikes(
                flat, labels, bw, units=ids[order], t_start=t_start, t_stop=t_stop
            )
            counts = counts[:, np.argsort(order)]  # back to table order
            da = _counts(p, key, counts, centres, ids, bw)
            da.attrs["activity_kind"] = "counts"  # read by assemblies.detect
            return da.assign_coords({k: ("neuron", v) for k, v in meta.items()})
        if aligned is not None:
            raise _align_refused(f"a {type(every[key]).__name__} (not spike times)")
        s = every[key]
        data = np.asarray(s.data[:])
        check_ndim(
            data.shape,
            (1, 2),
            what=f"series '{key}' in '{p}'",
            expect="(time, roi) data",
        )
        data = np.asarray(to_values(s, data[:, None] if data.ndim == 1 else data))
        times, fs = series_times(s, data.shape[0], path=p, where=key)
        rois = getattr(s, "rois", None)
        neuron = np.arange(data.shape[1])
        if rois is not None:
            rows = np.asarray(rois.data[:])
            ids = np.asarray(rois.table.id.data[:])
            if rows.size == data.shape[1]:
                neuron = ids[rows]
        coords: dict[str, Any] = {"neuron": neuron}
        if times is not None:
            coords["time"] = times
        attrs = base_attrs(
            p, key, rate=fs, units=s.unit, neurodata_type=type(s).__name__
        )
        # What the series holds, for assemblies.detect(kind="auto"): a name like
        # Deconvolved/spikes wins; else the container (Fluorescence = raw F,
        # DfOverF = dF/F).
        parent = type(getattr(s, "parent", None)).__name__
        if any(w in s.name.lower() for w in ("deconv", "spike", "event")):
            attrs["activity_kind"] = "deconvolved"
        elif parent == "Fluorescence":
            attrs["activity_kind"] = "fluorescence"
        elif parent == "DfOverF":
            attrs["activity_kind"] = "dff"
        return xr.DataArray(
            data, dims=("time", "neuron"), coords=coords, name="activity", attrs=attrs
        )


# ------------------------------------------------------ trial alignment
def _check_source(fmt: str, series, *, variable=None, time_axis=None) -> None:
    """``series=`` names what to read in NWB/HDF5/NPZ files, ``variable=`` (and
    ``time_axis=``) in MATLAB files; refuse the one that does not fit ``fmt``."""
    if fmt == "matlab":
        if series is not None:
            raise input_error(
                "series", "None for a MATLAB file", series, "Pass variable= instead."
            )
        return
    for name, value in (("variable", variable), ("time_axis", time_axis)):
        if value is not None:
            raise input_error(
                name,
                "used with MATLAB .mat files only",
                f"a {fmt} file",
                "Use series= to choose what to read from this file.",
            )


def _check_align(align, window, align_to, bin_width, t_start, t_stop):
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


def _align_refused(what: str):
    return input_error(
        "align",
        "used with spike times (NWB Units, npz spike_times/spike_unit, MATLAB "
        "cells of spike-time vectors)",
        f"{what}",
        "For continuous traces, select the window from the (time, neuron) array "
        "with xarray, e.g. act.sel(time=slice(t + t0, t + t1)).",
    )


def _aligned(p, key, trains, units, aligned, meta) -> xr.DataArray:
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
            stacklevel=4,
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


# --------------------------------------------------------------- MATLAB
def _activity_mat(p, variable, bin_width, t_start, t_stop, rate, time_axis, aligned):
    from neuronmf.io.matlab import (
        oriented,
        pick_variable,
        read_mat_variable,
        spike_trains,
    )

    def fits(name, shape, dtype):
        return dtype in ("cell", "struct") or (
            len(shape) == 2 and min(shape) > 1 and dtype not in ("char",)
        )

    var = pick_variable(
        p,
        variable,
        what="cell/struct of spike times or 2-D matrix",
        fits=fits,
    )
    value = read_mat_variable(p, var)
    if value.dtype == object:
        labels, trains, n_empty = spike_trains(value, what=f"'{var}' in '{p}'")
        if not trains:
            raise input_error(
                f"variable '{var}' in '{p}'",
                "a cell/struct holding at least one spike-time vector",
                f"{n_empty} empty vectors and nothing else",
            )
        units = np.array(labels)
        if aligned is not None:
            da = _aligned(p, var, trains, units, aligned, {})
        else:
            bw = _check_bin_width(bin_width)
            flat = np.concatenate(trains)
            su = np.repeat(np.arange(len(trains)), [t.size for t in trains])
            counts, centres, _ = bin_spikes(
                flat,
                su,
                bw,
                units=np.arange(len(trains)),
                t_start=t_start,
                t_stop=t_stop,
            )
            da = _counts(p, var, counts, centres, units, bw)
            da.attrs["activity_kind"] = "counts"
        da.attrs["empty_skipped"] = int(n_empty)
        return da
    if aligned is not None:
        raise _align_refused(f"the numeric matrix '{var}'")
    if bin_width is not None:
        raise input_error(
            "bin_width",
            "None for a matrix (it applies to spike times)",
            bin_width,
            f"'{var}' is a {'×'.join(map(str, value.shape))} matrix; pass rate= "
            "(Hz) for its time axis instead.",
        )
    data, axis = oriented(value, time_axis=time_axis, what=f"variable '{var}' in '{p}'")
    da = _matrix(p, var, data, rate)
    da.attrs["time_axis"] = int(axis)
    return da


# --------------------------------------------------------------- behaviour
def load_behavior(
    path: str | os.PathLike,
    *,
    series: str | None = None,
    times: Any = None,
    time_column: str | int | None = None,
    variable: str | None = None,
    table: str | None = None,
    column: str | None = None,
) -> xr.DataArray:
    """Load a behavioural variable as (time, ...), or one value per trial.

    Parameters
    ----------
    path : str or path-like
        NWB (``SpatialSeries``, ``TimeSeries`` in ``BehavioralTimeSeries`` /
        ``Position`` / ... or in a ``behavior`` module), ``.npz`` with a group of
        arrays ``<name>_t`` + ``<name>_<component>`` (e.g. ``position_t``,
        ``position_x``, ``position_y``), a CSV/TSV table with a time column, or
        a MATLAB ``.mat`` (v5 or v7.3).
    series : str, optional
        NWB series name/path, or the npz group name (``"position"``).
    times : array-like or DataArray, optional
        Time base in seconds (e.g. ``activity.time``) to resample onto by linear
        interpolation; times outside the recording give NaN (no extrapolation).
    time_column : str or int, optional
        CSV/TSV: the time column (default: a column named ``time``). MATLAB: the
        timestamps (s), either a column index (0-based) of the variable's
        (time, component) matrix, or the name of another variable.
    variable : str, optional
        MATLAB files: the numeric variable (or ``"struct.field"``); a vector or a
        matrix whose longer axis is time. None takes the only candidate.
    table : str, optional
        NWB: a trial/interval table (``TimeIntervals``) by name or path:
        ``"trials"``, ``"epochs"``, ``"intervals/<name>"`` or one in a processing
        module. With ``table`` the result has one value per trial (no resampling).
    column : str, optional
        The table column to return (e.g. ``"correct"``, ``"stimulus"``).

    Returns
    -------
    xarray.DataArray
        Dims ``(time,)`` for a 1-D variable or ``(time, axis)``; coords ``time``
        (s) and ``axis`` (component names); attrs ``rate``, ``units``, ``source``,
        ``source_path`` (and ``resampled`` when ``times`` was given).

        With ``table``: dims ``("trial",)``, coords ``trial`` (the table ids),
        ``start_time``, ``stop_time`` (s) and every other 1-D column of numbers,
        booleans or text; named after ``column``; attrs ``table``, ``column``.
        Pass it as ``align=`` to :func:`load_activity` for trial-aligned activity.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from neuronmf.io import load_behavior
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "pos.npz"
    >>> np.savez(p, position_t=[0.0, 1.0], position_x=[0.0, 10.0])
    >>> load_behavior(p, times=[0.25, 0.5, 2.0]).values.tolist()
    [2.5, 5.0, nan]
    """
    p = as_path(path)
    fmt = detect_format(p)
    if table is not None or column is not None:
        return _behavior_table(p, fmt, table, column, series, times, variable)
    _check_source(fmt, series, variable=variable)
    if fmt == "matlab":
        t, data, axis, key, attrs = _behavior_mat(p, variable, time_column)
    elif fmt == "nwb":
        t, data, axis, key, attrs = _behavior_nwb(p, series)
    elif fmt == "npz":
        t, data, axis, key, attrs = _behavior_npz(p, series)
    elif fmt == "table":
        from neuronmf.io.emg import load_emg

        tab = load_emg(p, time_column=time_column)
        t, data = tab.time.values, tab.values
        axis, key = [str(c) for c in tab.channel.values], tab.attrs["source_path"]
        attrs = {"units": "unknown"}
    else:
        raise input_error(
            f"behaviour file '{p}'",
            "NWB, NPZ, MATLAB .mat or a CSV/TSV table",
            f"a {fmt} file",
        )
    t = check_times(t, data.shape[0], path=p, where=key)
    attrs = base_attrs(p, key, rate=rate_from_times(t), **attrs)
    if times is not None:
        t_new = np.asarray(
            times.values if hasattr(times, "values") else times, dtype=float
        ).ravel()
        if t_new.size > 1 and np.any(np.diff(t_new) < 0):
            raise input_error("times", "non-decreasing (seconds)", "a decrease")
        data = np.stack(
            [np.interp(t_new, t, col, left=np.nan, right=np.nan) for col in data.T],
            axis=1,
        )
        t = t_new
        attrs["resampled"] = "linear"
        attrs["rate"] = rate_from_times(t)
        if attrs["rate"] is None:
            del attrs["rate"]
    if data.shape[1] == 1:
        return xr.DataArray(
            data[:, 0], dims=("time",), coords={"time": t}, name="behavior", attrs=attrs
        )
    return xr.DataArray(
        data,
        dims=("time", "axis"),
        coords={"time": t, "axis": axis},
        name="behavior",
        attrs=attrs,
    )


def _behavior_nwb(p, series):
    import pynwb

    from neuronmf.io.nwb import object_paths, open_nwb, series_times, to_values

    containers = (
        pynwb.behavior.Position,
        pynwb.behavior.BehavioralTimeSeries,
        pynwb.behavior.CompassDirection,
        pynwb.behavior.PupilTracking,
        pynwb.behavior.EyeTracking,
    )
    with open_nwb(p) as nwb:
        every = object_paths(nwb, pynwb.base.TimeSeries)
        cands = [
            k
            for k, v in every.items()
            if isinstance(v, pynwb.behavior.SpatialSeries)
            or isinstance(v.parent, containers)
            or k.startswith(("processing/behavior/", "processing/behaviour/"))
        ]
        key = choose(
            cands,
            series,
            path=p,
            what="behaviour (a SpatialSeries or BehavioralTimeSeries)",
            available=list(every),
        )
        s = every[key]
        data = np.asarray(s.data[:])
        check_ndim(
            data.shape,
            (1, 2),
            what=f"series '{key}' in '{p}'",
            expect="(time, component) data",
        )
        data = np.asarray(
            to_values(s, data[:, None] if data.ndim == 1 else data), dtype=float
        )
        t, _ = series_times(s, data.shape[0], path=p, where=key)
        if t is None:
            raise input_error(f"series '{key}' in '{p}'", "timed", "no rate/times")
        names = "xyz" if isinstance(s, pynwb.behavior.SpatialSeries) else None
        axis = (
            list(names[: data.shape[1]])
            if names and data.shape[1] <= 3
            else [f"c{i}" for i in range(data.shape[1])]
        )
        return t, data, axis, key, {"units": s.unit, "neurodata_type": type(s).__name__}


def _behavior_npz(p, series):
    arrays = read_npz(p)
    groups = sorted(k[:-2] for k in arrays if k.endswith("_t"))
    name = choose(
        groups,
        series,
        path=p,
        what="a behaviour group (<name>_t with <name>_<component>)",
        available=list(arrays),
    )
    comps = [k for k in arrays if k.startswith(name + "_") and k != name + "_t"]
    if not comps:
        raise input_error(
            f"group '{name}' in '{p}'",
            f"arrays {name}_<component> besides {name}_t",
            "none",
        )
    data = np.stack([np.asarray(arrays[k], dtype=float).ravel() for k in comps], 1)
    axis = [k[len(name) + 1 :] for k in comps]
    return (
        np.asarray(arrays[name + "_t"], float),
        data,
        axis,
        name,
        {"units": "unknown"},
    )


def _behavior_mat(p, variable, time_column):
    from neuronmf.io.matlab import oriented, pick_variable, read_mat_variable

    def fits(name, shape, dtype):
        return dtype not in ("cell", "struct", "char") and max(shape, default=0) > 1

    var = pick_variable(p, variable, what="numeric vector or matrix", fits=fits)
    data, axis = oriented(
        read_mat_variable(p, var), time_axis=None, what=f"variable '{var}' in '{p}'"
    )
    data = np.asarray(data, dtype=float)
    cols = list(range(data.shape[1]))
    if isinstance(time_column, int | np.integer) and not isinstance(time_column, bool):
        if not 0 <= time_column < data.shape[1]:
            raise input_error(
                "time_column",
                f"a column index of '{var}' in [0, {data.shape[1] - 1}]",
                time_column,
            )
        t = data[:, int(time_column)]
        cols.remove(int(time_column))
        if not cols:
            raise input_error(
                f"variable '{var}' in '{p}'",
                "a matrix with values besides the time column",
                "only the time column",
            )
    elif isinstance(time_column, str):
        t = np.asarray(read_mat_variable(p, time_column), dtype=float).ravel()
    else:
        raise input_error(
            "time_column",
            "the timestamps (s) of a MATLAB behaviour variable: a column index "
            "of it or the name of a timestamps variable",
            time_column,
            f"Pass e.g. time_column=0 if the first column of '{var}' is time.",
        )
    names = [f"{var}(:,{j + 1})" if axis == 0 else f"{var}({j + 1},:)" for j in cols]
    return t, data[:, cols], names, var, {"units": "unknown", "time_axis": int(axis)}


def _behavior_table(p, fmt, table, column, series, times, variable):
    """One value per trial from an NWB ``TimeIntervals`` table."""
    if fmt != "nwb":
        raise input_error(
            "table",
            "used with NWB files (trial/interval tables)",
            f"table={table!r} for a {fmt} file",
        )
    for name, value in (("series", series), ("times", times), ("variable", variable)):
        if value is not None:
            raise input_error(
                name,
                "None with table= (a trial table has one value per trial)",
                "a value",
                "Drop it, or load the time series without table=.",
            )
    from neuronmf.io.nwb import interval_tables, open_nwb, table_columns

    with open_nwb(p) as nwb:
        tables = interval_tables(nwb)
        key = choose(
            list(tables),
            table,
            path=p,
            what="a trial/interval table (TimeIntervals)",
            preferred=["intervals/trials"],
            arg="table",
        )
        t = tables[key]
        ids = np.asarray(t.id.data[:])
        cols = table_columns(t)
        every = list(t.colnames)
    listed = ", ".join(every)
    example = next((c for c in every if c not in ("start_time", "stop_time")), None)
    if column is None or column not in every:
        raise input_error(
            f"column={column!r}",
            f"a column of the table '{key}'",
            f"{'no column given' if column is None else 'no such column'}; "
            f"it has: {listed}",
            f"Pass column=<one of them>, e.g. column={example or 'start_time'!r}.",
        )
    if column not in cols:
        raise input_error(
            f"column '{column}' of '{key}'",
            "one number, boolean or text per trial",
            "a ragged or reference column",
            f"Choose one of: {', '.join(cols)}.",
        )
    coords: dict[str, Any] = {"trial": ids}
    coords.update({k: ("trial", v) for k, v in cols.items() if k != column})
    attrs = base_attrs(p, key, table=key, column=column)
    return xr.DataArray(
        cols[column], dims=("trial",), coords=coords, name=column, attrs=attrs
    )
