from __future__ import annotations

import numpy as np
import pytest

from neuronmf.errors import InputError
from neuronmf.io import (
    load_activity,
    load_behavior,
    load_masks,
    load_regions,
)
from tests.conftest import real_file, sha256

ENDOSCOPE = ("endoscope_ophys_nwb", "nwb_test.nwb")
TETRODE = ("hc_linear_track", "spikes_flat_and_position.npz")


def test_endoscope_traces_and_masks():
    path = real_file(*ENDOSCOPE)
    before = sha256(path)
    act = load_activity(path, series="RoiResponseSeries")
    assert act.dims == ("time", "neuron") and act.shape == (250, 15)
    assert act.attrs["rate"] == 10.0
    np.testing.assert_allclose(act.time.values[:3], [0.0, 0.1, 0.2])
    assert list(act.neuron.values) == list(range(15))
    assert act.attrs["source_path"] == "processing/ophys/Fluorescence/RoiResponseSeries"
    masks = load_masks(path)
    assert masks.dims == ("neuron", "y", "x") and masks.shape == (15, 128, 128)
    assert "Accepted" in masks.coords
    assert sha256(path) == before


def test_endoscope_ambiguous_lists_candidates():
    path = real_file(*ENDOSCOPE)
    with pytest.raises(InputError, match=r"several candidates.*Deconvolved.*Neuropil"):
        load_activity(path)


def test_tetrode_spikes_and_position():
    path = real_file(*TETRODE)
    before = sha256(path)
    act = load_activity(path, bin_width=0.1)
    assert act.dims == ("time", "neuron") and act.shape[1] == 31
    z = np.load(path)
    assert int(act.sum()) == z["spike_times"].size
    assert act.attrs["rate"] == 10.0 and act.attrs["units"] == "spikes"
    beh = load_behavior(path, times=act.time)
    assert beh.dims == ("time", "axis") and list(beh.axis.values) == ["x", "y"]
    assert beh.sizes["time"] == act.sizes["time"]
    np.testing.assert_array_equal(beh.time.values, act.time.values)
    inside = np.isfinite(beh.values[:, 0])
    assert inside.mean() > 0.95
    lo, hi = z["position_x"].min(), z["position_x"].max()
    assert lo <= np.nanmin(beh.values[:, 0]) <= np.nanmax(beh.values[:, 0]) <= hi
    assert sha256(path) == before


def test_spikes_need_bin_width(tmp_path):
    p = tmp_path / "s.npz"
    np.savez(p, spike_times=[0.1, 0.2], spike_unit=[0, 1])
    with pytest.raises(InputError, match=r"bin_width must be a positive number"):
        load_activity(p)


def test_nwb_units_binned(units_nwb):
    path, _ = units_nwb
    act = load_activity(path, bin_width=0.5, t_start=0.0, t_stop=1.0)
    assert list(act.neuron.values) == [10, 11, 12]
    np.testing.assert_allclose(act.time.values, [0.25, 0.75])
    np.testing.assert_array_equal(act.values, [[2, 1, 1], [1, 0, 3]])
    assert act.attrs["source_path"] == "units"


def test_nwb_behavior_resampled(behavior_nwb):
    path, _, xy = behavior_nwb
    beh = load_behavior(path)
    np.testing.assert_allclose(beh.values, xy)
    assert beh.attrs["rate"] == 10.0
    new = np.array([0.05, 0.5, 2.0])
    res = load_behavior(path, series="pos", times=new)
    np.testing.assert_allclose(res.values[:2], [[0.5, -0.05], [5.0, -0.5]])
    assert np.all(np.isnan(res.values[2]))


def test_neurofinder_regions():
    folder = real_file("neurofinder_subset")
    masks = load_regions(folder, (512, 512))
    assert masks.shape == (330, 512, 512) and masks.dtype == bool
    assert masks.any(axis=(1, 2)).all()
    crop = load_regions(folder / "regions" / "regions.json", (256, 256))
    assert crop.shape == (330, 256, 256)


def test_regions_bad_json(tmp_path):
    p = tmp_path / "regions.json"
    p.write_text('[{"id": 1}]')
    with pytest.raises(InputError, match=r"regions\.json.*coordinates"):
        load_regions(p, (4, 4))


@pytest.mark.parametrize("bw", [0, -0.1, float("nan"), float("inf"), "0.1", True])
def test_bin_spikes_refuses_bad_bin_width(bw):
    from neuronmf.io.activity import bin_spikes

    with pytest.raises(InputError, match="bin_width must be a positive number"):
        bin_spikes(np.array([0.1, 0.2]), np.array([0, 1]), bw)
