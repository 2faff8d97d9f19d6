"""The design matrix of decoding: lags, the time base of the behaviour, trials.

:func:`lagged` builds the time-lagged design inside contiguous runs of bins
only, so a lag never reaches across a fold boundary or a gap in ``where``. The
private helpers put activity and behaviour on the activity's bins (resampling
a behaviour on another time base, refusing to extrapolate) or on its trials;
:func:`_align` also puts the ``where`` conditions on the bins
(:mod:`neuronmf.decoding._epochs`).
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from neuronmf.errors import input_error

__all__ = ["lagged"]


def lagged(F: np.ndarray, idx: np.ndarray, offsets) -> tuple[np.ndarray, np.ndarray]:
    """Time-lagged design inside contiguous runs of bins.

    Parameters
    ----------
    F : ndarray of shape (len(idx), p)
        Features of the bins ``idx`` (sorted, unique bin numbers).
    idx : ndarray of int
    offsets : sequence of int
        Row t of the design holds ``F(t + o)`` for every offset o.

    Returns
    -------
    rows : ndarray of int
        Positions (into ``idx``) of the rows whose whole window lies in the same
        contiguous run; the lag never reaches across a gap.
    design : ndarray of shape (len(rows), p * len(offsets))

    Examples
    --------
    >>> import numpy as np
    >>> F = np.arange(6.0)[:, None]; idx = np.array([0, 1, 2, 5, 6, 7])
    >>> rows, D = lagged(F, idx, [-1, 0])
    >>> rows.tolist(), D[:, 0].tolist()
    ([1, 2, 4, 5], [0.0, 1.0, 3.0, 4.0])
    """
    idx = np.asarray(idx)
    n = idx.size
    offsets = list(offsets)
    ok = np.ones(n, dtype=bool)
    for o in offsets:
        j = np.arange(n) + o
        inside = (j >= 0) & (j < n)
        good = np.zeros(n, dtype=bool)
        good[inside] = idx[j[inside]] == idx[inside] + o
        ok &= good
    rows = np.flatnonzero(ok)
    design = np.concatenate([F[rows + o] for o in offsets], axis=1)
    return rows, design


def _offsets(lags) -> list[int]:
    if isinstance(lags, (int, np.integer)) and not isinstance(lags, bool):
        if lags < 0:
            raise input_error("lags", "an integer >= 0 or a (past, future) pair", lags)
        return list(range(-int(lags), int(lags) + 1))
    if isinstance(lags, (tuple, list)) and len(lags) == 2:
        past, future = lags
        if int(past) < 0 or int(future) < 0:
            raise input_error("lags", "a (past, future) pair of integers >= 0", lags)
        return list(range(-int(past), int(future) + 1))
    raise input_error(
        "lags",
        "an integer L (offsets -L..L) or a (past, future) pair",
        lags,
        "Use lags=(L, 0) for causal decoding from past bins only.",
    )


def _autocorr_time(y: np.ndarray, cap: int) -> int:
    v = y[np.isfinite(y)]
    v = v - v.mean()
    if v.size < 4 or not np.any(v):
        return 0
    den = float(v @ v)
    for k in range(1, min(cap, v.size - 1) + 1):
        if float(v[:-k] @ v[k:]) / den < np.exp(-1):
            return k
    return cap


def _as_time_neuron(X, time_dim: str):
    """(values (time, neuron) float64, time coordinate or None, neuron coord)."""
    if isinstance(X, xr.DataArray):
        if time_dim not in X.dims:
            raise input_error(
                "activity dims",
                f"to include the time dimension {time_dim!r}",
                str(X.dims),
                "Pass time_dim=<name of the time dimension>.",
            )
        other = [d for d in X.dims if d != time_dim]
        if len(other) != 1:
            raise input_error("activity", "2-D (time, neuron)", str(X.dims))
        X2 = X.transpose(time_dim, other[0])
        t = (
            np.asarray(X2[time_dim].values, dtype=float)
            if time_dim in X2.coords
            else None
        )
        return np.asarray(X2.values, dtype=np.float64), t, X2[other[0]].values
    A = np.asarray(X, dtype=np.float64)
    if A.ndim != 2:
        raise input_error("activity", "a 2-D array (time, neuron)", f"shape {A.shape}")
    return A, None, None


def _as_behavior(y, time_dim: str):
    if isinstance(y, xr.DataArray):
        if y.ndim != 1:
            raise input_error("behavior", "1-D (time,)", str(y.dims))
        dim = y.dims[0]
        t = np.asarray(y[dim].values, dtype=float) if dim in y.coords else None
        return np.asarray(y.values), t, y.name
    if (
        hasattr(y, "index") and hasattr(y, "values") and np.ndim(y) == 1
    ):  # pandas Series
        return (
            np.asarray(y.values),
            np.asarray(y.index, dtype=float),
            getattr(y, "name", None),
        )
    a = np.asarray(y)
    if a.ndim != 1:
        raise input_error("behavior", "1-D (time,)", f"shape {a.shape}")
    return a, None, None


def _align(
    yv, ty, tx, n: int, classes: bool, stacklevel: int = 3, what: str = "behavior"
):
    """Put the behaviour (or a ``where`` condition) on the activity's bins.

    Returns (values, note). ``stacklevel`` of the resampling warning: it names
    the caller of :func:`neuronmf.decoding.decode`. ``what`` names the input in
    the refusals.
    """
    if tx is None or ty is None:
        if yv.size != n:
            raise input_error(
                f"{what} length",
                f"equal to the number of activity bins ({n}) when either has no time "
                "coordinate",
                yv.size,
                "Pass both as DataArrays with time coordinates (then the behaviour is "
                "resampled onto the activity bins), or resample it yourself.",
            )
        return yv, "same bins (no time coordinates)"
    if ty.size == tx.size and np.allclose(ty, tx):
        return yv, "same bins"
    dt = float(np.median(np.diff(tx))) if tx.size > 1 else 0.0
    if ty.size < 2 or ty[0] > tx[0] + dt / 2 or ty[-1] < tx[-1] - dt / 2:
        raise input_error(
            f"{what} time range",
            f"covering the activity time range [{tx[0]:.6g}, {tx[-1]:.6g}] s",
            f"[{ty[0]:.6g}, {ty[-1]:.6g}] s" if ty.size else "an empty time axis",
            f"Refused: {'the behaviour' if what == 'behavior' else what} would have "
            "to be extrapolated. Crop the activity to its time range.",
        )
    order = np.argsort(ty)
    ty, yv = ty[order], yv[order]
    if classes:
        pos = np.clip(np.searchsorted(ty, tx), 1, ty.size - 1)
        nearer = np.where(
            np.abs(ty[pos - 1] - tx) <= np.abs(ty[pos] - tx), pos - 1, pos
        )
        out, note = yv[nearer], "resampled onto the activity bins (nearest sample)"
    else:
        out = np.interp(tx, ty, yv.astype(float))
        note = "resampled onto the activity bins (linear interpolation)"
    warnings.warn(
        f"behavior was on a different time base: {note}.",
        UserWarning,
        stacklevel=stacklevel,
    )
    return out, note


def _as_trials(X, trial_dim: str, time_dim: str):
    """(values (trial, time, neuron) float64, trial coordinate or None)."""
    if isinstance(X, xr.DataArray):
        if X.ndim == 2:
            other = [d for d in X.dims if d != trial_dim]
            X3 = X.transpose(trial_dim, other[0]).expand_dims("_t", axis=1)
        elif X.ndim == 3 and time_dim in X.dims:
            other = [d for d in X.dims if d not in (trial_dim, time_dim)]
            X3 = X.transpose(trial_dim, time_dim, other[0])
        else:
            raise input_error(
                "trial activity dims",
                f"({trial_dim}, neuron) or ({trial_dim}, {time_dim}, neuron)",
                str(X.dims),
            )
        coord = X[trial_dim].values if trial_dim in X.coords else None
        return np.asarray(X3.values, dtype=np.float64), coord
    A = np.asarray(X, dtype=np.float64)
    if A.ndim != 3:
        raise input_error(
            "trial activity", "a 3-D array (trial, time, neuron)", f"shape {A.shape}"
        )
    return A, None


def _as_trial_behavior(y, n_trials: int, trial_coord, trial_dim: str):
    """(one value per trial, in the activity's trial order; name)."""
    name = getattr(y, "name", None)
    if isinstance(y, xr.DataArray):
        if y.ndim != 1:
            raise input_error("behavior", f"1-D ({trial_dim},)", str(y.dims))
        dim = y.dims[0]
        if trial_coord is not None and dim in y.coords and y.sizes[dim] == n_trials:
            yc = y[dim].values
            if not np.array_equal(yc, trial_coord):
                if set(yc.tolist()) != set(np.asarray(trial_coord).tolist()):
                    raise input_error(
                        f"behavior {dim}",
                        "the same trials as the activity",
                        f"{yc[:5].tolist()}...",
                    )
                y = y.sel({dim: trial_coord})
        a = np.asarray(y.values)
    elif hasattr(y, "index") and hasattr(y, "values") and np.ndim(y) == 1:
        a = np.asarray(y.values)
    else:
        a = np.asarray(y)
    if a.ndim != 1 or a.size != n_trials:
        raise input_error(
            "behavior",
            f"one value per trial ({n_trials})",
            f"shape {a.shape}",
            "Pass the per-trial table column, e.g. nm.io.load_behavior(path, "
            "table='trials', column=...).",
        )
    return a, name
