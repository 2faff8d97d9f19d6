"""The part of a registered movie that every frame covers."""

from __future__ import annotations

import numpy as np
import xarray as xr

from neuronmf.errors import input_error

__all__ = ["to_full_frame", "valid_region"]


def valid_region(reg: xr.Dataset, *, percentile: float = 99.0) -> dict[str, slice]:
    """Rows and columns of a registered movie that hold real pixels in (almost) every
    frame.

    ``register`` resamples each frame at ``p + shift``; where that falls outside the
    frame the edge pixel is repeated. Near the edges of a movie that moved by up
    to s px, a band up to s px wide is such filler in many frames. Segmenting it
    finds streaks of repeated pixels, not neurons (on a 512² movie with 13 px of
    motion, 131 of 207 false neurons lay in that band). Segment inside the region
    returned here, as suite2p also does after registration.

    Parameters
    ----------
    reg : xarray.Dataset from :func:`~neuronmf.imaging.register`
    percentile : float, default 99
        The band is the ``percentile``-th percentile of the shifts towards each
        edge over frames (and patches), so that a few outlying frames do not crop
        the whole field; 100 takes the largest shift.

    Returns
    -------
    dict
        ``{"y": slice, "x": slice}`` for ``movie.isel(**region)``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> shifts = np.array([[2.0, -1.0], [-3.0, 0.5]])
    >>> reg = xr.Dataset({"shifts": (("time", "axis"), shifts),
    ...                   "template": (("y", "x"), np.zeros((20, 30)))})
    >>> valid_region(reg, percentile=100)
    {'y': slice(3, 18, None), 'x': slice(1, 29, None)}
    """
    if "shifts" not in reg or "template" not in reg:
        raise input_error(
            "reg", "a result of imaging.register (with shifts and template)", type(reg)
        )
    if not 50 <= float(percentile) <= 100:
        raise input_error("percentile", "in [50, 100]", percentile)
    s = np.asarray(reg["shifts"].values, float).reshape(-1, 2)
    ny, nx = reg["template"].shape
    # corrected(p) = frame(p + s): p is real where 0 <= p + s <= n - 1
    low = np.ceil(np.maximum(0.0, np.percentile(-s, percentile, axis=0))).astype(int)
    high = np.ceil(np.maximum(0.0, np.percentile(s, percentile, axis=0))).astype(int)
    y0, x0 = (int(v) for v in low)
    y1, x1 = ny - int(high[0]), nx - int(high[1])
    if y1 - y0 < 8 or x1 - x0 < 8:
        raise input_error(
            "reg",
            "shifts that leave at least 8 x 8 pixels covered by every frame",
            f"a covered region of {max(0, y1 - y0)} x {max(0, x1 - x0)} px",
            "Check the registration (plot_registration), or segment the whole frame.",
        )
    return {"y": slice(y0, y1), "x": slice(x0, x1)}


def to_full_frame(seg: xr.Dataset, movie: xr.DataArray, region: dict) -> xr.Dataset:
    """A segmentation of ``movie.isel(**region)`` placed back in ``movie``'s frame.

    Footprints and the other (y, x) maps are zero outside the region; centroids
    (in pixels of the segmented crop) are moved by the region's origin. The
    region is recorded in ``attrs["segmented_region"]`` as [y0, y1, x0, x1].

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> movie = xr.DataArray(np.zeros((2, 10, 10)), dims=("time", "y", "x"),
    ...                      coords={"y": np.arange(10), "x": np.arange(10)})
    >>> seg = xr.Dataset({"footprints": (("neuron", "y", "x"), np.ones((1, 6, 5))),
    ...                   "centroid": (("neuron", "axis"), [[2.5, 2.0]])},
    ...                  coords={"y": np.arange(2, 8), "x": np.arange(3, 8)})
    >>> full = to_full_frame(seg, movie, {"y": slice(2, 8), "x": slice(3, 8)})
    >>> full.footprints.shape, full.centroid.values.tolist()
    ((1, 10, 10), [[4.5, 5.0]])
    """
    y0 = region["y"].start or 0
    x0 = region["x"].start or 0
    full = seg.reindex(y=movie["y"].values, x=movie["x"].values, fill_value=0)
    for name in ("centroid", "rejected_centroid"):
        if name in full:
            full[name] = full[name] + np.array([y0, x0], dtype=float)
    y1 = region["y"].stop if region["y"].stop is not None else movie.sizes["y"]
    x1 = region["x"].stop if region["x"].stop is not None else movie.sizes["x"]
    full.attrs = dict(seg.attrs)
    full.attrs["segmented_region"] = [int(y0), int(y1), int(x0), int(x1)]
    return full
