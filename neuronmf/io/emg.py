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
import warnings
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
    numeric_data,
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
    if fmt == "table":
        return _from_table(
            p,
            time_column=time_column,
            time_unit=time_unit,
            rate=rate,
            resample=bool(resample),
            channels=channels,
            exclude=exclude,
        )
    if fmt == "nwb":
        da = _from_nwb(p, series)
    elif fmt == "hdf5":
        da = _from_hdf5(p, series, rate)
    elif fmt == "matlab":  # MATLAB .mat: see neuronmf.io.matlab.mat_series
        from neuronmf.io.matlab import mat_series

        da = mat_series(p, variable, rate=rate, dim="channel")
    else:
        raise input_error(
            f"EMG file '{p}'",
            "NWB, HDF5 or a CSV/TSV table",
            f"a {fmt} file",
            "Save the EMG as NWB (see docs/data.md) or as a CSV with a time column.",
        )
    if "rate" not in da.attrs and "time" in da.coords:
        where = f"timestamps of '{da.attrs.get('source_path', '')}' in '{p}'"
        da = _regular(da, da["time"].values, rate, bool(resample), where=where)
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


#: resample=True interpolates across gaps of at most this many missing samples;
#: longer gaps become NaN.
MAX_INTERPOLATED = 5
#: A step more than this fraction away from the median step makes sampling
#: irregular (a gap when it is longer).
STEP_TOLERANCE = 0.1
#: Sampling rates (Hz) plausible for EMG, raw or envelope; outside, a time column
#: read in seconds is probably in another unit.
PLAUSIBLE_RATE = (10.0, 200_000.0)


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


def _positions(
    names: list[str], wanted: Sequence[str | int], *, path: Path, flag: str
) -> list[int]:
    idx = []
    for c in wanted:
        if isinstance(c, int | np.integer) and not isinstance(c, bool):
            if not -len(names) <= c < len(names):
                raise input_error(
                    f"{flag} index", f"in [0, {len(names)})", int(c), f"File: {path}."
                )
            idx.append(int(c) % len(names))
        elif str(c) in names:
            idx.append(names.index(str(c)))
        else:
            raise input_error(
                f"{flag} {c!r}",
                f"one of the channels of '{path}'",
                f"not found; channels are {', '.join(names)}",
            )
    return idx


def drop_channels(
    da: xr.DataArray, exclude: Sequence[str | int] | None, *, path: Path
) -> xr.DataArray:
    """Drop the given channels (names or positions)."""
    if exclude is None:
        return da
    if isinstance(exclude, str | int):
        exclude = [exclude]
    names = [str(c) for c in da["channel"].values]
    gone = set(_positions(names, exclude, path=path, flag="excluded channel"))
    if len(gone) == len(names):
        raise input_error(
            "exclude", "a subset of the channels", f"all of {', '.join(names)}"
        )
    return da.isel(channel=[i for i in range(len(names)) if i not in gone])


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
    return _make(data, time_coord(data.shape[0], rate=fs), names, attrs)


