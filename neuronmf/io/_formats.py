"""The one table of file formats, and format detection from a file's content.

:data:`SUFFIX_FORMATS` is the single table of file suffixes neuronmf knows
(suffix → format); every other suffix list (the loaders' checks, the CLI's
``TABLE_SUFFIXES`` and ``NETCDF_SUFFIXES``) is derived from it. The content
(magic bytes) decides over the suffix: :func:`detect_format` reads a file's
header, and the suffix only names what a file that fails to parse should have
been. MATLAB headers (:func:`mat_version`) are read here, below both
:mod:`neuronmf.io._common` and :mod:`neuronmf.io.matlab`, so that neither has to
import the other to dispatch a ``.mat`` file.

To add a file format: add its suffixes here, its magic bytes to
:func:`detect_format`, and a reader to the dispatch table of each loader that
reads it (``load_emg``, ``load_movie``, ``load_activity``, ``load_behavior``,
``inspect``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from neuronmf.errors import input_error
from neuronmf.io._open import open_hdf5

__all__ = [
    "FORMATS",
    "NETCDF_SUFFIXES",
    "SUFFIX_FORMATS",
    "TABLE_SEPARATORS",
    "TABLE_SUFFIXES",
    "data_format",
    "detect_format",
    "is_matlab_v73",
    "mat_version",
    "suffixes",
    "tiff_files",
]

#: Suffix (lower case) → format: the one table of the file suffixes neuronmf
#: reads or writes. ``"netcdf"`` files are results (``save_netcdf`` /
#: ``load_result``); the others are inputs named as :func:`detect_format` names
#: them.
SUFFIX_FORMATS: dict[str, str] = {
    ".nwb": "nwb",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".hdf": "hdf5",
    ".he5": "hdf5",
    ".mat": "matlab",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".btf": "tiff",
    ".tf8": "tiff",
    ".zarr": "zarr",
    ".csv": "table",
    ".tsv": "table",
    ".tab": "table",
    ".txt": "table",
    ".npz": "npz",
    ".npy": "npy",
    ".nc": "netcdf",
    ".netcdf": "netcdf",
    ".nc4": "netcdf",
}
#: Column separator of each text-table suffix (None: sniffed from the content).
TABLE_SEPARATORS: dict[str, str | None] = {
    ".csv": ",",
    ".tsv": "\t",
    ".tab": "\t",
    ".txt": None,
}


def suffixes(*formats: str) -> tuple[str, ...]:
    """The suffixes of the given formats, in table order.

    Examples
    --------
    >>> suffixes("netcdf")
    ('.nc', '.netcdf', '.nc4')
    """
    return tuple(s for s, f in SUFFIX_FORMATS.items() if f in formats)


#: Text-table suffixes; the CLI uses these.
TABLE_SUFFIXES = suffixes("table")
#: NetCDF result files (written by ``save_netcdf``, read by ``load_result``).
NETCDF_SUFFIXES = suffixes("netcdf")
_HDF5_SUFFIXES = frozenset(suffixes("nwb", "hdf5", "matlab"))
_TIFF_SUFFIXES = frozenset(suffixes("tiff"))
FORMATS = (
    "NWB, HDF5, MATLAB .mat (v5/v7.3), TIFF (file or folder), Zarr, CSV/TSV, NPZ/NPY"
)

_V73_HEADER = b"MATLAB 7.3 MAT-file"
#: First bytes of a NetCDF classic / 64-bit offset file (NetCDF-4 is HDF5).
_NETCDF_CLASSIC = (b"CDF\x01", b"CDF\x02")


def is_matlab_v73(path: str | os.PathLike) -> bool:
    """True when ``path`` starts with the MATLAB 7.3 header (HDF5 user block)."""
    with open(path, "rb") as fh:
        return fh.read(len(_V73_HEADER)) == _V73_HEADER


def mat_version(path: str | os.PathLike) -> str | None:
    """``"4"``, ``"5"`` (v5/v6/v7) or ``"7.3"`` for a MAT-file; None otherwise.

    The content decides, not the suffix: a v5 file starts with a 116-byte text
    header (``"MATLAB 5.0 MAT-file"``) and an endian mark ``IM``/``MI`` at byte
    126; v7.3 is HDF5 behind the MATLAB 7.3 header; v4 (no header) is only
    accepted with a ``.mat`` suffix, when scipy recognises it.
    """
    p = Path(path)
    with open(p, "rb") as fh:
        head = fh.read(128)
    if head.startswith(_V73_HEADER):
        return "7.3"
    if len(head) == 128 and head[126:128] in (b"IM", b"MI"):
        return "5"
    if p.suffix.lower() == ".mat" and len(head) >= 20:
        from scipy.io.matlab import matfile_version

        try:
            with open(p, "rb") as fh:
                major, _ = matfile_version(fh)
        except Exception:
            return None
        return {0: "4", 1: "5", 2: "7.3"}.get(major)
    return None


def _zarr_dir(p: Path) -> bool:
    return any((p / n).exists() for n in (".zgroup", ".zarray", "zarr.json"))


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
    if suffix in TABLE_SEPARATORS:
        return "table"
    raise input_error(
        f"file '{path}'",
        f"one of the recognised formats ({FORMATS})",
        f"an unrecognised format (suffix '{path.suffix}')",
        "Convert the recording to NWB or HDF5, or pass a CSV with a time column.",
    )


def data_format(path: Path) -> str:
    """:func:`detect_format`, plus ``"netcdf"`` for NetCDF files (results).

    The loaders that also read results written by ``save_netcdf``
    (``load_activity``, ``load_behavior``, ``load_intervals``, ``load_events``)
    ask this; ``load_emg``, ``load_movie`` and ``inspect`` keep reading a
    NetCDF-4 file as the HDF5 file it is. A NetCDF classic file is recognised by
    its first bytes (``CDF\\x01``/``CDF\\x02``, any suffix), a NetCDF-4 file by
    HDF5 content under a NetCDF suffix (``.nc``, ``.netcdf``, ``.nc4``).

    Examples
    --------
    >>> import tempfile, pathlib, xarray as xr
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "counts.nc"
    >>> xr.DataArray([[1.0, 2.0]], dims=("time", "neuron")).to_netcdf(p)
    >>> data_format(p)
    'netcdf'
    """
    if path.is_file():
        with open(path, "rb") as fh:
            if fh.read(4) in _NETCDF_CLASSIC:
                return "netcdf"
    fmt = detect_format(path)
    if fmt == "hdf5" and SUFFIX_FORMATS.get(path.suffix.lower()) == "netcdf":
        return "netcdf"
    return fmt
