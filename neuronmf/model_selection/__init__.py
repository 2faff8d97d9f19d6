"""Model selection: choosing the rank, and matching components."""

from neuronmf.model_selection.matching import match_components
from neuronmf.model_selection.scan import RankScan, select_rank

__all__ = ["RankScan", "match_components", "select_rank"]
