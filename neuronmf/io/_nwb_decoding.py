"""NWB writer and reader of decoding results (``neuronmf_kind="decoding"``).

Layout (``predictions`` and ``behavior`` (time), from
:meth:`neuronmf.decoding.DecodingResult.to_dataset`): a processing module
``"decoding"`` holding a ``BehavioralTimeSeries`` ``"DecodedBehavior"`` with the
``TimeSeries`` ``"predicted"`` (NaN where a bin was not predicted) and
``"observed"`` (timestamps: the time coordinate), one ``DynamicTable`` per other
dimension (``"folds"``: ``scores``, ``chosen_rank``, ``chosen_alpha``,
``rank_scores`` (fold, rank) as columns; ``"null"``: ``null_scores``) and one
``TimeSeries`` per extra time coordinate (``"test_fold"``: the outer fold that
predicted each bin, −1 for none), laid out by :mod:`neuronmf.io._nwb_tables`.
Its description says that decoding measures correlation, not causation. Every
variable, coordinate, dtype and attribute round-trips.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from neuronmf._provenance import version
from neuronmf.errors import input_error
from neuronmf.io._netcdf import _jsonable
from neuronmf.io._nwb_file import free_name, provenance_text
from neuronmf.io._nwb_tables import (
    add_tables,
    add_time_series,
    exact_layout,
    plan_tables,
    read_tables,
    times_of,
    unit_of,
)

__all__ = ["add_decoding", "read_decoding"]

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
_CONTAINER = "DecodedBehavior"


def add_decoding(nwbfile, ds: xr.Dataset, name, source) -> None:
    """Add a decoding result to ``nwbfile`` as a processing module."""
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
    mod_name = free_name(
        nwbfile.processing, name or "decoding", name is not None, "nwbfile.processing"
    )
    t = times_of(ds)
    attrs = ds.attrs
    behavior_name = str(attrs.get("behavior_name") or "behaviour")
    metric = str(attrs.get("metric", "score"))
    fmt = {
        "metric": metric,
        "rank": [_jsonable(v) for v in ds["rank"].values] if "rank" in ds else "",
    }
    time_vars = [k for k in _DECODING_SERIES if k in ds.data_vars]
    time_coords, tables, scalars = plan_tables(ds, time_vars, _DECODING_TABLES)
    extra = exact_layout(
        ds,
        {v: _DECODING_SERIES[v] for v in time_vars},
        time_coords,
        tables,
        scalars,
        what="decoding result",
        taken=[_CONTAINER],
    )
    extra["source"] = str(source) if source is not None else None
    module = nwbfile.create_processing_module(
        mod_name,
        _description(ds, behavior_name, metric, tables)
        + provenance_text(ds, "decoding", extra, exclude=tuple(time_coords)),
    )
    bts = BehavioralTimeSeries(name=_CONTAINER)
    stamps: list[Any] = []  # the first series holds the timestamps, the others link
    texts = {
        "predictions": f"Out-of-sample prediction of '{behavior_name}' (NaN where a "
        "bin was in no test block or in a gap).",
        "behavior": f"The decoded behaviour '{behavior_name}' on the activity bins.",
    }
    for var in time_vars:
        series = TimeSeries(
            name=_DECODING_SERIES[var],
            data=np.asarray(ds[var].values),
            unit=unit_of(ds, var),
            description=texts[var],
            timestamps=stamps[0] if stamps else t,
        )
        bts.add_timeseries(series)
        stamps.append(series)
    module.add(bts)

    def per_bin(k: str) -> str:
        if k == "test_fold":
            return "Outer fold whose test block predicted each bin (-1: none)."
        return f"neuronmf per-bin value {k!r} of the decoding result."

    def column(k: str) -> str:
        return _DECODING_COLUMNS.get(
            k, f"neuronmf decoding variable {k!r} {tuple(ds[k].dims)}."
        ).format(**fmt)

    add_time_series(module, ds, time_coords, stamps, t, per_bin)
    add_tables(module, ds, tables, column, "Decoding results")


def _description(ds: xr.Dataset, behavior_name: str, metric: str, tables) -> str:
    attrs = ds.attrs
    summary = ""
    if isinstance(attrs.get("score"), int | float | np.number):
        summary += f" {metric} = {float(attrs['score']):.3g};"
    if isinstance(attrs.get("p_value"), int | float | np.number) and np.isfinite(
        attrs["p_value"]
    ):
        summary += f" circularly shifted null: p = {float(attrs['p_value']):.3g};"
    where = "; ".join(
        f"{', '.join(e['vars'])} in the table '{e['table']}'"
        for d, e in tables.items()
        if ds.sizes[d] > 0
    )
    return (
        f"Out-of-sample decoding of '{behavior_name}' from neural activity with "
        f"neuronmf {version()} (model {attrs.get('model', '?')}, features "
        f"{attrs.get('features', '?')}; nested, blocked cross-validation;{summary} "
        f"{where}). Decoding measures correlation between activity and behaviour, "
        "not causation. "
    )


def read_decoding(module, info: dict) -> xr.Dataset:
    """Rebuild the decoding Dataset written by :func:`add_decoding`."""
    return read_tables(module, info, container=_CONTAINER)
