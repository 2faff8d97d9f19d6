"""Loaders (and writers) between files and labelled xarray data.

Every loader returns an :class:`xarray.DataArray` with named dims, coordinates
(time in seconds, channel/neuron names, pixel indices) and attributes (``rate``
in Hz, ``units``, ``source`` file and ``source_path`` inside it). See
``docs/data.md``.
"""

from neuronmf.io.activity import load_activity, load_behavior
from neuronmf.io.emg import load_emg
from neuronmf.io.inspection import FileContents, inspect
from neuronmf.io.intervals import load_events, load_intervals
from neuronmf.io.matlab import mat_variables, read_mat_variable
from neuronmf.io.movie import load_movie
from neuronmf.io.regions import load_masks, load_regions
from neuronmf.io.writers import load_result, save_netcdf, save_nwb

__all__ = [
    "FileContents",
    "inspect",
    "load_activity",
    "load_behavior",
    "load_emg",
    "load_events",
    "load_intervals",
    "load_masks",
    "load_movie",
    "load_regions",
    "load_result",
    "mat_variables",
    "read_mat_variable",
    "save_netcdf",
    "save_nwb",
]
