"""The probabilistic model and the assignment of :func:`match_sessions`.

CellReg's idea (Sheintuch et al. 2017, Cell Rep. 21:1102): among nearby pairs
of cells from two sessions (centroids closer than ``max_distance`` after
registration), the centroid distances and footprint spatial correlations form
a mixture of a *same-cell* and a *different-cell* population. Fitting that
mixture gives every candidate pair a posterior probability of being one cell,
P(same), from the data themselves rather than a hand-set threshold.

Components (fitted by EM on all candidate pairs pooled):

- same cell: the distance of a 2-D Student-t offset (ν = 3; Rayleigh-like
  near 0, a power-law tail) and, as in CellReg, a log-normal 1 − ρ (ρ
  clipped to (0, 1)), fitted by weighted median and moments: tails heavy
  enough for the few cells that a deformation or a segmentation moved by a
  pixel or two;
- different cells: a Gaussian KDE of *control pairs* (each session's cells
  against another session moved far away, :func:`control_pairs`), the chance
  overlaps of unrelated neighbours in this very field; with too few of them,
  density ∝ d on [0, ``max_distance``] (neighbours of a uniform field) times
  a Beta on ρ fitted by weighted moments.

``model="joint"`` multiplies the two features' likelihoods within a component
(naive Bayes); ``"correlation"`` and ``"distance"`` use one feature, as
CellReg does.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree
from scipy.stats import beta as beta_dist
from scipy.stats import gaussian_kde, norm

MODELS = ("correlation", "joint", "distance")
_EPS = 1e-3
#: Fewer candidate pairs than this and the mixture keeps its prior parameters.
MIN_PAIRS = 12
#: Control pairs (cells of one session against another session moved far
#: away) wanted for the different-cell density; at most this many are kept.
CONTROL_PAIRS = (1000, 4000)


@dataclass
class Mixture:
    """The fitted same-cell / different-cell mixture (all plain floats)."""

    model: str
    max_distance: float
    weight_same: float
    dist_same_scale: float
    corr_same_mu: float
    corr_same_sd: float
    corr_diff_a: float
    corr_diff_b: float
    n_pairs: int
    n_iter: int
    fitted: bool
    n_control_pairs: int = 0
    null: gaussian_kde | None = field(default=None, repr=False)

    @classmethod
    def prior(cls, model: str, max_distance: float, n_pairs: int) -> Mixture:
        return cls(
            model=model,
            max_distance=float(max_distance),
            weight_same=0.5,
            dist_same_scale=0.1 * float(max_distance),
            corr_same_mu=float(np.log(0.1)),
            corr_same_sd=0.6,
            corr_diff_a=0.7,
            corr_diff_b=3.0,
            n_pairs=int(n_pairs),
            n_iter=0,
            fitted=False,
        )

    def log_densities(self, d, rho, null_ld=None) -> tuple[np.ndarray, np.ndarray]:
        """log f(features | same), log f(features | different), per pair.

        ``null_ld``: the control KDE's log density at these pairs, computed
        once (it does not change during EM).
        """
        d = np.maximum(np.asarray(d, float), 1e-3)
        r = np.clip(np.asarray(rho, float), _EPS, 1 - _EPS)
        ls = np.zeros(d.shape)
        ld = np.zeros(d.shape)
        if self.model in ("joint", "distance"):
            ls = ls + _radial_t_logpdf(d, self.dist_same_scale)
            ld = ld + np.log(2 * d / self.max_distance**2)
        if self.model in ("joint", "correlation"):
            lr = np.log1p(-r)
            ls = ls + norm.logpdf(lr, self.corr_same_mu, self.corr_same_sd) - lr
            ld = ld + beta_dist.logpdf(r, self.corr_diff_a, self.corr_diff_b)
        if null_ld is not None:
            ld = null_ld
        elif self.null is not None:
            u = _features(self.model, d, r)
            ld = self.null.logpdf(u) - u.sum(axis=0)  # Jacobian of the logs
        return ls, ld

    def posterior(self, d, rho) -> np.ndarray:
        """P(same | features) per pair."""
        ls, ld = self.log_densities(d, rho)
        a = np.log(self.weight_same) + ls
        b = np.log1p(-self.weight_same) + ld
        return np.exp(a - np.logaddexp(a, b))

    def as_attrs(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.repr}
        out["fitted"] = int(self.fitted)
        out["different_cell_model"] = "control pairs" if self.null else "parametric"
        return {f"mixture_{k}": v for k, v in out.items()}


def _features(model: str, d: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Features of the control KDE: log d and log(1 − ρ).

    In log space the bulk of unrelated neighbours (ρ near 0, d of a few px)
    and the corner where one cell meets itself (d near 0, ρ near 1) are far
    apart in bandwidths, so the KDE does not smear the bulk into the corner.
    """
    ld, lr = np.log(np.maximum(d, 1e-3)), np.log1p(-np.clip(r, _EPS, 1 - _EPS))
    if model == "distance":
        return np.atleast_2d(ld)
    if model == "correlation":
        return np.atleast_2d(lr)
    return np.vstack([ld, lr])


