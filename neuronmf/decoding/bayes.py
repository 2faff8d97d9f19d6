"""Poisson naive-Bayes decoding of 1-D or 2-D position (place-cell decoding).

The decoder of Zhang et al. (1998, J. Neurophysiol. 79:1017), the field's standard
for place cells. Position is discretised into bins. For every feature (neuron, or
NMF component) an occupancy-normalised tuning curve λ_i(x) is estimated from the
training bins only::

    λ_i(x) = (activity of i summed over training bins at x) / (time spent at x)

optionally smoothed with a Gaussian (numerator and occupancy are smoothed
separately, then divided). Features are assumed conditionally independent and
Poisson, so for a time bin of width τ with counts n_i::

    log p(x | n) = Σ_i n_i log(λ_i(x) τ) − τ Σ_i λ_i(x) + log p(x) + const

computed for all time bins at once as one matrix product (``counts @ log λ.T``).
The prediction is the maximum a posteriori bin centre (``estimate="map"``, the
default, as in pynapple) or the posterior mean (``estimate="mean"``).

Non-integer, non-negative inputs (NMF activations, deconvolved activity) are
treated as rates with the same formula (a quasi-Poisson likelihood). Their
scale matters: multiplying every feature by c multiplies the log-likelihood by c
(up to a term constant in x), so the posterior gets sharper or flatter and the
balance with the prior shifts. With ``prior="uniform"`` the MAP estimate does not
depend on c; the posterior mean, and the MAP with the occupancy prior, do.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from scipy.ndimage import gaussian_filter
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.validation import check_is_fitted

from neuronmf.errors import input_error

__all__ = ["BayesianPositionDecoder", "median_position_error"]

_DEFAULT_BINS = {1: 50, 2: (30, 30)}
_CHUNK = 4096  # time bins per block of the posterior (bounds memory, not a loop
# over samples: each block is one matrix product)


def _check_activity(X, n_features: int | None = None) -> np.ndarray:
    """Validate activity: 2-D, finite, non-negative; returns a float copy."""
    try:
        A = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        raise input_error(
            "X",
            "a numeric array (time bin, feature) of counts or activations",
            type(X).__name__,
        ) from None
    if A.ndim != 2:
        raise input_error(
            "X",
            "a 2-D array (time bin, feature)",
            f"shape {A.shape}",
            "Pass one row per time bin and one column per neuron or component; "
            "reshape a single neuron with X.reshape(-1, 1).",
        )
    if A.shape[0] < 1 or A.shape[1] < 1:
        raise input_error("X", "non-empty (time bin, feature)", f"shape {A.shape}")
    if not np.all(np.isfinite(A)):
        bad = int(np.size(A) - np.count_nonzero(np.isfinite(A)))
        raise input_error(
            "X",
            "finite",
            f"{bad} NaN or infinite values",
            "Drop or fill the bins with missing activity before decoding.",
        )
    if A.min() < 0:
        raise input_error(
            "X",
            "non-negative counts or rates (a Poisson decoder)",
            f"minimum {A.min():.4g}",
            "Pass spike counts, deconvolved activity or NMF activations; for "
            "dF/F or z-scored activity use decode(..., model='gaussian').",
        )
    if n_features is not None and A.shape[1] != n_features:
        raise input_error(
            "X",
            f"{n_features} columns (the number of features seen in fit)",
            f"{A.shape[1]} columns",
            "Pass the same neurons or components, in the same order, as in fit.",
        )
    return A


def _check_position(y, n_samples: int) -> np.ndarray:
    """Validate position: (n,) or (n, 1) or (n, 2), finite; returns (n, d)."""
    try:
        P = np.asarray(y, dtype=float)
    except (TypeError, ValueError):
        raise input_error("y", "a numeric position array", type(y).__name__) from None
    if P.ndim == 1:
        P = P[:, None]
    if P.ndim != 2 or P.shape[1] not in (1, 2):
        raise input_error(
            "y",
            "1-D position (time bin,) or 2-D position (time bin, 2)",
            f"shape {np.shape(y)}",
        )
    if P.shape[0] != n_samples:
        raise input_error(
            "y",
            f"one position per row of X ({n_samples} rows)",
            f"{P.shape[0]} positions",
        )
    if not np.all(np.isfinite(P)):
        bad = int(P.shape[0] - np.count_nonzero(np.isfinite(P).all(axis=1)))
        raise input_error(
            "y",
            "finite",
            f"{bad} bins with NaN or infinite position",
            "Drop the bins where tracking was lost (the same rows of X and y).",
        )
    return P


class BayesianPositionDecoder(RegressorMixin, BaseEstimator):
    """Poisson naive-Bayes decoder of 1-D or 2-D position.

    Occupancy-normalised tuning curves are estimated in :meth:`fit` from the
    training bins only; :meth:`predict` uses the activity alone.

    Parameters
    ----------
    bin_width : float or None, default None
        Seconds per time bin. With a value, tuning curves and ``min_rate`` are
        in Hz (events per second) and occupancy in seconds; with None they are
        per time bin and occupancy is a number of bins. Decoded positions are
        the same either way, as long as fit and predict use bins of the same
        width.
    n_position_bins : int, pair of int, or None, default None
        Number of position bins (per axis for 2-D). None means 50 for 1-D and
        (30, 30) for 2-D. Bins span the range of the training positions.
    smoothing : float, default 1.0
        Gaussian sigma, in position bins, applied to the summed activity and to
        the occupancy maps before dividing them. 0 disables smoothing.
    min_rate : float or None, default None
        Floor on every tuning curve, in the units of the tuning curves (see
        ``bin_width``), so that activity where a feature was never seen active
        lowers a position's posterior instead of excluding it (log 0). None sets
        each feature's floor to 1 % of its mean training rate, which also works
        for NMF activations of arbitrary scale. Features with no activity in the
        training bins carry no information and are left out (with a warning).
    prior : {"occupancy", "uniform"}, default "occupancy"
        Prior over position bins: proportional to the time spent in each bin
        during training (Zhang et al. 1998), or flat over visited bins (as
        pynapple's default). With a flat prior, a position bin visited only
        briefly (a tracking excursion, the way into a rest box) whose few
        tuning-curve samples are near zero attracts every time bin with few
        spikes, and can take a large share of the decoded bins (measured on
        hc_linear_track: docs/benchmarks.md, "Flat prior of the Bayesian
        decoder"). Bins never visited during training have prior 0 either way and
        are never predicted.
    estimate : {"map", "mean"}, default "map"
        Decoded position: centre of the maximum a posteriori bin, or the
        posterior mean of the bin centres (lower squared error, can fall
        between separated modes).

    Attributes
    ----------
    n_features_in_ : int
    n_dims_ : int
        1 or 2 position axes.
    bin_edges_ : list of ndarray
        Position bin edges per axis.
    bin_centers_ : list of ndarray
        Position bin centres per axis.
    tuning_curves_ : ndarray (n_features, *n_position_bins)
        Smoothed, floored tuning curves (Hz with ``bin_width``, else per bin).
    occupancy_ : ndarray (*n_position_bins)
        Unsmoothed time spent in each bin (seconds with ``bin_width``, else bins).
    prior_ : ndarray (*n_position_bins)
        Prior probability of each position bin (sums to 1).
    active_features_ : ndarray of bool (n_features,)
        Features with some training activity (the others are ignored).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> pos = np.tile(np.r_[np.linspace(0, 100, 200), np.linspace(100, 0, 200)], 5)
    >>> centres = np.linspace(0, 100, 20)
    >>> rates = 0.05 + 2.0 * np.exp(-0.5 * ((pos[:, None] - centres) / 8) ** 2)
    >>> X = rng.poisson(rates)
    >>> dec = BayesianPositionDecoder(n_position_bins=50).fit(X[:1600], pos[:1600])
    >>> err = median_position_error(pos[1600:], dec.predict(X[1600:]))
    >>> bool(err < 5)
    True
    """

    def __init__(
        self,
        bin_width: float | None = None,
        n_position_bins=None,
        smoothing: float = 1.0,
        min_rate: float | None = None,
        prior: str = "occupancy",
        estimate: str = "map",
    ):
        self.bin_width = bin_width
        self.n_position_bins = n_position_bins
        self.smoothing = smoothing
        self.min_rate = min_rate
        self.prior = prior
        self.estimate = estimate

    # ------------------------------------------------------------------ checks
    def _check_params(self, n_dims: int) -> tuple[int, ...]:
        bw = self.bin_width
        if bw is not None and not (
            isinstance(bw, numbers.Real) and np.isfinite(bw) and bw > 0
        ):
            raise input_error(
                "bin_width",
                "None or a duration > 0 in seconds",
                bw,
                "Pass the width of the time bins, e.g. bin_width=0.05.",
            )
        sm = self.smoothing
        if not (isinstance(sm, numbers.Real) and np.isfinite(sm) and sm >= 0):
            raise input_error("smoothing", "a Gaussian sigma >= 0 in position bins", sm)
        mr = self.min_rate
        if mr is not None and not (
            isinstance(mr, numbers.Real) and np.isfinite(mr) and mr >= 0
        ):
            raise input_error("min_rate", "None or a rate >= 0", mr)
        if self.prior not in ("uniform", "occupancy"):
            raise input_error("prior", "'uniform' or 'occupancy'", self.prior)
        if self.estimate not in ("map", "mean"):
            raise input_error("estimate", "'map' or 'mean'", self.estimate)
        nb = self.n_position_bins
        if nb is None:
            nb = _DEFAULT_BINS[n_dims]
        shape = (nb,) * n_dims if isinstance(nb, numbers.Integral) else tuple(nb)
        if len(shape) != n_dims or not all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 2
            for n in shape
        ):
            raise input_error(
                "n_position_bins",
                f"an integer >= 2 or {n_dims} such integers (one per position axis)",
                self.n_position_bins,
            )
        return tuple(int(n) for n in shape)

    # --------------------------------------------------------------------- fit
    def fit(self, X, y):
        """Estimate tuning curves, occupancy and prior from training bins.

        Parameters
        ----------
        X : array-like (n_samples, n_features)
            Non-negative counts (or activations) per time bin.
        y : array-like (n_samples,) or (n_samples, 2)
            Position in each time bin.

        Returns
        -------
        self
        """
        A = _check_activity(X)
        P = _check_position(y, A.shape[0])
        n_dims = P.shape[1]
        shape = self._check_params(n_dims)
        lo, hi = P.min(axis=0), P.max(axis=0)
        flat = np.flatnonzero(hi <= lo)
        if flat.size:
            raise input_error(
                "y",
                "a position that varies in the training bins",
                f"a constant {lo[flat[0]]:.4g} on axis {int(flat[0])}",
                "Restrict decoding to running epochs that cover the track.",
            )
        edges = [np.linspace(lo[d], hi[d], shape[d] + 1) for d in range(n_dims)]
        # bin index per sample (the maximum goes into the last bin)
        idx = [
            np.clip(
                np.searchsorted(edges[d], P[:, d], side="right") - 1, 0, shape[d] - 1
            )
            for d in range(n_dims)
        ]
        flat_idx = np.ravel_multi_index(idx, shape)
        n_bins = int(np.prod(shape))
        tau = 1.0 if self.bin_width is None else float(self.bin_width)
        occ = np.bincount(flat_idx, minlength=n_bins).astype(float) * tau
        # activity summed per position bin: (n_bins, n_features), one pass
        summed = np.zeros((n_bins, A.shape[1]))
        np.add.at(summed, flat_idx, A)
        occ_grid = occ.reshape(shape)
        summed_grid = summed.T.reshape((A.shape[1], *shape))
        if self.smoothing > 0:
            sig = (0.0, *(float(self.smoothing),) * n_dims)
            summed_grid = gaussian_filter(summed_grid, sig, mode="constant")
            occ_s = gaussian_filter(occ_grid, float(self.smoothing), mode="constant")
        else:
            occ_s = occ_grid
        visited = occ_grid > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            tc = np.where(visited, summed_grid / np.where(visited, occ_s, 1.0), 0.0)
        mean_rate = A.sum(axis=0) / (A.shape[0] * tau)
        active = mean_rate > 0
        if not active.any():
            raise input_error(
                "X",
                "active in some training bins",
                "all zeros",
                "Check the units and the time range of the activity.",
            )
        if not active.all():
            warnings.warn(
                f"{int((~active).sum())} of {active.size} features have no "
                "activity in the training bins and are ignored by the decoder "
                f"(columns {np.flatnonzero(~active)[:10].tolist()}).",
                UserWarning,
                stacklevel=2,
            )
        floor = (
            0.01 * mean_rate
            if self.min_rate is None
            else np.full(A.shape[1], float(self.min_rate))
        )
        tc = np.maximum(tc, floor.reshape((-1,) + (1,) * n_dims))
        tc[~active] = 0.0
        if self.prior == "uniform":
            prior = visited.astype(float)
        else:
            prior = occ_grid.copy()
        prior /= prior.sum()

        self.n_features_in_ = A.shape[1]
        self.n_dims_ = n_dims
        self.bin_edges_ = edges
        self.bin_centers_ = [0.5 * (e[1:] + e[:-1]) for e in edges]
        self.tuning_curves_ = tc
        self.occupancy_ = occ_grid
        self.prior_ = prior
        self.active_features_ = active
        self._shape = shape
        self._tau = tau
        # terms of the log posterior, flattened over position bins
        lam = tc.reshape(A.shape[1], -1)[active]  # (active features, bins)
        with np.errstate(divide="ignore"):
            # a zero rate (only with min_rate=0) stays exact: log 0 = -inf
            self._log_lam_tau = np.log(lam * tau)  # (features, bins)
            self._log_prior = np.log(prior.ravel())
        self._offset = -tau * lam.sum(axis=0) + self._log_prior
        if n_dims == 1:
            self._centres = self.bin_centers_[0][:, None]
        else:
            gx, gy = np.meshgrid(*self.bin_centers_, indexing="ij")
            self._centres = np.column_stack([gx.ravel(), gy.ravel()])
        self._y_ndim = np.ndim(y)
        return self

    # --------------------------------------------------------------- posterior
    def _log_posterior_block(self, A: np.ndarray) -> np.ndarray:
        counts = A[:, self.active_features_]
        L = np.empty((A.shape[0], self._offset.size))
        for s in range(0, A.shape[0], _CHUNK):
            c = counts[s : s + _CHUNK]
            with np.errstate(invalid="ignore"):
                ll = c @ np.where(np.isfinite(self._log_lam_tau), self._log_lam_tau, 0)
            if not np.all(np.isfinite(self._log_lam_tau)):
                # n * log 0 = -inf where n > 0, 0 where n == 0
                zero = ~np.isfinite(self._log_lam_tau)
                hit = (c > 0).astype(float) @ zero.astype(float)
                ll = np.where(hit > 0, -np.inf, ll)
            L[s : s + _CHUNK] = ll + self._offset
        return L

    def predict_proba(self, X) -> np.ndarray:
        """Posterior over position bins, flattened (C order).

        Parameters
        ----------
        X : array-like (n_samples, n_features)

        Returns
        -------
        ndarray (n_samples, n_position_bins_total)
            Rows sum to 1. Use :meth:`posterior` for the (x[, y]) grid.
        """
        check_is_fitted(self, "tuning_curves_")
        A = _check_activity(X, self.n_features_in_)
        L = self._log_posterior_block(A)
        m = L.max(axis=1, keepdims=True)
        bad = ~np.isfinite(m[:, 0])
        if bad.any():
            # every position excluded (only possible with min_rate=0)
            warnings.warn(
                f"{int(bad.sum())} time bins have activity impossible at every "
                "position (a zero tuning curve with min_rate=0); their posterior "
                "is NaN. Use min_rate=None (the default floor).",
                UserWarning,
                stacklevel=2,
            )
            m[bad] = 0.0
        post = np.exp(L - m)
        post /= post.sum(axis=1, keepdims=True)
        post[bad] = np.nan
        return post

    def posterior(self, X) -> np.ndarray:
        """Posterior over position bins on the position grid.

        Returns
        -------
        ndarray (n_samples, n_x) or (n_samples, n_x, n_y)
        """
        post = self.predict_proba(X)
        return post.reshape((post.shape[0], *self._shape))

    def predict(self, X) -> np.ndarray:
        """Decoded position per time bin (MAP bin centre or posterior mean).

        Returns
        -------
        ndarray (n_samples,) for 1-D position, (n_samples, 2) for 2-D
        """
        post = self.predict_proba(X)
        if self.estimate == "map":
            out = self._centres[np.argmax(np.nan_to_num(post, nan=-1.0), axis=1)]
            out = out.astype(float)
            out[np.isnan(post[:, 0])] = np.nan
        else:
            out = post @ self._centres
        return out[:, 0] if self.n_dims_ == 1 else out

    def score(self, X, y, sample_weight=None) -> float:
        """R² of the decoded position (uniform average over axes for 2-D).

        NaN with a warning when the position does not vary in ``y`` (R² is
        undefined there), never 0.
        """
        pred = self.predict(X)
        P = _check_position(y, pred.shape[0])
        pred = pred[:, None] if pred.ndim == 1 else pred
        if np.any(np.ptp(P, axis=0) == 0):
            warnings.warn(
                "position does not vary in these bins: R² is undefined and "
                "reported as NaN.",
                UserWarning,
                stacklevel=2,
            )
            return float("nan")
        return float(r2_score(P, pred, sample_weight=sample_weight, force_finite=False))


def median_position_error(y_true, y_pred) -> float:
    """Median distance between true and decoded position.

    Absolute difference for 1-D position, Euclidean distance for 2-D, in the
    units of the position.

    Parameters
    ----------
    y_true, y_pred : array-like (n_samples,) or (n_samples, 2)

    Returns
    -------
    float
        NaN (with a warning) when there are no samples.

    Examples
    --------
    >>> median_position_error([0.0, 1.0, 2.0], [0.5, 1.0, 5.0])
    0.5
    >>> median_position_error([[0, 0], [3, 4]], [[0, 0], [0, 0]])
    2.5
    """
    t = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    t = t[:, None] if t.ndim == 1 else t
    p = p[:, None] if p.ndim == 1 else p
    if t.shape != p.shape or t.ndim != 2 or t.shape[1] not in (1, 2):
        raise input_error(
            "y_true and y_pred",
            "the same shape, (n,) or (n, 2)",
            f"shapes {np.shape(y_true)} and {np.shape(y_pred)}",
        )
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(p))):
        raise input_error(
            "y_true and y_pred",
            "finite",
            "NaN or infinite values",
            "Score only the bins that were decoded.",
        )
    if t.shape[0] == 0:
        warnings.warn(
            "no samples: the median position error is undefined (NaN).",
            UserWarning,
            stacklevel=2,
        )
        return float("nan")
    return float(np.median(np.sqrt(((t - p) ** 2).sum(axis=1))))
