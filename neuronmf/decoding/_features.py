"""The features of decoding: NMF activations of every training set, at every rank.

For each outer fold (and, with ``inner_nmf="refit"``, each inner fold of its
training set) NMF is fitted on the training samples only, at every candidate
rank as one warm-started chain (:func:`neuronmf.model_selection.chain.rank_chain`),
and the held-out samples are projected on the fixed W. The training sets run
through the package's one parallel runner
(:func:`neuronmf.model_selection.runner.run_tasks`). Each rank of each training
set is fitted once; the features do not depend on the behaviour, so the null
reuses them.
"""

from __future__ import annotations

import warnings

import numpy as np

from neuronmf.engine import project
from neuronmf.model_selection.chain import rank_chain
from neuronmf.model_selection.runner import run_tasks

__all__ = ["fit_features"]


def fit_features(data, opts, folds, inner_sets) -> tuple[dict, dict]:
    """(outer, inner): ``outer[(k, r)] = (F_train, F_test)`` of outer fold k at
    rank r, ``inner[(k, j, r)] = (F_itrain, F_ival)`` of its inner fold j.

    Features are (samples' rows × components); ``"raw"`` features are the rows of
    the activity (rank key 0).
    """
    rows_of = data.rows_of
    tasks, keys = [], []
    for k, (tr, te) in enumerate(folds):
        keys.append([("outer", k, r) for r in data.ranks])
        tasks.append((rows_of(tr), rows_of(te)))
        if opts.inner_nmf == "refit":
            for j, (itr, ival) in enumerate(inner_sets[k]):
                keys.append([("inner", k, j, r) for r in data.ranks])
                tasks.append((rows_of(itr), rows_of(ival)))
    fit_options = {
        "loss": opts.loss,
        "max_iter": opts.max_iter,
        "tol": opts.tol,
        "seed": opts.seed,
    }
    results = run_tasks(
        _features_task,
        [(data.Xv, data.ranks, a, b, opts.features, fit_options) for a, b in tasks],
        n_jobs=1 if opts.features == "raw" else opts.n_jobs,
        progress=opts.progress,
        desc="decode: NMF fits",
        unit="fit",
        weights=[len(data.ranks)] * len(tasks),
    )
    outer, inner = {}, {}
    for task_keys, values in zip(keys, results, strict=True):
        for key, value in zip(task_keys, values, strict=True):
            (outer if key[0] == "outer" else inner)[key[1:]] = value
    if opts.inner_nmf == "shared":
        _share_outer_fits(data, folds, inner_sets, outer, inner)
    return outer, inner


def _share_outer_fits(data, folds, inner_sets, outer, inner) -> None:
    """Inner features cut from the outer fold's fit (``inner_nmf="shared"``)."""
    rows_of = data.rows_of
    for k, (tr, _) in enumerate(folds):
        rtr = rows_of(tr)
        for r in data.ranks:
            Ftr = outer[(k, r)][0]
            for j, (itr, ival) in enumerate(inner_sets[k]):
                inner[(k, j, r)] = (
                    Ftr[np.searchsorted(rtr, rows_of(itr))],
                    Ftr[np.searchsorted(rtr, rows_of(ival))],
                )


def _features_task(Xv, ranks, fit_rows, other_rows, features, fit_options):
    """Features at each rank: ``[(F_fit, F_other), ...]`` in the order of ``ranks``.

    NMF is fitted on ``fit_rows`` only (the rank chain); ``other_rows`` are
    projected on its W. A module-level function, so it can run in a worker.
    """
    if features == "raw":
        return [(Xv[fit_rows], Xv[other_rows])]
    V = np.ascontiguousarray(Xv[fit_rows].T)
    V_other = np.ascontiguousarray(Xv[other_rows].T)
    options = dict(fit_options)
    seed = options.pop("seed")
    out = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*stopped at max_iter.*")
        for _, fit in rank_chain(V, ranks, seed=seed, **options):
            W = np.asarray(fit.W)
            projected = np.asarray(project(V_other, W, loss=options["loss"])).T
            out.append((np.asarray(fit.H).T, projected))
    return out
