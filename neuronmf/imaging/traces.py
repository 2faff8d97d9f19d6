"""``traces``: neuropil-corrected fluorescence, ΔF/F and spikes of a segmentation.

The step after :func:`~neuronmf.imaging.segment`: it reads the movie once more
and adds to the segmentation, per neuron, the raw fluorescence of its own
pixels, the neuropil of an annulus around it (excluding every cell), the
corrected fluorescence ``F − α·N``, ΔF/F over a running-percentile baseline and
the OASIS spikes and denoised calcium of that ΔF/F
(:func:`~neuronmf.imaging.deconvolve`). ``segment``'s own output is unchanged:
the traces are a separate step because they need the movie a second time and
parameters of their own (:class:`TraceParameters`), and because a user may
bring footprints from elsewhere.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from neuronmf._provenance import jsonable
from neuronmf.engine._validation import check_bool
from neuronmf.errors import input_error
from neuronmf.imaging import _neuropil as _np
from neuronmf.imaging._parameters import _field, _int, _real
from neuronmf.imaging.deconvolve import MODELS, deconvolve
from neuronmf.imaging.segment import _as_movie

__all__ = ["NEUROPIL", "TraceParameters", "traces"]

#: How the neuropil coefficient α is set (``traces``'s ``neuropil``).
NEUROPIL = ("fixed", "estimate", "none")


def _positive(name: str, value: Any) -> float:
    x = _real(0.0)(name, value)
    if x <= 0:
        raise input_error(name, "a positive number", repr(value))
    return x


@dataclass(frozen=True, kw_only=True)
class TraceParameters:
    """Every tuning parameter of :func:`~neuronmf.imaging.traces`, checked when built.

    Attributes
    ----------
    inner_gap : float
        Pixels (distance from the cell's mask) left out between a cell and its
        neuropil annulus, ≥ 0 (2, as suite2p).
    outer_radius : float
        Outer edge of the annulus, in pixels from the cell's mask, > 0
        (default ``inner_gap + 2 × neuron_radius``).
    min_neuropil_pixels : int
        The annulus grows (outer radius × 1.5, three times at most) until it
        has this many pixels outside every cell (50).
    neuropil_coefficient : float
        α of ``F − α·N`` with ``neuropil="fixed"``, in [0, 2] (0.7, as suite2p).
    footprint_threshold : float
        A cell's pixels are its footprint ≥ this × its peak, in (0, 1] (0.2);
        they define its own pixels and what every annulus excludes.
    dff_window : float
        Seconds of the running baseline window, > 0 (60).
    dff_percentile : float
        Percentile of the running baseline, in [0, 100] (8).

    Examples
    --------
    >>> TraceParameters.from_radius(5.0).outer_radius
    12.0
    >>> TraceParameters.from_radius(5.0, dff_window=30.0).dff_window
    30.0
    """

    inner_gap: float = _field(_real(0.0), 2.0)
    outer_radius: float = _field(_positive)
    min_neuropil_pixels: int = _field(_int(1), 50)
    neuropil_coefficient: float = _field(_real(0.0, 2.0), 0.7)
    footprint_threshold: float = _field(_real(0.0, 1.0), 0.2)
    dff_window: float = _field(_positive, 60.0)
    dff_percentile: float = _field(_real(0.0, 100.0), 8.0)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(
                self, f.name, f.metadata["check"](f.name, getattr(self, f.name))
            )
        if self.footprint_threshold <= 0:
            raise input_error("footprint_threshold", "in (0, 1]", 0.0)

    @classmethod
    def names(cls) -> list[str]:
        """The field names, sorted (the keywords ``traces`` accepts for them)."""
        return sorted(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_radius(cls, neuron_radius: float, **overrides: Any) -> TraceParameters:
        """The defaults for ``neuron_radius`` (pixels), with ``overrides`` applied."""
        _refuse_unknown(overrides, cls.names())
        gap = overrides.get("inner_gap", 2.0)
        values = {"outer_radius": float(gap) + 2.0 * float(neuron_radius)}
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> TraceParameters:
        """A copy with ``changes`` applied (and checked); unknown keywords refused."""
        _refuse_unknown(changes, self.names())
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, int | float]:
        """The fields as a plain dict."""
        return dataclasses.asdict(self)


def _refuse_unknown(given: dict, names: list[str]) -> None:
    unknown = set(given) - set(names)
    if unknown:
        raise input_error(
            "options",
            f"among {names}",
            sorted(unknown),
            "Pass only fields of TraceParameters as keywords.",
        )


def _check_seg(seg) -> np.ndarray:
    if not isinstance(seg, xr.Dataset) or "footprints" not in seg:
        raise input_error(
            "seg",
            "a segmentation Dataset with 'footprints' (neuron, y, x)",
            type(seg).__name__,
            "Pass the result of neuronmf.imaging.segment.",
        )
    fp = seg["footprints"]
    if fp.ndim != 3 or fp.dims[0] != "neuron":
        raise input_error("seg['footprints']", "(neuron, y, x)", f"dims {fp.dims}")
    A = np.asarray(fp.values)  # as stored (float32 from segment): no float64 copy
    if A.dtype == bool:  # masks given as footprints: uniform weights
        A = A.astype(np.float32)
    what = "seg['footprints']"
    if not np.issubdtype(A.dtype, np.number):
        raise input_error(what, "numbers (or boolean masks)", f"dtype {A.dtype}")
    if not np.isfinite(A).all():
        raise input_error(what, "finite", "NaN or Inf")
    if (A < 0).any():
        raise input_error(what, "non-negative", f"minimum {float(A.min()):g}")
    return A


def _rate(rate, mov: xr.DataArray, seg: xr.Dataset) -> float:
    """Frame rate: given, else the movie's ``rate``, else the time coordinates."""
    if rate is not None:
        r = _real(0.0)("rate", rate)
        if r <= 0:
            raise input_error("rate", "a positive number in Hz", repr(rate))
        return r
    if "rate" in mov.attrs:
        return float(mov.attrs["rate"])
    for source in (mov, seg):
        t = source.coords.get("time")
        if t is not None and np.issubdtype(t.dtype, np.floating) and t.size > 2:
            dt = np.diff(np.asarray(t.values, float))
            if np.all(dt > 0) and np.allclose(dt, dt[0], rtol=1e-3):
                return 1.0 / float(dt[0])
    raise input_error(
        "rate",
        "given (the movie has no 'rate' attribute and no time in seconds)",
        "None",
        "Pass traces(seg, movie, rate=<frames per second>).",
    )


def _check_call(neuropil, model, spikes, progress) -> None:
    if neuropil not in NEUROPIL:
        raise input_error("neuropil", "'fixed', 'estimate' or 'none'", repr(neuropil))
    if model not in MODELS:
        raise input_error("model", " or ".join(map(repr, MODELS)), repr(model))
    check_bool("spikes", spikes)
    check_bool("progress", progress)


def _parameters(parameters, seg, options) -> TraceParameters:
    if parameters is not None and not isinstance(parameters, TraceParameters):
        raise input_error("parameters", "a TraceParameters or None", repr(parameters))
    if parameters is None:
        r = float(seg.attrs.get("neuron_radius", 5.0))
        return TraceParameters.from_radius(r, **options)
    return parameters.replace(**options)


def _dff(Fc: np.ndarray, window: int, percentile: float):
    """ΔF/F over the running baseline; NaN (with a warning) where F0 ≤ 0."""
    F0 = _np.running_baseline(Fc, window, percentile)
    scale = np.abs(Fc).max(axis=1, keepdims=True) + 1e-300
    bad = (F0 <= 1e-6 * scale).any(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        dff = (Fc - F0) / F0
    dff[bad] = np.nan
    if bad.any():
        warnings.warn(
            f"{int(bad.sum())} neuron(s) {np.nonzero(bad)[0][:10].tolist()} have a "
            "baseline F0 ≤ 0 after the neuropil subtraction: their ΔF/F (and "
            "spikes) are NaN. Lower neuropil_coefficient or use neuropil="
            "'estimate'.",
            stacklevel=3,
        )
    return dff, F0, bad


def traces(
    seg: xr.Dataset,
    movie,
    *,
    neuropil: str = "fixed",
    rate: float | None = None,
    spikes: bool = True,
    model: str = "ar1",
    progress: bool = False,
    parameters: TraceParameters | None = None,
    **options,
) -> xr.Dataset:
    """Neuropil-corrected fluorescence, ΔF/F and spikes added to a segmentation.

    1. Each neuron's raw fluorescence ``F`` is the footprint-weighted mean of
       its own pixels (footprint ≥ ``footprint_threshold`` × peak, without the
       pixels it shares with another cell); its neuropil ``N`` is the mean of
       an annulus from ``inner_gap`` to ``outer_radius`` px around its mask,
       without any cell's pixels. One pass over the movie, a chunk of frames
       at a time.
    2. ``F_c = F − α·N``: α = ``neuropil_coefficient`` (``"fixed"``, 0.7 as
       suite2p), a robust Huber regression slope of F on N clipped to [0, 1]
       (``"estimate"``), or 0 (``"none"``).
    3. ``dff = (F_c − F0) / F0``, F0 the running ``dff_percentile``-th
       percentile over ``dff_window`` seconds. A neuron whose F0 is ≤ 0 gets
       NaN (and a warning), never a made-up ratio.
    4. With ``spikes=True``, :func:`~neuronmf.imaging.deconvolve` (OASIS,
       ``model``) on ``dff``: ``spikes``, ``denoised`` and the per-neuron
       ``spike_*`` estimates.

    Parameters
    ----------
    seg : xarray.Dataset
        A segmentation (:func:`~neuronmf.imaging.segment`) with
        ``footprints`` (neuron, y, x).
    movie : DataArray (time, y, x) or array
        The movie it was found in (in memory or lazy), same field of view.
    neuropil : {"fixed", "estimate", "none"}
        How α is set (step 2).
    rate : float, optional
        Frame rate in Hz (default: the movie's ``rate`` attribute or its time
        coordinate in seconds).
    spikes : bool
        Deconvolve ΔF/F (step 4).
    model : {"ar1", "ar2"}
        The calcium model of the deconvolution.
    progress : bool
        A progress bar over the movie's chunks.
    parameters : TraceParameters, optional
        Every tuning parameter (default: :meth:`TraceParameters.from_radius`
        with the segmentation's ``neuron_radius``); keywords in ``options``
        override its fields.

    Returns
    -------
    xarray.Dataset
        ``seg`` (not modified) with ``fluorescence`` (F_c), ``raw_fluorescence``
        (F), ``neuropil`` (N), ``dff`` (replacing segment's ratio of NMF
        traces), per neuron ``neuropil_coefficient``, ``neuropil_pixels`` and
        ``dff_valid``; with ``spikes``: ``spikes``, ``denoised``,
        ``spike_baseline``, ``spike_g1``, ``spike_g2``, ``spike_noise``,
        ``spike_lambda``. ``attrs`` gain ``traces_params`` (JSON).

    Examples
    --------
    >>> from neuronmf.datasets import simulate_movie
    >>> from neuronmf.imaging import segment
    >>> sim = simulate_movie((48, 48), 300, 6, 4.0, seed=1)
    >>> seg = segment(sim.data, neuron_radius=4.0)
    >>> out = traces(seg, sim.data)
    >>> out["spikes"].dims, bool(out["neuropil_coefficient"][0] == 0.7)
    (('neuron', 'time'), True)
    """
    _check_call(neuropil, model, spikes, progress)
    A = _check_seg(seg)
    mov = _as_movie(movie)
    p = _parameters(parameters, seg, options)
    T = mov.shape[0]
    if mov.shape[1:] != A.shape[1:]:
        raise input_error(
            "movie",
            f"frames of the segmentation's field of view {A.shape[1:]}",
            f"frames of {mov.shape[1:]}",
            "Pass the movie the segmentation was found in.",
        )
    if "time" in seg.dims and seg.sizes["time"] != T:
        raise input_error(
            "movie", f"{seg.sizes['time']} frames (as the segmentation)", f"{T} frames"
        )
    if T < 16:
        raise input_error("movie", "at least 16 frames", f"{T} frames")
    fs = _rate(rate, mov, seg)
    if len(A) == 0:  # nothing found (e.g. null data): every variable, empty
        variables = _empty_traces(T, spikes, model)
    else:
        variables = _trace_variables(A, mov, p, neuropil, fs, spikes, model, progress)
    out = seg.copy()
    for name, value in variables.items():
        out[name] = value
    call = {"neuropil": neuropil, "rate": fs, "spikes": spikes, "model": model}
    out.attrs = dict(seg.attrs)
    out.attrs["traces_params"] = json.dumps(
        jsonable({**call, **p.as_dict()}), sort_keys=True
    )
    return out


def _empty_traces(T: int, spikes: bool, model: str) -> dict:
    """The variables of :func:`traces` for a segmentation with no neuron."""
    series = ("fluorescence", "raw_fluorescence", "neuropil", "dff")
    variables = {k: (("neuron", "time"), np.zeros((0, T))) for k in series}
    variables["neuropil_coefficient"] = ("neuron", np.zeros(0))
    variables["neuropil_pixels"] = ("neuron", np.zeros(0, int))
    variables["dff_valid"] = ("neuron", np.zeros(0, bool))
    if spikes:
        variables.update(_spikes(np.zeros((0, T)), np.zeros(0, bool), model))
    return variables


def _trace_variables(A, mov, p, neuropil, fs, spikes, model, progress) -> dict:
    """Fluorescence, neuropil, ΔF/F (and spikes) of the footprints ``A``."""
    masks = _np.cell_masks(A, p.footprint_threshold)
    Wc = _np.cell_weights(A, masks)
    Wn, counts, _ = _np.annulus_weights(
        masks, p.inner_gap, p.outer_radius, p.min_neuropil_pixels
    )
    F, N = _np.extract(mov.data, [Wc, Wn], progress)
    if neuropil == "estimate":
        alpha = _np.estimate_coefficient(F, N)
    else:
        alpha = np.full(len(A), p.neuropil_coefficient if neuropil == "fixed" else 0.0)
    Fc = F - alpha[:, None] * N
    window = round(p.dff_window * fs)
    dff, _, bad = _dff(Fc, window, p.dff_percentile)
    variables = {
        "fluorescence": (("neuron", "time"), Fc),
        "raw_fluorescence": (("neuron", "time"), F),
        "neuropil": (("neuron", "time"), N),
        "dff": (("neuron", "time"), dff),
        "neuropil_coefficient": ("neuron", alpha),
        "neuropil_pixels": ("neuron", counts),
        "dff_valid": ("neuron", ~bad),
    }
    if spikes:
        variables.update(_spikes(dff, ~bad, model))
    return variables


def _spikes(dff: np.ndarray, ok: np.ndarray, model: str) -> dict:
    """OASIS on the rows of ``dff`` with a defined ΔF/F (NaN elsewhere)."""
    n, T = dff.shape
    S = np.full((n, T), np.nan)
    C = np.full((n, T), np.nan)
    per = {k: np.full(n, np.nan) for k in ("baseline", "g1", "g2", "noise", "lambda")}
    if ok.any():
        res = deconvolve(dff[ok], model=model)
        S[ok], C[ok] = res["spikes"].values, res["denoised"].values
        g = res["g"].values
        per["g1"][ok] = g[:, 0]
        per["g2"][ok] = g[:, 1] if g.shape[1] > 1 else 0.0
        for k in ("baseline", "noise", "lambda"):
            per[k][ok] = res[k].values
    out = {
        "spikes": (("neuron", "time"), S),
        "denoised": (("neuron", "time"), C),
    }
    out.update({f"spike_{k}": ("neuron", v) for k, v in per.items()})
    return out
