"""Checking the options of decode and putting its inputs on one set of samples.

:func:`check_options` refuses any option of the wrong type or range before the
data are read (never coerced: ``"no"`` is truthy, ``int(1.5)`` is 1);
:func:`prepare` reads activity, behaviour and ``where`` onto the activity's
bins (or trials), encodes classes, and settles the gap, the candidate ranks and
the penalties. Everything that can be refused is refused here or in
:func:`neuronmf.decoding._folds.make_folds`, before any fit.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from neuronmf.decoding._design import (
    _align,
    _as_behavior,
    _as_time_neuron,
    _as_trial_behavior,
    _as_trials,
    _autocorr_time,
    _offsets,
)
from neuronmf.decoding._epochs import where_mask
from neuronmf.decoding._result import DEFAULT_ALPHAS, MODELS
from neuronmf.engine._validation import (
    check_bool,
    check_int,
    check_real,
    check_seed,
    check_str,
)
from neuronmf.errors import input_error
from neuronmf.model_selection.runner import check_n_jobs

#: Stack depth from the resampling warning of _align to decode's caller.
_ALIGN_STACKLEVEL = 5


@dataclass(frozen=True)
class Options:
    """The checked options of one :func:`~neuronmf.decoding.decode` call."""

    model: str
    features: str
    rank: Any
    ranks: list[int]
    loss: str
    lags: Any
    offsets: list[int]
    cv: int
    inner_cv: int
    inner_nmf: str
    gap: int | None
    alphas: list[float] | None
    n_null: int
    model_options: Mapping | None
    time_dim: str
    trial_dim: str
    max_iter: int
    tol: float
    seed: int | None
    n_jobs: int
    progress: bool

    @property
    def max_lag(self) -> int:
        return max(abs(o) for o in self.offsets)


def check_options(**opts) -> Options:
    """Every option's type and range, before any data is read (issue 21 defect 7)."""
    check_str("time_dim", opts["time_dim"])
    check_str("trial_dim", opts["trial_dim"])
    check_bool("progress", opts["progress"])
    check_seed("seed", opts["seed"])
    check_int("max_iter", opts["max_iter"], 1)
    check_real("tol", opts["tol"], 0.0)
    if isinstance(opts["n_jobs"], bool | np.bool_):
        check_n_jobs(opts["n_jobs"])
    if opts["gap"] is not None:
        check_int("gap", opts["gap"], 0)
    rank, ranks, lags = opts["rank"], opts["ranks"], opts["lags"]
    if not (isinstance(rank, str) and rank == "auto"):
        if isinstance(rank, bool | np.bool_) or not isinstance(rank, numbers.Integral):
            raise input_error("rank", "an integer >= 1 or 'auto'", repr(rank))
    if isinstance(ranks, str | bytes) or not isinstance(ranks, Iterable):
        raise input_error(
            "ranks", "an iterable of integers >= 1", repr(ranks), "e.g. range(1, 9)."
        )
    opts["ranks"] = [check_int(f"ranks[{i}]", r, 1) for i, r in enumerate(ranks)]
    if isinstance(lags, tuple | list) and len(lags) == 2:
        for i, v in enumerate(lags):
            check_int(f"lags[{i}]", v, 0)
    opts["alphas"] = _check_alphas(opts["alphas"])
    model_options = opts["model_options"]
    if model_options is not None and not isinstance(model_options, Mapping):
        raise input_error(
            "model_options",
            "None or a dict of decoder arguments",
            repr(model_options),
            "e.g. model_options={'n_position_bins': 50}.",
        )
    for name, lo in (("cv", 2), ("inner_cv", 2), ("n_null", 0)):
        check_int(name, opts[name], lo)
    if opts["model"] not in MODELS:
        raise input_error("model", f"one of {MODELS}", opts["model"])
    if opts["features"] not in ("nmf", "raw"):
        raise input_error("features", "'nmf' or 'raw'", opts["features"])
    if opts["loss"] not in ("frobenius", "kl"):
        raise input_error("loss", "'frobenius' or 'kl'", opts["loss"])
    opts["offsets"] = _offsets(lags)
    if opts["inner_nmf"] not in ("refit", "shared"):
        raise input_error("inner_nmf", "'refit' or 'shared'", opts["inner_nmf"])
    check_n_jobs(opts["n_jobs"])
    return Options(**opts)


