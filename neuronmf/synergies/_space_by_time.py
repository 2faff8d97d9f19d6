"""Space-by-time decomposition of trial-structured EMG (Delis et al. 2014)."""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from neuronmf._provenance import result_attrs
from neuronmf.errors import ConvergenceWarning, input_error
from neuronmf.model_selection.criteria import vaf_scores
from neuronmf.synergies import _sbt_solvers as sbt

__all__ = ["space_by_time"]

_FEATURE_NAMES = {"channel": "muscle", "muscle": "muscle"}


def _as_trials(trials, dims, trial_dim, time_dim) -> xr.DataArray:
    """A (trial, time, feature) float64 DataArray; refuses anything else."""
    if isinstance(trials, xr.DataArray):
        if dims is not None:
            raise input_error(
                "dims",
                "None for a DataArray (its dims are used)",
                repr(dims),
                "Rename the DataArray's dims instead.",
            )
        da = trials
    else:
        arr = np.asarray(trials)
        if dims is None:
            raise input_error(
                "dims",
                "the names of the array's 3 axes for an ndarray",
                "None",
                f"Pass e.g. dims=({trial_dim!r}, {time_dim!r}, 'muscle').",
            )
        if arr.ndim != 3 or len(tuple(dims)) != 3:
            raise input_error(
                "trials",
                "a 3-D array with one name per axis in dims",
                f"shape {arr.shape} with dims {tuple(dims)!r}",
            )
        da = xr.DataArray(arr, dims=tuple(dims))
    if da.ndim != 3 or trial_dim not in da.dims or time_dim not in da.dims:
        raise input_error(
            "trials",
            f"3-D with dims {trial_dim!r}, {time_dim!r} and one feature dim "
            "(muscle, channel or neuron)",
            f"dims {da.dims}",
            "Align the data to trials first (e.g. load_activity(..., align=, "
            "window=, bin_width=)) or name the dims with trial_dim=/time_dim=.",
        )
    feature = next(d for d in da.dims if d not in (trial_dim, time_dim))
    da = da.transpose(trial_dim, time_dim, feature)
    if da.dtype.kind not in "biuf":
        raise input_error("trials.dtype", "real numeric", str(da.dtype))
    x = np.asarray(da.values, dtype=np.float64)
    if not np.isfinite(x).all():
        raise input_error(
            "trials",
            "finite (no NaN or Inf)",
            f"{int((~np.isfinite(x)).sum())} non-finite value(s)",
            "Drop or interpolate those trials first.",
        )
    if x.size and x.min() < 0:
        raise input_error(
            "trials",
            "non-negative",
            f"minimum {float(x.min()):.3g}",
            "Use an envelope (neuronmf.synergies.envelope) or counts.",
        )
    if not (x > 0).any():
        raise input_error("trials", "not all zero", "all zero")
    return da


def _check_ranks(name, value, high):
    """An int, or an iterable of ints (a scan), each in [1, high]."""
    from neuronmf.engine import _validation as check

    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = [int(value)]
        single = True
    else:
        try:
            values = sorted({int(v) for v in value})
        except (TypeError, ValueError):
            raise input_error(
                name, "an integer or an iterable of integers", repr(value)
            ) from None
        single = False
        if not values:
            raise input_error(name, "at least one integer", repr(value))
    for v in values:
        check.check_int(name, v, 1, high)
    return values, single


