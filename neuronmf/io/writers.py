"""Write result Datasets to NetCDF and NWB, and read them back.

Every write is atomic: the output is built in a temporary file in the destination
folder and moved over the destination with :func:`os.replace` only once complete,
so a crash never leaves a half-written file where a good one was. Adding a result
to an existing NWB file works on a copy of it; the original is replaced only when
the copy has been written successfully, and survives any failure untouched.

NetCDF is the full-fidelity format: every variable, coordinate and attribute of a
result round-trips. Attribute values NetCDF cannot hold (``dict``, ``list``,
``tuple``, ``bool``, ``None``) are stored as JSON strings and decoded on reading;
the names of those attributes are recorded in the attribute ``_neuronmf_json``.

NWB layout written by :func:`save_nwb` (and read by :func:`load_result`):

- imaging segmentation (variables ``footprints`` (neuron, y, x) and ``traces``
  (neuron, time)): ``processing["ophys"]`` gets an ``ImageSegmentation`` holding a
  ``PlaneSegmentation`` whose ``image_mask`` is stored in NWB's (roi, x, y) order
  (the footprints transposed, float64), with per-neuron variables as extra
  columns, and a ``Fluorescence`` holding a ``RoiResponseSeries`` (time, roi) of
  the traces (``dff`` goes to a ``DfOverF`` series, 2-D ``background``/``baseline``
  images to an ``Images`` container, both in (x, y) order). When that dense
  ``image_mask`` would exceed :data:`DENSE_IMAGE_MASK_MAX_BYTES` (256 MiB), or the
  footprints are a dask array, the footprints go to a sparse ``pixel_mask``
  instead: per neuron the (x, y, weight) rows of its non-zero pixels (weight
  float32, as NWB specifies), streamed to the file one neuron (or dask chunk) at
  a time, so the footprints are never dense in memory all at once. The
  provenance records the layout (``mask_layout``) and the field of view
  (``fov_shape``, (ny, nx)), which a pixel mask does not give;
- muscle synergies (``synergies`` (muscle, synergy), ``activations``
  (synergy, time)) and assemblies (``membership`` (neuron, assembly),
  ``activations`` (assembly, time)): a processing module ``"synergies"`` /
  ``"assemblies"`` holding a ``DynamicTable`` ``"loadings"`` (one row per muscle or
  neuron, the loadings as a 2-D ``weights`` column) and a ``TimeSeries``
  ``"activations"`` (time, component);
- decoding (``predictions`` and ``behavior`` (time), from
  :meth:`neuronmf.decoding.DecodingResult.to_dataset`): a processing module
  ``"decoding"`` holding a ``BehavioralTimeSeries`` ``"DecodedBehavior"`` with the
  ``TimeSeries`` ``"predicted"`` (NaN where a bin was not predicted) and
  ``"observed"`` (timestamps: the time coordinate), one ``DynamicTable`` per other
  dimension (``"folds"``: ``scores``, ``chosen_rank``, ``chosen_alpha``,
  ``rank_scores`` (fold, rank) as columns; ``"null"``: ``null_scores``) and one
  ``TimeSeries`` per extra time coordinate (``"test_fold"``: the outer fold that
  predicted each bin, −1 for none). Its description says that decoding measures
  correlation, not causation.

Each neuronmf object's description ends with ``Provenance (JSON): {...}`` holding
the neuronmf version, the result's attributes and the coordinates NWB has no place
for; :func:`load_result` uses it to rebuild the Dataset.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neuronmf.errors import input_error
from neuronmf.io._atomic import atomic_path, file_lock, write_atomic

__all__ = ["load_result", "save_netcdf", "save_nwb"]

_JSON_ATTRS = "_neuronmf_json"
_DATAARRAY_FLAG = "_neuronmf_dataarray"
_PROV = "Provenance (JSON): "
_MARK = "neuronmf"

#: Largest dense ``image_mask`` (in bytes, as written: float64) that
#: :func:`save_nwb` writes; larger segmentations, and any with dask footprints,
#: get a sparse ``pixel_mask`` written one neuron (or dask chunk) at a time.
DENSE_IMAGE_MASK_MAX_BYTES = 256 << 20
#: Dense footprints :func:`load_result` returns as NumPy up to this size (bytes);
#: larger pixel-mask segmentations come back as a dask array, one chunk a neuron.
DENSE_FOOTPRINTS_READ_MAX_BYTES = 1 << 30
_PIXEL_FLUSH_BYTES = 8 << 20  # pixel-mask rows buffered before each HDF5 write
_PIXEL_CHUNK_ROWS = 1 << 16  # HDF5 chunk of the pixel_mask dataset (rows)
#: :func:`save_netcdf` builds the file in memory and writes its bytes itself (so a
#: full disk is an ordinary error, never a crash inside HDF5) for results up to
#: this size (bytes as held in memory) or half the free memory, whichever is
#: larger; larger results are written by HDF5 directly, after a free-space check.
NETCDF_IN_MEMORY_MAX_BYTES = 1 << 30
_NETCDF_CHUNK_BYTES = 4 << 20  # compressed NetCDF variables: chunks up to 4 MiB


# --------------------------------------------------------------------------- utils
def _version() -> str:
    try:
        from importlib.metadata import version

        return version("neuronmf")
    except Exception:  # pragma: no cover - source tree without metadata
        return "unknown"


def _jsonable(value: Any) -> Any:
    """Plain-Python copy of ``value`` for :func:`json.dumps` (numpy → lists)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def _plain_netcdf_value(value: Any) -> bool:
    """True when NetCDF stores ``value`` as an attribute and returns it unchanged."""
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, str | int | float | np.integer | np.floating):
        return True
    return (
        isinstance(value, np.ndarray)
        and value.ndim == 1
        and value.dtype.kind in "iuf"
        and value.size > 0
    )


