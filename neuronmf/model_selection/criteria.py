"""Rank-choice criteria from fits: VAF, curve fit, AIC/BIC, consensus, stability.

Each function takes arrays and returns numbers; :func:`neuronmf.select_rank`
decides which fits to run and gathers the results.
"""

from __future__ import annotations

import warnings

import numpy as np

from neuronmf.model_selection.matching import cosine_similarity, match_components


def vaf_curves(rss, row_rss, row_norm2, total, count):
    """Uncentred VAF, centred R² and per-feature VAF from residual sums.

    The one definition of the scores the ``"vaf"`` and ``"curvefit"`` rules read
    (:func:`neuronmf.select_rank` and :func:`neuronmf.synergies.extract` alike):

    - VAF = 1 − RSS / Σ v² (uncentred, Torres-Oviedo & Ting);
    - R² = 1 − RSS / Σ (v − v̄)², with Σ (v − v̄)² = Σ v² − (Σ v)² / count
      (centred on the grand mean, Cheung et al. 2005);
    - VAF of feature i = 1 − RSS_i / Σ_j v²_ij.

    Parameters
    ----------
    rss : float or array (rank,)
        Residual sum of squares of each fit.
    row_rss : array (m,) or (rank, m)
        The same per feature (row).
    row_norm2 : array (m,)
        Σ_j v²_ij per feature, over the entries that count.
    total : float
        Σ v over the entries that count.
    count : int
        Number of entries that count (m·n, or the observed ones).

    Returns
    -------
    vaf, r2, vaf_local

    Examples
    --------
    >>> import numpy as np
    >>> vaf, r2, local = vaf_curves(1.0, np.array([0.5, 0.5]), np.array([2.0, 2.0]),
    ...                             2.0, 4)
    >>> float(vaf), round(float(r2), 4), local.tolist()
    (0.75, 0.6667, [0.75, 0.75])
    """
    rss = np.asarray(rss, dtype=np.float64)
    row_norm2 = np.asarray(row_norm2, dtype=np.float64)
    norm2 = float(row_norm2.sum())
    centred = norm2 - float(total) ** 2 / max(int(count), 1)
    vaf = 1.0 - rss / max(norm2, 1e-300)
    r2 = 1.0 - rss / max(centred, 1e-300)
    vaf_local = 1.0 - np.asarray(row_rss, np.float64) / np.maximum(row_norm2, 1e-300)
    return vaf, r2, vaf_local


def vaf_scores(V, W, H, mask=None) -> tuple[float, float, np.ndarray]:
    """Uncentred VAF, centred R² (grand mean) and per-feature VAF of V ≈ W·H.

    Only observed entries count when a ``mask`` (True = observed) is given.
    Computed by :func:`vaf_curves`. Also public as
    :func:`neuronmf.synergies.vaf_scores`.

    Examples
    --------
    >>> import numpy as np
    >>> W = np.eye(2); H = np.arange(10.0).reshape(2, 5)
    >>> vaf, r2, local = vaf_scores(W @ H, W, 0.5 * H)
    >>> round(vaf, 2), round(r2, 2), local.round(2).tolist()
    (0.75, 0.14, [0.75, 0.75])
    """
    V = np.asarray(V, dtype=np.float64)
    obs = np.ones(V.shape, bool) if mask is None else np.asarray(mask, bool)
    Vz = np.where(obs, V, 0.0)
    R = np.where(obs, Vz - np.asarray(W) @ np.asarray(H), 0.0)
    row_rss = np.sum(R**2, axis=1)
    vaf, r2, local = vaf_curves(
        row_rss.sum(), row_rss, np.sum(Vz**2, axis=1), Vz.sum(), int(obs.sum())
    )
    return float(vaf), float(r2), local


def vaf_rank(vaf, vaf_local, ranks, global_threshold=0.90, local_threshold=0.75):
    """Smallest rank with global VAF >= threshold and every feature's VAF >= local.

    Returns the largest rank scanned when none qualifies, with a warning: that rank
    is the ceiling of the scan, not a choice.
    """
    ok = (np.asarray(vaf) >= global_threshold) & (
        np.asarray(vaf_local).min(axis=1) >= local_threshold
    )
    if ok.any():
        return int(ranks[np.argmax(ok)])
    _ceiling_warning(
        "vaf",
        ranks,
        f"VAF >= {global_threshold:g} with every feature's VAF >= {local_threshold:g} "
        f"(largest VAF reached: {float(np.max(vaf)):.3f})",
    )
    return int(ranks[-1])


def _ceiling_warning(rule: str, ranks, what: str) -> None:
    warnings.warn(
        f"rank rule {rule!r}: no scanned rank (up to {int(ranks[-1])}) reached {what}; "
        f"rank {int(ranks[-1])} is the ceiling of the scan, not a choice. Scan "
        "higher ranks, or use another criterion.",
        UserWarning,
        stacklevel=3,
    )


