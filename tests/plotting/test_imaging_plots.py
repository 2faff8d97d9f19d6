"""Imaging plots return figures with the expected content."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import neuronmf as nm
from neuronmf.plotting.imaging import plot_contours, plot_footprints, plot_traces


def test_imaging_plots():
    sim = nm.datasets.simulate_movie((40, 40), 120, 5, 3.0, seed=2)
    seg = nm.imaging.segment(sim.data, neuron_radius=3.0)
    n = seg.sizes["neuron"]
    assert n >= 3
    fig = plot_contours(seg, sim.data)
    assert f"{n} neurons" in fig.axes[0].get_title()
    fig = plot_traces(seg, n=3)
    assert len(fig.axes[0].lines) == 3
    fig = plot_footprints(seg, n=4)
    assert sum(len(ax.images) for ax in fig.axes) == min(4, n)
