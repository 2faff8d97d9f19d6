"""Plain-NumPy/SciPy reference of the deconvolution problem (tests only).

The kernels of :mod:`neuronmf.imaging._oasis_kernels` solve

    min_{s >= 0} 1/2 ||y - b - K s||^2 + lam 1.s,   c = K s,

``K`` the lower-triangular convolution matrix of the AR(p) impulse response.
Since ``1.s = mu.c`` with ``mu = K^{-T} 1``, this is the non-negative least
squares problem ``min_{s >= 0} ||(y - b - lam mu) - K s||`` (up to a constant),
solved here exactly by :func:`scipy.optimize.nnls`: O(T^3), for short traces.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import toeplitz
from scipy.optimize import brentq, minimize_scalar, nnls

__all__ = ["reference_constrained", "reference_deconvolve", "reference_fit_b"]


def _kernel(g: tuple[float, float], T: int) -> np.ndarray:
    g1, g2 = g
    h = np.zeros(T)
    h[0] = 1.0
    if T > 1:
        h[1] = g1
    for k in range(2, T):
        h[k] = g1 * h[k - 1] + g2 * h[k - 2]
    return np.tril(toeplitz(h))


def reference_deconvolve(
    y: np.ndarray, g: tuple[float, float], lam: float, b: float = 0.0
) -> tuple[np.ndarray, np.ndarray, float]:
    """Exact ``(c, s, objective)`` for fixed ``lam`` and baseline ``b``."""
    y = np.asarray(y, float)
    T = len(y)
    K = _kernel(g, T)
    mu = np.linalg.solve(K.T, np.ones(T))
    s, _ = nnls(K, y - b - lam * mu, maxiter=50 * T)
    c = K @ s
    return c, s, objective(y, c, s, lam, b)


def objective(y, c, s, lam: float, b: float = 0.0) -> float:
    """``1/2 ||y - b - c||^2 + lam sum(s)``."""
    return 0.5 * float(np.sum((y - b - c) ** 2)) + lam * float(np.sum(s))


def reference_fit_b(
    y: np.ndarray, g: tuple[float, float], lam: float
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """``(c, s, b, objective)`` with the baseline ``b`` fitted too.

    The objective minimised over ``s`` is convex in ``b``; ``b`` is found by a
    bounded scalar search.
    """
    y = np.asarray(y, float)
    lo, hi = float(y.min()) - 1.0, float(y.max()) + 1.0
    res = minimize_scalar(
        lambda b: reference_deconvolve(y, g, lam, b)[2],
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-10},
    )
    c, s, obj = reference_deconvolve(y, g, lam, res.x)
    return c, s, float(res.x), obj


def reference_constrained(
    y: np.ndarray, g: tuple[float, float], sn: float, b: float | None = 0.0
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """``(c, s, lam, b)`` with ``||y - b - c||^2 = sn^2 T`` (bisection on ``lam``).

    ``b=None`` fits the baseline for each ``lam`` (:func:`reference_fit_b`).
    """
    y = np.asarray(y, float)
    target = sn * sn * len(y)

    def solve(lam: float):
        if b is None:
            c, s, bb, _ = reference_fit_b(y, g, lam)
        else:
            (c, s, _), bb = reference_deconvolve(y, g, lam, b), b
        return c, s, bb

    def excess(lam: float) -> float:
        c, _, bb = solve(lam)
        return float(np.sum((y - bb - c) ** 2)) - target

    if excess(0.0) >= 0:
        lam = 0.0
    else:
        hi = 1.0
        while excess(hi) < 0 and hi < 1e12:
            hi *= 4
        lam = brentq(excess, 0.0, hi, xtol=1e-9, rtol=1e-9)
    c, s, bb = solve(lam)
    return c, s, lam, bb
