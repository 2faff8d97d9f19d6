"""``deconvolve``: spikes from calcium traces with OASIS (AR(1) or AR(2)).

Per trace, the noise level comes from the power spectrum at high frequencies,
the decay from the autocovariance (Yule–Walker, corrected for the noise), and
the sparsity from the noise constraint: the fitted calcium leaves a residual
whose power equals the noise's (Friedrich, Zhou & Paninski 2017). The solver is
the pool-adjacent-violators algorithm of OASIS, in Numba
(:mod:`neuronmf.imaging._oasis_kernels`), tested against an exact NNLS
reference (:mod:`neuronmf.imaging._oasis_reference`).
"""

from __future__ import annotations

import numbers

import numpy as np
import xarray as xr

from neuronmf._provenance import result_attrs
from neuronmf.engine._validation import check_int, check_real
from neuronmf.errors import input_error
from neuronmf.imaging import _oasis_kernels as _k

__all__ = ["MODELS", "NOISE_METHODS", "deconvolve", "estimate_decay", "estimate_noise"]

#: The calcium models: order of the autoregression.
MODELS = {"ar1": 1, "ar2": 2}
#: How ``deconvolve`` estimates the noise when it is not given.
NOISE_METHODS = ("psd", "innovations")
_MIN_FRAMES = 16


def _as_traces(traces) -> xr.DataArray:
    """(neuron, time) float64 DataArray; a 1-D trace is one neuron."""
    if isinstance(traces, xr.DataArray):
        da = traces
        if da.ndim == 1:
            if da.dims[0] != "time":
                da = da.rename({da.dims[0]: "time"})
            da = da.expand_dims("neuron")
        if da.ndim != 2 or "time" not in da.dims:
            raise input_error(
                "traces",
                "a 2-D DataArray with a 'time' dimension (neuron, time)",
                f"dims {da.dims}",
                "Name the frame axis 'time'.",
            )
        other = next(d for d in da.dims if d != "time")
        da = da.transpose(other, "time")
        if other != "neuron":
            da = da.rename({other: "neuron"})
    else:
        arr = np.asarray(traces)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2:
            raise input_error(
                "traces",
                "a 1-D trace or a 2-D (neuron, time) array",
                f"shape {arr.shape}",
            )
        da = xr.DataArray(arr, dims=("neuron", "time"))
    dtype = np.dtype(da.dtype)
    if not np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.complexfloating):
        raise input_error("traces", "real numbers", f"dtype {dtype}")
    n, T = da.shape
    if n < 1 or T < _MIN_FRAMES:
        raise input_error(
            "traces",
            f"at least one neuron and {_MIN_FRAMES} frames (neuron, time)",
            f"shape {da.shape}",
            "Pass (neuron, time); a (time, neuron) ndarray must be transposed.",
        )
    values = np.asarray(da.values, dtype=float)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise input_error(
            f"trace of neuron {int(np.nonzero(bad)[0][0])}",
            "finite",
            "NaN or Inf",
            f"{int(bad.sum())} trace(s) are non-finite; drop or interpolate them.",
        )
    return da.copy(data=values)


def estimate_noise(traces: np.ndarray, band: tuple[float, float] = (0.25, 0.5)):
    """Noise standard deviation of each row from its power spectrum.

    The Hann-windowed periodogram of the de-meaned trace (frame rate 1) is
    averaged over ``band`` (cycles per frame, 0.5 = Nyquist), where calcium
    transients have little power: white noise of variance σ² has
    E|X_w(f)|² = σ² Σ w² at every frequency, so σ² = mean |X_w|² / Σ w² (the
    spectral noise estimate of OASIS and CaImAn, with one window over the
    whole trace instead of Welch's segments).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> float(np.round(estimate_noise(rng.normal(0, 2.0, (1, 5000)))[0], 1))
    2.0
    """
    Y = np.atleast_2d(np.asarray(traces, float))
    T = Y.shape[1]
    w = np.hanning(T + 2)[1:-1]
    X = np.fft.rfft((Y - Y.mean(axis=1, keepdims=True)) * w, axis=1)
    f = np.fft.rfftfreq(T)
    sel = (f > band[0]) & (f <= band[1])
    return np.sqrt(np.mean(np.abs(X[:, sel]) ** 2, axis=1) / np.sum(w * w))


