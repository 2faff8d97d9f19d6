"""NWB writer and reader of imaging segmentations (``neuronmf_kind="segmentation"``).

Layout: ``processing["ophys"]`` gets an ``ImageSegmentation`` holding a
``PlaneSegmentation`` whose ``image_mask`` is stored in NWB's (roi, x, y) order
(the footprints transposed, float64), with per-neuron variables as extra
columns, and a ``Fluorescence`` holding a ``RoiResponseSeries`` (time, roi) of
the traces (``dff`` goes to a ``DfOverF`` series, 2-D ``background``/``baseline``
images and the summary images ``mean_image``/``correlation_image`` to an
``Images`` container ``<plane segmentation>Images``, in (x, y) order). When that dense
``image_mask`` would exceed :data:`DENSE_IMAGE_MASK_MAX_BYTES` (256 MiB), or the
footprints are a dask array, the footprints go to a sparse ``pixel_mask``
instead: per neuron the (x, y, weight) rows of its non-zero pixels (weight
float32, as NWB specifies), streamed to the file one neuron (or dask chunk) at
a time, so the footprints are never dense in memory all at once. The
provenance records the layout (``mask_layout``) and the field of view
(``fov_shape``, (ny, nx)), which a pixel mask does not give.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from neuronmf.io._nwb_file import (
    free_name,
    provenance_text,
    saved_coord,
    series_time,
    time_axis,
)
from neuronmf.io._nwb_traces import add_trace_series, read_trace_series

__all__ = [
    "DENSE_FOOTPRINTS_READ_MAX_BYTES",
    "DENSE_IMAGE_MASK_MAX_BYTES",
    "add_segmentation",
    "read_segmentation",
    "segmentation_size_hint",
]


#: Largest dense ``image_mask`` (in bytes, as written: float64) that
#: :func:`save_nwb` writes; larger segmentations, and any with dask footprints,
#: get a sparse ``pixel_mask`` written one neuron (or dask chunk) at a time.
DENSE_IMAGE_MASK_MAX_BYTES = 256 << 20
#: Dense footprints :func:`load_result` returns as NumPy up to this size (bytes);
#: larger pixel-mask segmentations come back as a dask array, one chunk a neuron.
DENSE_FOOTPRINTS_READ_MAX_BYTES = 1 << 30
_PIXEL_FLUSH_BYTES = 8 << 20  # pixel-mask rows buffered before each HDF5 write
_PIXEL_CHUNK_ROWS = 1 << 16  # HDF5 chunk of the pixel_mask dataset (rows)


def _pixel_mask_dtype() -> np.dtype:
    """Compound dtype of the NWB ``pixel_mask`` rows (x, y, weight).

    NWB (and pynwb, which creates the dataset) fixes ``weight`` as float32:
    float32 footprints are stored exactly, float64 ones rounded to float32.
    """
    return np.dtype([("x", np.uint32), ("y", np.uint32), ("weight", np.float32)])


class _PixelMaskSink:
    """Turns footprint blocks (k, y, x) into pixel-mask rows, appended in order.

    ``sink[first:first + k, :, :] = block`` (how :func:`dask.array.store` hands
    over each computed chunk, in any order) converts every neuron of the block
    to its (x, y, weight) rows, x-major like pynwb's ``image_to_pixel``; blocks
    are appended to the HDF5 ``pixel_mask`` in neuron order (a block that
    arrives early waits as rows, never dense), at most
    :data:`_PIXEL_FLUSH_BYTES` of rows at a time. :meth:`close` writes the rest
    and ``pixel_mask_index``.
    """

    def __init__(self, pm, index, n: int) -> None:
        self.pm, self.index = pm, index
        self.ends = np.zeros(n, np.uint64)
        self.early: dict[int, list[np.ndarray]] = {}
        self.pending: list[np.ndarray] = []
        self.next = self.total = self.pending_bytes = self.written = 0

    def __setitem__(self, key, block) -> None:
        block = np.asarray(block)
        rows = []
        for frame in block:
            xs, ys = np.nonzero(frame.T)
            r = np.empty(len(xs), self.pm.dtype)
            r["x"], r["y"], r["weight"] = xs, ys, frame[ys, xs]
            rows.append(r)
        first = key[0].start if isinstance(key, tuple) else key.start
        self.early[first or 0] = rows
        while self.next in self.early:
            for r in self.early.pop(self.next):
                self.pending.append(r)
                self.pending_bytes += r.nbytes
                self.total += len(r)
                self.ends[self.next] = self.total
                self.next += 1
            if self.pending_bytes >= _PIXEL_FLUSH_BYTES:
                self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        rows = np.concatenate(self.pending)
        self.pending.clear()
        self.pending_bytes = 0
        self.pm.resize((self.written + len(rows),))
        self.pm[self.written :] = rows
        self.written += len(rows)

    def close(self) -> None:
        self._flush()
        if self.next != len(self.ends):  # pragma: no cover - defensive
            raise RuntimeError(
                f"pixel masks of {self.next} of {len(self.ends)} neurons written"
            )
        self.index[:] = self.ends


def _pixel_mask_filler(fp: xr.DataArray, group_path: str) -> Callable[[Any], None]:
    """``finish(h5file)`` that streams ``fp`` into the placeholder pixel masks.

    :func:`add_segmentation` writes ``pixel_mask`` as an empty resizable dataset
    and ``pixel_mask_index`` as zeros; this fills both. A dask array is computed
    in a single pass of :func:`dask.array.store` on the local threaded
    scheduler (chunks along ``neuron``, whole frames; one compute per chunk
    would re-walk the whole graph each time), so only the chunks in flight (one
    per thread) are dense; any other array (NumPy, lazily indexed) is read one
    neuron at a time.
    """

    def finish(f) -> None:
        group = f[group_path]
        n = fp.sizes["neuron"]
        sink = _PixelMaskSink(group["pixel_mask"], group["pixel_mask_index"], n)
        if fp.chunks is not None:
            import dask.array as da

            data = fp.data
            if data.numblocks[1] > 1 or data.numblocks[2] > 1:
                data = data.rechunk({1: -1, 2: -1})  # whole frames per chunk
            # local threads: the sink holds open h5py datasets, which a
            # distributed scheduler could not ship to its workers
            da.store(data, sink, lock=True, scheduler="threads")
        else:
            for i in range(n):
                sink[i : i + 1] = np.asarray(fp[i : i + 1].values)
        sink.close()

    return finish


def add_segmentation(
    nwbfile, ds: xr.Dataset, name: str | None, source
) -> Callable[[Any], None] | None:
    """Add a segmentation to ``nwbfile``; returns the pixel-mask filler, if any.

    Footprints go to ``image_mask`` (dense, (roi, x, y), float64) while that
    array is at most :data:`DENSE_IMAGE_MASK_MAX_BYTES`, and to ``pixel_mask``
    when it would be larger or when the footprints are a dask array. The pixel
    masks are written after pynwb has written the file, one neuron (or one dask
    chunk) at a time, by the returned ``finish(h5file)`` (see
    :func:`~neuronmf.io._nwb_file.write_nwb_atomic`), so the footprints are
    never all in memory.
    """
    fp = ds["footprints"]
    ydim, xdim = fp.dims[1], fp.dims[2]
    fp = fp.transpose("neuron", ydim, xdim)
    n, ny, nx = (int(s) for s in fp.shape)
    dense_bytes = n * ny * nx * np.dtype(float).itemsize
    pixel = fp.chunks is not None or dense_bytes > DENSE_IMAGE_MASK_MAX_BYTES
    pixel = pixel or n == 0  # an empty table needs typed (pixel-path) columns
    traces = np.asarray(ds["traces"].transpose("time", "neuron").values)
    timing = time_axis(ds, "traces")

    ophys = nwbfile.processing.get("ophys")
    if ophys is None:
        ophys = nwbfile.create_processing_module(
            "ophys", "Optical physiology processed data."
        )
    plane = _imaging_plane(nwbfile, ds, timing)
    imgseg = _image_segmentation(ophys)
    ps_name = free_name(
        imgseg.plane_segmentations,
        name or "PlaneSegmentation",
        name is not None,
        "ImageSegmentation",
    )
    per_neuron = [
        k
        for k in ds.data_vars
        if ds[k].dims == ("neuron",)
        and ds[k].dtype.kind in ("biufU" if n else "biuf")  # no dtype for empty text
    ]
    extra = {
        "plane_segmentation": ps_name,
        "image_mask_order": ["neuron", xdim, ydim],
        "mask_layout": "pixel_mask" if pixel else "image_mask",
        "fov_shape": [ny, nx],
        "neuron_columns": per_neuron,
        "source": str(source) if source is not None else None,
        "footprints_dtype": str(fp.dtype),
    }
    if not pixel:
        ps = _dense_masks(imgseg, plane, ds, fp, ps_name, per_neuron, extra)
        finish = None
    else:
        ps = _pixel_masks(imgseg, plane, ds, n, ps_name, per_neuron, extra)
        finish = _pixel_mask_filler(
            fp, f"processing/{ophys.name}/{imgseg.name}/{ps_name}"
        )
    _add_responses(ophys, ps, ps_name, ds, traces, timing)
    add_trace_series(ophys, ps, ps_name, ds, timing)  # imaging.traces' variables
    _add_images(ophys, ps_name, ds, ydim, xdim)
    return finish


def _imaging_plane(nwbfile, ds: xr.Dataset, timing: dict[str, Any]):
    """The file's first imaging plane, or a new one marked as not recorded."""
    from pynwb.ophys import OpticalChannel

    if nwbfile.imaging_planes:
        return next(iter(nwbfile.imaging_planes.values()))
    device = nwbfile.create_device(
        name="Microscope",
        description="Imaging device (not recorded in the neuronmf result).",
    )
    channel = OpticalChannel(
        name="OpticalChannel",
        description="Optical channel (not recorded in the neuronmf result).",
        emission_lambda=float(ds.attrs.get("emission_lambda", np.nan)),
    )
    rate = timing.get("rate")
    return nwbfile.create_imaging_plane(
        name="ImagingPlane",
        optical_channel=channel,
        device=device,
        description="Imaging plane of the segmented movie.",
        excitation_lambda=float(ds.attrs.get("excitation_lambda", np.nan)),
        indicator=str(ds.attrs.get("indicator", "unknown")),
        location=str(ds.attrs.get("location", "unknown")),
        imaging_rate=float(rate) if rate else None,
    )


