"""Merging duplicate components (trace correlation and spatial overlap)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def merge_duplicates(
    A: np.ndarray, C: np.ndarray, *, threshold: float = 0.8, dilation: int = 0
):
    """Merge overlapping components whose traces correlate > ``threshold``.

    Parameters
    ----------
    A : ndarray (K, y, x); C : ndarray (K, time)
    threshold : float
        Minimum Pearson correlation of traces for two overlapping components
        to be merged (CaImAn's ``merge_thr`` default 0.8).
    dilation : int
        Supports are dilated by this many pixels before the overlap test, so
        that components that only *touch* count as overlapping. Greedy seeds
        cut footprints at a fraction of their peak; the dim rim of a soma left
        in the residual becomes a crescent next to it (touching, not
        overlapping) with the soma's trace, which this merges back.

    Returns
    -------
    A, C : merged arrays; groups : list of lists of original indices
        Merged footprints are the trace-weighted sum of the group's footprints
        (unit norm); merged traces the matching weighted sum.
    """
    K = len(A)
    if K < 2:
        return A, C, [[k] for k in range(K)]
    S = A > 0
    F = S.reshape(K, -1).astype(np.float32)
    if dilation > 0:
        grown = ndimage.binary_dilation(
            S, structure=np.ones((1, 3, 3), bool), iterations=int(dilation)
        )
        overlap = grown.reshape(K, -1).astype(np.float32) @ F.T > 0
        overlap = overlap | overlap.T
    else:
        overlap = F @ F.T > 0
    Cc = np.corrcoef(C) if C.shape[1] > 1 else np.eye(K)
    link = overlap & (np.nan_to_num(Cc) > threshold)
    np.fill_diagonal(link, False)
    parent = list(range(K))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(link), strict=False):
        parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for k in range(K):
        groups.setdefault(find(k), []).append(k)
    newA, newC, out = [], [], []
    for g in groups.values():
        if len(g) == 1:
            newA.append(A[g[0]])
            newC.append(C[g[0]])
        else:
            s = np.array([np.linalg.norm(C[k]) for k in g])
            a = sum(A[k] * s[i] for i, k in enumerate(g))
            n = np.linalg.norm(a)
            newA.append(a / n)
            newC.append(
                sum(C[k] * s[i] for i, k in enumerate(g)) * 0
                + C[g[int(np.argmax(s))]] * s.max() / n * 1.0
            )
        out.append(sorted(g))
    return np.array(newA), np.array(newC), out
