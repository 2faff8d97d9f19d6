"""The β-divergence family: Itakura–Saito (β = 0) and any real β, by MU.

    d_β(x | y) = (x^β + (β − 1)·y^β − β·x·y^(β−1)) / (β(β − 1))

with its limits d_1 = x log(x/y) − x + y (generalised KL) and
d_0 = x/y − log(x/y) − 1 (Itakura–Saito, scale-invariant: for power
spectrograms); d_2 = ½(x − y)² is Frobenius. D_β(V‖WH) = Σ d_β(V_ij | (WH)_ij)
is homogeneous of degree β: D_β(cV‖cWH) = c^β D_β(V‖WH) (the power the exact
rescaling of extreme data uses).

Fitted by the multiplicative updates of Févotte & Idier (2011),

    H ← H ⊙ [Wᵀ(V ⊙ (WH)^(β−2)) / Wᵀ(WH)^(β−1)]^γ(β)      (and W alike),

with the exponent that makes them monotone (a majorisation–minimisation):
γ = 1/(2 − β) for β < 1, 1 for 1 ≤ β ≤ 2, 1/(β − 1) for β > 2. These are the
updates of scikit-learn's ``solver="mu"``; the pieces here are plain NumPy and
run inside the shared driver :mod:`neuronmf.engine.solvers.mu` (and the
generic ``"gradient"`` solver). Masks enter as weights; WH is floored at
1e-16·max(V) where a negative power of it is taken.

Zeros: for β ≤ 0 the divergence is infinite where V = 0 < WH, so data with an
observed zero are refused (as scikit-learn does; add a small constant, or use
a β > 0). The held-out score is twice the mean divergence of the held-out
entries from a prediction shrunk towards each row's mean training value (as
KL's Poisson deviance, :func:`neuronmf.engine.losses.kl.heldout_deviance`).

Spellings (:func:`neuronmf.engine.losses.get`): ``"itakura-saito"`` or 0 for
β = 0; any other number is β (2 and 1 resolve to the dedicated Frobenius and KL
losses, with their faster solvers); ``"beta=<β>"`` is the name a fit stores.
"""

from __future__ import annotations

import math
from functools import lru_cache, partial

import numpy as np

from neuronmf.engine.losses._spec import LossSpec
from neuronmf.engine.losses.kl import RATE_SHRINK, row_rates
from neuronmf.errors import input_error


def mu_exponent(beta: float) -> float:
    """γ(β) of Févotte & Idier (2011), which makes the updates monotone.

    Examples
    --------
    >>> mu_exponent(0.0), mu_exponent(1.5), mu_exponent(3.0)
    (0.5, 1.0, 0.5)
    """
    if beta < 1:
        return 1.0 / (2.0 - beta)
    if beta > 2:
        return 1.0 / (beta - 1.0)
    return 1.0


