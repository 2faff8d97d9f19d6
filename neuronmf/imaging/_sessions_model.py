"""The probabilistic model and the assignment of :func:`match_sessions`.

CellReg's idea (Sheintuch et al. 2017, Cell Rep. 21:1102): among nearby pairs
of cells from two sessions (centroids closer than ``max_distance`` after
registration), the centroid distances and footprint spatial correlations form
a mixture of a *same-cell* and a *different-cell* population. Fitting that
mixture gives every candidate pair a posterior probability of being one cell,
P(same), from the data themselves rather than a hand-set threshold.

Components (fitted by EM on all candidate pairs pooled):

- distance, same cell: Rayleigh(σ) (an isotropic Gaussian registration and
  centroid error); different cells: density ∝ d on [0, ``max_distance``]
  (neighbours of a uniform field);
- spatial correlation ρ (clipped to (0, 1)), same cell and different cells:
  two Beta distributions, fitted by weighted moments.

``model="joint"`` multiplies the two features' likelihoods within a component
(naive Bayes); ``"correlation"`` and ``"distance"`` use one feature, as
CellReg does.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree
from scipy.stats import beta as beta_dist
from scipy.stats import rayleigh

MODELS = ("joint", "correlation", "distance")
_EPS = 1e-3
#: Fewer candidate pairs than this and the mixture keeps its prior parameters.
MIN_PAIRS = 12


@dataclass
class Mixture:
    """The fitted same-cell / different-cell mixture (all plain floats)."""

    model: str
    max_distance: float
    weight_same: float
    sigma_same: float
    corr_same_a: float
    corr_same_b: float
    corr_diff_a: float
    corr_diff_b: float
    n_pairs: int
    n_iter: int
    fitted: bool

    @classmethod
    def prior(cls, model: str, max_distance: float, n_pairs: int) -> Mixture:
        return cls(
            model=model,
            max_distance=float(max_distance),
            weight_same=0.5,
            sigma_same=0.15 * float(max_distance),
            corr_same_a=8.5,
            corr_same_b=1.5,
            corr_diff_a=0.7,
            corr_diff_b=3.0,
            n_pairs=int(n_pairs),
            n_iter=0,
            fitted=False,
        )

    def log_densities(self, d, rho) -> tuple[np.ndarray, np.ndarray]:
        """log f(features | same), log f(features | different), per pair."""
        d = np.maximum(np.asarray(d, float), 1e-6)
        r = np.clip(np.asarray(rho, float), _EPS, 1 - _EPS)
        ls = np.zeros(d.shape)
        ld = np.zeros(d.shape)
        if self.model in ("joint", "distance"):
            ls = ls + rayleigh.logpdf(d, scale=self.sigma_same)
            ld = ld + np.log(2 * d / self.max_distance**2)
        if self.model in ("joint", "correlation"):
            ls = ls + beta_dist.logpdf(r, self.corr_same_a, self.corr_same_b)
            ld = ld + beta_dist.logpdf(r, self.corr_diff_a, self.corr_diff_b)
        return ls, ld

    def posterior(self, d, rho) -> np.ndarray:
        """P(same | features) per pair."""
        ls, ld = self.log_densities(d, rho)
        a = np.log(self.weight_same) + ls
        b = np.log1p(-self.weight_same) + ld
        return np.exp(a - np.logaddexp(a, b))

    def as_attrs(self) -> dict:
        out = asdict(self)
        out["fitted"] = int(self.fitted)
        return {f"mixture_{k}": v for k, v in out.items()}


def _beta_moments(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    sw = max(w.sum(), 1e-12)
    m = float(np.clip((w * x).sum() / sw, 0.01, 0.99))
    v = float((w * (x - m) ** 2).sum() / sw)
    v = min(max(v, 1e-4), 0.95 * m * (1 - m))
    common = m * (1 - m) / v - 1
    return m * common, (1 - m) * common


def fit_mixture(
    d: np.ndarray, rho: np.ndarray, *, model: str, max_distance: float
) -> Mixture:
    """EM for the two-component mixture over candidate pairs.

    Starts from "close and correlated" (ρ > 0.5 and d < ``max_distance`` / 2)
    as same-cell; the same-cell σ is kept within [0.1 px, ``max_distance`` /
    3] and its mean correlation above the different cells'. With fewer than
    :data:`MIN_PAIRS` pairs the prior parameters are kept (``fitted=False``)
    and a warning says so.
    """
    mix = Mixture.prior(model, max_distance, len(d))
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
    previous = -np.inf
    for it in range(1, 501):
        mix.weight_same = float(np.clip(w.mean(), 1e-4, 1 - 1e-4))
        sw = max(w.sum(), 1e-12)
        sigma = np.sqrt((w * d**2).sum() / (2 * sw))
        mix.sigma_same = float(np.clip(sigma, 0.1, max_distance / 3))
        mix.corr_same_a, mix.corr_same_b = _beta_moments(r, w)
        mix.corr_diff_a, mix.corr_diff_b = _beta_moments(r, 1 - w)
        ms = mix.corr_same_a / (mix.corr_same_a + mix.corr_same_b)
        md = mix.corr_diff_a / (mix.corr_diff_a + mix.corr_diff_b)
        if ms < md:  # the components swapped: keep "same" the correlated one
            mix.corr_same_a, mix.corr_diff_a = mix.corr_diff_a, mix.corr_same_a
            mix.corr_same_b, mix.corr_diff_b = mix.corr_diff_b, mix.corr_same_b
        ls, ld = mix.log_densities(d, r)
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
