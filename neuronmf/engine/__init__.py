"""The NMF engine: one fit path for every loss, solver and input type.

It knows nothing of files, domains or plots.
"""

from neuronmf.engine._heldout import HeldOut
from neuronmf.engine.api import NMFResult, nmf, project
from neuronmf.engine.convolutive import ConvNMFResult, conv_nmf
from neuronmf.engine.estimator import NMF
from neuronmf.engine.graph import grid_graph, knn_graph
from neuronmf.engine.joint import JointNMFResult, joint_nmf
from neuronmf.engine.online import online_nmf

__all__ = [
    "NMF",
    "ConvNMFResult",
    "HeldOut",
    "JointNMFResult",
    "NMFResult",
    "conv_nmf",
    "grid_graph",
    "joint_nmf",
    "knn_graph",
    "nmf",
    "online_nmf",
    "project",
]
