"""``imaging.segment`` keeps the movie's mean image and its local correlation image."""

from __future__ import annotations

import numpy as np
import pytest

from neuronmf.datasets import simulate_movie
from neuronmf.imaging import segment


@pytest.fixture(scope="module")
def sim():
    return simulate_movie((48, 48), 200, 8, 4.0, seed=4)


@pytest.fixture(scope="module")
def seg(sim):
    """Four patches: each gives the core of the correlation image."""
    return segment(sim.data, neuron_radius=4.0, patch=32, overlap=16)


def test_segment_keeps_the_mean_image(sim, seg):
    mean = seg["mean_image"]
    assert mean.dims == ("y", "x")
    np.testing.assert_allclose(mean, sim.data.mean("time"), rtol=1e-5)
    # the movie as given: not shifted by the offset segment adds to negatives
    shifted = segment(sim.data - 1000.0, neuron_radius=4.0, seeds="anatomy")
    np.testing.assert_allclose(shifted["mean_image"], mean - 1000.0, rtol=1e-5)
    assert shifted.attrs["offset_added"] > 0


def test_segment_keeps_the_correlation_image(sim, seg):
    assert seg.attrs["n_patches"] == 4
    corr = seg["correlation_image"].values
    assert seg["correlation_image"].dims == ("y", "x")
    assert np.isfinite(corr).all() and (np.abs(corr) <= 1).all()
    # neighbouring pixels of active neurons correlate; the background's do not
    inside = (sim.truth["footprints"].values > 0).any(0)
    assert corr[inside].mean() > corr[~inside].mean() + 0.2


def test_anatomy_only_has_no_correlation_image(sim):
    seg = segment(sim.data, neuron_radius=4.0, seeds="anatomy")
    assert "mean_image" in seg and "correlation_image" not in seg


def test_summary_images_round_trip_through_netcdf_and_nwb(tmp_path, seg):
    from pynwb import NWBHDF5IO
    from pynwb.image import GrayscaleImage

    from neuronmf.io import load_result, save_netcdf, save_nwb

    for path in (
        save_netcdf(seg, tmp_path / "s.nc"),
        save_nwb(seg, tmp_path / "s.nwb"),
    ):
        back = load_result(path)
        for k in ("mean_image", "correlation_image"):
            np.testing.assert_allclose(back[k], seg[k], rtol=1e-6, err_msg=k)
            assert back[k].dims == ("y", "x")
    # NWB: GrayscaleImages of an Images container in ophys, stored (x, y)
    with NWBHDF5IO(str(tmp_path / "s.nwb"), "r") as io:
        images = io.read().processing["ophys"]["PlaneSegmentationImages"].images
        assert isinstance(images["mean_image"], GrayscaleImage)
        np.testing.assert_allclose(
            images["mean_image"].data[:], seg["mean_image"].values.T, rtol=1e-6
        )
