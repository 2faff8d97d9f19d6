"""Scoring detected footprints against ground-truth masks."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from neuronmf.errors import input_error


def masks_from_footprints(footprints, threshold: float = 0.2) -> np.ndarray:
    """Binary masks: pixels at least ``threshold`` × the footprint's maximum.

    Parameters
    ----------
    footprints : array-like or DataArray, shape (neuron, y, x)
        Non-negative footprints (boolean masks are returned unchanged).
    threshold : float
        Fraction of each footprint's maximum that a pixel must reach.

    Returns
    -------
    ndarray of bool, shape (neuron, y, x)

    Examples
    --------
    >>> import numpy as np
    >>> masks_from_footprints(np.array([[[0.0, 1.0], [0.1, 0.5]]])).sum()
    np.int64(2)
    """
    A = np.asarray(getattr(footprints, "values", footprints))
    if A.dtype == bool:
        return A
    peak = A.reshape(len(A), -1).max(axis=1) if len(A) else np.zeros(0)
    return (A >= threshold * np.maximum(peak, 1e-30)[:, None, None]) & (A > 0)


def _centroids(M: np.ndarray) -> np.ndarray:
    out = np.zeros((len(M), 2))
    for i, m in enumerate(M):
        yy, xx = np.nonzero(m)
        if len(yy):
            out[i] = yy.mean(), xx.mean()
        else:
            out[i] = np.nan
    return out


def score(
    found,
    truth,
    *,
    method: str = "iou",
    iou_threshold: float = 0.3,
    max_distance: float | None = None,
    threshold: float = 0.2,
) -> dict:
    """Precision, recall and F1 of detected neurons against ground truth.

    Parameters
    ----------
    found : Dataset with ``footprints``, or array (neuron, y, x)
        Detected footprints (thresholded with :func:`masks_from_footprints`).
    truth : array (neuron, y, x) of bool, or Dataset with ``footprints``
        Ground-truth masks.
    method : {"iou", "centroid"}
        ``"iou"`` follows CaImAn's ``nf_match_neurons_in_binary_masks``:
        cost = 1 − IoU when centroids are closer than ``max_distance``
        (default 10 px), else 1; Hungarian matching; a pair is a match when
        IoU > ``iou_threshold`` (0.3). ``"centroid"`` follows neurofinder:
        **greedy** nearest-centroid matching (closest pairs first), a pair
        matches when the centroid distance is < ``max_distance`` (default 5 px,
        the threshold neurofinder's docstring states).
    iou_threshold : float
        Minimum IoU for a match (``"iou"`` only).
    max_distance : float, optional
        Centroid gate in pixels (10 for ``"iou"``, 5 for ``"centroid"``).
    threshold : float
        Footprint threshold used to make masks from real-valued footprints.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``n_found``, ``n_truth``,
        ``n_matched``, ``matches`` (list of (found index, truth index)), and
        ``iou`` (IoU of each matched pair).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.zeros((1, 20, 20), bool); t[0, 5:10, 5:10] = True
    >>> score(t.astype(float), t)["f1"]
    1.0
    """
    if method not in ("iou", "centroid"):
        raise input_error("method", "'iou' or 'centroid'", method)
    F = masks_from_footprints(getattr(found, "footprints", found), threshold)
    T = masks_from_footprints(getattr(truth, "footprints", truth), threshold)
    if F.ndim != 3 or T.ndim != 3 or F.shape[1:] != T.shape[1:]:
        raise input_error(
            "found and truth",
            "(neuron, y, x) arrays of one image shape",
            f"{F.shape} and {T.shape}",
        )
    nf, nt = len(F), len(T)
    cf, ct = _centroids(F), _centroids(T)
    dist = np.full((nf, nt), np.inf)
    if nf and nt:
        dist = np.sqrt(((cf[:, None, :] - ct[None, :, :]) ** 2).sum(-1))
        dist = np.nan_to_num(dist, nan=np.inf)
    npix = F.shape[1] * F.shape[2]
    Ff = F.reshape(nf, npix).astype(np.float32)
    Tf = T.reshape(nt, npix).astype(np.float32)
    inter = Ff @ Tf.T
    union = Ff.sum(1)[:, None] + Tf.sum(1)[None, :] - inter
    iou = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    matches: list[tuple[int, int]] = []
    if method == "iou":
        gate = 10.0 if max_distance is None else max_distance
        cost = np.where(dist < gate, 1.0 - iou, 1.0)
        if nf and nt:
            rows, cols = linear_sum_assignment(cost)
            matches = [
                (int(r), int(c))
                for r, c in zip(rows, cols, strict=False)
                if cost[r, c] < 1.0 - iou_threshold
            ]
    else:
        gate = 5.0 if max_distance is None else max_distance
        order = np.argsort(dist, axis=None)
        used_f, used_t = set(), set()
        for flat in order:
            r, c = divmod(int(flat), nt)
            if dist[r, c] >= gate:
                break
            if r in used_f or c in used_t:
                continue
            used_f.add(r)
            used_t.add(c)
            matches.append((r, c))
    tp = len(matches)
    precision = tp / nf if nf else 0.0
    recall = tp / nt if nt else 0.0
    f1 = 2 * tp / (nf + nt) if nf + nt else 0.0
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "n_found": nf,
        "n_truth": nt,
        "n_matched": tp,
        "matches": matches,
        "iou": [float(iou[r, c]) for r, c in matches],
        "method": method,
    }
