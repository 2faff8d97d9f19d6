"""EMG loader: NWB, HDF5 and CSV/TSV recordings → (time, channel) DataArray.

Our NWB EMG convention (see ``docs/data.md``): an ``ElectricalSeries`` named
``"EMG"`` in ``acquisition``, data (time, channel) in volts with a ``rate``; its
``electrodes`` region has one row per muscle and the muscle name in the electrodes
table's ``location`` column. Processed envelopes: a ``TimeSeries`` named
``"EMGEnvelope"`` in ``processing["emg"]``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
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

__all__ = ["load_emg"]


def load_emg(
    path: str | os.PathLike,
    *,
    series: str | None = None,
    channels: Sequence[str | int] | None = None,
    time_column: str | None = None,
    time_unit: str = "s",
    rate: float | None = None,
) -> xr.DataArray:
    """Load an EMG recording as a (time, channel) DataArray.

    Parameters
    ----------
    path : str or path-like
        An NWB file, an HDF5 file, or a CSV/TSV table.
    series : str, optional
        Which series: for NWB the name or path of an ``ElectricalSeries`` /
        ``TimeSeries`` (``"EMG"``, ``"processing/emg/EMGEnvelope"``); for HDF5 the
        dataset path. None takes the only candidate (for NWB, ``acquisition/EMG``
        when several fit).
    channels : sequence of str or int, optional
        Keep only these channels (names or positions), in this order.
    time_column : str, optional
        CSV/TSV: the time column (default: a column named ``time``/``t``/...).
    time_unit : {"s", "ms", "us", "min", "h"}
        CSV/TSV: unit of the time column; times are returned in seconds.
    rate : float, optional
        Sampling rate in Hz: needed for HDF5 datasets without a ``rate`` attribute
        and for tables without a time column; otherwise checked against the file.

    Returns
    -------
    xarray.DataArray
        Dims ``(time, channel)``; coords ``time`` (s) and ``channel`` (names);
        attrs ``rate`` (Hz, when regularly sampled), ``units``, ``source`` (file)
        and ``source_path`` (path inside the file, or the time column for tables).

    Raises
    ------
    neuronmf.InputError
        Missing or unreadable file, missing or ambiguous series, wrong number of
        dimensions, timestamps that disagree with the data, unknown channels.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from neuronmf.io import load_emg
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "emg.csv"
    >>> t = np.arange(5) / 1000
    >>> _ = p.write_text("time,TA,SO\\n" + "".join(f"{x},1,2\\n" for x in t))
    >>> emg = load_emg(p)
    >>> emg.dims, emg.shape, emg.channel.values.tolist(), emg.attrs["rate"]
    (('time', 'channel'), (5, 2), ['TA', 'SO'], 1000.0)
    """
    p = as_path(path)
    rate = check_rate(rate)
    fmt = detect_format(p)
    if fmt == "nwb":
        da = _from_nwb(p, series)
    elif fmt == "hdf5":
        da = _from_hdf5(p, series, rate)
    elif fmt == "table":
        da = _from_table(p, time_column, time_unit, rate)
    else:
        raise input_error(
            f"EMG file '{p}'",
            "NWB, HDF5 or a CSV/TSV table",
            f"a {fmt} file",
            "Save the EMG as NWB (see docs/data.md) or as a CSV with a time column.",
        )
    if rate is not None and fmt != "hdf5":
        known = da.attrs.get("rate")
        if known is not None and abs(known - rate) > 1e-3 * rate:
            raise input_error(
                "rate",
                f"consistent with the file's sampling rate ({known:g} Hz)",
                rate,
                "Leave rate=None to use the file's times.",
            )
        da.attrs.setdefault("rate", rate)
    return select_channels(da, channels, path=p)


def select_channels(
    da: xr.DataArray, channels: Sequence[str | int] | None, *, path: Path
) -> xr.DataArray:
    """Keep the given channels (names or positions) in the given order."""
    if channels is None:
        return da
    if isinstance(channels, str | int):
        channels = [channels]
    names = [str(c) for c in da["channel"].values]
    idx = []
    for c in channels:
        if isinstance(c, int | np.integer) and not isinstance(c, bool):
            if not -len(names) <= c < len(names):
                raise input_error(
                    "channel index", f"in [0, {len(names)})", int(c), f"File: {path}."
                )
            idx.append(int(c) % len(names))
        elif str(c) in names:
            idx.append(names.index(str(c)))
        else:
            raise input_error(
                f"channel {c!r}",
                f"one of the channels of '{path}'",
                f"not found; channels are {', '.join(names)}",
            )
    return da.isel(channel=idx)


def _make(
    data: np.ndarray,
    times: np.ndarray | None,
    names: Sequence[str],
    attrs: dict[str, Any],
) -> xr.DataArray:
    coords: dict[str, Any] = {"channel": list(names)}
    if times is not None:
        coords["time"] = times
    return xr.DataArray(
        data, dims=("time", "channel"), coords=coords, name="emg", attrs=attrs
    )


def _as_2d(data: np.ndarray, *, what: str) -> np.ndarray:
    check_ndim(data.shape, (1, 2), what=what, expect="(time, channel) data")
    return data[:, None] if data.ndim == 1 else data


# --------------------------------------------------------------------- NWB
def _from_nwb(p: Path, series: str | None) -> xr.DataArray:
    import pynwb

    from neuronmf.io.nwb import object_paths, open_nwb, series_times, to_values

    with open_nwb(p) as nwb:
        every = object_paths(nwb, pynwb.base.TimeSeries)
        cands = [
            k
            for k, v in every.items()
            if isinstance(v, pynwb.ecephys.ElectricalSeries)
            or "emg" in k.rsplit("/", 1)[-1].lower()
        ]
        key = choose(
            cands,
            series,
            path=p,
            what="an EMG series (an ElectricalSeries or a TimeSeries named *EMG*)",
            available=list(every),
            preferred=("acquisition/EMG",),
        )
        s = every[key]
        data = _as_2d(np.asarray(s.data[:]), what=f"EMG series '{key}' in '{p}'")
        data = np.asarray(to_values(s, data))
        times, fs = series_times(s, data.shape[0], path=p, where=key)
        if times is None:
            raise input_error(
                f"EMG series '{key}' in '{p}'",
                "timed (a rate or timestamps)",
                "neither",
            )
        names = _nwb_channel_names(s, data.shape[1])
        attrs = base_attrs(
            p,
            key,
            rate=fs,
            units=s.unit or "unknown",
            neurodata_type=type(s).__name__,
        )
    return _make(data, times, names, attrs)


def _unique(values: Sequence[Any], n: int) -> list[str] | None:
    names = [v.decode() if isinstance(v, bytes) else str(v) for v in values]
    if len(names) == n and len(set(names)) == n and all(names):
        return names
    return None


def _names_from_text(text: str | None, n: int) -> list[str] | None:
    if not text:
        return None
    body = text.split(":", 1)[1] if ":" in text else text
    for pattern in (r"\s*[,;]\s*", r"\s+"):
        if pattern == r"\s+" and ":" not in text:
            break  # bare whitespace lists only after a "channels:" style prefix
        names = _unique([t for t in re.split(pattern, body.strip()) if t], n)
        if names is not None:
            return names
    return None


def _nwb_channel_names(s: Any, n: int) -> list[str]:
    region = getattr(s, "electrodes", None)
    if region is not None:
        table = region.table
        rows = np.asarray(region.data[:])
        for column in ("muscle", "location"):
            if column in table.colnames:
                names = _unique(np.asarray(table[column].data[:])[rows].tolist(), n)
                if names is not None:
                    return names
    for text in (getattr(s, "description", None), getattr(s, "comments", None)):
        names = _names_from_text(text, n)
        if names is not None:
            return names
    return [f"ch{i}" for i in range(n)]


# -------------------------------------------------------------------- HDF5
def _hdf5_datasets(f) -> dict[str, Any]:
    import h5py

    out: dict[str, Any] = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.ndim >= 1:
            out[name] = obj

    f.visititems(visit)
    return out


def _attr_rate(ds) -> float | None:
    for key in ("rate", "sampling_rate", "fs", "sample_rate"):
        if key in ds.attrs:
            return check_rate(np.asarray(ds.attrs[key]).item(), name=f"attribute {key}")
    return None


def _from_hdf5(p: Path, series: str | None, rate: float | None) -> xr.DataArray:
    with open_hdf5(p) as f:
        every = _hdf5_datasets(f)
        cands = [k for k, d in every.items() if d.ndim == 2]
        key = choose(
            cands,
            series,
            path=p,
            what="a 2-D (time, channel) dataset",
            available=list(every),
        )
        ds = every[key]
        data = _as_2d(np.asarray(ds[()]), what=f"dataset '{key}' in '{p}'")
        file_rate = _attr_rate(ds)
        names = None
        for attr in ("channels", "channel_names", "muscles"):
            if attr in ds.attrs:
                names = _unique(np.atleast_1d(ds.attrs[attr]).tolist(), data.shape[1])
        units = ds.attrs.get("units", ds.attrs.get("unit", "unknown"))
        units = units.decode() if isinstance(units, bytes) else str(units)
    if rate is not None and file_rate is not None and abs(file_rate - rate) > 1e-3:
        raise input_error(
            "rate",
            f"consistent with the dataset's rate attribute ({file_rate:g} Hz)",
            rate,
        )
    fs = rate if rate is not None else file_rate
    if fs is None:
        raise input_error(
            "rate",
            f"given for HDF5 dataset '{key}' in '{p}' (it has no rate attribute)",
            None,
            "Pass rate=<sampling rate in Hz>.",
        )
    names = names or [f"ch{i}" for i in range(data.shape[1])]
    attrs = base_attrs(p, key, rate=fs, units=units)
    return _make(data, time_coord(data.shape[0], rate=fs), names, attrs)


# ------------------------------------------------------------------- table
def _from_table(
    p: Path, time_column: str | None, time_unit: str, rate: float | None
) -> xr.DataArray:
    from neuronmf.io.tabular import (
        find_time_column,
        numeric_columns,
        read_table,
        time_scale,
    )

    scale = time_scale(time_unit)
    df = read_table(p)
    columns = list(df.columns)
    tcol = find_time_column(columns, time_column, path=p)
    names = [c for c in columns if c != tcol]
    if not names:
        raise input_error(
            f"table '{p}'", "at least one channel column besides time", columns
        )
    data = numeric_columns(df, names, path=p)
    if tcol is not None:
        times = numeric_columns(df, [tcol], path=p)[:, 0] * scale
        times = check_times(times, data.shape[0], path=p, where=f"column {tcol}")
        fs = rate_from_times(times)
    elif rate is not None:
        times, fs = time_coord(data.shape[0], rate=rate), rate
    else:
        raise input_error(
            f"table '{p}'",
            "given a time column (named 'time') or a sampling rate",
            f"columns {', '.join(columns)}",
            "Pass time_column=<name> or rate=<Hz>.",
        )
    attrs = base_attrs(p, tcol or "", rate=fs, units="unknown")
    return _make(data, times, names, attrs)
