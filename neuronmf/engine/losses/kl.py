"""Generalised Kullback–Leibler loss D(V‖WH) and the held-out Poisson deviance."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from neuronmf.engine.losses._spec import LossSpec


def kl_divergence(V, WH, mask=None) -> float:
    """Σ M ⊙ (V log(V / WH) − V + WH) in float64, with 0·log 0 = 0.

    The generalised Kullback–Leibler divergence D(V‖WH) over the entries where
    ``mask`` is True (all entries without a mask).

    Examples
    --------
    >>> import numpy as np
    >>> kl_divergence(np.array([[1.0, 0.0]]), np.array([[1.0, 2.0]]))
    2.0
    """
    V = np.asarray(V, np.float64)
    WH = np.asarray(WH, np.float64)
    positive = V > 0
    if mask is not None:
        positive &= mask
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(positive, V * np.log(np.where(positive, V / WH, 1.0)), 0.0)
    terms = log_term - V + WH
    if mask is not None:
        terms = np.where(mask, terms, 0.0)
    return float(np.sum(terms))


#: Weight of each row's mean training rate in the prediction a held-out count
#: is scored against (see :func:`heldout_deviance`).
RATE_SHRINK = 0.3


def row_rates(V, train) -> np.ndarray:
    """Each row's mean over its training entries, never 0.

    A row with no training count (a silent neuron, or every entry held out)
    gets 1 % of the mean over all training entries, so a prediction shrunk
    towards it stays positive.

    Examples
    --------
    >>> import numpy as np
    >>> V = np.array([[0.0, 2.0, 4.0], [0.0, 0.0, 0.0]])
    >>> row_rates(V, np.array([[True, True, False], [True, True, True]])).tolist()
    [1.0, 0.004]
    """
    V = np.asarray(V, dtype=np.float64)
    train = np.asarray(train, dtype=bool)
    n_train = train.sum(axis=1)
    rates = np.where(train, V, 0.0).sum(axis=1) / np.maximum(n_train, 1)
    overall = float(np.where(train, V, 0.0).sum()) / max(int(train.sum()), 1)
    low = 0.01 * (overall if overall > 0 else 1.0)
    return np.maximum(rates, low)


def heldout_deviance(V, fitted, train, shrink: float = RATE_SHRINK) -> float:
    """Mean Poisson deviance of held-out counts (the entries where ``train`` is False).

    Each held-out count v_ij is scored against the prediction shrunk towards
    its row's mean training rate r_i (:func:`row_rates`):

        μ_ij = (1 − s)·(WH)_ij + s·r_i,   deviance 2·(v log(v/μ) − v + μ),

    with s = ``shrink`` (0.3) and 0·log 0 = 0. Why: on sparse counts a masked KL
    fit puts exact zeros in H wherever a bin's observed entries are zero, so the
    plug-in prediction (WH)_ij is often exactly 0 where a held-out spike sits,
    and a floor far below the rate makes the score count those zeros rather
    than the fit (every rank above 1 loses). Shrinking towards the rate (the
    rank-0 model) keeps every prediction positive, scores each row on its own
    scale (no global floor that a silent neuron or a busy one escapes) and is
    the same everywhere: :meth:`NMFResult.heldout_loss`, ``select_rank(method=
    "cv")`` and ``assemblies.detect``'s rank scan.

    Examples
    --------
    >>> import numpy as np
    >>> V = np.array([[1.0, 0.0, 2.0, 1.0]])
    >>> train = np.array([[True, True, True, False]])
    >>> round(heldout_deviance(V, np.ones((1, 4)), train), 6)  # μ = 1: deviance 0
    0.0
    """
    V = np.asarray(V, dtype=np.float64)
    train = np.asarray(train, dtype=bool)
    held = ~train
    rates = row_rates(V, train)
    mu = (1.0 - shrink) * np.asarray(fitted, np.float64) + shrink * rates[:, None]
    v, mu = V[held], np.maximum(mu[held], 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(v > 0, v * np.log(np.where(v > 0, v, 1.0) / mu), 0.0)
    return float(np.mean(2.0 * (log_term - v + mu)))


def gradient(V, WH, mask=None) -> np.ndarray:
    """∂D/∂(WH) = 1 − V/WH (1 where V = 0), zero at unobserved entries."""
    with np.errstate(divide="ignore", invalid="ignore"):
        D = 1.0 - np.where(V > 0, V / WH, 0.0)
    return D if mask is None else np.where(mask, D, 0.0)


def _at_entries(X, W, H, chunk: int = 1 << 20) -> np.ndarray:
    """(WH)_ij at the stored entries of a canonical CSR ``X``, never forming W·H."""
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    out = np.empty(X.nnz, dtype=np.result_type(W, H))
    for s in range(0, X.nnz, chunk):
        e = min(s + chunk, X.nnz)
        out[s:e] = np.einsum("ik,ki->i", W[rows[s:e]], H[:, X.indices[s:e]])
    return out


def kl_divergence_sparse(X, W, H) -> float:
    """D(V‖WH) for a ``scipy.sparse`` V (canonical CSR), in O(nnz·r) (float64).

    Σ_nnz (V log(V / WH) − V) + Σ_ij (WH)_ij, the last sum as
    (Σ_i W_i·)·(Σ_j H_·j): no dense W·H.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> V = np.array([[1.0, 0.0]])
    >>> kl_divergence_sparse(sp.csr_array(V), np.ones((1, 1)), np.array([[1.0, 2.0]]))
    2.0
    """
    x = np.asarray(X.data, np.float64)
    u = _at_entries(X, np.asarray(W, np.float64), np.asarray(H, np.float64))
    linear = float(np.sum(W, axis=0, dtype=np.float64) @ np.sum(H, 1, dtype=np.float64))
    return float(np.sum(x * np.log(x / u) - x)) + linear


def _ratio(V, W, H, Mf, floor):
    """M ⊙ V / WH, with WH floored where it divides V (sparse V: its entries)."""
    if sp.issparse(V):  # masks are refused for sparse V
        R = V.copy()
        R.data = V.data / np.maximum(_at_entries(V, W, H), floor)
        return R
    R = V / np.maximum(W @ H, floor)
    return R if Mf is None else R * Mf


def mu_H(V, W, H, Mf, floor):
    """Lee–Seung: H ← H ⊙ Wᵀ(V/WH) / Wᵀ1 (weighted by the mask)."""
    if sp.issparse(V):  # Wᵀ1 is W's column sums in every column
        numer = np.ascontiguousarray(W.T @ _ratio(V, W, H, None, floor))
        return numer, np.broadcast_to(W.sum(axis=0)[:, None], numer.shape)
    return W.T @ _ratio(V, W, H, Mf, floor), W.T @ (
        Mf if Mf is not None else np.ones_like(V)
    )


def mu_W(V, W, H, Mf, floor):
    """Lee–Seung: W ← W ⊙ (V/WH)Hᵀ / 1Hᵀ (weighted by the mask)."""
    if sp.issparse(V):  # 1Hᵀ is H's row sums in every row
        numer = np.ascontiguousarray(_ratio(V, W, H, None, floor) @ H.T)
        return numer, np.broadcast_to(H.sum(axis=1)[None, :], numer.shape)
    return _ratio(V, W, H, Mf, floor) @ H.T, (
        Mf if Mf is not None else np.ones_like(V)
    ) @ H.T


def mean_deviance(v, mu, floor: float = 0.0) -> float:
    """Mean Poisson deviance 2·(v log(v/μ) − v + μ), μ floored at ``floor``."""
    v = np.asarray(v, dtype=np.float64)
    mu = np.maximum(np.asarray(mu, dtype=np.float64), max(floor, 1e-300))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(v > 0, v * np.log(v / mu), 0.0)
    return float(np.mean(2.0 * (log_term - v + mu)))


SPEC = LossSpec(
    name="kl",
    beta=1.0,
    aliases=("kullback-leibler",),
    divergence=kl_divergence,
    gradient=gradient,
    mu_H=mu_H,
    mu_W=mu_W,
    heldout=heldout_deviance,
    mean_deviance=mean_deviance,
    solvers={"ccd": "ccd", "mu": "mu", "gradient": "gradient"},
    chunked_solvers=("mu",),
    positive_start=True,
    score_name="Poisson deviance",
    sparse_divergence=kl_divergence_sparse,
)