def _innovation_noise(Y: np.ndarray, p: int, sn: np.ndarray, G) -> np.ndarray:
    """σ from the robust scale of the AR innovations ``y_t − g1 y_{t−1} − g2 y_{t−2}``.

    The innovations are the spikes (sparse, positive outliers) plus noise of
    variance σ² (1 + g1² + g2²); their median absolute deviation ignores the
    spikes. Starts from the spectral ``sn`` and re-estimates g with each new σ
    (twice) unless ``G`` is given.
    """
    for _ in range(2):
        g = estimate_decay(Y, p, noise=sn) if G is None else G
        d = Y[:, 2:] - g[:, :1] * Y[:, 1:-1] - g[:, 1:2] * Y[:, :-2]
        mad = np.median(np.abs(d - np.median(d, axis=1, keepdims=True)), axis=1)
        sn = mad / 0.6745 / np.sqrt(1.0 + g[:, 0] ** 2 + g[:, 1] ** 2)
    return sn


def _autocovariance(Y: np.ndarray, lags: int) -> np.ndarray:
    """Biased autocovariance (neuron, lags + 1) of each row, by FFT."""
    T = Y.shape[1]
    Z = Y - Y.mean(axis=1, keepdims=True)
    n = 1 << int(np.ceil(np.log2(2 * T - 1)))
    F = np.fft.rfft(Z, n, axis=1)
    return np.fft.irfft(F * F.conj(), n, axis=1)[:, : lags + 1] / T


def estimate_decay(traces, p: int = 1, noise=None, lags: int = 10) -> np.ndarray:
    """AR(p) coefficients (neuron, 2) of each row from its autocovariance.

    Yule–Walker equations for lags 1..p + ``lags``: the trace's autocovariance
    γ equals the calcium's except at lag 0, where the noise adds σ², so
    γ(k) = Σ_j g_j (γ(|k − j|) − σ² δ_kj), solved by least squares. The
    result is made a decaying, non-oscillating response: AR(1) ``g`` in
    [0, 0.999]; AR(2) roots made real and clipped to [0, 0.999]. The second
    column is 0 for AR(1).

    Examples
    --------
    >>> from scipy.signal import lfilter
    >>> rng = np.random.default_rng(1)
    >>> s = rng.poisson(0.05, 20000).astype(float)
    >>> y = lfilter([1], [1, -0.9], s) + rng.normal(0, 0.1, 20000)
    >>> float(np.round(estimate_decay(y[None], 1)[0, 0], 1))
    0.9
    """
    Y = np.atleast_2d(np.asarray(traces, float))
    sn = estimate_noise(Y) if noise is None else np.broadcast_to(noise, Y.shape[:1])
    m = p + lags
    xc = _autocovariance(Y, m)
    k = np.arange(1, m + 1)
    A = xc[:, np.abs(k[:, None] - np.arange(1, p + 1)[None, :])]  # (n, m, p)
    A[:, np.arange(p), np.arange(p)] -= np.asarray(sn, float)[:, None] ** 2
    AtA = np.einsum("nmi,nmj->nij", A, A)
    Atb = np.einsum("nmi,nm->ni", A, xc[:, 1 : m + 1])
    ok = np.abs(np.linalg.det(AtA)) > 1e-300
    g = np.zeros((Y.shape[0], p))
    g[ok] = np.linalg.solve(AtA[ok], Atb[ok][..., None])[..., 0]
    return np.stack([_stable(gi) for gi in g]) if len(g) else np.zeros((0, 2))


def _stable(g: np.ndarray) -> np.ndarray:
    """(g1, g2) of a decaying, non-oscillating response from raw coefficients."""
    if len(g) == 1 or not np.all(np.isfinite(g)):
        return np.array([float(np.clip(np.nan_to_num(g[0]), 0.0, 0.999)), 0.0])
    roots = np.roots([1.0, -g[0], -g[1]])
    if np.iscomplexobj(roots) and np.any(np.abs(roots.imag) > 0):
        roots = np.abs(roots)  # damped oscillation: the envelope's rate, twice
    d, r = np.clip(np.sort(np.real(roots))[::-1], 0.0, 0.999)
    return np.array([d + r, -d * r])


