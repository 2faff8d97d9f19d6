"""Choosing convolutive NMF's penalty and rank, and testing its factors (seqNMF).

- :func:`choose_x_ortho`: seqNMF's cost-crossover rule for λ (the x-ortho
  penalty of :func:`neuronmf.conv_nmf`).
- :func:`factor_significance`: seqNMF's ``test_significance``: is each pattern
  more skewed in held-out data than when its neurons are shifted at random?
- :func:`select_conv_rank`: the rank by masked cross-validation (held-out
  entries, one-standard-error rule), through :func:`run_tasks` like
  :func:`neuronmf.select_rank`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuronmf.engine import _validation as check
from neuronmf.engine.convolutive import conv_nmf
from neuronmf.engine.solvers import _conv_ops as ops
from neuronmf.errors import input_error
from neuronmf.model_selection import criteria as crit
from neuronmf.model_selection.masks import speckled_mask
from neuronmf.model_selection.runner import run_tasks
from neuronmf.model_selection.scan import RankScan

__all__ = [
    "FactorSignificance",
    "XOrthoChoice",
    "choose_x_ortho",
    "factor_significance",
    "select_conv_rank",
]


def _values(A) -> np.ndarray:
    return np.asarray(getattr(A, "values", A), dtype=np.float64)


def seqnmf_costs(V, W, H) -> tuple[float, float]:
    """seqNMF's ``get_seqNMF_cost``: ‖V − V̂‖_F and ‖(W ⊛ᵀ V) S Hᵀ‖_{1,i≠j}."""
    V, W, H = _values(V), _values(W), _values(H)
    R = V - ops.reconstruct(W, H)
    return float(np.sqrt((R * R).sum())), ops.cross_penalty(
        ops.transconv(W, V), H, W.shape[2]
    )


@dataclass
class XOrthoChoice:
    """The outcome of :func:`choose_x_ortho`.

    Attributes
    ----------
    x_ortho : float
        The chosen λ: ``above`` × ``crossover``.
    crossover : float
        Where the normalised costs cross (log-linear interpolation between the
        two grid points around the first sign change).
    lambdas : ndarray
        The grid, ascending.
    reconstruction_cost, correlation_cost : ndarray
        ‖V − V̂‖_F and ‖(W ⊛ᵀ V) S Hᵀ‖_{1,i≠j} of the fit at each λ.
    reconstruction_norm, correlation_norm : ndarray
        The same, smoothed (3-point moving average, forwards and backwards)
        and scaled so that their 10th and 90th percentiles are 0 and 1 (seqNMF's
        demo).
    power_explained : ndarray (lambda, component)
        Each fit's per-component power, sorted.
    rule : str
    params : dict
    """

    x_ortho: float
    crossover: float
    lambdas: np.ndarray
    reconstruction_cost: np.ndarray
    correlation_cost: np.ndarray
    reconstruction_norm: np.ndarray
    correlation_norm: np.ndarray
    power_explained: np.ndarray
    rule: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dataset(self):
        """The scan as an :class:`xarray.Dataset` (kind ``"x_ortho_scan"``)."""
        import xarray as xr

        from neuronmf._provenance import result_attrs

        ds = xr.Dataset(
            {
                "reconstruction_cost": ("x_ortho", self.reconstruction_cost),
                "correlation_cost": ("x_ortho", self.correlation_cost),
                "reconstruction_norm": ("x_ortho", self.reconstruction_norm),
                "correlation_norm": ("x_ortho", self.correlation_norm),
                "power_explained": (("x_ortho", "component"), self.power_explained),
            },
            coords={"x_ortho": self.lambdas},
        )
        ds.attrs = result_attrs(
            "x_ortho_scan",
            params=self.params,
            seed=self.params.get("seed"),
            loss=self.params.get("loss"),
            solver=self.params.get("solver"),
        )
        ds.attrs.update(
            {
                "chosen_x_ortho": float(self.x_ortho),
                "crossover": float(self.crossover),
                "rule": self.rule,
            }
        )
        return ds