def curvefit_rank(r2, ranks, mse_threshold: float = 1e-4) -> int:
    """The d'Avella/Cheung rule on the R² curve.

    The smallest N such that a straight line fitted to R²(N … N_max) has mean
    squared error below ``mse_threshold``.

    Examples
    --------
    >>> import numpy as np
    >>> r2 = np.array([0.5, 0.8, 0.95, 0.96, 0.97, 0.98])
    >>> curvefit_rank(r2, np.arange(1, 7))
    3
    """
    ranks = np.asarray(ranks)
    r2 = np.asarray(r2, dtype=float)
    for i in range(len(ranks) - 1):
        x, y = ranks[i:], r2[i:]
        coef = np.polyfit(x, y, 1)
        if np.mean((np.polyval(coef, x) - y) ** 2) < mse_threshold:
            return int(ranks[i])
    _ceiling_warning(
        "curvefit", ranks, f"a straight R² tail (line MSE < {mse_threshold:g})"
    )
    return int(ranks[-1])


def one_se_rank(errors, ranks) -> int:
    """Smallest rank whose mean error is within one standard error of the minimum.

    ``errors`` is (rank, repeat); NaN repeats are ignored.
    """
    errors = np.asarray(errors, dtype=float)
    mean = np.nanmean(errors, axis=1)
    count = np.sum(np.isfinite(errors), axis=1)
    se = np.where(count > 1, np.nanstd(errors, axis=1, ddof=1) / np.sqrt(count), 0.0)
    best = int(np.nanargmin(mean))
    return int(ranks[np.argmax(mean <= mean[best] + se[best])])


def gaussian_information_criteria(rss, ranks, m: int, n: int):
    """Gaussian AIC and BIC with k = r(m + n − 1) free parameters.

    Both assume independent, identically distributed residuals.
    """
    ranks = np.asarray(ranks)
    k = ranks * (m + n - 1)
    N = m * n
    loglik_term = N * np.log(np.maximum(np.asarray(rss), 1e-300) / N)
    return loglik_term + 2 * k, loglik_term + k * np.log(N)


def consensus_statistics(H_list) -> tuple[float, float, np.ndarray]:
    """Brunet et al. (2004) consensus over restarts.

    Each restart assigns every sample (column of H) to its largest component; the
    consensus matrix C is the fraction of restarts in which two samples share a
    cluster. Returns the cophenetic correlation of average-linkage clustering of
    1 − C, the dispersion mean(4 (C − ½)²), and C.

    Examples
    --------
    >>> import numpy as np
    >>> H = np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    >>> coph, disp, C = consensus_statistics([H, H[::-1]])
    >>> round(coph, 6), round(disp, 6)
    (1.0, 1.0)
    """
    from scipy.cluster.hierarchy import cophenet, linkage
    from scipy.spatial.distance import squareform

    n = np.asarray(H_list[0]).shape[1]
    C = np.zeros((n, n))
    for H in H_list:
        labels = np.argmax(np.asarray(H), axis=0)
        C += labels[:, None] == labels[None, :]
    C /= len(H_list)
    dispersion = float(np.mean(4 * (C - 0.5) ** 2))
    distance = squareform(1 - C, checks=False)
    if np.ptp(distance) == 0:
        return float("nan"), dispersion, C
    coph, _ = cophenet(linkage(distance, method="average"), distance)
    return float(coph), dispersion, C


def instability(W_list) -> float:
    """staNMF instability (Wu et al. 2016): mean dissimilarity over pairs of fits.

    For two dictionaries with K columns and cross-correlation matrix C,
    dissimilarity = (2K − Σ_k max_l C_kl − Σ_l max_k C_kl) / (2K).
    0 means every pair of fits has the same components.
    """
    values = []
    for a in range(len(W_list)):
        for b in range(a + 1, len(W_list)):
            C = cosine_similarity(W_list[a], W_list[b])
            K = C.shape[0]
            values.append((2 * K - C.max(axis=1).sum() - C.max(axis=0).sum()) / (2 * K))
    return float(np.mean(values)) if values else float("nan")


def matched_to_reference(W_ref, W_list) -> tuple[np.ndarray, np.ndarray]:
    """Match each fit's columns to the reference; unit-norm matched W's and cosines.

    Returns ``(stack, cosines)``: ``stack`` (fits, m, r) with columns reordered
    to the reference and scaled to unit norm, ``cosines`` (fits, r).
    """
    W_ref = np.asarray(W_ref, dtype=float)
    stack, cosines = [], []
    for W in W_list:
        match = match_components(W_ref, W)
        Wm = np.asarray(W, dtype=float)[:, match.order]
        norms = np.linalg.norm(Wm, axis=0)
        stack.append(Wm / np.where(norms > 0, norms, 1.0))
        cosines.append(match.similarity)
    return np.array(stack), np.array(cosines)
