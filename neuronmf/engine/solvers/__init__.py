"""Solver drivers, one module per algorithm; Numba kernels in ``_*_kernels.py``."""

from __future__ import annotations

from neuronmf.engine.solvers import ccd, gradient, hals, mu

#: Solvers by loss; the first one is what ``solver="auto"`` picks.
SOLVERS = {
    "frobenius": {"hals": hals.solve, "mu": mu.solve, "gradient": gradient.solve},
    "kl": {"ccd": ccd.solve, "mu": mu.solve, "gradient": gradient.solve},
}