def _fit_costs(V, rank, lags, lam, options):
    res = conv_nmf(V, rank, lags, x_ortho=lam, **options)
    cost, reg = seqnmf_costs(V, res.W, res.H)
    return cost, reg, np.asarray(res.power_explained)


def _normalise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """seqNMF's demo: filtfilt of a 3-point mean, then 10th/90th percentiles → 0/1."""
    from scipy.signal import filtfilt

    b = np.ones(3) / 3
    smooth = filtfilt(b, [1.0], x, padlen=min(9, x.size - 1))
    lo, hi = np.percentile(x, 10), np.percentile(x, 90)
    span = hi - lo if hi > lo else 1.0
    return (smooth - lo) / span, (x - lo) / span


def _crossover(grid: np.ndarray, diff: np.ndarray) -> tuple[float, str]:
    """λ where ``diff`` (reconstruction − correlation, normalised) turns ≥ 0."""
    rule = "crossover of the normalised reconstruction and correlation costs"
    up = np.flatnonzero(diff >= 0)
    if up.size == 0:
        warnings.warn(
            "choose_x_ortho: the costs do not cross on the grid (reconstruction "
            "stays below correlation); the largest λ is taken as the crossover. "
            "Extend the grid upwards.",
            RuntimeWarning,
            stacklevel=3,
        )
        return float(grid[-1]), rule + " (not reached: largest λ)"
    i = int(up[0])
    if i == 0:
        warnings.warn(
            "choose_x_ortho: the costs cross at or below the smallest λ of the "
            "grid; extend the grid downwards.",
            RuntimeWarning,
            stacklevel=3,
        )
        return float(grid[0]), rule + " (at the smallest λ)"
    a, b = grid[i - 1], grid[i]
    frac = -diff[i - 1] / (diff[i] - diff[i - 1])
    if a > 0:
        return float(np.exp(np.log(a) + frac * (np.log(b) - np.log(a)))), rule
    return float(a + frac * (b - a)), rule


