"""NWB access through pynwb: open read-only, find series, read times and names.

The loaders call :func:`open_nwb` (a context manager) and :func:`series_paths`
to list what a file holds as ``{path inside file: pynwb object}``; paths look like
``"acquisition/EMG"`` or ``"processing/ophys/Fluorescence/RoiResponseSeries"``.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from neuronmf.errors import input_error
from neuronmf.io._common import check_times, open_hdf5

__all__ = ["object_paths", "open_nwb", "series_times", "to_values"]


@contextlib.contextmanager
def open_nwb(path: Path) -> Iterator[Any]:
    """Read an NWB file with pynwb in mode ``"r"``; yield the ``NWBFile``."""
    import pynwb

    open_hdf5(path).close()  # a clear error for truncated / corrupt files
    try:
        io = pynwb.NWBHDF5IO(str(path), mode="r")
    except Exception as exc:  # pragma: no cover - depends on hdmf internals
        raise input_error(
            f"file '{path}'", "a readable NWB file", f"an error ({exc})"
        ) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cached-namespace chatter
            try:
                nwbfile = io.read()
            except Exception as exc:
                raise input_error(
                    f"file '{path}'",
                    "a readable NWB file",
                    f"an error while reading it ({type(exc).__name__}: {exc})",
                    "The file may be truncated, corrupt or use an unknown extension.",
                ) from None
        yield nwbfile
    finally:
        io.close()


def object_paths(nwbfile: Any, kind: type | tuple[type, ...]) -> dict[str, Any]:
    """``{path inside file: object}`` for every object of ``kind`` in the file."""
    out: dict[str, Any] = {}
    for obj in nwbfile.objects.values():
        if isinstance(obj, kind):
            out[_path_of(obj)] = obj
    return dict(sorted(out.items()))


def _path_of(obj: Any) -> str:
    data = getattr(obj, "data", None)
    if data is not None and hasattr(data, "parent") and hasattr(data, "name"):
        group = data.parent.name.strip("/")
        if group.rsplit("/", 1)[-1] == obj.name:
            return group
    names = []
    o = obj
    while o is not None and o.parent is not None:
        names.append(o.name)
        o = o.parent
    top = obj
    while top.parent is not None and top.parent.parent is not None:
        top = top.parent
    root = top.parent
    prefix = ""
    if root is not None:
        for attr, pre in (
            ("acquisition", "acquisition"),
            ("processing", "processing"),
            ("stimulus", "stimulus/presentation"),
            ("analysis", "analysis"),
        ):
            if top.name in (getattr(root, attr, None) or {}):
                prefix = pre
                break
    parts = [prefix, *reversed(names)] if prefix else list(reversed(names))
    return "/".join(parts)


def series_times(series: Any, n: int, *, path: Path, where: str):
    """``(times in seconds or None, rate in Hz or None)`` of a TimeSeries."""
    from neuronmf.io._common import rate_from_times

    if series.timestamps is not None:
        ts = series.timestamps
        ts = ts.timestamps if hasattr(ts, "timestamps") else ts  # linked series
        times = check_times(np.asarray(ts[:]), n, path=path, where=where)
        return times, rate_from_times(times)
    rate = series.rate
    if rate is None or not np.isfinite(rate) or rate <= 0:
        return None, None
    start = float(series.starting_time or 0.0)
    return start + np.arange(n, dtype=float) / float(rate), float(rate)


def to_values(series: Any, data: Any) -> Any:
    """Apply NWB ``conversion``/``offset`` (and ``channel_conversion``) to data."""
    conversion = float(getattr(series, "conversion", 1.0) or 1.0)
    offset = float(getattr(series, "offset", 0.0) or 0.0)
    chan = getattr(series, "channel_conversion", None)
    if conversion == 1.0 and offset == 0.0 and chan is None:
        return data
    out = data.astype(np.float64) * conversion
    if chan is not None:
        out = out * np.asarray(chan[:], dtype=np.float64)
    return out + offset if offset else out


#: Units columns that are not per-unit labels (spike data, waveforms).
_NOT_LABELS = {
    "spike_times",
    "obs_intervals",
    "waveform_mean",
    "waveform_sd",
    "waveforms",
    "spike_amplitudes",
}


def _text(values: Any) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values])


def _labels(values: Any, n: int) -> np.ndarray | None:
    """A 1-D column of scalars as a NetCDF-safe array, or None."""
    arr = np.asarray(values[:] if hasattr(values, "__getitem__") else values)
    if arr.ndim != 1 or arr.shape[0] != n:
        return None
    if arr.dtype.kind in "biuf":
        return arr
    if arr.dtype.kind in "SUO":
        if arr.dtype.kind == "O" and not all(
            isinstance(v, str | bytes | int | float | np.generic) for v in arr
        ):
            return None
        return _text(arr)
    return None


def unit_coords(units: Any) -> dict[str, np.ndarray]:
    """Per-unit metadata of an NWB ``Units`` table as ``{name: (n_units,) array}``.

    Kept: every 1-D column of numbers, booleans or text (``location``,
    ``quality``, ``brain_region``, ...); ``electrode_group`` as the group names and
    ``electrode_group_location`` (the group's ``location``, the brain region in
    NWB); ``electrodes`` as the electrode ids of each unit joined by ``","`` and
    ``electrode_location`` (their unique ``location`` values, joined by ``","``).
    Ragged columns other than ``electrodes`` and waveforms are left out.
    """
    from hdmf.common.table import DynamicTableRegion, VectorIndex

    n = len(units.id)
    out: dict[str, np.ndarray] = {}
    for col in units.colnames:
        if col in _NOT_LABELS:
            continue
        obj = units[col]
        if col == "electrodes":
            if isinstance(obj, VectorIndex) and isinstance(
                obj.target, DynamicTableRegion
            ):
                ends = np.asarray(obj.data[:], dtype=np.int64)
                rows = np.asarray(obj.target.data[:], dtype=np.int64)
                table = obj.target.table
                starts = np.concatenate([[0], ends[:-1]])
                per_unit = [rows[a:b] for a, b in zip(starts, ends, strict=True)]
            elif isinstance(obj, DynamicTableRegion):
                table = obj.table
                per_unit = [np.array([r]) for r in np.asarray(obj.data[:])]
            else:
                continue
            if len(per_unit) != n:
                continue
            ids = np.asarray(table.id.data[:])
            out["electrodes"] = np.array(
                [",".join(str(i) for i in ids[r]) for r in per_unit]
            )
            if "location" in table.colnames:
                loc = _text(table["location"].data[:])
                out["electrode_location"] = np.array(
                    [",".join(dict.fromkeys(loc[r])) for r in per_unit]
                )
            continue
        if col == "electrode_group":
            groups = list(obj.data[:])
            if len(groups) == n:
                out["electrode_group"] = np.array([str(g.name) for g in groups])
                out["electrode_group_location"] = np.array(
                    [str(getattr(g, "location", "") or "") for g in groups]
                )
            continue
        if isinstance(obj, VectorIndex):
            continue
        values = _labels(obj.data, n)
        if values is not None:
            out[col] = values
    return out


def interval_tables(nwbfile: Any) -> dict[str, Any]:
    """``{path: TimeIntervals}``: trials, epochs, invalid_times, intervals/… and any
    ``TimeIntervals`` in processing modules."""
    import pynwb

    out: dict[str, Any] = {}
    for name, table in (getattr(nwbfile, "intervals", None) or {}).items():
        out[f"intervals/{name}"] = table
    seen = {id(t) for t in out.values()}
    for path, table in object_paths(nwbfile, pynwb.epoch.TimeIntervals).items():
        if id(table) not in seen:
            out[path] = table
    return out


def table_columns(table: Any) -> dict[str, np.ndarray]:
    """The 1-D scalar columns of a DynamicTable (ragged/reference columns left out)."""
    from hdmf.common.table import VectorIndex

    n = len(table.id)
    out: dict[str, np.ndarray] = {}
    for col in table.colnames:
        obj = table[col]
        if isinstance(obj, VectorIndex):
            continue
        values = _labels(obj.data, n)
        if values is not None:
            out[col] = values
    return out
