"""EMG from CSV/TSV tables, and choosing channels by name or position.

:func:`from_table` reads a table with a time column (or a rate), leaves out
label-like columns with a warning, converts the time unit to seconds and checks
the sampling (:func:`neuronmf.io._emg_sampling.regular`). :func:`select_channels`
and :func:`drop_channels` apply ``channels=`` and ``exclude=`` to any EMG
DataArray. Used by :func:`neuronmf.io.load_emg`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neuronmf.errors import input_error
from neuronmf.io._common import base_attrs, check_times, time_coord
from neuronmf.io._emg_sampling import regular

__all__ = ["drop_channels", "from_table", "make_emg", "select_channels"]


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


def make_emg(
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


def from_table(
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
                stacklevel=4,  # user -> load_emg -> its reader -> here
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
        return make_emg(data, time_coord(data.shape[0], rate=rate), names, attrs)
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
            stacklevel=4,  # user -> load_emg -> its reader -> here
        )
    raw_t = numeric_columns(df, [tcol], path=p)[:, 0]
    times = check_times(
        raw_t * TIME_UNITS[unit], data.shape[0], path=p, where=f"column {tcol}"
    )
    attrs = base_attrs(p, tcol, units="unknown", time_unit=unit)
    if excluded:
        attrs["excluded"] = ", ".join(excluded)
    da = make_emg(data, times, names, attrs)
    return regular(
        da,
        times,
        rate,
        resample,
        where=f"time column '{tcol}' of '{p}'",
        unit=unit,
        stated=time_unit is not None or named is not None,
    )
