"""Synergy plots: ax/axes in, figure out."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from neuronmf.datasets import simulate_emg
from neuronmf.errors import InputError
from neuronmf.plotting.synergies import (
    plot_activations,
    plot_rank_curve,
    plot_similarity,
    plot_synergies,
)
from neuronmf.synergies import cycle_average, envelope, extract, match


@pytest.fixture(scope="module")
def synergy_set():
    sim = simulate_emg(8, 3, 4, variant="padded", seed=0)
    raw, truth = sim.data, sim.truth
    touchdowns = np.append(truth["cycle_start"], truth["cycle_stop"][-1])
    env = envelope(raw, cycles=touchdowns, points_per_cycle=100)
    return extract(env, ranks=range(1, 6), n_restarts=2), truth


def test_weight_bars_one_panel_per_synergy(synergy_set):
    ds, _ = synergy_set
    fig = plot_synergies(ds)
    assert len(fig.axes) == ds.sizes["synergy"]
    assert [t.get_text() for t in fig.axes[-1].get_xticklabels()] == list(
        ds.muscle.values
    )
    plt.close(fig)
    fig, axes = plt.subplots(ds.sizes["synergy"], 1)
    assert plot_synergies(ds, axes=axes) is fig
    plt.close(fig)


def test_activations_over_the_cycle(synergy_set):
    ds, _ = synergy_set
    fig = plot_activations(ds)
    assert "4 cycles" in fig.axes[0].get_title()
    assert fig.axes[-1].get_xlabel() == "cycle (%)"
    plt.close(fig)
    fig = plot_activations(cycle_average(ds))
    plt.close(fig)


def test_rank_curve_and_similarity(synergy_set):
    ds, truth = synergy_set
    fig, ax = plt.subplots()
    assert plot_rank_curve(ds, ax=ax) is fig
    assert len(ax.lines) >= 3
    plt.close(fig)
    m = match(ds, truth["synergies"].values, n_shuffles=50)
    fig = plot_similarity(m)
    assert "chance" in fig.axes[0].get_title()
    plt.close(fig)
    fig = plot_similarity(np.eye(3), labels=(["a", "b", "c"], ["x", "y", "z"]))
    plt.close(fig)
    with pytest.raises(InputError, match="rank scan"):
        plot_rank_curve(ds.drop_vars(["scan_vaf"]))
