"""Nested, leakage-free decoding of behaviour from NMF activations.

Procedure (ALGORITHMS.md §7):

1. Outer folds are contiguous time blocks. Training bins are every bin farther
   than ``gap`` bins from the test block (``gap`` ≥ the largest lag).
2. Inside each outer training set, an inner loop of contiguous blocks (same gap
   rule) chooses the rank and the GLM penalty: for every rank, NMF is fitted on
   the inner-training bins, the inner-validation bins are projected on the fixed
   W, and a scikit-learn GLM is scored on them.
3. NMF at the chosen rank is refitted on all outer-training bins; the test bins
   are projected on the fixed W with :func:`neuronmf.project`; the GLM at the
   chosen penalty is fitted on training bins and scored on the test block.
4. A null distribution repeats steps 2–3 (rank and penalty re-chosen) with the
   behaviour circularly shifted against the activity. NMF features do not depend
   on the behaviour, so the null reuses them.

Lagged designs are built inside each contiguous run of bins only, so a lag never
reaches across a fold boundary.

Epochs (``where=``, NaN behaviour) restrict everything to the scored bins: the
folds are contiguous blocks *of the scored bins*, so every test block holds
scored bins. A test block whose behaviour has no variance (or lacks a class)
scores NaN with a warning and is left out of the mean. Trial-structured input
(a ``trial`` dimension) is cross-validated over whole trials (KFold for
continuous behaviour, StratifiedKFold for classes).
"""

from __future__ import annotations

import warnings

from neuronmf._threads import blas_threads_for
from neuronmf.decoding._design import lagged
from neuronmf.decoding._epochs import in_epochs, min_speed
from neuronmf.decoding._features import fit_features
from neuronmf.decoding._folds import blocked_folds, make_folds
from neuronmf.decoding._null import null_distribution
from neuronmf.decoding._prepare import check_options, prepare
from neuronmf.decoding._result import (
    DEFAULT_ALPHAS,
    METRICS,
    MODELS,
    DecodingResult,
    finish,
)
from neuronmf.decoding._search import GLMSearch

__all__ = [
    "DEFAULT_ALPHAS",
    "METRICS",
    "MODELS",
    "DecodingResult",
    "blocked_folds",
    "decode",
    "in_epochs",
    "lagged",
    "min_speed",
]