def _image_segmentation(ophys):
    """The module's first ``ImageSegmentation``, or a new one."""
    from pynwb.ophys import ImageSegmentation

    segs = [
        c for c in ophys.data_interfaces.values() if isinstance(c, ImageSegmentation)
    ]
    if segs:
        return segs[0]
    imgseg = ImageSegmentation(name="ImageSegmentation")
    ophys.add(imgseg)
    return imgseg


def _dense_masks(imgseg, plane, ds, fp, ps_name, per_neuron, extra):
    """A ``PlaneSegmentation`` with dense ``image_mask`` rows (roi, x, y)."""
    ydim, xdim = fp.dims[1], fp.dims[2]
    masks = np.asarray(fp.transpose("neuron", xdim, ydim).values, dtype=float)
    ps = imgseg.create_plane_segmentation(
        name=ps_name,
        description="Neurons found by neuronmf (footprints as image masks, "
        "stored (roi, x, y)). " + provenance_text(ds, "segmentation", extra),
        imaging_plane=plane,
    )
    for k in per_neuron:
        ps.add_column(name=k, description=f"neuronmf per-neuron value {k!r}.")
    for i in range(masks.shape[0]):
        row = {k: ds[k].values[i].item() for k in per_neuron}
        ps.add_roi(image_mask=masks[i], **row)
    return ps