def _check_alphas(alphas) -> list[float] | None:
    if alphas is None:
        return None
    if isinstance(alphas, str | bytes) or not isinstance(alphas, Iterable):
        raise input_error(
            "alphas",
            "a sequence of finite numbers > 0",
            repr(alphas),
            "Pass a list, e.g. alphas=[1.0].",
        )
    return [
        check_real(f"alphas[{i}]", a, 0.0, strict=True) for i, a in enumerate(alphas)
    ]


@dataclass
class Data:
    """Activity, behaviour and scored samples of one decode, on one set of samples.

    ``Xv`` has one row per time bin (trials: every time bin of every trial,
    trial-major); ``yv`` one value per sample (bin or trial), NaN where not
    scored; classes are coded 0..n_classes-1.
    """

    Xv: np.ndarray
    yv: np.ndarray
    n_per: int
    m: int
    tx: np.ndarray | None
    trial_mode: bool
    trial_coord: Any
    sample_dim: str
    class_names: np.ndarray | None
    valid: np.ndarray
    use: np.ndarray
    gap: int
    ranks: list[int]
    alphas: tuple[float, ...]
    bayes_factory: Callable | None
    time_note: str
    yname: Any
    where_note: str
    where_kept: tuple[int, ...] = ()
    where_intersection: int = 0

    @property
    def ns(self) -> int:
        return self.yv.size

    @property
    def classes_model(self) -> bool:
        return self.class_names is not None

    @property
    def n_classes(self) -> int:
        return 0 if self.class_names is None else int(self.class_names.size)

    def rows_of(self, samples: np.ndarray) -> np.ndarray:
        """Rows of ``Xv`` of these samples (bins, or every time bin of the trials)."""
        if self.n_per == 1:
            return samples
        steps = np.arange(self.n_per)
        return (samples[:, None] * self.n_per + steps[None, :]).ravel()


def prepare(X, y, where, opts: Options) -> Data:
    """Read the inputs of decode onto one set of samples; refuse what cannot work."""
    trial_mode = (isinstance(X, xr.DataArray) and opts.trial_dim in X.dims) or (
        not isinstance(X, xr.DataArray) and np.ndim(X) == 3
    )
    Xv, n_per, tx, trial_coord = _activity(X, opts, trial_mode)
    ns = Xv.shape[0] // n_per
    sample_dim = opts.trial_dim if trial_mode else "time"
    classes_model = opts.model in ("bernoulli", "multinomial")
    if trial_mode:
        yv, yname = _as_trial_behavior(y, ns, trial_coord, opts.trial_dim)
        time_note = "one value per trial"
    else:
        yv, ty, yname = _as_behavior(y, opts.time_dim)
        yv, time_note = _align(
            yv, ty, tx, ns, classes_model, stacklevel=_ALIGN_STACKLEVEL
        )
    wmask, where_note, where_kept = where_mask(where, ns, tx, sample_dim)
    yv, class_names = _encode_behavior(yv, wmask, opts.model)
    valid = np.isfinite(yv)
    if valid.sum() < 2 or np.nanstd(yv) == 0:
        raise input_error(
            "behavior",
            "non-constant over the bins that are scored",
            "a constant" if valid.any() else "no scored bin (all NaN or outside where)",
            "Nothing can be decoded from a constant; check the variable, the time "
            "range and where=.",
        )
    use = np.flatnonzero(valid)
    gap = _gap(opts, yv, use, trial_mode)
    ranks = _ranks(opts, Xv.shape[1])
    alphas, bayes_factory = _alphas_and_decoder(opts, tx)
    return Data(
        Xv=Xv,
        yv=yv,
        n_per=n_per,
        m=Xv.shape[1],
        tx=tx,
        trial_mode=trial_mode,
        trial_coord=trial_coord,
        sample_dim=sample_dim,
        class_names=class_names,
        valid=valid,
        use=use,
        gap=gap,
        ranks=ranks,
        alphas=alphas,
        bayes_factory=bayes_factory,
        time_note=time_note,
        yname=yname,
        where_note=where_note,
        where_kept=where_kept,
        where_intersection=int(wmask.sum()),
    )


