"""Time-varying muscle synergies (d'Avella et al. 2003) by convolutive NMF.

A time-varying synergy is a (muscle × lag) waveform; the envelope is a sum of
its occurrences, each at an onset and scaled by an amplitude:
``envelope[:, t] = sum_i c_i W[k_i][:, t - t_i]``. Convolutive NMF
(:func:`neuronmf.engine.convolutive.conv_nmf`, with an L1 penalty on H to keep
the activations sparse) fits W and a non-negative activation H (synergy ×
time); the occurrences are the peaks of H: the peak's time is the onset, the
activation summed around it the amplitude.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import xarray as xr
from scipy.signal import find_peaks

from neuronmf._provenance import result_attrs
from neuronmf.errors import ConvergenceWarning, input_error
from neuronmf.model_selection import criteria
from neuronmf.model_selection.criteria import vaf_scores

__all__ = ["TV_OPTIONS", "aligned_cosine", "occurrences", "time_varying"]

#: options of ``extract(kind="time-varying")`` beyond extract's own
TV_OPTIONS = ("loss", "x_ortho", "l1_H", "l1_W", "min_amplitude", "n_shuffles")
#: a synergy longer than this many lags is fitted on every s-th sample (an
#: envelope low-passed at 6 Hz loses nothing at 30 samples per 0.3 s synergy)
MAX_LAGS = 32


def _rate(da) -> float:
    """Samples per unit of the time coordinate (seconds, or cycles)."""
    rate = da.attrs.get("rate")
    if rate:
        return float(rate)
    t = np.asarray(da["time"].values, dtype=float)
    dt = np.diff(t)
    if t.size < 2 or not np.all(dt > 0):
        raise input_error(
            "envelope",
            "a rate (attrs['rate']) or an increasing time coordinate for "
            "kind='time-varying'",
            "neither",
            "Pass a DataArray with time in seconds.",
        )
    return 1.0 / float(np.median(dt))


def occurrences(H, *, min_amplitude=0.1, min_interval=1, half_width=1):
    """The occurrences of each synergy: peaks of its activation row.

    Parameters
    ----------
    H : ndarray (synergy, time)
        Non-negative activations of synergies with unit-norm waveforms.
    min_amplitude : float
        A peak counts when its summed activation is at least this fraction of
        the row's largest one.
    min_interval : int
        Minimum distance in samples between two peaks of one synergy.
    half_width : int
        The amplitude of a peak at ``t`` is ``H[k, t - half_width : t +
        half_width + 1]`` summed (convolutive NMF spreads an onset over a few
        neighbouring samples), not beyond the midpoints to its neighbours.

    Returns
    -------
    (synergy, onset_sample, amplitude) : three 1-D arrays, sorted by onset.

    Examples
    --------
    >>> import numpy as np
    >>> H = np.zeros((2, 30)); H[0, [5, 20]] = [1.0, 0.5]; H[1, 12] = 2.0
    >>> k, t, c = occurrences(H, min_interval=3)
    >>> k.tolist(), t.tolist(), c.tolist()
    ([0, 1, 0], [5, 12, 20], [1.0, 2.0, 0.5])
    """
    syn, on, amp = [], [], []
    for k, h in enumerate(np.asarray(H, dtype=float)):
        if not (h > 0).any():
            continue
        peaks, _ = find_peaks(np.concatenate([[0.0], h, [0.0]]), distance=min_interval)
        peaks = peaks - 1
        if peaks.size == 0:
            continue
        mids = np.concatenate([[0], (peaks[1:] + peaks[:-1] + 1) // 2, [h.size]])
        lo = np.maximum(peaks - half_width, mids[:-1])
        hi = np.minimum(peaks + half_width + 1, mids[1:])
        c = np.array([h[a:b].sum() for a, b in zip(lo, hi, strict=True)])
        keep = c >= min_amplitude * c.max()
        syn += [k] * int(keep.sum())
        on += peaks[keep].tolist()
        amp += c[keep].tolist()
    order = np.lexsort((np.asarray(syn), np.asarray(on)))
    return (
        np.asarray(syn, dtype=int)[order],
        np.asarray(on, dtype=int)[order],
        np.asarray(amp, dtype=float)[order],
    )


def aligned_cosine(a, b, max_shift=None):
    """Cosine of two (muscle × lag) waveforms at their best relative shift.

    Windows of different lengths are zero-padded at the end to the longer.
    ``b`` is slid along the lag axis (zero-padded) over ``a``; returns the
    largest cosine and the shift ``d`` at which it is reached:
    ``b[:, l] ≈ a[:, l - d]`` (``b`` starts ``d`` lags later than ``a``
    inside its window, so ``b``'s onsets are ``d`` samples earlier).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((2, 10)); a[0, 3] = a[1, 5] = 1.0
    >>> b = np.roll(a, 2, axis=1)
    >>> c, d = aligned_cosine(a, b)
    >>> round(c, 6), d
    (1.0, 2)
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    L = max(a.shape[1], b.shape[1])  # windows of different lengths: zero-padded
    a = np.pad(a, ((0, 0), (0, L - a.shape[1])))
    b = np.pad(b, ((0, 0), (0, L - b.shape[1])))
    max_shift = L - 1 if max_shift is None else int(max_shift)
    den = np.linalg.norm(a) * np.linalg.norm(b)
    best = (-np.inf, 0)
    for d in range(-max_shift, max_shift + 1):
        if d >= 0:
            num = float(np.sum(a[:, : L - d] * b[:, d:]))
        else:
            num = float(np.sum(a[:, -d:] * b[:, : L + d]))
        c = float(num / den) if den > 0 else 0.0
        if c > best[0]:
            best = (c, d)
    return best


def _check_options(options: dict) -> dict:
    unknown = sorted(set(options) - set(TV_OPTIONS))
    if unknown:
        raise input_error(
            "options of kind='time-varying'",
            f"among {', '.join(TV_OPTIONS)}",
            ", ".join(unknown),
        )
    out = {
        "loss": options.get("loss", "frobenius"),
        "x_ortho": options.get("x_ortho", 0.0),
        "l1_H": options.get("l1_H", 0.1),
        "l1_W": options.get("l1_W", 0.0),
        "min_amplitude": options.get("min_amplitude", 0.1),
        "n_shuffles": options.get("n_shuffles", 0),
    }
    from neuronmf.engine import _validation as check

    out["n_shuffles"] = check.check_int("n_shuffles", out["n_shuffles"], 0)
    if not 0 <= check.check_real("min_amplitude", out["min_amplitude"]) <= 1:
        raise input_error("min_amplitude", "a fraction in [0, 1]", out["min_amplitude"])
    return out


def _conv_fit(V, mask, rank, lags, fit_opts, n_restarts, seed):
    """Best of ``n_restarts`` convolutive fits (lowest objective)."""
    from neuronmf.engine.convolutive import conv_nmf

    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for rng in _generators(seed, n_restarts):
            res = conv_nmf(V, rank, lags, mask=mask, seed=rng, **fit_opts)
            if best is None or res.loss < best.loss:
                best = res
    return best


def _generators(seed, n):
    """``n`` independent generators from an int, None or a Generator seed."""
    if isinstance(seed, np.random.Generator):
        return [np.random.default_rng(seed.integers(2**63)) for _ in range(n)]
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def _normalised(res):
    """W with unit-norm (muscle × lag) synergies, the scale moved to H."""
    W = np.asarray(getattr(res.W, "values", res.W), dtype=float)  # (N, K, L)
    H = np.asarray(getattr(res.H, "values", res.H), dtype=float)  # (K, T)
    norms = np.sqrt((W**2).sum(axis=(0, 2)))
    norms[norms <= 0] = 1.0
    return W / norms[None, :, None], H * norms[:, None]


def _scores(V, mask, W, H):
    from neuronmf.engine.convolutive import reconstruct_conv

    Vhat = reconstruct_conv(W, H)
    return vaf_scores(V, np.eye(V.shape[0]), Vhat, mask)


def _shuffled(V, rng):
    """Each muscle circularly shifted by its own random lag."""
    n = V.shape[1]
    return np.stack([np.roll(v, int(rng.integers(0, n))) for v in V])


def time_varying(
    da,
    V,
    mask,
    *,
    rank,
    ranks,
    duration,
    criterion,
    n_restarts,
    seed,
    max_iter,
    tol,
    solver,
    vaf_threshold,
    local_vaf_threshold,
    options,
) -> xr.Dataset:
    """``extract(kind="time-varying")`` on the checked envelope ``da``
    (V = its (muscle, time) values, ``mask`` its observed entries or None)."""
    from neuronmf.engine import _validation as check

    opts = _check_options(options)
    rate = _rate(da)
    dur = check.check_real("duration", duration, 0.0, strict=True)
    lags_full = round(dur * rate)
    step = max(1, -(-lags_full // MAX_LAGS))
    lags = round(dur * rate / step)
    m, n = V.shape
    if lags < 2 or lags > (n // step) // 2:
        raise input_error(
            "duration",
            "at least 2 samples and at most half the recording",
            f"{dur:g} ({lags_full} samples at {rate:g} per unit of time)",
        )
    Vs = V[:, ::step]
    mask_s = None if mask is None else mask[:, ::step]
    # fitted on V / max(V): the penalties are relative to the data's peak (as
    # seqNMF's, whose demos use data in [0, 1]); the scale goes back into H
    top = float(np.nanmax(Vs)) if mask_s is None else float(Vs[mask_s].max())
    if top <= 0:
        raise input_error("envelope", "not all zero", "all zero")
    Vs = Vs / top
    fit_opts = {
        "loss": opts["loss"],
        "x_ortho": opts["x_ortho"],
        "l1_H": opts["l1_H"],
        "l1_W": opts["l1_W"],
        "solver": solver,
        "max_iter": max_iter,
        "tol": tol,
    }
    scan, rule, choices = {}, "given", {}
    if isinstance(rank, str):
        rank, rule, choices, scan = _scan(
            Vs, mask_s, ranks, lags, criterion, fit_opts, n_restarts, seed,
            vaf_threshold, local_vaf_threshold,
        )  # fmt: skip
    elif not 1 <= rank <= m:
        raise input_error("rank", f"an integer in [1, {m}] (muscles)", rank)
    res = scan.pop("_fits", {}).get(rank) or _conv_fit(
        Vs, mask_s, rank, lags, fit_opts, n_restarts, seed
    )
    extra = {}
    if opts["n_shuffles"]:
        null = []
        for rng in _generators(seed, opts["n_shuffles"] + 1)[1:]:
            Vn = _shuffled(np.nan_to_num(Vs), rng)
            f = _conv_fit(Vn, None, rank, lags, fit_opts, n_restarts, rng)
            null.append(_scores(Vn, None, *_normalised(f))[0])
        extra["vaf_shuffled"] = (("shuffle",), np.asarray(null))
    W, H = _normalised(res)
    Vs, H = Vs * top, H * top
    if mask_s is not None:
        warnings.warn(
            f"{int((~mask_s).sum())} missing (NaN) envelope entries were masked "
            "out of the fit and the VAF.",
            UserWarning,
            stacklevel=3,
        )
    empty = np.flatnonzero(~(H > 0).any(axis=1))
    if empty.size:
        warnings.warn(
            f"{empty.size} of {rank} time-varying synergies are empty (never "
            "active): fewer synergies, or a smaller l1_H, describe these data.",
            UserWarning,
            stacklevel=3,
        )
    params = {
        "kind": "time-varying",
        "rank": rank if rule == "given" else "auto",
        "duration": dur,
        "criterion": criterion,
        "n_restarts": n_restarts,
        "max_iter": max_iter,
        "tol": tol,
        "solver": solver,
        **opts,
    }
    return _dataset(
        da, Vs, mask_s, W, H, res, step, lags, rate, params, seed,
        (rule, choices, scan, extra),
    )  # fmt: skip


def _scan(V, mask, ranks, lags, criterion, fit_opts, restarts, seed, vt, lvt):
    if criterion not in ("vaf", "curvefit"):
        raise input_error(
            "criterion",
            "'vaf' or 'curvefit' for kind='time-varying' with rank='auto'",
            repr(criterion),
        )
    try:
        ranks = np.array(sorted({int(r) for r in ranks}), dtype=int)
    except (TypeError, ValueError):
        raise input_error("ranks", "an iterable of integers", repr(ranks)) from None
    ranks = ranks[(ranks >= 1) & (ranks <= V.shape[0])]
    if ranks.size < 2:
        raise input_error("ranks", f"at least 2 integers in [1, {V.shape[0]}]", "fewer")
    fits, vaf, r2, local = {}, [], [], []
    for r in ranks:
        fits[int(r)] = _conv_fit(V, mask, int(r), lags, fit_opts, restarts, seed)
        v, q, loc = _scores(V, mask, *_normalised(fits[int(r)]))
        vaf.append(v)
        r2.append(q)
        local.append(loc)
    vaf, r2, local = np.asarray(vaf), np.asarray(r2), np.asarray(local)
    choices = {
        "curvefit": criteria.curvefit_rank(r2, ranks),
        "vaf": criteria.vaf_rank(vaf, local, ranks, vt, lvt),
    }
    scan = {
        "scan_vaf": (("rank",), vaf),
        "scan_r2": (("rank",), r2),
        "scan_vaf_muscle": (("rank", "muscle"), local),
        "_ranks": ranks,
        "_fits": fits,
    }
    return choices[criterion], criterion, choices, scan


def _dataset(da, V, mask, W, H, res, step, lags, rate, params, seed, extras):
    rule, choices, scan, extra = extras
    ranks = scan.pop("_ranks", None)
    K = W.shape[1]
    vaf, r2, local = _scores(V, mask, W, H)
    half = max(1, lags // 10)
    k, t_on, amp = occurrences(
        H, min_amplitude=params["min_amplitude"], min_interval=max(1, lags // 2),
        half_width=half,
    )  # fmt: skip
    time = np.asarray(da["time"].values)[::step]
    muscles = [str(c) for c in da["channel"].values]
    data = {
        "synergies": (("synergy", "muscle", "lag"), W.transpose(1, 0, 2)),
        "activations": (("synergy", "time"), H),
        "onset": (("occurrence",), time[t_on] if t_on.size else np.zeros(0)),
        "onset_sample": (("occurrence",), t_on * step),
        "amplitude": (("occurrence",), amp),
        "occurrence_synergy": (("occurrence",), k),
        "vaf": ((), vaf),
        "r2": ((), r2),
        "vaf_muscle": (("muscle",), local),
        "loss_history": (("iteration",), np.asarray(res.loss_history)),
        **scan,
        **extra,
    }
    if "vaf_shuffled" in extra:
        data["vaf_excess"] = ((), vaf - float(np.mean(extra["vaf_shuffled"][1])))
    coords = {
        "synergy": np.arange(K),
        "muscle": muscles,
        "lag": np.arange(lags) * step / rate,
        "time": time,
        "occurrence": np.arange(t_on.size),
    }
    if ranks is not None:
        coords["rank"] = ranks
    source = da.attrs.get("source")
    attrs = {
        "kind": "TimeVaryingSynergySet",
        **result_attrs(
            "time_varying_synergies",
            params=params,
            seed=seed,
            loss=str(res.params.get("loss", params["loss"])),
            solver=str(res.params.get("solver", params["solver"])),
            source=source if isinstance(source, str) else None,
        ),
        "rank": K,
        "rank_rule": rule,
        "rank_choices": json.dumps(choices),
        "duration": float(params["duration"]),
        "lags": int(lags),
        "scan_step": int(step),
        "n_iter": int(res.n_iter),
        "converged": int(res.converged),
        "orientation": "envelope[:, t] = sum_lag synergies[:, :, lag].T @ "
        "activations[:, t - lag]",
    }
    for key, v in da.attrs.items():
        if isinstance(v, (str, int, float, np.integer, np.floating)):
            attrs[f"envelope_{key}"] = v.item() if isinstance(v, np.generic) else v
    return xr.Dataset(data, coords=coords, attrs=attrs)