def elementwise(x, y, beta: float) -> np.ndarray:
    """d_β(x | y) entry by entry, in float64 (0·log 0 = 0 and x·y^(β−1) = 0 at x = 0).

    Examples
    --------
    >>> import numpy as np
    >>> float(elementwise(np.array(3.0), np.array(1.0), 2.0))  # ½(x − y)²
    2.0
    >>> float(elementwise(np.array(2.0), np.array(2.0), 0.0))
    0.0
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    pos = x > 0
    xs = np.where(pos, x, 1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if beta == 0:
            ratio = xs / y
            return np.where(pos, ratio - np.log(ratio) - 1.0, np.inf)
        if beta == 1:
            return np.where(pos, x * np.log(xs / y), 0.0) - x + y
        cross = np.where(pos, x * y ** (beta - 1.0), 0.0)
        return (x**beta + (beta - 1.0) * y**beta - beta * cross) / (beta * (beta - 1.0))


def divergence(V, WH, mask=None, *, beta: float) -> float:
    """D_β(V‖WH) summed over the observed entries (float64)."""
    terms = elementwise(V, WH, beta)
    if mask is not None:
        terms = np.where(mask, terms, 0.0)
    return float(np.sum(terms))


def gradient(V, WH, mask=None, *, beta: float) -> np.ndarray:
    """∂D_β/∂(WH) = (WH)^(β−2) ⊙ (WH − V), zero at unobserved entries."""
    with np.errstate(divide="ignore", invalid="ignore"):
        D = WH ** (beta - 1.0) - np.where(V > 0, V * WH ** (beta - 2.0), 0.0)
    return D if mask is None else np.where(mask, D, 0.0)


def _powers(V, WH, Mf, floor, beta):
    """M ⊙ V ⊙ (WH)^(β−2) and M ⊙ (WH)^(β−1), WH floored for negative powers."""
    if beta < 2:
        WH = np.maximum(WH, floor)
    power = WH ** (beta - 2.0)  # one power per entry: y^(β−1) = y^(β−2)·y
    up = V * power
    down = power * WH
    if Mf is not None:
        up, down = up * Mf, down * Mf
    return up, down


def mu_H(V, W, H, Mf, floor, *, beta: float):
    """Févotte–Idier: the numerator Wᵀ(V ⊙ (WH)^(β−2)) and denominator Wᵀ(WH)^(β−1)."""
    up, down = _powers(V, W @ H, Mf, floor, beta)
    return W.T @ up, W.T @ down


def mu_W(V, W, H, Mf, floor, *, beta: float):
    """Févotte–Idier: the numerator (V ⊙ (WH)^(β−2))Hᵀ and denominator (WH)^(β−1)Hᵀ."""
    up, down = _powers(V, W @ H, Mf, floor, beta)
    return up @ H.T, down @ H.T


def mean_deviance(v, mu, floor: float = 0.0, *, beta: float) -> float:
    """2·mean d_β(v | μ), μ floored at ``floor`` (and above 0)."""
    mu = np.maximum(np.asarray(mu, dtype=np.float64), max(floor, 1e-300))
    return float(np.mean(2.0 * elementwise(v, mu, beta)))


def heldout(V, fitted, train, *, beta: float) -> float:
    """Held-out deviance: 2·mean d_β on the entries where ``train`` is False.

    As for KL, the prediction is shrunk towards each row's mean training value
    (μ = 0.7·(WH)_ij + 0.3·r_i, :func:`neuronmf.engine.losses.kl.row_rates`),
    which keeps it positive where a fit put an exact zero.
    """
    V = np.asarray(V, dtype=np.float64)
    train = np.asarray(train, dtype=bool)
    rates = row_rates(V, train)
    fitted = np.asarray(fitted, np.float64)
    mu = (1.0 - RATE_SHRINK) * fitted + RATE_SHRINK * rates[:, None]
    return mean_deviance(V[~train], mu[~train], beta=beta)


def check_data(V, mask, stats, *, beta: float) -> None:
    """Refuse observed zeros for β ≤ 0 (the divergence is infinite there)."""
    if beta > 0:
        return
    if stats is not None:
        low = stats["min"]
    else:
        observed = V if mask is None else np.asarray(V)[mask]
        low = float(np.min(observed)) if observed.size else 1.0
    if low <= 0:
        raise input_error(
            "V",
            f"strictly positive (at every observed entry) for β = {beta:g} "
            "(Itakura–Saito and β < 0 are infinite where V = 0)",
            "data containing zeros",
            "Add a small constant (e.g. V + 1e-6·V.max()), mask the zeros "
            "(mask=V > 0), or use a β > 0 such as loss='kl'.",
        )


def _name(beta: float) -> str:
    return "itakura-saito" if beta == 0 else f"beta={beta!r}"


@lru_cache(maxsize=64)
def spec_for(beta: float) -> LossSpec:
    """The spec of the β-divergence for one β (cached: one object per β).

    Examples
    --------
    >>> s = spec_for(0.5)
    >>> s.name, s.mu_exponent, s.default_solver
    ('beta=0.5', 0.6666666666666666, 'mu')
    """
    beta = float(beta)
    bound = {"beta": beta}
    return LossSpec(
        name=_name(beta),
        beta=beta,
        divergence=partial(divergence, **bound),
        gradient=partial(gradient, **bound),
        mu_H=partial(mu_H, **bound),
        mu_W=partial(mu_W, **bound),
        heldout=partial(heldout, **bound),
        mean_deviance=partial(mean_deviance, **bound),
        solvers={"mu": "mu", "gradient": "gradient"},
        mu_exponent=mu_exponent(beta),
        positive_start=beta < 2,
        check_data=partial(check_data, **bound),
        score_name=f"β-divergence deviance (β = {beta:g})",
    )


def family(loss) -> LossSpec | None:
    """The spec for a number β or a ``"beta=<β>"`` name; None for anything else."""
    if isinstance(loss, str):
        text = loss.strip().lower()
        if not text.startswith("beta="):
            return None
        try:
            loss = float(text[5:])
        except ValueError:
            return None
    beta = float(loss)
    if not math.isfinite(beta):
        return None
    return spec_for(beta)


#: Itakura–Saito (β = 0), registered by name.
SPEC = spec_for(0.0)
