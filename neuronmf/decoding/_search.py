"""The GLM search of decoding: rank and penalty chosen in the inner loop, then scored.

For each outer fold, every (rank, penalty) pair is scored on the inner folds of
its training set (mean over inner folds; an undefined inner score is left out);
the best pair is refitted on the whole outer training set and scored on the
test block. Features are standardised on the training rows of each fit. Lagged
designs do not depend on the behaviour and are built once per training set, so
the null repetitions reuse them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression, PoissonRegressor, Ridge
from sklearn.metrics import balanced_accuracy_score, mean_poisson_deviance, r2_score
from sklearn.preprocessing import StandardScaler

from neuronmf.decoding._design import lagged

__all__ = ["GLMSearch", "Outcome"]


def _glm(model: str, alpha: float):
    if model == "gaussian":
        est = Ridge(alpha=alpha)
    elif model == "poisson":
        est = PoissonRegressor(alpha=alpha, max_iter=300)
    else:
        est = LogisticRegression(C=1.0 / alpha, max_iter=500)
    return est


def _score(model: str, y_true, y_pred, y_train) -> float:
    if model in ("gaussian", "bayes"):
        return float(r2_score(y_true, y_pred))
    if model == "poisson":
        mu0 = np.full_like(y_true, max(float(np.mean(y_train)), 1e-12), dtype=float)
        d_null = mean_poisson_deviance(y_true, mu0)
        if d_null <= 0:
            return float("nan")
        return float(
            1.0 - mean_poisson_deviance(y_true, np.maximum(y_pred, 1e-12)) / d_null
        )
    return float(balanced_accuracy_score(y_true, y_pred))


def _undefined(model: str, y_true: np.ndarray, n_classes: int) -> str | None:
    """Why the score of a test block is undefined (None if it is defined)."""
    if y_true.size == 0:
        return "no scored bins in the test block"
    if model in ("bernoulli", "multinomial"):
        present = np.unique(y_true).size
        if present < n_classes:
            return (
                f"only {present} of {n_classes} classes in the test block "
                "(balanced accuracy undefined)"
            )
        return None
    if np.ptp(y_true) == 0:
        return "no variance in the behaviour of the test block (score undefined)"
    return None


@dataclass
class Outcome:
    """The outer loop's results for one behaviour (the real one or a null)."""

    scores: list[float]
    ranks: list[int]
    alphas: list[float]
    table: np.ndarray  # (fold, rank): inner score of each rank at its best penalty
    predictions: np.ndarray
    fold_of: np.ndarray
    why: list[str | None]  # why each outer score is undefined (None if defined)
    median_errors: list[float]