def _pixel_masks(imgseg, plane, ds, n, ps_name, per_neuron, extra):
    """A ``PlaneSegmentation`` with placeholder ``pixel_mask`` columns.

    The placeholders are filled by ``finish`` once pynwb has written the file:
    pynwb/hdmf would turn a compound dataset into a Python list of tuples
    (costly in memory and time per pixel: docs/benchmarks.md, "NWB pixel
    masks"), so the rows are streamed with h5py.
    """
    from hdmf.backends.hdf5.h5_utils import H5DataIO
    from hdmf.common import VectorData, VectorIndex
    from pynwb.ophys import PlaneSegmentation

    ny, nx = extra["fov_shape"]
    dtype = _pixel_mask_dtype()
    pm = VectorData(
        name="pixel_mask",
        description="Pixel masks for each ROI: (x, y, weight) of its non-zero pixels.",
        data=H5DataIO(
            np.zeros(0, dtype), maxshape=(None,), chunks=(_PIXEL_CHUNK_ROWS,)
        ),
    )
    index = VectorIndex(
        name="pixel_mask_index",
        data=H5DataIO(np.zeros(n, np.uint64)),
        target=pm,
    )
    columns = [pm, index] + [
        VectorData(
            name=k,
            description=f"neuronmf per-neuron value {k!r}.",
            data=[v.item() for v in ds[k].values] if n else ds[k].values,
        )
        for k in per_neuron
    ]
    ps = PlaneSegmentation(
        name=ps_name,
        description="Neurons found by neuronmf (footprints as pixel masks: "
        f"(x, y, weight) of each neuron's non-zero pixels in a {nx} x {ny} "
        "(x, y) field of view). " + provenance_text(ds, "segmentation", extra),
        imaging_plane=plane,
        id=list(range(n)),
        columns=columns,
    )
    imgseg.add_plane_segmentation(ps)
    return ps