def choose_x_ortho(
    V,
    rank: int,
    lags: int,
    *,
    lambdas=None,
    above: float = 2.0,
    seed: int = 0,
    n_jobs: int = 1,
    progress: bool = False,
    **options,
) -> XOrthoChoice:
    """λ for :func:`neuronmf.conv_nmf` by seqNMF's cost-crossover rule.

    Fits ``conv_nmf`` at every λ of a grid and records the reconstruction cost
    ‖V − V̂‖_F and the correlation cost ‖(W ⊛ᵀ V) S Hᵀ‖_{1,i≠j}: as λ grows the
    first rises and the second falls. Both are smoothed and scaled to [0, 1]
    between their 10th and 90th percentiles; the crossover is where the
    rising reconstruction cost meets the falling correlation cost, and λ is
    taken "slightly above" it (Mackevicius et al. 2019, Fig. 4; their
    ``demo.m``): ``above`` times the crossover. There the penalty has removed
    redundant factors but costs little reconstruction. (On seqNMF's simulated
    data, 1× the crossover left a noise component with 2 % of the power in 3 of
    3 seeds; 2× left none and kept the 3 sequences: docs/benchmarks.md.)

    Parameters
    ----------
    V : array-like (feature, time)
    rank, lags : int
        As in :func:`neuronmf.conv_nmf`.
    lambdas : array-like, optional
        The grid (at least 10 values, sorted here); default 20 values
        log-spaced in [1e-5, 1e-1] (seqNMF's demo), and in [1e-4, 1] for
        ``loss="kl"`` (measured: on seqNMF's data as Poisson counts the KL
        crossover is at ~0.03, near the top of the Frobenius grid).
    above : float, default 2
        λ = ``above`` × the crossover (≥ 1).
    seed : int, default 0
        One random start shared by every λ (common random numbers keep the
        curves smooth).
    n_jobs, progress
        Parallel fits (:func:`neuronmf.model_selection.run_tasks`).
    **options
        Passed to :func:`neuronmf.conv_nmf` (``loss``, ``l1_W``, ``solver``,
        ``max_iter``, ...).

    Returns
    -------
    XOrthoChoice

    Examples
    --------
    >>> import numpy as np
    >>> from neuronmf.model_selection import choose_x_ortho
    >>> V = np.random.default_rng(0).random((8, 200))
    >>> ch = choose_x_ortho(V, 3, 5, lambdas=np.logspace(-4, 0, 10), max_iter=20)
    >>> bool(ch.lambdas[0] <= ch.crossover <= ch.lambdas[-1])
    True
    >>> bool(ch.x_ortho == 2 * ch.crossover)
    True
    """
    if "x_ortho" in options:
        raise input_error("x_ortho", "left out (it is what is chosen)", "given")
    if lambdas is None:  # KL's λ sits ~10x higher (its data gradient is 1 − V/V̂)
        kl = str(options.get("loss", "frobenius")).lower() in ("kl", "kullback-leibler")
        grid = np.logspace(-4, 0, 20) if kl else np.logspace(-5, -1, 20)
    else:
        grid = np.asarray(lambdas, float)
    if grid.ndim != 1 or grid.size < 10 or not np.all(np.isfinite(grid)):
        raise input_error(
            "lambdas", "a 1-D array of at least 10 finite values", f"{grid!r}"
        )
    if grid.min() < 0:
        raise input_error("lambdas", "non-negative", f"minimum {grid.min()}")
    grid = np.sort(grid)
    factor = check.check_real("above", above, 1.0)
    seed = check.check_seed("seed", seed)
    options = {"seed": seed, **options}
    # check the data and options once, before the grid runs
    conv_nmf(
        V,
        rank,
        lags,
        max_iter=1,
        **{k: v for k, v in options.items() if k != "max_iter"},
    )
    out = run_tasks(
        _fit_costs,
        [(V, rank, lags, float(lam), options) for lam in grid],
        n_jobs=n_jobs,
        progress=progress,
        desc="x_ortho",
    )
    cost = np.array([o[0] for o in out])
    reg = np.array([o[1] for o in out])
    Cs, _ = _normalise(cost)
    Rs, _ = _normalise(reg)
    crossover, rule = _crossover(grid, Cs - Rs)
    rule += f"; x_ortho = {factor:g} x the crossover"
    params = {"rank": rank, "lags": lags, **options}
    params.pop("W", None)
    params.pop("H", None)
    params.pop("mask", None)
    return XOrthoChoice(
        x_ortho=float(factor * crossover),
        crossover=float(crossover),
        lambdas=grid,
        reconstruction_cost=cost,
        correlation_cost=reg,
        reconstruction_norm=Cs,
        correlation_norm=Rs,
        power_explained=np.array([o[2] for o in out]),
        rule=rule,
        params=params,
    )


@dataclass
class FactorSignificance:
    """The outcome of :func:`factor_significance`.

    Attributes
    ----------
    pvalues : ndarray (component,)
        (1 + #null skewness > observed)/(1 + n_null); NaN for a factor that was not
        tested (empty W, or one neuron with > 99.9 % of its power).
    significant : ndarray of bool
        p ≤ alpha / (number of tested factors) (Bonferroni).
    skewness : ndarray (component,)
        Skewness over time of W ⊛ᵀ V_test (NaN where not tested).
    n_null : int
    alpha : float
    """

    pvalues: np.ndarray
    significant: np.ndarray
    skewness: np.ndarray
    n_null: int
    alpha: float


def _circular_transconv(W: np.ndarray, X: np.ndarray) -> np.ndarray:
    """(W ⊛ᵀ X) with X wrapped round in time (seqNMF's circshift)."""
    N, K, L = W.shape
    T = X.shape[1]
    Y = (np.ascontiguousarray(W.transpose(2, 1, 0)).reshape(L * K, N) @ X).reshape(
        L, K, T
    )
    out = Y[0].copy()
    for ell in range(1, L):
        out += np.roll(Y[ell], -ell, axis=1)
    return out


