"""The ring background of one-photon movies: ``segment(background="ring")``."""

from __future__ import annotations

import numpy as np
import pytest

from neuronmf.datasets import simulate_movie
from neuronmf.errors import InputError
from neuronmf.imaging import SegmentParameters, score, segment
from neuronmf.imaging._ring import (
    RingGeometry,
    fit_ring_weights,
    fit_ring_weights_numpy,
    grow_tiles,
    ring_offsets,
)


@pytest.fixture(scope="module")
def one_photon():
    return simulate_movie((48, 48), 300, 6, 3.0, one_photon=True, seed=3)


def test_ring_offsets_lie_on_the_ring():
    off = ring_offsets(9.0, n_max=24)
    assert len(off) == 24
    assert np.all(np.abs(np.hypot(*off.T) - 9.0) < 0.5)
    assert len(np.unique(off, axis=0)) == 24


def test_kernel_matches_numpy_twin():
    rng = np.random.default_rng(0)
    F = rng.standard_normal((17 * 15, 40))
    F -= F.mean(1, keepdims=True)
    g = RingGeometry((17, 15), 6.0)
    W = fit_ring_weights(F, g).toarray()
    W2 = fit_ring_weights_numpy(F, g).toarray()
    assert W.shape == (17 * 15, 9 * 8)
    np.testing.assert_allclose(W, W2, rtol=1e-4, atol=1e-6)
    # only ring blocks carry weight: pixel 0's block is 0, its ring at 3 blocks
    cols = np.nonzero(W[0])[0]
    by, bx = np.divmod(cols, 8)
    assert np.all(np.abs(np.hypot(by, bx) - 3.0) < 0.5)


def test_ring_predicts_a_structured_background():
    """Three sources with their own time courses: the ring explains them."""
    rng = np.random.default_rng(1)
    h = w = 32
    yy, xx = np.mgrid[:h, :w]
    maps = np.stack(
        [
            np.exp(-((yy - 8) ** 2 + (xx - 10) ** 2) / 150.0),
            np.exp(-((yy - 25) ** 2 + (xx - 22) ** 2) / 100.0),
            np.exp(-((xx - 16 - 3 * np.sin(yy / 5.0)) ** 2) / 2.0),  # a vessel
        ]
    ).reshape(3, -1)
    courses = rng.standard_normal((3, 400)).cumsum(1)
    F = maps.T @ courses + 0.05 * rng.standard_normal((h * w, 400))
    F -= F.mean(1, keepdims=True)
    g = RingGeometry((h, w), 9.0)
    B = fit_ring_weights(F, g) @ (g.down @ F)
    err = np.linalg.norm(F - B) / np.linalg.norm(F)
    assert err < 0.05


def test_grow_tiles_keeps_cores():
    tiles = [(slice(0, 20), slice(10, 30), "core")]
    assert grow_tiles(tiles, 4.2, (40, 32)) == [(slice(0, 25), slice(5, 32), "core")]


def test_ring_finds_the_neurons_and_low_rank_does_not(one_photon):
    sim = one_photon
    seg = segment(sim.data, neuron_radius=3.0, seeds="activity", background="ring")
    sc = score(seg.footprints, sim.truth["masks"])
    assert sc["f1"] >= 0.9
    assert seg.attrs["background"] == "ring"
    assert "ring background" in seg.attrs["method"]
    assert seg.sizes["background"] == 0
    assert seg["traces"].shape == (seg.sizes["neuron"], 300)
    assert np.isfinite(seg["dff"].values).all()
    low = segment(sim.data, neuron_radius=3.0, seeds="activity")
    assert score(low.footprints, sim.truth["masks"])["f1"] < sc["f1"] - 0.3


def test_null_one_photon_movie_gives_no_neurons():
    sim = simulate_movie((48, 48), 300, 0, 3.0, one_photon=True, seed=4)
    seg = segment(sim.data, neuron_radius=3.0, background="ring")
    assert seg.sizes["neuron"] <= 1


def test_ring_parameters():
    p = SegmentParameters.from_radius(4.0, background="ring")
    assert (p.background, p.ring_radius, p.ring_iter, p.min_pnr) == (
        "ring",
        12.0,
        2,
        8.0,
    )
    q = SegmentParameters.from_radius(4.0)
    assert (q.background, q.min_pnr) == ("low-rank", 5.0)
    with pytest.raises(InputError, match="background must be 'low-rank' or 'ring'"):
        SegmentParameters.from_radius(4.0, background="rings")
    with pytest.raises(InputError, match="ring_radius must be larger than"):
        SegmentParameters.from_radius(4.0, ring_radius=3.0).check_radius(4.0)
    with pytest.raises(InputError, match="ring_iter"):
        SegmentParameters.from_radius(4.0, ring_iter=0)


def test_ring_refuses_out_of_core_patches(one_photon):
    with pytest.raises(InputError, match="background must be 'low-rank' when"):
        segment(
            one_photon.data, neuron_radius=3.0, background="ring", patch_memory=1000
        )


def test_simulate_one_photon():
    sim = simulate_movie((40, 40), 60, 3, 3.0, one_photon=True, seed=0)
    plain = simulate_movie((40, 40), 60, 3, 3.0, seed=0)
    bg = sim.truth["one_photon_background"].values
    assert bg.mean() >= 5 * 200.0 and bg.max() <= 25 * 200.0
    assert sim.params["one_photon"] is True and "one_photon" not in plain.params
    # blurred footprints: wider than the plain ones
    assert sim.truth["masks"].sum() > plain.truth["masks"].sum()
    # the background fluctuates on its own (no neuron there)
    Y = sim.data.values.astype(float)
    far = sim.truth["footprints"].values.sum(0) == 0
    assert Y[:, far].mean(1).std() > 3 * plain.data.values[:, far].mean(1).std()
    with pytest.raises(InputError, match="one_photon must be True or False"):
        simulate_movie((40, 40), 60, 3, 3.0, one_photon="yes")
