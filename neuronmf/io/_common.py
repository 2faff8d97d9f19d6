"""Shared helpers of the loaders: file checks, format detection, series choice.

Everything here raises :class:`~neuronmf.errors.InputError` with the house wording
before any data are read. Files are only ever opened read-only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neuronmf.errors import InputError, input_error

__all__ = [
    "LAZY_THRESHOLD_BYTES",
    "NETCDF_SUFFIXES",
    "TABLE_SUFFIXES",
    "as_path",
    "check_hdf5_contained",
    "choose",
    "detect_format",
    "numeric_data",
    "open_hdf5",
    "open_tiff",
    "open_zarr",
    "rate_from_times",
    "time_coord",
]

#: ``lazy=None`` loads an array lazily (dask) when it is bigger than this.
LAZY_THRESHOLD_BYTES = 1 << 30
#: Target size of one dask chunk (along time) for lazy movies.
CHUNK_BYTES = 32 << 20

_HDF5_SUFFIXES = {".h5", ".hdf5", ".hdf", ".he5", ".nwb", ".mat"}
_TIFF_SUFFIXES = {".tif", ".tiff", ".ome.tif", ".btf", ".tf8"}
_TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None}
#: Text-table suffixes (the keys of the separator table above); the CLI uses these.
TABLE_SUFFIXES = tuple(_TABLE_SUFFIXES)
#: NetCDF result files (written by ``save_netcdf``, read by ``load_result``).
NETCDF_SUFFIXES = (".nc", ".netcdf", ".nc4")
FORMATS = (
    "NWB, HDF5, MATLAB .mat (v5/v7.3), TIFF (file or folder), Zarr, CSV/TSV, NPZ/NPY"
)


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


def as_path(path: str | os.PathLike) -> Path:
    """Return ``path`` as a :class:`Path`, raising if it does not exist."""
    if not isinstance(path, str | os.PathLike):
        raise input_error(
            "path", "a file path (str or pathlib.Path)", type(path).__name__
        )
    p = Path(path).expanduser()
    if not p.exists():
        raise input_error(
            "file",
            "an existing file or folder",
            f"'{p}' (no such file)",
            "Check the path and the working directory.",
        )
    # A FIFO, socket or device would block or stream forever: refuse before
    # anything opens it (Path.is_file/is_dir follow symbolic links).
    if not (p.is_file() or p.is_dir()):
        raise input_error(
            f"file '{p}'",
            "a regular file or a folder",
            "a special file (FIFO, socket or device)",
            "Save the data to a regular file first.",
        )
    return p


def _zarr_dir(p: Path) -> bool:
    return any((p / n).exists() for n in (".zgroup", ".zarray", "zarr.json"))


def detect_format(path: Path) -> str:
    """Name the format of ``path``.

    Returns one of ``"nwb"``, ``"hdf5"``, ``"matlab"``, ``"tiff"``, ``"tiff-folder"``,
    ``"zarr"``, ``"table"``, ``"npz"``, ``"npy"``. Content (magic bytes) wins over the
    suffix, so a ``.nwb`` that is not HDF5 is reported as unreadable rather than
    misread. MATLAB files are recognised by their header: v5/v7 (``"MATLAB 5.0
    MAT-file"`` text, ``IM``/``MI`` endian mark) and v7.3 (HDF5 behind a 512-byte
    user block starting ``"MATLAB 7.3 MAT-file"``; read as MATLAB, not as plain
    HDF5, so arrays are transposed back to MATLAB's order).
    """
    import h5py

    from neuronmf.io.matlab import mat_version

    if path.is_dir():
        if _zarr_dir(path) or path.suffix.lower() == ".zarr":
            return "zarr"
        if tiff_files(path):
            return "tiff-folder"
        raise input_error(
            f"folder '{path}'",
            "a Zarr store or a folder of TIFF frames (*.tif, *.tiff)",
            "no Zarr metadata and no TIFF files",
            f"Point to a file in one of: {FORMATS}.",
        )
    with open(path, "rb") as fh:
        head = fh.read(8)
    suffix = path.suffix.lower()
    version = mat_version(path)
    if version == "7.3" and h5py.is_hdf5(path):
        return "matlab"
    if version in ("4", "5"):
        return "matlab"
    if h5py.is_hdf5(path):
        with open_hdf5(path) as f:
            is_nwb = "nwb_version" in f.attrs or (
                "nwb_version" in f and "identifier" in f
            )
        return "nwb" if is_nwb else "hdf5"
    if suffix == ".mat":
        raise input_error(
            f"file '{path}'",
            "a readable MATLAB MAT-file (v4, v5/v7, or v7.3 = HDF5)",
            "content without a MAT-file header (wrong format, truncated or corrupt)",
            "Check that the file was copied completely; save it again in MATLAB "
            "with save(..., '-v7') or '-v7.3'.",
        )
    if suffix in _HDF5_SUFFIXES:
        raise input_error(
            f"file '{path}'",
            "a readable HDF5/NWB file",
            "content that is not HDF5 (wrong format, truncated or corrupt)",
            "Check that the file was copied completely; open it with h5py to see.",
        )
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if suffix in _TIFF_SUFFIXES:
        raise input_error(
            f"file '{path}'",
            "a readable TIFF file",
            "content that is not TIFF (wrong format, truncated or corrupt)",
        )
    if head[:2] == b"PK" and suffix == ".npz":
        return "npz"
    if head[:6] == b"\x93NUMPY":
        return "npy"
    if suffix in _TABLE_SUFFIXES:
        return "table"
    raise input_error(
        f"file '{path}'",
        f"one of the recognised formats ({FORMATS})",
        f"an unrecognised format (suffix '{path.suffix}')",
        "Convert the recording to NWB or HDF5, or pass a CSV with a time column.",
    )


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


def tiff_files(folder: Path) -> list[Path]:
    """TIFF files of ``folder`` in natural order (frame2 before frame10)."""
    files = [
        f
        for f in folder.iterdir()
        if f.is_file()
        and f.suffix.lower() in (".tif", ".tiff")
        and not f.name.startswith(".")
    ]

    def key(f: Path):
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", f.name)]

    return sorted(files, key=key)


def choose(
    candidates: Sequence[str],
    series: str | None,
    *,
    path: Path,
    what: str,
    available: Iterable[str] | None = None,
    preferred: Sequence[str] = (),
    arg: str = "series",
) -> str:
    """Pick one series path among ``candidates``.

    Parameters
    ----------
    candidates : sequence of str
        Paths inside the file of the series that fit the loader.
    series : str or None
        The user's choice: a full path (``"acquisition/EMG"``), a trailing part of
        one (``"EMG"``), or None to take the only candidate.
    path : Path
        The file (for messages).
    what : str
        What is looked for, e.g. ``"an EMG series"``.
    available : iterable of str, optional
        Everything the file holds (listed when the choice fails); defaults to
        ``candidates``.
    preferred : sequence of str, optional
        When ``series`` is None and several candidates fit, a candidate whose path
        is in ``preferred`` is taken (the first one that matches).
    arg : str, optional
        The argument's name in messages (``"series"``, ``"table"``).
    """
    available = list(candidates if available is None else available)
    shown = ", ".join(available) if available else "nothing"
    if series is not None:
        key = str(series).strip("/")
        pool = list(dict.fromkeys([*candidates, *available]))
        hits = [c for c in pool if c.strip("/") == key]
        if not hits:
            hits = [c for c in pool if c.strip("/").endswith("/" + key)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise input_error(
                f"{arg}={series!r} in '{path}'",
                f"the name of exactly one {arg}",
                f"{len(hits)} matches: {', '.join(hits)}",
                f"Pass the full path inside the file, e.g. {arg}={hits[0]!r}.",
            )
        raise input_error(
            f"{arg}={series!r}",
            f"a {arg} in '{path}'",
            f"no such {arg}; the file holds: {shown}",
            "Pass one of those names or paths.",
        )
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise input_error(
            f"file '{path}'",
            f"a file holding {what}",
            f"none found; the file holds: {shown}",
            f"Pass {arg}=<name or path> if one of those is what you want.",
        )
    for p in preferred:
        if p in candidates:
            return p
    raise input_error(
        arg,
        f"given when '{path}' holds several candidates for {what}",
        f"{arg}=None with candidates {', '.join(candidates)}",
        f"Pass {arg}=<one of them>, e.g. {arg}={candidates[0]!r}.",
    )


def rate_from_times(t: np.ndarray, rtol: float = 1e-3) -> float | None:
    """Sampling rate (Hz) of regularly spaced times, or None if irregular."""
    t = np.asarray(t, dtype=float)
    if t.size < 2:
        return None
    d = np.diff(t)
    step = float(np.median(d))
    if not np.isfinite(step) or step <= 0:
        return None
    if np.max(np.abs(d - step)) > rtol * step:
        return None
    rate = (t.size - 1) / float(t[-1] - t[0])
    nearest = round(rate)
    if nearest > 0 and abs(rate - nearest) <= 1e-6 * rate:
        return float(nearest)
    return float(np.float64(f"{rate:.9g}"))


def check_times(times: np.ndarray, n: int, *, path: Path, where: str) -> np.ndarray:
    """Validate timestamps: one per sample, finite, non-decreasing."""
    times = np.asarray(times, dtype=float).ravel()
    if times.size != n:
        raise input_error(
            f"timestamps of '{where}' in '{path}'",
            f"one per sample ({n} samples)",
            f"{times.size} timestamps",
            "The file is inconsistent: the data and timestamps lengths disagree.",
        )
    if times.size and not np.all(np.isfinite(times)):
        raise input_error(
            f"timestamps of '{where}' in '{path}'", "finite", "NaN or Inf values"
        )
    if times.size > 1 and np.any(np.diff(times) < 0):
        raise input_error(
            f"timestamps of '{where}' in '{path}'", "non-decreasing", "a decrease"
        )
    return times


def time_coord(
    n: int, *, rate: float | None = None, start: float = 0.0
) -> np.ndarray | None:
    """Regular times ``start + i / rate`` in seconds (None without a rate)."""
    if rate is None:
        return None
    return start + np.arange(n, dtype=float) / float(rate)


def check_rate(rate: Any, *, name: str = "rate", unit: str = "Hz") -> float | None:
    """Validate a user-given positive quantity: a sampling rate (Hz) by default.

    ``unit`` names the unit in the message (``"s"`` for a bin width).
    """
    if rate is None:
        return None
    expect = f"a positive number in {unit}"
    try:
        value = float(rate)
    except (TypeError, ValueError):
        raise input_error(name, expect, rate) from None
    if not np.isfinite(value) or value <= 0:
        raise input_error(name, expect, rate)
    return value


def check_ndim(
    shape: tuple[int, ...], allowed: Sequence[int], *, what: str, expect: str
) -> None:
    """Raise unless ``len(shape)`` is one of ``allowed``."""
    if len(shape) not in allowed:
        dims = " or ".join(f"{d}-D" for d in allowed)
        raise input_error(
            what,
            f"{dims} {expect}",
            f"{len(shape)}-D data of shape {tuple(shape)}",
            "Choose another series/dataset, or reshape the data before saving.",
        )


def base_attrs(path: Path, source_path: str, **extra: Any) -> dict[str, Any]:
    """The attributes every loaded array carries (no None values: NetCDF-safe)."""
    attrs: dict[str, Any] = {"source": str(path), "source_path": source_path}
    attrs.update({k: v for k, v in extra.items() if v is not None})
    return attrs


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
