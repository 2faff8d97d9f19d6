"""Opening files read-only and safely: HDF5, TIFF, Zarr, NumPy.

Every opener refuses, as :class:`~neuronmf.errors.InputError` and before any data
are read, a file that would make a reader read outside it (HDF5 external links,
virtual or externally stored datasets; Zarr links out of the store), a truncated
or corrupt file, and non-numeric or pickled content. Files are only ever opened
read-only. Re-exported by :mod:`neuronmf.io._common`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from neuronmf.errors import InputError, input_error

__all__ = [
    "MAX_HDF5_OBJECTS",
    "MAX_TIFF_PAGES",
    "MAX_ZARR_ENTRIES",
    "available_memory",
    "check_hdf5_contained",
    "load_npy",
    "numeric_data",
    "open_hdf5",
    "open_tiff",
    "open_zarr",
    "read_npz",
]


def available_memory() -> int:
    """Bytes of memory available now (0 where it cannot be told)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # psutil is optional
        try:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return 0


def open_hdf5(path: Path):
    """Open an HDF5 file read-only, turning h5py's errors into InputError."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise input_error(
            f"file '{path}'",
            "a readable HDF5/NWB file",
            f"an unreadable file ({exc})",
            "The file is probably truncated or corrupt; copy it again.",
        ) from None
    try:
        check_hdf5_contained(f, path)
    except BaseException:
        f.close()
        raise
    return f


#: At most this many HDF5 objects are walked when a file is opened.
MAX_HDF5_OBJECTS = 1_000_000


def check_hdf5_contained(f: Any, path: Path) -> None:
    """Refuse an HDF5 file that would make a reader read outside it.

    Walks every group and dataset once (links are listed, never followed):
    an external link (:class:`h5py.ExternalLink`), a virtual dataset (its data
    are mapped from other files) or a dataset with external raw storage (its
    bytes live in another file, e.g. ``/etc/passwd``) raises
    :class:`~neuronmf.errors.InputError` naming the object. A file whose structure
    cannot be walked (corrupt metadata) is refused too.

    Examples
    --------
    >>> import tempfile, pathlib, h5py
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ok.h5"
    >>> with h5py.File(p, "w") as f:
    ...     _ = f.create_dataset("emg", data=[[1.0, 2.0]])
    >>> with h5py.File(p, "r") as f:
    ...     check_hdf5_contained(f, p)  # nothing outside: no error
    """
    import h5py

    def refuse(name: str, what: str):
        return input_error(
            f"HDF5 object '{name}' in '{path}'",
            "stored inside the file",
            what,
            "neuronmf never reads outside the file it was given; write the data "
            "into the file itself first.",
        )

    count = 0

    def visit(name: str, obj: Any) -> None:
        nonlocal count
        count += 1
        if count > MAX_HDF5_OBJECTS:
            raise input_error(
                f"file '{path}'",
                f"an HDF5 file of at most {MAX_HDF5_OBJECTS} objects",
                "more",
            )
        if isinstance(obj, h5py.Group):
            for key in obj:
                link = obj.get(key, getlink=True)
                if isinstance(link, h5py.ExternalLink):
                    raise refuse(
                        f"{name}/{key}".lstrip("/"),
                        f"an external link to '{link.filename}:{link.path}'",
                    )
        elif isinstance(obj, h5py.Dataset):
            if obj.is_virtual:
                raise refuse(name, "a virtual dataset (data mapped from other files)")
            if obj.external is not None:
                files = ", ".join(str(e[0]) for e in obj.external)
                raise refuse(name, f"external raw storage in {files}")

    try:
        visit("", f)
        f.visititems(visit)
    except InputError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise input_error(
            f"file '{path}'",
            "a readable HDF5/NWB file",
            f"corrupt structure ({type(exc).__name__}: {exc})",
            "The file is probably truncated or corrupt; copy it again.",
        ) from None


def numeric_data(dtype: Any, *, what: str) -> np.dtype:
    """Refuse a non-numeric dtype (text, bytes, compound, references, objects).

    Returns the dtype when it is boolean, integer or floating point.
    """
    dt = np.dtype(dtype)
    if dt.kind not in "biuf" or dt.fields is not None:
        raise input_error(
            what,
            "numeric (integers or floating point)",
            f"dtype {dt}",
            "Choose a numeric dataset or convert the data to numbers first.",
        )
    return dt


#: Header checks walk at most this many TIFF pages.
MAX_TIFF_PAGES = 1_000_000


def open_tiff(path: Path):
    """Open a TIFF file with tifffile after checking it is whole and grayscale.

    Refused with :class:`~neuronmf.errors.InputError`: content tifffile cannot
    parse, pages whose pixel data lie beyond the end of the file (a truncated
    copy), and colour images (RGB/RGBA, more than one sample per pixel), which
    are not a grayscale movie. The caller closes the returned ``TiffFile``.
    """
    import logging

    import tifffile

    size = path.stat().st_size
    records: list[str] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = _Keep(level=logging.WARNING)
    logger = logging.getLogger("tifffile")
    logger.addHandler(handler)
    tf = None
    try:
        tf = tifffile.TiffFile(path)
        series = tf.series
        if not series:
            raise ValueError("no image series")
        ends = [0]
        for i, page in enumerate(tf.pages):
            if i >= MAX_TIFF_PAGES:
                break
            offsets = getattr(page, "dataoffsets", ()) or ()
            counts = getattr(page, "databytecounts", ()) or ()
            ends.extend(int(o) + int(c) for o, c in zip(offsets, counts, strict=False))
        for s in series:
            if getattr(s, "dataoffset", None) is not None:
                ends.append(int(s.dataoffset) + int(s.nbytes))
        spp = int(getattr(tf.pages.first, "samplesperpixel", 1) or 1)
        axes = str(series[0].axes)
    except InputError:
        raise
    except Exception as exc:
        if tf is not None:
            tf.close()
        raise input_error(
            f"file '{path}'",
            "a readable TIFF file",
            f"an error ({type(exc).__name__}: {exc})",
            "The file is probably truncated or corrupt; copy it again.",
        ) from None
    finally:
        logger.removeHandler(handler)
    broken = [m for m in records if "offset" in m.lower() or "invalid" in m.lower()]
    problem = None
    if max(ends) > size:
        problem = (
            f"pixel data up to byte {max(ends)} in a file of {size} bytes (truncated)"
        )
    elif broken:
        problem = f"a broken page chain ({broken[0]})"
    elif spp > 1 or "S" in axes:
        tf.close()
        raise input_error(
            f"TIFF '{path}'",
            "a grayscale movie (one sample per pixel)",
            f"a colour image ({spp} samples per pixel, axes {axes})",
            "Convert it to grayscale (one channel) before loading it as a movie.",
        )
    if problem is not None:
        tf.close()
        raise input_error(
            f"file '{path}'",
            "a complete TIFF file",
            problem,
            "Copy the file again; the copy stopped before its end.",
        )
    return tf


#: At most this many entries of a Zarr store are checked for links.
MAX_ZARR_ENTRIES = 1_000_000


def open_zarr(path: Path):
    """Open a Zarr store read-only, refusing links that point outside it."""
    import zarr

    root = path.resolve()
    count = 0
    for folder, dirs, files in os.walk(path, followlinks=False):
        for name in dirs + files:
            count += 1
            if count > MAX_ZARR_ENTRIES:
                raise input_error(
                    f"Zarr store '{path}'",
                    f"at most {MAX_ZARR_ENTRIES} files",
                    "more",
                )
            entry = Path(folder) / name
            if entry.is_symlink():
                target = entry.resolve()
                if target != root and root not in target.parents:
                    raise input_error(
                        f"entry '{entry.relative_to(path)}' of Zarr store '{path}'",
                        "inside the store",
                        f"a link to '{target}'",
                        "neuronmf never reads outside the store it was given; "
                        "copy the data into the store.",
                    )
    try:
        return zarr.open(str(path), mode="r")
    except Exception as exc:
        raise input_error(
            f"Zarr store '{path}'",
            "a readable Zarr store",
            f"an error ({type(exc).__name__}: {exc})",
        ) from None


def _unreadable_array(path: Path, exc: Exception):
    return input_error(
        f"file '{path}'",
        "a readable NumPy file of numeric arrays (no pickled objects)",
        f"an error ({type(exc).__name__}: {exc})",
        "The file is probably truncated or corrupt, or holds Python objects; "
        "save plain numeric arrays with numpy.save/savez.",
    )


def load_npy(path: Path) -> np.ndarray:
    """Memory-map a ``.npy`` read-only (never unpickling), errors as InputError."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:
        raise _unreadable_array(path, exc) from None
    if not isinstance(arr, np.ndarray):
        raise _unreadable_array(path, TypeError(type(arr).__name__))
    numeric_data(arr.dtype, what=f"array in '{path}'")
    return arr


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (never unpickling), errors as InputError."""
    import zipfile
    import zlib

    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise TypeError("not an NPZ archive")
            return {k: np.asarray(z[k]) for k in z.files}
    except (
        OSError,
        ValueError,
        EOFError,
        KeyError,
        TypeError,
        NotImplementedError,
        zipfile.BadZipFile,
        zlib.error,
    ) as exc:
        raise _unreadable_array(path, exc) from None
