"""Behaviour loader: NWB, NPZ, MATLAB and CSV/TSV → (time, ...) or one value per trial.

Behaviour comes from NWB ``SpatialSeries`` / ``TimeSeries`` (e.g. inside
``Position`` or ``BehavioralTimeSeries``), ``.npz`` groups ``<name>_t`` +
``<name>_<component>``, MATLAB variables, CSV tables or NetCDF results, and
is resampled by linear interpolation onto a given time base; NWB trial tables
give one value per trial. Public through :mod:`neuronmf.io` and
:mod:`neuronmf.io.activity`.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xarray as xr

from neuronmf.errors import input_error
from neuronmf.io._common import (
    as_path,
    base_attrs,
    check_ndim,
    check_source,
    check_times,
    choose,
    data_format,
    rate_from_times,
    read_npz,
)

__all__ = ["load_behavior"]


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
        ``position_x``, ``position_y``), a CSV/TSV table with a time column,
        a MATLAB ``.mat`` (v5 or v7.3), or a NetCDF file written by
        :func:`~neuronmf.io.save_netcdf` (a (time,) or (time, component)
        variable of a Dataset, or a DataArray).
    series : str, optional
        NWB series name/path, the npz group name (``"position"``), or the
        NetCDF variable (None: its only (time,) or (time, component) variable).
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
    fmt = data_format(p)
    if table is not None or column is not None:
        return _behavior_table(p, fmt, table, column, series, times, variable)
    check_source(fmt, series, variable=variable)
    reader = _BEHAVIOR_READERS.get(fmt)
    if reader is None:
        raise input_error(
            f"behaviour file '{p}'",
            "NWB, NPZ, MATLAB .mat, a CSV/TSV table or NetCDF",
            f"a {fmt} file",
        )
    t, data, axis, key, attrs = reader(p, series, variable, time_column)
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


def _behavior_nwb(p, series, variable=None, time_column=None):
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


def _behavior_npz(p, series, variable=None, time_column=None):
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


def _behavior_mat(p, series, variable, time_column):
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


def _behavior_csv(p, series, variable, time_column):
    """A CSV/TSV table read as by :func:`~neuronmf.io.load_emg` (time column)."""
    from neuronmf.io.emg import load_emg

    tab = load_emg(p, time_column=time_column)
    t, data = tab.time.values, tab.values
    axis, key = [str(c) for c in tab.channel.values], tab.attrs["source_path"]
    return t, data, axis, key, {"units": "unknown"}


def _behavior_netcdf(p, series, variable=None, time_column=None):
    """A (time,) or (time, component) variable of a NetCDF result (dtype kept)."""
    from neuronmf.io.writers import load_result

    if time_column is not None:
        raise input_error(
            "time_column",
            "None for a NetCDF file (its 'time' coordinate gives the times)",
            time_column,
        )
    obj = load_result(p)
    if isinstance(obj, xr.DataArray):
        obj = obj.to_dataset(name=obj.name or "data")
    names = list(obj.data_vars)
    cands = [v for v in names if "time" in obj[v].dims and obj[v].ndim <= 2]
    key = choose(
        cands,
        series,
        path=p,
        what="a (time,) or (time, component) variable",
        available=names,
    )
    da = obj[key]
    if "time" not in da.dims or da.ndim > 2 or "time" not in da.coords:
        raise input_error(
            f"variable '{key}' in '{p}'",
            "a (time,) or (time, component) variable with a 'time' coordinate (s)",
            f"dims {da.dims}",
            "Choose another variable with series=<name>.",
        )
    da = da.transpose("time", ...)
    data = np.asarray(da.values)
    if da.ndim == 1:
        return da["time"].values, data[:, None], [key], key, _units(da)
    other = da.dims[1]
    axis = (
        [str(v) for v in da[other].values]
        if other in da.coords
        else [f"c{i}" for i in range(data.shape[1])]
    )
    return da["time"].values, data, axis, key, _units(da)


def _units(da) -> dict[str, Any]:
    return {"units": str(da.attrs.get("units", "unknown"))}


#: Format → reader ``(path, series, variable, time_column)`` returning
#: ``(times, (time, component) data, component names, source path, attrs)``.
_BEHAVIOR_READERS = {
    "matlab": _behavior_mat,
    "nwb": _behavior_nwb,
    "npz": _behavior_npz,
    "table": _behavior_csv,
    "netcdf": _behavior_netcdf,
}


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