def _starts(X, P, L, n_restarts, rng):
    """Starting factors: NMF of the stacked data first, then random ones."""
    from neuronmf.engine.api import nmf

    S, T, N = X.shape
    scale = np.sqrt(max(float(X.mean()), 1e-12) / (P * L))
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        Ws = np.asarray(nmf(X.reshape(S * T, N), L, max_iter=200, seed=0).H)
        Wt = np.asarray(
            nmf(X.transpose(1, 0, 2).reshape(T, S * N), P, max_iter=200, seed=0).W
        )
    Wt, Ws = np.maximum(Wt, 1e-3 * Wt.max()), np.maximum(Ws, 1e-3 * Ws.max())
    Wt, _, Ws = sbt._balance(Wt, np.ones((1, P, L)), Ws)
    R = np.einsum("tp,stn,ln->spl", Wt, X, Ws, optimize=True)
    G = np.kron(Wt.T @ Wt, Ws @ Ws.T)
    A0 = np.linalg.lstsq(G, R.reshape(S, -1).T, rcond=None)[0].T.reshape(S, P, L)
    out.append((Wt, np.maximum(A0, 1e-3 * scale), Ws))
    for _ in range(n_restarts - 1):
        out.append(
            (
                rng.random((T, P)) + 0.1,
                scale * (rng.random((S, P, L)) + 0.1),
                rng.random((L, N)) + 0.1,
            )
        )
    return out


def _fit(X, P, L, solver, max_iter, tol, n_restarts, seed):
    """Best of ``n_restarts`` fits at (P temporal, L spatial) modules."""
    rng = np.random.default_rng(seed)
    best = None
    for Wt, A, Ws in _starts(X, P, L, n_restarts, rng):
        fit = sbt.solve(X, Wt, A, Ws, solver=solver, max_iter=max_iter, tol=tol)
        if best is None or fit[3][-1] < best[3][-1]:
            best = fit
    return best


def _scores(X, Wt, A, Ws):
    S, T, N = X.shape
    B = np.einsum("tp,spl->stl", Wt, A).reshape(S * T, -1)
    return vaf_scores(X.reshape(S * T, N).T, Ws.T, B.T)


def _choose(scan_vaf, spatial, temporal, threshold):
    """Fewest modules (L + P, then L·P) with VAF >= threshold."""
    cands = [
        (li + pi, li * pi, -scan_vaf[i, j], i, j)
        for i, li in enumerate(spatial)
        for j, pi in enumerate(temporal)
        if scan_vaf[i, j] >= threshold
    ]
    if not cands:
        i, j = np.unravel_index(np.argmax(scan_vaf), scan_vaf.shape)
        warnings.warn(
            f"no (n_spatial, n_temporal) pair reached VAF >= {threshold:g} "
            f"(best {scan_vaf[i, j]:.3f}); the largest VAF is used, the ceiling "
            "of the scan, not a choice.",
            UserWarning,
            stacklevel=3,
        )
        return int(i), int(j)
    _, _, _, i, j = min(cands)
    return int(i), int(j)


def _shuffled(X, rng):
    """Every (trial, muscle) series circularly shifted by its own random lag:
    each muscle keeps its own waveform and amplitude, their co-activation in
    space and time is destroyed."""
    S, T, N = X.shape
    shifts = rng.integers(0, T, (S, N))
    idx = (np.arange(T)[None, :, None] - shifts[:, None, :]) % T
    return np.take_along_axis(X, idx, axis=1)


