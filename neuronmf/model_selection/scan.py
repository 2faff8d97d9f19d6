"""Choosing the rank: held-out cross-validation and classical criteria side by side.

:func:`select_rank` fits every rank once on all the data and computes the cheap
criteria from that fit; the criteria that need more fits run only when asked
(``method=``, or ``criteria=``), and fits are shared between them:

================  ==============================================================
``"cv"``          speckled masked-entry hold-out (Wold 1978), optionally in runs
                  along time (``block=``); scored with the fit's own loss (mean
                  squared error, or mean Poisson deviance for KL); the smallest
                  rank within one standard error of the minimum (1-SE rule).
``"bicv"``        Owen–Perry bi-cross-validation: hold out half the rows × half
                  the columns, fit the other three blocks, predict the held-out
                  block; 1-SE rule.
``"vaf"``         smallest rank with global uncentred VAF ≥ 0.90 and every
                  feature's VAF ≥ 0.75 (Torres-Oviedo & Ting; settable).
``"curvefit"``    smallest N for which a line fitted to the centred R²(N … N_max)
                  curve has mean squared error < 1e-4 (Cheung et al. 2005).
``"aic"/"bic"``   Gaussian AIC/BIC, k = r(m + n − 1). They assume independent
                  residuals; envelopes and calcium traces are autocorrelated, so
                  both overfit there. Reported, not recommended.
``"consensus"``   Brunet et al. (2004): restarts from random inits, samples
                  clustered by their largest component; the largest rank (≥ 2)
                  whose cophenetic correlation is within 0.001 of the highest
                  (the rank before it starts to fall).
``"stability"``   restarts and (block-)bootstrap resamples of the samples matched
                  to the full fit (Hungarian on cosine); staNMF instability; the
                  rank (≥ 2) with the lowest instability; per-component 95 %
                  intervals of W.
================  ==============================================================
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuronmf.engine.losses import row_rates
from neuronmf.errors import input_error
from neuronmf.model_selection import criteria as crit
from neuronmf.model_selection.masks import bicv_split, block_bootstrap, speckled_mask

METHODS = ("cv", "bicv", "vaf", "curvefit", "aic", "bic", "consensus", "stability")
CHEAP = ("vaf", "curvefit", "aic", "bic")
# criteria that need V in memory (masks, restarts, resamples); the others run on a
# dask array through the engine's chunked path
IN_MEMORY_ONLY = ("cv", "consensus", "stability")
# Brunet et al. take the rank after which the cophenetic correlation falls; on
# clean data several ranks tie at ~1, so the largest rank within this of the top.
COPHENETIC_TOLERANCE = 1e-3
#: Default stopping tolerance of the fits of a scan (see ``select_rank``).
SCAN_TOL = 1e-4
#: l1 penalty on H of the masked KL fits of ``method="cv"`` (see cv_fit_options).
CV_L1_H = 0.1

RULES = {
    "cv": "smallest rank within one standard error of the minimum mean held-out "
    "error ({holdout:.0%} speckled hold-out in runs of {block}, {n_repeats} repeats)",
    "bicv": "smallest rank within one standard error of the minimum mean bi-cross-"
    "validation error (half the rows x half the columns held out, {n_repeats} "
    "repeats)",
    "vaf": "smallest rank with VAF >= {vaf_threshold} and every feature's VAF >= "
    "{local_vaf_threshold} (uncentred VAF)",
    "curvefit": "smallest N whose R²(N..N_max) curve is fitted by a line with "
    "MSE < 1e-4 (centred R²)",
    "aic": "minimum Gaussian AIC (assumes independent residuals)",
    "bic": "minimum Gaussian BIC (assumes independent residuals)",
    "consensus": "largest rank whose cophenetic correlation of the consensus "
    "matrix over {n_repeats} random restarts is within 0.001 of the highest "
    "(ranks >= 2)",
    "stability": "lowest staNMF instability over {n_repeats} restarts and "
    "{n_repeats} block-bootstrap resamples (ranks >= 2)",
}


@dataclass
class RankScan:
    """The outcome of :func:`select_rank`.

    Attributes
    ----------
    scores : xarray.Dataset
        Every computed criterion over ``rank`` (and ``repeat`` for per-repeat
        errors); stability adds ``W_low``/``W_high`` (rank, feature, component).
    best_rank : int
        The rank chosen by ``method``.
    method : str
    rule : str
        In words, how ``best_rank`` was chosen.
    choices : dict
        The rank each computed criterion would choose.
    """

    scores: Any
    best_rank: int
    method: str
    rule: str
    choices: dict[str, int] = field(default_factory=dict)

    def plot(self, *, axes=None):
        """Held-out error (mean ± SE) and VAF/R² against rank; returns the figure."""
        from neuronmf.plotting.rank import plot_rank_scan

        return plot_rank_scan(self, axes=axes)

    def plot_intervals(self, rank: int, *, ax=None):
        """W at ``rank`` with 95 % bootstrap intervals (needs the stability scan)."""
        from neuronmf.plotting.rank import plot_component_intervals

        return plot_component_intervals(self, rank, ax=ax)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.choices.items())
        return f"RankScan(best_rank={self.best_rank}, method={self.method!r}; {shown})"


def select_rank(
    V,
    ranks: Iterable[int] = range(1, 11),
    *,
    method: str = "cv",
    criteria: str | Sequence[str] | None = None,
    loss: str = "frobenius",
    n_repeats: int = 5,
    holdout: float = 0.1,
    block: int = 1,
    seed: int | None = 0,
    vaf_threshold: float = 0.90,
    local_vaf_threshold: float = 0.75,
    sample_dim: str = "time",
    n_jobs: int = 1,
    progress: bool = False,
    _fits: dict | None = None,
    **nmf_options,
) -> RankScan:
    """Fit NMF at each rank and choose one by the named criterion.

    Parameters
    ----------
    V : array-like of shape (m, n), or xarray.DataArray
        Non-negative data, features × samples (a DataArray's ``sample_dim`` is the
        samples; its other dims are stacked into features). A dask array, or a
        dask-backed DataArray (e.g. ``nm.io.load_movie(..., lazy=True)``), is
        never read whole: every fit goes through the engine's chunked path (one
        pass over V per iteration) and the criteria that need V in memory
        (``"cv"``, ``"consensus"``, ``"stability"``) are refused; use
        ``method="bicv"`` or the classical criteria.
    ranks : iterable of int, default range(1, 11)
    method : {"cv", "bicv", "vaf", "curvefit", "aic", "bic", "consensus", \
"stability"}
        The criterion that picks ``best_rank``.
    criteria : "all" or sequence of str, optional
        Criteria to compute besides ``method`` and the cheap ones (vaf, curvefit,
        aic, bic), which are always computed from the full fits.
    loss : {"frobenius", "kl"}
    n_repeats : int, default 5
        Hold-out masks, bi-CV splits, restarts and bootstrap resamples per rank.
    holdout : float, default 0.1
        Fraction of entries held out by ``"cv"``, in (0, 0.5].
    block : int, default 1
        Length of held-out runs (``"cv"``) and of bootstrap blocks
        (``"stability"``) along the samples; use the autocorrelation time of the
        data for time series.
    seed : int, optional
        Makes the scan reproducible (masks, inits and resamples).
    vaf_threshold, local_vaf_threshold : float
        Thresholds of the ``"vaf"`` rule.
    sample_dim : str, default "time"
        Sample dimension of a DataArray ``V``.
    n_jobs : int, default 1
        Ranks fitted in parallel (processes, via joblib); -1 uses every core.
        Ignored for a dask ``V``, whose blocks dask already reads in parallel.
    progress : bool
        Show a progress bar over ranks.
    **nmf_options
        Passed to :func:`neuronmf.nmf` (solver, max_iter, tol, penalties ...).
        ``tol`` defaults to 1e-4 here (1e-5 in ``nmf``): a scan compares errors
        across ranks, which settle well before the last digits of each fit
        (on 16 × 20,000 this halves the time and changes no choice).

    Returns
    -------
    RankScan

    Examples
    --------
    >>> import numpy as np, neuronmf as nm
    >>> rng = np.random.default_rng(0)
    >>> V = rng.random((30, 3)) @ rng.random((3, 200)) + 0.01 * rng.random((30, 200))
    >>> scan = nm.select_rank(V, range(1, 6), n_repeats=2)
    >>> scan.best_rank, scan.choices["bic"]
    (3, 3)
    """
    import xarray as xr

    from neuronmf.engine import _validation as check

    # plain options first (issue 21 defect 7): refused, never coerced
    sample_dim = check.check_str("sample_dim", sample_dim)
    progress = check.check_bool("progress", progress)
    seed = check.check_seed("seed", seed)
    holdout = check.check_real("holdout", holdout)
    for name, value in (
        ("vaf_threshold", vaf_threshold),
        ("local_vaf_threshold", local_vaf_threshold),
    ):
        if not 0 < check.check_real(name, value) <= 1:
            raise input_error(name, "a fraction in (0, 1]", repr(value))
    if criteria is not None and not isinstance(criteria, str):
        criteria = tuple(criteria) if isinstance(criteria, Iterable) else criteria
        if not isinstance(criteria, tuple) or not all(
            isinstance(c, str) for c in criteria
        ):
            raise input_error(
                "criteria", '"all" or a list of method names', repr(criteria)
            )
    labels = None
    if isinstance(V, xr.DataArray):
        from neuronmf.engine.api import _Labels

        labels = _Labels.from_data(V, sample_dim)
        V = labels.matrix
    from neuronmf.engine.chunked import is_dask

    lazy = is_dask(V)
    if lazy:  # larger than memory: read block by block, never whole
        V = check.dask_matrix(V)[0].astype(np.float64)
    else:
        V = np.asarray(check.data_matrix(V), dtype=np.float64)
    m, n = V.shape
    ranks_arr = np.array(sorted({check.check_int("ranks[i]", r) for r in ranks}))
    if ranks_arr.size == 0:
        raise input_error("ranks", "a non-empty collection of integers", "an empty one")
    if ranks_arr[0] < 1 or ranks_arr[-1] > min(m, n):
        raise input_error(
            "ranks",
            f"integers in [1, min(m, n)] = [1, {min(m, n)}]",
            f"{ranks_arr.tolist()}",
            "Drop the ranks above the smaller dimension of the data.",
        )
    check.choice("method", method, METHODS)
    check.choice("loss", loss, ("frobenius", "kl"))
    wanted = _criteria(method, criteria)
    if lazy and any(c in wanted for c in IN_MEMORY_ONLY):
        needs = [c for c in wanted if c in IN_MEMORY_ONLY]
        raise input_error(
            "method/criteria for a dask array",
            f"among {(*CHEAP, 'bicv')}",
            f"{needs}",
            "Masked hold-out, restarts and bootstrap resamples need V in memory; "
            'bi-cross-validation (method="bicv") works block by block.',
        )
    if not 0 < holdout <= 0.5:
        raise input_error(
            "holdout", "a fraction in (0, 0.5]", holdout, "The default is 0.1."
        )
    several = any(c in wanted for c in ("consensus", "stability"))
    n_repeats = check.integer("n_repeats", n_repeats, 2 if several else 1)
    block = check.integer("block", block, 1)
    if not isinstance(n_jobs, int | np.integer) or n_jobs == 0 or n_jobs < -1:
        raise input_error("n_jobs", "a positive integer, or -1 for every core", n_jobs)
    for name in ("mask", "W", "H", "n_restarts"):
        if name in nmf_options:
            raise input_error(
                "nmf options",
                f"free of {name!r}, which select_rank sets itself",
                name,
                f"Remove {name}= from the call.",
            )

    nmf_options = {"tol": SCAN_TOL, **nmf_options}
    rng = np.random.default_rng(seed)
    plan: dict[str, Any] = {"n_repeats": n_repeats}
    if "cv" in wanted:
        plan["cv"] = [
            speckled_mask(V.shape, holdout, rng, block) for _ in range(n_repeats)
        ]
        for i, mask in enumerate(plan["cv"]):
            if (mask.sum(axis=1) < 1).any() or (mask.sum(axis=0) < 1).any():
                raise input_error(
                    "holdout",
                    "small enough to leave a training entry in every row and column",
                    holdout,
                    f"Repeat {i} held out a whole row or column; lower holdout or "
                    "block.",
                )
    if "bicv" in wanted:
        if m < 2 or n < 2:
            raise input_error("V", "at least 2 × 2 for bi-cross-validation", V.shape)
        plan["bicv"] = [bicv_split(V.shape, rng) for _ in range(n_repeats)]
        plan["bicv_max_rank"] = min(m - m // 2, n - n // 2)
        too_big = [int(r) for r in ranks_arr if r > plan["bicv_max_rank"]]
        if too_big and method == "bicv":
            raise input_error(
                "ranks",
                f"at most {min(m - m // 2, n - n // 2)} for bi-cross-validation "
                "(the fitted block is half the rows by half the columns)",
                f"{too_big}",
                "Drop those ranks, or choose by another method (bicv is then "
                "reported as NaN at those ranks).",
            )
    if "stability" in wanted:
        plan["bootstrap"] = [block_bootstrap(n, rng, block) for _ in range(n_repeats)]
    base_seed = 0 if seed is None else int(seed)

    # _fits (internal): {rank: (W, H)} full fits the caller already has, with the
    # same loss and options (synergies.extract); each rank is then fitted once
    given = {} if _fits is None else _fits
    tasks = [
        (V, int(r), plan, wanted, loss, base_seed, nmf_options, given.get(int(r)))
        for r in ranks_arr
    ]
    # a dask V is already read in parallel, block by block
    results = _run(tasks, 1 if lazy else n_jobs, progress)

    with warnings.catch_warnings():  # all-NaN rows (bicv above its maximum rank)
        warnings.simplefilter("ignore", RuntimeWarning)
        scan = _assemble(
            results,
            ranks_arr,
            V,
            wanted,
            labels,
            dict(
                holdout=holdout,
                block=block,
                n_repeats=n_repeats,
                vaf_threshold=vaf_threshold,
                local_vaf_threshold=local_vaf_threshold,
            ),
        )
    scan.scores.attrs.update(
        {"loss": loss, "method": method, "seed": "none" if seed is None else seed}
    )
    best = scan.choices[method]
    rule = RULES[method].format(
        holdout=holdout,
        block=block,
        n_repeats=n_repeats,
        vaf_threshold=vaf_threshold,
        local_vaf_threshold=local_vaf_threshold,
    )
    if method == "cv":  # name the score (issue 20): what "error" means for counts
        score = "Poisson deviance" if loss == "kl" else "squared error"
        rule = rule.replace("held-out error", f"held-out {score} per entry")
    scan.scores.attrs.update({"best_rank": best, "rule": rule})
    return RankScan(
        scores=scan.scores,
        best_rank=best,
        method=method,
        rule=rule,
        choices=scan.choices,
    )


def _criteria(method: str, criteria) -> tuple[str, ...]:
    if criteria is None:
        extra: tuple[str, ...] = ()
    elif isinstance(criteria, str):
        if criteria != "all":
            raise input_error(
                "criteria", '"all" or a list of method names', repr(criteria)
            )
        extra = METHODS
    else:
        extra = tuple(criteria)
        for name in extra:
            if name not in METHODS:
                raise input_error(
                    "criteria",
                    f"names from {METHODS}",
                    repr(name),
                )
    return tuple(c for c in METHODS if c in (*CHEAP, method, *extra))


def _run(tasks, n_jobs: int, progress: bool) -> list[dict]:
    """Every rank's fits (:func:`_scan_rank`), through the one parallel runner."""
    from neuronmf.model_selection.runner import run_tasks

    return run_tasks(
        _scan_rank,
        tasks,
        n_jobs=n_jobs,
        progress=progress,
        desc="rank scan",
        unit="rank",
    )


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
                errors.append(fit.heldout_loss(V, ~mask))
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
                rates = row_rates(V[rows][:, ~cols], np.ones((rows.sum(), 1), bool))
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
    if loss == "kl" and not (options.get("l1_H") or options.get("l2_H")):
        return {**options, "l1_H": CV_L1_H}
    return dict(options)


