"""The losses: one module per loss, each defining a :class:`LossSpec`; the registry.

``frobenius`` (½|V − WH|² by the Gram trick) and ``kl`` (the generalised
Kullback–Leibler divergence and the held-out Poisson deviance); ``_penalty`` is
the l1/l2 term every loss adds; ``_spec`` defines :class:`LossSpec`, what the
engine reads about a loss. :func:`get` resolves any accepted spelling of a loss
(its name, an alias, or its β as a number) to its spec. Adding a loss is a new
module with a ``SPEC`` and one line in :data:`_MODULES` below
(docs/contributing.md).

The helpers are re-exported here, so ``from neuronmf.engine.losses import gram``
keeps working.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from neuronmf.engine.losses import beta as _beta
from neuronmf.engine.losses import frobenius as _frobenius
from neuronmf.engine.losses import kl as _kl
from neuronmf.engine.losses._penalty import penalty
from neuronmf.engine.losses._spec import LossSpec
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
from neuronmf.errors import input_error

__all__ = [
    "RATE_SHRINK",
    "LossSpec",
    "frobenius_objective",
    "get",
    "gram",
    "heldout_deviance",
    "kl_divergence",
    "mean_heldout_loss",
    "names",
    "penalty",
    "row_rates",
    "squared_residual",
]

#: The loss modules, each with a ``SPEC``; the registry is built from them.
_MODULES = (_frobenius, _kl, _beta)

#: Families of losses indexed by a number (e.g. the β-divergences): each is a
#: callable(β) returning a spec, asked when no registered loss has that β.
_FAMILIES: tuple[Callable[[float], LossSpec], ...] = (_beta.family,)

_REGISTRY: dict[str, LossSpec] = {m.SPEC.name: m.SPEC for m in _MODULES}
_SPELLINGS: dict[str, LossSpec] = {
    spelling.lower(): spec
    for spec in _REGISTRY.values()
    for spelling in spec.spellings()
}


def names() -> tuple[str, ...]:
    """The canonical names of the registered losses (``"frobenius"`` first).

    Examples
    --------
    >>> names()[:2]
    ('frobenius', 'kl')
    """
    return tuple(_REGISTRY)


def get(loss) -> LossSpec:
    """The spec of a loss from any accepted spelling: its name, an alias, or β.

    A :class:`LossSpec` passes through; a number is a β of the β-divergence
    family (2 is Frobenius, 1 is KL).

    Raises
    ------
    neuronmf.InputError
        For a spelling no loss accepts.

    Examples
    --------
    >>> get("kullback-leibler").name, get(2).name
    ('kl', 'frobenius')
    """
    if isinstance(loss, LossSpec):
        return loss
    if isinstance(loss, str):
        spec = _SPELLINGS.get(loss.strip().lower())
        if spec is not None:
            return spec
        for family in _FAMILIES:
            spec = family(loss)
            if spec is not None:
                return spec
    elif isinstance(loss, (int, float, np.integer, np.floating)) and not isinstance(
        loss, bool
    ):
        beta = float(loss)
        for spec in _REGISTRY.values():
            if spec.beta == beta:
                return spec
        for family in _FAMILIES:
            spec = family(beta)
            if spec is not None:
                return spec
    accepted = ", ".join(repr(name) for name in names())
    aliases = ", ".join(repr(a) for spec in _REGISTRY.values() for a in spec.aliases)
    numbers = ", or a number β (the β-divergence)" if _FAMILIES else ""
    raise input_error(
        "loss",
        f"one of {accepted}{numbers}",
        repr(loss),
        f"Also accepted: {aliases}." if aliases else "",
    )


def mean_heldout_loss(v, mu, loss: str, floor: float = 0.0) -> float:
    """Mean loss of predictions ``mu`` for values ``v`` (e.g. held-out entries).

    The loss's ``mean_deviance`` (:class:`LossSpec`). Frobenius: mean squared
    error. KL: mean Poisson deviance 2·(v log(v/μ) − v + μ) with μ floored at
    ``floor`` (0·log 0 = 0). KL fits set many entries of W and H exactly to
    zero, so a held-out v > 0 can meet μ = 0, whose deviance is infinite;
    callers pass a floor such as 10⁻³ × mean(WH) so that such a miss costs a
    bounded amount instead of swamping the score.

    Examples
    --------
    >>> import numpy as np
    >>> mean_heldout_loss(np.array([1.0, 3.0]), np.array([1.0, 1.0]), "frobenius")
    2.0
    >>> round(mean_heldout_loss(np.array([0.0, 2.0]), np.array([1.0, 2.0]), "kl"), 6)
    1.0
    """
    return get(loss).mean_deviance(v, mu, floor)
