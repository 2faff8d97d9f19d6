"""The l1/l2 penalty every loss adds to its data term."""

from __future__ import annotations

import numpy as np


def penalty(W, H, l1_W: float, l1_H: float, l2_W: float, l2_H: float) -> float:
    """l1_W·Σ W + l2_W/2·|W|² + l1_H·Σ H + l2_H/2·|H|² (in float64)."""
    total = 0.0
    for F, l1, l2 in ((W, l1_W, l2_W), (H, l1_H, l2_H)):
        if l1:
            total += l1 * float(np.sum(F, dtype=np.float64))
        if l2:
            total += 0.5 * l2 * float(np.sum(np.square(F, dtype=np.float64)))
    return total