def _row_squared_error(V, W, H) -> np.ndarray:
    """Σ_j (V − WH)²_ij per row; block by block (one pass) for a dask V."""
    from neuronmf.engine.chunked import is_dask

    if is_dask(V):
        import dask.array as da

        Hd = da.from_array(H, chunks=(H.shape[0], V.chunks[1]))
        return np.asarray(((V - W @ Hd) ** 2).sum(axis=1).compute())
    return np.sum((V - W @ H) ** 2, axis=1)


def _block_loss(v, W_I, H_J, loss, rates) -> float:
    """Mean loss of W_I·H_J as a prediction of the held-out block ``v``.

    KL predictions are shrunk towards each row's mean rate on the training
    columns, ``rates`` (as :func:`neuronmf.engine.losses.heldout_deviance`).
    A dask block is scored block by block.
    """
    from neuronmf.engine.chunked import is_dask
    from neuronmf.engine.losses import RATE_SHRINK, mean_heldout_loss

    if not is_dask(v):
        mu = W_I @ H_J
        if loss == "kl":
            mu = (1 - RATE_SHRINK) * mu + RATE_SHRINK * rates[:, None]
        return mean_heldout_loss(v, mu, loss)
    import dask.array as da

    mu = W_I @ da.from_array(H_J, chunks=(H_J.shape[0], v.chunks[1]))
    if loss == "kl":
        mu = (1 - RATE_SHRINK) * mu + RATE_SHRINK * rates[:, None]
        mu = da.maximum(mu, 1e-300)
        log_term = da.where(v > 0, v * da.log(da.where(v > 0, v, 1.0) / mu), 0.0)
        return float((2.0 * (log_term - v + mu)).mean().compute())
    return float(((v - mu) ** 2).mean().compute())


