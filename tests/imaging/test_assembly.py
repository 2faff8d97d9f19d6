"""``imaging._assembly``: joining the patches' components into one segmentation."""

from __future__ import annotations

import numpy as np

from neuronmf.imaging._assembly import _select


def _joined(centroids, traces, origins, snr):
    return {
        "measures": {"centroid": np.array(centroids, float), "snr": np.array(snr)},
        "origin": np.array(origins),
        "traces": np.array(traces, float),
    }


def test_a_neuron_kept_by_two_patches_is_kept_once():
    """Two patches' copies of one neuron (centroids on both sides of the cores'
    border): the stronger stays; a correlated neighbour farther than r / 2 and a
    close but independent one stay too; a disc near an activity neuron goes."""
    rng = np.random.default_rng(0)
    a, b, c = rng.random((3, 50))
    joined = _joined(
        [(10, 27.4), (10, 27.6), (10, 31.0), (11, 27.5), (10.5, 28), (40, 40)],
        [a, a + 0.01 * b, a, c, b, b],
        ["activity"] * 4 + ["anatomy", "anatomy"],
        [5.0, 6.0, 4.0, 3.0, 1.0, 1.0],
    )
    order = _select(joined, r=5.0, threshold=0.8)
    # index 0 is the weaker copy of index 1; index 4 is a disc within r of them
    assert sorted(order.tolist()) == [1, 2, 3, 5]
    assert order.tolist() == [1, 2, 3, 5]  # by decreasing SNR


def test_constant_traces_are_not_duplicates():
    flat = np.ones(20)
    joined = _joined([(5, 5), (5, 5.5)], [flat, flat], ["activity"] * 2, [1.0, 1.0])
    assert sorted(_select(joined, r=4.0, threshold=0.8).tolist()) == [0, 1]