# ------------------------------------------------------------------- table
def _from_table(
    p: Path,
    *,
    time_column: str | None,
    time_unit: str | None,
    rate: float | None,
    resample: bool,
    channels: Sequence[str | int] | None,
    exclude: Sequence[str | int] | None,
) -> xr.DataArray:
    from neuronmf.io.tabular import (
        TIME_UNITS,
        find_time_column,
        label_like_columns,
        numeric_columns,
        read_table,
        time_scale,
        unit_in_name,
    )

    if time_unit is not None:
        time_scale(time_unit)  # refuse an unknown unit before reading
    df = read_table(p)
    columns = list(df.columns)
    tcol = find_time_column(columns, time_column, path=p)
    if tcol is None and df.attrs.get("headerless") and len(columns) > 1:
        first = df[columns[0]].to_numpy()
        if (
            first.dtype.kind in "iuf"
            and first.size > 2
            and np.all(np.isfinite(first))
            and np.all(np.diff(first) > 0)
        ):
            raise input_error(
                f"table '{p}'",
                "headed by a row of column names (e.g. time,TA,GM)",
                "no header row, and a first column increasing on every row like time",
                "Add a header row, or pass time_column='ch0' if that column is time.",
            )
    names = [c for c in columns if c != tcol]
    if not names:
        raise input_error(
            f"table '{p}'", "at least one channel column besides time", columns
        )
    excluded: list[str] = []
    if channels is not None:
        wanted = [channels] if isinstance(channels, str | int) else list(channels)
        names = [names[i] for i in _positions(names, wanted, path=p, flag="channel")]
    if exclude is not None:
        gone = [exclude] if isinstance(exclude, str | int) else list(exclude)
        drop = set(_positions(names, gone, path=p, flag="excluded channel"))
        excluded = [names[i] for i in sorted(drop)]
        names = [c for i, c in enumerate(names) if i not in drop]
        if not names:
            raise input_error(
                "exclude", "a subset of the channels", f"all of {', '.join(excluded)}"
            )
    if channels is None:
        labels = label_like_columns(df, names)
        if labels and len(labels) < len(names):
            warnings.warn(
                f"table '{p}': left out label-like column(s) {', '.join(labels)} "
                f"(non-negative integers with at most 20 distinct values, or a row "
                f"counter), not EMG channels. Pass channels=[...] to keep them, or "
                f"exclude=[...] to say which columns to drop.",
                UserWarning,
                stacklevel=3,
            )
            excluded += labels
            names = [c for c in names if c not in labels]
    data = numeric_columns(df, names, path=p)
    if tcol is None:
        if rate is None:
            raise input_error(
                f"table '{p}'",
                "given a time column (named 'time') or a sampling rate",
                f"columns {', '.join(columns)}",
                "Pass time_column=<name> or rate=<Hz>.",
            )
        attrs = base_attrs(p, "", rate=rate, units="unknown")
        if excluded:
            attrs["excluded"] = ", ".join(excluded)
        return _make(data, time_coord(data.shape[0], rate=rate), names, attrs)
    named = unit_in_name(tcol)
    unit = time_unit or named or "s"
    if (
        time_unit is not None
        and named is not None
        and TIME_UNITS[time_unit] != TIME_UNITS[named]
    ):
        warnings.warn(
            f"time column '{tcol}' of '{p}' is named in {named} but time_unit="
            f"{time_unit!r} was given; reading it in {time_unit}.",
            UserWarning,
            stacklevel=3,
        )
    raw_t = numeric_columns(df, [tcol], path=p)[:, 0]
    times = check_times(
        raw_t * TIME_UNITS[unit], data.shape[0], path=p, where=f"column {tcol}"
    )
    attrs = base_attrs(p, tcol, units="unknown", time_unit=unit)
    if excluded:
        attrs["excluded"] = ", ".join(excluded)
    da = _make(data, times, names, attrs)
    return _regular(
        da,
        times,
        rate,
        resample,
        where=f"time column '{tcol}' of '{p}'",
        unit=unit,
        stated=time_unit is not None or named is not None,
    )


# ---------------------------------------------------------------- sampling
_UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds"}


def _nice_rate(fs: float) -> float:
    nearest = round(fs)
    if nearest > 0 and abs(fs - nearest) <= 1e-5 * fs:
        return float(nearest)
    return float(np.float64(f"{fs:.6g}"))


def _other_unit(implied: float, unit: str, ok: Any) -> tuple[str, float] | None:
    """The unit among s/ms/us whose reading gives a rate that ``ok`` accepts."""
    from neuronmf.io.tabular import TIME_UNITS

    for u in ("s", "ms", "us"):
        if TIME_UNITS[u] == TIME_UNITS[unit]:
            continue
        alt = implied * TIME_UNITS[unit] / TIME_UNITS[u]
        if ok(alt):
            return u, alt
    return None