def factor_significance(
    V_test, W, *, alpha: float = 0.05, n_null: int | None = None, seed=None
) -> FactorSignificance:
    """Which factors are significant on held-out data (seqNMF's ``test_significance``).

    A real sequence makes W ⊛ᵀ V_test (the pattern's overlap with the data over
    time) skewed: large where the sequence occurs, small elsewhere. The null
    shifts each neuron's row of W (circularly, over lags, by 1..L at random),
    which keeps every neuron's weights but breaks the sequence. The p-value is
    the fraction of ``n_null`` null skewnesses above the observed one; a factor
    is significant when p ≤ alpha / K (Bonferroni over the K tested factors).
    Empty factors and single-neuron factors are not tested (p = NaN, with a
    warning).

    Parameters
    ----------
    V_test : array-like (feature, time)
        Held-out data (e.g. the last 25 % of the recording), not used in the fit.
    W : array-like (feature, component, lag)
        The patterns of :func:`neuronmf.conv_nmf` fitted on training data.
    alpha : float, default 0.05
    n_null : int, optional
        Null draws; default ceil(K / alpha)·2 (seqNMF's).
    seed : int or Generator, optional

    Returns
    -------
    FactorSignificance

    Examples
    --------
    >>> import numpy as np
    >>> from neuronmf.model_selection import factor_significance
    >>> from neuronmf.engine.convolutive import reconstruct_conv
    >>> W = np.zeros((10, 1, 10)); W[np.arange(10), 0, np.arange(10)] = 1
    >>> H = np.zeros((1, 600)); H[0, 30::60] = 1
    >>> V = reconstruct_conv(W, H) + 0.01
    >>> factor_significance(V, W, seed=0).significant.tolist()
    [True]
    """
    W = _values(W)
    if W.ndim != 3:
        raise input_error("W", "a 3-D array (feature, component, lag)", W.shape)
    X = check.data_matrix(V_test, "V_test").astype(np.float64)
    if X.shape[0] != W.shape[0]:
        raise input_error(
            "V_test", f"{W.shape[0]} features (W's first axis)", X.shape[0]
        )
    alpha = check.check_real("alpha", alpha, 0.0, strict=True)
    if alpha >= 1:
        raise input_error("alpha", "in (0, 1)", alpha)
    rng = (
        seed
        if isinstance(seed, np.random.Generator)
        else np.random.default_rng(check.check_seed("seed", seed))
    )
    N, K, L = W.shape
    flat = W.sum(axis=2)
    empty = ~(W > 0).any(axis=(0, 2))
    single = flat.max(axis=0) ** 2 > 0.999 * (flat**2).sum(axis=0)
    tested = np.flatnonzero(~(empty | single))
    pvalues = np.full(K, np.nan)
    skewness = np.full(K, np.nan)
    if tested.size < K:
        warnings.warn(
            f"factor_significance: factors {np.flatnonzero(empty | single).tolist()} "
            "are empty or hold one neuron; they were not tested (p-value NaN, "
            "not significant).",
            RuntimeWarning,
            stacklevel=2,
        )
    Kt = tested.size
    if Kt:
        from scipy.stats import skew

        n_null = (
            math.ceil(Kt / alpha) * 2
            if n_null is None
            else check.check_int("n_null", n_null, low=1)
        )
        from neuronmf.engine.solvers.base import blas_threads

        Wt = W[:, tested, :]
        lag = np.arange(L)
        above = np.zeros(Kt)
        # the engine's thread rule: n_null small products on one BLAS thread
        # (two threads woken per product made this 10-30x slower on 2 busy cores)
        with blas_threads(X.shape, Kt * L):
            observed = skew(_circular_transconv(Wt, X), axis=1, bias=True)
            for _ in range(n_null):
                shifts = rng.integers(1, L + 1, size=(N, Kt, 1))
                Wnull = np.take_along_axis(Wt, (lag - shifts) % L, axis=2)
                null = skew(_circular_transconv(Wnull, X), axis=1, bias=True)
                above += null > observed
        # (1 + #)/(1 + n) is a valid p-value (never above 1; seqNMF divides by n)
        pvalues[tested] = (1 + above) / (1 + n_null)
        skewness[tested] = observed
    n_null = int(n_null) if Kt else 0
    significant = np.zeros(K, bool)
    if Kt:
        significant[tested] = pvalues[tested] <= alpha / Kt
    return FactorSignificance(pvalues, significant, skewness, n_null, alpha)


