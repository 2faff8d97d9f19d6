"""Neural activity loader: (time, neuron) DataArrays, or counts aligned to trials.

Activity comes from NWB ``Units`` (spike times, binned), ``RoiResponseSeries``
(fluorescence traces), ``.npz`` files with ``spike_times`` + ``spike_unit`` (binned)
or a 2-D array, MATLAB cells/structs of spike times or matrices, HDF5 datasets,
``.npy`` arrays, CSV/TSV tables (a time column, one column per neuron) and
NetCDF results (a DataArray, or a Dataset's (time, neuron) variable);
:data:`_ACTIVITY_READERS` maps each format to its reader.
Spike binning and trial alignment live in :mod:`neuronmf.io._spikes`, the
behaviour loader in :mod:`neuronmf.io.behavior`; ``bin_spikes`` and
``load_behavior`` stay importable from here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
import xarray as xr

from neuronmf.errors import input_error
from neuronmf.io._common import (
    as_path,
    base_attrs,
    check_ndim,
    check_rate,
    check_source,
    choose,
    data_format,
    load_npy,
    numeric_data,
    open_hdf5,
    read_npz,
    time_coord,
)
from neuronmf.io._spikes import (
    align_refused,
    aligned_counts,
    bin_spikes,
    bin_spikes_sparse,
    check_align,
    check_bin_width,
)
from neuronmf.io.behavior import load_behavior

__all__ = ["SparseActivity", "bin_spikes", "load_activity", "load_behavior"]


class _Request(NamedTuple):
    """What :func:`load_activity` was asked for (checked), handed to a reader."""

    series: str | None
    bin_width: float | None
    t_start: float | None
    t_stop: float | None
    rate: float | None
    variable: str | None
    time_axis: int | None
    aligned: tuple | None
    sparse: bool = False


class SparseActivity(NamedTuple):
    """Spike counts from ``load_activity(..., sparse=True)``.

    ``counts`` is a ``scipy.sparse.csr_array`` (time, neuron) of int64 (xarray
    cannot wrap scipy.sparse); ``coords`` an :class:`xarray.Dataset` without
    variables holding what the DataArray would: the ``time`` and ``neuron``
    coordinates (with per-unit metadata on ``neuron``) and the attributes.
    """

    counts: Any
    coords: xr.Dataset


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
    sparse: bool = False,
) -> xr.DataArray | SparseActivity:
    """Load neural activity as a (time, neuron) DataArray, or aligned to trials.

    Parameters
    ----------
    path : str or path-like
        NWB file (``Units`` table or ``RoiResponseSeries``), ``.npz`` (with
        ``spike_times`` and ``spike_unit``, or a 2-D array), MATLAB ``.mat`` (v5
        or v7.3), HDF5, ``.npy``, a CSV/TSV table (read like
        :func:`~neuronmf.io.load_emg`: a time column, or ``rate``; one column per
        neuron) or a NetCDF file written by :func:`~neuronmf.io.save_netcdf` (a
        2-D DataArray with a ``time`` dim, or a Dataset holding one).
    series : str, optional
        NWB series/table name or path (``"RoiResponseSeries"``, ``"units"``), the
        array name in an npz/HDF5 file, or the variable of a NetCDF Dataset (None:
        its only 2-D variable with a ``time`` dim). None takes the only candidate.
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
        Plain matrices (MATLAB, npz, npy, HDF5): which axis is time (0 = rows,
        1 = columns). By default
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
    sparse : bool, default False
        Spike times only (NWB ``Units``, npz ``spike_times``/``spike_unit``,
        MATLAB cells/structs of spike times), not with ``align``: return a
        :class:`SparseActivity` ``(counts, coords)``, ``counts`` a
        ``scipy.sparse.csr_array`` (time, neuron) of int64 binned in O(number of
        spikes), never allocated densely (and so not limited in size). It saves
        memory when fewer than about half the bins hold a spike (CSR stores 16
        bytes per non-zero plus 8 per bin, dense int64 8 per entry); short bins
        of many units are far below that. ``counts`` goes straight into
        ``nm.nmf(counts.T, ...)``, ``select_rank`` and ``assemblies.detect``.

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

    A table (a time column in seconds, one column per neuron):

    >>> csv = p.with_name("rates.csv")
    >>> _ = csv.write_text("time,n1,n2\\n0.0,1,0\\n0.05,2,1\\n0.1,0,3\\n")
    >>> load_activity(csv).sel(neuron="n2").values.tolist()
    [0.0, 1.0, 3.0]
    """
    p = as_path(path)
    rate = check_rate(rate)
    aligned = check_align(align, window, align_to, bin_width, t_start, t_stop)
    fmt = data_format(p)
    check_source(fmt, series, variable=variable, time_axis=time_axis)
    if aligned is not None and fmt not in _ALIGNABLE:
        raise align_refused(f"a {fmt} array")
    reader = _ACTIVITY_READERS.get(fmt)
    if reader is None:
        raise input_error(
            f"activity file '{p}'",
            "NWB, NPZ, MATLAB, HDF5, .npy, a CSV/TSV table or NetCDF",
            f"a {fmt} file",
        )
    if not isinstance(sparse, bool):
        raise input_error("sparse", "True or False", repr(sparse))
    if sparse and aligned is not None:
        raise input_error(
            "sparse",
            "False with align (trial-aligned counts are small and dense)",
            "True",
        )
    request = _Request(
        series, bin_width, t_start, t_stop, rate, variable, time_axis, aligned, sparse
    )
    out = reader(p, request)
    return _as_sparse_result(p, out) if sparse else out


def _as_sparse_result(p: Path, da: xr.DataArray) -> SparseActivity:
    """The sparse counts a reader left on ``da`` (its values a placeholder)."""
    attrs = dict(da.attrs)
    counts = attrs.pop(_SPARSE_KEY, None)
    if counts is None:
        raise input_error(
            f"activity in '{p}' for sparse=True",
            "spike times (NWB Units, npz spike_times/spike_unit, MATLAB cells)",
            f"a {da.attrs.get('neurodata_type', 'dense')} series",
            "Load it without sparse=True.",
        )
    coords = xr.Dataset(coords={k: v for k, v in da.coords.items()}, attrs=attrs)
    return SparseActivity(counts, coords)


# the attribute a reader's placeholder DataArray carries its sparse counts in,
# removed by load_activity before returning
_SPARSE_KEY = "_neuronmf_sparse_counts"


def _count(st, su, bw, sparse: bool, **kw):
    """:func:`bin_spikes`, or its sparse version for ``sparse=True``."""
    return (bin_spikes_sparse if sparse else bin_spikes)(st, su, bw, **kw)


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


def _oriented(p: Path, key: str, data, rate, time_axis, what: str | None = None):
    """A plain matrix as (time, neuron) by the one rule for every format.

    The time axis is ``time_axis`` when given, else the longer axis (recordings
    have more samples than neurons); a square matrix needs ``time_axis``. The
    axis used is recorded in the attribute ``time_axis``.
    """
    from neuronmf.io.matlab import oriented

    what = what or f"array '{key}' in '{p}'"
    data = np.asarray(data)
    if data.dtype != object:
        check_ndim(data.shape, (2,), what=what, expect="a (time, neuron) matrix")
    data, axis = oriented(data, time_axis=time_axis, what=what)
    da = _matrix(p, key, data, rate)
    da.attrs["time_axis"] = int(axis)
    return da


def _binned(p, key, st, su, bin_width, t_start, t_stop, aligned=None, sparse=False):
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
        return aligned_counts(p, key, trains, units, aligned, {}, stacklevel=5)
    bw = check_bin_width(bin_width)
    counts, centres, units = _count(st, su, bw, sparse, t_start=t_start, t_stop=t_stop)
    return _counts(p, key, counts, centres, units, bw)


def _counts(p, key, counts, centres, units, bw) -> xr.DataArray:
    attrs = base_attrs(p, key, rate=1.0 / bw, units="spikes", bin_width=bw)
    if sp.issparse(counts):  # a zero-stride placeholder; load_activity unpacks it
        attrs[_SPARSE_KEY] = counts
        counts = np.broadcast_to(np.int64(0), counts.shape)
    return xr.DataArray(
        counts,
        dims=("time", "neuron"),
        coords={"time": centres, "neuron": units},
        name="activity",
        attrs=attrs,
    )


def _activity_npz(p: Path, r: _Request) -> xr.DataArray:
    arrays = read_npz(p)
    if r.series is None and {"spike_times", "spike_unit"} <= set(arrays):
        return _binned(
            p,
            "spike_times",
            arrays["spike_times"],
            arrays["spike_unit"],
            r.bin_width,
            r.t_start,
            r.t_stop,
            r.aligned,
            r.sparse,
        )
    if r.aligned is not None:
        raise align_refused("a 2-D array (not spike times)")
    cands = [k for k, a in arrays.items() if a.ndim == 2]
    key = choose(
        cands,
        r.series,
        path=p,
        what="a 2-D (time, neuron) array",
        available=list(arrays),
    )
    return _oriented(p, key, arrays[key], r.rate, r.time_axis)


def _activity_hdf5(p: Path, r: _Request) -> xr.DataArray:
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
            r.series,
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
    rate = r.rate or (None if attr is None else float(attr))
    return _oriented(p, key, data, rate, r.time_axis)


def _activity_npy(p: Path, r: _Request) -> xr.DataArray:
    return _oriented(p, "", np.asarray(load_npy(p)), r.rate, r.time_axis)


def _activity_nwb(p: Path, r: _Request) -> xr.DataArray:
    series, bin_width, t_start, t_stop = r.series, r.bin_width, r.t_start, r.t_stop
    aligned = r.aligned
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
                return aligned_counts(p, key, trains, ids, aligned, meta)
            bw = check_bin_width(bin_width)
            labels = np.repeat(ids, np.diff(np.concatenate([[0], ends])))
            order = np.argsort(ids)
            counts, centres, _ = _count(
                flat,
                labels,
                bw,
                r.sparse,
                units=ids[order],
                t_start=t_start,
                t_stop=t_stop,
            )
            counts = counts[:, np.argsort(order)]  # back to table order
            da = _counts(p, key, counts, centres, ids, bw)
            da.attrs["activity_kind"] = "counts"  # read by assemblies.detect
            return da.assign_coords({k: ("neuron", v) for k, v in meta.items()})
        if aligned is not None:
            raise align_refused(f"a {type(every[key]).__name__} (not spike times)")
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


def _activity_mat(p: Path, r: _Request) -> xr.DataArray:
    variable, bin_width, rate, time_axis = r.variable, r.bin_width, r.rate, r.time_axis
    t_start, t_stop, aligned = r.t_start, r.t_stop, r.aligned
    from neuronmf.io.matlab import (
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
            da = aligned_counts(p, var, trains, units, aligned, {})
        else:
            bw = check_bin_width(bin_width)
            flat = np.concatenate(trains)
            su = np.repeat(np.arange(len(trains)), [t.size for t in trains])
            counts, centres, _ = _count(
                flat,
                su,
                bw,
                r.sparse,
                units=np.arange(len(trains)),
                t_start=t_start,
                t_stop=t_stop,
            )
            da = _counts(p, var, counts, centres, units, bw)
            da.attrs["activity_kind"] = "counts"
        da.attrs["empty_skipped"] = int(n_empty)
        return da
    if aligned is not None:
        raise align_refused(f"the numeric matrix '{var}'")
    if bin_width is not None:
        raise input_error(
            "bin_width",
            "None for a matrix (it applies to spike times)",
            bin_width,
            f"'{var}' is a {'×'.join(map(str, value.shape))} matrix; pass rate= "
            "(Hz) for its time axis instead.",
        )
    return _oriented(p, var, value, rate, time_axis, what=f"variable '{var}' in '{p}'")


def _activity_table(p: Path, r: _Request) -> xr.DataArray:
    """A CSV/TSV table read by :func:`~neuronmf.io.load_emg` (time column or
    ``rate``), its columns as neurons."""
    from neuronmf.io.emg import load_emg

    if r.series is not None:
        raise input_error(
            "series",
            "None for a CSV/TSV table (every column but time is a neuron)",
            r.series,
        )
    return load_emg(p, rate=r.rate).rename({"channel": "neuron"})


def _activity_netcdf(p: Path, r: _Request) -> xr.DataArray:
    """A NetCDF result: the DataArray, or the Dataset variable ``series`` (default:
    its only 2-D variable with a ``time`` dim), as (time, neuron)."""
    from neuronmf.io.writers import load_result

    obj = load_result(p)
    key = ""
    if isinstance(obj, xr.Dataset):
        names = list(obj.data_vars)
        cands = [v for v in names if obj[v].ndim == 2 and "time" in obj[v].dims]
        key = choose(
            cands,
            r.series,
            path=p,
            what="a 2-D variable with a 'time' dim",
            available=names,
        )
        obj = obj[key]
    if obj.ndim != 2 or "time" not in obj.dims:
        raise input_error(
            f"activity '{key or obj.name}' in '{p}'",
            "a 2-D (time, neuron) array",
            f"dims {obj.dims}",
            "Choose another variable with series=<name>.",
        )
    other = next(d for d in obj.dims if d != "time")
    if other != "neuron":
        obj = obj.rename({other: "neuron"})
    return obj.transpose("time", "neuron")


#: Format → reader ``(path, request)``; the formats whose spike times can be
#: aligned to trials are in :data:`_ALIGNABLE`.
_ACTIVITY_READERS = {
    "matlab": _activity_mat,
    "nwb": _activity_nwb,
    "npz": _activity_npz,
    "hdf5": _activity_hdf5,
    "npy": _activity_npy,
    "table": _activity_table,
    "netcdf": _activity_netcdf,
}
_ALIGNABLE = frozenset({"matlab", "nwb", "npz"})