def _check_g(g, n: int, p: int) -> np.ndarray | None:
    """(neuron, 2) AR coefficients from ``g`` (None: estimated)."""
    if g is None:
        return None
    arr = np.asarray(g, dtype=float) if not isinstance(g, str) else None
    shapes = {(2,), (n, 2)} if p == 2 else {(), (1,), (n,), (n, 1)}
    if arr is None or arr.shape not in shapes or not np.isfinite(arr).all():
        expect = (
            "a pair (g1, g2) or an (n_neurons, 2) array"
            if p == 2
            else ("a number in [0, 1) or one per neuron")
        )
        raise input_error("g", expect, repr(g))
    if p == 1:
        G = np.zeros((n, 2))
        G[:, 0] = np.broadcast_to(arr.reshape(-1), (n,))
    else:
        G = np.broadcast_to(arr.reshape(-1, 2), (n, 2)).copy()
    for g1, g2 in G:
        roots = np.roots([1.0, -g1, -g2]) if g2 else np.array([g1])
        if not (np.all(np.abs(roots) < 1) and np.all(np.real(roots) >= 0)):
            raise input_error(
                "g",
                "AR coefficients of a decaying response (roots in [0, 1))",
                f"({g1:g}, {g2:g})",
                "For a decay time tau (s) at rate fs (Hz), g = exp(-1 / (tau fs)).",
            )
    return G


def _per_neuron(name: str, value, n: int, low: float) -> np.ndarray:
    if isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
        return np.full(n, check_real(name, value, low))
    arr = np.asarray(value, dtype=float) if not isinstance(value, str) else None
    if (
        arr is None
        or arr.shape != (n,)
        or not np.isfinite(arr).all()
        or (arr < low).any()
    ):
        raise input_error(name, f"a number ≥ {low:g} or one per neuron", repr(value))
    return arr


def _check_options(model, sparsity, s_min, baseline, noise, max_iter, n: int):
    if model not in MODELS:
        raise input_error("model", " or ".join(repr(m) for m in MODELS), repr(model))
    auto = isinstance(sparsity, str) and sparsity == "auto"
    lam = np.zeros(n) if auto else _per_neuron("sparsity", sparsity, n, 0.0)
    smin = _per_neuron("s_min", s_min, n, 0.0)
    fit_b = isinstance(baseline, str) and baseline == "auto"
    b = None if fit_b else _per_neuron("baseline", baseline, n, -np.inf)
    if noise is None or (isinstance(noise, str) and noise in NOISE_METHODS):
        sn = None
    elif isinstance(noise, str):
        raise input_error(
            "noise", "'psd', 'innovations', a positive number or one per neuron", noise
        )
    else:
        sn = _per_neuron("noise", noise, n, 0.0)
        if (sn <= 0).any():
            raise input_error("noise", "positive", repr(noise))
    return auto, lam, smin, fit_b, b, sn, check_int("max_iter", max_iter, 1)


