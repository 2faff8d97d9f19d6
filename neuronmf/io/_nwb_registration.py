"""NWB writer and reader of registration results (``neuronmf_kind="registration"``).

Layout (from :func:`neuronmf.imaging.register`): a processing module
``"registration"`` (its description holds the provenance) with

- ``MotionCorrection`` (``pynwb.ophys``) holding one ``CorrectedImageStack``:
  ``corrected`` (an ``ImageSeries``, frames stored (frames, x, y) as NWB
  wants, written one frame at a time, so a lazy movie is never read whole),
  ``original`` (a link to the file's acquisition ``ImageSeries`` with as many
  frames when there is exactly one such, else an external ``ImageSeries``
  naming the input file) and ``xy_translation`` (the rigid shifts as
  (time, [x, y]) in pixels, the content of the template at ``p`` being at
  ``p + shift`` in the raw frame);
- ``TimeSeries`` ``correlation``, ``correlation_before``, ``peak_ratio`` and,
  for piecewise registration, ``patch_shifts`` (time, patch_y · patch_x · 2);
- ``Images`` ``RegistrationImages``: ``template``, ``mean_before``,
  ``mean_after`` (stored (x, y)).

Every variable, coordinate and attribute round-trips (the corrected movie is
read back into memory).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from neuronmf._provenance import version
from neuronmf.io._nwb_file import (
    free_name,
    provenance_text,
    saved_coord,
    series_time,
    time_axis,
)

__all__ = ["add_registration", "read_registration"]

_SERIES = {
    "correlation": "Pearson correlation of each corrected frame with the template.",
    "correlation_before": "Pearson correlation of each raw frame with the template.",
    "peak_ratio": "Height of the rigid correlation peak in standard deviations.",
}
_IMAGES = ("template", "mean_before", "mean_after")


#: frames read at once when writing a movie (one HDF5 tile of register's file)
_BLOCK = 32


def _frames(data):
    """(frames, x, y) float32 frames of a (time, y, x) movie, one at a time.

    Read 32 frames at a time: one dask computation per block instead of per
    frame, and whole tiles of a file chunked in space and time.
    """
    from hdmf.data_utils import DataChunkIterator

    def gen():
        for t0 in range(0, data.shape[0], _BLOCK):
            block = data[t0 : t0 + _BLOCK]
            if hasattr(block, "compute"):
                block = block.compute()
            for frame in np.asarray(block, np.float32):
                yield frame.T

    T, ny, nx = data.shape
    return DataChunkIterator(
        data=gen(), maxshape=(T, nx, ny), dtype=np.dtype(np.float32), buffer_size=1
    )


def _original(nwbfile, ds: xr.Dataset, source, timing: dict):
    from pynwb.image import ImageSeries

    T = ds.sizes["time"]
    found = [
        s
        for s in nwbfile.acquisition.values()
        if isinstance(s, ImageSeries) and s.data is not None and len(s.data) == T
    ]
    if len(found) == 1:
        return found[0]
    src = source or ds.attrs.get("source") or "input movie (not recorded)"
    name = free_name(nwbfile.acquisition, "original", False, "nwbfile.acquisition")
    series = ImageSeries(
        name=name,
        description="The movie that was registered (external; not stored here).",
        unit="n.a.",
        external_file=[str(src)],
        format="external",
        starting_frame=[0],
        **timing,
        **({"num_samples": T} if "rate" in timing else {}),
    )
    nwbfile.add_acquisition(series)
    return series


def add_registration(nwbfile, ds: xr.Dataset, kind, name, source) -> None:
    """Add a registration result to ``nwbfile`` (see the module docstring)."""
    from pynwb import TimeSeries
    from pynwb.base import Images
    from pynwb.image import GrayscaleImage, ImageSeries
    from pynwb.ophys import CorrectedImageStack, MotionCorrection

    mod_name = free_name(
        nwbfile.processing,
        name or "registration",
        name is not None,
        "nwbfile.processing",
    )
    timing = time_axis(ds, "correlation")
    rigid = ds["rigid_shifts"] if "rigid_shifts" in ds else ds["shifts"]
    piecewise = ds["shifts"].ndim == 4
    extra = {"source": str(source) if source is not None else None}
    text = (
        f"Motion correction by neuronmf {version()} "
        f"({ds.attrs.get('method', '?')} registration; shifts in pixels, the "
        "template's content at p is at p + shift in the raw frame). "
    )
    module = nwbfile.create_processing_module(
        mod_name, text + provenance_text(ds, kind, extra)
    )
    corrected = ImageSeries(
        name="corrected",
        data=_frames(ds["corrected"].data),
        unit="n.a.",
        description="Motion-corrected movie, stored (frames, x, y).",
        **timing,
    )
    shift_series = TimeSeries(
        name="xy_translation",
        data=np.asarray(rigid.values)[:, ::-1].copy(),
        unit="pixels",
        description="Rigid shift of each frame as (x, y), pixels.",
        **timing,
    )
    stack = CorrectedImageStack(
        corrected=corrected,
        original=_original(nwbfile, ds, source, timing),
        xy_translation=shift_series,
        name="CorrectedImageStack",
    )
    module.add(MotionCorrection(corrected_image_stacks=[stack]))
    for var, what in _SERIES.items():
        module.add(
            TimeSeries(
                name=var, data=ds[var].values, unit="n.a.", description=what, **timing
            )
        )
    if piecewise:
        v = ds["shifts"].values
        module.add(
            TimeSeries(
                name="patch_shifts",
                data=v.reshape(len(v), -1),
                unit="pixels",
                description="Shift of each patch, (time, patch_y * patch_x * "
                "[y, x]) in C order; patch centres in the provenance.",
                **timing,
            )
        )
    images = [
        GrayscaleImage(name=k, data=np.asarray(ds[k].values).T, description=k)
        for k in _IMAGES
    ]
    module.add(
        Images(
            name="RegistrationImages",
            images=images,
            description="Template and mean images, stored (x, y).",
        )
    )


def read_registration(module, info: dict) -> xr.Dataset:
    """Rebuild the registration Dataset written by :func:`add_registration`."""
    stack = module["MotionCorrection"].corrected_image_stacks["CorrectedImageStack"]
    corrected = np.asarray(stack.corrected.data[:], np.float32).transpose(0, 2, 1)
    T, ny, nx = corrected.shape
    t = series_time(stack.corrected)
    dims = info["dims"]
    rigid = np.asarray(stack.xy_translation.data[:])[:, ::-1]
    variables = {"corrected": (("time", "y", "x"), corrected)}
    for var in _SERIES:
        variables[var] = ("time", np.asarray(module[var].data[:]))
    imgs = module["RegistrationImages"]
    for k in _IMAGES:
        variables[k] = (("y", "x"), np.asarray(imgs[k].data[:]).T)
    coords = {
        "time": t,
        "y": saved_coord(info, "y", ny),
        "x": saved_coord(info, "x", nx),
        "axis": saved_coord(info, "axis", 2),
    }
    if len(dims["shifts"]) == 4:
        py = saved_coord(info, "patch_y", 0)
        px = saved_coord(info, "patch_x", 0)
        coords.update(patch_y=py, patch_x=px)
        local = np.asarray(module["patch_shifts"].data[:]).reshape(
            T, len(py), len(px), 2
        )
        variables["shifts"] = (tuple(dims["shifts"]), local)
        variables["rigid_shifts"] = (("time", "axis"), rigid)
    else:
        variables["shifts"] = (("time", "axis"), rigid)
    ds = xr.Dataset(variables, coords=coords, attrs=info["attrs"])
    ds["shifts"].attrs["units"] = "pixels"
    return ds
