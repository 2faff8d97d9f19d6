"""One patch of ``segment``: detection on binned frames, traces at the full rate."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

import neuronmf as nm
from neuronmf.engine.nnls import nnls_columns
from neuronmf.imaging._out_of_core import _highpass
from neuronmf.imaging._parameters import SegmentParameters
from neuronmf.imaging._patch import _binned, _full_rate_traces

PARAMETERS = SegmentParameters.from_radius(2.0)


@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize("refine", ["full", False])
def test_full_rate_traces_are_the_nnls_fit_of_the_highpassed_frames(lazy, refine):
    """Against the plain reference: high-pass every frame, then exact NNLS."""
    rng = np.random.default_rng(1)
    T, h, w, r = 60, 18, 22, 2.0
    A = np.zeros((2, h, w))
    A[0, 3:8, 4:9], A[1, 10:15, 12:18] = 1.0, 0.7
    bg = 0.5 + rng.random((1, h, w))
    C = rng.gamma(1.0, 3.0, (2, T))
    Y = (np.tensordot(C.T, A, 1) + 20 + rng.normal(0, 1, (T, h, w))).astype(np.float32)
    b0 = np.percentile(Y, 10, axis=0).astype(np.float32)
    out = {"A": A, "bg_W": bg, "b0": b0, "origin": ["activity"] * 2}
    out.update(reasons=["", ""], measures={})
    movie = da.from_array(Y, chunks=(17, h, w)) if lazy else Y
    got = _full_rate_traces(out, movie, r, refine, PARAMETERS)
    Rh = _highpass(Y - b0, r).reshape(T, -1).T.astype(np.float64)
    W = np.concatenate([A, bg] if refine else [A]).reshape(-1 if refine else 2, h * w)
    want = nnls_columns(Rh, W.T)
    np.testing.assert_allclose(got["C"], want[:2], rtol=1e-4, atol=1e-4)
    if refine:
        np.testing.assert_allclose(got["bg_H"], want[2:], rtol=1e-4, atol=1e-4)
    else:
        np.testing.assert_array_equal(got["bg_H"], np.ones((1, T)))
    # the fit follows the true traces
    for k in range(2):
        assert np.corrcoef(got["C"][k], C[k])[0, 1] > 0.9
    # judged again at the full rate: the measures of these traces
    ref = nm.imaging.quality
    np.testing.assert_allclose(got["measures"]["snr"], ref.trace_snr(got["C"]))
    tc = ref.trace_correlation(A, got["C"], Y - b0)
    np.testing.assert_allclose(got["measures"]["trace_correlation"], tc, atol=1e-5)
    assert got["reasons"] == ["", ""]


def test_full_rate_quality_rejects_what_binning_hid():
    """A kept activity component whose full-rate trace fails is rejected; an
    anatomical one is judged on its area only; a rejected one keeps its reason."""
    rng = np.random.default_rng(3)
    T, h, w = 80, 12, 12
    A = np.zeros((3, h, w))
    A[:, 3:9, 3:9] = 1.0
    Y = (20 + rng.normal(0, 1, (T, h, w))).astype(np.float32)  # no signal at all
    out = {"A": A, "bg_W": np.zeros((0, h, w)), "b0": np.full((h, w), 20, np.float32)}
    out.update(
        origin=["activity", "anatomy", "activity"],
        reasons=["", "", "area 3 px < 39"],
        measures={},
    )
    p = PARAMETERS.replace(min_snr=100.0, min_area=1)
    got = _full_rate_traces(out, Y, 2.0, "full", p)
    assert got["reasons"][0].startswith("snr") and "< 100.0" in got["reasons"][0]
    assert got["reasons"][1] == ""
    assert got["reasons"][2] == "area 3 px < 39"


def test_full_rate_background_with_no_neurons():
    """A patch of noise: no neuron, and its background still fitted at the full rate."""
    rng = np.random.default_rng(4)
    Y = (20 + rng.normal(0, 1, (30, 8, 9))).astype(np.float32)
    out = {"A": np.zeros((0, 8, 9)), "bg_W": np.ones((1, 8, 9)), "b0": Y.min(0)}
    out.update(origin=[], reasons=[], measures={})
    got = _full_rate_traces(out, Y, 2.0, "full", PARAMETERS)
    assert got["C"].shape == (0, 30) and got["bg_H"].shape == (1, 30)
    assert got["reasons"] == [] and got["measures"]["snr"].shape == (0,)


def test_full_rate_traces_with_no_components():
    Y = np.ones((10, 8, 8), np.float32)
    out = {"A": np.zeros((0, 8, 8)), "bg_W": np.zeros((0, 8, 8)), "b0": Y[0]}
    got = _full_rate_traces(out, Y, 2.0, "full", PARAMETERS)
    assert got["C"].shape == (0, 10) and got["bg_H"].shape == (0, 10)


def test_binned_in_memory_and_lazy_agree():
    Y = np.random.default_rng(2).random((23, 5, 6)).astype(np.float32)
    mem = _binned(Y, 4)
    lazy = _binned(da.from_array(Y, chunks=(7, 5, 6)), 4)
    assert mem.shape == (5, 5, 6) and mem.dtype == np.float32
    np.testing.assert_allclose(mem, Y[:20].reshape(5, 4, 5, 6).mean(1), rtol=1e-6)
    np.testing.assert_allclose(lazy, mem, rtol=1e-6)


def test_long_movies_detect_on_binned_frames_and_keep_full_rate_traces():
    """Detection on 4× binned frames: the same neurons, traces at the full rate
    that follow the true calcium (frames the binning leaves out included)."""
    sim = nm.datasets.simulate_movie((48, 48), 402, 8, 4.0, seed=1)
    binned = nm.imaging.segment(sim.data, neuron_radius=4.0, seed_frames=100)
    full = nm.imaging.segment(sim.data, neuron_radius=4.0)
    assert binned.sizes["time"] == 402
    assert nm.imaging.score(binned, sim.truth)["f1"] >= 0.9
    matches = nm.imaging.score(binned, sim.truth)["matches"]
    corr = [
        np.corrcoef(binned.traces.values[i], sim.truth.traces.values[j])[0, 1]
        for i, j in matches
    ]
    assert np.median(corr) > 0.9, corr
    # the last 2 frames are in no bin, and still fitted
    assert np.all(np.isfinite(binned.traces.values[:, -2:]))
    same = nm.imaging.score(binned, full)["matches"]
    assert len(same) >= full.sizes["neuron"] - 1


def test_long_white_noise_gives_no_neuron():
    """Null data, detected on binned frames: nothing found, nothing crashes."""
    rng = np.random.default_rng(0)
    Y = (100 + 10 * rng.standard_normal((1100, 64, 64))).astype(np.float32)
    seg = nm.imaging.segment(Y, neuron_radius=4.0, seed_frames=100)
    assert seg.sizes["neuron"] == 0
    assert seg.background_traces.shape == (1, 1100)
