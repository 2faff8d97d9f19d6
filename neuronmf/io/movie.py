"""Movie loader: NWB, HDF5, TIFF (file or folder of frames), Zarr → (time, y, x).

Large movies are never read whole: they come back dask-backed, reading from the
file opened read-only. Chunks hold whole frames (chunked along time), unless an
HDF5 file is itself chunked along space with long time extents (e.g. on-disk
chunks of 2,000 frames × 64 × 64 px): then whole-frame chunks would each span the
entire movie, so the dask chunks follow the on-disk tiles instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neuronmf.errors import InputError, input_error
from neuronmf.io._common import (
    CHUNK_BYTES,
    LAZY_THRESHOLD_BYTES,
    as_path,
    base_attrs,
    check_ndim,
    check_rate,
    choose,
    detect_format,
    load_npy,
    numeric_data,
    open_hdf5,
    open_tiff,
    open_zarr,
    tiff_files,
    time_coord,
)

__all__ = ["load_movie"]


def load_movie(
    path: str | os.PathLike,
    *,
    series: str | None = None,
    rate: float | None = None,
    lazy: bool | None = None,
) -> xr.DataArray:
    """Load a calcium-imaging movie as a (time, y, x) DataArray.

    Parameters
    ----------
    path : str or path-like
        An NWB file (``TwoPhotonSeries``/``OnePhotonSeries``/``ImageSeries``), an
        HDF5 file, a multi-page TIFF, a folder of single-page TIFF frames (sorted
        by name, numbers in natural order), a Zarr store, or a ``.npy`` file.
    series : str, optional
        NWB: the series name or path; HDF5/Zarr/NPZ: the dataset path. None takes
        the only 3-D candidate.
    rate : float, optional
        Frame rate in Hz, for formats that do not store one (HDF5 without a
        ``rate`` attribute, TIFF, Zarr); checked against the file otherwise.
    lazy : bool, optional
        True: always dask-backed; False: read into memory; None (default): lazy
        when the movie is bigger than 1 GiB.

    Returns
    -------
    xarray.DataArray
        Dims ``(time, y, x)``, coords ``y``, ``x`` (pixel indices) and ``time``
        (seconds, only when a rate or timestamps are known); attrs ``rate`` (Hz, if
        known), ``source``, ``source_path``. NWB stores frames as (frames, x, y):
        they are transposed (lazily) to (time, y, x).

    Raises
    ------
    neuronmf.InputError
        Missing or unreadable file, missing or ambiguous series, not 3-D data,
        TIFF frames of different shapes, timestamps that disagree with the frames.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, tifffile
    >>> from neuronmf.io import load_movie
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "movie.tif"
    >>> tifffile.imwrite(p, np.zeros((4, 3, 5), np.uint16), photometric="minisblack")
    >>> mov = load_movie(p, rate=30.0, lazy=True)
    >>> mov.dims, mov.shape, mov.attrs["rate"], type(mov.data).__name__
    (('time', 'y', 'x'), (4, 3, 5), 30.0, 'Array')
    """
    p = as_path(path)
    rate = check_rate(rate)
    if lazy not in (None, True, False):
        raise input_error("lazy", "None, True or False", lazy)
    fmt = detect_format(p)
    readers = _MOVIE_READERS
    if fmt not in readers:
        raise input_error(
            f"movie file '{p}'",
            "NWB, HDF5, TIFF (file or folder of frames), Zarr or .npy",
            f"a {fmt} file",
        )
    data, times, file_rate, source_path, extra = readers[fmt](p, series)
    numeric_data(data.dtype, what=f"movie '{source_path or p.name}' in '{p}'")
    if rate is not None and file_rate is not None and abs(rate - file_rate) > 1e-3:
        raise input_error(
            "rate", f"consistent with the file's frame rate ({file_rate:g} Hz)", rate
        )
    fs = file_rate if file_rate is not None else rate
    if times is None and fs is not None:
        times = time_coord(data.shape[0], rate=fs)
    nbytes = int(np.prod(data.shape)) * np.dtype(data.dtype).itemsize
    use_lazy = nbytes > LAZY_THRESHOLD_BYTES if lazy is None else lazy
    data = _lazy(data) if use_lazy else _eager(data, p)
    coords: dict[str, Any] = {
        "y": np.arange(data.shape[1]),
        "x": np.arange(data.shape[2]),
    }
    if times is not None:
        coords["time"] = np.asarray(times, dtype=float)
    attrs = base_attrs(p, source_path, rate=fs, **extra)
    return xr.DataArray(
        data, dims=("time", "y", "x"), coords=coords, name="movie", attrs=attrs
    )


def _time_chunk(shape: tuple[int, ...], itemsize: int, on_disk: int = 1) -> int:
    frame = max(1, int(np.prod(shape[1:])) * itemsize)
    n = max(1, CHUNK_BYTES // frame)
    n = max(on_disk, (n // on_disk) * on_disk)
    return int(min(n, max(1, shape[0])))


def _lazy(data: Any):
    import dask.array as da

    if isinstance(data, da.Array):
        return data
    chunks = _time_chunk(data.shape, np.dtype(data.dtype).itemsize)
    meta = np.empty((0, 0, 0), dtype=data.dtype)
    return da.from_array(data, chunks=(chunks, -1, -1), asarray=False, meta=meta)


def _eager(data: Any, p: Path | None = None) -> np.ndarray:
    import dask.array as da

    try:
        if isinstance(data, da.Array):
            return data.compute()
        return np.asarray(data[()]) if hasattr(data, "shape") else np.asarray(data)
    except (OSError, ValueError, RuntimeError, KeyError, IndexError) as exc:
        if isinstance(exc, InputError):
            raise
        raise input_error(
            f"pixels of '{p}'",
            "readable",
            f"an error ({type(exc).__name__}: {exc})",
            "The file is probably corrupt; copy it again.",
        ) from None


class _Transposed:
    """A lazily transposed view (frames, x, y) → (frames, y, x) of an h5py dataset.

    dask slices it frame-chunk by frame-chunk, so only those frames are read.
    """

    def __init__(self, ds: Any):
        self.ds = ds
        t, x, y = ds.shape
        self.shape = (t, y, x)
        self.dtype = ds.dtype
        self.ndim = 3

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key,)
        key = key + (slice(None),) * (3 - len(key))
        t, yk, xk = key
        return np.asarray(self.ds[t, xk, yk]).swapaxes(-1, -2)


def _h5_chunks(shape: tuple[int, ...], itemsize: int, disk) -> tuple[int, ...]:
    """Dask chunks (time, a, b) for an HDF5 dataset with on-disk chunks ``disk``.

    Whole frames, a multiple of the on-disk time extent, about
    :data:`CHUNK_BYTES` each; but when one whole-frame chunk would exceed
    4 × :data:`CHUNK_BYTES` because the file is chunked along space with a long
    time extent, the on-disk tiles are grown (by whole multiples, keeping them
    aligned) up to :data:`CHUNK_BYTES`, so no chunk reads more than it needs.
    """
    on_disk = disk[0] if disk else 1
    n = _time_chunk(shape, itemsize, on_disk)
    frame = int(np.prod(shape[1:])) * itemsize
    if not disk or n * frame <= 4 * CHUNK_BYTES:
        return (n, shape[1], shape[2])
    t, a, b = on_disk, disk[1], disk[2]
    while True:
        grow_a = a < shape[1] and t * min(2 * a, shape[1]) * b * itemsize <= CHUNK_BYTES
        if grow_a:
            a = min(2 * a, shape[1])
        grow_b = b < shape[2] and t * a * min(2 * b, shape[2]) * itemsize <= CHUNK_BYTES
        if grow_b:
            b = min(2 * b, shape[2])
        if not (grow_a or grow_b):
            return (t, a, b)


def _h5_dask(ds: Any, transpose: bool = False):
    import dask.array as da

    chunks = _h5_chunks(ds.shape, ds.dtype.itemsize, ds.chunks)
    if transpose:  # the file is (frames, x, y)
        chunks = (chunks[0], chunks[2], chunks[1])
    src = _Transposed(ds) if transpose else ds
    meta = np.empty((0, 0, 0), dtype=ds.dtype)  # dask reads no pixel to guess it
    arr = da.from_array(src, chunks=chunks, asarray=False, lock=True, meta=meta)
    _SOURCES[arr.name] = (src, chunks[0])
    return arr


#: dask array name -> (array-like it reads, frames per chunk), for lazy_window
_SOURCES: dict[str, tuple[Any, int]] = {}


class _Window:
    """The (time, y, x) window ``ys``, ``xs`` of a 3-D array-like, read through it."""

    def __init__(self, src: Any, ys: slice, xs: slice):
        self.src, self.ys, self.xs = src, ys, xs
        self.shape = (src.shape[0], ys.stop - ys.start, xs.stop - xs.start)
        self.dtype = src.dtype
        self.ndim = 3

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key,)
        t, yk, xk = key + (slice(None),) * (3 - len(key))
        return self.src[t, _shifted(yk, self.ys), _shifted(xk, self.xs)]


def _shifted(key: slice, window: slice) -> slice:
    start, stop, step = key.indices(window.stop - window.start)
    return slice(window.start + start, window.start + stop, step)


def lazy_window(movie: xr.DataArray, y: slice, x: slice) -> xr.DataArray:
    """``movie.isel(y=y, x=x)`` whose reads touch only the window.

    A lazy HDF5/NWB movie of :func:`load_movie` is a dask array over the file;
    dask fuses one slice of it into the file reads, but not a slice of a slice
    (dask 2026.8), so a patch of ``movie.isel(...)`` read every frame whole:
    0.7–1.3 s per 104² × 3,000-frame patch of a 512² movie against 0.2–0.5 s
    for one slice. Here the window is cut from the file's dataset itself, so
    a later slice is again the only one. Any other movie: ``isel``.
    ``y`` and ``x`` are slices with a step of 1 (as ``valid_region`` gives).

    Examples
    --------
    >>> import numpy as np, h5py, pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.h5"
    >>> with h5py.File(p, "w") as f:
    ...     f["movie"] = np.arange(2 * 4 * 5, dtype=np.float32).reshape(2, 4, 5)
    >>> mov = load_movie(p, lazy=True)
    >>> win = lazy_window(mov, slice(1, 3), slice(2, 5))
    >>> bool((win.values == mov.values[:, 1:3, 2:5]).all()), win.x.values.tolist()
    (True, [2, 3, 4])
    """
    import dask.array as da

    for name, value in (("y", y), ("x", x)):
        if not isinstance(value, slice):
            raise input_error(
                name,
                "a slice of pixel indices",
                repr(value),
                "Pass e.g. slice(10, 500), as valid_region(reg) gives.",
            )
    found = _SOURCES.get(getattr(movie.data, "name", None))
    plain = movie.isel(y=y, x=x)
    if found is None or y.step not in (None, 1) or x.step not in (None, 1):
        return plain
    ys = slice(*y.indices(movie.shape[1])[:2])
    xs = slice(*x.indices(movie.shape[2])[:2])
    src, frames = found
    meta = np.empty((0, 0, 0), dtype=src.dtype)
    win = _Window(src, ys, xs)
    data = da.from_array(
        win, chunks=(frames, -1, -1), asarray=False, lock=True, meta=meta
    )
    return plain.copy(data=data)


# --------------------------------------------------------------------- NWB
def _from_nwb(p: Path, series: str | None):
    import pynwb

    from neuronmf.io.nwb import object_paths, open_nwb, series_times

    with open_nwb(p) as nwb:
        every = object_paths(nwb, pynwb.base.TimeSeries)
        cands = [
            k
            for k, v in every.items()
            if isinstance(v, pynwb.image.ImageSeries)
            and v.data is not None
            and len(getattr(v.data, "shape", ())) >= 3
        ]
        key = choose(
            cands,
            series,
            path=p,
            what="a movie (TwoPhotonSeries / OnePhotonSeries / ImageSeries)",
            available=list(every),
        )
        s = every[key]
        shape = tuple(getattr(s.data, "shape", ()))
        if getattr(s, "external_file", None) is not None and (
            not shape or shape[0] == 0
        ):
            raise input_error(
                f"movie series '{key}' in '{p}'",
                "stored inside the file",
                f"external files {list(s.external_file[:])}",
                "Load the external movie files directly.",
            )
        check_ndim(
            shape, (3,), what=f"movie series '{key}' in '{p}'", expect="(frames, x, y)"
        )
        times, fs = series_times(s, shape[0], path=p, where=key)
        if fs is None and times is None:
            plane = getattr(s, "imaging_plane", None)
            fs = getattr(plane, "imaging_rate", None) if plane is not None else None
        extra = {
            "neurodata_type": type(s).__name__,
            "units": s.unit,
            "conversion": float(s.conversion),
        }
        h5_name = s.data.name if hasattr(s.data, "name") else f"/{key}/data"
    f = open_hdf5(p)  # stays open as long as the dask graph references it
    return _h5_dask(f[h5_name], transpose=True), times, fs, key, extra


# -------------------------------------------------------------------- HDF5
def _from_hdf5(p: Path, series: str | None):
    import h5py

    f = open_hdf5(p)
    every: dict[str, Any] = {}
    f.visititems(
        lambda n, o: every.__setitem__(n, o) if isinstance(o, h5py.Dataset) else None
    )
    cands = [k for k, d in every.items() if d.ndim == 3]
    key = choose(
        cands, series, path=p, what="a 3-D (time, y, x) dataset", available=list(every)
    )
    ds = every[key]
    check_ndim(ds.shape, (3,), what=f"dataset '{key}' in '{p}'", expect="(time, y, x)")
    fs = None
    for attr in ("rate", "frame_rate", "fs", "sampling_rate", "imaging_rate"):
        if attr in ds.attrs:
            fs = check_rate(np.asarray(ds.attrs[attr]).item(), name=f"attr {attr}")
            break
    return _h5_dask(ds), None, fs, key, {}


# -------------------------------------------------------------------- TIFF
def _from_tiff(p: Path, series: str | None):
    import dask.array as da
    import tifffile

    with open_tiff(p) as tf:
        shape = tf.series[0].shape
    if len(shape) == 2:
        shape = (1, *shape)
    check_ndim(shape, (3,), what=f"TIFF '{p}'", expect="(frames, y, x) stack")
    try:
        store = tifffile.imread(p, aszarr=True)
        arr = da.from_zarr(store)
    except Exception as exc:
        raise input_error(
            f"file '{p}'", "a readable TIFF file", f"an error ({exc})"
        ) from None
    if arr.ndim == 2:
        arr = arr[None]
    n = _time_chunk(arr.shape, arr.dtype.itemsize)
    return arr.rechunk((n, -1, -1)), None, None, "", {}


def _read_frames(files: list[Path]) -> np.ndarray:
    import tifffile

    return np.stack([tifffile.imread(f) for f in files])


def _from_tiff_folder(p: Path, series: str | None):
    import dask
    import dask.array as da

    files = tiff_files(p)
    shapes = {}
    dtype = None
    for f in files:  # headers only: catches odd frames before any pixel is read
        with open_tiff(f) as tf:
            page = tf.pages.first
            shapes.setdefault(tuple(page.shape), f)
            dtype = dtype or page.dtype
    if len(shapes) > 1:
        raise input_error(
            f"TIFF frames in '{p}'",
            "all of one shape",
            ", ".join(f"{s} ({f.name})" for s, f in shapes.items()),
        )
    (frame,) = shapes
    check_ndim(frame, (2,), what=f"TIFF frames in '{p}'", expect="(y, x) images")
    n = _time_chunk((len(files), *frame), np.dtype(dtype).itemsize)
    blocks = [
        da.from_delayed(
            dask.delayed(_read_frames)(files[i : i + n]),
            shape=(len(files[i : i + n]), *frame),
            dtype=dtype,
        )
        for i in range(0, len(files), n)
    ]
    extra = {"n_files": len(files), "first_file": files[0].name}
    return da.concatenate(blocks, axis=0), None, None, "", extra


# -------------------------------------------------------------- Zarr / npy
def _from_zarr(p: Path, series: str | None):
    import dask.array as da
    import zarr

    root = open_zarr(p)
    if isinstance(root, zarr.Array):
        key, arr = "", root
    else:
        every = {k: a for k, a in root.arrays()} if hasattr(root, "arrays") else {}
        for name, group in getattr(root, "groups", lambda: [])():
            every.update({f"{name}/{k}": a for k, a in group.arrays()})
        cands = [k for k, a in every.items() if a.ndim == 3]
        key = choose(
            cands,
            series,
            path=p,
            what="a 3-D (time, y, x) array",
            available=list(every),
        )
        arr = every[key]
    check_ndim(arr.shape, (3,), what=f"Zarr array in '{p}'", expect="(time, y, x)")
    fs = arr.attrs.get("rate")
    return da.from_zarr(arr), None, check_rate(fs), key, {}


def _from_npy(p: Path, series: str | None):
    arr = load_npy(p)
    check_ndim(arr.shape, (3,), what=f"array in '{p}'", expect="(time, y, x)")
    return arr, None, None, "", {}


#: Format → reader ``(path, series)`` returning ``(data, times, rate, source
#: path, extra attrs)``.
_MOVIE_READERS = {
    "nwb": _from_nwb,
    "hdf5": _from_hdf5,
    "tiff": _from_tiff,
    "tiff-folder": _from_tiff_folder,
    "zarr": _from_zarr,
    "npy": _from_npy,
}