def _data_sums(V) -> tuple[np.ndarray, float]:
    """Σ_j V²_ij per row and Σ V (one pass for a dask V)."""
    from neuronmf.engine.chunked import is_dask

    if is_dask(V):
        import dask

        row_norm2, total = dask.compute((V**2).sum(axis=1), V.sum())
        return np.asarray(row_norm2), float(total)
    return np.sum(V**2, axis=1), float(V.sum())


@dataclass
class _Assembled:
    scores: Any
    choices: dict[str, int]


def _assemble(results, ranks, V, wanted, labels, settings) -> _Assembled:
    import xarray as xr

    m, n = V.shape
    rss = np.array([res["rss"] for res in results])
    row_rss = np.array([res["row_rss"] for res in results])
    row_norm2, total = _data_sums(V)
    norm2 = float(row_norm2.sum())
    centred = norm2 - total**2 / (m * n)
    vaf = 1 - rss / norm2
    r2 = 1 - rss / centred
    vaf_local = 1 - row_rss / np.maximum(row_norm2, 1e-300)
    aic, bic = crit.gaussian_information_criteria(rss, ranks, m, n)
    feature = np.arange(m)
    if labels is not None and len(labels.feature_dims) == 1:
        feature = labels.stacked[labels.feature_dims[0]].values
    data: dict[str, Any] = {
        "rss": ("rank", rss),
        "vaf": ("rank", vaf),
        "r2": ("rank", r2),
        "vaf_local": (("rank", "feature"), vaf_local),
        "aic": ("rank", aic),
        "bic": ("rank", bic),
    }
    choices = {
        "vaf": crit.vaf_rank(
            vaf,
            vaf_local,
            ranks,
            settings["vaf_threshold"],
            settings["local_vaf_threshold"],
        ),
        "curvefit": crit.curvefit_rank(r2, ranks),
        "aic": int(ranks[np.argmin(aic)]),
        "bic": int(ranks[np.argmin(bic)]),
    }
    for name in ("cv", "bicv"):
        if name in wanted:
            err = np.array([res[name] for res in results])
            count = err.shape[1]
            se = (
                err.std(axis=1, ddof=1) / np.sqrt(count)
                if count > 1
                else np.zeros(len(ranks))
            )
            data[f"{name}_error"] = (("rank", "repeat"), err)
            data[f"{name}_mean"] = ("rank", np.nanmean(err, axis=1))
            data[f"{name}_se"] = ("rank", se)
            choices[name] = crit.one_se_rank(err, ranks)
    multi = ranks >= 2 if np.any(ranks >= 2) else np.ones(len(ranks), bool)
    if "consensus" in wanted:
        coph = np.array([res["cophenetic"] for res in results])
        data["cophenetic"] = ("rank", coph)
        data["dispersion"] = ("rank", np.array([res["dispersion"] for res in results]))
        scored = np.where(multi & np.isfinite(coph), coph, -np.inf)
        near_top = scored >= scored.max() - COPHENETIC_TOLERANCE
        choices["consensus"] = int(ranks[np.flatnonzero(near_top)[-1]])
    if "stability" in wanted:
        inst = np.array([res["instability"] for res in results])
        data["instability"] = ("rank", inst)
        data["restart_cosine"] = (
            ("rank", "repeat"),
            np.array([res["restart_cosine"] for res in results]),
        )
        data["bootstrap_cosine"] = (
            ("rank", "repeat"),
            np.array([res["bootstrap_cosine"] for res in results]),
        )
        r_max = int(ranks.max())
        for key in ("W_unit", "W_low", "W_high"):
            padded = np.full((len(ranks), m, r_max), np.nan)
            for a, res in enumerate(results):
                padded[a, :, : res[key].shape[1]] = res[key]
            data[key] = (("rank", "feature", "component"), padded)
        scored = np.where(multi & np.isfinite(inst), inst, np.inf)
        choices["stability"] = int(ranks[np.argmin(scored)])
    coords: dict[str, Any] = {"rank": ranks, "feature": feature}
    n_rep = settings["n_repeats"]
    if any(v[0] == ("rank", "repeat") for v in data.values()):
        coords["repeat"] = np.arange(n_rep)
    if "stability" in wanted:
        coords["component"] = np.arange(int(ranks.max()))
    scores = xr.Dataset(
        data,
        coords=coords,
        attrs={
            "holdout": float(settings["holdout"]),
            "block": int(settings["block"]),
            "n_repeats": int(n_rep),
            "criteria": ",".join(wanted),
            "vaf_kind": "uncentred VAF for the vaf rule; centred R² for curvefit",
        },
    )
    return _Assembled(scores=scores, choices=choices)
