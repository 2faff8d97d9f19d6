"""Objectives and fit measures, one module per loss.

``frobenius`` (½|V − WH|² by the Gram trick) and ``kl`` (the generalised
Kullback–Leibler divergence and the held-out Poisson deviance); ``_penalty`` is
the l1/l2 term both add. Everything is re-exported here, so
``from neuronmf.engine.losses import gram`` keeps working.
"""

from __future__ import annotations

import numpy as np

from neuronmf.engine.losses._penalty import penalty
from neuronmf.engine.losses.frobenius import (
    frobenius_objective,
    gram,
    squared_residual,
)
from neuronmf.engine.losses.kl import (
    RATE_SHRINK,
    heldout_deviance,
    kl_divergence,
    row_rates,
)

__all__ = [
    "RATE_SHRINK",
    "frobenius_objective",
    "gram",
    "heldout_deviance",
    "kl_divergence",
    "mean_heldout_loss",
    "penalty",
    "row_rates",
    "squared_residual",
]


def mean_heldout_loss(v, mu, loss: str, floor: float = 0.0) -> float:
    """Mean loss of predictions ``mu`` for values ``v`` (e.g. held-out entries).

    Frobenius: mean squared error. KL: mean Poisson deviance
    2·(v log(v/μ) − v + μ) with μ floored at ``floor`` (0·log 0 = 0). KL fits set
    many entries of W and H exactly to zero, so a held-out v > 0 can meet μ = 0,
    whose deviance is infinite; callers pass a floor such as 10⁻³ × mean(WH) so
    that such a miss costs a bounded amount instead of swamping the score.

    Examples
    --------
    >>> import numpy as np
    >>> mean_heldout_loss(np.array([1.0, 3.0]), np.array([1.0, 1.0]), "frobenius")
    2.0
    >>> round(mean_heldout_loss(np.array([0.0, 2.0]), np.array([1.0, 2.0]), "kl"), 6)
    1.0
    """
    v = np.asarray(v, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    if loss == "kl":
        mu = np.maximum(mu, max(floor, 1e-300))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_term = np.where(v > 0, v * np.log(v / mu), 0.0)
        return float(np.mean(2.0 * (log_term - v + mu)))
    return float(np.mean((v - mu) ** 2))
