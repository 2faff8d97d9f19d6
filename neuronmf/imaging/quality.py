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
    means = np.zeros((len(A), R.shape[0]))
    for k, a in enumerate(A):
        m = a >= threshold * max(a.max(), 1e-30)
        if m.any():
            means[k] = R[:, m].mean(1)
    return mean_trace_correlation(means, C)


def mean_trace_correlation(means: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Correlation of each trace (row of ``C``) with its mask's mean trace.

    The last step of :func:`trace_correlation`, for callers that compute the
    mask means their own way (block by block, or from raw frames: adding a
    constant such as the baseline does not change a correlation). A constant
    mean or trace (an empty mask included) correlates 0.
    """
    out = np.zeros(len(C))
    for k in range(len(C)):
        f, c = means[k], C[k]
        if f.std() > 0 and c.std() > 0:
            out[k] = float(np.corrcoef(f, c)[0, 1])
    return out


def _quiet_share(c: np.ndarray, host: np.ndarray, z: float = 3.0):
    """(share of ``c``'s activity in ``host``'s quiet frames, quiet fraction).

    A frame is quiet when the host's trace is below its median plus ``z``
    robust noise SDs; ``c``'s activity is its squared excess over its median.
    """
    quiet = host - np.median(host) < z * noise_level(host)
    e = np.maximum(c - np.median(c), 0.0) ** 2
    total = e.sum()
    share = e[quiet].sum() / total if total > 0 else 1.0
    return float(share), float(quiet.mean())


def nested_fragments(
    A: np.ndarray,
    C: np.ndarray,
    strength: np.ndarray,
    *,
    overlap: float = 0.5,
    threshold: float = 0.2,
    max_amplitude: float = 0.5,
) -> list[str]:
    """Components that are fragments of a stronger one they lie inside.

    Residual motion of a bright neuron (after registration, or resampled
    noise) leaves a signed dipole at its edge in the residual; its positive
    lobe is seeded as a separate component whose trace is the neuron's trace
    times the residual displacement: it is active *only while the neuron
    is*, so its Pearson correlation with it is modest (0.2–0.8, below
    ``merge_threshold``). A component is such a fragment when more than
    ``overlap`` of its mask (pixels ≥ ``threshold`` × its max) lies on the
    support of a component of higher ``strength`` (kept itself), its signal
    on its own mask is below ``max_amplitude`` × the stronger one's there
    (footprint mass on the mask × RMS of the trace about its median: a
    first-order motion artefact is the residual shift, a fraction of a
    pixel, times the footprint's relative gradient), and less than half of
    its activity falls in that component's quiet frames than chance would
    put there (activity: squared excess of the trace over its median;
    quiet: the stronger trace below its median + 3 robust SDs; chance: the
    quiet fraction of frames). A neuron that overlaps a brighter one but
    fires on its own puts about the quiet fraction of its activity in the
    quiet frames, and a neuron that a brighter component has absorbed
    (two neurons merged into one) dominates its own pixels: both are kept.
    (The stronger component is quiet in at least half the frames, those at
    or below its median.)

    Parameters
    ----------
    A : ndarray (K, y, x); C : ndarray (K, time)
    strength : ndarray (K,)
        Order of precedence (the trace SNR).
    overlap : float
        Fraction of a component's mask on a stronger component's support
        above which it is tested (1: never).

    Returns
    -------
    list of str
        Per component, ``""`` or the reason it is a fragment.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> A = np.zeros((2, 9, 9)); A[0, 2:7, 2:7] = 1; A[1, 2:7, 2:4] = 1
    >>> host = np.maximum(rng.normal(0, 1, 500), 0); host[::50] += 40
    >>> frag = 0.3 * host * rng.uniform(0, 1, 500)
    >>> nested_fragments(A, np.array([host, frag]), np.array([10.0, 3.0]))[1][:8]
    'fragment'
    """
    K = len(A)
    out = [""] * K
    if K < 2 or C.shape[1] < 2:
        return out
    flat = A.reshape(K, -1)
    masks = flat >= threshold * np.maximum(flat.max(1, keepdims=True), 1e-30)
    masks &= flat > 0
    support = flat > 0
    inside = (masks.astype(np.float32) @ support.T.astype(np.float32)) / np.maximum(
        masks.sum(1, keepdims=True), 1
    )
    rms = np.sqrt(np.mean((C - np.median(C, 1, keepdims=True)) ** 2, axis=1))
    order = np.argsort(-np.asarray(strength, float), kind="stable")
    for rank, k in enumerate(order):
        for h in order[:rank]:
            if out[h] or inside[k, h] <= overlap:
                continue
            # the signal of each on k's own pixels (footprint mass × trace RMS)
            m = masks[k]
            own = flat[k, m].sum() * rms[k]
            hers = flat[h, m].sum() * rms[h]
            if not own < max_amplitude * hers:
                continue
            share, quiet = _quiet_share(C[k], C[h])
            if share < 0.5 * quiet:
                out[k] = (
                    f"fragment: {inside[k, h]:.0%} inside a stronger component, "
                    f"{own / hers:.2f} of its signal there, "
                    f"{share:.0%} of its activity in its quiet frames "
                    f"({quiet:.0%} of frames)"
                )
                break
    return out
