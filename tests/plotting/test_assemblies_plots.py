import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import neuronmf as nm
from neuronmf.plotting.assemblies import plot_activations, plot_membership


def test_assembly_plots_use_given_axes():
    sim = nm.datasets.simulate_assemblies(n_neurons=12, n_assemblies=2, n_bins=400)
    counts, truth = sim.data, sim.truth
    ds = nm.assemblies.detect(counts, rank=2, n_surrogates=10)
    fig, ax = plt.subplots()
    assert plot_membership(ds, ax=ax) is fig
    assert len(ax.collections) == 1 and ax.images
    fig2, ax2 = plt.subplots()
    assert plot_activations(ds, truth["behavior"], ax=ax2) is fig2
    assert len(ax2.lines) == 2
    plt.close("all")
