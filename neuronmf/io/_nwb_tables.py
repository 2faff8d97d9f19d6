"""NWB layout of any result as tables and series, exactly round-tripped.

The writer of every kind without its own module (``"rank_scan"``, ``"nmf"``, and
any other ``neuronmf_kind``), and the machinery the decoding writer builds on:

- each variable whose first dimension is ``time`` (and each extra 1-D time
  coordinate) becomes a ``TimeSeries`` in the processing module (timestamps:
  the time coordinate; the first series holds them, the others link to it);
- the other variables go to one ``DynamicTable`` per first dimension (its rows;
  a variable of more dimensions is an N-D column), named after the dimension
  unless the writer renames it (decoding: ``fold`` → ``"folds"``);
- 0-D variables, the sizes, dtypes, dimension names, variable attributes and
  the coordinates NWB has no place for go to the provenance, so
  :func:`read_tables` gives back every variable, coordinate, dtype and attribute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from neuronmf._provenance import version
from neuronmf.errors import input_error
from neuronmf.io._netcdf import _jsonable
from neuronmf.io._nwb_file import free_name, provenance_text, series_time

__all__ = ["add_tables_result", "plan_tables", "read_tables"]


def plan_tables(
    ds: xr.Dataset, series_vars: Iterable[str], table_names: Mapping[str, str]
) -> tuple[list[str], dict[str, dict[str, Any]], dict[str, Any]]:
    """Where each variable goes: ``(time series, tables, scalars)``.

    ``series_vars`` are written by the caller; ``table_names`` renames the
    table of a dimension.
    """
    series_vars = set(series_vars)
    time_series = [str(k) for k in ds.coords if k != "time" and ds[k].dims == ("time",)]
    tables: dict[str, dict[str, Any]] = {}
    scalars: dict[str, Any] = {}
    for k in ds.data_vars:
        if k in series_vars:
            continue
        dims = ds[k].dims
        if not dims:
            scalars[str(k)] = _jsonable(ds[k].values)
            continue
        if dims[0] == "time":
            time_series.append(str(k))  # another per-bin variable: its own series
            continue
        entry = tables.setdefault(
            dims[0], {"table": table_names.get(dims[0], dims[0]), "vars": []}
        )
        entry["vars"].append(str(k))
    return time_series, tables, scalars


def exact_layout(
    ds: xr.Dataset,
    series: Mapping[str, str],
    time_series: list[str],
    tables: dict[str, dict[str, Any]],
    scalars: dict[str, Any],
    *,
    what: str,
    taken: Iterable[str] = (),
) -> dict[str, Any]:
    """The provenance entries :func:`read_tables` rebuilds the Dataset from.

    Refuses names that would collide in the processing module.
    """
    names = [*taken, *time_series, *(e["table"] for e in tables.values())]
    if len(set(names)) != len(names):
        raise input_error(
            what,
            "variable/coordinate names that do not collide in NWB",
            f"names {names}",
            "Rename the clashing variables, or save it with save_netcdf instead.",
        )
    return {
        "series": dict(series),
        "time_series": time_series,
        "tables": tables,
        "scalars": scalars,
        "sizes": {str(d): int(n) for d, n in ds.sizes.items()},
        "dtypes": {str(k): str(ds[k].dtype) for k in ds.variables},
        "var_attrs": {
            str(k): _jsonable(ds[k].attrs) for k in ds.variables if ds[k].attrs
        },
        "coord_dims": {str(k): list(map(str, ds[k].dims)) for k in ds.coords},
        "time_coord": "time" in ds.coords,
    }


def times_of(ds: xr.Dataset) -> np.ndarray | None:
    """The time coordinate (s), or ``index / rate``; None without a time dim."""
    if "time" not in ds.dims:
        return None
    if "time" in ds.coords:
        return np.asarray(ds["time"].values, dtype=float)
    return np.arange(ds.sizes["time"]) / float(ds.attrs.get("rate", 1.0))


def unit_of(ds: xr.Dataset, var: str) -> str:
    return str(ds[var].attrs.get("units", "a.u."))


def add_time_series(
    module,
    ds: xr.Dataset,
    names: Iterable[str],
    stamps: list[Any],
    t: np.ndarray | None,
    describe: Callable[[str], str],
) -> None:
    """One ``TimeSeries`` per name; the first series written holds the timestamps."""
    from pynwb import TimeSeries

    for k in names:
        series = TimeSeries(
            name=k,
            data=np.asarray(ds[k].values),
            unit=unit_of(ds, k) if k in ds.data_vars else "n.a.",
            description=describe(k),
            timestamps=stamps[0] if stamps else t,
        )
        module.add(series)
        stamps.append(series)


def add_tables(
    module,
    ds: xr.Dataset,
    tables: dict[str, dict[str, Any]],
    describe: Callable[[str], str],
    what: str,
) -> None:
    """One ``DynamicTable`` per dimension that has rows (empty ones are not written)."""
    from hdmf.common import DynamicTable

    for d, entry in tables.items():
        n = ds.sizes[d]
        if n == 0:
            continue
        table = DynamicTable(
            name=entry["table"],
            description=f"{what}, one row per {d}.",
            id=list(range(n)),
        )
        if d in ds.coords:
            table.add_column(
                name=d, description=f"{d} label.", data=np.asarray(ds[d].values)
            )
        for k in entry["vars"]:
            table.add_column(
                name=k, description=describe(k), data=np.asarray(ds[k].values)
            )
        module.add(table)


def add_tables_result(nwbfile, ds: xr.Dataset, kind: str, name, source) -> None:
    """Write a result of any kind as a processing module of tables and series.

    The module is named ``name`` or the kind (suffixed ``_2``, ... when taken).
    """
    mod_name = free_name(
        nwbfile.processing, name or kind, name is not None, "nwbfile.processing"
    )
    time_series, tables, scalars = plan_tables(ds, (), {})
    if "time" in ds.coords and ds["time"].dims == ("time",) and not time_series:
        time_series.append("time")  # no series carries the times: one of its own
    extra = exact_layout(ds, {}, time_series, tables, scalars, what=f"{kind} result")
    extra["source"] = str(source) if source is not None else None
    where = "; ".join(
        f"{', '.join(e['vars'])} in the table '{e['table']}'"
        for d, e in tables.items()
        if ds.sizes[d] > 0
    )
    module = nwbfile.create_processing_module(
        mod_name,
        f"A neuronmf {kind} result (neuronmf {version()}"
        + (f"; {where}" if where else "")
        + "). "
        + provenance_text(ds, kind, extra, exclude=tuple(time_series)),
    )

    def describe(k: str) -> str:
        if k == "time":
            return "Times (s) of the result's time coordinate."
        return f"neuronmf {kind} variable {k!r} {tuple(map(str, ds[k].dims))}."

    add_time_series(module, ds, time_series, [], times_of(ds), describe)
    add_tables(module, ds, tables, describe, f"neuronmf {kind} result")


def read_tables(module, info: dict, container: str | None = None) -> xr.Dataset:
    """Rebuild the Dataset written by :func:`add_tables_result` (or decoding).

    ``container``: the data interface holding the named series of
    ``info["series"]`` (decoding: ``"DecodedBehavior"``).
    """
    sizes = info["sizes"]
    dtypes = info.get("dtypes", {})
    dims = info["dims"]

    def shaped(var: str, values) -> np.ndarray:
        arr = np.asarray(values)
        shape = tuple(sizes[d] for d in dims[var])
        return arr.reshape(shape).astype(dtypes.get(var, arr.dtype), copy=False)

    data: dict[str, Any] = {}
    t = None
    if info["series"]:
        holder = module[container] if container else module
        for var, series_name in info["series"].items():
            series = holder[series_name]
            data[var] = (tuple(dims[var]), shaped(var, series.data[:]))
            if t is None:
                t = series_time(series)
    coords: dict[str, Any] = {}
    for k in info["time_series"]:
        series = module[k]
        if t is None:
            t = series_time(series)
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
