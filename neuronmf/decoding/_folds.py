"""The folds of decoding: outer and inner, blocked in time or over whole trials.

Outer folds are contiguous blocks *of the scored bins*; the training bins of a
block are those farther than ``gap`` bins from it (:func:`blocked_folds` on a
plain range, ``_inner_folds`` on any sorted set of bins, which the inner loop
uses on each outer training set). Trial input is split over whole trials
(KFold, or StratifiedKFold for classes). :func:`make_folds` builds both levels
and refuses, before any fit, folds too small to fit or to score.
"""

from __future__ import annotations

import itertools

import numpy as np

from neuronmf.errors import input_error

__all__ = ["blocked_folds", "make_folds"]


def blocked_folds(
    n: int, n_folds: int, gap: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Contiguous test blocks and the training bins farther than ``gap`` from them.

    Examples
    --------
    >>> folds = blocked_folds(20, 2, gap=2)
    >>> folds[0][1].tolist(), folds[0][0].tolist()[:3]
    ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [12, 13, 14])
    """
    edges = np.linspace(0, n, n_folds + 1).round().astype(int)
    out = []
    allbins = np.arange(n)
    for a, b in itertools.pairwise(edges):
        test = allbins[a:b]
        train = allbins[(allbins < a - gap) | (allbins >= b + gap)]
        out.append((train, test))
    return out


def _inner_folds(train: np.ndarray, n_folds: int, gap: int):
    edges = np.linspace(0, train.size, n_folds + 1).round().astype(int)
    out = []
    for a, b in itertools.pairwise(edges):
        val = train[a:b]
        lo, hi = val[0] - gap, val[-1] + gap
        tr = train[(train < lo) | (train > hi)]
        out.append((tr, val))
    return out


def _trial_folds(
    samples: np.ndarray, labels: np.ndarray | None, n_folds: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds over whole trials: StratifiedKFold for classes, KFold otherwise.

    Neither shuffles, so test trials are (per class) consecutive in the order
    given: slow drifts across a session are not averaged away.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    samples = np.asarray(samples)
    if labels is None:
        split = KFold(n_splits=n_folds).split(samples)
    else:
        split = StratifiedKFold(n_splits=n_folds).split(samples, labels)
    return [(samples[a], samples[b]) for a, b in split]


def make_folds(data, opts):
    """(outer folds, inner folds of each outer training set), checked.

    Raises :class:`~neuronmf.errors.InputError` when a fold has too few scored
    samples, or a class is absent from (or, for trials, too rare in) an outer
    training fold.
    """
    cv, inner_cv = opts.cv, opts.inner_cv
    y, use, classes = data.yv, data.use, data.classes_model
    if data.trial_mode:
        _check_trial_counts(data, cv)
        folds = _trial_folds(use, y[use] if classes else None, cv)
    else:
        folds = _inner_folds(use, cv, data.gap)
    min_rows = 2 if data.trial_mode else max(10, 2 * len(opts.offsets))
    for k, (tr, te) in enumerate(folds):
        n_te, n_tr = int(te.size), int(tr.size)
        if n_te < min_rows or n_tr < inner_cv * min_rows or n_te <= len(opts.offsets):
            raise input_error(
                "number of samples",
                f"enough for {cv} outer × {inner_cv} inner folds with gap {data.gap} "
                f"(at least {min_rows} scored bins per test block)",
                f"{use.size} scored of {data.ns} ({n_te} in test block {k}, "
                f"{n_tr} in its training set)",
                "Use fewer folds, fewer lags, a smaller gap, or a longer recording.",
            )
        if classes:
            _check_training_classes(data, tr, te, k, inner_cv)
    if data.trial_mode:
        inner_sets = [
            _trial_folds(tr, y[tr] if classes else None, inner_cv) for tr, _ in folds
        ]
    else:
        inner_sets = [_inner_folds(tr, inner_cv, data.gap) for tr, _ in folds]
    return folds, inner_sets


def _check_trial_counts(data, cv: int) -> None:
    use = data.use
    if use.size < 2 * cv:
        raise input_error(
            "number of trials",
            f"at least {2 * cv} (two per outer fold, cv={cv})",
            int(use.size),
            "Use fewer folds or more trials.",
        )
    if data.classes_model:
        counts = np.bincount(data.yv[use].astype(int))
        if counts.min() < cv:
            raise input_error(
                "every class",
                f"present in at least cv={cv} trials (one per outer fold)",
                f"class {data.class_names[int(np.argmin(counts))]!r} in "
                f"{int(counts.min())} trial(s)",
                "Use fewer folds, or merge rare classes.",
            )


def _check_training_classes(data, tr, te, k: int, inner_cv: int) -> None:
    y = data.yv
    tr_classes = np.unique(y[tr]).astype(int)
    missing = sorted(set(np.unique(y[te]).astype(int)) - set(tr_classes))
    if (
        missing
        or tr_classes.size < 2
        or (data.trial_mode and np.bincount(y[tr].astype(int)).min() < inner_cv)
    ):
        raise input_error(
            "every class",
            "present in every outer training fold"
            + (f" (at least inner_cv={inner_cv} trials)" if data.trial_mode else ""),
            f"class(es) {[data.class_names[i] for i in missing] or 'some'} "
            f"absent or too rare in the training bins of fold {k}",
            "Use fewer folds, or balance the classes over time.",
        )
