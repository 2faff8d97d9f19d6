"""What the engine knows about a loss: one :class:`LossSpec` per loss module.

Every part of the engine that depends on the loss (option checks, the solver
table, power-of-two rescaling, starting factors, the multiplicative updates,
the gradient reference, the held-out score, the chunked path) reads it from the
spec, so adding a loss is one module defining a spec plus one line in the
registry (:mod:`neuronmf.engine.losses`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LossSpec:
    """One data-fit term D(V‖WH) and everything the engine needs about it.

    Attributes
    ----------
    name : str
        The canonical spelling, stored in results (``params["loss"]``).
    beta : float
        Its β in the β-divergence family (Frobenius 2, KL 1, Itakura–Saito 0).
        The family is homogeneous of degree β, D(cV‖cWH) = c^β D(V‖WH): that is
        the power the exact power-of-two rescaling of extreme data uses
        (:attr:`scale_power`).
    divergence : callable(V, WH, mask) -> float
        The data term summed over the observed entries (float64).
    gradient : callable(V, WH, mask) -> ndarray
        ∂D/∂(WH), zero at unobserved entries (the generic reference solver
        ``"gradient"`` needs nothing else).
    mu_H, mu_W : callable(V, W, H, Mf, floor) -> (numerator, denominator)
        The data parts of the multiplicative update H ← H ⊙ (N / D)^γ (and of
        W); ``Mf`` is the mask as 0/1 weights or None, ``floor`` the smallest
        WH a division may use (1e-16 · max V). Penalties are added by the solver.
    heldout : callable(V, fitted, train) -> float
        The mean held-out score of ``fitted`` on the entries where ``train`` is
        False (a deviance: twice the mean divergence, with the loss's one floor).
    mean_deviance : callable(v, mu, floor) -> float
        The same score of predictions ``mu`` for values ``v``, given directly.
    solvers : dict
        Solver name → module under :mod:`neuronmf.engine.solvers`; the first is
        what ``solver="auto"`` picks.
    chunked_solvers : tuple of str
        The solvers that run on a dask array (the first is the default there).
    aliases : tuple of str
        Other accepted spellings (e.g. scikit-learn's ``"kullback-leibler"``).
    mu_exponent : float
        γ of the multiplicative update (1, or Févotte & Idier's γ(β)).
    positive_start : bool
        Lift exact zeros of the starting factors (the loss is infinite or
        undefined where WH = 0 < V).
    exact_projection : bool
        Non-negative least squares is the exact activations for fixed parts
        (Frobenius); otherwise :func:`neuronmf.project` refines the NNLS answer
        with the default solver.
    projected_gradient : bool
        The multiplicative-update solver also checks the projected-gradient
        stopping rule (ALGORITHMS.md §2).
    online : bool
        ``NMF.partial_fit`` (online NMF) minimises this loss.
    check_data : callable(V, mask) or None
        Refuses data the loss is undefined on (an ``InputError``), before work.
    score_name : str
        What the held-out score is called in reports.
    sparse_divergence : callable(X, W, H) -> float or None
        D(V‖WH) for a ``scipy.sparse`` V (canonical CSR) without forming W·H,
        for solvers that evaluate the objective on sparse data (MU); None
        where the solver has its own (Frobenius: the Gram trick).
    """

    name: str
    beta: float
    divergence: Callable[..., float]
    gradient: Callable[..., np.ndarray]
    mu_H: Callable[..., tuple]
    mu_W: Callable[..., tuple]
    heldout: Callable[..., float]
    mean_deviance: Callable[..., float]
    solvers: dict[str, str]
    chunked_solvers: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    mu_exponent: float = 1.0
    positive_start: bool = False
    exact_projection: bool = False
    projected_gradient: bool = False
    online: bool = False
    check_data: Callable | None = None
    score_name: str = "deviance"
    sparse_divergence: Callable | None = None

    @property
    def scale_power(self) -> float:
        """p with D(2^k V‖2^k WH) = 2^(p·k) D(V‖WH): the degree β."""
        return self.beta

    @property
    def default_solver(self) -> str:
        """The solver ``solver="auto"`` picks for in-memory data."""
        return next(iter(self.solvers))

    def spellings(self) -> tuple[str, ...]:
        """The name and every alias."""
        return (self.name, *self.aliases)
