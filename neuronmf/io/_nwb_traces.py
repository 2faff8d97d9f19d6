"""NWB series of a segmentation's traces (``neuronmf.imaging.traces``).

:func:`add_trace_series` writes, beside the segmentation's own series (see
:mod:`neuronmf.io._nwb_segmentation`), one ``RoiResponseSeries`` (time, roi) in
the ``Fluorescence`` container for each of these variables when present:

==================== ===========================================================
variable             series name (``<plane>`` the PlaneSegmentation's name)
==================== ===========================================================
``fluorescence``     ``<plane>Corrected``: F − α·N, neuropil-corrected
``raw_fluorescence`` ``<plane>Raw``: F, the cell's own pixels
``neuropil``         ``<plane>Neuropil``: N, the annulus
``denoised``         ``<plane>Denoised``: OASIS calcium of ΔF/F
``spikes``           ``<plane>Deconvolved``: OASIS spikes of ΔF/F
==================== ===========================================================

(``dff`` goes to ``DfOverF`` with the segmentation's writer.) Each description
names its variable (``neuronmf variable 'spikes'``), which
:func:`read_trace_series` reads back, whatever name the series got.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import xarray as xr

from neuronmf.io._nwb_file import free_name

__all__ = ["SERIES", "add_trace_series", "read_trace_series"]

#: variable → (series name suffix, unit, description)
SERIES = {
    "fluorescence": ("Corrected", "a.u.", "neuropil-corrected fluorescence F - a N"),
    "raw_fluorescence": ("Raw", "a.u.", "fluorescence F of the cell's own pixels"),
    "neuropil": ("Neuropil", "a.u.", "neuropil N of the annulus around the cell"),
    "denoised": ("Denoised", "dF/F", "OASIS denoised calcium of dF/F"),
    "spikes": ("Deconvolved", "dF/F", "OASIS deconvolved spikes of dF/F"),
}
_TAG = re.compile(r"neuronmf variable '([a-z_]+)'")


def add_trace_series(ophys, ps, ps_name: str, ds: xr.Dataset, timing: dict) -> None:
    """The trace variables of ``ds`` present as series in ``Fluorescence``."""
    from pynwb.ophys import Fluorescence

    present = [
        k for k in SERIES if k in ds.data_vars and set(ds[k].dims) == {"neuron", "time"}
    ]
    if not present:
        return
    fl = ophys.data_interfaces.get("Fluorescence")
    if fl is None:
        fl = Fluorescence(name="Fluorescence")
        ophys.add(fl)
    n = ds.sizes["neuron"]
    for k in present:
        suffix, unit, what = SERIES[k]
        rois = ps.create_roi_table_region(
            region=list(range(n)), description="All neurons found by neuronmf."
        )
        fl.create_roi_response_series(
            name=free_name(fl.roi_response_series, f"{ps_name}{suffix}", False, "x"),
            data=np.asarray(ds[k].transpose("time", "neuron").values, dtype=float),
            rois=rois,
            unit=unit,
            description=f"neuronmf variable '{k}': {what} (time, roi) of {ps_name}.",
            **timing,
        )


def read_trace_series(ophys, ps) -> dict[str, Any]:
    """``{variable: (("neuron", "time"), values)}`` of the series written above."""
    out: dict[str, Any] = {}
    fl = ophys.data_interfaces.get("Fluorescence")
    for s in fl.roi_response_series.values() if fl is not None else []:
        match = _TAG.match(s.description or "")
        if match and s.rois.table is ps and match.group(1) in SERIES:
            out[match.group(1)] = (("neuron", "time"), np.asarray(s.data[:]).T)
    return out
