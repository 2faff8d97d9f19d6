"""CSV / TSV tables: a time column plus one column per channel."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from neuronmf.errors import input_error
from neuronmf.io._common import _TABLE_SUFFIXES

__all__ = ["TIME_UNITS", "find_time_column", "read_table"]

#: Factors that turn a time column into seconds.
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "min": 60.0, "h": 3600.0}
_TIME_NAMES = ("time", "t", "time_s", "times", "timestamp", "timestamps", "time (s)")


def _delimiter(path: Path, first_line: str) -> str:
    sep = _TABLE_SUFFIXES.get(path.suffix.lower())
    if sep is not None:
        return sep
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",\t; ").delimiter
    except csv.Error:
        return ","


def read_table(path: Path):
    """Read a delimited text table with a header row into a pandas DataFrame."""
    import pandas as pd

    with open(path, encoding="utf-8", errors="replace") as fh:
        first = fh.readline()
    if not first.strip():
        raise input_error(
            f"file '{path}'", "a table with a header row", "an empty first line"
        )
    sep = _delimiter(path, first)
    try:
        df = pd.read_csv(path, sep=sep)
    except Exception as exc:
        raise input_error(
            f"file '{path}'",
            "a readable CSV/TSV table with a header row",
            f"a parse error ({exc})",
        ) from None
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise input_error(f"table '{path}'", "non-empty", f"shape {df.shape}")
    df.columns = [str(c).strip() for c in df.columns]
    return df


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
    return None


def numeric_columns(df, names: list[str], *, path: Path) -> np.ndarray:
    """The named columns as a float array, raising on non-numeric content."""
    bad = [c for c in names if not np.issubdtype(df[c].dtype, np.number)]
    if bad:
        raise input_error(
            f"columns {', '.join(bad)} of '{path}'",
            "numeric",
            "text values",
            "Remove text columns or pass channels=[...] to select numeric ones.",
        )
    return df[names].to_numpy(dtype=float)


def time_scale(time_unit: str) -> float:
    """Seconds per unit of ``time_unit``."""
    if time_unit not in TIME_UNITS:
        raise input_error(
            "time_unit", f"one of {', '.join(map(repr, TIME_UNITS))}", time_unit
        )
    return TIME_UNITS[time_unit]
