"""NWB writer and reader of factor results: muscle synergies and assemblies.

Kinds ``"synergies"`` (``synergies`` (muscle, synergy), ``activations``
(synergy, time)) and ``"assemblies"`` (``membership`` (neuron, assembly),
``activations`` (assembly, time)): a processing module ``"synergies"`` /
``"assemblies"`` holding a ``DynamicTable`` ``"loadings"`` (one row per muscle or
neuron, the loadings as a 2-D ``weights`` column) and a ``TimeSeries``
``"activations"`` (time, component). :data:`LOADINGS` names each kind's loading
variable; a new factor kind adds a row there.
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

__all__ = ["LOADINGS", "add_factors", "read_factors"]

#: Factor kind → (its loading variable, what the components are, for descriptions).
LOADINGS: dict[str, tuple[str, str]] = {
    "synergies": ("synergies", "Muscle synergies"),
    "assemblies": ("membership", "Neural assemblies"),
}


def add_factors(nwbfile, ds: xr.Dataset, kind: str, name, source) -> None:
    from hdmf.common import DynamicTable
    from pynwb import TimeSeries

    loading_var, what = LOADINGS[kind]
    loadings = ds[loading_var]
    row_dim, comp_dim = loadings.dims
    acts = ds["activations"].transpose("time", comp_dim)
    mod_name = free_name(
        nwbfile.processing, name or kind, name is not None, "nwbfile.processing"
    )
    extra = {
        "loading_var": loading_var,
        "row_dim": row_dim,
        "component_dim": comp_dim,
        "source": str(source) if source is not None else None,
    }
    module = nwbfile.create_processing_module(
        mod_name,
        f"{what} computed with neuronmf {version()}. "
        + provenance_text(ds, kind, extra),
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
            **time_axis(ds, "activations"),
        )
    )


def read_factors(module, info: dict) -> xr.Dataset:
    table = module["loadings"]
    series = module["activations"]
    row_dim, comp_dim = info["row_dim"], info["component_dim"]
    weights = np.asarray(table["weights"][:], dtype=float)
    if weights.ndim == 1:
        weights = weights[:, None]
    acts = np.asarray(series.data[:]).T
    coords = {
        row_dim: saved_coord(info, row_dim, weights.shape[0]),
        comp_dim: saved_coord(info, comp_dim, weights.shape[1]),
        "time": series_time(series),
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
