"""Solver drivers, one module per algorithm; Numba kernels in ``_*_kernels.py``.

Driver modules (and with them their compiled kernels) are imported on first use,
so ``import neuronmf`` compiles nothing and a Frobenius fit never compiles the
KL kernels.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

#: Solvers by loss, as ``module:function``; the first one is what "auto" picks.
SOLVERS: dict[str, dict[str, str]] = {
    "frobenius": {"hals": "hals", "mu": "mu", "gradient": "gradient"},
    "kl": {"ccd": "ccd", "mu": "mu", "gradient": "gradient"},
}


def get_solver(loss: str, name: str) -> Callable:
    """The ``solve`` function of a solver (imports its module on first use)."""
    module = importlib.import_module(f"neuronmf.engine.solvers.{SOLVERS[loss][name]}")
    return module.solve
