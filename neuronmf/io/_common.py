"""Shared helpers of the loaders: file checks, series choice, times and attrs.

Everything here raises :class:`~neuronmf.errors.InputError` with the house wording
before any data are read. Files are only ever opened read-only.

The format table and detection live in :mod:`neuronmf.io._formats`, the safe
openers (HDF5, TIFF, Zarr, NumPy) in :mod:`neuronmf.io._open`; both are
re-exported here, so ``from neuronmf.io._common import detect_format`` (and every
other name this module offered) keeps working.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neuronmf.errors import input_error
from neuronmf.io._formats import (  # noqa: F401  (re-exported)
    _HDF5_SUFFIXES,
    _TIFF_SUFFIXES,
    FORMATS,
    NETCDF_SUFFIXES,
    SUFFIX_FORMATS,
    TABLE_SUFFIXES,
    data_format,
    detect_format,
    tiff_files,
)
from neuronmf.io._formats import TABLE_SEPARATORS as _TABLE_SUFFIXES  # noqa: F401
from neuronmf.io._open import (  # noqa: F401  (re-exported)
    MAX_HDF5_OBJECTS,
    MAX_TIFF_PAGES,
    MAX_ZARR_ENTRIES,
    available_memory,
    check_hdf5_contained,
    load_npy,
    numeric_data,
    open_hdf5,
    open_tiff,
    open_zarr,
    read_npz,
)

__all__ = [
    "LAZY_THRESHOLD_BYTES",
    "NETCDF_SUFFIXES",
    "TABLE_SUFFIXES",
    "as_path",
    "check_hdf5_contained",
    "check_source",
    "choose",
    "data_format",
    "detect_format",
    "numeric_data",
    "open_hdf5",
    "open_tiff",
    "open_zarr",
    "rate_from_times",
    "time_coord",
]

#: ``lazy=None`` loads an array lazily (dask) when it is bigger than this.
LAZY_THRESHOLD_BYTES = 1 << 30
#: Target size of one dask chunk (along time) for lazy movies.
CHUNK_BYTES = 32 << 20


def as_path(path: str | os.PathLike) -> Path:
    """Return ``path`` as a :class:`Path`, raising if it does not exist."""
    if not isinstance(path, str | os.PathLike):
        raise input_error(
            "path", "a file path (str or pathlib.Path)", type(path).__name__
        )
    p = Path(path).expanduser()
    if not p.exists():
        raise input_error(
            "file",
            "an existing file or folder",
            f"'{p}' (no such file)",
            "Check the path and the working directory.",
        )
    # A FIFO, socket or device would block or stream forever: refuse before
    # anything opens it (Path.is_file/is_dir follow symbolic links).
    if not (p.is_file() or p.is_dir()):
        raise input_error(
            f"file '{p}'",
            "a regular file or a folder",
            "a special file (FIFO, socket or device)",
            "Save the data to a regular file first.",
        )
    return p


def choose(
    candidates: Sequence[str],
    series: str | None,
    *,
    path: Path,
    what: str,
    available: Iterable[str] | None = None,
    preferred: Sequence[str] = (),
    arg: str = "series",
) -> str:
    """Pick one series path among ``candidates``.

    Parameters
    ----------
    candidates : sequence of str
        Paths inside the file of the series that fit the loader.
    series : str or None
        The user's choice: a full path (``"acquisition/EMG"``), a trailing part of
        one (``"EMG"``), or None to take the only candidate.
    path : Path
        The file (for messages).
    what : str
        What is looked for, e.g. ``"an EMG series"``.
    available : iterable of str, optional
        Everything the file holds (listed when the choice fails); defaults to
        ``candidates``.
    preferred : sequence of str, optional
        When ``series`` is None and several candidates fit, a candidate whose path
        is in ``preferred`` is taken (the first one that matches).
    arg : str, optional
        The argument's name in messages (``"series"``, ``"table"``).
    """
    available = list(candidates if available is None else available)
    shown = ", ".join(available) if available else "nothing"
    if series is not None:
        key = str(series).strip("/")
        pool = list(dict.fromkeys([*candidates, *available]))
        hits = [c for c in pool if c.strip("/") == key]
        if not hits:
            hits = [c for c in pool if c.strip("/").endswith("/" + key)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise input_error(
                f"{arg}={series!r} in '{path}'",
                f"the name of exactly one {arg}",
                f"{len(hits)} matches: {', '.join(hits)}",
                f"Pass the full path inside the file, e.g. {arg}={hits[0]!r}.",
            )
        raise input_error(
            f"{arg}={series!r}",
            f"a {arg} in '{path}'",
            f"no such {arg}; the file holds: {shown}",
            "Pass one of those names or paths.",
        )
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise input_error(
            f"file '{path}'",
            f"a file holding {what}",
            f"none found; the file holds: {shown}",
            f"Pass {arg}=<name or path> if one of those is what you want.",
        )
    for p in preferred:
        if p in candidates:
            return p
    raise input_error(
        arg,
        f"given when '{path}' holds several candidates for {what}",
        f"{arg}=None with candidates {', '.join(candidates)}",
        f"Pass {arg}=<one of them>, e.g. {arg}={candidates[0]!r}.",
    )


def rate_from_times(t: np.ndarray, rtol: float = 1e-3) -> float | None:
    """Sampling rate (Hz) of regularly spaced times, or None if irregular."""
    t = np.asarray(t, dtype=float)
    if t.size < 2:
        return None
    d = np.diff(t)
    step = float(np.median(d))
    if not np.isfinite(step) or step <= 0:
        return None
    if np.max(np.abs(d - step)) > rtol * step:
        return None
    rate = (t.size - 1) / float(t[-1] - t[0])
    nearest = round(rate)
    if nearest > 0 and abs(rate - nearest) <= 1e-6 * rate:
        return float(nearest)
    return float(np.float64(f"{rate:.9g}"))


def check_times(times: np.ndarray, n: int, *, path: Path, where: str) -> np.ndarray:
    """Validate timestamps: one per sample, finite, non-decreasing."""
    times = np.asarray(times, dtype=float).ravel()
    if times.size != n:
        raise input_error(
            f"timestamps of '{where}' in '{path}'",
            f"one per sample ({n} samples)",
            f"{times.size} timestamps",
            "The file is inconsistent: the data and timestamps lengths disagree.",
        )
    if times.size and not np.all(np.isfinite(times)):
        raise input_error(
            f"timestamps of '{where}' in '{path}'", "finite", "NaN or Inf values"
        )
    if times.size > 1 and np.any(np.diff(times) < 0):
        raise input_error(
            f"timestamps of '{where}' in '{path}'", "non-decreasing", "a decrease"
        )
    return times


def time_coord(
    n: int, *, rate: float | None = None, start: float = 0.0
) -> np.ndarray | None:
    """Regular times ``start + i / rate`` in seconds (None without a rate)."""
    if rate is None:
        return None
    return start + np.arange(n, dtype=float) / float(rate)


def check_rate(rate: Any, *, name: str = "rate", unit: str = "Hz") -> float | None:
    """Validate a user-given positive quantity: a sampling rate (Hz) by default.

    ``unit`` names the unit in the message (``"s"`` for a bin width).
    """
    if rate is None:
        return None
    expect = f"a positive number in {unit}"
    try:
        value = float(rate)
    except (TypeError, ValueError):
        raise input_error(name, expect, rate) from None
    if not np.isfinite(value) or value <= 0:
        raise input_error(name, expect, rate)
    return value


def check_ndim(
    shape: tuple[int, ...], allowed: Sequence[int], *, what: str, expect: str
) -> None:
    """Raise unless ``len(shape)`` is one of ``allowed``."""
    if len(shape) not in allowed:
        dims = " or ".join(f"{d}-D" for d in allowed)
        raise input_error(
            what,
            f"{dims} {expect}",
            f"{len(shape)}-D data of shape {tuple(shape)}",
            "Choose another series/dataset, or reshape the data before saving.",
        )


def base_attrs(path: Path, source_path: str, **extra: Any) -> dict[str, Any]:
    """The attributes every loaded array carries (no None values: NetCDF-safe)."""
    attrs: dict[str, Any] = {"source": str(path), "source_path": source_path}
    attrs.update({k: v for k, v in extra.items() if v is not None})
    return attrs


def check_source(fmt: str, series, *, variable=None, time_axis=None) -> None:
    """``series=`` names what to read in NWB/HDF5/NPZ files, ``variable=`` (and
    ``time_axis=``) in MATLAB files; refuse the one that does not fit ``fmt``."""
    if fmt == "matlab":
        if series is not None:
            raise input_error(
                "series", "None for a MATLAB file", series, "Pass variable= instead."
            )
        return
    matrices = fmt in ("npz", "npy", "hdf5")  # plain matrices take time_axis too
    for name, value in (("variable", variable), ("time_axis", time_axis)):
        if value is not None and not (name == "time_axis" and matrices):
            raise input_error(
                name,
                "used with MATLAB .mat files only",
                f"a {fmt} file",
                "Use series= to choose what to read from this file.",
            )
