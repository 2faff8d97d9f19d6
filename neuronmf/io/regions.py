"""Ground-truth and saved ROI masks → (neuron, y, x) boolean / weight DataArrays."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from neuronmf.errors import input_error
from neuronmf.io._common import as_path, base_attrs, choose, detect_format

__all__ = ["load_masks", "load_regions"]


def load_regions(path: str | os.PathLike, shape: Sequence[int]) -> xr.DataArray:
    """Read neurofinder ``regions.json`` as (neuron, y, x) boolean masks.

    Parameters
    ----------
    path : str or path-like
        The ``regions.json`` file, or a neurofinder dataset folder holding
        ``regions/regions.json``.
    shape : (int, int)
        Image shape (y, x). Pixels outside it are dropped (useful for crops); a
        region with no pixel inside keeps an empty mask.

    Returns
    -------
    xarray.DataArray
        Dims ``(neuron, y, x)``, bool; coord ``neuron`` = the regions' ``id`` (or
        their position when absent).

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> from neuronmf.io import load_regions
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "regions.json"
    >>> _ = p.write_text(json.dumps([{"id": 7, "coordinates": [[0, 1], [1, 1]]}]))
    >>> load_regions(p, (2, 3)).values.astype(int).tolist()
    [[[0, 1, 0], [0, 1, 0]]]
    """
    p = as_path(path)
    if p.is_dir():
        p = as_path(p / "regions" / "regions.json")
    if len(tuple(shape)) != 2 or min(int(s) for s in shape) < 1:
        raise input_error("shape", "two positive integers (y, x)", tuple(shape))
    ny, nx = (int(s) for s in shape)
    try:
        regions = json.loads(p.read_text())
        coords = [np.asarray(r["coordinates"], dtype=np.int64) for r in regions]
    except (ValueError, KeyError, TypeError) as exc:
        raise input_error(
            f"file '{p}'",
            'a JSON list of {"id", "coordinates": [[row, col], ...]} regions',
            f"unreadable content ({type(exc).__name__}: {exc})",
        ) from None
    masks = np.zeros((len(coords), ny, nx), dtype=bool)
    for i, rc in enumerate(coords):
        if rc.size == 0:
            continue
        if rc.ndim != 2 or rc.shape[1] != 2:
            raise input_error(
                f"coordinates of region {i} in '{p}'", "pairs [row, col]", rc.shape
            )
        ok = (rc[:, 0] >= 0) & (rc[:, 0] < ny) & (rc[:, 1] >= 0) & (rc[:, 1] < nx)
        masks[i, rc[ok, 0], rc[ok, 1]] = True
    ids = [r.get("id", i) if isinstance(r, dict) else i for i, r in enumerate(regions)]
    return xr.DataArray(
        masks,
        dims=("neuron", "y", "x"),
        coords={"neuron": ids, "y": np.arange(ny), "x": np.arange(nx)},
        name="masks",
        attrs=base_attrs(p, ""),
    )


def load_masks(
    path: str | os.PathLike,
    *,
    series: str | None = None,
    shape: Sequence[int] | None = None,
) -> xr.DataArray:
    """Read ROI masks of an NWB ``PlaneSegmentation`` as (neuron, y, x) weights.

    NWB ``image_mask`` is stored (roi, x, y), like movies; it is transposed to
    (neuron, y, x) so that masks line up with :func:`~neuronmf.io.load_movie`.
    ``pixel_mask`` (x, y, weight) is accepted when ``shape`` (y, x) is given or a
    reference image / imaging plane gives it.

    Parameters
    ----------
    path : str or path-like
        An NWB file.
    series : str, optional
        Name or path of the PlaneSegmentation; None takes the only one.
    shape : (int, int), optional
        Image shape (y, x) for pixel masks.

    Returns
    -------
    xarray.DataArray
        Dims ``(neuron, y, x)``, float weights; coord ``neuron`` = ROI ids; extra
        boolean columns of the table (e.g. ``Accepted``) become ``neuron`` coords.
    """
    import pynwb

    from neuronmf.io.nwb import object_paths, open_nwb

    p = as_path(path)
    if detect_format(p) != "nwb":
        raise input_error(f"file '{p}'", "an NWB file", "another format")
    with open_nwb(p) as nwb:
        tables = object_paths(nwb, pynwb.ophys.PlaneSegmentation)
        key = choose(list(tables), series, path=p, what="a PlaneSegmentation")
        ps = tables[key]
        ids = np.asarray(ps.id.data[:])
        if "image_mask" in ps.colnames:
            masks = np.asarray(ps["image_mask"].data[:], dtype=float)
            if masks.ndim != 3:
                raise input_error(
                    f"image_mask of '{key}' in '{p}'", "3-D (roi, x, y)", masks.shape
                )
            masks = masks.transpose(0, 2, 1)
        elif "pixel_mask" in ps.colnames:
            if shape is None:
                raise input_error(
                    "shape",
                    f"given (y, x) to rasterise the pixel masks of '{key}'",
                    None,
                )
            ny, nx = (int(s) for s in shape)
            masks = np.zeros((len(ids), ny, nx))
            for i in range(len(ids)):
                pm = ps["pixel_mask"][i]
                for x, y, w in pm:
                    masks[i, int(y), int(x)] = w
        else:
            raise input_error(
                f"PlaneSegmentation '{key}' in '{p}'",
                "a table with image_mask or pixel_mask",
                f"columns {list(ps.colnames)}",
            )
        extra: dict[str, Any] = {}
        for col in ps.colnames:
            if col in ("image_mask", "pixel_mask", "voxel_mask"):
                continue
            values = np.asarray(ps[col].data[:])
            if values.ndim == 1 and values.shape[0] == len(ids):
                extra[col] = ("neuron", values)
    ny, nx = masks.shape[1:]
    coords = {"neuron": ids, "y": np.arange(ny), "x": np.arange(nx), **extra}
    return xr.DataArray(
        masks,
        dims=("neuron", "y", "x"),
        coords=coords,
        name="masks",
        attrs=base_attrs(p, key),
    )
