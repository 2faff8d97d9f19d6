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
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from sklearn.linear_model import LogisticRegression, PoissonRegressor, Ridge
from sklearn.metrics import balanced_accuracy_score, mean_poisson_deviance, r2_score
from sklearn.preprocessing import StandardScaler

from neuronmf.engine import nmf, project
from neuronmf.engine.init import initialize
from neuronmf.errors import input_error

__all__ = ["DecodingResult", "blocked_folds", "decode", "lagged"]

MODELS = ("gaussian", "poisson", "bernoulli", "multinomial")
METRICS = {
    "gaussian": "r2",
    "poisson": "deviance_explained",
    "bernoulli": "balanced_accuracy",
    "multinomial": "balanced_accuracy",
}
DEFAULT_ALPHAS = {
    "gaussian": (0.1, 10.0, 1000.0, 100000.0),
    "poisson": (1e-4, 1e-3, 1e-2, 1e-1),
    "bernoulli": (1e-2, 1.0, 100.0),
    "multinomial": (1e-2, 1.0, 100.0),
}


# --------------------------------------------------------------------------- result
@dataclass
class DecodingResult:
    """The outcome of :func:`decode`.

    Attributes
    ----------
    scores : xarray.DataArray (fold)
        Test score of every outer fold (R² for ``"gaussian"``, fraction of
        Poisson deviance explained for ``"poisson"``, balanced accuracy for
        classes).
    score : float
        Mean of ``scores``.
    predictions : xarray.DataArray (time)
        Out-of-sample predictions (NaN where a bin was in no test block or in a
        gap), with a ``fold`` coordinate (−1 where not predicted).
    behavior : xarray.DataArray (time)
        The behaviour that was decoded (after any resampling).
    rank : int or None
        The rank chosen most often across outer folds (None for raw features).
    ranks, alphas : xarray.DataArray (fold)
        Chosen rank and GLM penalty of each outer fold.
    rank_scores : xarray.DataArray (fold, rank)
        Inner-loop score of each rank (at its best penalty), training data only.
    null_scores : xarray.DataArray (null)
        Mean test score of each circularly shifted repetition.
    p_value : float
        (1 + #{null ≥ score}) / (1 + n_null); NaN without a null.
    metric, model, features : str
    attrs : dict
        Provenance (str/int/float only, survives NetCDF).
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

    def to_dataset(self) -> xr.Dataset:
        """All results in one :class:`xarray.Dataset` (NetCDF-safe attrs).

        The per-bin ``fold`` coordinate of :attr:`predictions` becomes the
        coordinate ``test_fold`` (time): the name ``fold`` is the dimension of
        ``scores``, and one Dataset cannot hold both.
        """
        preds = self.predictions
        if "fold" in preds.coords and preds["fold"].dims == ("time",):
            preds = preds.rename({"fold": "test_fold"})
        ds = xr.Dataset(
            {
                "scores": self.scores,
                "predictions": preds,
                "behavior": self.behavior,
                "chosen_rank": self.ranks,
                "chosen_alpha": self.alphas,
                "rank_scores": self.rank_scores,
                "null_scores": self.null_scores,
            }
        )
        ds.attrs.update(self.attrs)
        ds.attrs.update(
            score=float(self.score),
            p_value=float(self.p_value),
            rank=int(self.rank) if self.rank is not None else -1,
        )
        return ds

    def __repr__(self) -> str:
        null = (
            f", null {float(self.null_scores.mean()):.3f} ± "
            f"{float(self.null_scores.std()):.3f} (p={self.p_value:.3g})"
            if self.null_scores.size
            else ""
        )
        return (
            f"DecodingResult({self.model}, features={self.features}, rank={self.rank}, "
            f"{self.metric}={self.score:.3f} over {self.scores.size} folds{null})"
        )


# --------------------------------------------------------------------------- helpers
def lagged(F: np.ndarray, idx: np.ndarray, offsets) -> tuple[np.ndarray, np.ndarray]:
    """Time-lagged design inside contiguous runs of bins.

    Parameters
    ----------
    F : ndarray of shape (len(idx), p)
        Features of the bins ``idx`` (sorted, unique bin numbers).
    idx : ndarray of int
    offsets : sequence of int
        Row t of the design holds ``F(t + o)`` for every offset o.

    Returns
    -------
    rows : ndarray of int
        Positions (into ``idx``) of the rows whose whole window lies in the same
        contiguous run; the lag never reaches across a gap.
    design : ndarray of shape (len(rows), p * len(offsets))

    Examples
    --------
    >>> import numpy as np
    >>> F = np.arange(6.0)[:, None]; idx = np.array([0, 1, 2, 5, 6, 7])
    >>> rows, D = lagged(F, idx, [-1, 0])
    >>> rows.tolist(), D[:, 0].tolist()
    ([1, 2, 4, 5], [0.0, 1.0, 3.0, 4.0])
    """
    idx = np.asarray(idx)
    n = idx.size
    offsets = list(offsets)
    ok = np.ones(n, dtype=bool)
    for o in offsets:
        j = np.arange(n) + o
        inside = (j >= 0) & (j < n)
        good = np.zeros(n, dtype=bool)
        good[inside] = idx[j[inside]] == idx[inside] + o
        ok &= good
    rows = np.flatnonzero(ok)
    design = np.concatenate([F[rows + o] for o in offsets], axis=1)
    return rows, design


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


def _offsets(lags) -> list[int]:
    if isinstance(lags, (int, np.integer)) and not isinstance(lags, bool):
        if lags < 0:
            raise input_error("lags", "an integer >= 0 or a (past, future) pair", lags)
        return list(range(-int(lags), int(lags) + 1))
    if isinstance(lags, (tuple, list)) and len(lags) == 2:
        past, future = lags
        if int(past) < 0 or int(future) < 0:
            raise input_error("lags", "a (past, future) pair of integers >= 0", lags)
        return list(range(-int(past), int(future) + 1))
    raise input_error(
        "lags",
        "an integer L (offsets -L..L) or a (past, future) pair",
        lags,
        "Use lags=(L, 0) for causal decoding from past bins only.",
    )


def _autocorr_time(y: np.ndarray, cap: int) -> int:
    v = y[np.isfinite(y)]
    v = v - v.mean()
    if v.size < 4 or not np.any(v):
        return 0
    den = float(v @ v)
    for k in range(1, min(cap, v.size - 1) + 1):
        if float(v[:-k] @ v[k:]) / den < np.exp(-1):
            return k
    return cap


def _glm(model: str, alpha: float):
    if model == "gaussian":
        est = Ridge(alpha=alpha)
    elif model == "poisson":
        est = PoissonRegressor(alpha=alpha, max_iter=300)
    else:
        est = LogisticRegression(C=1.0 / alpha, max_iter=500)
    return est


def _score(model: str, y_true, y_pred, y_train) -> float:
    if model == "gaussian":
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


def _as_time_neuron(X, time_dim: str):
    """(values (time, neuron) float64, time coordinate or None, neuron coord)."""
    if isinstance(X, xr.DataArray):
        if time_dim not in X.dims:
            raise input_error(
                "activity dims",
                f"to include the time dimension {time_dim!r}",
                str(X.dims),
                "Pass time_dim=<name of the time dimension>.",
            )
        other = [d for d in X.dims if d != time_dim]
        if len(other) != 1:
            raise input_error("activity", "2-D (time, neuron)", str(X.dims))
        X2 = X.transpose(time_dim, other[0])
        t = (
            np.asarray(X2[time_dim].values, dtype=float)
            if time_dim in X2.coords
            else None
        )
        return np.asarray(X2.values, dtype=np.float64), t, X2[other[0]].values
    A = np.asarray(X, dtype=np.float64)
    if A.ndim != 2:
        raise input_error("activity", "a 2-D array (time, neuron)", f"shape {A.shape}")
    return A, None, None


def _as_behavior(y, time_dim: str):
    if isinstance(y, xr.DataArray):
        if y.ndim != 1:
            raise input_error("behavior", "1-D (time,)", str(y.dims))
        dim = y.dims[0]
        t = np.asarray(y[dim].values, dtype=float) if dim in y.coords else None
        return np.asarray(y.values), t, y.name
    if (
        hasattr(y, "index") and hasattr(y, "values") and np.ndim(y) == 1
    ):  # pandas Series
        return (
            np.asarray(y.values),
            np.asarray(y.index, dtype=float),
            getattr(y, "name", None),
        )
    a = np.asarray(y)
    if a.ndim != 1:
        raise input_error("behavior", "1-D (time,)", f"shape {a.shape}")
    return a, None, None


def _align(yv, ty, tx, n: int, classes: bool):
    """Put the behaviour on the activity's bins: (values, note)."""
    if tx is None or ty is None:
        if yv.size != n:
            raise input_error(
                "behavior length",
                f"equal to the number of activity bins ({n}) when either has no time "
                "coordinate",
                yv.size,
                "Pass both as DataArrays with time coordinates (then the behaviour is "
                "resampled onto the activity bins), or resample it yourself.",
            )
        return yv, "same bins (no time coordinates)"
    if ty.size == tx.size and np.allclose(ty, tx):
        return yv, "same bins"
    dt = float(np.median(np.diff(tx))) if tx.size > 1 else 0.0
    if ty.size < 2 or ty[0] > tx[0] + dt / 2 or ty[-1] < tx[-1] - dt / 2:
        raise input_error(
            "behavior time range",
            f"to cover the activity time range [{tx[0]:.6g}, {tx[-1]:.6g}] s",
            f"[{ty[0]:.6g}, {ty[-1]:.6g}] s" if ty.size else "an empty time axis",
            "Refused: the behaviour would have to be extrapolated. Crop the activity "
            "to the behaviour's time range.",
        )
    order = np.argsort(ty)
    ty, yv = ty[order], yv[order]
    if classes:
        pos = np.clip(np.searchsorted(ty, tx), 1, ty.size - 1)
        nearer = np.where(
            np.abs(ty[pos - 1] - tx) <= np.abs(ty[pos] - tx), pos - 1, pos
        )
        out, note = yv[nearer], "resampled onto the activity bins (nearest sample)"
    else:
        out = np.interp(tx, ty, yv.astype(float))
        note = "resampled onto the activity bins (linear interpolation)"
    warnings.warn(
        f"behavior was on a different time base: {note}.", UserWarning, stacklevel=3
    )
    return out, note