def _regular(
    da: xr.DataArray,
    times: np.ndarray,
    rate: float | None,
    resample: bool,
    *,
    where: str,
    unit: str | None = None,
    stated: bool = True,
) -> xr.DataArray:
    """Check the sampling implied by ``times`` (s); set ``rate`` or resample.

    ``unit`` (the time column's unit, for tables) lets messages name the unit
    that would fix a contradiction; ``stated=False`` (unit not given by the user
    nor by the column name) warns when seconds give an implausible EMG rate.
    """
    t = np.asarray(times, dtype=float)
    if t.size < 2:
        if rate is not None:
            da.attrs["rate"] = rate
        return da
    d = np.diff(t)
    if np.any(d <= 0):
        k = int(np.sum(d <= 0))
        first = float(t[1:][d <= 0][0])
        raise input_error(
            where,
            "strictly increasing",
            f"{k} repeated timestamp(s), the first at {first:g} s",
            "Write the times with more decimals, or drop the time column and "
            "give the sampling rate.",
        )
    step = float(np.median(d))
    irregular = np.abs(d - step) > STEP_TOLERANCE * step
    gaps = d > (1 + STEP_TOLERANCE) * step
    typical = d[~irregular] if (~irregular).any() else np.array([step])
    implied = _nice_rate(1.0 / float(np.mean(typical)))
    if rate is not None and abs(implied - rate) > 1e-2 * rate:
        read = f" when read in {_UNIT_WORDS.get(unit, unit)}" if unit else ""
        fix = "Check the rate, or leave rate=None to use the file's times."
        if unit is not None:
            alt = _other_unit(implied, unit, lambda fs: abs(fs - rate) <= 1e-2 * rate)
            if alt is not None:
                fix = (
                    f"The column is probably in {_UNIT_WORDS[alt[0]]}: pass "
                    f"time_unit='{alt[0]}' (it gives {alt[1]:g} Hz), or leave "
                    "rate=None to use the file's times."
                )
        raise input_error(
            "rate",
            f"consistent with the {where} ({implied:g} Hz{read}, within 1%)",
            rate,
            fix,
        )
    lo, hi = PLAUSIBLE_RATE
    if not stated and rate is None and not lo <= implied <= hi:
        alt = _other_unit(implied, unit or "s", lambda fs: lo <= fs <= hi)
        hint = (
            f"If it is in {_UNIT_WORDS[alt[0]]}, pass time_unit='{alt[0]}' "
            f"({alt[1]:g} Hz); if"
            if alt is not None
            else "If"
        )
        warnings.warn(
            f"{where} read in seconds gives a sampling rate of {implied:g} Hz, "
            f"implausible for EMG (expected {lo:g} Hz to {hi / 1000:g} kHz). "
            f"{hint} it is in seconds (or a sample index), pass time_unit='s' to "
            "say so.",
            UserWarning,
            stacklevel=4,
        )
    fs = rate if rate is not None else implied
    if not irregular.any():
        exact = rate_from_times(t)
        da.attrs["rate"] = exact if exact is not None else fs
        return da
    ratio = d[gaps] / step
    missing = np.rint(ratio).astype(int) - 1 if gaps.any() else np.zeros(0, int)
    largest = float(d.max())
    if not resample:
        raise input_error(
            where,
            f"regularly sampled (every step within {STEP_TOLERANCE:.0%} of the "
            f"median step, {step * 1000:g} ms)",
            f"{int(irregular.sum())} irregular step(s), {int(gaps.sum())} of them "
            f"gaps; the largest step is {largest * 1000:g} ms "
            f"({largest / step:.1f} steps); {int(missing.sum())} sample(s) missing "
            "in all",
            f"Pass resample=True to put the data on a regular {fs:g} Hz grid (gaps "
            f"of up to {MAX_INTERPOLATED} missing samples interpolated, longer "
            "ones NaN), or repair the file.",
        )
    return _resample(da, t, fs, n_gaps=int(gaps.sum()))


def _resample(da: xr.DataArray, t: np.ndarray, fs: float, *, n_gaps: int):
    """Linear interpolation onto ``t[0] + k / fs``; long gaps become NaN."""
    m = int(np.floor((t[-1] - t[0]) * fs + 1e-6)) + 1
    grid = t[0] + np.arange(m) / fs
    i = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, t.size - 2)
    span = t[i + 1] - t[i]
    frac = np.clip((grid - t[i]) / span, 0.0, 1.0)
    eps = 1e-6
    frac[frac < eps] = 0.0
    frac[frac > 1 - eps] = 1.0
    x = np.asarray(da.values, dtype=float)
    a, b, f = x[i], x[i + 1], frac[:, None]
    out = np.where(f == 0, a, np.where(f == 1, b, (1 - f) * a + f * b))
    between = (frac > 0) & (frac < 1)
    in_gap = between & (np.rint(span * fs) - 1 >= 1)
    long_gap = between & (np.rint(span * fs) - 1 > MAX_INTERPOLATED)
    out[long_gap] = np.nan
    attrs = dict(da.attrs)
    attrs.update(
        rate=float(fs),
        resampled=1,
        n_gaps=n_gaps,
        n_interpolated=int((in_gap & ~long_gap).sum()),
        n_masked=int(long_gap.sum()),
    )
    return xr.DataArray(
        out,
        dims=("time", "channel"),
        coords={"time": grid, "channel": da["channel"].values},
        name=da.name,
        attrs=attrs,
    )
