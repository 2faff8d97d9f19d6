"""Epochs of a recording to decode in: running bins (:func:`min_speed`) and intervals.

Pass either result to :func:`neuronmf.decoding.decode` as ``where=``, or both
as a list (``where=[running, inside]``): :func:`where_mask` puts each condition
on the activity's bins (nearest sample, the resampling rule of a boolean) and
combines them with AND.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from neuronmf.decoding._design import _align
from neuronmf.errors import input_error

__all__ = ["in_epochs", "min_speed"]


def min_speed(
    behavior, threshold: float, *, smooth: float = 0.5, time_dim: str = "time"
) -> xr.DataArray:
    """Bins where the behaviour moves at least ``threshold`` units per second.

    The speed is the norm of the time derivative of the behaviour (1-D, or
    several axes such as x and y), after a moving average over ``smooth``
    seconds. Pass the result to :func:`decode` as ``where=`` to decode during
    running only.

    Parameters
    ----------
    behavior : xarray.DataArray (time,) or (time, axis)
        Position (or any behaviour) with a time coordinate in seconds.
    threshold : float
        Minimum speed, in behaviour units per second (e.g. pixels/s, cm/s).
    smooth : float, default 0.5
        Width of the moving average applied to the behaviour before
        differentiating, in seconds (0 for none).
    time_dim : str

    Returns
    -------
    xarray.DataArray (time,) of bool
        True where the speed is at least ``threshold`` (False where it is NaN),
        on the behaviour's own times (a repeated timestamp gets the speed of
        its first sample).

    Examples
    --------
    >>> import numpy as np, xarray as xr, neuronmf as nm
    >>> t = np.arange(0, 10, 0.1)
    >>> x = xr.DataArray(np.where(t < 5, 20 * t, 100.0), dims="time",
    ...                  coords={"time": t})
    >>> run = nm.decoding.min_speed(x, 5.0, smooth=0)
    >>> bool(run.sel(time=2.0)), bool(run.sel(time=8.0))
    (True, False)
    """
    from scipy.ndimage import uniform_filter1d

    if not isinstance(behavior, xr.DataArray) or time_dim not in behavior.coords:
        raise input_error(
            "behavior",
            f"an xarray.DataArray with a {time_dim!r} coordinate in seconds",
            type(behavior).__name__,
            "Speed needs times; e.g. nm.io.load_behavior(...) returns one.",
        )
    if behavior.ndim not in (1, 2):
        raise input_error("behavior", "(time,) or (time, axis)", str(behavior.dims))
    if not np.isfinite(threshold) or threshold < 0:
        raise input_error("threshold", "a finite speed >= 0", threshold)
    if not np.isfinite(smooth) or smooth < 0:
        raise input_error("smooth", "a duration >= 0 in seconds", smooth)
    b = behavior.transpose(time_dim, ...)
    t = np.asarray(b[time_dim].values, dtype=float)
    # Real trackers repeat a timestamp now and then: the speed is computed on
    # the unique, sorted times (first sample kept) and mapped back to every sample.
    order = np.argsort(t, kind="stable")
    tu, first, inverse = np.unique(t[order], return_index=True, return_inverse=True)
    if tu.size < 2 or not np.all(np.isfinite(tu)):
        raise input_error(
            f"behavior {time_dim}", "at least two distinct finite times", t[:5]
        )
    v = np.asarray(b.values, dtype=float).reshape(t.size, -1)[order][first]
    k = round(smooth / float(np.median(np.diff(tu)))) if smooth else 0
    if k > 1:
        v = uniform_filter1d(v, k, axis=0, mode="nearest")
    with np.errstate(invalid="ignore"):
        speed_u = np.sqrt((np.gradient(v, tu, axis=0) ** 2).sum(axis=1))
        ok = np.empty(t.size, dtype=bool)
        ok[order] = (speed_u >= threshold)[inverse]
    return xr.DataArray(
        ok,
        dims=(time_dim,),
        coords={time_dim: t},
        name="running",
        attrs={"rule": f"speed >= {threshold:g} units/s (smoothed {smooth:g} s)"},
    )


def in_epochs(times, epochs) -> np.ndarray:
    """True for the times inside any epoch ``[start, stop)``.

    Parameters
    ----------
    times : array-like or xarray.DataArray
        Bin times in seconds (e.g. ``activity.time``: bin centres).
    epochs : array-like of shape (n_epochs, 2)
        Start and stop times in seconds (e.g. a two-column CSV, or the
        ``start_time`` and ``stop_time`` of an NWB interval table).

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> import numpy as np, neuronmf as nm
    >>> nm.decoding.in_epochs(np.arange(6.0), [[1, 3], [4.5, 9]]).tolist()
    [False, True, True, False, False, True]
    """
    t = np.asarray(getattr(times, "values", times), dtype=float).ravel()
    ep = np.asarray(epochs, dtype=float)
    if ep.ndim != 2 or ep.shape[1] != 2 or ep.shape[0] == 0:
        raise input_error(
            "epochs",
            "an array of (start, stop) pairs, shape (n_epochs, 2)",
            f"shape {ep.shape}",
        )
    if not np.all(np.isfinite(ep)) or np.any(ep[:, 1] <= ep[:, 0]):
        bad = ep[~(np.isfinite(ep).all(1) & (ep[:, 1] > ep[:, 0]))][:3].tolist()
        raise input_error("epochs", "finite (start, stop) pairs with stop > start", bad)
    inside = np.zeros(t.size, dtype=bool)
    for a, b in ep:
        inside |= (t >= a) & (t < b)
    return inside


def _several(where) -> bool:
    """True when ``where`` is a list of conditions, not one mask as a list of bools."""
    return isinstance(where, list | tuple) and (
        len(where) == 0 or any(np.ndim(c) >= 1 for c in where)
    )


def _condition(cond, label: str, n: int, tx, sample_dim: str):
    """One condition as a boolean per sample: (mask, rule or "")."""
    rule = ""
    tw = None
    if isinstance(cond, xr.DataArray):
        rule = str(cond.attrs.get("rule", ""))
        if cond.ndim != 1:
            raise input_error(label, f"1-D ({sample_dim},)", str(cond.dims))
        dim = cond.dims[0]
        if dim in cond.coords and sample_dim == "time":
            tw = np.asarray(cond[dim].values, dtype=float)
        w = np.asarray(cond.values)
    else:
        w = np.asarray(cond)
    if w.dtype != bool:
        raise input_error(
            label,
            "a boolean per bin (True = scored)",
            f"dtype {w.dtype}",
            "Pass a mask such as nm.decoding.min_speed(position, 5.0).",
        )
    if tx is not None and tw is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            w, _ = _align(w, tw, tx, n, classes=True, what=label)
    w = np.asarray(w, dtype=bool)
    if w.shape != (n,):
        raise input_error(
            label,
            f"one boolean per {sample_dim} bin ({n})",
            f"shape {w.shape}",
            "Pass a DataArray with a time coordinate to have it resampled.",
        )
    if not w.any():
        raise input_error(
            label, "True for some bins", "all False", "Nothing would be scored."
        )
    return w, rule


def where_mask(where, n: int, tx, sample_dim: str = "time"):
    """The samples kept by ``where``: (mask, description, bins kept per condition).

    ``where`` is None (every sample), one condition, or a list of conditions.
    A condition is a boolean array over the samples, or a boolean DataArray;
    one with a time coordinate is put on the activity's bin times ``tx`` by
    nearest sample (refused if it does not cover them). Several conditions are
    combined with AND. Refused (InputError, before any fit): a condition that
    is not boolean, has the wrong length, keeps no sample, or conditions with
    no sample in common.
    """
    if where is None:
        return np.ones(n, dtype=bool), "all", ()
    several = _several(where)
    conds = list(where) if several else [where]
    if not conds:
        raise input_error(
            "where",
            "a boolean mask, or a non-empty list of masks",
            "an empty list",
            "Pass where=None to use every bin.",
        )
    masks, rules = [], []
    for i, cond in enumerate(conds):
        label = f"where[{i}]" if several else "where"
        w, rule = _condition(cond, label, n, tx, sample_dim)
        masks.append(w)
        rules.append(rule)
    kept = tuple(int(w.sum()) for w in masks)
    mask = np.logical_and.reduce(masks)
    if not mask.any():
        raise input_error(
            "where",
            "conditions that keep some bins in common (they are combined with AND)",
            "none in common: "
            + ", ".join(f"where[{i}] keeps {k}" for i, k in enumerate(kept))
            + f" of {n} {sample_dim} bins",
            "Check that the conditions cover the same part of the recording.",
        )
    note = f"{int(mask.sum())} of {n} {sample_dim} bins"
    if len(conds) == 1:
        return mask, note + (f" ({rules[0]})" if rules[0] else ""), kept
    parts = [
        f"where[{i}] keeps {k}" + (f" ({r})" if r else "")
        for i, (k, r) in enumerate(zip(kept, rules, strict=True))
    ]
    return mask, note + ", the AND of: " + "; ".join(parts), kept
