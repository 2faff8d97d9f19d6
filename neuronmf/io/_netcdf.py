"""NetCDF-4 results: attribute encoding, compression, atomic write, and reading.

NetCDF is the full-fidelity format: every variable, coordinate and attribute of a
result round-trips. Attribute values NetCDF cannot hold (``dict``, ``list``,
``tuple``, ``bool``, ``None``) are stored as JSON strings and decoded on reading;
the names of those attributes are recorded in the attribute ``_neuronmf_json``.
A DataArray is saved as a one-variable Dataset flagged ``_neuronmf_dataarray``
and comes back as a DataArray.

The write is atomic (:func:`neuronmf.io._atomic.write_atomic`, or
:func:`~neuronmf.io._atomic.atomic_path` for results too large to build in
memory). Public through :mod:`neuronmf.io` and :mod:`neuronmf.io.writers`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neuronmf._provenance import jsonable
from neuronmf.errors import input_error
from neuronmf.io._atomic import atomic_path, write_atomic
from neuronmf.io._open import available_memory

__all__ = ["NETCDF_IN_MEMORY_MAX_BYTES", "save_netcdf"]

_JSON_ATTRS = "_neuronmf_json"
_DATAARRAY_FLAG = "_neuronmf_dataarray"


#: :func:`save_netcdf` builds the file in memory and writes its bytes itself (so a
#: full disk is an ordinary error, never a crash inside HDF5) for results up to
#: this size (bytes as held in memory) or half the free memory, whichever is
#: larger; larger results are written by HDF5 directly, after a free-space check.
NETCDF_IN_MEMORY_MAX_BYTES = 1 << 30
_NETCDF_CHUNK_BYTES = 4 << 20  # compressed NetCDF variables: chunks up to 4 MiB


def _jsonable(value: Any) -> Any:
    """:func:`neuronmf._provenance.jsonable` in its strict form.

    An attribute JSON cannot hold makes :func:`json.dumps` raise, rather than come
    back from the file as a string.
    """
    return jsonable(value, strict=True)


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


def save_netcdf(result: xr.Dataset | xr.DataArray, path: str | os.PathLike) -> Path:
    """Write a result Dataset to NetCDF-4 (HDF5) atomically.

    Parameters
    ----------
    result : xarray.Dataset or xarray.DataArray
        Any neuronmf result (or labelled data). Attributes that NetCDF cannot
        hold (dicts, lists, bools, None) are stored as JSON text and restored by
        :func:`~neuronmf.io.load_result`.
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
    >>> from neuronmf.io import load_result
    >>> back = load_result(p)
    >>> back.identical(ds), back.attrs["penalties"], back.attrs["ok"]
    (True, {'l1_W': 0.0}, True)
    """
    ds = _map_all_attrs(_check_result(result), _encode_attrs)
    path = Path(path)
    encoding = _netcdf_encoding(ds)
    if ds.nbytes <= max(NETCDF_IN_MEMORY_MAX_BYTES, available_memory() // 2):
        # Build the whole file in memory, then write its bytes: HDF5 never sees a
        # failing disk (when a write failed, HDF5/h5netcdf crashed the process
        # with SIGSEGV while closing the file). Costs the compressed file's size.
        data = ds.to_netcdf(engine="h5netcdf", encoding=encoding)
        write_atomic(path, data)
        return path
    # Larger than half the free memory: HDF5 writes the file itself, after a
    # check that the uncompressed size (an upper bound) fits on the disk.
    with atomic_path(path, size_hint=ds.nbytes) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
    return path


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