def _null_density(model: str, controls) -> gaussian_kde | None:
    """A Gaussian KDE of the control pairs' features, or None if too few."""
    if controls is None or len(controls[0]) < 20:
        return None
    d, r = controls
    r = np.clip(r, _EPS, 1 - _EPS)
    try:
        return gaussian_kde(_features(model, d, r))
    except np.linalg.LinAlgError:  # degenerate (e.g. every control ρ equal)
        return None


def _beta_moments(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    sw = max(w.sum(), 1e-12)
    m = float(np.clip((w * x).sum() / sw, 0.01, 0.99))
    v = float((w * (x - m) ** 2).sum() / sw)
    v = min(max(v, 1e-4), 0.95 * m * (1 - m))
    common = m * (1 - m) / v - 1
    return m * common, (1 - m) * common


#: The same-cell component's median spatial correlation is at least this: a
#: cell registered onto itself correlates far better (0.9–1 on simulated
#: drifting sessions), and without a floor EM on a few unrelated pairs
#: (sessions with no cell in common) can call the best-correlated third of
#: them "same".
SAME_MIN_CORR = 0.7
_MU_MAX = float(np.log(1 - SAME_MIN_CORR))

#: Degrees of freedom of the same-cell displacement (a 2-D Student t).
_NU = 3.0


def _radial_t_logpdf(d: np.ndarray, scale: float) -> np.ndarray:
    """log density of |x| for x a 2-D isotropic Student t (ν = 3, ``scale``).

    Like a Rayleigh near 0 (the offset of a registered cell is a 2-D error),
    with a power-law tail for cells a deformation moved by a pixel or two.
    """
    s2 = scale**2
    return np.log(d / s2) - (_NU + 2) / 2 * np.log1p(d**2 / (_NU * s2))


def _radial_t_scale(d: np.ndarray, w: np.ndarray, max_distance: float) -> float:
    """Scale from the weighted median distance (median = scale·sqrt(ν(2^(2/ν)−1)))."""
    order = np.argsort(d)
    cw = np.cumsum(w[order])
    med = float(d[order][np.searchsorted(cw, cw[-1] / 2)]) if cw[-1] > 0 else 1.0
    scale = med / np.sqrt(_NU * (2 ** (2 / _NU) - 1))
    return float(np.clip(scale, 0.05, max_distance / 3))


def _lognormal_moments(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted mean and sd of log x (sd at least 0.25: a floor for few pairs)."""
    sw = max(w.sum(), 1e-12)
    lx = np.log(x)
    mu = float((w * lx).sum() / sw)
    sd = float(np.sqrt((w * (lx - mu) ** 2).sum() / sw))
    return mu, max(sd, 0.25)


def fit_mixture(
    d: np.ndarray,
    rho: np.ndarray,
    *,
    model: str,
    max_distance: float,
    controls: tuple[np.ndarray, np.ndarray] | None = None,
) -> Mixture:
    """EM for the two-component mixture over candidate pairs.

    The different-cell density is, when ``controls`` holds enough pairs, a
    Gaussian KDE of the control pairs' features (pairs that cannot be one
    cell, :func:`control_pairs`), fixed during EM: chance overlaps of
    unrelated neighbours are then as likely under "different" as they are in
    this very field, and sessions with no cell in common fit a same-cell
    weight near 0. Otherwise it is the parametric density of the module
    docstring. Starts from "close and correlated" (ρ > 0.5 and d <
    ``max_distance`` / 2) as same-cell; the same-cell distance scale is
    kept below ``max_distance`` / 3 and its median correlation above the
    different cells' mean and :data:`SAME_MIN_CORR`. With fewer than
    :data:`MIN_PAIRS` pairs the prior parameters are kept (``fitted=False``)
    and a warning says so.
    """
    mix = Mixture.prior(model, max_distance, len(d))
    mix.null = _null_density(model, controls)
    mix.n_control_pairs = 0 if controls is None else len(controls[0])
    if len(d) < MIN_PAIRS:
        warnings.warn(
            f"only {len(d)} candidate pairs (fewer than {MIN_PAIRS}): the "
            "same-cell/different-cell mixture is not fitted; P(same) uses its "
            "prior parameters.",
            stacklevel=3,
        )
        return mix
    r = np.clip(rho, _EPS, 1 - _EPS)
    w = np.where((rho > 0.5) & (d < max_distance / 2), 0.95, 0.05)
    null_ld = None
    if mix.null is not None:
        u = _features(model, d, r)
        null_ld = mix.null.logpdf(u) - u.sum(axis=0)
    previous = -np.inf
    for it in range(1, 501):
        mix.weight_same = float(np.clip(w.mean(), 1e-4, 1 - 1e-4))
        mix.dist_same_scale = _radial_t_scale(d, w, max_distance)
        mu, sd = _lognormal_moments(1 - r, w)
        mix.corr_diff_a, mix.corr_diff_b = _beta_moments(r, 1 - w)
        md = mix.corr_diff_a / (mix.corr_diff_a + mix.corr_diff_b)
        # the same-cell median correlation stays above the different cells'
        # mean and above SAME_MIN_CORR: one cell registered onto itself
        mix.corr_same_mu = float(min(mu, np.log(max(1 - md, 1e-3)), _MU_MAX))
        mix.corr_same_sd = sd
        ls, ld = mix.log_densities(d, r, null_ld)
        a = np.log(mix.weight_same) + ls
        b = np.log1p(-mix.weight_same) + ld
        total = np.logaddexp(a, b)
        w = np.exp(a - total)
        loglik = float(total.sum())
        mix.n_iter = it
        if abs(loglik - previous) <= 1e-8 * max(abs(loglik), 1.0):
            break
        previous = loglik
    mix.fitted = True
    return mix


def candidate_pairs(
    cen_a: np.ndarray, cen_b: np.ndarray, max_distance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs (i in a, j in b) with centroids within ``max_distance``, and d."""
    ok_a = np.nonzero(np.isfinite(cen_a).all(1))[0]
    ok_b = np.nonzero(np.isfinite(cen_b).all(1))[0]
    if not len(ok_a) or not len(ok_b):
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0)
    near = cKDTree(cen_a[ok_a]).query_ball_tree(cKDTree(cen_b[ok_b]), max_distance)
    ii = np.array([ok_a[i] for i, js in enumerate(near) for _ in js], np.int64)
    jj = np.array([ok_b[j] for js in near for j in js], np.int64)
    d = np.sqrt(((cen_a[ii] - cen_b[jj]) ** 2).sum(1)) if len(ii) else np.zeros(0)
    return ii, jj, d


