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

import json
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from neuronmf._provenance import result_attrs
from neuronmf.errors import input_error
from neuronmf.model_selection._assemble import COPHENETIC_TOLERANCE, _assemble
from neuronmf.model_selection._fits import CV_L1_H, _scan_rank, cv_fit_options
from neuronmf.model_selection.masks import (
    bicv_split,
    block_bootstrap,
    speckled_heldout,
    speckled_mask,
)
from neuronmf.model_selection.rules import RULES, rule_text

__all__ = [
    "CHEAP",
    "COPHENETIC_TOLERANCE",
    "CV_L1_H",
    "IN_MEMORY_ONLY",
    "METHODS",
    "RULES",
    "SCAN_TOL",
    "RankScan",
    "cv_fit_options",
    "rule_text",
    "select_rank",
]

METHODS = ("cv", "bicv", "vaf", "curvefit", "aic", "bic", "consensus", "stability")
CHEAP = ("vaf", "curvefit", "aic", "bic")
# criteria that need V in memory (masks, restarts, resamples); the others run on a
# dask array through the engine's chunked path
IN_MEMORY_ONLY = ("cv", "consensus", "stability")
# criteria that run on scipy.sparse V: all (masked CV holds out entries, zeros
# included, as a HeldOut pattern; the others run on the non-zeros)
SPARSE_METHODS = METHODS
#: Default stopping tolerance of the fits of a scan (see ``select_rank``).
SCAN_TOL = 1e-4


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

    ``plot`` and ``plot_intervals`` delegate to :mod:`neuronmf.plotting.rank`
    (imported when called, as xarray's ``.plot`` does): the result does not
    draw, and model selection does not import matplotlib.
    """

    scores: Any
    best_rank: int
    method: str
    rule: str
    choices: dict[str, int] = field(default_factory=dict)

    def to_dataset(self):
        """The scan as one :class:`xarray.Dataset` (for ``nm.io.save_netcdf``).

        ``scores`` with the attributes every result carries
        (:func:`neuronmf._provenance.result_attrs`: ``neuronmf_kind`` =
        ``"rank_scan"``, ``neuronmf_version``, ``params``, ``seed``, ``loss``)
        and the outcome: ``best_rank``, ``method``, ``rule`` and ``choices``
        (JSON). :meth:`from_dataset` reads it back.

        Examples
        --------
        >>> import numpy as np, neuronmf as nm
        >>> rng = np.random.default_rng(0)
        >>> V = rng.random((20, 2)) @ rng.random((2, 100))
        >>> ds = nm.select_rank(V, [1, 2, 3], n_repeats=2).to_dataset()
        >>> ds.attrs["neuronmf_kind"], ds.attrs["best_rank"], ds.attrs["seed"]
        ('rank_scan', 2, 0)
        >>> RankScan.from_dataset(ds).choices == nm.select_rank(
        ...     V, [1, 2, 3], n_repeats=2).choices
        True
        """
        ds = self.scores.copy()
        attrs = dict(ds.attrs)
        if "neuronmf_kind" not in attrs:  # a RankScan built by hand
            attrs = {
                **result_attrs(
                    "rank_scan", seed=attrs.get("seed"), loss=attrs.get("loss")
                ),
                **attrs,
            }
        attrs.update(
            {
                "best_rank": int(self.best_rank),
                "method": str(self.method),
                "rule": str(self.rule),
                "choices": json.dumps({k: int(v) for k, v in self.choices.items()}),
            }
        )
        ds.attrs = attrs
        return ds

    @classmethod
    def from_dataset(cls, ds) -> RankScan:
        """The :class:`RankScan` a :meth:`to_dataset` Dataset holds (e.g. read back
        by ``nm.io.load_result``)."""
        attrs = ds.attrs
        missing = [k for k in ("best_rank", "method", "rule") if k not in attrs]
        if missing or attrs.get("neuronmf_kind", "rank_scan") != "rank_scan":
            raise input_error(
                "ds",
                "a rank scan Dataset (from RankScan.to_dataset())",
                f"attrs without {missing}" if missing else attrs.get("neuronmf_kind"),
            )
        choices = json.loads(attrs["choices"]) if "choices" in attrs else {}
        return cls(
            scores=ds,
            best_rank=int(attrs["best_rank"]),
            method=str(attrs["method"]),
            rule=str(attrs["rule"]),
            choices={str(k): int(v) for k, v in choices.items()},
        )

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
        ``method="bicv"`` or the classical criteria. A ``scipy.sparse`` V (spike
        counts) is never densified: every criterion runs on its non-zeros, and
        ``"cv"`` holds out the same entries (zeros included) as for the dense
        array, stored sparsely (:class:`neuronmf.engine.HeldOut`), with the same
        held-out scores to rounding.
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
    criteria = _criteria_arg(criteria)
    V, labels, lazy = _as_matrix(V, sample_dim)
    ranks_arr = _ranks(ranks, V.shape)
    check.choice("method", method, METHODS)
    check.choice("loss", loss, ("frobenius", "kl"))
    wanted = _criteria(method, criteria)
    n_repeats, block = _check_scan(
        wanted, lazy, holdout, n_repeats, block, n_jobs, nmf_options
    )

    nmf_options = {"tol": SCAN_TOL, **nmf_options}
    settings = {
        "holdout": holdout,
        "block": block,
        "n_repeats": n_repeats,
        "vaf_threshold": vaf_threshold,
        "local_vaf_threshold": local_vaf_threshold,
    }
    plan = _plan(
        V.shape, ranks_arr, wanted, method, settings, seed, sparse=sp.issparse(V)
    )
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
        scan = _assemble(results, ranks_arr, V, wanted, labels, settings)
    params = {
        "ranks": ranks_arr.tolist(),
        "method": method,
        "criteria": list(wanted),
        "loss": loss,
        **settings,
        "sample_dim": sample_dim,
        "nmf_options": {k: _describe(v) for k, v in nmf_options.items()},
    }
    best = scan.choices[method]
    rule = rule_text(method, loss=loss, **settings)
    scan.scores.attrs.update(
        {
            **result_attrs("rank_scan", params=params, seed=seed, loss=loss),
            "method": method,
            "best_rank": best,
            "rule": rule,
            "choices": json.dumps(scan.choices),
        }
    )
    return RankScan(
        scores=scan.scores,
        best_rank=best,
        method=method,
        rule=rule,
        choices=scan.choices,
    )


def _criteria_arg(criteria):
    """``criteria=`` as given: None, a string, or a tuple of strings."""
    if criteria is not None and not isinstance(criteria, str):
        criteria = tuple(criteria) if isinstance(criteria, Iterable) else criteria
        if not isinstance(criteria, tuple) or not all(
            isinstance(c, str) for c in criteria
        ):
            raise input_error(
                "criteria", '"all" or a list of method names', repr(criteria)
            )
    return criteria


def _check_scan(wanted, lazy, holdout, n_repeats, block, n_jobs, nmf_options):
    """Refuse settings the wanted criteria cannot run with; ``(n_repeats, block)``."""
    from neuronmf.engine import _validation as check
    from neuronmf.model_selection.runner import check_n_jobs

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
    check_n_jobs(n_jobs)  # the runner's one check
    for name in ("mask", "W", "H", "n_restarts"):
        if name in nmf_options:
            raise input_error(
                "nmf options",
                f"free of {name!r}, which select_rank sets itself",
                name,
                f"Remove {name}= from the call.",
            )
    return n_repeats, block


def _as_matrix(V, sample_dim: str):
    """``V`` as a float64 (m, n) matrix (a dask one stays lazy), its labels, lazy?"""
    import xarray as xr

    from neuronmf.engine import _validation as check

    labels = None
    if isinstance(V, xr.DataArray):
        from neuronmf.engine.labels import Labels as _Labels

        labels = _Labels.from_data(V, sample_dim)
        V = labels.matrix
    from neuronmf.engine._sparse import is_sparse, sparse_matrix
    from neuronmf.engine.chunked import is_dask

    lazy = is_dask(V)
    if is_sparse(V):  # kept sparse: fits and scores run on the non-zeros
        V = sparse_matrix(V)
        full = V.nnz == V.shape[0] * V.shape[1]  # else it holds zeros and non-zeros
        low, high = (V.data.min(), V.data.max()) if full else (0.0, 1.0)
    elif lazy:  # larger than memory: read block by block, never whole
        V, stats = check.dask_matrix(V)
        V = V.astype(np.float64)
        low, high = stats["min"], stats["max"]
    else:
        V = np.asarray(check.data_matrix(V), dtype=np.float64)
        low, high = V.min(), V.max()
    if low == high:  # exactly rank 1: no rank to choose, every criterion is noise
        raise input_error(
            "V",
            "not constant",
            f"every entry {float(low)!r}",
            "A constant matrix is exactly rank 1; check the series and time range.",
        )
    return V, labels, lazy


def _ranks(ranks, shape) -> np.ndarray:
    """The scanned ranks, sorted and unique, each in [1, min(m, n)]."""
    from neuronmf.engine import _validation as check

    m, n = shape
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
    return ranks_arr


def _describe(value):
    """An option as ``params`` records it: arrays (a graph, a mask) by their shape."""
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) > 0:
        return f"<{type(value).__name__} of shape {tuple(int(d) for d in shape)}>"
    return value


def _holds_out_a_line(mask) -> bool:
    """Whether a cv mask (bool, True = trains) or HeldOut leaves a row or column
    without a training entry."""
    if isinstance(mask, np.ndarray):
        return bool((mask.sum(axis=1) < 1).any() or (mask.sum(axis=0) < 1).any())
    m, n = mask.shape
    return bool((mask.row_counts() >= n).any() or (mask.col_counts() >= m).any())


def _plan(
    shape, ranks, wanted, method, settings, seed, sparse: bool = False
) -> dict[str, Any]:
    """The held-out masks, bi-CV splits and bootstrap resamples of a scan.

    Drawn once from ``seed`` (in this order), before any fit, and shared by
    every rank; bad settings are refused here, before any work. For sparse V
    (``sparse``) the cv masks are :class:`~neuronmf.engine.HeldOut` patterns
    of the same entries.
    """
    m, n = shape
    holdout, block = settings["holdout"], settings["block"]
    n_repeats = settings["n_repeats"]
    rng = np.random.default_rng(seed)
    plan: dict[str, Any] = {"n_repeats": n_repeats}
    if "cv" in wanted:
        # sparse V: the same held-out entries, stored sparsely (a HeldOut)
        draw = speckled_heldout if sparse else speckled_mask
        plan["cv"] = [draw(shape, holdout, rng, block) for _ in range(n_repeats)]
        for i, mask in enumerate(plan["cv"]):
            if _holds_out_a_line(mask):
                raise input_error(
                    "holdout",
                    "small enough to leave a training entry in every row and column",
                    holdout,
                    f"Repeat {i} held out a whole row or column; lower holdout or "
                    "block.",
                )
    if "bicv" in wanted:
        if m < 2 or n < 2:
            raise input_error("V", "at least 2 × 2 for bi-cross-validation", shape)
        plan["bicv"] = [bicv_split(shape, rng) for _ in range(n_repeats)]
        plan["bicv_max_rank"] = min(m - m // 2, n - n // 2)
        too_big = [int(r) for r in ranks if r > plan["bicv_max_rank"]]
        if too_big and method == "bicv":
            raise input_error(
                "ranks",
                f"at most {min(m - m // 2, n - n // 2)} for bi-cross-validation "
                "(the fitted block is half the rows by half the columns)",
                f"{too_big}",
                "Drop those ranks, or choose by another method (bicv is then "
                "reported as NaN at those ranks).",
            )
        if too_big:
            warnings.warn(
                f"select_rank: bicv is undefined above rank {plan['bicv_max_rank']} "
                f"for a {m} × {n} input (the fitted block is half the rows by half "
                f"the columns); reported as NaN at ranks {too_big}.",
                UserWarning,
                stacklevel=3,
            )
    if "stability" in wanted:
        plan["bootstrap"] = [block_bootstrap(n, rng, block) for _ in range(n_repeats)]
    return plan


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
