"""Input checks of :func:`~neuronmf.imaging.match_sessions`.

Every session's footprints (and mean image) are read and checked, and every
option refused with a specific :class:`~neuronmf.errors.InputError`, before
any work.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import xarray as xr

from neuronmf.errors import input_error
from neuronmf.imaging import _sessions_model as _model

METHODS = ("auto", "reference", "cluster")
REGISTER_ON = ("auto", "mean_image", "footprints", "none")


def _footprints_of(item, k: int):
    """The (neuron, y, x) footprints and the mean image (or None) of session ``k``."""
    mean = None
    if isinstance(item, xr.Dataset):
        if "footprints" not in item:
            raise input_error(
                f"sessions[{k}]",
                "a segmentation Dataset with a 'footprints' (neuron, y, x) variable",
                f"a Dataset with variables {sorted(map(str, item.data_vars))}",
                "Pass the result of neuronmf.imaging.segment or a footprints array.",
            )
        if "mean_image" in item:
            mean = np.asarray(item["mean_image"].values, dtype=float)
        item = item["footprints"]
    if isinstance(item, xr.DataArray):
        item = item.data
    if not hasattr(item, "ndim") or not hasattr(item, "shape"):
        try:
            item = np.asarray(item, dtype=float)
        except (TypeError, ValueError):
            raise input_error(
                f"sessions[{k}]",
                "a segmentation Dataset or a (neuron, y, x) footprints array",
                type(item).__name__,
            ) from None
    if item.ndim != 3:
        raise input_error(
            f"sessions[{k}] footprints",
            "a 3-D (neuron, y, x) array",
            f"shape {tuple(item.shape)}",
            "A single neuron's footprint needs a leading axis of length 1.",
        )
    dtype = np.dtype(item.dtype)
    if not (np.issubdtype(dtype, np.number) or dtype.kind == "b") or np.issubdtype(
        dtype, np.complexfloating
    ):
        raise input_error(f"sessions[{k}] footprints", "real numbers", f"dtype {dtype}")
    if not hasattr(item, "dask"):
        arr = np.asarray(item)
        if not np.isfinite(arr).all() or (arr < 0).any():
            raise input_error(
                f"sessions[{k}] footprints",
                "finite and non-negative",
                "NaN, Inf or negative values",
            )
    return item, mean


def _positive(name: str, value, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if (
        isinstance(value, bool | np.bool_)
        or not isinstance(value, numbers.Real)
        or not np.isfinite(value)
        or value <= 0
    ):
        expect = "a positive number" + (" or None" if optional else "")
        raise input_error(name, expect, repr(value))


def _check_options(n: int, options: dict) -> None:
    """The options of a call (``n`` sessions), refused before any work."""
    reference = options["reference"]
    if isinstance(reference, bool) or not isinstance(reference, numbers.Integral):
        raise input_error("reference", "an integer session index", repr(reference))
    if not 0 <= reference < n:
        raise input_error("reference", f"a session index in [0, {n - 1}]", reference)
    threshold = options["threshold"]
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not 0 < threshold < 1
    ):
        raise input_error("threshold", "a probability in (0, 1)", repr(threshold))
    for name in ("neuron_radius", "max_distance", "max_shift"):
        _positive(name, options[name])
    _positive(
        "min_registration_strength",
        options["min_registration_strength"],
        optional=False,
    )
    if options["method"] not in METHODS:
        raise input_error(
            "method", " or ".join(map(repr, METHODS)), repr(options["method"])
        )
    if options["model"] not in _model.MODELS:
        raise input_error(
            "model", " or ".join(map(repr, _model.MODELS)), repr(options["model"])
        )
    if not isinstance(options["nonrigid"], bool | np.bool_):
        raise input_error("nonrigid", "True or False", repr(options["nonrigid"]))


def _inputs(sessions, mean_images, register_on):
    """Footprints and registration images of every session, shapes checked."""
    if isinstance(sessions, xr.Dataset | np.ndarray) or not isinstance(
        sessions, Sequence
    ):
        raise input_error(
            "sessions",
            "a list of segmentations (or footprints arrays), one per session",
            type(sessions).__name__,
        )
    if len(sessions) < 2:
        raise input_error(
            "sessions", "at least 2 sessions", f"{len(sessions)}", "Pass a list."
        )
    parsed = [_footprints_of(item, k) for k, item in enumerate(sessions)]
    foot = [f for f, _ in parsed]
    shape = tuple(foot[0].shape[1:])
    for k, f in enumerate(foot):
        if tuple(f.shape[1:]) != shape:
            raise input_error(
                f"sessions[{k}] footprints",
                f"of the reference field of view {shape} (y, x) like sessions[0]",
                f"{tuple(f.shape[1:])}",
                "Crop or pad the sessions to one field of view first.",
            )
    means = [m for _, m in parsed]
    if mean_images is not None:
        if len(mean_images) != len(foot):
            raise input_error(
                "mean_images",
                f"one image per session ({len(foot)})",
                f"{len(mean_images)} images",
            )
        means = [np.asarray(m, dtype=float) for m in mean_images]
    for k, m in enumerate(means):
        if m is not None and (m.shape != shape or not np.isfinite(m).all()):
            raise input_error(
                f"mean image of session {k}",
                f"a finite {shape} (y, x) image matching the footprints",
                f"shape {m.shape}",
            )
    if register_on not in REGISTER_ON:
        raise input_error(
            "register_on", " or ".join(map(repr, REGISTER_ON)), repr(register_on)
        )
    have = all(m is not None for m in means)
    if register_on == "mean_image" and not have:
        raise input_error(
            "register_on",
            "'footprints' or 'auto' when a session has no mean image",
            "'mean_image'",
            "Pass mean_images=[...] (e.g. movie.mean('time') per session).",
        )
    if register_on == "auto":
        register_on = "mean_image" if have else "footprints"
    return foot, means, register_on


def _radius(footprints) -> float:
    """Typical soma radius: sqrt(median area above 20 % of the peak / π)."""
    areas = []
    for f in footprints:
        for i in range(min(f.shape[0], 200)):
            a = np.asarray(f[i], dtype=float)
            top = a.max()
            if top > 0:
                areas.append(int((a >= 0.2 * top).sum()))
    if not areas:
        raise input_error(
            "sessions", "at least one non-empty footprint", "all footprints empty"
        )
    return float(max(np.sqrt(np.median(areas) / np.pi), 1.0))


def _projection(f) -> np.ndarray:
    """Footprint projection: the maximum of peak-normalised footprints."""
    out = np.zeros(f.shape[1:])
    for i in range(f.shape[0]):
        a = np.asarray(f[i], dtype=float)
        top = a.max()
        if top > 0:
            np.maximum(out, a / top, out=out)
    return out
