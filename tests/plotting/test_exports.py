"""neuronmf.plotting exports the engine's and every domain's plot functions."""

import neuronmf.plotting as plotting
from neuronmf.plotting import assemblies, decoding, imaging, synergies


def test_domain_plots_exported():
    assert plotting.plot_contours is imaging.plot_contours
    assert plotting.plot_traces is imaging.plot_traces
    assert plotting.plot_footprints is imaging.plot_footprints
    assert plotting.plot_membership is assemblies.plot_membership
    assert plotting.plot_assembly_activations is assemblies.plot_activations
    assert plotting.plot_predictions is decoding.plot_predictions
    assert plotting.plot_rank_scores is decoding.plot_rank_scores
    assert plotting.plot_synergy_activations is synergies.plot_activations
    for name in synergies.__all__:
        if name != "plot_activations":
            assert getattr(plotting, name) is getattr(synergies, name)
    for name in ("plot_loss", "plot_components", "plot_result"):
        assert name in plotting.__all__
    assert all(hasattr(plotting, n) for n in plotting.__all__)
