"""Solver drivers, one module per algorithm; Numba kernels in ``_*_kernels.py``.

Driver modules (and with them their compiled kernels) are imported on first use,
so ``import neuronmf`` compiles nothing and a Frobenius fit never compiles the
KL kernels.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from neuronmf.engine import losses

#: Solvers by loss, as ``{name: module}``; the first one is what "auto" picks.
#: Kept for compatibility: each loss's :class:`~neuronmf.engine.losses.LossSpec`
#: holds its table (``losses.get(loss).solvers``).
SOLVERS: dict[str, dict[str, str]] = {
    name: losses.get(name).solvers for name in losses.names()
}


def get_solver(loss, name: str) -> Callable:
    """The ``solve`` function of a solver (imports its module on first use)."""
    module = losses.get(loss).solvers[name]
    return importlib.import_module(f"neuronmf.engine.solvers.{module}").solve
