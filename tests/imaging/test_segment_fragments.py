"""Fragments of neurons left by residual motion (issue 23): found and rejected,
while overlapping neurons with their own activity survive."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from scipy.signal import lfilter

import neuronmf as nm
from neuronmf.imaging.quality import nested_fragments


def _disc(shape, centre, radius):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    d = np.hypot(yy - centre[0], xx - centre[1])
    return ndimage.gaussian_filter((d <= radius).astype(float), 0.7)


def _calcium(rng, T, rate=0.02, tau=8.0):
    spikes = rng.random(T) < rate
    spikes[rng.integers(0, T)] = True
    return lfilter([1.0], [1.0, -np.exp(-1.0 / tau)], spikes.astype(float))


def _spiky(rng, T):
    c = _calcium(rng, T)
    return c / c.max()


# ------------------------------------------------------------------ unit rule


def test_motion_fragment_inside_a_neuron_is_rejected():
    # the positive lobe of a neuron's motion dipole: its trace is the neuron's
    # times a residual shift, so it is active only while the neuron is
    rng = np.random.default_rng(0)
    T = 600
    host = _disc((21, 21), (10, 10), 4)
    frag = host * (np.arange(21) < 10)[None, :]
    c = 50 * _spiky(rng, T) + rng.normal(0, 0.3, T)
    cf = 0.15 * np.maximum(c, 0) * np.abs(rng.normal(0, 1, T)) + np.abs(
        rng.normal(0, 0.1, T)
    )
    A = np.array([host / np.linalg.norm(host), frag / np.linalg.norm(frag)])
    why = nested_fragments(A, np.array([c, cf]), np.array([100.0, 20.0]))
    assert why[0] == ""
    assert why[1].startswith("fragment: ")
    # the test turned off
    assert (
        nested_fragments(A, np.array([c, cf]), np.array([100.0, 20.0]), overlap=1)[1]
        == ""
    )


@pytest.mark.parametrize("offset", [0, 2, 4])
def test_overlapping_neurons_with_independent_traces_both_kept(offset):
    # a dimmer neuron lying (partly or wholly) on a brighter one, firing on its own
    rng = np.random.default_rng(offset)
    T = 600
    a = _disc((25, 25), (12, 12), 4.5)
    b = _disc((25, 25), (12, 12 + offset), 3.0)
    A = np.array([a / np.linalg.norm(a), b / np.linalg.norm(b)])
    C = np.array([60 * _spiky(rng, T), 10 * _spiky(rng, T)])
    C += np.abs(rng.normal(0, 0.2, C.shape))
    assert nested_fragments(A, C, np.array([200.0, 30.0])) == ["", ""]


def test_neuron_absorbed_by_a_merged_component_is_kept():
    # a brighter component that holds this neuron's activity (two neurons
    # merged): co-active, but the neuron dominates its own pixels
    rng = np.random.default_rng(3)
    T = 600
    own = _disc((25, 25), (12, 9), 4)
    other = _disc((25, 25), (12, 16), 4)
    c_own, c_other = 30 * _spiky(rng, T), 30 * _spiky(rng, T)
    blob = 0.3 * own + other
    A = np.array([blob / np.linalg.norm(blob), own / np.linalg.norm(own)])
    C = np.array([c_own + c_other, c_own]) + np.abs(rng.normal(0, 0.2, (2, T)))
    assert nested_fragments(A, C, np.array([300.0, 100.0]))[1] == ""


def test_fragment_overlap_is_checked():
    with pytest.raises(nm.errors.InputError, match="fragment_overlap"):
        nm.imaging.SegmentParameters.from_radius(4.0, fragment_overlap=1.5)
    assert nm.imaging.default_parameters(4.0)["fragment_overlap"] == 0.5


# ---------------------------------------------------------------- segment


def _jittered(movie: np.ndarray, sd: float, seed: int) -> np.ndarray:
    """Each frame shifted by a random sub-pixel offset (cubic): residual motion."""
    d = np.random.default_rng(seed).normal(0, sd, (len(movie), 2))
    return np.stack(
        [
            ndimage.shift(f, s, order=3, mode="nearest")
            for f, s in zip(movie, d, strict=True)
        ]
    )


@pytest.fixture(scope="module")
def jittered_sim():
    sim = nm.datasets.simulate_movie(
        (40, 40), 200, 4, 4.0, seed=0, motion={"rigid": 0, "resting": 0.5}
    )
    return sim, _jittered(sim.data.values.astype(float), 0.3, 0)


def test_residual_motion_leaves_no_fragments(jittered_sim):
    # issue 23: 0.3 px of residual motion per frame split every neuron into
    # several components (fragments on the neuron, trace correlation 0.5-0.7)
    sim, Y = jittered_sim
    seg = nm.imaging.segment(Y, neuron_radius=4.0)
    s = nm.imaging.score(seg, sim.truth)
    assert s["recall"] == 1.0, s
    assert seg.sizes["neuron"] == sim.truth.sizes["neuron"], s
    # with the floor of min_area before session 13 (⌈π(0.4 r)²⌉, not half a
    # soma's disc) the fragments are seeded, and the fragment test rejects them
    small = nm.imaging.segment(Y, neuron_radius=4.0, min_area=9)
    assert small.sizes["neuron"] == sim.truth.sizes["neuron"]
    assert any(r.startswith("fragment") for r in small["rejected_reason"].values)


def _two_overlapping_movie(offset: float, jitter: float, seed: int):
    rng = np.random.default_rng(seed)
    T, shape = 400, (40, 40)
    a = _disc(shape, (20, 17), 4.0)
    b = _disc(shape, (20, 17 + offset), 4.0)
    ca, cb = 300 * _spiky(rng, T), 150 * _spiky(rng, T)
    Y = 100 + 20 * (a + b) + a[None] * ca[:, None, None] + b[None] * cb[:, None, None]
    Y = Y + rng.normal(0, 5, (T, *shape))
    if jitter:
        Y = _jittered(Y, jitter, seed)
    return Y, np.array([a > 0.5, b > 0.5])


@pytest.mark.parametrize("jitter", [0.0, 0.3])
def test_two_overlapping_neurons_with_independent_traces_survive(jitter):
    Y, truth = _two_overlapping_movie(5.0, jitter, 1)
    assert (truth[0] & truth[1]).sum() >= 0.2 * truth[1].sum()  # they overlap
    seg = nm.imaging.segment(Y, neuron_radius=4.0)
    s = nm.imaging.score(seg, truth)
    assert s["recall"] == 1.0, (s, list(seg["rejected_reason"].values))