def spatial_correlation(
    A: sp.csr_array, B: sp.csr_array, ii: np.ndarray, jj: np.ndarray
) -> np.ndarray:
    """Pearson correlation over the field of view of rows ``A[ii]`` and ``B[jj]``."""
    if not len(ii):
        return np.zeros(0)
    npix = A.shape[1]
    dots = np.asarray((A[ii].multiply(B[jj])).sum(axis=1)).ravel()
    sa, sb = np.asarray(A.sum(axis=1)).ravel(), np.asarray(B.sum(axis=1)).ravel()
    qa = np.asarray(A.multiply(A).sum(axis=1)).ravel()
    qb = np.asarray(B.multiply(B).sum(axis=1)).ravel()
    cov = dots - sa[ii] * sb[jj] / npix
    va = qa[ii] - sa[ii] ** 2 / npix
    vb = qb[jj] - sb[jj] ** 2 / npix
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = cov / np.sqrt(va * vb)
    return np.nan_to_num(rho, nan=0.0)


def assign_to_reference(
    pairs: dict, counts: list[int], reference: int, threshold: float
) -> list[list[tuple[int, int]]]:
    """Clusters from one optimal assignment per session against the reference.

    ``pairs`` maps (reference, s) → (i, j, P). Each session's neurons are
    matched to the reference's by :func:`scipy.optimize.linear_sum_assignment`
    maximising the summed P; a match needs P ≥ ``threshold``. Returns the
    clusters as lists of (session, neuron).
    """
    owner: dict[int, list[tuple[int, int]]] = {
        i: [(reference, i)] for i in range(counts[reference])
    }
    extra: list[list[tuple[int, int]]] = []
    for s, n in enumerate(counts):
        if s == reference:
            continue
        ii, jj, p = pairs[(reference, s)]
        matched: set[int] = set()
        if len(ii):
            P = np.zeros((counts[reference], n))
            P[ii, jj] = p
            rows, cols = linear_sum_assignment(P, maximize=True)
            for i, j in zip(rows, cols, strict=True):
                if P[i, j] >= threshold:
                    owner[int(i)].append((s, int(j)))
                    matched.add(int(j))
        extra.extend([[(s, j)] for j in range(n) if j not in matched])
    return [owner[i] for i in range(counts[reference])] + extra


