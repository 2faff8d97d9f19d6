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
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from neuronmf.errors import input_error
from neuronmf.io._common import (
    as_path,
    base_attrs,
    check_ndim,
    check_rate,
    choose,
    detect_format,
    numeric_data,
    open_hdf5,
    time_coord,
)
from neuronmf.io._emg_sampling import (  # noqa: F401  (public here)
    MAX_INTERPOLATED,
    PLAUSIBLE_RATE,
    STEP_TOLERANCE,
    regular,
)
from neuronmf.io._emg_table import (
    drop_channels,
    from_table,
    make_emg,
    select_channels,
)

__all__ = ["load_emg"]


class _Request(NamedTuple):
    """What :func:`load_emg` was asked for (checked), handed to a reader."""

    series: str | None
    channels: Sequence[str | int] | None
    exclude: Sequence[str | int] | None
    time_column: str | None
    time_unit: str | None
    rate: float | None
    resample: bool
    variable: str | None


def load_emg(
    path: str | os.PathLike,
    *,
    series: str | None = None,
    channels: Sequence[str | int] | None = None,
    exclude: Sequence[str | int] | None = None,
    time_column: str | None = None,
    time_unit: str | None = None,
    rate: float | None = None,
    resample: bool = False,
    variable: str | None = None,
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
        Keep only these channels (names or positions), in this order. Given
        channels are taken as they are, label-like or not.
    exclude : sequence of str or int, optional
        Drop these channels (names or positions), e.g. ``["class", "trigger"]``.
    time_column : str, optional
        CSV/TSV: the time column (default: a column named ``time``/``t``/
        ``timestamp``..., or one whose name states a unit: ``time_ms``,
        ``t (s)``, ``Time [us]``).
    time_unit : {"s", "ms", "us"}, optional
        CSV/TSV: unit of the time column (also ``"µs"``, ``"min"``, ``"h"``);
        times are returned in seconds. Default: the unit in the column's name,
        else seconds, with a warning when seconds give an implausible EMG
        sampling rate (below 10 Hz or above 200 kHz) that names the likely unit.
        Pass ``"s"`` to state seconds and silence that warning.
    rate : float, optional
        Sampling rate in Hz: needed for HDF5 datasets without a ``rate`` attribute
        and for tables without a time column. Otherwise it is checked against the
        file: a rate more than 1% away from the one the timestamps imply (the
        mean step between consecutive samples, gaps left out) is refused, with the
        time unit that would reconcile them when there is one.
    resample : bool, default False
        Timestamps with gaps or uneven steps (any step more than 10% away from
        the median step) are refused unless ``resample=True``, which puts the data
        on a regular grid at ``rate`` (or, without it, at the median step's rate)
        from the first to the last timestamp, interpolating linearly across
        gaps of at most :data:`MAX_INTERPOLATED` missing samples; longer gaps
        become NaN (dropouts: :func:`neuronmf.synergies.envelope` interpolates
        over them for filtering only and ``extract`` masks them). The counts
        are kept in ``attrs`` (``resampled``, ``n_gaps``, ``n_interpolated``,
        ``n_masked``).
    variable : str, optional
        MATLAB ``.mat`` (v5 or v7.3): the numeric variable (``"struct.field"``
        reaches a field); its longer axis is time, and ``rate`` is required.

    Returns
    -------
    xarray.DataArray
        Dims ``(time, channel)``; coords ``time`` (s) and ``channel`` (names);
        attrs ``rate`` (Hz), ``units``, ``source`` (file), ``source_path``
        (path inside the file, or the time column for tables), and for tables
        ``time_unit`` and ``excluded`` (the columns left out, if any).

    Raises
    ------
    neuronmf.InputError
        Missing or unreadable file, missing or ambiguous series, wrong number of
        dimensions, timestamps that disagree with the data, are not increasing,
        have gaps (without ``resample=True``) or imply another rate than
        ``rate``; unknown channels.

    Warns
    -----
    UserWarning
        Label-like table columns (non-negative integers with 2–20 distinct
        values, such as ``class`` or ``trial``, next to continuous channels; or
        a row counter such as ``Unnamed: 0``) are left out, by name, unless
        named in ``channels``. A time column whose seconds give an implausible
        EMG rate (see ``time_unit``).

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

    A lab's TSV: time in milliseconds with a dropped row, and a label column:

    >>> q = p.with_name("lab.tsv")
    >>> rows = [(0, 0.5, 0), (1, -0.2, 0), (3, 0.9, 1), (4, 0.1, 1)]
    >>> _ = q.write_text("time\\tTA\\tclass\\n" + "".join(
    ...     f"{a}\\t{b}\\t{c}\\n" for a, b, c in rows))
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     emg = load_emg(q, time_unit="ms", resample=True)
    >>> emg.time.values.tolist(), emg.attrs["rate"], emg.channel.values.tolist()
    ([0.0, 0.001, 0.002, 0.003, 0.004], 1000.0, ['TA'])
    >>> print(w[0].message)  # doctest: +ELLIPSIS
    table '...lab.tsv': left out label-like column(s) class ...
    """
    p = as_path(path)
    rate = check_rate(rate)
    if not isinstance(resample, bool | np.bool_):
        raise input_error("resample", "True or False", resample)
    fmt = detect_format(p)
    reader = _EMG_READERS.get(fmt)
    if reader is None:
        raise input_error(
            f"EMG file '{p}'",
            "NWB, HDF5 or a CSV/TSV table",
            f"a {fmt} file",
            "Save the EMG as NWB (see docs/data.md) or as a CSV with a time column.",
        )
    request = _Request(
        series,
        channels,
        exclude,
        time_column,
        time_unit,
        rate,
        bool(resample),
        variable,
    )
    da = reader(p, request)
    if fmt in _COMPLETE:
        return da
    if "rate" not in da.attrs and "time" in da.coords:
        where = f"timestamps of '{da.attrs.get('source_path', '')}' in '{p}'"
        da = regular(da, da["time"].values, rate, bool(resample), where=where)
    if rate is not None and fmt != "hdf5":
        known = da.attrs.get("rate")
        if known is not None and abs(known - rate) > 1e-2 * rate:
            raise input_error(
                "rate",
                f"consistent with the file's sampling rate ({known:g} Hz)",
                rate,
                "Leave rate=None to use the file's times.",
            )
        da.attrs.setdefault("rate", rate)
    da = select_channels(da, channels, path=p)
    return drop_channels(da, exclude, path=p)


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
        numeric_data(
            getattr(s.data, "dtype", np.float64), what=f"EMG series '{key}' in '{p}'"
        )
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
    return make_emg(data, times, names, attrs)


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
        numeric_data(ds.dtype, what=f"dataset '{key}' in '{p}'")
        # every check on metadata before a single sample is read
        file_rate = _attr_rate(ds)
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
        data = _as_2d(np.asarray(ds[()]), what=f"dataset '{key}' in '{p}'")
        names = None
        for attr in ("channels", "channel_names", "muscles"):
            if attr in ds.attrs:
                names = _unique(np.atleast_1d(ds.attrs[attr]).tolist(), data.shape[1])
        units = ds.attrs.get("units", ds.attrs.get("unit", "unknown"))
        units = units.decode() if isinstance(units, bytes) else str(units)
    names = names or [f"ch{i}" for i in range(data.shape[1])]
    attrs = base_attrs(p, key, rate=fs, units=units)
    return make_emg(data, time_coord(data.shape[0], rate=fs), names, attrs)


def _table_reader(p: Path, r: _Request) -> xr.DataArray:
    return from_table(
        p,
        time_column=r.time_column,
        time_unit=r.time_unit,
        rate=r.rate,
        resample=r.resample,
        channels=r.channels,
        exclude=r.exclude,
    )


def _nwb_reader(p: Path, r: _Request) -> xr.DataArray:
    return _from_nwb(p, r.series)


def _hdf5_reader(p: Path, r: _Request) -> xr.DataArray:
    return _from_hdf5(p, r.series, r.rate)


def _matlab_reader(p: Path, r: _Request) -> xr.DataArray:
    from neuronmf.io.matlab import mat_series

    return mat_series(p, r.variable, rate=r.rate, dim="channel")


#: Format → reader ``(path, request)``.
_EMG_READERS = {
    "table": _table_reader,
    "nwb": _nwb_reader,
    "hdf5": _hdf5_reader,
    "matlab": _matlab_reader,
}
#: Readers that choose channels and check the sampling themselves.
_COMPLETE = frozenset({"table"})
