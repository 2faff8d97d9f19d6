"""Neurons (footprints + traces) from calcium-imaging movies.

``segment`` finds neurons with seeded, spatially penalised NMF; ``score``
matches them to ground truth (CaImAn-style IoU or neurofinder-style centroid).
"""

from neuronmf.imaging._valid import to_full_frame, valid_region
from neuronmf.imaging.deconvolve import deconvolve
from neuronmf.imaging.register import register
from neuronmf.imaging.score import masks_from_footprints, score
from neuronmf.imaging.segment import SegmentParameters, default_parameters, segment
from neuronmf.imaging.sessions import match_sessions
from neuronmf.imaging.traces import TraceParameters, traces

__all__ = [
    "SegmentParameters",
    "TraceParameters",
    "deconvolve",
    "default_parameters",
    "masks_from_footprints",
    "match_sessions",
    "register",
    "score",
    "segment",
    "to_full_frame",
    "traces",
    "valid_region",
]
