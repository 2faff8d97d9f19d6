"""The NMF engine: one fit path for every loss, solver and input type.

It knows nothing of files, domains or plots.
"""

from neuronmf.engine.api import NMFResult, nmf, project
from neuronmf.engine.estimator import NMF

__all__ = ["NMF", "NMFResult", "nmf", "project"]