def decode(
    X,
    y,
    *,
    model: str = "gaussian",
    features: str = "nmf",
    rank: int | str = "auto",
    ranks=range(1, 16),
    loss: str = "frobenius",
    lags=0,
    cv: int = 5,
    inner_cv: int = 3,
    inner_nmf: str = "refit",
    gap: int | None = None,
    alphas=None,
    n_null: int = 20,
    where=None,
    model_options: dict | None = None,
    time_dim: str = "time",
    trial_dim: str = "trial",
    max_iter: int = 200,
    tol: float = 1e-3,
    seed: int | None = 0,
    n_jobs: int = 1,
    progress: bool = False,
) -> DecodingResult:
    """Decode behaviour from activity by nested, leakage-free cross-validation.

    Parameters
    ----------
    X : xarray.DataArray (time, neuron) or array of shape (n_bins, n_neurons)
        Non-negative activity (binned counts or rates), e.g. from
        ``neuronmf.io.load_activity``. **Trials**: a DataArray with a
        ``trial`` dimension, (trial, neuron) or (trial, time, neuron) (as
        ``load_activity(..., align=trials, window=...)`` returns), or a 3-D
        array (trial, time, neuron): each trial is one sample (its time bins
        are features), the folds are over whole trials and a trial is never
        split.
    y : xarray.DataArray (time,), pandas Series or 1-D array
        Behaviour, one value per bin (or per trial). NaN bins are treated like
        bins outside ``where``. With time coordinates on both, a behaviour on
        another time base is resampled onto the activity bins (linear
        interpolation; nearest sample for classes) with a warning, or refused
        if it does not cover them.
    model : {"gaussian", "poisson", "bernoulli", "multinomial", "bayes"}
        scikit-learn GLM: Ridge, PoissonRegressor or LogisticRegression.
        Scores: R² (1 − SSE/SST on the test block), fraction of Poisson
        deviance explained (null = training mean), balanced accuracy.
        ``"bayes"``: the Poisson naive-Bayes position decoder
        (:class:`neuronmf.decoding.bayes.BayesianPositionDecoder`, tuning
        curves fitted on training folds only) on the raw counts or NMF
        activations, scored by R² and median position error.
    features : {"nmf", "raw"}
        NMF activations H (W fitted on training bins only) or the raw activity.
    rank : int or "auto"
        NMF rank; ``"auto"`` chooses it among ``ranks`` in the inner loop.
    ranks : iterable of int, default 1..15
        Candidate ranks (capped at the number of neurons).
    loss : {"frobenius", "kl"}
        NMF loss for the features and the projection.
    lags : int or (past, future)
        Row t uses features from bins t − past … t + future (``L`` means
        (L, L); ``(L, 0)`` is causal).
    cv : int, default 5
        Outer folds (contiguous time blocks).
    inner_cv : int, default 3
        Inner folds (contiguous blocks of the training bins).
    inner_nmf : {"refit", "shared"}, default "refit"
        ``"refit"``: NMF is refitted on each inner-training set and the
        inner-validation bins are projected (strict). ``"shared"``: NMF is
        fitted once per outer fold and rank on all outer-training bins and the
        inner loop uses those activations (the behaviour never enters NMF, and
        outer test bins are still excluded and projected, but the inner scores
        are slightly optimistic); about ``inner_cv`` times fewer NMF fits.
    gap : int, optional
        Bins dropped on each side of a test block. Default: the largest lag
        plus the behaviour's autocorrelation time (first lag where the
        autocorrelation falls below 1/e, capped at a tenth of a block).
        Must be ≥ the largest lag.
    alphas : sequence of float, optional
        GLM penalties searched in the inner loop (LogisticRegression gets
        C = 1/alpha). Features are standardised on training bins first.
    n_null : int, default 20
        Circularly shifted repetitions for the null distribution (0 for none);
        the scored bins are shifted among themselves. For trials, the per-trial
        values are permuted across the scored trials.
    where : bool array or xarray.DataArray (time,), or a list of them, optional
        The bins to use (True), e.g. ``nm.decoding.min_speed(position, 5.0)``
        (running only) or ``nm.decoding.in_epochs(X.time, epochs)``. Fitting
        (NMF and GLM) and scoring are restricted to these bins; the outer and
        inner folds are contiguous blocks *of these bins*, with the gap rule
        applied in time, so every test block holds scored bins. Lags never
        reach outside a contiguous run of used bins. A DataArray on another
        time base is resampled onto the bins (nearest sample; refused if it
        does not cover them); an array is one value per bin. **Several
        conditions** (a list, e.g. ``[running, inside]``, each on its own time
        base) are each put on the bins that way and combined with AND; the
        bins each keeps and their intersection are recorded in
        ``res.attrs["where_kept"]`` and ``res.attrs["where_intersection"]``.
    model_options : dict, optional
        Constructor arguments of the ``"bayes"`` decoder (e.g.
        ``{"n_position_bins": 50}``); ``bin_width`` defaults to the spacing of
        the activity's time coordinate.
    time_dim, trial_dim : str
    max_iter, tol
        NMF budget and stopping rule. ``tol`` defaults to 1e-3 (1e-5 in
        :func:`neuronmf.nmf`): the features feed a GLM, which does not see the
        last digits of the fit (docs/benchmarks.md). The ranks of one training
        set are fitted once each, as a warm-started chain
        (:func:`neuronmf.model_selection.chain.rank_chain`).
    seed : int, optional
        Seed of NMF and of the null shifts.
    n_jobs : int, default 1
        Training sets fitted in parallel (joblib processes, one Numba and one
        BLAS thread each); -1 uses every core. The results do not depend on it.
    progress : bool
        Show tqdm progress bars.

    Returns
    -------
    DecodingResult

    Raises
    ------
    neuronmf.InputError
        Before any fit: different time bases that cannot be resampled, too few
        scored samples for the folds, constant behaviour, a class absent from
        a training fold (or, for trials, rarer than ``cv``), negative activity
        with NMF features, a non-boolean ``where``, a ``where`` condition
        that keeps no bin (or conditions with no bin in common), unknown
        options.

    Warns
    -----
    UserWarning
        When an outer fold's score is undefined (the behaviour of its test block
        has no variance, or lacks a class): the fold scores NaN, the warning
        names it, and it is left out of the mean (in every reported score and
        in the null). If no fold is defined, the score is NaN.

    Notes
    -----
    Decoding measures how much behaviour can be predicted from activity: it is
    correlation, not causation.

    Examples
    --------
    >>> import numpy as np, neuronmf as nm
    >>> sim = nm.datasets.simulate_assemblies(n_neurons=20, n_assemblies=2, n_bins=900)
    >>> res = nm.decoding.decode(sim.data, sim.behavior, rank=2, lags=3, cv=3,
    ...                          inner_cv=2, n_null=2)
    >>> bool(res.score > 0.5), res.scores.sizes["fold"]
    (True, 3)

    Several conditions, each on its own time base, combined with AND:

    >>> early = sim.data.time < 15.0                       # DataArray (time,)
    >>> inside = nm.decoding.in_epochs(sim.data.time, [[5.0, 22.5]])  # array
    >>> res = nm.decoding.decode(sim.data, sim.behavior, where=[early, inside],
    ...                          features="raw", cv=3, inner_cv=2, n_null=0)
    >>> res.attrs["where_kept"], res.attrs["where_intersection"]
    ('600,700', 400)
    """
    opts = check_options(
        model=model, features=features, rank=rank, ranks=ranks, loss=loss,
        lags=lags, cv=cv, inner_cv=inner_cv, inner_nmf=inner_nmf, gap=gap,
        alphas=alphas, n_null=n_null, model_options=model_options,
        time_dim=time_dim, trial_dim=trial_dim, max_iter=max_iter, tol=tol,
        seed=seed, n_jobs=n_jobs, progress=progress,
    )  # fmt: skip
    data = prepare(X, y, where, opts)  # activity, behaviour, where on one set
    folds, inner_sets = make_folds(data, opts)  # refused here, before any fit
    outer, inner = fit_features(data, opts, folds, inner_sets)
    # many tiny GLM fits: one BLAS thread
    with warnings.catch_warnings(), blas_threads_for(data.Xv.size * len(opts.offsets)):
        search = GLMSearch(data, opts, folds, inner_sets, outer, inner)
        outcome = search.run(data.yv, keep_predictions=True)
        null, null_undefined = null_distribution(search, data, opts)
    return finish(data, opts, folds, outcome, null, null_undefined, search.notes)
