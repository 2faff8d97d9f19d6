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
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neuronmf.errors import input_error
from neuronmf.io._common import (
    as_path,
    base_attrs,
    check_ndim,
    check_rate,
    check_times,
    choose,
    detect_format,
    open_hdf5,
    rate_from_times,
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
    st = np.asarray(spike_times, dtype=float)
    su = np.asarray(spike_unit)
    if units is None:
        units = np.unique(su)
    lo = float(np.floor(st.min() / bin_width) * bin_width) if st.size else 0.0
    t0 = lo if t_start is None else float(t_start)
    t1 = (float(st.max()) if st.size else t0) if t_stop is None else float(t_stop)
    n_bins = max(1, int(np.floor((t1 - t0) / bin_width)) + (t_stop is None))
    keep = (st >= t0) & (st < t0 + n_bins * bin_width)
    b = np.minimum(((st[keep] - t0) / bin_width).astype(np.int64), n_bins - 1)
    col = np.searchsorted(units, su[keep])
    counts = np.zeros((n_bins, len(units)), dtype=np.int64)
    np.add.at(counts, (b, col), 1)
    centres = t0 + (np.arange(n_bins) + 0.5) * bin_width
    return counts, centres, np.asarray(units)


def _check_bin_width(bin_width: Any) -> float:
    if bin_width is None:
        raise input_error(
            "bin_width",
            "a positive number of seconds to bin spike times",
            None,
            "Pass e.g. bin_width=0.05 (50 ms bins).",
        )
    return check_rate(bin_width, name="bin_width")  # positive finite float


def load_activity(
    path: str | os.PathLike,
    *,
    series: str | None = None,
    bin_width: float | None = None,
    t_start: float | None = None,
    t_stop: float | None = None,
    rate: float | None = None,
) -> xr.DataArray:
    """Load neural activity as a (time, neuron) DataArray.

    Parameters
    ----------
    path : str or path-like
        NWB file (``Units`` table or ``RoiResponseSeries``), ``.npz`` (with
        ``spike_times`` and ``spike_unit``, or a 2-D array), HDF5 or ``.npy``.
    series : str, optional
        NWB series/table name or path (``"RoiResponseSeries"``, ``"units"``), or the
        array name in an npz/HDF5 file. None takes the only candidate.
    bin_width : float, optional
        Bin width in seconds; required for spike times.
    t_start, t_stop : float, optional
        Binning range in seconds (default: from the first to the last spike).
    rate : float, optional
        Sampling rate (Hz) of array data that does not store one.

    Returns
    -------
    xarray.DataArray
        Dims ``(time, neuron)``; coords ``time`` (s; bin centres for spikes) and
        ``neuron`` (unit ids / ROI ids); attrs ``rate``, ``units`` (``"spikes"``
        for counts), ``bin_width`` when binned, ``source``, ``source_path``.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from neuronmf.io import load_activity
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "spikes.npz"
    >>> np.savez(p, spike_times=[0.1, 0.2, 0.7], spike_unit=[0, 1, 0])
    >>> a = load_activity(p, bin_width=0.5)
    >>> a.dims, a.values.tolist(), a.attrs["rate"]
    (('time', 'neuron'), [[1, 1], [1, 0]], 2.0)
    """
    p = as_path(path)
    rate = check_rate(rate)
    fmt = detect_format(p)
    if fmt == "nwb":
        return _activity_nwb(p, series, bin_width, t_start, t_stop)
    if fmt == "npz":
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        if series is None and {"spike_times", "spike_unit"} <= set(arrays):
            return _binned(
                p,
                "spike_times",
                arrays["spike_times"],
                arrays["spike_unit"],
                bin_width,
                t_start,
                t_stop,
            )
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
            data = np.asarray(every[key][()])
            attr = every[key].attrs.get("rate")
        return _matrix(p, key, data, rate or (None if attr is None else float(attr)))
    if fmt == "npy":
        return _matrix(p, "", np.load(p), rate)
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


def _binned(p, key, st, su, bin_width, t_start, t_stop) -> xr.DataArray:
    bw = _check_bin_width(bin_width)
    st = np.asarray(st, dtype=float).ravel()
    su = np.asarray(su).ravel()
    if st.size != su.size:
        raise input_error(
            f"spike_unit in '{p}'",
            f"one label per spike ({st.size} spike times)",
            f"{su.size} labels",
        )
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


def _activity_nwb(p, series, bin_width, t_start, t_stop) -> xr.DataArray:
    import pynwb

    from neuronmf.io.nwb import object_paths, open_nwb, series_times, to_values

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
            bw = _check_bin_width(bin_width)
            ids = np.asarray(u.id.data[:])
            flat = np.asarray(u.spike_times.data[:], dtype=float)
            ends = np.asarray(u.spike_times_index.data[:])
            labels = np.repeat(ids, np.diff(np.concatenate([[0], ends])))
            order = np.argsort(ids)
            counts, centres, _ = bin_spikes(
                flat, labels, bw, units=ids[order], t_start=t_start, t_stop=t_stop
            )
            counts = counts[:, np.argsort(order)]  # back to table order
            da = _counts(p, key, counts, centres, ids, bw)
            da.attrs["activity_kind"] = "counts"  # read by assemblies.detect
            return da
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


# --------------------------------------------------------------- behaviour
def load_behavior(
    path: str | os.PathLike,
    *,
    series: str | None = None,
    times: Any = None,
    time_column: str | None = None,
) -> xr.DataArray:
    """Load a behavioural variable as (time, ...), optionally resampled.

    Parameters
    ----------
    path : str or path-like
        NWB (``SpatialSeries``, ``TimeSeries`` in ``BehavioralTimeSeries`` /
        ``Position`` / ... or in a ``behavior`` module), ``.npz`` with a group of
        arrays ``<name>_t`` + ``<name>_<component>`` (e.g. ``position_t``,
        ``position_x``, ``position_y``), or a CSV/TSV table with a time column.
    series : str, optional
        NWB series name/path, or the npz group name (``"position"``).
    times : array-like or DataArray, optional
        Time base in seconds (e.g. ``activity.time``) to resample onto by linear
        interpolation; times outside the recording give NaN (no extrapolation).
    time_column : str, optional
        CSV/TSV: the time column (default: a column named ``time``).

    Returns
    -------
    xarray.DataArray
        Dims ``(time,)`` for a 1-D variable or ``(time, axis)``; coords ``time``
        (s) and ``axis`` (component names); attrs ``rate``, ``units``, ``source``,
        ``source_path`` (and ``resampled`` when ``times`` was given).

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
    if fmt == "nwb":
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
            f"behaviour file '{p}'", "NWB, NPZ or a CSV/TSV table", f"a {fmt} file"
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
    with np.load(p, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
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
