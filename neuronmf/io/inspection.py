"""``inspect(path)``: what a file holds (series, types, shapes, rates, paths)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from neuronmf.errors import InputError, input_error
from neuronmf.io._common import (
    as_path,
    detect_format,
    load_npy,
    open_hdf5,
    open_tiff,
    open_zarr,
    rate_from_times,
    read_npz,
    tiff_files,
)

__all__ = ["FileContents", "inspect"]

_COLUMNS = ("path", "type", "shape", "dtype", "rate")
_TABLE_PARTS = {"VectorData", "VectorIndex", "ElementIdentifiers", "DynamicTableRegion"}


class FileContents(list):
    """A list of dicts (``path``, ``type``, ``shape``, ``dtype``, ``rate``, ...).

    ``str()`` gives an aligned text table; :meth:`to_text` is the same.
    """

    def __init__(self, items=(), *, source: str = "", fmt: str = ""):
        super().__init__(items)
        self.source = source
        self.format = fmt

    def to_text(self) -> str:
        """The contents as an aligned table, one row per series/dataset."""
        kind = any("kind" in item for item in self)
        rows = [[*_COLUMNS, "kind"] if kind else list(_COLUMNS)]
        for item in self:
            rate = item.get("rate")
            rows.append(
                [
                    str(item.get("path", "")) or ".",
                    str(item.get("type", "")),
                    "×".join(map(str, item.get("shape", ()))) or "-",
                    str(item.get("dtype", "")),
                    "-" if rate is None else f"{rate:g} Hz",
                ]
                + ([str(item.get("kind", ""))] if kind else [])
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [f"{self.source} ({self.format}, {len(self)} item(s))"]
        for r in rows:
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        return "\n".join(line.rstrip() for line in lines)

    def __str__(self) -> str:
        return self.to_text()


def inspect(path: str | os.PathLike) -> FileContents:
    """List what a file holds.

    Works for NWB (every ``TimeSeries``, table and image, with its neurodata type),
    HDF5 (every dataset), MATLAB ``.mat`` v4/v5/v7/v7.3 (every variable, with a
    guess of what it holds in ``kind``), TIFF files and folders, Zarr, CSV/TSV, NPZ
    and NPY. Reads metadata only (plus NWB timestamps when a series has no rate,
    and the cells/structs of a MAT-file smaller than 64 MB, to count spike-time
    vectors).

    Parameters
    ----------
    path : str or path-like
        The file or folder.

    Returns
    -------
    FileContents
        A list of dicts with keys ``path`` (inside the file), ``type``, ``shape``,
        ``dtype`` and ``rate`` (Hz or None), and ``kind`` for MAT-file variables;
        ``print`` it for a table.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from neuronmf.io import inspect
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "emg.csv"
    >>> _ = p.write_text("time,TA\\n0,1\\n0.001,2\\n")
    >>> [(d["type"], d["shape"], d["rate"]) for d in inspect(p)]
    [('table', (2, 1), 1000.0)]
    """
    p = as_path(path)
    fmt = detect_format(p)
    reader = _INSPECTORS[fmt]
    try:
        items = reader(p)
    except InputError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError, RuntimeError) as exc:
        # the format libraries' own errors on a corrupt or crafted file
        raise input_error(
            f"file '{p}'",
            f"a readable {fmt.upper()} file",
            f"an error ({type(exc).__name__}: {exc})",
            "The file is probably truncated or corrupt; copy it again.",
        ) from None
    return FileContents(items, source=str(p), fmt=fmt.upper())


def _item(path, kind, shape, dtype, rate=None, **extra) -> dict[str, Any]:
    return {
        "path": path,
        "type": kind,
        "shape": tuple(int(s) for s in shape),
        "dtype": str(dtype),
        "rate": None if rate is None else float(rate),
        **extra,
    }


def _decode(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _nwb(p: Path) -> list[dict[str, Any]]:
    import h5py

    out: list[dict[str, Any]] = []
    with open_hdf5(p) as f:

        def visit(name: str, obj: Any) -> None:
            kind = obj.attrs.get("neurodata_type")
            if name.startswith("specifications") or kind is None:
                return
            kind = _decode(kind)
            if isinstance(obj, h5py.Dataset):
                if kind not in _TABLE_PARTS:  # e.g. GrayscaleImage in Images
                    out.append(_item(name, kind, obj.shape, obj.dtype))
                return
            if "data" in obj and isinstance(obj["data"], h5py.Dataset):
                ds = obj["data"]
                rate = None
                if "starting_time" in obj:
                    r = obj["starting_time"].attrs.get("rate")
                    rate = None if r is None else float(r)
                elif "timestamps" in obj and isinstance(
                    obj["timestamps"], h5py.Dataset
                ):
                    ts = obj["timestamps"]
                    if ts.shape and ts.shape[0] <= 1_000_000:
                        rate = rate_from_times(ts[()])
                out.append(_item(name, kind, ds.shape, ds.dtype, rate))
            elif "id" in obj and "colnames" in obj.attrs:  # a DynamicTable
                cols = [_decode(c) for c in obj.attrs["colnames"]]
                out.append(_item(name, kind, obj["id"].shape, "table", columns=cols))

        f.visititems(visit)
    return out


def _hdf5(p: Path) -> list[dict[str, Any]]:
    import h5py

    out: list[dict[str, Any]] = []
    with open_hdf5(p) as f:

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                rate = None
                for key in ("rate", "sampling_rate", "fs", "frame_rate"):
                    if key in obj.attrs:
                        rate = float(np.asarray(obj.attrs[key]).item())
                        break
                out.append(_item(name, "dataset", obj.shape, obj.dtype, rate))

        f.visititems(visit)
    return out


def _tiff(p: Path) -> list[dict[str, Any]]:

    with open_tiff(p) as tf:
        return [
            _item(f"series {i}", "tiff", s.shape, s.dtype, axes=s.axes)
            for i, s in enumerate(tf.series)
        ]


def _tiff_folder(p: Path) -> list[dict[str, Any]]:

    files = tiff_files(p)
    with open_tiff(files[0]) as tf:
        page = tf.pages.first
        shape, dtype = page.shape, page.dtype
    return [
        _item(
            "",
            "tiff frames",
            (len(files), *shape),
            dtype,
            first=files[0].name,
            last=files[-1].name,
        )
    ]


def _zarr(p: Path) -> list[dict[str, Any]]:
    import zarr

    root = open_zarr(p)
    if isinstance(root, zarr.Array):
        return [_item("", "zarr array", root.shape, root.dtype, root.attrs.get("rate"))]
    out = []
    for name, arr in root.arrays():
        out.append(
            _item(name, "zarr array", arr.shape, arr.dtype, arr.attrs.get("rate"))
        )
    return out


def _table(p: Path) -> list[dict[str, Any]]:
    from neuronmf.io.tabular import find_time_column, read_table

    df = read_table(p)
    columns = list(df.columns)
    tcol = find_time_column(columns, None, path=p)
    rate = None
    if tcol is not None and np.issubdtype(df[tcol].dtype, np.number):
        rate = rate_from_times(df[tcol].to_numpy(dtype=float))
    channels = [c for c in columns if c != tcol]
    return [
        _item(
            tcol or "",
            "table",
            (len(df), len(channels)),
            "float64",
            rate,
            columns=channels,
        )
    ]


def _npz(p: Path) -> list[dict[str, Any]]:
    out = []
    for k, a in read_npz(p).items():
        rate = rate_from_times(a) if k.endswith("_t") and a.ndim == 1 else None
        out.append(_item(k, "array", a.shape, a.dtype, rate))
    return out


def _npy(p: Path) -> list[dict[str, Any]]:
    a = load_npy(p)
    return [_item("", "array", a.shape, a.dtype)]


#: Cells/structs of MAT-files up to this size are read to guess their kind.
_MAT_READ_LIMIT = 64 << 20


def _matlab(p: Path) -> list[dict[str, Any]]:
    from neuronmf.io.matlab import mat_variables, mat_version

    version = mat_version(p)
    small = p.stat().st_size <= _MAT_READ_LIMIT
    return [
        {
            **_item(name, f"MATLAB v{version}", shape, dtype),
            "kind": mat_kind(p, name, shape, dtype, read=small),
        }
        for name, shape, dtype in mat_variables(p)
    ]


def mat_kind(
    p: Path, name: str, shape: tuple[int, ...], dtype: str, *, read: bool = True
) -> str:
    """A short guess of what a MAT-file variable holds (shown by ``info``).

    ``"spike times (N units)"`` for cells/structs whose leaves are vectors (read
    when ``read``), ``"matrix (time = longer axis)"`` for 2-D numeric arrays,
    ``"vector"``, ``"scalar"``, ``"text"``, or the MATLAB class otherwise.
    """
    if dtype in ("cell", "struct"):
        if not read:
            return dtype
        from neuronmf.errors import InputError
        from neuronmf.io.matlab import read_mat_variable, spike_trains

        try:
            labels, _, n_empty = spike_trains(read_mat_variable(p, name))
        except InputError:
            return dtype
        if not labels:
            return f"{dtype} (no non-empty vectors)"
        extra = f", {n_empty} empty skipped" if n_empty else ""
        return f"spike times? ({len(labels)} units{extra})"
    if dtype == "char":
        return "text"
    try:
        np.dtype(dtype)
    except TypeError:
        return dtype
    big = [s for s in shape if s > 1]
    if not big:
        return "scalar"
    if len(big) == 1:
        return "vector"
    if len(shape) == 2:
        if shape[0] == shape[1]:
            return "matrix (square: pass time_axis=)"
        return f"matrix (time = axis {int(shape[1] > shape[0])}, the longer)"
    return f"{len(shape)}-D array"


#: Format (as :func:`~neuronmf.io._formats.detect_format` names it) → lister.
_INSPECTORS = {
    "nwb": _nwb,
    "hdf5": _hdf5,
    "tiff": _tiff,
    "tiff-folder": _tiff_folder,
    "zarr": _zarr,
    "table": _table,
    "npz": _npz,
    "npy": _npy,
    "matlab": _matlab,
}