def space_by_time(
    trials,
    n_spatial,
    n_temporal,
    *,
    solver: str = "hals",
    max_iter: int = 1000,
    tol: float = 1e-7,
    n_restarts: int = 3,
    vaf_threshold: float = 0.90,
    n_shuffles: int = 0,
    seed: int | None = 0,
    dims=None,
    trial_dim: str = "trial",
    time_dim: str = "time",
) -> xr.Dataset:
    """Space-by-time decomposition of trials: X_s ≈ W_temporal · A_s · W_spatial.

    The sample-based non-negative matrix tri-factorisation (sNM3F) of Delis et
    al. (2014, J Neurophysiol 111:675): every trial ``X_s`` (time × muscle) is
    a sum of products of a temporal module (a waveform over the trial), a
    spatial module (muscle weights) and a trial-specific coefficient
    ``A_s[p, l]``; temporal and spatial modules are shared by all trials,
    ``A_s`` carries the trial's scale. Objective ``sum_s ||X_s - Wt A_s Ws||²``.

    Parameters
    ----------
    trials : xarray.DataArray (trial, time, muscle) or ndarray
        Non-negative trial-aligned data: EMG envelopes cut into trials, or
        ``load_activity(..., align=, window=, bin_width=)`` (trial, time,
        neuron). An ndarray needs ``dims`` (e.g. ``("trial", "time",
        "muscle")``). A ``channel`` dim is called ``muscle`` in the result.
    n_spatial, n_temporal : int or iterable of int
        Numbers of spatial (L) and temporal (P) modules. Iterables scan every
        pair and keep the one with the fewest modules (L + P, then L·P) whose
        VAF reaches ``vaf_threshold``; the scan's VAF is ``scan_vaf``.
    solver : {"hals", "mu"}
        ``"hals"``: exact block coordinate descent (fast); ``"mu"``: the
        paper's multiplicative updates (the reference, slow to converge).
    max_iter, tol : int, float
        Iteration budget; stop when the objective's relative decrease over
        one iteration is below ``tol``.
    n_restarts : int
        Starts per fit (an NMF-based start, then random ones); the lowest
        objective wins.
    vaf_threshold : float
        For scans.
    n_shuffles : int
        If > 0, the chosen model is also fitted to that many shuffles of the
        data (each trial's muscles circularly shifted in time independently)
        and ``vaf_shuffled`` (shuffle) and ``vaf_excess`` (VAF − mean shuffled
        VAF) are stored: data without co-activation structure has an excess
        near 0.
    seed : int or None
    dims : tuple of 3 str, optional
        Axis names of an ndarray ``trials``.
    trial_dim, time_dim : str

    Returns
    -------
    xarray.Dataset
        ``spatial`` (spatial_module, muscle) unit-norm rows; ``temporal``
        (time, temporal_module) unit-norm columns; ``activations`` (trial,
        temporal_module, spatial_module); ``vaf`` (uncentred), ``r2``
        (centred), ``vaf_muscle`` (muscle), ``loss_history`` (iteration);
        with scans ``scan_vaf`` (n_spatial_scan, n_temporal_scan); the
        input's trial, time and muscle coordinates. ``attrs``:
        ``neuronmf_kind`` = ``"space_by_time"`` and the rest of
        :func:`neuronmf._provenance.result_attrs`, ``n_spatial``,
        ``n_temporal``, ``n_iter``, ``converged``.

    Examples
    --------
    >>> from neuronmf.datasets import simulate_space_by_time
    >>> from neuronmf.synergies import space_by_time
    >>> sim = simulate_space_by_time(n_trials=20, noise=0.0, seed=0)
    >>> ds = space_by_time(sim.data, 3, 2)
    >>> ds.spatial.dims, ds.temporal.dims, ds.activations.dims
    (('spatial_module', 'muscle'), ('time', 'temporal_module'), \
('trial', 'temporal_module', 'spatial_module'))
    >>> bool(ds.vaf > 0.999)
    True
    """
    from neuronmf.engine import _validation as check

    trial_dim = check.check_str("trial_dim", trial_dim)
    time_dim = check.check_str("time_dim", time_dim)
    if solver not in sbt.SOLVERS:
        raise input_error("solver", f"one of {sbt.SOLVERS}", repr(solver))
    max_iter = check.check_int("max_iter", max_iter, 1)
    tol = check.check_real("tol", tol, 0.0)
    n_restarts = check.check_int("n_restarts", n_restarts, 1)
    n_shuffles = check.check_int("n_shuffles", n_shuffles, 0)
    seed = check.check_seed("seed", seed)
    if not 0 < check.check_real("vaf_threshold", vaf_threshold) <= 1:
        raise input_error("vaf_threshold", "a fraction in (0, 1]", vaf_threshold)
    da = _as_trials(trials, dims, trial_dim, time_dim)
    X = np.ascontiguousarray(da.values, dtype=np.float64)
    _, T, N = X.shape
    spatial, one_l = _check_ranks("n_spatial", n_spatial, N)
    temporal, one_p = _check_ranks("n_temporal", n_temporal, T)
    opts = (solver, max_iter, tol, n_restarts, seed)
    fits, scan_vaf = {}, np.full((len(spatial), len(temporal)), np.nan)
    for i, L in enumerate(spatial):
        for j, P in enumerate(temporal):
            fits[i, j] = _fit(X, P, L, *opts)
            scan_vaf[i, j] = _scores(X, *fits[i, j][:3])[0]
    i, j = (
        (0, 0)
        if one_l and one_p
        else _choose(scan_vaf, spatial, temporal, vaf_threshold)
    )
    L, P = spatial[i], temporal[j]
    Wt, A, Ws, history, converged = fits[i, j]
    if not converged:
        warnings.warn(
            f"space_by_time stopped at max_iter={max_iter} before the relative "
            f"decrease fell below tol={tol:g}.",
            ConvergenceWarning,
            stacklevel=2,
        )
    extra = {}
    if not (one_l and one_p):
        extra["scan_vaf"] = (("n_spatial_scan", "n_temporal_scan"), scan_vaf)
    if n_shuffles:
        rng = (
            seed
            if isinstance(seed, np.random.Generator)
            else np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
        )
        null = [
            _scores(Xs, *_fit(Xs, P, L, *opts)[:3])[0]
            for Xs in (_shuffled(X, rng) for _ in range(n_shuffles))
        ]
        extra["vaf_shuffled"] = (("shuffle",), np.asarray(null))
    params = {
        "n_spatial": spatial if not one_l else L,
        "n_temporal": temporal if not one_p else P,
        "solver": solver,
        "max_iter": max_iter,
        "tol": tol,
        "n_restarts": n_restarts,
        "vaf_threshold": vaf_threshold,
        "n_shuffles": n_shuffles,
    }
    ds = _result(da, X, Wt, A, Ws, history, converged, params, seed, extra)
    ds.coords.update(
        {"n_spatial_scan": spatial, "n_temporal_scan": temporal}
        if "scan_vaf" in extra
        else {}
    )
    return ds


