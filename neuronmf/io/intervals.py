"""Interval and event files: epochs as (start, stop) pairs, events as times.

:func:`load_intervals` reads (start, stop) pairs in seconds (running epochs,
trials, sleep stages) and :func:`load_events` single times (gait touchdowns and
lift-offs, stimulus onsets) from NWB interval tables (``/intervals/<name>``),
CSV/TSV tables (a header row is optional), ``.npy`` arrays and NetCDF files.
Both read the file into named columns first (one reader per format in
:data:`_TABLE_READERS`), then pick the columns asked for.
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
    data_format,
    load_npy,
    open_hdf5,
)
from neuronmf.io._formats import TABLE_SEPARATORS

__all__ = ["load_events", "load_intervals"]

#: Column names taken as start / stop when none is given (first match wins);
#: without a match the first and second columns are used.
START_NAMES = ("start_time", "start", "onset", "begin")
STOP_NAMES = ("stop_time", "stop", "end", "offset")

Columns = dict[str, np.ndarray]


def load_intervals(
    path: str | os.PathLike,
    *,
    table: str | None = None,
    start_column: str | int | None = None,
    stop_column: str | int | None = None,
) -> xr.DataArray:
    """Load time intervals (epochs) as (start, stop) pairs in seconds.

    Parameters
    ----------
    path : str or path-like
        An NWB file (an interval table under ``/intervals``: ``epochs``,
        ``trials``, ``invalid_times`` or any other ``TimeIntervals``), a CSV/TSV
        table (one interval per row; a header row is optional), a ``.npy``
        array of shape (n, k >= 2), or a NetCDF file (a 2-D DataArray, e.g. one
        saved from this function's result, or a Dataset with start and stop
        variables).
    table : str, optional
        NWB: the interval table (``"epochs"`` or ``"intervals/epochs"``). None
        takes the file's only one.
    start_column, stop_column : str or int, optional
        The columns (names, or 0-based positions) holding the start and stop
        times. Default: the first column named ``start_time``, ``start``,
        ``onset`` or ``begin`` (``stop_time``, ``stop``, ``end``, ``offset``),
        else the first (second) column.

    Returns
    -------
    xarray.DataArray
        Dims ``(interval, bound)``, float seconds; coords ``interval`` (the NWB
        table ids, else 0, 1, ...) and ``bound`` = ``["start", "stop"]``; attrs
        ``units`` (``"s"``), ``source``, ``source_path`` (the table), and
        ``start_column``, ``stop_column``. A file with a header but no rows gives
        shape (0, 2). ``result.values`` is the plain (n, 2) array that
        :func:`neuronmf.decoding.in_epochs` takes (it takes the DataArray too).

    Raises
    ------
    InputError
        Before anything is returned: a file that is not one of these formats, a
        missing table or column, text in a time column, and any interval that is
        not finite or whose stop is not after its start.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from neuronmf.io import load_intervals
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "running.csv"
    >>> _ = p.write_text("start,stop\\n0.0,20.0\\n22.5,44.0\\n")
    >>> ep = load_intervals(p)
    >>> ep.dims, ep.values.tolist(), ep.bound.values.tolist()
    (('interval', 'bound'), [[0.0, 20.0], [22.5, 44.0]], ['start', 'stop'])
    """
    p = as_path(path)
    cols, key, ids = _read(p, table)
    start = _pick(cols, start_column, START_NAMES, 0, p, "start_column")
    stop = _pick(cols, stop_column, STOP_NAMES, 1, p, "stop_column")
    data = np.column_stack([_times(cols, start, p), _times(cols, stop, p)])
    good = np.isfinite(data).all(axis=1) & (data[:, 1] > data[:, 0])
    if not good.all():
        rows = np.flatnonzero(~good)
        raise input_error(
            "intervals",
            "finite (start, stop) pairs with stop > start",
            f"{data[rows[:3]].tolist()} (row(s) {rows[:3].tolist()} of '{p}')",
            "Fix or drop those rows.",
        )
    attrs = base_attrs(
        p, key, units="s", start_column=str(start), stop_column=str(stop)
    )
    return xr.DataArray(
        data.reshape(-1, 2),
        dims=("interval", "bound"),
        coords={"interval": _ids(ids, data.shape[0]), "bound": ["start", "stop"]},
        name="intervals",
        attrs=attrs,
    )


def load_events(
    path: str | os.PathLike,
    *,
    table: str | None = None,
    columns: list[str | int] | None = None,
) -> xr.DataArray:
    """Load event times in seconds, one column per kind of event.

    Gait events (touchdown, lift-off), stimulus onsets, licks: single times,
    unlike the (start, stop) pairs of :func:`load_intervals`.

    Parameters
    ----------
    path : str or path-like
        A CSV/TSV table (one event per row, one column per kind of event; a
        header row is optional; an empty cell is NaN, e.g. the lift-off after
        the last touchdown), a ``.npy`` array of shape (n,) or (n, k), a NetCDF
        file (a 1-D/2-D DataArray or a Dataset of 1-D variables), or an NWB file
        (the columns of an interval table, e.g. ``start_time`` of the trials).
    table : str, optional
        NWB: the interval table (None: the file's only one).
    columns : list of str or int, optional
        The columns to return (names or 0-based positions). Default: every
        numeric column, in file order (for NWB every 1-D numeric column but
        ``id``).

    Returns
    -------
    xarray.DataArray
        Dims ``(event, column)``, float seconds (NaN where a cell is empty);
        coords ``event`` (NWB table ids, else 0, 1, ...) and ``column`` (the
        column names; ``"0"``, ``"1"``, ... without a header); attrs ``units``
        (``"s"``), ``source``, ``source_path``. A file with a header but no rows
        gives shape (0, k).

    Raises
    ------
    InputError
        A file that is not one of these formats, a missing table or column, text
        or infinite values in a chosen column.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from neuronmf.io import load_events
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "gait.csv"
    >>> _ = p.write_text("touchdown_s,liftoff_s\\n1.4,2.1\\n2.4,3.1\\n3.5,\\n")
    >>> ev = load_events(p)
    >>> ev.column.values.tolist(), ev.values.tolist()
    (['touchdown_s', 'liftoff_s'], [[1.4, 2.1], [2.4, 3.1], [3.5, nan]])
    """
    p = as_path(path)
    cols, key, ids = _read(p, table)
    if columns is None:
        names = [n for n, v in cols.items() if _numeric(v) and n != "id"]
        if not names:
            raise input_error(
                f"file '{p}'",
                "a table with at least one numeric column of times (s)",
                f"columns {list(cols)}",
            )
    else:
        if isinstance(columns, str | int):
            columns = [columns]
        names = [_pick(cols, c, (), 0, p, "columns") for c in columns]
    data = np.column_stack([_times(cols, n, p) for n in names]) if names else None
    data = np.asarray(data, dtype=float).reshape(-1, len(names))
    if np.isinf(data).any():
        raise input_error(
            f"event times in '{p}'", "finite numbers or empty cells", "Inf values"
        )
    return xr.DataArray(
        data,
        dims=("event", "column"),
        coords={"event": _ids(ids, data.shape[0]), "column": [str(n) for n in names]},
        name="events",
        attrs=base_attrs(p, key, units="s"),
    )


# ---------------------------------------------------------------- reading


def _read(p: Path, table: str | None) -> tuple[Columns, str, np.ndarray | None]:
    """The file as named columns, the source path inside it, and row ids."""
    fmt = data_format(p)
    reader = _TABLE_READERS.get(fmt)
    if reader is None:
        raise input_error(
            f"interval/event file '{p}'",
            "an NWB file, a CSV/TSV table, a .npy array or NetCDF",
            f"a {fmt} file",
            "Save the times as a CSV with one row per interval or event.",
        )
    if table is not None and fmt != "nwb":
        raise input_error(
            "table",
            "used with NWB files (interval tables)",
            f"table={table!r} for a {fmt} file",
        )
    return reader(p, table)


def _from_text(p: Path, table: str | None) -> tuple[Columns, str, None]:
    """A CSV/TSV table; the first line is a header unless every field is a number."""
    import pandas as pd

    sep = TABLE_SEPARATORS.get(p.suffix.lower(), ",")
    lines = [ln for ln in p.read_text(errors="replace").splitlines() if ln.strip()]
    if not lines:
        raise input_error(
            f"file '{p}'",
            "a table of times (one row per interval or event)",
            "an empty file",
        )
    if sep is None:  # .txt: tabs if the first line has any, else commas
        sep = "\t" if "\t" in lines[0] else ","
    header = 0 if not all(_is_number(f) for f in lines[0].split(sep)) else None
    try:
        df = pd.read_csv(p, sep=sep, header=header, skip_blank_lines=True)
    except (ValueError, pd.errors.ParserError) as exc:
        raise input_error(
            f"file '{p}'", "a readable CSV/TSV table", f"an error ({exc})"
        ) from None
    cols = {str(c).strip(): df[c].to_numpy() for c in df.columns}
    return cols, "", None


def _from_npy(p: Path, table: str | None) -> tuple[Columns, str, None]:
    arr = np.asarray(load_npy(p))
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise input_error(
            f"array in '{p}'",
            "1-D (n,) or 2-D (n, columns)",
            f"shape {arr.shape}",
        )
    return {str(j): arr[:, j] for j in range(arr.shape[1])}, "", None


def _from_netcdf(p: Path, table: str | None) -> tuple[Columns, str, None]:
    from neuronmf.io.writers import load_result

    obj = load_result(p)
    if isinstance(obj, xr.DataArray):
        if obj.ndim == 1:
            return {str(obj.name or "0"): obj.values}, str(obj.name or ""), None
        if obj.ndim != 2:
            raise input_error(
                f"array in '{p}'", "1-D or 2-D (row, column)", f"dims {obj.dims}"
            )
        other = obj.dims[1]
        names = (
            [str(v) for v in obj[other].values]
            if other in obj.coords
            else [str(j) for j in range(obj.shape[1])]
        )
        return dict(zip(names, obj.values.T, strict=True)), str(obj.name or ""), None
    cols = {str(k): v.values for k, v in obj.data_vars.items() if v.ndim == 1}
    if not cols:
        raise input_error(
            f"file '{p}'",
            "a Dataset with 1-D variables of times (s)",
            f"variables {list(obj.data_vars)}",
        )
    return cols, "", None


def _from_nwb(p: Path, table: str | None) -> tuple[Columns, str, np.ndarray]:
    import h5py

    with open_hdf5(p) as f:
        group = f.get("intervals")
        tables = {k: v for k, v in (group or {}).items() if isinstance(v, h5py.Group)}
        names = sorted(tables)
        if table is not None:
            table = str(table).strip("/").removeprefix("intervals/")
        elif len(names) == 1:
            table = names[0]
        if table not in tables:
            raise input_error(
                "table",
                f"one of the interval tables of '{p}': {names}",
                table,
                "Pass table=<one of them>." if names else "The file has none.",
            )
        g = tables[table]
        ids = np.asarray(g["id"][:]) if "id" in g else None
        n = len(ids) if ids is not None else None
        cols: Columns = {}
        for k, d in g.items():
            if (
                isinstance(d, h5py.Dataset)
                and d.ndim == 1
                and not k.endswith("_index")
                and (n is None or d.shape[0] == n)
            ):
                cols[k] = d[:]
    return cols, f"intervals/{table}", ids


#: Format → reader ``(path, table)`` returning ``(columns, source path, ids)``.
_TABLE_READERS = {
    "table": _from_text,
    "npy": _from_npy,
    "netcdf": _from_netcdf,
    "nwb": _from_nwb,
}


# ---------------------------------------------------------------- columns


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _numeric(values: np.ndarray) -> bool:
    values = np.asarray(values)
    return values.dtype.kind in "biuf" or values.size == 0


def _pick(
    cols: Columns, want: Any, names: tuple[str, ...], position: int, p: Path, arg: str
) -> str:
    """The column ``want`` (a name or 0-based position), else the first of
    ``names`` present, else the column at ``position``."""
    listed = list(cols)
    if want is None:
        hit = next((n for n in names if n in cols), None)
        if hit is not None:
            return hit
        if position >= len(listed):
            raise input_error(
                "intervals",
                f"two columns (start, stop) in seconds in '{p}'",
                f"{len(listed)} column(s): {listed}",
            )
        return listed[position]
    if isinstance(want, int | np.integer) and not isinstance(want, bool):
        if str(want) in cols:
            return str(want)
        if 0 <= want < len(listed):
            return listed[int(want)]
    elif str(want) in cols:
        return str(want)
    raise input_error(
        arg, f"a column of '{p}' (name or 0-based position): one of {listed}", want
    )


def _times(cols: Columns, name: str, p: Path) -> np.ndarray:
    values = np.asarray(cols[name])
    if values.dtype.kind in "biuf":
        return values.astype(float)
    import pandas as pd

    numbers = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(float)
    text = pd.notna(pd.Series(values)).to_numpy() & np.isnan(numbers)
    if text.any():
        i = int(np.argmax(text))
        raise input_error(
            f"column '{name}' of '{p}'",
            "times in seconds (numbers)",
            f"{values[i]!r} in row {i}",
        )
    return numbers


def _ids(ids: np.ndarray | None, n: int) -> np.ndarray:
    return np.arange(n) if ids is None or len(ids) != n else np.asarray(ids)
