"""What the activity is (counts, fluorescence, dF/F, deconvolved) and what to factorise.

``detect`` factorises counts and deconvolved activity as given (KL), dF/F clipped
at 0 and raw fluorescence converted to dF/F (Frobenius); the kind is the one the
loader recorded, or a conservative guess that warns.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from neuronmf.errors import input_error

KINDS = ("counts", "fluorescence", "dff", "deconvolved")


def _infer_kind(A: xr.DataArray) -> tuple[str, str]:
    """The activity kind recorded by the loader, or a conservative guess.

    Returns ``(kind, source)`` where source says how the kind was decided.
    """
    recorded = A.attrs.get("activity_kind")
    if recorded in KINDS:
        return str(recorded), "recorded by the loader"
    if A.attrs.get("units") in ("spikes", "spikes per bin"):
        return "counts", "recorded by the loader (units: spikes)"
    X = A.values
    finite = X[np.isfinite(X)]
    if finite.size and np.all(finite == np.round(finite)) and finite.min() >= 0:
        return "counts", "inferred: values are non-negative integers"
    if finite.size and finite.min() > 0:
        p8 = np.percentile(X, 8, axis=0)
        sd = X.std(axis=0)
        ratio = float(np.median(p8 / np.where(sd > 0, sd, np.inf)))
        if ratio >= 2.5:
            return "fluorescence", (
                "inferred: strictly positive with a large per-neuron baseline "
                f"(median 8th percentile / SD = {ratio:.3g} >= 2.5)"
            )
    if finite.size and finite.min() < 0:
        raise input_error(
            "activity",
            "non-negative (counts, raw fluorescence or deconvolved activity)",
            f"min {finite.min():.3g}",
            "For dF/F traces pass kind='dff' (values below 0 are clipped at 0).",
        )
    return "deconvolved", (
        "inferred: non-negative, non-integer, no large baseline; used as given "
        "(deconvolved activity or rates)"
    )


def _bin_seconds(A: xr.DataArray) -> float | None:
    rate = A.attrs.get("rate")
    if isinstance(rate, (int, float)) and np.isfinite(rate) and rate > 0:
        return 1.0 / float(rate)
    bw = A.attrs.get("bin_width")
    if isinstance(bw, (int, float)) and np.isfinite(bw) and bw > 0:
        return float(bw)
    t = np.asarray(A["time"].values)
    if np.issubdtype(t.dtype, np.floating) and t.size > 1:
        dt = np.diff(t)
        if np.all(dt > 0):
            return float(np.median(dt))
    return None


def _delta_f_over_f(
    F: np.ndarray, dt: float | None, percentile: float, window: float
) -> tuple[np.ndarray, str]:
    """ΔF/F = (F − F0)/F0, clipped at 0, with F0 a low per-neuron percentile."""
    from scipy.ndimage import percentile_filter

    n_t = F.shape[0]
    w = None if dt is None else round(window / dt)
    if w is not None and n_t >= 2 * w and w >= 3:
        F0 = percentile_filter(F, percentile, size=(w, 1), mode="nearest")
        how = (
            f"running {percentile:g}th percentile over {window:g} s ({w} bins) "
            "per neuron"
        )
    else:
        F0 = np.broadcast_to(np.percentile(F, percentile, axis=0), F.shape)
        why = (
            "no time step known"
            if w is None
            else f"recording shorter than 2 x {window:g} s"
        )
        how = f"{percentile:g}th percentile of the whole recording per neuron ({why})"
    bad = np.flatnonzero(F0.min(axis=0) <= 0)
    if bad.size:
        raise input_error(
            "fluorescence baseline (low percentile per neuron)",
            "positive for ΔF/F",
            f"<= 0 for {bad.size} neuron(s), e.g. index {bad[:5].tolist()}",
            "The traces look background-subtracted or already normalised: pass "
            "kind='dff' (baseline already removed) or kind='deconvolved'.",
        )
    dff = np.maximum((F - F0) / F0, 0.0)
    return dff, f"dF/F = (F - F0)/F0 clipped at 0, F0 = {how}"


def _prepare(A, kind, baseline_percentile, baseline_window, caller="assemblies.detect"):
    """Resolve the kind, check the values, and return the matrix to factorise.

    ``caller`` names the public function in the warnings.
    """
    X = A.values
    if not np.all(np.isfinite(X)):
        raise input_error("activity", "finite (no NaN or Inf)", "non-finite values")
    if kind == "auto":
        kind, source = _infer_kind(A)
        if not source.startswith("recorded"):
            warnings.warn(
                f"{caller}: activity kind {source} -> {kind!r}. Pass "
                "kind='counts', 'fluorescence', 'dff' or 'deconvolved' to say so.",
                UserWarning,
                stacklevel=3,
            )
    else:
        source = "given"
        recorded = A.attrs.get("activity_kind")
        if recorded in KINDS and recorded != kind:
            warnings.warn(
                f"{caller}: kind={kind!r} overrides the file's {recorded!r}.",
                UserWarning,
                stacklevel=3,
            )
    if kind == "dff":
        return np.maximum(X, 0.0), kind, source, "dF/F as given, clipped at 0"
    if kind == "fluorescence":
        if np.any(X <= 0):
            raise input_error(
                "fluorescence",
                "strictly positive (raw F, for a ΔF/F baseline)",
                f"min {X.min():.3g}",
                "Pass kind='dff' for baseline-subtracted traces.",
            )
        Y, how = _delta_f_over_f(
            X, _bin_seconds(A), baseline_percentile, baseline_window
        )
        return Y, kind, source, how
    if np.any(X < 0):
        raise input_error(
            "activity",
            f"non-negative for kind={kind!r} (counts or rates)",
            f"min {X.min():.3g}",
            "Pass kind='dff' for dF/F traces with negative values.",
        )
    return X, kind, source, "used as given"
