"""Checks of the engine's public inputs, run once before any compiled code."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from neuronmf.errors import input_error


def choice(name: str, value: object, valid: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``valid``, else raise a listing error."""
    valid = tuple(valid)
    if not isinstance(value, str) or value not in valid:
        listed = ", ".join(repr(v) for v in valid)
        raise input_error(name, f"one of {listed}", repr(value))
    return value


def data_matrix(V, name: str = "V", mask=None) -> np.ndarray:
    """Validate a data matrix: 2-D, numeric, finite, non-negative, not all zero.

    With a ``mask`` (bool, True = observed) only observed entries are checked, so
    unobserved ones may hold NaN.
    """
    if hasattr(V, "toarray") and hasattr(V, "nnz"):
        raise input_error(
            name,
            "a dense array",
            f"a {type(V).__name__}",
            "Convert it with .toarray().",
        )
    arr = np.asarray(V)
    if arr.dtype.kind not in "biuf":
        raise input_error(
            f"{name}.dtype",
            "a real numeric type (integer or float)",
            str(arr.dtype),
            "Convert the data with np.asarray(V, dtype=float).",
        )
    if arr.ndim != 2:
        raise input_error(
            f"{name}.ndim",
            "2 (features × samples)",
            f"{arr.ndim} (shape {arr.shape})",
            "Reshape to (features, samples), or pass a labelled xarray.DataArray "
            "whose other dimensions are stacked into features.",
        )
    if arr.size == 0:
        raise input_error(name, "non-empty", f"shape {arr.shape}")
    if mask is not None:
        arr = np.where(mask, arr, 0).astype(arr.dtype, copy=False)
    # two reductions decide every case (NaN propagates through min and max,
    # ±Inf shows in one of them); the slower searches below only run to
    # locate an entry for the error message
    low, high = arr.min(), arr.max()
    if arr.dtype.kind == "f" and not (np.isfinite(low) and np.isfinite(high)):
        bad = np.argwhere(~np.isfinite(arr))
        i, j = (int(x) for x in bad[0])
        raise input_error(
            name,
            "finite (no NaN or Inf)",
            f"{int(bad.shape[0])} non-finite entries, "
            f"the first {arr[i, j]} at ({i}, {j})",
            "For missing entries pass mask=~np.isnan(V) (masked fits), "
            "or fill or drop them first.",
        )
    if low < 0:
        i, j = (int(x) for x in np.unravel_index(np.argmin(arr), arr.shape))
        raise input_error(
            name,
            "non-negative",
            f"minimum {low!r} at ({i}, {j})",
            "NMF needs data >= 0: rectify signed signals (e.g. EMG envelope), "
            "or subtract the minimum.",
        )
    if high == 0:
        raise input_error(
            name,
            "not all zero" + (" on its observed entries" if mask is not None else ""),
            f"an all-zero array of shape {arr.shape}",
        )
    return np.asarray(V) if mask is not None else arr


def mask(value, shape) -> np.ndarray:
    """Validate an observation mask (True = observed) against the data shape."""
    arr = np.asarray(value)
    if arr.dtype != np.bool_:
        raise input_error(
            "mask.dtype",
            "bool (True = observed)",
            str(arr.dtype),
            "Build it with a comparison, e.g. mask=~np.isnan(V).",
        )
    if arr.shape != tuple(shape):
        raise input_error(
            "mask.shape", f"the data's shape {tuple(shape)}", f"{arr.shape}"
        )
    if not arr.any():
        raise input_error("mask", "True on at least one entry", "no observed entries")
    if arr.ndim == 2:
        empty_rows = np.flatnonzero(~arr.any(axis=1))
        if empty_rows.size:
            raise input_error(
                "mask",
                "True somewhere in every row (feature)",
                f"no observed entries in row(s) {empty_rows[:10].tolist()}"
                + (" ..." if empty_rows.size > 10 else ""),
                "Drop those features or observe some of their entries.",
            )
        empty_cols = np.flatnonzero(~arr.any(axis=0))
        if empty_cols.size:
            raise input_error(
                "mask",
                "True somewhere in every column (sample)",
                f"no observed entries in column(s) {empty_cols[:10].tolist()}"
                + (" ..." if empty_cols.size > 10 else ""),
                "Drop those samples or observe some of their entries.",
            )
    return arr


