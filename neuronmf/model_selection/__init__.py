"""Model selection: choosing the rank, and matching components."""

from neuronmf.model_selection.chain import rank_chain
from neuronmf.model_selection.conv_fragments import (
    FragmentMerge,
    lag_locking,
    merge_fragments,
)
from neuronmf.model_selection.matching import match_components
from neuronmf.model_selection.runner import run_tasks
from neuronmf.model_selection.scan import RankScan, select_rank
from neuronmf.model_selection.x_ortho import (
    FactorSignificance,
    XOrthoChoice,
    choose_x_ortho,
    factor_significance,
    select_conv_rank,
)

__all__ = [
    "FactorSignificance",
    "FragmentMerge",
    "RankScan",
    "XOrthoChoice",
    "choose_x_ortho",
    "factor_significance",
    "lag_locking",
    "match_components",
    "merge_fragments",
    "rank_chain",
    "run_tasks",
    "select_conv_rank",
    "select_rank",
]
