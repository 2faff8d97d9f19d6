"""The result of :func:`neuronmf.decoding.decode`, and how a run becomes one.

:func:`finish` turns the outer loop's outcome and the null into a
:class:`DecodingResult`: it warns about undefined fold scores (NaN, left out of
every mean), averages, computes the p-value and stamps the attributes with
:func:`neuronmf._provenance.result_attrs` (kind ``"decoding"``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from neuronmf._provenance import result_attrs

__all__ = ["DEFAULT_ALPHAS", "METRICS", "MODELS", "DecodingResult", "finish"]

MODELS = ("gaussian", "poisson", "bernoulli", "multinomial", "bayes")
METRICS = {
    "gaussian": "r2",
    "bayes": "r2",
    "poisson": "deviance_explained",
    "bernoulli": "balanced_accuracy",
    "multinomial": "balanced_accuracy",
}
DEFAULT_ALPHAS = {
    "gaussian": (0.1, 10.0, 1000.0, 100000.0),
    "poisson": (1e-4, 1e-3, 1e-2, 1e-1),
    "bernoulli": (1e-2, 1.0, 100.0),
    "multinomial": (1e-2, 1.0, 100.0),
    "bayes": (1.0,),  # no penalty: one placeholder value
}


@dataclass
class DecodingResult:
    """The outcome of :func:`decode`.

    Attributes
    ----------
    scores : xarray.DataArray (fold)
        Test score of every outer fold (R² for ``"gaussian"`` and ``"bayes"``,
        fraction of Poisson deviance explained for ``"poisson"``, balanced
        accuracy for classes). NaN where the score is undefined: the test
        block's behaviour has no variance, or it lacks a class (a warning names
        the fold).
    score : float
        Mean of the finite ``scores`` (NaN, with a warning, if none is finite).
    predictions : xarray.DataArray (time) or (trial)
        Out-of-sample predictions (NaN where a bin was in no test block, in a
        gap or outside ``where``), with a ``fold`` coordinate (−1 where not
        predicted).
    behavior : xarray.DataArray (time) or (trial)
        The behaviour that was decoded (after any resampling), NaN outside
        ``where``.
    rank : int or None
        The rank chosen most often across outer folds (None for raw features).
    ranks, alphas : xarray.DataArray (fold)
        Chosen rank and GLM penalty of each outer fold.
    rank_scores : xarray.DataArray (fold, rank)
        Inner-loop score of each rank (at its best penalty), training data only.
    null_scores : xarray.DataArray (null)
        Mean test score of each circularly shifted repetition.
    p_value : float
        (1 + #{null ≥ score}) / (1 + n_null) over the finite null scores; NaN
        without a null.
    metric, model, features : str
    median_errors : xarray.DataArray (fold) or None
        Median absolute position error of each outer fold, in the behaviour's
        units (continuous models ``"gaussian"`` and ``"bayes"``; None
        otherwise); NaN where the fold's R² is undefined.
    median_error : float
        Mean of the finite ``median_errors`` (NaN for classes).
    where : xarray.DataArray (time) or (trial), bool
        The scored bins: ``where`` and finite behaviour.
    attrs : dict
        Provenance (str/int/float only, survives NetCDF): the package's common
        attributes (``neuronmf_kind="decoding"``, ``neuronmf_version``,
        ``params`` as JSON, ``seed``, ``"none"`` when no seed was given,
        ``loss``; see :func:`neuronmf._provenance.result_attrs`) and the
        decoding's own (model, metric, folds, gap, scored bins, ...).
        ``n_scored`` is the number of scored samples (``where`` and finite
        behaviour) of ``n_samples``; ``where`` describes the conditions,
        ``where_kept`` gives the bins each condition of ``where`` keeps
        (comma-separated, one count per condition, "" without ``where``) and
        ``where_intersection`` the bins all of them keep.
    """

    scores: xr.DataArray
    score: float
    predictions: xr.DataArray
    behavior: xr.DataArray
    rank: int | None
    ranks: xr.DataArray
    alphas: xr.DataArray
    rank_scores: xr.DataArray
    null_scores: xr.DataArray
    p_value: float
    metric: str
    model: str
    features: str
    attrs: dict[str, Any] = field(default_factory=dict)
    folds: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list, repr=False)
    median_errors: xr.DataArray | None = None
    median_error: float = float("nan")
    where: xr.DataArray | None = None

    def to_dataset(self) -> xr.Dataset:
        """All results in one :class:`xarray.Dataset` (NetCDF-safe attrs).

        The per-bin ``fold`` coordinate of :attr:`predictions` becomes the
        coordinate ``test_fold`` (time): the name ``fold`` is the dimension of
        ``scores``, and one Dataset cannot hold both.
        """
        preds = self.predictions
        if "fold" in preds.coords and preds["fold"].dims == preds.dims:
            preds = preds.rename({"fold": "test_fold"})
        data = {
            "scores": self.scores,
            "predictions": preds,
            "behavior": self.behavior,
            "chosen_rank": self.ranks,
            "chosen_alpha": self.alphas,
            "rank_scores": self.rank_scores,
            "null_scores": self.null_scores,
        }
        if self.median_errors is not None:
            data["median_errors"] = self.median_errors
        if self.where is not None:
            data["scored"] = self.where.astype("int8")
        ds = xr.Dataset(data)
        # a result built by hand (not by decode) still says what it is
        common = result_attrs(
            "decoding", params={"model": self.model, "features": self.features}
        )
        ds.attrs.update({k: v for k, v in common.items() if k not in self.attrs})
        ds.attrs.update(self.attrs)
        ds.attrs.update(
            score=float(self.score),
            p_value=float(self.p_value),
            rank=int(self.rank) if self.rank is not None else -1,
            median_error=float(self.median_error),
        )
        return ds

    def __repr__(self) -> str:
        null = (
            f", null {float(self.null_scores.mean()):.3f} ± "
            f"{float(self.null_scores.std()):.3f} (p={self.p_value:.3g})"
            if self.null_scores.size
            else ""
        )
        finite = int(np.isfinite(self.scores.values).sum())
        over = (
            f"{self.scores.size} folds"
            if finite == self.scores.size
            else f"{finite} of {self.scores.size} folds (others undefined)"
        )
        med = (
            f", median error {self.median_error:.3g}"
            if np.isfinite(self.median_error) and self.model == "bayes"
            else ""
        )
        return (
            f"DecodingResult({self.model}, features={self.features}, rank={self.rank}, "
            f"{self.metric}={self.score:.3f} over {over}{med}{null})"
        )


def _nanmean(values) -> float:
    """Mean of the finite values; NaN (silently) if there is none."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def finish(data, opts, folds, outcome, null, null_undefined, notes) -> DecodingResult:
    """The :class:`DecodingResult` of a run, after warning about what is undefined.

    Called by :func:`neuronmf.decoding.decode` itself: the warnings name its
    caller.
    """
    _warn(data, opts, folds, outcome, null_undefined, notes)
    score = _nanmean(outcome.scores)
    null_arr = np.asarray(null, dtype=float)
    null_fin = null_arr[np.isfinite(null_arr)]
    p_value = (
        float((1 + np.sum(null_fin >= score)) / (1 + null_fin.size))
        if null_fin.size and np.isfinite(score)
        else float("nan")
    )
    if opts.features == "nmf":
        vals, counts = np.unique(outcome.ranks, return_counts=True)
        best_rank = int(vals[np.argmax(counts)])
    else:
        best_rank = None
    dim = data.sample_dim
    if data.trial_mode:
        coord = data.trial_coord if data.trial_coord is not None else np.arange(data.ns)
    else:
        coord = data.tx if data.tx is not None else np.arange(data.ns)
    fold_idx = {"fold": np.arange(len(folds))}

    def per_fold(values, name=None):
        return xr.DataArray(
            np.asarray(values), dims=("fold",), coords=fold_idx, name=name
        )

    continuous = opts.model in ("gaussian", "bayes")
    return DecodingResult(
        scores=per_fold(outcome.scores, "scores"),
        score=score,
        predictions=xr.DataArray(
            outcome.predictions,
            dims=(dim,),
            coords={dim: coord, "fold": (dim, outcome.fold_of)},
            name="predictions",
        ),
        behavior=xr.DataArray(
            data.yv, dims=(dim,), coords={dim: coord}, name="behavior"
        ),
        rank=best_rank,
        ranks=per_fold(outcome.ranks),
        alphas=per_fold(outcome.alphas),
        rank_scores=xr.DataArray(
            outcome.table,
            dims=("fold", "rank"),
            coords={**fold_idx, "rank": data.ranks},
        ),
        null_scores=xr.DataArray(null_arr, dims=("null",), name="null_scores"),
        p_value=p_value,
        metric=METRICS[opts.model],
        model=opts.model,
        features=opts.features,
        attrs=_attrs(data, opts, outcome),
        folds=folds,
        median_errors=per_fold(outcome.median_errors, "median_errors")
        if continuous
        else None,
        median_error=_nanmean(outcome.median_errors) if continuous else float("nan"),
        where=xr.DataArray(data.valid, dims=(dim,), coords={dim: coord}, name="scored"),
    )


def _warn(data, opts, folds, outcome, null_undefined, notes) -> None:
    """Warnings of a finished run (stacklevel: the caller of decode)."""
    metric = METRICS[opts.model]
    bad = [(k, w) for k, w in enumerate(outcome.why) if w is not None]
    if bad:

        def where_is(k):
            te = folds[k][1]
            if data.tx is not None:
                return f"{data.tx[te[0]]:.6g}–{data.tx[te[-1]]:.6g} s"
            return f"{data.sample_dim}s {te[0]}–{te[-1]}"

        warnings.warn(
            f"decode: {metric} undefined in {len(bad)} of {len(folds)} outer "
            "folds, scored NaN and left out of the mean: "
            + "; ".join(f"fold {k} ({where_is(k)}): {w}" for k, w in bad)
            + ". Restrict decoding to epochs where the behaviour varies (where=, "
            "e.g. nm.decoding.min_speed).",
            UserWarning,
            stacklevel=4,
        )
    if notes:
        notes = sorted(notes)
        warnings.warn(
            f"decode: the Bayesian decoder warned in some fits ({len(notes)} distinct "
            "message(s)): "
            + " | ".join(notes[:3])
            + (" | ..." if len(notes) > 3 else ""),
            UserWarning,
            stacklevel=4,
        )
    grid = sorted(set(data.ranks))
    at_top = [
        k
        for k, (r, w) in enumerate(zip(outcome.ranks, outcome.why, strict=True))
        if w is None and r == grid[-1]
    ]
    if len(grid) > 1 and at_top:
        warnings.warn(
            f"decode: the inner CV chose the largest rank of the grid ({grid[-1]}) "
            f"in {len(at_top)} of {len(folds)} outer folds, so the best rank may "
            "lie above the grid. Scan higher ranks (ranks=range(1, "
            f"{2 * grid[-1] + 1})) if the number of neurons allows.",
            UserWarning,
            stacklevel=4,
        )
    if not np.isfinite(_nanmean(outcome.scores)):
        warnings.warn(
            f"decode: no outer fold has a defined {metric}; the score is NaN.",
            UserWarning,
            stacklevel=4,
        )
    if null_undefined:
        warnings.warn(
            f"decode: {null_undefined} null fold score(s) undefined (of "
            f"{opts.n_null * len(folds)}); left out of the null means.",
            UserWarning,
            stacklevel=4,
        )


def _attrs(data, opts, outcome) -> dict[str, Any]:
    """The common attributes (result_attrs) and decoding's own."""
    trial_mode, classes = data.trial_mode, data.class_names
    params = {
        "model": opts.model,
        "features": opts.features,
        "rank": opts.rank,
        "ranks": data.ranks,
        "loss": opts.loss,
        "lags": opts.offsets,
        "cv": opts.cv,
        "inner_cv": opts.inner_cv,
        "inner_nmf": opts.inner_nmf,
        "gap": data.gap,
        "alphas": list(data.alphas),
        "n_null": opts.n_null,
        "model_options": dict(opts.model_options or {}),
        "max_iter": opts.max_iter,
        "tol": opts.tol,
        "time_dim": opts.time_dim,
        "trial_dim": opts.trial_dim,
    }
    attrs = {
        "model": opts.model,
        "metric": METRICS[opts.model],
        "features": opts.features,
        "lags": ",".join(str(o) for o in opts.offsets),
        "cv": int(opts.cv),
        "inner_cv": int(opts.inner_cv),
        "inner_nmf": opts.inner_nmf,
        "gap": int(data.gap),
        "n_null": int(opts.n_null),
        "ranks_searched": ",".join(str(r) for r in data.ranks),
        "alphas_searched": ",".join(f"{a:g}" for a in data.alphas),
        "behavior_time_base": data.time_note,
        "behavior_name": str(data.yname) if data.yname is not None else "",
        "classes": ",".join(str(c) for c in classes) if classes is not None else "",
        "max_iter": int(opts.max_iter),
        "tol": float(opts.tol),
        "sample_dim": data.sample_dim,
        "folds": "trials (StratifiedKFold)"
        if trial_mode and data.classes_model
        else "trials (KFold)"
        if trial_mode
        else "contiguous blocks of the scored bins",
        "n_scored": int(data.use.size),
        "n_samples": int(data.ns),
        "where": data.where_note,
        "where_kept": ",".join(str(k) for k in data.where_kept),
        "where_intersection": int(data.where_intersection),
        "undefined_folds": ",".join(
            str(k) for k, w in enumerate(outcome.why) if w is not None
        ),
        **result_attrs("decoding", params=params, seed=opts.seed, loss=opts.loss),
    }
    if trial_mode:
        attrs["time_bins_per_trial"] = int(data.n_per)
    return attrs
