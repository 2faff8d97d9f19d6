"""Synthetic NWB / HDF5 files for the loader tests (built with pynwb.testing.mock)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

MUSCLES = ["TA", "SO", "GM", "VL"]


def write_nwb(nwbfile, path: Path) -> Path:
    from pynwb import NWBHDF5IO

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBHDF5IO(str(path), "w") as io:
            io.write(nwbfile)
    return path


def emg_nwbfile(*, location=True, n=500, rate=2000.0, envelope=True):
    """Our convention: acquisition/EMG ElectricalSeries + processing/emg/EMGEnvelope."""
    from pynwb.ecephys import ElectricalSeries
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.ecephys import mock_ElectrodeGroup
    from pynwb.testing.mock.file import mock_NWBFile

    nwb = mock_NWBFile()
    group = mock_ElectrodeGroup(nwbfile=nwb)
    for m in MUSCLES:
        nwb.add_electrode(group=group, location=m if location else "leg")
    region = nwb.create_electrode_table_region(list(range(len(MUSCLES))), "muscles")
    rng = np.random.default_rng(0)
    data = rng.standard_normal((n, len(MUSCLES))) * 1e-4
    nwb.add_acquisition(
        ElectricalSeries(
            name="EMG",
            data=data,
            electrodes=region,
            rate=rate,
            starting_time=1.5,
            description="raw surface EMG",
        )
    )
    if envelope:
        mod = nwb.create_processing_module("emg", "processed EMG")
        mod.add(
            mock_TimeSeries(
                name="EMGEnvelope",
                data=np.abs(data[::10]),
                rate=rate / 10,
                unit="volts",
                description="channels: " + ", ".join(MUSCLES),
            )
        )
    return nwb, data


@pytest.fixture
def emg_nwb(tmp_path):
    nwb, data = emg_nwbfile()
    return write_nwb(nwb, tmp_path / "emg.nwb"), data


@pytest.fixture
def movie_nwb(tmp_path):
    """A TwoPhotonSeries (frames, x, y) = (20, 6, 4) with distinct x/y sizes."""
    from pynwb.testing.mock.file import mock_NWBFile
    from pynwb.testing.mock.ophys import mock_ImagingPlane, mock_TwoPhotonSeries

    nwb = mock_NWBFile()
    plane = mock_ImagingPlane(nwbfile=nwb)
    data = np.arange(20 * 6 * 4, dtype=np.uint16).reshape(20, 6, 4)
    series = mock_TwoPhotonSeries(
        name="TwoPhotonSeries", data=data, rate=30.0, imaging_plane=plane, nwbfile=nwb
    )
    assert series.name in nwb.acquisition
    return write_nwb(nwb, tmp_path / "movie.nwb"), data


@pytest.fixture
def units_nwb(tmp_path):
    from pynwb.testing.mock.file import mock_NWBFile

    nwb = mock_NWBFile()
    spikes = [[0.01, 0.02, 0.51], [0.3], [0.05, 0.95, 0.96, 0.97]]
    for i, st in enumerate(spikes):
        nwb.add_unit(spike_times=st, id=10 + i)
    return write_nwb(nwb, tmp_path / "units.nwb"), spikes


@pytest.fixture
def behavior_nwb(tmp_path):
    from pynwb.behavior import Position
    from pynwb.testing.mock.behavior import mock_SpatialSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwb = mock_NWBFile()
    t = np.arange(11) * 0.1
    xy = np.stack([t * 10, -t], axis=1)
    mod = nwb.create_processing_module("behavior", "behaviour")
    mod.add(
        Position(
            spatial_series=mock_SpatialSeries(
                name="pos", data=xy, timestamps=t, rate=None
            )
        )
    )
    return write_nwb(nwb, tmp_path / "behavior.nwb"), t, xy