def fill_unobserved(V, mask, dtype) -> np.ndarray:
    """A C-contiguous float copy of V with unobserved entries set to the row mean.

    The fill depends only on observed entries, so whatever the caller stored in
    unobserved entries (NaN included) cannot influence the fit.
    """
    arr = np.ascontiguousarray(V, dtype=dtype)
    if mask is None:
        # read-only input (np.load(..., mmap_mode="r"), joblib memmaps): the
        # compiled kernels take writable arrays, so work on a copy
        return arr if arr.flags.writeable else arr.copy()
    out = np.where(mask, arr, 0).astype(dtype)
    counts = mask.sum(axis=1)
    means = out.sum(axis=1, dtype=np.float64) / counts
    rows, cols = np.nonzero(~mask)
    out[rows, cols] = means[rows].astype(dtype)
    return np.ascontiguousarray(out)


def rank(value, shape: tuple[int, int]) -> int:
    """Validate the rank against the data shape."""
    m, n = shape
    upper = min(m, n)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise input_error("rank", f"an integer in [1, {upper}]", value)
    if not 1 <= int(value) <= upper:
        raise input_error(
            "rank",
            f"an integer in [1, min(m, n)] = [1, {upper}] for data of shape {shape}",
            int(value),
            "Choose fewer components.",
        )
    return int(value)


def factor(F, name: str, shape: tuple[int, int]) -> np.ndarray:
    """Validate a user-supplied factor: right shape, finite, non-negative."""
    arr = np.asarray(F)
    if arr.dtype.kind not in "biuf":
        raise input_error(f"{name}.dtype", "a real numeric type", str(arr.dtype))
    if arr.shape != shape:
        raise input_error(f"{name}.shape", f"{shape}", f"{arr.shape}")
    if not np.isfinite(arr).all():
        raise input_error(name, "finite (no NaN or Inf)", "non-finite entries")
    if arr.size and arr.min() < 0:
        raise input_error(name, "non-negative", f"minimum {arr.min()!r}")
    if not arr.any():
        # W·H = 0 and every HALS/MU update of a zero factor stays zero
        raise input_error(
            name,
            "not all zero",
            f"an all-zero array of shape {arr.shape}",
            f"Pass a non-zero initial {name}, or omit it to use init=.",
        )
    return arr


def check_bool(name: str, value) -> bool:
    """``value`` if it is a bool (``bool`` or ``np.bool_``), else an InputError.

    Strings, numbers and None are refused rather than coerced: ``"no"`` is
    truthy, so ``bool("no")`` would silently mean True.

    Examples
    --------
    >>> check_bool("escape", np.True_)
    True
    """
    if not isinstance(value, (bool, np.bool_)):
        raise input_error(name, "True or False", repr(value))
    return bool(value)