def _encode_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    encoded: list[str] = []
    for key, value in attrs.items():
        if _plain_netcdf_value(value):
            out[key] = value
        else:
            out[key] = json.dumps(_jsonable(value))
            encoded.append(key)
    if encoded:
        out[_JSON_ATTRS] = json.dumps(encoded)
    return out


def _decode_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    attrs = dict(attrs)
    encoded = json.loads(attrs.pop(_JSON_ATTRS, "[]"))
    for key in encoded:
        attrs[key] = json.loads(attrs[key])
    return attrs


def _map_all_attrs(ds: xr.Dataset, fn: Callable[[dict], dict]) -> xr.Dataset:
    ds = ds.copy(deep=False)
    ds.attrs = fn(ds.attrs)
    for name in list(ds.variables):
        ds[name].attrs = fn(ds[name].attrs)
    return ds


def _atomic_target(
    path: Path, *, copy_existing: bool = False, size_hint: int | None = None
):
    """Yield a temporary path beside ``path``; move it over ``path`` on success.

    See :func:`neuronmf.io._atomic.atomic_path` (the one atomic-write helper: a new
    file ends with the user's umask mode, ``0o666 & ~umask``; extending a file
    holds a lock across copy, extend and rename; free space is checked).
    """
    return atomic_path(path, copy_existing=copy_existing, size_hint=size_hint)


def _check_result(result: Any) -> xr.Dataset:
    if isinstance(result, xr.DataArray):
        name = result.name if result.name is not None else "data"
        ds = result.to_dataset(name=name)
        ds.attrs = {**result.attrs, _DATAARRAY_FLAG: str(name)}
        return ds
    if not isinstance(result, xr.Dataset):
        raise input_error(
            "result",
            "an xarray.Dataset (or DataArray)",
            type(result).__name__,
            "Pass the Dataset a neuronmf function returned.",
        )
    return result