def _fit_features_in_worker(*args):
    """:func:`_fit_features_task` in a joblib worker: one Numba thread.

    Workers already run one per core; Numba's own threads on top of them would
    oversubscribe the cores (loky limits BLAS threads, not Numba's).
    """
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return _fit_features_task(*args)
    finally:
        numba.set_num_threads(before)


def _fit_features_task(Xv, ranks, fit_bins, other_bins, features, fit_options):
    """Features at each rank: ``[(F_fit, F_other), ...]`` in the order of ``ranks``.

    NMF is fitted on ``fit_bins`` only; ``other_bins`` are projected on its W.
    Ranks (ascending) form a chain: rank r starts from the rank r−1 solution
    plus component r of one NNDSVDa initialisation of the same bins, which saves
    an SVD per rank and lands at an equal or lower error than a fresh NNDSVDa
    start (measured on 200 × 40,000 counts, ranks 1..15).
    """
    if features == "raw":
        return [(Xv[fit_bins], Xv[other_bins])]
    V = np.ascontiguousarray(Xv[fit_bins].T)
    V_other = np.ascontiguousarray(Xv[other_bins].T)
    options = dict(fit_options)
    seed = options.pop("seed")
    W_init, H_init = initialize(V, max(ranks), "nndsvda", np.random.default_rng(seed))
    out, W, H, previous = [], None, None, 0
    for r in ranks:
        if W is None:
            W0, H0 = W_init[:, :r], H_init[:r]
        else:
            W0 = np.concatenate([W, W_init[:, previous:r]], axis=1)
            H0 = np.concatenate([H, H_init[previous:r]], axis=0)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*stopped at max_iter.*")
            res = nmf(V, r, W=W0, H=H0, seed=seed, **options)
        W, H, previous = np.asarray(res.W), np.asarray(res.H), r
        projected = np.asarray(project(V_other, W, loss=options["loss"])).T
        out.append((H.T, projected))
    return out