def _cv_task(V, mask, rank, lags, options):
    from neuronmf.engine import losses

    res = conv_nmf(V, rank, lags, mask=mask, **options)
    fitted = res.reconstruction()
    spec = losses.get(options.get("loss", "frobenius"))
    test = spec.heldout(V, fitted, mask)
    train = spec.heldout(V, fitted, ~mask)
    return test, train


def select_conv_rank(
    V,
    ranks,
    lags: int,
    *,
    holdout: float = 0.1,
    n_repeats: int = 5,
    block: int = 1,
    seed: int = 0,
    n_jobs: int = 1,
    progress: bool = False,
    **options,
) -> RankScan:
    """The rank of :func:`neuronmf.conv_nmf` by masked cross-validation.

    For each of ``n_repeats`` speckled masks (each entry held out with
    probability ``holdout``, in runs of ``block`` frames;
    :func:`neuronmf.model_selection.masks.speckled_mask`, the masks of
    :func:`neuronmf.select_rank`) and each rank, ``conv_nmf`` is fitted on the
    other entries and scored on the held-out ones (mean squared error, or for
    ``loss="kl"`` the package's held-out Poisson deviance). The rank is the
    smallest within one standard error of the best mean (as ``select_rank``'s
    ``"cv"``). seqNMF's demo does the same with 5 % held out.

    Returns
    -------
    RankScan
        ``scores`` holds ``cv_error`` and ``train_error`` (rank, repeat),
        ``cv_mean`` and ``cv_se``; ``method="cv"``.

    Examples
    --------
    >>> import numpy as np
    >>> from neuronmf.model_selection import select_conv_rank
    >>> V = np.random.default_rng(0).random((6, 120))
    >>> scan = select_conv_rank(V, [1, 2], 4, n_repeats=2, max_iter=10)
    >>> scan.scores["cv_error"].shape
    (2, 2)
    """
    import xarray as xr

    ranks = np.asarray(list(ranks), dtype=int)
    if ranks.size == 0 or ranks.min() < 1:
        raise input_error("ranks", "a non-empty list of integers >= 1", ranks.tolist())
    holdout = check.check_real("holdout", holdout, 0.0, strict=True)
    if holdout >= 0.5:
        raise input_error("holdout", "in (0, 0.5)", holdout)
    n_repeats = check.check_int("n_repeats", n_repeats, low=1)
    block = check.check_int("block", block, low=1)
    seed = check.check_seed("seed", seed)
    Vm = check.data_matrix(getattr(V, "values", V), "V").astype(np.float64)
    conv_nmf(
        Vm,
        int(ranks.max()),
        lags,
        max_iter=1,
        **{k: v for k, v in options.items() if k != "max_iter"},
    )
    options = {"seed": seed, **options}
    masks = [
        speckled_mask(Vm.shape, holdout, np.random.default_rng([seed or 0, i]), block)
        for i in range(n_repeats)
    ]
    tasks = [(Vm, m, int(r), lags, options) for r in ranks for m in masks]
    out = run_tasks(_cv_task, tasks, n_jobs=n_jobs, progress=progress, desc="ranks")
    test = np.array([o[0] for o in out]).reshape(ranks.size, n_repeats)
    train = np.array([o[1] for o in out]).reshape(ranks.size, n_repeats)
    se = test.std(axis=1, ddof=1) / np.sqrt(n_repeats) if n_repeats > 1 else 0 * ranks
    best = crit.one_se_rank(test, ranks)
    scores = xr.Dataset(
        {
            "cv_error": (("rank", "repeat"), test),
            "train_error": (("rank", "repeat"), train),
            "cv_mean": ("rank", test.mean(axis=1)),
            "cv_se": ("rank", se),
        },
        coords={"rank": ranks, "repeat": np.arange(n_repeats)},
        attrs={
            "holdout": holdout,
            "block": block,
            "n_repeats": n_repeats,
            "lags": int(lags),
            "model": "conv_nmf",
        },
    )
    return RankScan(
        scores=scores,
        best_rank=best,
        method="cv",
        rule="smallest rank within one SE of the lowest held-out error "
        f"(conv_nmf, {lags} lags, {holdout:g} held out, {n_repeats} masks)",
        choices={"cv": best},
    )