def check_int(name: str, value, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int if it is an integer (``int`` or ``np.integer``) in range.

    Floats (even 2.0), strings and bools are refused rather than truncated or
    parsed.

    Examples
    --------
    >>> check_int("max_iter", np.int64(5), low=1)
    5
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise input_error(name, _int_range(low, high), repr(value), _int_hint(value))
    if (low is not None and value < low) or (high is not None and value > high):
        raise input_error(name, _int_range(low, high), int(value))
    return int(value)


def _int_range(low, high) -> str:
    if low is not None and high is not None:
        return f"an integer in [{low}, {high}]"
    if low is not None:
        return f"an integer >= {low}"
    if high is not None:
        return f"an integer <= {high}"
    return "an integer"


def _int_hint(value) -> str:
    if isinstance(value, str):
        return "Pass a number, not a string (e.g. int(text))."
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return "Fractional values are not rounded; pass an integer."
    return ""


def check_real(
    name: str,
    value,
    low: float | None = None,
    *,
    strict: bool = False,
) -> float:
    """``value`` as a float if it is a finite real number (numpy scalars too).

    ``low`` is a lower bound, inclusive unless ``strict``. Bools and strings are
    refused.

    Examples
    --------
    >>> check_real("tol", np.float32(0.5), 0.0)
    0.5
    """
    if strict:
        expect = "a finite number" + ("" if low is None else f" > {low:g}")
    else:
        expect = "a finite number" + ("" if low is None else f" >= {low:g}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise input_error(name, expect, repr(value))
    x = float(value)
    if not np.isfinite(x) or (low is not None and (x <= low if strict else x < low)):
        raise input_error(name, expect, repr(value))
    return x


def check_callable(name: str, value):
    """``value`` if it is callable (or None), else an InputError up front.

    Examples
    --------
    >>> check_callable("callback", None) is None
    True
    """
    if value is not None and not callable(value):
        raise input_error(
            name,
            "None or a callable",
            f"{value!r} of type {type(value).__name__}",
            "Pass a function, e.g. callback=lambda iteration, loss: None.",
        )
    return value


def non_negative_number(name: str, value) -> float:
    """A finite real number >= 0 (alias of :func:`check_real` with ``low=0``)."""
    return check_real(name, value, 0.0)


def boolean(name: str, value) -> bool:
    """Alias of :func:`check_bool` (kept for existing callers)."""
    return check_bool(name, value)


def integer(name: str, value, low: int) -> int:
    """Alias of :func:`check_int` with a lower bound (kept for existing callers)."""
    return check_int(name, value, low)


def float_dtype(dtype, data_dtype: np.dtype) -> np.dtype:
    """The working dtype: float32 stays float32, everything else becomes float64."""
    if dtype is None:
        return (
            np.dtype(np.float32) if data_dtype == np.float32 else np.dtype(np.float64)
        )
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise input_error("dtype", "None, 'float32' or 'float64'", repr(dtype))
    return dt


def dask_matrix(V):
    """Validate a dask data matrix in one pass; return it and its summary."""
    from neuronmf.engine.chunked import prepare, summary

    if V.dtype.kind not in "biuf":
        raise input_error(
            "V.dtype", "a real numeric type (integer or float)", str(V.dtype)
        )
    if V.ndim != 2:
        raise input_error(
            "V.ndim",
            "2 (features × samples)",
            f"{V.ndim} (shape {V.shape})",
            "Pass a labelled DataArray: its other dims are stacked into features.",
        )
    if V.size == 0:
        raise input_error("V", "non-empty", f"shape {V.shape}")
    stats = summary(V)
    if stats["non_finite"]:
        raise input_error(
            "V",
            "finite (no NaN or Inf)",
            f"{stats['non_finite']} non-finite entries",
            "Fill or drop them first (masks need V in memory).",
        )
    if stats["min"] < 0:
        raise input_error(
            "V",
            "non-negative",
            f"minimum {stats['min']!r}",
            "NMF needs data >= 0: rectify signed signals, or subtract the minimum.",
        )
    if not stats["any"]:
        raise input_error("V", "not all zero", f"an all-zero array of shape {V.shape}")
    return prepare(V), stats


def check_seed(name: str, value):
    """``value`` if it is None, an integer >= 0 or a numpy Generator.

    Strings, floats and bools are refused up front (numpy would raise a raw
    TypeError deep inside the fit, or accept ``True`` as 1).

    Examples
    --------
    >>> check_seed("seed", np.int64(3))
    3
    """
    if value is None or isinstance(value, np.random.Generator):
        return value
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Integral)
        or value < 0
    ):
        raise input_error(
            name,
            "None, an integer >= 0 or a numpy Generator",
            repr(value),
            "Pass e.g. seed=0.",
        )
    return int(value)


def check_str(name: str, value) -> str:
    """``value`` if it is a str (e.g. a dimension name), else an InputError.

    Examples
    --------
    >>> check_str("sample_dim", "time")
    'time'
    """
    if not isinstance(value, str):
        raise input_error(name, "a string (a dimension name)", repr(value))
    return value
