"""Segmentation and scoring (simulated movies; a cropped neurofinder movie)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import neuronmf as nm
from neuronmf.errors import InputError


@pytest.fixture(scope="module")
def sim():
    return nm.datasets.simulate_movie((64, 64), 300, 20, 4.0, seed=0)


@pytest.fixture(scope="module")
def seg(sim):
    return nm.imaging.segment(sim.data, neuron_radius=4.0)


def test_simulated_f1_iou(sim, seg):
    s = nm.imaging.score(seg, sim.truth, method="iou")
    assert s["f1"] >= 0.95, s
    assert nm.imaging.score(seg, sim.truth, method="centroid")["f1"] >= 0.95


def test_dataset_contents(seg, sim):
    assert seg["footprints"].dims == ("neuron", "y", "x")
    assert seg["traces"].dims == ("neuron", "time")
    for v in (
        "dff",
        "snr",
        "compactness",
        "trace_correlation",
        "background_footprints",
        "background_traces",
        "rejected_reason",
        "rejected_origin",
        "baseline",
        "origin",
        "soma_response",
        "activity_evidence",
        "anatomy_score",
    ):
        assert v in seg
    # simulated somata are filled discs, not rings: every neuron is found by activity
    assert (seg.origin.values == "activity").all()
    assert seg.attrs["seeds"] == "anatomy+activity"
    assert (seg.footprints >= 0).all() and (seg.traces >= 0).all()
    assert seg.attrs["neuron_radius"] == 4.0 and "min_snr" in seg.attrs
    # traces correlate with the planted calcium of the matched neuron
    s = nm.imaging.score(seg, sim.truth)
    true_c = sim.truth["traces"].values
    r = [np.corrcoef(seg.traces.values[i], true_c[j])[0, 1] for i, j in s["matches"]]
    assert np.median(r) > 0.9


def test_netcdf_roundtrip(seg, tmp_path):
    seg.to_netcdf(tmp_path / "s.nc")
    back = xr.load_dataset(tmp_path / "s.nc")
    assert back.attrs["neuron_radius"] == 4.0
    np.testing.assert_allclose(back.footprints.values, seg.footprints.values)


def test_patches_parallel_match_whole(sim, seg):
    whole = seg
    tiled = nm.imaging.segment(
        sim.data, neuron_radius=4.0, patch=40, overlap=16, n_jobs=2
    )
    assert tiled.attrs["n_patches"] == 4
    s = nm.imaging.score(tiled, sim.truth)
    assert s["f1"] >= 0.9, s
    assert abs(tiled.sizes["neuron"] - whole.sizes["neuron"]) <= 2


def test_lazy_dask_movie(sim, capsys):
    lazy = sim.data.chunk({"time": -1, "y": 32, "x": 32})
    out = nm.imaging.segment(
        lazy, neuron_radius=4.0, patch=40, overlap=16, progress=True
    )
    assert nm.imaging.score(out, sim.truth)["f1"] >= 0.9
    assert "4/4" in capsys.readouterr().err  # the progress bar counted the patches


def test_rejection_reasons(sim):
    out = nm.imaging.segment(sim.data, neuron_radius=4.0, min_snr=1e6, seeds="activity")
    assert out.sizes["neuron"] == 0
    assert out.sizes["rejected"] >= 15
    assert all("snr" in r for r in out.rejected_reason.values)


def test_bad_inputs(sim):
    with pytest.raises(InputError, match="at least 2 frames"):
        nm.imaging.segment(sim.data.isel(time=slice(0, 1)), neuron_radius=4.0)
    with pytest.raises(InputError, match="neuron_radius"):
        nm.imaging.segment(sim.data, neuron_radius=40.0)
    bad = sim.data.astype(np.float32)
    bad[7, 3, 3] = np.nan
    with pytest.raises(InputError, match="frame 7"):
        nm.imaging.segment(bad, neuron_radius=4.0)
    with pytest.raises(InputError, match="options"):
        nm.imaging.segment(sim.data, neuron_radius=4.0, min_snnr=3)
    const = xr.zeros_like(sim.data)
    with pytest.raises(InputError, match="constant"):
        nm.imaging.segment(const, neuron_radius=4.0)


def test_constant_and_saturated_frames_reported(sim):
    mov = sim.data.isel(time=slice(0, 120)).copy()
    assert mov.dtype == np.uint16
    mov[5] = 7
    mov[9] = np.iinfo(np.uint16).max
    with pytest.warns(UserWarning, match="constant frame"):
        out = nm.imaging.segment(mov, neuron_radius=4.0)
    assert "5" in out.attrs["constant_frames"] and "9" in out.attrs["saturated_frames"]


def test_score_methods():
    t = np.zeros((2, 30, 30), bool)
    t[0, 2:8, 2:8] = True
    t[1, 20:26, 20:26] = True
    f = np.zeros((3, 30, 30))
    f[0, 3:9, 3:9] = 1.0  # IoU 25/47 > 0.3
    f[1, 21:23, 21:23] = 1.0  # IoU 4/36 < 0.3, centroid within 5 px
    f[2, 12:15, 12:15] = 1.0  # false positive
    s = nm.imaging.score(f, t, method="iou")
    assert s["n_matched"] == 1 and s["matches"] == [(0, 0)]
    assert s["precision"] == pytest.approx(1 / 3) and s["recall"] == 0.5
    c = nm.imaging.score(f, t, method="centroid")
    assert c["n_matched"] == 2
    with pytest.raises(InputError):
        nm.imaging.score(f, t, method="bogus")


DATA = (
    Path(os.environ.get("NEURONMF_DATA_DIR", "/work/shared/data"))
    / "neurofinder_subset"
)


CROP = (slice(128, 256), slice(32, 160))  # rows, columns of the 512 x 512 field


@pytest.mark.skipif(not DATA.exists(), reason="neurofinder_subset not available")
def test_neurofinder_active_crop():
    """Real neurofinder crop: measured numbers asserted (floors just under them).

    Crop rows 128-255, columns 32-159: the 128 x 128 window holding the most
    annotated neurons that are *active* in these 200 frames (peak-to-noise of
    the mask-mean trace >= 8; only ~12 % of the 330 annotated neurons are).

    Measured (neuron_radius=5, IoU rule, 2026-11-28):

    - ``seeds="activity"``: 8 found, precision 0.63; against the 9 active
      neurons recall 0.56, F1 0.59; against all 43 annotated F1 0.20;
    - default ``seeds="anatomy+activity"``: 69 found (61 anatomical),
      precision 0.35, recall 0.56, F1 0.43 against all 43 annotated (the issue's
      target, > 0.25, is met here); 8 of the 9 active neurons are matched.
    """
    from neuronmf.imaging.seeds import noise_level

    mov = nm.io.load_movie(DATA / "images").isel(y=CROP[0], x=CROP[1])
    truth = nm.io.load_regions(DATA, (512, 512)).values[(slice(None), *CROP)]
    truth = truth[truth.sum((1, 2)) >= 20]
    Y = np.asarray(mov.values, np.float32)
    traces = np.array([Y[:, m].mean(1) for m in truth])
    pnr = (traces.max(1) - np.median(traces, 1)) / noise_level(traces, axis=1)
    active = truth[pnr >= 8]
    assert len(truth) == 43 and len(active) == 9
    act = nm.imaging.segment(mov, neuron_radius=5.0, seeds="activity")
    s_all = nm.imaging.score(act, truth)
    s_act = nm.imaging.score(act, active)
    assert s_all["precision"] >= 0.5, s_all
    assert s_act["recall"] >= 0.5 and s_act["f1"] >= 0.5, s_act
    assert s_all["f1"] >= 0.15, s_all
    seg = nm.imaging.segment(mov, neuron_radius=5.0)
    s_all = nm.imaging.score(seg, truth)
    assert s_all["f1"] >= 0.38 and s_all["recall"] >= 0.5, s_all
    assert s_all["precision"] >= 0.3, s_all
    assert nm.imaging.score(seg, active)["recall"] >= 0.75
    assert (seg.origin.values == "anatomy").sum() >= 40


def test_long_movies_are_seeded_on_binned_frames():
    """seed_frames < T bins the frames for seeding; traces stay at full rate."""
    sim = nm.datasets.simulate_movie((48, 48), 200, 8, 4.0, seed=1)
    seg = nm.imaging.segment(sim.data, neuron_radius=4.0, seed_frames=50)
    assert seg.sizes["time"] == 200
    assert nm.imaging.score(seg, sim.truth)["f1"] >= 0.9
    with pytest.raises(nm.InputError, match="seed_frames must be"):
        nm.imaging.segment(sim.data, neuron_radius=4.0, seed_frames=1)


def test_footprints_beyond_the_dense_limit_are_lazy(monkeypatch):
    """Large fields of view get dask-backed footprints with the same values."""
    import importlib

    assembly = importlib.import_module("neuronmf.imaging._assembly")

    sim = nm.datasets.simulate_movie((48, 48), 150, 8, 4.0, seed=3)
    dense = nm.imaging.segment(sim.data, neuron_radius=4.0)
    monkeypatch.setattr(assembly, "DENSE_FOOTPRINTS_MAX_BYTES", 0)
    lazy = nm.imaging.segment(sim.data, neuron_radius=4.0)
    assert isinstance(dense["footprints"].data, np.ndarray)
    assert not isinstance(lazy["footprints"].data, np.ndarray)
    assert lazy["footprints"].chunks[0] == (1,) * lazy.sizes["neuron"]
    np.testing.assert_array_equal(lazy["footprints"].values, dense["footprints"].values)
    np.testing.assert_allclose(lazy["dff"].values, dense["dff"].values)


def test_lazy_frame_stats_read_block_by_block_match_numpy():
    import dask.array as da

    from neuronmf.imaging._out_of_core import _lazy_frame_stats

    rng = np.random.default_rng(0)
    movie = rng.random((30, 20, 18)).astype(np.float32)
    movie[7, 3, 4] = np.nan
    lazy = da.from_array(movie, chunks=(11, 8, 7))
    mn, mx, ok, (mean, half_difference) = _lazy_frame_stats(lazy, True, True)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(ok, np.isfinite(movie).all(axis=(1, 2)))
        good = ok
        np.testing.assert_allclose(mn[good], movie[good].min(axis=(1, 2)))
        np.testing.assert_allclose(mx[good], movie[good].max(axis=(1, 2)))
        np.testing.assert_allclose(mean, movie.mean(axis=0, dtype=np.float64))
        # odd time chunks (11 frames): the parity follows the frame, not the block
        even_minus_odd = movie[0::2].sum(0, dtype=np.float64) - movie[1::2].sum(
            0, dtype=np.float64
        )
        np.testing.assert_allclose(half_difference, even_minus_odd / len(movie))


def test_pure_noise_movie_gives_no_neurons():
    """Null data: white noise has no somata and no transients. The anatomical
    candidates' contrast normalisation alone made 56 'neurons' of such a
    128 × 128 × 500 movie; their SNR against the half-difference image must
    keep every one out (on the in-memory and the dask path)."""
    import dask.array as da

    rng = np.random.default_rng(5)
    movie = (100 + rng.normal(size=(300, 96, 96))).astype(np.float32)
    for data in (movie, da.from_array(movie, chunks=(75, 96, 96))):
        seg = nm.imaging.segment(data, neuron_radius=4.0)
        assert seg.sizes["neuron"] == 0, seg.origin.values
