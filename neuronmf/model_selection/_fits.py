"""The fits of one rank of a scan, and how they are scored.

:func:`_scan_rank` runs every fit a scan needs at one rank (the full fit, the
masked fits of ``"cv"``, the bi-cross-validation blocks, the restarts and
bootstrap resamples of ``"consensus"``/``"stability"``) and returns plain
arrays, so it can run in a worker process. Held-out entries are scored with the
engine's losses (:mod:`neuronmf.engine.losses`), never with a copy of them.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from neuronmf.engine.losses import row_rates
from neuronmf.model_selection import criteria as crit

#: l1 penalty on H of the masked KL fits of ``method="cv"`` (see cv_fit_options).
CV_L1_H = 0.1


def _scan_rank(V, r, plan, wanted, loss, seed, options, given=None) -> dict:
    """Every fit at one rank; returns plain arrays (so it can run in a worker).

    ``given`` is an optional (W, H) full fit at rank ``r`` to use instead of
    fitting one.
    """
    from neuronmf.engine.api import nmf, project

    out: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if given is None:
            full = nmf(V, r, loss=loss, seed=seed, **options)
            W_full, H_full = np.asarray(full.W), np.asarray(full.H)
        else:
            W_full, H_full = (np.asarray(a, dtype=np.float64) for a in given)
        out["row_rss"] = _row_squared_error(V, W_full, H_full)
        out["rss"] = float(np.sum(out["row_rss"]))
        if "cv" in wanted:
            errors = []
            cv_options = cv_fit_options(loss, options)
            for b, mask in enumerate(plan["cv"]):
                fit = nmf(V, r, loss=loss, mask=mask, seed=seed + b + 1, **cv_options)
                # a HeldOut (sparse V) lists the held-out entries itself
                held = ~mask if isinstance(mask, np.ndarray) else mask
                errors.append(fit.heldout_loss(V, held))
            out["cv"] = np.array(errors)
        if "bicv" in wanted and r > plan["bicv_max_rank"]:
            out["bicv"] = np.full(len(plan["bicv"]), np.nan)
        elif "bicv" in wanted:
            errors = []
            for b, (rows, cols) in enumerate(plan["bicv"]):
                fit = nmf(
                    V[~rows][:, ~cols], r, loss=loss, seed=seed + b + 1, **options
                )
                W_A, H_A = np.asarray(fit.W), np.asarray(fit.H)
                H_J = project(V[~rows][:, cols], W_A, loss=loss)
                W_I = project(V[rows][:, ~cols].T, H_A.T, loss=loss).T
                rates = _training_rates(V[rows][:, ~cols])
                errors.append(_block_loss(V[rows][:, cols], W_I, H_J, loss, rates))
            out["bicv"] = np.array(errors)
        if "consensus" in wanted or "stability" in wanted:
            opts = {k: v for k, v in options.items() if k != "init"}
            restarts = [
                nmf(V, r, loss=loss, init="random", seed=seed + 1000 + b, **opts)
                for b in range(plan["n_repeats"])
            ]
            if "consensus" in wanted:
                coph, disp, _ = crit.consensus_statistics(
                    [np.asarray(f.H) for f in restarts]
                )
                out["cophenetic"], out["dispersion"] = coph, disp
            if "stability" in wanted:
                boot = [
                    np.asarray(
                        nmf(V[:, idx], r, loss=loss, seed=seed + 2000 + b, **options).W
                    )
                    for b, idx in enumerate(plan["bootstrap"])
                ]
                W_restart = [np.asarray(f.W) for f in restarts]
                _, cos_restart = crit.matched_to_reference(W_full, W_restart)
                stack, cos_boot = crit.matched_to_reference(W_full, boot)
                out["restart_cosine"] = cos_restart.mean(axis=1)
                out["bootstrap_cosine"] = cos_boot.mean(axis=1)
                out["instability"] = crit.instability(boot)
                out["W_low"] = np.percentile(stack, 2.5, axis=0)
                out["W_high"] = np.percentile(stack, 97.5, axis=0)
                norms = np.linalg.norm(W_full, axis=0)
                out["W_unit"] = W_full / np.where(norms > 0, norms, 1.0)
    return out


def cv_fit_options(loss: str, options: dict) -> dict:
    """The options of the masked fits of ``method="cv"``.

    For ``loss="kl"`` without a penalty on H, the masked fits add
    ``l1_H = CV_L1_H`` (an exponential prior on H, with W's columns held at unit
    norm). Without it the masked Poisson likelihood has no maximiser on sparse
    counts: in a bin where every neuron of a component is held out, the
    component's activation is free, and the fit uses it, through a weight ε → 0
    on another neuron, to explain that neuron's spike (H → v/ε); the held-out
    neuron is then predicted at thousands of spikes per bin. The penalty is
    dimensionless for KL with unit-norm W (scaling V scales H and the penalty
    alike), costs each activation a shrinkage of β/(β + Σ w) and bounds the
    free activation at ~v/β.

    Examples
    --------
    >>> cv_fit_options("kl", {"tol": 1e-4})
    {'tol': 0.0001, 'l1_H': 0.1}
    >>> cv_fit_options("frobenius", {"tol": 1e-4})
    {'tol': 0.0001}
    """
    from neuronmf.engine.losses import get as loss_spec

    # a loss infinite where WH = 0 < V (KL) drives the masked fit to H → v/ε
    penalised_H = options.get("l1_H") or options.get("l2_H")
    if loss_spec(loss).positive_start and not penalised_H:
        return {**options, "l1_H": CV_L1_H}
    return dict(options)


def _row_squared_error(V, W, H) -> np.ndarray:
    """Σ_j (V − WH)²_ij per row; block by block (one pass) for a dask V."""
    import scipy.sparse as sp

    from neuronmf.engine.chunked import is_dask

    if sp.issparse(V):  # Σ(WH)² from Grams, the cross term at the non-zeros
        V = sp.csr_array(V)
        rows = np.repeat(np.arange(V.shape[0]), np.diff(V.indptr))
        fitted = np.einsum("ik,ki->i", W[rows], H[:, V.indices])
        stored = np.bincount(
            rows, V.data * (V.data - 2.0 * fitted), minlength=V.shape[0]
        )
        return np.maximum(np.einsum("ik,kl,il->i", W, H @ H.T, W) + stored, 0.0)
    if is_dask(V):
        import dask.array as da

        Hd = da.from_array(H, chunks=(H.shape[0], V.chunks[1]))
        return np.asarray(((V - W @ Hd) ** 2).sum(axis=1).compute())
    return np.sum((V - W @ H) ** 2, axis=1)


def _block_loss(v, W_I, H_J, loss, rates) -> float:
    """Mean loss of W_I·H_J as a prediction of the held-out block ``v``.

    KL predictions are shrunk towards each row's mean rate on the training
    columns, ``rates`` (as :func:`neuronmf.engine.losses.heldout_deviance`).
    The loss is the engine's (:func:`neuronmf.engine.losses.mean_heldout_loss`);
    a dask block is scored chunk by chunk with it and the chunk sums added.
    """
    import scipy.sparse as sp

    from neuronmf.engine.chunked import is_dask
    from neuronmf.engine.losses import RATE_SHRINK, mean_heldout_loss
    from neuronmf.engine.losses import get as loss_spec

    # as the loss's ``heldout`` does: predictions of a loss infinite where
    # WH = 0 < V (KL) are shrunk towards the rows' rates
    shrink = loss_spec(loss).positive_start
    if sp.issparse(v):
        if shrink:
            W_I = np.hstack([(1 - RATE_SHRINK) * W_I, RATE_SHRINK * rates[:, None]])
            H_J = np.vstack([H_J, np.ones((1, H_J.shape[1]))])
        return _sparse_block_loss(sp.csr_array(v), W_I, H_J, loss)
    if not is_dask(v):
        mu = W_I @ H_J
        if shrink:
            mu = (1 - RATE_SHRINK) * mu + RATE_SHRINK * rates[:, None]
        return mean_heldout_loss(v, mu, loss)
    import dask.array as da

    mu = W_I @ da.from_array(H_J, chunks=(H_J.shape[0], v.chunks[1]))
    if shrink:
        mu = (1 - RATE_SHRINK) * mu + RATE_SHRINK * rates[:, None]
    mu = mu.rechunk(v.chunks)

    def chunk_sum(a, b):
        return np.array([[mean_heldout_loss(a, b, loss) * a.size if a.size else 0.0]])

    sums = da.map_blocks(
        chunk_sum,
        v,
        mu,
        dtype=np.float64,
        chunks=tuple((1,) * len(c) for c in v.chunks),
    )
    return float(sums.sum().compute()) / max(v.size, 1)


def _training_rates(v) -> np.ndarray:
    """:func:`neuronmf.engine.losses.row_rates` of a block all of whose entries
    train (dense or ``scipy.sparse``, which is not densified)."""
    import scipy.sparse as sp

    if not sp.issparse(v):  # every entry trains (a (m, 1) mask gave row sums)
        return row_rates(v, np.ones(v.shape, bool))
    n = v.shape[1]
    rates = np.asarray(v.sum(axis=1), dtype=np.float64).ravel() / max(n, 1)
    overall = float(v.sum()) / max(v.shape[0] * n, 1)
    return np.maximum(rates, 0.01 * (overall if overall > 0 else 1.0))


def _sparse_block_loss(v, W, H, loss, chunk: int = 1 << 20) -> float:
    """Mean loss of W·H for a sparse block ``v``, the counts never densified.

    The engine's loss (:func:`neuronmf.engine.losses.mean_heldout_loss`) summed
    as Σ_all d(0, μ) + Σ_nnz [d(v, μ) − d(0, μ)]: the first term over row
    chunks of the prediction μ = W·H (of at most ``chunk`` entries), the second
    at the stored entries only.
    """
    from neuronmf.engine.losses import mean_heldout_loss

    m, n = v.shape
    rows = np.repeat(np.arange(m), np.diff(v.indptr))
    mu = np.einsum("ik,ki->i", W[rows], H[:, v.indices])
    zeros = np.zeros_like(mu)
    total = 0.0
    if v.nnz:
        total += v.nnz * (
            mean_heldout_loss(v.data, mu, loss) - mean_heldout_loss(zeros, mu, loss)
        )
    step = max(1, chunk // max(n, 1))
    for i in range(0, m, step):
        part = W[i : i + step] @ H
        total += part.size * mean_heldout_loss(np.zeros_like(part), part, loss)
    return total / max(m * n, 1)
