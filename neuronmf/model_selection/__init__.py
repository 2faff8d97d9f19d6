"""Model selection: matching components, and (later) choosing the rank."""

from neuronmf.model_selection.matching import match_components

__all__ = ["match_components"]
