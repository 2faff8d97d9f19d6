"""Per-neuron quality measures: SNR, spatial compactness, trace correlation."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from neuronmf.imaging.seeds import noise_level


def trace_snr(C: np.ndarray) -> np.ndarray:
    """(peak − median) / robust noise of each trace (rows of ``C``)."""
    if len(C) == 0:
        return np.zeros(0)
    return (C.max(1) - np.median(C, 1)) / noise_level(C, axis=1)


def compactness(A: np.ndarray, threshold: float = 0.2) -> np.ndarray:
    """Isoperimetric ratio 4π·area / perimeter² of each footprint (≈1: disc)."""
    out = np.zeros(len(A))
    for k, a in enumerate(A):
        m = a >= threshold * max(a.max(), 1e-30)
        area = m.sum()
        if area == 0:
            continue
        edge = m & ~ndimage.binary_erosion(m)
        perim = max(edge.sum(), 1)
        out[k] = min(1.0, 4 * np.pi * area / (perim + 2.0) ** 2 * 1.0)
    return out


def trace_correlation(
    A: np.ndarray, C: np.ndarray, R: np.ndarray, threshold: float = 0.2
):
    """Correlation of each trace with the mean residual movie over its footprint mask.

    ``R`` is the baseline-subtracted movie (time, y, x) (CaImAn's space correlation
    idea, without its code).
    """
    out = np.zeros(len(A))
    for k, a in enumerate(A):
        m = a >= threshold * max(a.max(), 1e-30)
        if not m.any():
            continue
        f = R[:, m].mean(1)
        c = C[k]
        if f.std() > 0 and c.std() > 0:
            out[k] = float(np.corrcoef(f, c)[0, 1])
    return out