def _run_feature_tasks(Xv, tasks, features, fit_options, n_jobs, progress) -> dict:
    """Run every (keys, ranks, fit bins, projected bins) task; {key: features}."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=sum(len(t[1]) for t in tasks), desc="decode: NMF fits", unit="fit"
        )
    out = {}
    calls = (
        (_fit_features_task, (Xv, ranks, a, b, features, fit_options))
        for _, ranks, a, b in tasks
    )
    try:
        if n_jobs == 1 or features == "raw":
            results = (f(*args) for f, args in calls)
        else:
            from joblib import Parallel, delayed

            results = Parallel(n_jobs=n_jobs, return_as="generator")(
                delayed(_fit_features_in_worker)(*args) for _, args in calls
            )
        for (keys, *_), values in zip(tasks, results, strict=True):
            out.update(zip(keys, values, strict=True))
            if bar is not None:
                bar.update(len(keys))
    finally:
        if bar is not None:
            bar.close()
    return out


# --------------------------------------------------------------------------- decode
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
    time_dim: str = "time",
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
        ``neuronmf.io.load_activity``.
    y : xarray.DataArray (time,), pandas Series or 1-D array
        Behaviour. NaN bins are not scored and not used to fit the GLM (their
        activity still enters the training NMF fit of the folds they train).
        With time coordinates on both, a behaviour on another time base is
        resampled onto the activity bins (linear interpolation; nearest sample
        for classes) with a warning, or refused if it does not cover them.
    model : {"gaussian", "poisson", "bernoulli", "multinomial"}
        scikit-learn GLM: Ridge, PoissonRegressor or LogisticRegression.
        Scores: R² (1 − SSE/SST on the test block), fraction of Poisson
        deviance explained (null = training mean), balanced accuracy.
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
        Circularly shifted repetitions for the null distribution (0 for none).
    time_dim : str
    max_iter, tol
        NMF budget and stopping rule. ``tol`` defaults to 1e-3 (1e-5 in
        :func:`neuronmf.nmf`): the features feed a GLM, which does not see the
        last digits of the fit (on the 200 × 50,000 benchmark the test R² was
        0.9134 with 1e-3 and 0.9132 with 1e-4, at 1.5 times the speed). NMF at
        rank r starts from the rank r−1 solution of the same training bins plus
        one new NNDSVDa component (ranks are fitted as a chain).
    seed : int, optional
        Seed of NMF and of the null shifts.
    n_jobs : int, default 1
        NMF fits run in parallel (processes, via joblib); -1 uses every core.
        The results do not depend on it.
    progress : bool
        Show tqdm progress bars.

    Returns
    -------
    DecodingResult

    Raises
    ------
    neuronmf.InputError
        Before any fit: different time bases that cannot be resampled, too few
        samples for the folds, constant behaviour, a class absent from a
        training fold, negative activity with NMF features, unknown options.

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
    """
    # ---------------------------------------------------------------- validation
    if model not in MODELS:
        raise input_error("model", f"one of {MODELS}", model)
    if features not in ("nmf", "raw"):
        raise input_error("features", "'nmf' or 'raw'", features)
    if loss not in ("frobenius", "kl"):
        raise input_error("loss", "'frobenius' or 'kl'", loss)
    for name, val, lo in (
        ("cv", cv, 2),
        ("inner_cv", inner_cv, 2),
        ("n_null", n_null, 0),
    ):
        if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or val < lo:
            raise input_error(name, f"an integer >= {lo}", val)
    offsets = _offsets(lags)
    max_lag = max(abs(o) for o in offsets)
    Xv, tx, _ = _as_time_neuron(X, time_dim)
    n, m = Xv.shape
    if not np.all(np.isfinite(Xv)):
        raise input_error("activity", "finite (no NaN or Inf)", "non-finite values")
    if features == "nmf" and np.any(Xv < 0):
        raise input_error(
            "activity",
            "non-negative for NMF features",
            f"minimum {Xv.min():.3g}",
            "Pass counts or rates, or features='raw'.",
        )
    classes_model = model in ("bernoulli", "multinomial")
    yv, ty, yname = _as_behavior(y, time_dim)
    yv, time_note = _align(yv, ty, tx, n, classes_model)
    class_names = None
    if classes_model:
        if yv.dtype.kind in "fc":
            finite = np.isfinite(yv)
        else:
            finite = np.array([v is not None and v == v for v in yv])
        class_names, codes = np.unique(yv[finite], return_inverse=True)
        yf = np.full(n, np.nan)
        yf[finite] = codes
        yv = yf
        if class_names.size < 2:
            raise input_error(
                "behavior", "at least two classes", f"{class_names.size} class(es)"
            )
        if model == "bernoulli" and class_names.size != 2:
            raise input_error(
                "behavior",
                "two classes for model='bernoulli'",
                f"{class_names.size} classes",
                "Use model='multinomial'.",
            )
    else:
        yv = np.asarray(yv, dtype=float)
        if model == "poisson" and np.nanmin(yv) < 0:
            raise input_error(
                "behavior",
                "non-negative counts for model='poisson'",
                float(np.nanmin(yv)),
            )
    valid = np.isfinite(yv)
    if valid.sum() < 2 or np.nanstd(yv) == 0:
        raise input_error(
            "behavior",
            "non-constant over the bins that are scored",
            "a constant" if valid.any() else "all NaN",
            "Nothing can be decoded from a constant; check the variable and the "
            "time range.",
        )
    block = n // cv
    if gap is None:
        gap = max_lag + _autocorr_time(yv, max(1, block // 10))
    elif int(gap) < max_lag:
        raise input_error("gap", f"at least the largest lag ({max_lag})", gap)
    gap = int(gap)
    if features == "nmf":
        ranks_list = (
            [int(rank)]
            if rank != "auto"
            else sorted({int(r) for r in ranks if 1 <= int(r) <= m})
        )
        if rank != "auto" and not (
            isinstance(rank, (int, np.integer)) and 1 <= rank <= m
        ):
            raise input_error("rank", f"an integer in [1, {m}] or 'auto'", rank)
        if not ranks_list:
            raise input_error("ranks", f"to contain integers in [1, {m}]", list(ranks))
    else:
        ranks_list = [0]
    alphas = tuple(
        float(a) for a in (alphas if alphas is not None else DEFAULT_ALPHAS[model])
    )
    if not alphas or min(alphas) <= 0:
        raise input_error("alphas", "positive numbers", alphas)
    folds = blocked_folds(n, cv, gap)
    min_rows = max(10, 2 * len(offsets))
    for k, (tr, te) in enumerate(folds):
        n_te, n_tr = int(valid[te].sum()), int(valid[tr].sum())
        if n_te < min_rows or n_tr < inner_cv * min_rows or te.size <= len(offsets):
            raise input_error(
                "number of samples",
                f"enough for {cv} outer × {inner_cv} inner folds with gap {gap} "
                f"(at least {min_rows} scored bins per test block)",
                f"{n} bins ({n_te} scored in test block {k}, "
                f"{n_tr} in its training set)",
                "Use fewer folds, fewer lags, a smaller gap, or a longer recording.",
            )
        if classes_model:
            missing = sorted(
                set(np.unique(yv[te][valid[te]]).astype(int))
                - set(np.unique(yv[tr][valid[tr]]).astype(int))
            )
            if missing or np.unique(yv[tr][valid[tr]]).size < 2:
                raise input_error(
                    "every class",
                    "present in every outer training fold",
                    f"class(es) {[class_names[i] for i in missing] or 'all but one'} "
                    "absent "
                    f"from the training bins of fold {k}",
                    "Use fewer folds, or balance the classes over time.",
                )

    # ---------------------------------------------------------------- features
    if inner_nmf not in ("refit", "shared"):
        raise input_error("inner_nmf", "'refit' or 'shared'", inner_nmf)
    if not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 or n_jobs < -1:
        raise input_error("n_jobs", "a positive integer, or -1 for every core", n_jobs)
    inner_sets = [_inner_folds(tr, inner_cv, gap) for tr, _ in folds]
    # One task per NMF fit: (cache key, rank, fit bins, projected bins).
    # One task per training set: every rank, as a warm-started chain.
    tasks = []
    for k, (tr, te) in enumerate(folds):
        tasks.append(([("outer", k, r) for r in ranks_list], ranks_list, tr, te))
        if inner_nmf == "refit":
            for j, (itr, ival) in enumerate(inner_sets[k]):
                keys = [("inner", k, j, r) for r in ranks_list]
                tasks.append((keys, ranks_list, itr, ival))
    fit_options = {"loss": loss, "max_iter": max_iter, "tol": tol, "seed": seed}
    computed = _run_feature_tasks(Xv, tasks, features, fit_options, n_jobs, progress)
    # outer[(k, r)] = (F_train, F_test); inner[(k, j, r)] = (F_itrain, F_ival)
    outer_cache = {key[1:]: val for key, val in computed.items() if key[0] == "outer"}
    inner_cache = {key[1:]: val for key, val in computed.items() if key[0] == "inner"}
    if inner_nmf == "shared":
        for k, (tr, _) in enumerate(folds):
            for r in ranks_list:
                Ftr = outer_cache[(k, r)][0]
                for j, (itr, ival) in enumerate(inner_sets[k]):
                    inner_cache[(k, j, r)] = (
                        Ftr[np.searchsorted(tr, itr)],
                        Ftr[np.searchsorted(tr, ival)],
                    )

    def outer_features(k: int, r: int):
        return outer_cache[(k, r)]

    with warnings.catch_warnings():
        designs: dict = {}

        def design(key, Ftr, itr, Fva, iva):
            """Lagged, standardised (on training rows) designs; y-independent."""
            if key not in designs:
                rtr, Dtr = lagged(Ftr, itr, offsets)
                rva, Dva = lagged(Fva, iva, offsets)
                designs[key] = (itr[rtr], Dtr, iva[rva], Dva)
            return designs[key]

        def fit_score(key, Ftr, itr, Fva, iva, yy, alpha_list):
            """Scores (one per alpha) and the predictions of the last alpha."""
            btr, Dtr, bva, Dva = design(key, Ftr, itr, Fva, iva)
            ktr, kva = np.isfinite(yy[btr]), np.isfinite(yy[bva])
            btr, Dtr, bva, Dva = btr[ktr], Dtr[ktr], bva[kva], Dva[kva]
            nan = [float("nan")] * len(alpha_list)
            if bva.size == 0 or btr.size == 0:
                return nan, None, bva
            ytr = yy[btr]
            if classes_model and np.unique(ytr).size < 2:
                return nan, None, bva
            scaler = StandardScaler().fit(Dtr)
            Ztr, Zva = scaler.transform(Dtr), scaler.transform(Dva)
            if model == "gaussian":
                # one Ridge fit, one target column per penalty (same solutions)
                alpha_arr = np.asarray(alpha_list, dtype=float)
                fit = Ridge(alpha=alpha_arr).fit(
                    Ztr, np.repeat(ytr[:, None], alpha_arr.size, axis=1)
                )
                preds = fit.predict(Zva).reshape(len(Zva), -1).T
            else:
                preds = [_glm(model, a).fit(Ztr, ytr).predict(Zva) for a in alpha_list]
            out = [_score(model, yy[bva], p, ytr) for p in preds]
            return out, preds[-1], bva

        def run_all(yy: np.ndarray, keep_predictions: bool):
            scores, chosen_r, chosen_a, table = [], [], [], []
            pred_all = np.full(n, np.nan)
            fold_of = np.full(n, -1)
            for k, (tr, te) in enumerate(folds):
                grid = np.full((len(ranks_list), len(alphas)), np.nan)
                for ri, r in enumerate(ranks_list):
                    per_fold = np.array(
                        [
                            fit_score(
                                ("inner", k, j, r),
                                inner_cache[(k, j, r)][0],
                                itr,
                                inner_cache[(k, j, r)][1],
                                ival,
                                yy,
                                alphas,
                            )[0]
                            for j, (itr, ival) in enumerate(inner_sets[k])
                        ]
                    )
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        grid[ri] = np.nanmean(per_fold, axis=0)
                grid[~np.isfinite(grid)] = -np.inf
                ri, ai = np.unravel_index(np.nanargmax(grid), grid.shape)
                r, a = ranks_list[ri], alphas[ai]
                Ftr, Fte = outer_features(k, r)
                (s,), pred, bte = fit_score(("outer", k, r), Ftr, tr, Fte, te, yy, [a])
                scores.append(s)
                chosen_r.append(r)
                chosen_a.append(a)
                table.append(grid.max(axis=1))
                if keep_predictions and pred is not None:
                    pred_all[bte] = pred
                    fold_of[bte] = k
            return scores, chosen_r, chosen_a, np.array(table), pred_all, fold_of

        scores, chosen_r, chosen_a, table, pred_all, fold_of = run_all(yv, True)
        rng = np.random.default_rng(seed)
        null = []
        it = range(n_null)
        if progress and n_null:
            from tqdm.auto import tqdm

            it = tqdm(it, desc="decode: null", unit="shift")
        for _ in it:
            shift = int(rng.integers(n // 10 + 1, n - n // 10)) if n > 20 else 1 + _
            null.append(float(np.nanmean(run_all(np.roll(yv, shift), False)[0])))

    # ---------------------------------------------------------------- result
    time_coord = tx if tx is not None else np.arange(n)
    score = float(np.nanmean(scores))
    null_arr = np.asarray(null, dtype=float)
    p_value = (
        float((1 + np.sum(null_arr >= score)) / (1 + null_arr.size))
        if null_arr.size
        else float("nan")
    )
    fold_idx = np.arange(len(folds))
    if features == "nmf":
        vals, counts = np.unique(chosen_r, return_counts=True)
        best_rank = int(vals[np.argmax(counts)])
    else:
        best_rank = None
    from neuronmf import __version__

    attrs = {
        "model": model,
        "metric": METRICS[model],
        "features": features,
        "loss": loss,
        "lags": ",".join(str(o) for o in offsets),
        "cv": int(cv),
        "inner_cv": int(inner_cv),
        "inner_nmf": inner_nmf,
        "gap": int(gap),
        "n_null": int(n_null),
        "seed": int(seed) if seed is not None else -1,
        "ranks_searched": ",".join(str(r) for r in ranks_list),
        "alphas_searched": ",".join(f"{a:g}" for a in alphas),
        "behavior_time_base": time_note,
        "behavior_name": str(yname) if yname is not None else "",
        "classes": ",".join(str(c) for c in class_names)
        if class_names is not None
        else "",
        "neuronmf_version": __version__,
        "max_iter": int(max_iter),
        "tol": float(tol),
    }
    preds = xr.DataArray(
        pred_all,
        dims=("time",),
        coords={"time": time_coord, "fold": ("time", fold_of)},
        name="predictions",
    )
    return DecodingResult(
        scores=xr.DataArray(
            np.asarray(scores), dims=("fold",), coords={"fold": fold_idx}, name="scores"
        ),
        score=score,
        predictions=preds,
        behavior=xr.DataArray(
            yv, dims=("time",), coords={"time": time_coord}, name="behavior"
        ),
        rank=best_rank,
        ranks=xr.DataArray(
            np.asarray(chosen_r), dims=("fold",), coords={"fold": fold_idx}
        ),
        alphas=xr.DataArray(
            np.asarray(chosen_a), dims=("fold",), coords={"fold": fold_idx}
        ),
        rank_scores=xr.DataArray(
            table, dims=("fold", "rank"), coords={"fold": fold_idx, "rank": ranks_list}
        ),
        null_scores=xr.DataArray(null_arr, dims=("null",), name="null_scores"),
        p_value=p_value,
        metric=METRICS[model],
        model=model,
        features=features,
        attrs=attrs,
        folds=folds,
    )
