"""Plots: one module per part of the package; ``ax`` in, figure out.

The engine's plots and every domain's plots are importable from here. Two
domains have a ``plot_activations``; here they are
:func:`plot_assembly_activations` and :func:`plot_synergy_activations` (the
modules keep the short name: ``neuronmf.plotting.assemblies.plot_activations``).
"""

from neuronmf.plotting import (
    assemblies,
    decoding,
    engine,
    imaging,
    rank,
    sequences,
    synergies,
    synergies_time,
)
from neuronmf.plotting.assemblies import plot_activations as plot_assembly_activations
from neuronmf.plotting.assemblies import plot_membership
from neuronmf.plotting.decoding import plot_predictions, plot_rank_scores
from neuronmf.plotting.deconvolution import plot_deconvolution
from neuronmf.plotting.engine import plot_components, plot_loss, plot_result
from neuronmf.plotting.imaging import plot_contours, plot_footprints, plot_traces
from neuronmf.plotting.rank import plot_component_intervals, plot_rank_scan
from neuronmf.plotting.registration import plot_registration
from neuronmf.plotting.sequences import plot_sequences, plot_x_ortho
from neuronmf.plotting.sessions import (
    plot_session_matching,
    plot_session_overlay,
    plot_session_scores,
)
from neuronmf.plotting.synergies import plot_activations as plot_synergy_activations
from neuronmf.plotting.synergies import (
    plot_rank_curve,
    plot_similarity,
    plot_synergies,
)
from neuronmf.plotting.synergies_time import plot_space_by_time, plot_time_varying

__all__ = [
    "assemblies",
    "decoding",
    "engine",
    "imaging",
    "plot_assembly_activations",
    "plot_component_intervals",
    "plot_components",
    "plot_contours",
    "plot_deconvolution",
    "plot_footprints",
    "plot_loss",
    "plot_membership",
    "plot_predictions",
    "plot_rank_curve",
    "plot_rank_scan",
    "plot_rank_scores",
    "plot_registration",
    "plot_result",
    "plot_sequences",
    "plot_session_matching",
    "plot_session_overlay",
    "plot_session_scores",
    "plot_similarity",
    "plot_space_by_time",
    "plot_synergies",
    "plot_synergy_activations",
    "plot_time_varying",
    "plot_traces",
    "plot_x_ortho",
    "rank",
    "sequences",
    "synergies",
    "synergies_time",
]
