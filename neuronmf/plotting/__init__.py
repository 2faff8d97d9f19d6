"""Plots: one module per part of the package; ``ax`` in, figure out."""

from neuronmf.plotting.engine import plot_components, plot_loss, plot_result

__all__ = ["plot_components", "plot_loss", "plot_result"]