class GLMSearch:
    """Inner-loop choice of rank and penalty, and the outer test scores.

    Parameters
    ----------
    data : neuronmf.decoding._prepare.Data
    opts : neuronmf.decoding._prepare.Options
    folds, inner_sets
        From :func:`neuronmf.decoding._folds.make_folds`.
    outer, inner : dict
        Features from :func:`neuronmf.decoding._features.fit_features`.
    """

    def __init__(self, data, opts, folds, inner_sets, outer, inner):
        self.data, self.model, self.offsets = data, opts.model, opts.offsets
        self.folds, self.inner_sets = folds, inner_sets
        self.outer, self.inner = outer, inner
        self.designs: dict = {}
        #: the Bayesian decoder's warnings, reported once each by decode
        self.notes: set[str] = set()

    def design(self, key, Ftr, itr, Fva, iva):
        """Lagged (or per-trial) designs of one training set; y-independent."""
        if key not in self.designs:
            if self.data.trial_mode:
                self.designs[key] = (
                    itr,
                    Ftr.reshape(itr.size, -1),
                    iva,
                    Fva.reshape(iva.size, -1),
                )
            else:
                rtr, Dtr = lagged(Ftr, itr, self.offsets)
                rva, Dva = lagged(Fva, iva, self.offsets)
                self.designs[key] = (itr[rtr], Dtr, iva[rva], Dva)
        return self.designs[key]

    def fit_score(self, key, Ftr, itr, Fva, iva, yy, alpha_list):
        """(scores per alpha, predictions of the last alpha, bins, why NaN)."""
        btr, Dtr, bva, Dva = self.design(key, Ftr, itr, Fva, iva)
        ktr, kva = np.isfinite(yy[btr]), np.isfinite(yy[bva])
        btr, Dtr, bva, Dva = btr[ktr], Dtr[ktr], bva[kva], Dva[kva]
        nan = [float("nan")] * len(alpha_list)
        if bva.size == 0 or btr.size == 0:
            return nan, None, bva, "no scored bins left after the lags"
        ytr = yy[btr]
        if self.data.classes_model and np.unique(ytr).size < 2:
            return nan, None, bva, "one class only in the training bins"
        if self.model == "bayes" and np.ptp(ytr) == 0:  # no tuning curve
            return nan, None, bva, "behaviour constant in the training bins"
        preds = self._predict(Dtr, ytr, Dva, alpha_list)
        reason = _undefined(self.model, yy[bva], self.data.n_classes)
        if reason is not None:
            return nan, preds[-1], bva, reason
        out = [_score(self.model, yy[bva], p, ytr) for p in preds]
        return out, preds[-1], bva, None

    def _predict(self, Dtr, ytr, Dva, alpha_list) -> list:
        """Predictions of the validation rows, one per penalty."""
        model = self.model
        if model == "bayes":
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                p = self.data.bayes_factory().fit(Dtr, ytr).predict(Dva)
            self.notes.update(str(w.message) for w in caught)
            return [np.asarray(p, dtype=float).reshape(len(Dva))] * len(alpha_list)
        scaler = StandardScaler().fit(Dtr)
        Ztr, Zva = scaler.transform(Dtr), scaler.transform(Dva)
        if model == "gaussian":
            # one Ridge fit, one target column per penalty (same solutions)
            alpha_arr = np.asarray(alpha_list, dtype=float)
            fit = Ridge(alpha=alpha_arr).fit(
                Ztr, np.repeat(ytr[:, None], alpha_arr.size, axis=1)
            )
            return fit.predict(Zva).reshape(len(Zva), -1).T
        return [_glm(model, a).fit(Ztr, ytr).predict(Zva) for a in alpha_list]

    def choose(self, k: int, yy) -> tuple[np.ndarray, int, float]:
        """(inner score grid (rank, alpha), chosen rank, chosen alpha) of fold k.

        With no defined inner score the first rank and penalty are returned,
        and :meth:`run` scores the fold NaN: nothing was chosen.
        """
        ranks, alphas = self.data.ranks, self.data.alphas
        grid = np.full((len(ranks), len(alphas)), np.nan)
        for ri, r in enumerate(ranks):
            per_fold = np.array(
                [
                    self.fit_score(
                        ("inner", k, j, r),
                        self.inner[(k, j, r)][0],
                        itr,
                        self.inner[(k, j, r)][1],
                        ival,
                        yy,
                        alphas,
                    )[0]
                    for j, (itr, ival) in enumerate(self.inner_sets[k])
                ]
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                grid[ri] = np.nanmean(per_fold, axis=0)
        grid[~np.isfinite(grid)] = -np.inf
        ri, ai = np.unravel_index(np.nanargmax(grid), grid.shape)
        return grid, ranks[ri], alphas[ai]

    def run(self, yy: np.ndarray, keep_predictions: bool) -> Outcome:
        """Choose, refit and score every outer fold for the behaviour ``yy``."""
        ns = self.data.ns
        continuous = self.model in ("gaussian", "bayes")
        out = Outcome(
            [], [], [], np.empty(0), np.full(ns, np.nan), np.full(ns, -1), [], []
        )
        table = []
        for k, (tr, te) in enumerate(self.folds):
            grid, r, a = self.choose(k, yy)
            if np.isfinite(grid).any():
                Ftr, Fte = self.outer[(k, r)]
                (s,), pred, bte, reason = self.fit_score(
                    ("outer", k, r), Ftr, tr, Fte, te, yy, [a]
                )
            else:  # the rank and penalty would be arbitrary: not scored
                s, pred, bte = float("nan"), None, te[:0]
                reason = (
                    "no inner fold gave a defined score for any rank and penalty, "
                    "so none could be chosen"
                )
            if reason is None and not np.isfinite(s):
                reason = "score not finite"
            out.scores.append(s)
            out.why.append(reason)
            out.median_errors.append(
                float(np.median(np.abs(pred - yy[bte])))
                if reason is None and pred is not None and continuous
                else float("nan")
            )
            out.ranks.append(r)
            out.alphas.append(a)
            table.append(grid.max(axis=1))
            if keep_predictions and pred is not None:
                out.predictions[bte] = pred
                out.fold_of[bte] = k
        out.table = np.array(table)
        return out