def deconvolve(
    traces,
    *,
    model: str = "ar1",
    g=None,
    sparsity: float | str = "auto",
    s_min: float = 0.0,
    baseline: float | str = "auto",
    noise=None,
    max_iter: int = 50,
) -> xr.Dataset:
    """Denoised calcium and spikes of each trace with OASIS (AR(1) or AR(2)).

    Each trace ``y = b + c + noise`` is fitted with calcium ``c`` driven by
    non-negative spikes ``s_t = c_t − g1 c_{t−1} − g2 c_{t−2}``, minimising
    ``½‖y − b − c‖² + λ Σ s`` (the pool-adjacent-violators algorithm of
    Friedrich, Zhou & Paninski 2017; exact for AR(1), the paper's greedy
    variant for AR(2)). Everything is estimated per trace unless given.

    Parameters
    ----------
    traces : DataArray or array (neuron, time)
        Fluorescence or ΔF/F traces (a DataArray may be (time, neuron): it is
        transposed by its ``time`` dimension; a 1-D array is one trace).
        At least 16 frames, finite.
    model : {"ar1", "ar2"}
        Calcium dynamics: instantaneous rise and exponential decay (AR(1)), or
        with a rise time (AR(2)).
    g : float, pair, or array (neuron,) / (neuron, 2), optional
        AR coefficients (AR(1): the per-frame decay ``exp(−1/(τ·rate))``).
        Default: estimated from each trace's autocovariance
        (:func:`estimate_decay`).
    sparsity : "auto" or float ≥ 0
        λ. ``"auto"``: chosen per trace so that the residual's power equals
        the noise's, ``‖y − b − c‖² = σ² T`` (the noise-constrained problem);
        a number (or one per neuron) fixes it.
    s_min : float ≥ 0
        Smallest spike: a pool whose start would be a spike below ``s_min`` is
        merged with the one before (0: any positive spike).
    baseline : "auto" or float
        ``b``: fitted jointly with λ (``"auto"``) or fixed.
    noise : "psd", "innovations", float or array (neuron,), optional
        Noise σ, or how to estimate it: ``"psd"`` (default, as OASIS and
        CaImAn: :func:`estimate_noise`, the windowed power spectrum above a
        quarter of the frame rate) or ``"innovations"`` (the median absolute
        deviation of ``y_t − g1 y_{t−1} − g2 y_{t−2}``, where spikes are
        sparse outliers). The spectrum includes some power of the spike
        jumps: on high-SNR traces it overestimates σ (0.09 for a true 0.02
        on simulate_movie's calcium), the innovations do not (0.021);
        see docs/imaging.md.
    max_iter : int
        Passes of the λ/baseline update (usually under 10).

    Returns
    -------
    xarray.Dataset
        ``denoised`` (neuron, time): calcium ``c`` (without ``b``);
        ``spikes`` (neuron, time): ``s`` ≥ 0, in the trace's units; per neuron
        ``baseline``, ``g`` (neuron, lag), ``noise``, ``lambda`` and
        ``iterations``. ``attrs``: :func:`~neuronmf._provenance.result_attrs`
        (``neuronmf_kind="deconvolution"``).

    Examples
    --------
    >>> from scipy.signal import lfilter
    >>> rng = np.random.default_rng(0)
    >>> s = (rng.random((3, 1000)) < 0.03).astype(float)
    >>> y = lfilter([1], [1, -0.9], s, axis=1) + rng.normal(0, 0.1, (3, 1000))
    >>> res = deconvolve(y)
    >>> res["spikes"].dims, res["g"].shape
    (('neuron', 'time'), (3, 1))
    >>> bool(np.corrcoef(res["spikes"][0], s[0])[0, 1] > 0.8)
    True
    """
    da = _as_traces(traces)
    Y = np.ascontiguousarray(da.values)
    n = Y.shape[0]
    auto, lam, smin, fit_b, b, sn, max_iter = _check_options(
        model, sparsity, s_min, baseline, noise, max_iter, n
    )
    p = MODELS[model]
    G = _check_g(g, n, p)
    if sn is None:
        sn = estimate_noise(Y)
        if noise == "innovations":
            sn = _innovation_noise(Y, p, sn, G)
    sn = np.maximum(sn, 1e-12 * (np.abs(Y).max(axis=1) + 1e-300))
    if G is None:
        G = estimate_decay(Y, p, noise=sn)
    b0 = np.percentile(Y, 15, axis=1) if fit_b else b
    C = np.empty_like(Y)
    S = np.empty_like(Y)
    out = np.empty((n, 3))
    _k.deconvolve_batch(
        Y, np.ascontiguousarray(G), sn, b0, lam, smin, auto, fit_b, max_iter, C, S, out
    )
    params = {
        "model": model,
        "g": "estimated" if g is None else np.asarray(g, float),
        "sparsity": sparsity,
        "s_min": s_min,
        "baseline": baseline,
        "noise": "psd" if noise is None else noise,
        "max_iter": max_iter,
    }
    attrs = result_attrs(
        "deconvolution", params=params, seed=None, source=da.attrs.get("source")
    )
    attrs["method"] = "OASIS (Friedrich, Zhou & Paninski 2017), " + (
        "noise-constrained λ" if auto else "fixed λ"
    )
    coords = {k: v for k, v in da.coords.items() if set(v.dims) <= set(da.dims)}
    coords["lag"] = np.arange(1, p + 1)
    return xr.Dataset(
        {
            "denoised": (("neuron", "time"), C),
            "spikes": (("neuron", "time"), S),
            "baseline": ("neuron", out[:, 1]),
            "g": (("neuron", "lag"), G[:, :p]),
            "noise": ("neuron", sn),
            "lambda": ("neuron", out[:, 0]),
            "iterations": ("neuron", out[:, 2].astype(np.int64)),
        },
        coords=coords,
        attrs=attrs,
    )