def _activity(X, opts: Options, trial_mode: bool):
    """(rows × neurons float64, time bins per sample, time coordinate, trials)."""
    if trial_mode:
        Xt, trial_coord = _as_trials(X, opts.trial_dim, opts.time_dim)
        ns, n_per, m = Xt.shape
        Xv = Xt.reshape(ns * n_per, m)
        tx = None
        if opts.max_lag:
            raise input_error(
                "lags",
                "0 for trial input (each trial is one sample; its time bins are "
                "features)",
                opts.lags,
            )
        if opts.model == "bayes":
            raise input_error(
                "model",
                "one of the GLMs for trial input",
                "'bayes'",
                "model='bayes' decodes position in time bins; pass (time, neuron).",
            )
    else:
        Xv, tx, _ = _as_time_neuron(X, opts.time_dim)
        n_per, trial_coord = 1, None
    if not np.all(np.isfinite(Xv)):
        raise input_error("activity", "finite (no NaN or Inf)", "non-finite values")
    if (opts.features == "nmf" or opts.model == "bayes") and np.any(Xv < 0):
        raise input_error(
            "activity",
            "non-negative for NMF features and model='bayes'",
            f"minimum {Xv.min():.3g}",
            "Pass counts or rates, or features='raw' with a GLM.",
        )
    return Xv, n_per, tx, trial_coord


def _encode_behavior(yv, wmask, model: str):
    """(behaviour as float, NaN outside ``where``; class names or None)."""
    ns = wmask.size
    if model not in ("bernoulli", "multinomial"):
        yv = np.asarray(yv, dtype=float).copy()
        yv[~wmask] = np.nan
        if model == "poisson" and np.nanmin(yv) < 0:
            raise input_error(
                "behavior",
                "non-negative counts for model='poisson'",
                float(np.nanmin(yv)),
            )
        return yv, None
    if yv.dtype.kind in "fc":
        finite = np.isfinite(yv)
    else:
        finite = np.array([v is not None and v == v for v in yv])
    finite &= wmask
    class_names, codes = np.unique(yv[finite], return_inverse=True)
    yf = np.full(ns, np.nan)
    yf[finite] = codes
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
    return yf, class_names


def _gap(opts: Options, yv, use, trial_mode: bool) -> int:
    gap, max_lag = opts.gap, opts.max_lag
    if trial_mode:
        if gap is not None and int(gap) != 0:
            raise input_error("gap", "0 (or None) for trial input", gap)
        return 0
    if gap is None:
        return max_lag + _autocorr_time(yv, max(1, (use.size // opts.cv) // 10))
    if int(gap) < max_lag:
        raise input_error("gap", f"at least the largest lag ({max_lag})", gap)
    return int(gap)


def _ranks(opts: Options, m: int) -> list[int]:
    """The candidate ranks (ascending, each once); [0] for raw features."""
    rank = opts.rank
    if opts.features != "nmf":
        return [0]
    if rank != "auto" and not (isinstance(rank, int | np.integer) and 1 <= rank <= m):
        raise input_error("rank", f"an integer in [1, {m}] or 'auto'", rank)
    if rank != "auto":
        return [int(rank)]
    ranks = sorted({int(r) for r in opts.ranks if 1 <= int(r) <= m})
    if not ranks:
        raise input_error("ranks", f"to contain integers in [1, {m}]", opts.ranks)
    return ranks


def _alphas_and_decoder(opts: Options, tx):
    """(the GLM penalties searched, the Bayesian decoder's constructor or None)."""
    given = opts.alphas if opts.alphas is not None else DEFAULT_ALPHAS[opts.model]
    alphas = tuple(float(a) for a in given)
    if not alphas or min(alphas) <= 0:
        raise input_error("alphas", "positive numbers", alphas)
    if opts.model == "bayes":
        return alphas[:1], _bayes_factory(opts.model_options, tx)
    if opts.model_options:
        raise input_error(
            "model_options", "empty unless model='bayes'", sorted(opts.model_options)
        )
    return alphas, None


def _bayes_factory(options, tx):
    """A constructor of the Bayesian position decoder (bayes.py, imported lazily)."""
    from neuronmf.decoding.bayes import BayesianPositionDecoder

    opts = dict(options or {})
    if "bin_width" not in opts:
        if tx is None or tx.size < 2:
            raise input_error(
                "model_options['bin_width']",
                "given (seconds per bin) when the activity has no time coordinate",
                None,
                "Pass a DataArray with a time coordinate, or model_options="
                "{'bin_width': 0.05}.",
            )
        opts["bin_width"] = float(np.median(np.diff(tx)))
    return lambda: BayesianPositionDecoder(**opts)