# -------------------------------------------------------------------------- NetCDF
def save_netcdf(result: xr.Dataset | xr.DataArray, path: str | os.PathLike) -> Path:
    """Write a result Dataset to NetCDF-4 (HDF5) atomically.

    Parameters
    ----------
    result : xarray.Dataset or xarray.DataArray
        Any neuronmf result (or labelled data). Attributes that NetCDF cannot
        hold (dicts, lists, bools, None) are stored as JSON text and restored by
        :func:`load_result`.
    path : path-like
        Destination, conventionally ending in ``.nc``. An existing file is
        replaced only once the new one is complete.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray as xr
    >>> ds = xr.Dataset({"synergies": (("muscle", "synergy"), np.eye(2))},
    ...                 attrs={"rank": 2, "penalties": {"l1_W": 0.0}, "ok": True})
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "res.nc"
    >>> _ = save_netcdf(ds, p)
    >>> back = load_result(p)
    >>> back.identical(ds), back.attrs["penalties"], back.attrs["ok"]
    (True, {'l1_W': 0.0}, True)
    """
    ds = _map_all_attrs(_check_result(result), _encode_attrs)
    path = Path(path)
    encoding = _netcdf_encoding(ds)
    if ds.nbytes <= max(NETCDF_IN_MEMORY_MAX_BYTES, _free_memory() // 2):
        # Build the whole file in memory, then write its bytes: HDF5 never sees a
        # failing disk (when a write failed, HDF5/h5netcdf crashed the process
        # with SIGSEGV while closing the file). Costs the compressed file's size.
        data = ds.to_netcdf(engine="h5netcdf", encoding=encoding)
        write_atomic(path, data)
        return path
    # Larger than half the free memory: HDF5 writes the file itself, after a
    # check that the uncompressed size (an upper bound) fits on the disk.
    with _atomic_target(path, size_hint=ds.nbytes) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
    return path


def _free_memory() -> int:
    """Bytes of memory available now (0 where it cannot be told)."""
    from neuronmf.io._common import available_memory

    return available_memory()


def _chunk_shape(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """Chunks of at most :data:`_NETCDF_CHUNK_BYTES`, trailing axes kept whole."""
    chunks = list(shape)
    for axis in range(len(chunks)):
        if int(np.prod(chunks)) * itemsize <= _NETCDF_CHUNK_BYTES:
            break
        rest = int(np.prod(chunks[axis + 1 :])) * itemsize
        chunks[axis] = max(1, min(shape[axis], _NETCDF_CHUNK_BYTES // max(rest, 1)))
    return tuple(chunks)


def _netcdf_encoding(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    """zlib (level 4, byte shuffle) with bounded chunks for every numeric array.

    Lossless: values, dtypes and attributes round-trip exactly. Mostly-zero arrays
    (segmentation footprints) shrink to little more than their non-zero values.
    """
    encoding: dict[str, dict[str, Any]] = {}
    for name, var in ds.variables.items():
        if var.ndim == 0 or var.dtype.kind not in "biuf" or var.nbytes < 4096:
            continue
        encoding[str(name)] = {
            "zlib": True,
            "complevel": 4,
            "shuffle": True,
            "chunksizes": _chunk_shape(var.shape, var.dtype.itemsize),
        }
    return encoding


def _load_netcdf(path: Path) -> xr.Dataset | xr.DataArray:
    try:
        ds = xr.load_dataset(path, engine="h5netcdf")
    except Exception as exc:
        raise input_error(
            f"file {path}",
            "a NetCDF-4 file written by neuronmf.io.save_netcdf",
            f"unreadable content ({type(exc).__name__}: {exc})",
            "Check the path; the file may be truncated or of another format.",
        ) from exc
    ds = _map_all_attrs(ds, _decode_attrs)
    flag = ds.attrs.pop(_DATAARRAY_FLAG, None)
    if flag is not None:
        da = ds[flag]
        da.attrs = dict(ds.attrs)
        return da
    return ds


# ----------------------------------------------------------------------------- NWB
def _kind(ds: xr.Dataset) -> str:
    v = set(ds.data_vars)
    if {"footprints", "traces"} <= v:
        return "segmentation"
    if {"synergies", "activations"} <= v:
        return "synergies"
    if {"membership", "activations"} <= v:
        return "assemblies"
    if {"predictions", "behavior"} <= v:
        return "decoding"
    raise input_error(
        "result",
        "a segmentation (footprints, traces), synergy (synergies, activations), "
        "assembly (membership, activations) or decoding (predictions, behavior) "
        "Dataset",
        f"variables {sorted(v)}",
        "Pass a Dataset returned by imaging.segment, synergies.extract, "
        "assemblies.detect or decoding.decode(...).to_dataset(), or save it with "
        "save_netcdf instead.",
    )


def _time_axis(ds: xr.Dataset, var: str) -> dict[str, Any]:
    """rate/starting_time when the time coordinate is regular, else timestamps."""
    n = ds[var].sizes["time"]
    if "time" in ds.coords:
        t = np.asarray(ds["time"].values, dtype=float)
    else:
        rate = float(ds.attrs.get("rate", 1.0))
        return {"starting_time": 0.0, "rate": rate}
    if n >= 2:
        dt = np.diff(t)
        if np.all(dt > 0) and np.allclose(dt, dt.mean(), rtol=1e-9, atol=0):
            return {"starting_time": float(t[0]), "rate": float(1.0 / dt.mean())}
        return {"timestamps": t}
    rate = float(ds.attrs.get("rate", 1.0))
    return {"starting_time": float(t[0]) if n else 0.0, "rate": rate}


def _provenance(
    ds: xr.Dataset, kind: str, extra: dict[str, Any], exclude: tuple[str, ...] = ()
) -> str:
    """``Provenance (JSON): {...}``; ``exclude``: coordinates stored elsewhere."""
    coords = {
        str(k): _jsonable(ds[k].values)
        for k in ds.coords
        if k != "time" and k not in exclude and ds[k].ndim == 1
    }
    info = {
        "writer": "neuronmf.io.save_nwb",
        "neuronmf_version": _version(),
        "kind": kind,
        "attrs": _jsonable(ds.attrs),
        "coords": coords,
        "dims": {str(k): list(map(str, ds[k].dims)) for k in ds.data_vars},
        **extra,
    }
    return _PROV + json.dumps(info, allow_nan=True)


def _parse_provenance(description: str) -> dict[str, Any] | None:
    if not isinstance(description, str) or _PROV not in description:
        return None
    try:
        info = json.loads(description.split(_PROV, 1)[1])
    except json.JSONDecodeError:
        return None
    return info if info.get("writer") == "neuronmf.io.save_nwb" else None


def unknown_subject(description: str | None = None):
    """A pynwb ``Subject`` that says honestly that the subject is not known.

    DANDI and nwbinspector require a subject with sex and age; neuronmf does not
    invent them: ``subject_id="unknown"``, ``sex="U"`` (unknown) and the open age
    range ``"P0D/"`` (any age). Pass ``subject=`` to the writers to record the
    real one.
    """
    from pynwb.file import Subject

    return Subject(
        subject_id="unknown",
        sex="U",
        age="P0D/",
        description=description
        or "Subject not recorded by neuronmf; pass subject= to record it.",
    )


def _new_nwbfile(
    *,
    session_description: str,
    identifier: str | None,
    session_start_time: datetime | None,
    **kwargs: Any,
):
    from pynwb import NWBFile

    start = session_start_time or datetime.now(UTC)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    subject = kwargs.pop("subject", None)
    if subject is None:
        subject = unknown_subject()
    elif isinstance(subject, dict):
        from pynwb.file import Subject

        subject = Subject(**subject)
    kwargs.setdefault("keywords", ["neuronmf"])
    return NWBFile(
        subject=subject,
        session_description=session_description,
        identifier=identifier or str(uuid.uuid4()),
        session_start_time=start,
        **kwargs,
    )


def write_nwb_atomic(
    path: str | os.PathLike,
    add: Callable[[Any], Callable[[Any], None] | None],
    *,
    session_description: str = "Results computed with neuronmf.",
    identifier: str | None = None,
    session_start_time: datetime | None = None,
    overwrite: bool = False,
    size_hint: int | None = None,
    **nwbfile_kwargs: Any,
) -> Path:
    """Create or extend an NWB file atomically; ``add(nwbfile)`` adds the content.

    A new file gets ``session_description``, a random UUID ``identifier`` (unless
    given) and a timezone-aware ``session_start_time`` (now, UTC, unless given).
    An existing file is copied beside itself, opened in mode ``"a"``, extended and
    moved back over the original; with ``overwrite=True`` it is replaced by a new
    file instead. If anything fails the original is untouched.

    ``add`` may return a callable ``finish(h5file)``: it is called once pynwb has
    written and closed the file, with the (still temporary) file open in h5py
    mode ``"r+"``, to fill datasets too large to build in memory (the pixel masks
    of a large segmentation are streamed this way).

    The whole update (existence check, copy, extension, rename) holds an
    exclusive lock on ``path`` (:func:`neuronmf.io._atomic.file_lock`): a second
    process adding to the same file waits, then extends the first one's result,
    so neither is lost. ``size_hint`` (bytes about to be added) is checked
    against the free space before anything is written.
    """
    path = Path(path)
    with file_lock(path):  # held from the existence check to the rename
        return _write_nwb_locked(
            path,
            add,
            session_description=session_description,
            identifier=identifier,
            session_start_time=session_start_time,
            overwrite=overwrite,
            size_hint=size_hint,
            **nwbfile_kwargs,
        )


def _write_nwb_locked(
    path: Path,
    add: Callable[[Any], Callable[[Any], None] | None],
    *,
    session_description: str,
    identifier: str | None,
    session_start_time: datetime | None,
    overwrite: bool,
    size_hint: int | None,
    **nwbfile_kwargs: Any,
) -> Path:
    from pynwb import NWBHDF5IO

    append = path.exists() and not overwrite
    if append:
        import h5py

        if not h5py.is_hdf5(path):
            raise input_error(
                f"existing file {path}",
                "an NWB (HDF5) file to add results to",
                "a file that is not HDF5",
                "Choose another path, or pass overwrite=True to replace it.",
            )
    with _atomic_target(path, copy_existing=append, size_hint=size_hint) as tmp:
        if append:
            with NWBHDF5IO(str(tmp), mode="a") as io:
                nwbfile = io.read()
                finish = add(nwbfile)
                io.write(nwbfile)
        else:
            nwbfile = _new_nwbfile(
                session_description=session_description,
                identifier=identifier,
                session_start_time=session_start_time,
                **nwbfile_kwargs,
            )
            finish = add(nwbfile)
            with NWBHDF5IO(str(tmp), mode="w") as io:
                io.write(nwbfile)
        if callable(finish):
            import h5py

            with h5py.File(tmp, "r+") as f:
                finish(f)
    return path


def _free_name(container, base: str, explicit: bool, where: str) -> str:
    taken = set(container) if container is not None else set()
    if base not in taken:
        return base
    if explicit:
        raise input_error(
            f"name {base!r}",
            f"not yet used in {where}",
            f"existing names {sorted(taken)}",
            "Pass another name=.",
        )
    i = 2
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"


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

    :func:`_add_segmentation` writes ``pixel_mask`` as an empty resizable dataset
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


def _add_segmentation(
    nwbfile, ds: xr.Dataset, name: str | None, source
) -> Callable[[Any], None] | None:
    """Add a segmentation to ``nwbfile``; returns the pixel-mask filler, if any.

    Footprints go to ``image_mask`` (dense, (roi, x, y), float64) while that
    array is at most :data:`DENSE_IMAGE_MASK_MAX_BYTES`, and to ``pixel_mask``
    when it would be larger or when the footprints are a dask array. The pixel
    masks are written after pynwb has written the file, one neuron (or one dask
    chunk) at a time, by the returned ``finish(h5file)`` (see
    :func:`write_nwb_atomic`), so the footprints are never all in memory.
    """
    from hdmf.backends.hdf5.h5_utils import H5DataIO
    from hdmf.common import VectorData, VectorIndex
    from pynwb.base import Images
    from pynwb.image import GrayscaleImage
    from pynwb.ophys import (
        DfOverF,
        Fluorescence,
        ImageSegmentation,
        OpticalChannel,
        PlaneSegmentation,
    )

    fp = ds["footprints"]
    ydim, xdim = fp.dims[1], fp.dims[2]
    fp = fp.transpose("neuron", ydim, xdim)
    n, ny, nx = (int(s) for s in fp.shape)
    dense_bytes = n * ny * nx * np.dtype(float).itemsize
    pixel = fp.chunks is not None or dense_bytes > DENSE_IMAGE_MASK_MAX_BYTES
    pixel = pixel or n == 0  # an empty table needs typed (pixel-path) columns
    traces = np.asarray(ds["traces"].transpose("time", "neuron").values)
    timing = _time_axis(ds, "traces")

    ophys = nwbfile.processing.get("ophys")
    if ophys is None:
        ophys = nwbfile.create_processing_module(
            "ophys", "Optical physiology processed data."
        )
    if nwbfile.imaging_planes:
        plane = next(iter(nwbfile.imaging_planes.values()))
    else:
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
        plane = nwbfile.create_imaging_plane(
            name="ImagingPlane",
            optical_channel=channel,
            device=device,
            description="Imaging plane of the segmented movie.",
            excitation_lambda=float(ds.attrs.get("excitation_lambda", np.nan)),
            indicator=str(ds.attrs.get("indicator", "unknown")),
            location=str(ds.attrs.get("location", "unknown")),
            imaging_rate=float(rate) if rate else None,
        )
    segs = [
        c for c in ophys.data_interfaces.values() if isinstance(c, ImageSegmentation)
    ]
    if segs:
        imgseg = segs[0]
    else:
        imgseg = ImageSegmentation(name="ImageSegmentation")
        ophys.add(imgseg)
    ps_name = _free_name(
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
        masks = np.asarray(fp.transpose("neuron", xdim, ydim).values, dtype=float)
        ps = imgseg.create_plane_segmentation(
            name=ps_name,
            description="Neurons found by neuronmf (footprints as image masks, "
            "stored (roi, x, y)). " + _provenance(ds, "segmentation", extra),
            imaging_plane=plane,
        )
        for k in per_neuron:
            ps.add_column(name=k, description=f"neuronmf per-neuron value {k!r}.")
        for i in range(n):
            row = {k: ds[k].values[i].item() for k in per_neuron}
            ps.add_roi(image_mask=masks[i], **row)
        finish = None
    else:
        # placeholders filled by ``finish`` once pynwb has written the file:
        # pynwb/hdmf would turn a compound dataset into a Python list of tuples
        # (costly in memory and time per pixel: docs/benchmarks.md, "NWB pixel
        # masks"), so the rows are streamed with h5py
        dtype = _pixel_mask_dtype()
        pm = VectorData(
            name="pixel_mask",
            description="Pixel masks for each ROI: (x, y, weight) of its non-zero "
            "pixels.",
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
            "(x, y) field of view). " + _provenance(ds, "segmentation", extra),
            imaging_plane=plane,
            id=list(range(n)),
            columns=columns,
        )
        imgseg.add_plane_segmentation(ps)
        finish = _pixel_mask_filler(
            fp, f"processing/{ophys.name}/{imgseg.name}/{ps_name}"
        )

    rois = ps.create_roi_table_region(
        region=list(range(n)), description="All neurons found by neuronmf."
    )
    fl = ophys.data_interfaces.get("Fluorescence")
    if fl is None:
        fl = Fluorescence(name="Fluorescence")
        ophys.add(fl)
    rrs_name = _free_name(fl.roi_response_series, ps_name, False, "Fluorescence")
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
            name=_free_name(dff.roi_response_series, ps_name, False, "DfOverF"),
            data=np.asarray(ds["dff"].transpose("time", "neuron").values),
            rois=rois2,
            unit="n.a.",
            description=f"neuronmf ΔF/F (time, roi) of {ps_name}.",
            **timing,
        )
    images = [
        k for k in ("background", "baseline") if k in ds and ds[k].dims == (ydim, xdim)
    ]
    if images:
        imgs = Images(
            name=_free_name(ophys.data_interfaces, f"{ps_name}Images", False, "ophys"),
            description=f"neuronmf background images of {ps_name}, stored (x, y).",
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
    return finish


def _add_factors(nwbfile, ds: xr.Dataset, kind: str, name, source) -> None:
    from hdmf.common import DynamicTable
    from pynwb import TimeSeries

    loading_var = "synergies" if kind == "synergies" else "membership"
    loadings = ds[loading_var]
    row_dim, comp_dim = loadings.dims
    acts = ds["activations"].transpose("time", comp_dim)
    mod_name = _free_name(
        nwbfile.processing, name or kind, name is not None, "nwbfile.processing"
    )
    extra = {
        "loading_var": loading_var,
        "row_dim": row_dim,
        "component_dim": comp_dim,
        "source": str(source) if source is not None else None,
    }
    what = "Muscle synergies" if kind == "synergies" else "Neural assemblies"
    module = nwbfile.create_processing_module(
        mod_name,
        f"{what} computed with neuronmf {_version()}. " + _provenance(ds, kind, extra),
    )
    labels = (
        [str(v) for v in loadings[row_dim].values]
        if row_dim in ds.coords
        else ([str(i) for i in range(loadings.shape[0])])
    )
    table = DynamicTable(
        name="loadings",
        description=f"{what}: one row per {row_dim}; column 'weights' holds the "
        f"loadings on each {comp_dim} (columns in order {comp_dim} = "
        f"{[str(c) for c in ds[comp_dim].values] if comp_dim in ds.coords else ''}).",
    )
    table.add_column(name=row_dim, description=f"{row_dim} label.")
    table.add_column(name="weights", description=f"Loadings ({row_dim}, {comp_dim}).")
    values = np.asarray(loadings.values, dtype=float)
    for i, label in enumerate(labels):
        table.add_row(**{row_dim: label, "weights": values[i]})
    module.add(table)
    module.add(
        TimeSeries(
            name="activations",
            data=np.asarray(acts.values, dtype=float),
            unit="a.u.",
            description=f"Activations (time, {comp_dim}) of the {what.lower()}.",
            **_time_axis(ds, "activations"),
        )
    )


_DECODING_SERIES = {"predictions": "predicted", "behavior": "observed"}
_DECODING_TABLES = {"fold": "folds"}
_DECODING_COLUMNS = {
    "scores": "Test score of each outer fold ({metric}).",
    "chosen_rank": "NMF rank chosen by the inner loop of each outer fold "
    "(0: raw features).",
    "chosen_alpha": "GLM penalty chosen by the inner loop of each outer fold.",
    "rank_scores": "Inner-loop {metric} of each rank at its best penalty, "
    "training data only; 2-D (fold, rank), ranks in order {rank}.",
    "null_scores": "Mean test {metric} of each circularly shifted repetition "
    "(behaviour shifted against activity).",
}


def _add_decoding(nwbfile, ds: xr.Dataset, name, source) -> None:
    from hdmf.common import DynamicTable
    from pynwb import TimeSeries
    from pynwb.behavior import BehavioralTimeSeries

    for var in _DECODING_SERIES:
        if ds[var].dims[:1] != ("time",):
            raise input_error(
                f"decoding variable {var!r}",
                "time as its first dimension",
                f"dims {ds[var].dims}",
                "Pass the Dataset of DecodingResult.to_dataset().",
            )
    mod_name = _free_name(
        nwbfile.processing, name or "decoding", name is not None, "nwbfile.processing"
    )
    n_time = ds.sizes["time"]
    if "time" in ds.coords:
        t = np.asarray(ds["time"].values, dtype=float)
    else:
        t = np.arange(n_time) / float(ds.attrs.get("rate", 1.0))
    attrs = ds.attrs
    behavior_name = str(attrs.get("behavior_name") or "behaviour")
    metric = str(attrs.get("metric", "score"))
    fmt = {
        "metric": metric,
        "rank": [_jsonable(v) for v in ds["rank"].values] if "rank" in ds else "",
    }

    time_vars = [k for k in _DECODING_SERIES if k in ds.data_vars]
    time_coords = [str(k) for k in ds.coords if k != "time" and ds[k].dims == ("time",)]
    tables: dict[str, dict[str, Any]] = {}
    scalars: dict[str, Any] = {}
    for k in ds.data_vars:
        if k in time_vars:
            continue
        dims = ds[k].dims
        if not dims:
            scalars[str(k)] = _jsonable(ds[k].values)
            continue
        if dims[0] == "time":
            time_coords.append(str(k))  # another per-bin variable: its own series
            continue
        entry = tables.setdefault(
            dims[0],
            {"table": _DECODING_TABLES.get(dims[0], dims[0]), "vars": []},
        )
        entry["vars"].append(str(k))
    written_tables = {d: e for d, e in tables.items() if ds.sizes[d] > 0}
    names = ["DecodedBehavior", *time_coords, *(e["table"] for e in tables.values())]
    if len(set(names)) != len(names):
        raise input_error(
            "decoding result",
            "variable/coordinate names that do not collide in NWB",
            f"names {names}",
            "Rename the clashing variables, or save it with save_netcdf instead.",
        )
    extra = {
        "series": {v: _DECODING_SERIES[v] for v in time_vars},
        "time_series": time_coords,
        "tables": tables,
        "scalars": scalars,
        "sizes": {str(d): int(n) for d, n in ds.sizes.items()},
        "dtypes": {str(k): str(ds[k].dtype) for k in ds.variables},
        "var_attrs": {
            str(k): _jsonable(ds[k].attrs) for k in ds.variables if ds[k].attrs
        },
        "coord_dims": {str(k): list(map(str, ds[k].dims)) for k in ds.coords},
        "time_coord": "time" in ds.coords,
        "source": str(source) if source is not None else None,
    }
    summary = ""
    if isinstance(attrs.get("score"), int | float | np.number):
        summary += f" {metric} = {float(attrs['score']):.3g};"
    if isinstance(attrs.get("p_value"), int | float | np.number) and np.isfinite(
        attrs["p_value"]
    ):
        summary += f" circularly shifted null: p = {float(attrs['p_value']):.3g};"
    where = "; ".join(
        f"{', '.join(e['vars'])} in the table '{e['table']}'"
        for e in written_tables.values()
    )
    provenance = _provenance(ds, "decoding", extra, exclude=tuple(time_coords))
    module = nwbfile.create_processing_module(
        mod_name,
        f"Out-of-sample decoding of '{behavior_name}' from neural activity with "
        f"neuronmf {_version()} (model {attrs.get('model', '?')}, features "
        f"{attrs.get('features', '?')}; nested, blocked cross-validation;{summary} "
        f"{where}). Decoding measures correlation between activity and behaviour, "
        "not causation. " + provenance,
    )

    def unit(var: str) -> str:
        return str(ds[var].attrs.get("units", "a.u."))

    bts = BehavioralTimeSeries(name="DecodedBehavior")
    stamps: list[Any] = []  # the first series holds the timestamps, the others link

    def timestamps():
        return stamps[0] if stamps else t

    texts = {
        "predictions": f"Out-of-sample prediction of '{behavior_name}' (NaN where a "
        "bin was in no test block or in a gap).",
        "behavior": f"The decoded behaviour '{behavior_name}' on the activity bins.",
    }
    for var in time_vars:
        series = TimeSeries(
            name=_DECODING_SERIES[var],
            data=np.asarray(ds[var].values),
            unit=unit(var),
            description=texts[var],
            timestamps=timestamps(),
        )
        bts.add_timeseries(series)
        stamps.append(series)
    module.add(bts)
    for k in time_coords:
        series = TimeSeries(
            name=k,
            data=np.asarray(ds[k].values),
            unit=unit(k) if k in ds.data_vars else "n.a.",
            description="Outer fold whose test block predicted each bin (-1: none)."
            if k == "test_fold"
            else f"neuronmf per-bin value {k!r} of the decoding result.",
            timestamps=timestamps(),
        )
        module.add(series)
        stamps.append(series)
    for d, entry in written_tables.items():
        n = ds.sizes[d]
        table = DynamicTable(
            name=entry["table"],
            description=f"Decoding results, one row per {d}.",
            id=list(range(n)),
        )
        if d in ds.coords:
            table.add_column(
                name=d, description=f"{d} label.", data=np.asarray(ds[d].values)
            )
        for k in entry["vars"]:
            table.add_column(
                name=k,
                description=_DECODING_COLUMNS.get(
                    k, f"neuronmf decoding variable {k!r} {tuple(ds[k].dims)}."
                ).format(**fmt),
                data=np.asarray(ds[k].values),
            )
        module.add(table)


def save_nwb(
    result: xr.Dataset,
    path: str | os.PathLike,
    *,
    source: str | os.PathLike | None = None,
    name: str | None = None,
    session_description: str = "Results computed with neuronmf.",
    identifier: str | None = None,
    session_start_time: datetime | None = None,
    subject: Any = None,
    overwrite: bool = False,
    **nwbfile_kwargs: Any,
) -> Path:
    """Write a segmentation, synergy, assembly or decoding result into an NWB file.

    Parameters
    ----------
    result : xarray.Dataset
        A result with ``footprints`` + ``traces`` (imaging), ``synergies`` +
        ``activations`` (muscle synergies), ``membership`` + ``activations``
        (assemblies) or ``predictions`` + ``behavior`` (decoding, from
        ``DecodingResult.to_dataset()``); the kind is detected from the
        variables. The layout of each kind is described in the module docstring
        of :mod:`neuronmf.io.writers`; a decoding result round-trips exactly
        (every variable, coordinate, dtype and attribute). Segmentation
        footprints larger than :data:`DENSE_IMAGE_MASK_MAX_BYTES` as dense
        float64, or given as a dask array (as :func:`neuronmf.imaging.segment`
        returns them above 1 GiB), are written as NWB pixel masks one neuron
        (or dask chunk) at a time, never all dense in memory.
    path : path-like
        NWB file. A new file is created; an existing one is extended (on a copy
        that replaces it only once written, so a failure leaves it intact).
    source : path-like, optional
        The input file the result was computed from, recorded as provenance.
    name : str, optional
        Name of the PlaneSegmentation (imaging) or processing module (synergies,
        assemblies, decoding). Defaults to ``"PlaneSegmentation"`` /
        ``"synergies"`` / ``"assemblies"`` / ``"decoding"``, suffixed ``_2``,
        ``_3`` ... when taken. An explicit name that is taken is an error.
    session_description, identifier, session_start_time
        Used when a new file is created (identifier: a random UUID;
        start time: now, UTC; a naive datetime is taken as UTC).
    subject : pynwb.file.Subject or dict, optional
        Subject of a new file. Default: a subject marked unknown (id
        ``"unknown"``, sex ``"U"``, age ``"P0D/"``), never invented values.
    overwrite : bool
        Replace an existing file instead of adding to it.
    **nwbfile_kwargs
        Further ``pynwb.NWBFile`` fields for a new file (``experimenter``,
        ``institution``, ``lab``, ``keywords``, ...).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray as xr
    >>> ds = xr.Dataset(
    ...     {"synergies": (("muscle", "synergy"), np.random.rand(4, 2)),
    ...      "activations": (("synergy", "time"), np.random.rand(2, 50))},
    ...     coords={"muscle": ["TA", "SO", "GM", "VL"], "time": np.arange(50) / 100})
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "res.nwb"
    >>> _ = save_nwb(ds, p)
    >>> back = load_result(p)
    >>> back["muscle"].values.tolist(), back["activations"].shape
    (['TA', 'SO', 'GM', 'VL'], (2, 50))
    """
    ds = _check_result(result)
    kind = _kind(ds)

    def add(nwbfile) -> Callable[[Any], None] | None:
        if kind == "segmentation":
            return _add_segmentation(nwbfile, ds, name, source)
        if kind == "decoding":
            _add_decoding(nwbfile, ds, name, source)
        else:
            _add_factors(nwbfile, ds, kind, name, source)
        return None

    return write_nwb_atomic(
        path,
        add,
        session_description=session_description,
        identifier=identifier,
        session_start_time=session_start_time,
        overwrite=overwrite,
        size_hint=_nwb_size_hint(ds),
        subject=subject,
        **nwbfile_kwargs,
    )


def _nwb_size_hint(ds: xr.Dataset) -> int:
    """Bytes an NWB write of ``ds`` needs at least (its data as stored)."""
    if _kind(ds) != "segmentation":
        return sum(int(v.nbytes) for v in ds.data_vars.values())
    others = sum(int(v.nbytes) for k, v in ds.data_vars.items() if k != "footprints")
    fp = ds["footprints"]
    dense = fp.chunks is None and fp.size * 8 <= DENSE_IMAGE_MASK_MAX_BYTES
    # a dense image_mask is float64; a pixel mask (12 bytes per non-zero pixel)
    # is streamed and its size unknown until written
    return others + (fp.size * 8 if dense else 0)


# ------------------------------------------------------------------------- reading
def _ts_time(series) -> np.ndarray:
    n = series.data.shape[0]
    if series.timestamps is not None:
        return np.asarray(series.timestamps[:], dtype=float)
    return float(series.starting_time or 0.0) + np.arange(n) / float(series.rate)


def _coord(info: dict, dim: str, n: int) -> np.ndarray:
    values = info["coords"].get(dim)
    return np.asarray(values) if values is not None else np.arange(n)


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


def _read_segmentation(ps, ophys, info: dict) -> xr.Dataset:
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
        "neuron": _coord(info, "neuron", n),
        ydim: _coord(info, ydim, fp.shape[1]),
        xdim: _coord(info, xdim, fp.shape[2]),
        "time": _ts_time(rrs),
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
    ds = xr.Dataset(data, coords=coords)
    ds.attrs = dict(info.get("attrs", {}))
    return ds


def _read_factors(module, info: dict) -> xr.Dataset:
    table = module["loadings"]
    series = module["activations"]
    row_dim, comp_dim = info["row_dim"], info["component_dim"]
    weights = np.asarray(table["weights"][:], dtype=float)
    if weights.ndim == 1:
        weights = weights[:, None]
    acts = np.asarray(series.data[:]).T
    coords = {
        row_dim: _coord(info, row_dim, weights.shape[0]),
        comp_dim: _coord(info, comp_dim, weights.shape[1]),
        "time": _ts_time(series),
    }
    ds = xr.Dataset(
        {
            info["loading_var"]: ((row_dim, comp_dim), weights),
            "activations": ((comp_dim, "time"), acts),
        },
        coords=coords,
    )
    ds.attrs = dict(info.get("attrs", {}))
    return ds


def _read_decoding(module, info: dict) -> xr.Dataset:
    sizes = info["sizes"]
    dtypes = info.get("dtypes", {})
    dims = info["dims"]

    def shaped(var: str, values) -> np.ndarray:
        arr = np.asarray(values)
        shape = tuple(sizes[d] for d in dims[var])
        return arr.reshape(shape).astype(dtypes.get(var, arr.dtype), copy=False)

    bts = module["DecodedBehavior"]
    data: dict[str, Any] = {}
    t = None
    for var, series_name in info["series"].items():
        series = bts[series_name]
        data[var] = (tuple(dims[var]), shaped(var, series.data[:]))
        if t is None:
            t = _ts_time(series)
    coords: dict[str, Any] = {}
    for k in info["time_series"]:
        series = module[k]
        if t is None:
            t = _ts_time(series)
        if k in dims:
            data[k] = (tuple(dims[k]), shaped(k, series.data[:]))
        else:
            values = np.asarray(series.data[:])
            coords[k] = ("time", values.astype(dtypes.get(k, values.dtype)))
    if info.get("time_coord", True) and t is not None:
        coords["time"] = t.astype(dtypes.get("time", float), copy=False)
    for d, entry in info["tables"].items():
        table = module.data_interfaces.get(entry["table"]) if sizes[d] else None
        for k in entry["vars"]:
            if table is None:
                values = np.zeros(0, dtype=dtypes.get(k, float))
            else:
                values = table[k][:]
            data[k] = (tuple(dims[k]), shaped(k, values))
    for k, v in info.get("scalars", {}).items():
        data[k] = ((), np.asarray(v, dtype=dtypes.get(k)))
    coord_dims = info.get("coord_dims", {})
    for k, v in info["coords"].items():
        arr = np.asarray(v) if len(v) else np.zeros(0, dtype=dtypes.get(k, float))
        dim = tuple(coord_dims.get(k, [k]))
        coords[k] = (dim, arr.astype(dtypes.get(k, arr.dtype), copy=False))
    ds = xr.Dataset(data, coords=coords)
    for k, a in info.get("var_attrs", {}).items():
        if k in ds.variables:
            ds[k].attrs = dict(a)
    ds.attrs = dict(info.get("attrs", {}))
    return ds


def _nwb_results(nwbfile) -> dict[str, tuple[Any, Any, dict]]:
    """neuronmf results in an NWB file: name → (container, module, provenance)."""
    from pynwb.ophys import ImageSegmentation

    found: dict[str, tuple[Any, Any, dict]] = {}
    for mname, module in nwbfile.processing.items():
        info = _parse_provenance(module.description)
        if info is not None:
            found[mname] = (module, module, info)
            continue
        for c in module.data_interfaces.values():
            if isinstance(c, ImageSegmentation):
                for pname, ps in c.plane_segmentations.items():
                    pinfo = _parse_provenance(ps.description)
                    if pinfo is not None:
                        found[pname] = (ps, module, pinfo)
    return found


def _load_nwb(path: Path, name: str | None) -> xr.Dataset:
    from pynwb import NWBHDF5IO

    try:
        io = NWBHDF5IO(str(path), mode="r")
        nwbfile = io.read()
    except Exception as exc:
        raise input_error(
            f"file {path}",
            "a readable NWB file",
            f"unreadable content ({type(exc).__name__}: {exc})",
            "Check the path; the file may be truncated or not NWB.",
        ) from exc
    try:
        found = _nwb_results(nwbfile)
        if not found:
            raise input_error(
                f"NWB file {path}",
                "a file holding a result written by neuronmf.io.save_nwb",
                "no neuronmf result",
                "Use neuronmf.io.load_activity/load_emg to read other content.",
            )
        if name is None:
            if len(found) > 1:
                raise input_error(
                    f"the result to read from {path}",
                    "chosen with name= when the file holds several",
                    f"candidates {sorted(found)}",
                    "Pass name=<one of them>.",
                )
            name = next(iter(found))
        if name not in found:
            raise input_error(
                f"name for {path}",
                "one of " + ", ".join(sorted(found)),
                name,
                "Pass one of the listed names.",
            )
        container, module, info = found[name]
        if info["kind"] == "segmentation":
            return _read_segmentation(container, module, info)
        if info["kind"] == "decoding":
            return _read_decoding(module, info)
        return _read_factors(module, info)
    finally:
        io.close()


def load_result(path: str | os.PathLike, *, name: str | None = None) -> xr.Dataset:
    """Read a result written by :func:`save_netcdf` or :func:`save_nwb`.

    Parameters
    ----------
    path : path-like
        A ``.nc`` file (NetCDF; every variable, coordinate and attribute comes
        back as written) or an NWB file (the variables :func:`save_nwb` stores:
        footprints, traces, per-neuron columns, ΔF/F and background images for
        imaging (footprints from pixel masks come back as NumPy up to
        :data:`DENSE_FOOTPRINTS_READ_MAX_BYTES`, 1 GiB, else as a dask array
        with one chunk per neuron); loadings and activations for
        synergies/assemblies; every variable of a decoding result; with the
        original coordinates and attributes from the provenance).
    name : str, optional
        For NWB files holding several neuronmf results: the PlaneSegmentation
        or processing-module name to read.

    Returns
    -------
    xarray.Dataset
        (an ``xarray.DataArray`` if a DataArray was saved with save_netcdf).

    Examples
    --------
    See :func:`save_netcdf` and :func:`save_nwb`.
    """
    path = Path(path)
    if not path.is_file():
        raise input_error(
            "path", "an existing file", str(path), "Check the file name and folder."
        )
    import h5py

    if not h5py.is_hdf5(path):
        raise input_error(
            f"file {path}",
            "a NetCDF-4 or NWB (HDF5) file",
            "a file that is not HDF5",
            "Pass a file written by save_netcdf or save_nwb.",
        )
    from neuronmf.io._common import open_hdf5  # refuses links/storage outside

    with open_hdf5(path) as f:
        is_nwb = "nwb_version" in f.attrs or "general" in f
    from neuronmf.errors import InputError as _InputError

    try:
        if path.suffix.lower() == ".nc" or not is_nwb:
            return _load_netcdf(path)
        return _load_nwb(path, name)
    except _InputError:
        raise
    except (
        KeyError,
        ValueError,  # json.JSONDecodeError, conflicting sizes
        TypeError,
        AttributeError,
        IndexError,
        RecursionError,  # deeply nested JSON in an attribute
    ) as exc:  # a crafted or altered file: its metadata do not decode
        raise input_error(
            f"file {path}",
            "a result written by neuronmf.io.save_netcdf or save_nwb",
            f"malformed neuronmf metadata or a missing variable "
            f"({type(exc).__name__}: {str(exc)[:200]})",
            "The file was altered or not written by neuronmf; write it again.",
        ) from None
