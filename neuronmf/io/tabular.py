"""CSV / TSV tables: a time column plus one column per channel."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from neuronmf.errors import input_error
from neuronmf.io._formats import TABLE_SEPARATORS

__all__ = [
    "TIME_UNITS",
    "find_time_column",
    "label_like_columns",
    "read_table",
    "unit_in_name",
]

#: Factors that turn a time column into seconds.
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "min": 60.0, "h": 3600.0}
_TIME_NAMES = ("time", "t", "time_s", "times", "timestamp", "timestamps", "time (s)")
# "time_ms", "t [ms]", "Time (us)", "timestamp_s", "time.ms": a time column whose
# name carries its unit.
_UNIT_WORDS = {
    "s": "s",
    "sec": "s",
    "secs": "s",
    "seconds": "s",
    "ms": "ms",
    "msec": "ms",
    "milliseconds": "ms",
    "us": "us",
    "µs": "us",
    "usec": "us",
    "microseconds": "us",
}
_TIMED_NAME = re.compile(
    r"^(?:time|t|times|timestamp|timestamps)\s*[_\-.\s]?\s*[(\[]?\s*"
    r"(" + "|".join(sorted(map(re.escape, _UNIT_WORDS), key=len, reverse=True)) + r")"
    r"\s*[)\]]?$",
    re.IGNORECASE,
)
#: Integer columns with at most this many distinct values are label-like.
MAX_LABEL_VALUES = 20


def _delimiter(path: Path, first_line: str) -> str:
    sep = TABLE_SEPARATORS.get(path.suffix.lower())
    if sep is not None:
        return sep
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",\t; ").delimiter
    except csv.Error:
        return ","


def read_table(path: Path):
    """Read a delimited text table into a pandas DataFrame.

    The first row is the header unless every field of it is a number: then the
    table has no header, the row is kept as data and the columns are named
    ``ch0``, ``ch1``, … (``df.attrs["headerless"]`` is True). Repeated column
    names are refused (pandas would rename them silently).
    """
    import pandas as pd

    with open(path, encoding="utf-8", errors="replace") as fh:
        first = fh.readline()
    if not first.strip():
        raise input_error(
            f"file '{path}'", "a table with a header row", "an empty first line"
        )
    sep = _delimiter(path, first)
    fields = [f.strip() for f in next(csv.reader([first], delimiter=sep), [])]
    headerless = bool(fields) and all(_is_number(f) for f in fields)
    if not headerless:
        seen: dict[str, int] = {}
        for f in fields:
            seen[f] = seen.get(f, 0) + 1
        dups = [f for f, n in seen.items() if n > 1]
        if dups:
            raise input_error(
                f"column names of '{path}'",
                "unique",
                f"{', '.join(repr(d) for d in dups)} more than once",
                "Rename the repeated columns in the header row.",
            )
    try:
        if headerless:  # no header row: keep the first row as data
            df = pd.read_csv(path, sep=sep, header=None)
            df.columns = [f"ch{i}" for i in range(df.shape[1])]
        else:
            df = pd.read_csv(path, sep=sep)
    except Exception as exc:
        raise input_error(
            f"file '{path}'",
            "a readable CSV/TSV table with a header row",
            f"a parse error ({type(exc).__name__}: {exc})",
        ) from None
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise input_error(f"table '{path}'", "non-empty", f"shape {df.shape}")
    if not headerless:
        df.columns = [str(c).strip() for c in df.columns]
    df.attrs["headerless"] = headerless
    return df


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def find_time_column(columns: list[str], time_column: str | None, *, path: Path):
    """Name of the time column (given, or auto-detected), or None."""
    if time_column is not None:
        if time_column not in columns:
            raise input_error(
                f"time_column={time_column!r}",
                f"a column of '{path}'",
                f"no such column; columns are {', '.join(columns)}",
            )
        return time_column
    for c in columns:
        if c.lower() in _TIME_NAMES:
            return c
    for c in columns:
        if unit_in_name(c) is not None:
            return c
    return None


def unit_in_name(column: str) -> str | None:
    """The time unit a column name states (``"time_ms"`` → ``"ms"``), or None.

    Examples
    --------
    >>> [unit_in_name(c) for c in ("time_ms", "t (s)", "Time [us]", "time", "TA")]
    ['ms', 's', 'us', None, None]
    """
    m = _TIMED_NAME.match(column.strip())
    return None if m is None else _UNIT_WORDS[m.group(1).lower()]


def label_like_columns(df, names: list[str]) -> list[str]:
    """Columns of ``df`` among ``names`` that look like labels, not signals.

    A column is label-like when every value is a non-negative integer and it takes
    between 2 and :data:`MAX_LABEL_VALUES` distinct values (a class, trial, phase or
    trigger code), or when it counts up by exactly 1 per row (a row index, e.g.
    pandas' ``Unnamed: 0``). Integer-valued tables where every column looks like
    this (spike counts, integer ADC values) keep their small-integer columns: those
    are returned only next to at least one non-integer column. Constant columns are
    not labels (a flat channel is refused later, by name).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"TA": [0.1, -2.3, 4.0, 1.5], "class": [0, 0, 1, 2]})
    >>> label_like_columns(df, ["TA", "class"])
    ['class']
    """
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    counters, small, continuous = [], [], False
    for c in names:
        col = df[c]
        if is_bool_dtype(col.dtype) or not is_numeric_dtype(col.dtype):
            continue
        x = col.to_numpy(dtype=float)
        x = x[np.isfinite(x)]
        if x.size == 0:
            continue
        if not np.all(x == np.round(x)):
            continuous = True
        elif x.size > 2 and np.all(np.diff(x) == 1):
            counters.append(c)
        elif x.min() >= 0 and 2 <= np.unique(x).size <= MAX_LABEL_VALUES:
            small.append(c)
    keep = set(counters + (small if continuous else []))
    return [c for c in names if c in keep]


def numeric_columns(df, names: list[str], *, path: Path) -> np.ndarray:
    """The named columns as a float array, raising on non-numeric content."""
    from pandas.api.types import is_numeric_dtype

    bad = [c for c in names if not is_numeric_dtype(df[c].dtype)]
    if bad:
        raise input_error(
            f"columns {', '.join(bad)} of '{path}'",
            "numeric",
            "text values",
            "Remove text columns, or pass channels=[...] to select numeric ones "
            "or exclude=[...] to drop these.",
        )
    return df[names].to_numpy(dtype=float)


def time_scale(time_unit: str) -> float:
    """Seconds per unit of ``time_unit``."""
    if time_unit not in TIME_UNITS:
        raise input_error(
            "time_unit", f"one of {', '.join(map(repr, TIME_UNITS))}", time_unit
        )
    return TIME_UNITS[time_unit]