def _add_responses(ophys, ps, ps_name, ds, traces, timing) -> None:
    """The traces (``Fluorescence``) and, when present, ΔF/F (``DfOverF``)."""
    from pynwb.ophys import DfOverF, Fluorescence

    n = traces.shape[1]
    rois = ps.create_roi_table_region(
        region=list(range(n)), description="All neurons found by neuronmf."
    )
    fl = ophys.data_interfaces.get("Fluorescence")
    if fl is None:
        fl = Fluorescence(name="Fluorescence")
        ophys.add(fl)
    rrs_name = free_name(fl.roi_response_series, ps_name, False, "Fluorescence")
    fl.create_roi_response_series(
        name=rrs_name,
        data=traces,
        rois=rois,
        unit="a.u.",
        description=f"neuronmf traces (time, roi) of {ps_name}.",
        **timing,
    )
    if "dff" in ds.data_vars and ds["dff"].dims == ("neuron", "time"):
        dff = ophys.data_interfaces.get("DfOverF")
        if dff is None:
            dff = DfOverF(name="DfOverF")
            ophys.add(dff)
        rois2 = ps.create_roi_table_region(
            region=list(range(n)), description="All neurons found by neuronmf."
        )
        dff.create_roi_response_series(
            name=free_name(dff.roi_response_series, ps_name, False, "DfOverF"),
            data=np.asarray(ds["dff"].transpose("time", "neuron").values),
            rois=rois2,
            unit="n.a.",
            description=f"neuronmf ΔF/F (time, roi) of {ps_name}.",
            **timing,
        )


#: The 2-D images of a segmentation written to its ``Images`` container: the
#: background ones and the summary images ``segment`` keeps (suite2p and
#: CaImAn write their mean and correlation images to such a container too).
SEGMENTATION_IMAGES = ("background", "baseline", "mean_image", "correlation_image")


def _add_images(ophys, ps_name: str, ds: xr.Dataset, ydim: str, xdim: str) -> None:
    """The 2-D images of :data:`SEGMENTATION_IMAGES` the result has, stored (x, y)."""
    from pynwb.base import Images
    from pynwb.image import GrayscaleImage

    images = [k for k in SEGMENTATION_IMAGES if k in ds and ds[k].dims == (ydim, xdim)]
    if not images:
        return
    imgs = Images(
        name=free_name(ophys.data_interfaces, f"{ps_name}Images", False, "ophys"),
        description=f"neuronmf background and summary images of {ps_name}, "
        "stored (x, y).",
        images=[
            GrayscaleImage(
                name=k,
                data=np.asarray(ds[k].transpose(xdim, ydim).values, float),
                description=f"neuronmf {k} image.",
            )
            for k in images
        ],
    )
    ophys.add(imgs)


def segmentation_size_hint(ds: xr.Dataset) -> int:
    """Bytes an NWB write of segmentation ``ds`` needs at least (data as stored)."""
    others = sum(int(v.nbytes) for k, v in ds.data_vars.items() if k != "footprints")
    fp = ds["footprints"]
    dense = fp.chunks is None and fp.size * 8 <= DENSE_IMAGE_MASK_MAX_BYTES
    # a dense image_mask is float64; a pixel mask (12 bytes per non-zero pixel)
    # is streamed and its size unknown until written
    return others + (fp.size * 8 if dense else 0)


