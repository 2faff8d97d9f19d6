"""Decode behaviour from NMF activations (or raw activity) without leakage.

Outer folds are contiguous time blocks separated from their training bins by a
gap; NMF is fitted on training bins only and test bins are projected on the fixed
W; the rank and the GLM penalty are chosen by an inner loop on training bins only.
``where=`` (e.g. :func:`min_speed`, :func:`in_epochs`) restricts fitting,
folds and scoring to epochs; an undefined fold score is NaN with a warning, never
0 averaged in. Trial input (a ``trial`` dimension) is cross-validated over whole
trials. Decoding performance measures correlation between activity and
behaviour, not causation.
"""

from neuronmf.decoding._core import (
    DecodingResult,
    blocked_folds,
    decode,
    in_epochs,
    lagged,
    min_speed,
)
from neuronmf.decoding.bayes import BayesianPositionDecoder, median_position_error

__all__ = [
    "BayesianPositionDecoder",
    "DecodingResult",
    "blocked_folds",
    "decode",
    "in_epochs",
    "lagged",
    "median_position_error",
    "min_speed",
]
