"""Exact power-of-two rescaling of data at extreme scales (shared by every fit path).

NMF is scale-equivariant: with V = 2**k V', W = 2**a W', H = 2**b H' (a + b = k)
the objective is 2**(p·k) times that of (V', W', H') with the penalties scaled
by powers of two (p = 2 for Frobenius, 1 for KL: the loss's degree β,
``LossSpec.scale_power``). Powers of two make the
rescaling exact in floating point, so data in the usual range are fitted bit
for bit as before and data near 1e±80 are fitted as if they were near 1.
"""

from __future__ import annotations

import numpy as np

#: Data whose largest entry is not in [2**-E, 2**E] (E by working dtype) are fitted
#: as V / 2**k, an exact power-of-two rescaling (docs/engine.md, "Scale").
SAFE_EXPONENT = {np.dtype(np.float64): 40, np.dtype(np.float32): 20}


def scale_exponent(top: float, dtype) -> int:
    """The even k such that a fit runs on V / 2**k (0: no rescaling).

    ``top`` is the largest entry of V (>= 0), ``dtype`` the working dtype. k is
    even so that the split a = b = k/2 between W and H is exact too.

    Examples
    --------
    >>> scale_exponent(3.0, np.float64), scale_exponent(1e80, np.float64)
    (0, 266)
    """
    top = float(top)
    if top == 0.0 or not np.isfinite(top):
        return 0
    _, e = np.frexp(top)
    if abs(int(e)) <= SAFE_EXPONENT[np.dtype(dtype)]:
        return 0
    return 2 * (int(e) // 2)


def scaled_penalties(penalties: dict, k: int, a: int, b: int, p: float = 2) -> dict:
    """Penalties of the problem on V / 2**k with W / 2**a and H / 2**b.

    Keys among ``l1_W``, ``l2_W``, ``graph_weight``, ``l1_H``, ``l2_H``; an l1
    term on a factor scales as 2**(a - p·k) (W) or 2**(b - p·k) (H), an l2 or
    graph term as 2**(2a - p·k) or 2**(2b - p·k).

    Examples
    --------
    >>> scaled_penalties({"l1_H": 1.0}, 4, 2, 2)
    {'l1_H': 0.015625}
    """
    power = {
        "l1_W": a - p * k,
        "l2_W": 2 * a - p * k,
        "graph_weight": 2 * a - p * k,
        "l1_H": b - p * k,
        "l2_H": 2 * b - p * k,
    }
    return {
        key: times_power_of_two(value, power[key]) for key, value in penalties.items()
    }


def times_power_of_two(x: float, e: float) -> float:
    """x · 2**e: exact (``ldexp``) for an integer e, else a rounded product.

    The power p of a β-divergence (its degree β) need not be an integer, and
    then p·k is not either.

    Examples
    --------
    >>> times_power_of_two(3.0, 2), times_power_of_two(1.0, 0.5) == 2**0.5
    (12.0, True)
    """
    if float(e).is_integer():
        return float(np.ldexp(x, int(e)))
    return float(x * 2.0**e)