def _footprint_frame(rows: np.ndarray, shape: tuple[int, int], dtype) -> np.ndarray:
    """(1, y, x) footprint of one neuron from its pixel-mask rows (x, y, weight)."""
    out = np.zeros((1, *shape), dtype)
    out[0, rows["y"], rows["x"]] = rows["weight"]
    return out


def _read_pixel_masks(ps, shape: tuple[int, int], dtype):
    """(neuron, y, x) footprints from ``pixel_mask``: NumPy, or dask when large.

    The rows (12-16 bytes per non-zero pixel) are read at once; the dense
    footprints are NumPy up to :data:`DENSE_FOOTPRINTS_READ_MAX_BYTES` and
    otherwise a dask array built one neuron per chunk from the rows in memory.
    """
    column = ps["pixel_mask"]  # VectorIndex over the compound (x, y, weight) rows
    data = column.target.data
    rows = np.asarray(getattr(data, "dataset", data)[:])
    ends = np.asarray(column.data[:], dtype=np.int64)
    starts = np.concatenate([[0], ends])[:-1].astype(np.int64)
    n = len(ends)
    dtype = np.dtype(dtype)
    if n * shape[0] * shape[1] * dtype.itemsize <= DENSE_FOOTPRINTS_READ_MAX_BYTES:
        fp = np.zeros((n, *shape), dtype)
        for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
            r = rows[a:b]
            fp[i, r["y"], r["x"]] = r["weight"]
        return fp
    import dask
    import dask.array as da

    return da.concatenate(
        [
            da.from_delayed(
                dask.delayed(_footprint_frame)(rows[a:b], shape, dtype),
                shape=(1, *shape),
                dtype=dtype,
            )
            for a, b in zip(starts, ends, strict=True)
        ]
    )


def read_segmentation(ps, ophys, info: dict) -> xr.Dataset:
    order = info["image_mask_order"]
    ydim, xdim = order[2], order[1]
    fp_dtype = info.get("footprints_dtype")
    if info.get("mask_layout") == "pixel_mask":
        shape = (int(info["fov_shape"][0]), int(info["fov_shape"][1]))
        fp = _read_pixel_masks(ps, shape, fp_dtype or np.float32)
    else:  # image_mask (also every file written before mask_layout existed)
        masks = np.asarray(ps["image_mask"][:])  # (roi, x, y)
        fp = np.transpose(masks, (0, 2, 1))
        fp = fp.astype(fp_dtype or fp.dtype)
    n = fp.shape[0]
    name = info["plane_segmentation"]
    rrs = None
    fl = ophys.data_interfaces.get("Fluorescence")
    for s in fl.roi_response_series.values() if fl is not None else []:
        if s.rois.table is ps:
            rrs = s
            break
    traces = np.asarray(rrs.data[:]).T
    coords = {
        "neuron": saved_coord(info, "neuron", n),
        ydim: saved_coord(info, ydim, fp.shape[1]),
        xdim: saved_coord(info, xdim, fp.shape[2]),
        "time": series_time(rrs),
    }
    data: dict[str, Any] = {
        "footprints": (("neuron", ydim, xdim), fp),
        "traces": (("neuron", "time"), traces),
    }
    for k in info.get("neuron_columns", []):
        values = ps[k][:]
        if len(values) and isinstance(values[0], (str, bytes)):  # text columns
            values = [v.decode() if isinstance(v, bytes) else v for v in values]
            data[k] = ("neuron", np.asarray(values, dtype=str))
        else:
            data[k] = ("neuron", np.asarray(values))
    dff = ophys.data_interfaces.get("DfOverF")
    for s in dff.roi_response_series.values() if dff is not None else []:
        if s.rois.table is ps:
            data["dff"] = (("neuron", "time"), np.asarray(s.data[:]).T)
    imgs = ophys.data_interfaces.get(f"{name}Images")
    if imgs is not None:
        for k, img in imgs.images.items():
            data[k] = ((ydim, xdim), np.asarray(img.data[:]).T)
    data.update(read_trace_series(ophys, ps))  # imaging.traces' variables
    ds = xr.Dataset(data, coords=coords)
    ds.attrs = dict(info.get("attrs", {}))
    return ds
