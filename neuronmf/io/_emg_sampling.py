"""EMG sampling: the rate implied by timestamps, its checks, and resampling.

:func:`regular` checks the timestamps of a recording (strictly increasing, the
rate they imply against a given one, a plausible EMG rate for a time column read
in seconds) and, for gaps and uneven steps, refuses or resamples onto a regular
grid (:func:`_resample`). Used by :func:`neuronmf.io.load_emg`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from neuronmf.errors import input_error
from neuronmf.io._common import rate_from_times

__all__ = ["MAX_INTERPOLATED", "PLAUSIBLE_RATE", "STEP_TOLERANCE", "regular"]


#: resample=True interpolates across gaps of at most this many missing samples;
#: longer gaps become NaN.
MAX_INTERPOLATED = 5
#: A step more than this fraction away from the median step makes sampling
#: irregular (a gap when it is longer).
STEP_TOLERANCE = 0.1
#: Sampling rates (Hz) plausible for EMG, raw or envelope; outside, a time column
#: read in seconds is probably in another unit.
PLAUSIBLE_RATE = (10.0, 200_000.0)


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


def regular(
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
            stacklevel=5,  # user -> load_emg -> reader -> from_table -> here
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