def _order(Wt, A, Ws):
    """Modules sorted by the energy of their coefficients (largest first)."""
    energy = A**2
    op = np.argsort(-energy.sum(axis=(0, 2)), kind="stable")
    ol = np.argsort(-energy.sum(axis=(0, 1)), kind="stable")
    return Wt[:, op], A[:, op][:, :, ol], Ws[ol]


def _result(da, X, Wt, A, Ws, history, converged, params, seed, extra):
    Wt, A, Ws = _order(Wt, A, Ws)
    trial_dim, time_dim, feature = da.dims
    fname = _FEATURE_NAMES.get(feature, feature)
    vaf, r2, local = _scores(X, Wt, A, Ws)
    data = {
        "spatial": (("spatial_module", fname), Ws),
        "temporal": (("time", "temporal_module"), Wt),
        "activations": (("trial", "temporal_module", "spatial_module"), A),
        "vaf": ((), vaf),
        "r2": ((), r2),
        f"vaf_{fname}": ((fname,), local),
        "loss_history": (("iteration",), np.asarray(history)),
        **extra,
    }
    if "vaf_shuffled" in extra:
        data["vaf_excess"] = ((), vaf - float(np.mean(extra["vaf_shuffled"][1])))
    renames = {trial_dim: "trial", time_dim: "time", feature: fname}
    coords = {}
    for name, c in da.coords.items():
        if len(c.dims) == 1 and name not in (trial_dim, time_dim, feature):
            coords[name] = (renames[c.dims[0]], c.values)
    for d in da.dims:
        coords[renames[d]] = da[d].values if d in da.coords else np.arange(da.sizes[d])
    coords["spatial_module"] = np.arange(Ws.shape[0])
    coords["temporal_module"] = np.arange(Wt.shape[1])
    source = da.attrs.get("source")
    attrs = {
        **result_attrs(
            "space_by_time",
            params=params,
            seed=seed,
            loss="frobenius",
            solver=params["solver"],
            source=source if isinstance(source, str) else None,
        ),
        "n_spatial": int(Ws.shape[0]),
        "n_temporal": int(Wt.shape[1]),
        "n_iter": len(history) - 1,
        "converged": int(converged),
        "orientation": "trials[s] (time, muscle) = temporal @ activations[s] @ spatial",
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)
