"""plot_deconvolution: one panel per neuron, trace + fit + spikes drawn."""

import numpy as np
import pytest
from scipy.signal import lfilter

from neuronmf.imaging import deconvolve
from neuronmf.plotting import plot_deconvolution


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    s = rng.poisson(0.03, (5, 300)).astype(float)
    y = lfilter([1.0], [1.0, -0.9], s, axis=1) + rng.normal(0, 0.1, (5, 300))
    return deconvolve(y), y


def test_panels_and_artists(fitted):
    res, y = fitted
    fig = plot_deconvolution(res, y, n=3)
    assert len(fig.axes) == 3
    ax = fig.axes[0]
    assert len(ax.lines) == 2  # trace, denoised + baseline
    assert len(ax.collections) == 1  # spikes
    assert "showing 3 of 5 neurons" in " ".join(t.get_text() for t in ax.texts)
    # the most active neuron comes first
    first = int(ax.get_ylabel().split()[-1])
    assert first == int(np.argmax(res["spikes"].values.sum(1)))


def test_chosen_neurons_without_traces(fitted):
    res, _ = fitted
    fig = plot_deconvolution(res, neurons=[4])
    assert len(fig.axes) == 1 and fig.axes[0].get_ylabel() == "neuron 4"
    assert len(fig.axes[0].lines) == 1