def cluster_sessions(
    pairs: dict, counts: list[int], threshold: float
) -> list[list[tuple[int, int]]]:
    """Clusters across sessions by greedy average linkage on P(same).

    Every neuron starts alone; candidate pairs are taken from the most to
    the least probable; two clusters merge when they share no session and
    the mean P over all their cross-session member pairs (0 for pairs too
    far apart to be candidates) reaches ``threshold``.
    """
    P: dict[tuple[tuple[int, int], tuple[int, int]], float] = {}
    for (sa, sb), (ii, jj, p) in pairs.items():
        for i, j, q in zip(ii, jj, p, strict=True):
            P[((sa, int(i)), (sb, int(j)))] = float(q)
            P[((sb, int(j)), (sa, int(i)))] = float(q)
    label = {(s, i): (s, i) for s, n in enumerate(counts) for i in range(n)}
    members = {k: [k] for k in label}
    for (a, b), q in sorted(P.items(), key=lambda kv: -kv[1]):
        if q < threshold:
            break
        ca, cb = label[a], label[b]
        if ca == cb:
            continue
        ma, mb = members[ca], members[cb]
        if {s for s, _ in ma} & {s for s, _ in mb}:
            continue
        mean = np.mean([P.get((x, y), 0.0) for x in ma for y in mb])
        if mean < threshold:
            continue
        members[ca] = ma + mb
        for m in mb:
            label[m] = ca
        del members[cb]
    return [sorted(m) for m in members.values()]


def _shift_rows(A: sp.csr_array, offset, shape) -> sp.csr_array:
    """Sparse footprint rows moved by an integer ``offset`` (pixels leaving are cut)."""
    ny, nx = shape
    coo = A.tocoo()
    y = coo.col // nx + offset[0]
    x = coo.col % nx + offset[1]
    keep = (y >= 0) & (y < ny) & (x >= 0) & (x < nx)
    return sp.csr_array(
        (coo.data[keep], (coo.row[keep], (y * nx + x)[keep])), shape=A.shape
    )


def control_pairs(A, centroids, session_pairs, shape, max_distance, seed=0):
    """(d, ρ) of pairs that cannot be one cell: session b moved far from a.

    For each session pair, b's footprints and centroids are moved by integer
    offsets of 2–4 ``max_distance`` in random directions (so no cell can meet
    itself) and scored against a like real candidates: the chance overlaps of
    unrelated cells at this field's density, shapes and sizes. Offsets are
    added until :data:`CONTROL_PAIRS` [0] pairs are found (at most 20 per
    session pair); at most :data:`CONTROL_PAIRS` [1] are kept.
    """
    rng = np.random.default_rng(seed)
    want, keep = CONTROL_PAIRS
    ds, rs = [], []
    for rounds in range(20):
        for a, b in session_pairs:
            angle = rng.uniform(0, 2 * np.pi)
            mag = rng.uniform(2, 4) * max_distance
            off = np.rint(mag * np.array([np.sin(angle), np.cos(angle)])).astype(int)
            ii, jj, d = candidate_pairs(centroids[a], centroids[b] + off, max_distance)
            Bs = _shift_rows(A[b], off, shape)
            ds.append(d)
            rs.append(spatial_correlation(A[a], Bs, ii, jj))
        if sum(map(len, ds)) >= want and rounds >= 3:
            break
    d, r = np.concatenate(ds), np.concatenate(rs)
    if len(d) > keep:
        pick = rng.choice(len(d), keep, replace=False)
        d, r = d[pick], r[pick]
    return d, r
