"""Members, their co-activation statistic, and its circular-shift null.

A component's members are the neurons whose weight passes the member rule; its
statistic is the mean pairwise correlation of the members; the null refits the
whole detection on surrogates in which every neuron is circularly shifted by its
own offset (:func:`_shift_null`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from neuronmf.assemblies._sparse import circular_shift, mean_defined_corr
from neuronmf.assemblies._sparse import mean_corr as sparse_mean_corr
from neuronmf.engine import nmf


def _mean_corr(Y: np.ndarray) -> float:
    with np.errstate(invalid="ignore", divide="ignore"):
        C = np.nan_to_num(np.corrcoef(Y, rowvar=False))  # a flat column: 0, diag 0
    return mean_defined_corr(C)


def _participation(W: np.ndarray) -> np.ndarray:
    """Participation ratio (Σw)² / Σw² of each column, as a fraction of N."""
    s2 = (W**2).sum(0)
    return np.where(s2 > 0, W.sum(0) ** 2 / np.where(s2 > 0, s2, 1.0), 0.0) / W.shape[0]


def _members(W: np.ndarray, threshold) -> tuple[np.ndarray, np.ndarray]:
    if threshold == "uniform":
        thr = np.full(W.shape[1], 1.0 / np.sqrt(W.shape[0]))
    else:
        thr = W.mean(0) + threshold * W.std(0)
    return W > thr, thr


def _statistics(Y: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Mean pairwise correlation of each component's members (NaN if < 2 vary).

    A constant member correlates with nothing: its pairs are left out.
    """
    out = np.full(members.shape[1], np.nan)
    for k in range(members.shape[1]):
        idx = np.flatnonzero(members[:, k])
        if idx.size >= 2:
            out[k] = (
                sparse_mean_corr(Y[:, idx]) if sp.issparse(Y) else _mean_corr(Y[:, idx])
            )
    return out


def _unit_columns(W: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(W, axis=0)
    return W / np.where(n > 0, n, 1.0)


def _shift_null(
    Y, r, *, loss, threshold, n_surrogates, rng, seed, max_iter, progress
) -> np.ndarray:
    """Largest member correlation over the components of each surrogate's refit.

    Every neuron's series is circularly shifted by its own random offset (each
    neuron keeps its baseline, distribution and autocorrelation; co-activation is
    destroyed). The offsets are a random permutation of the lags 0, T/N, 2T/N, …
    (T bins, N neurons) plus a jitter of up to T/(2N), so that every pair of
    neurons is moved at least T/(2N) bins out of register; independent uniform
    offsets would leave some pair nearly aligned (so still co-active) in a sizeable
    fraction of surrogates and inflate the null. Then the whole detection (NMF
    at the same rank, the member rule, the statistic) is run again. The maximum
    over components makes the p-value account for the members having been
    chosen on the data and for testing several components.
    """
    n_t, n_n = Y.shape
    null = np.full(n_surrogates, -np.inf)
    it = range(n_surrogates)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="assemblies: surrogates", unit="refit")
    spacing = n_t // n_n
    for s in it:
        if spacing >= 2:
            # a random permutation of evenly spaced lags plus jitter: every pair
            # of neurons ends up at least spacing/2 bins out of register
            shifts = rng.permutation(n_n) * spacing + rng.integers(
                0, spacing // 2 + 1, n_n
            )
        else:
            shifts = rng.integers(0, n_t, n_n)
        if sp.issparse(Y):  # the stored entries shifted, O(nnz): never densified
            Ys = circular_shift(Y, shifts)
        else:
            rows = (np.arange(n_t)[:, None] - shifts[None, :]) % n_t
            Ys = Y[rows, np.arange(n_n)[None, :]]
        if not (Ys.nnz if sp.issparse(Ys) else np.any(Ys)):
            continue
        res = nmf(
            Ys.T,
            r,
            loss=loss,
            n_restarts=1,
            seed=seed,
            max_iter=min(max_iter, 100),
            tol=1e-4,
        )
        Ws = _unit_columns(np.asarray(res.W))
        stat = _statistics(Ys, _members(Ws, threshold)[0])
        if np.any(np.isfinite(stat)):
            null[s] = np.nanmax(stat)
    return null
