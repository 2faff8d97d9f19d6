"""Muscle synergies from EMG: raw EMG → envelope → NMF → rank → compare.

``envelope`` filters raw EMG into a non-negative (time, channel) envelope,
optionally time-normalised per gait cycle; ``extract`` factorises it into
``synergies`` (muscle, synergy) and ``activations`` (synergy, time), choosing
the number of synergies by the curve-fit, VAF or any ``select_rank`` rule;
``match``, ``group``, ``refit`` and ``cycle_average`` compare and reuse them.
``extract(..., kind="time-varying", duration=)`` finds d'Avella's time-varying
synergies (waveforms with onsets and amplitudes) and ``space_by_time`` Delis's
spatial and temporal modules of trial-structured data.
See ``docs/synergies.md``.
"""

from neuronmf.synergies._compare import cycle_average, group, match, refit
from neuronmf.synergies._envelope import envelope
from neuronmf.synergies._extract import extract, vaf_scores
from neuronmf.synergies._simulate import simulate
from neuronmf.synergies._space_by_time import space_by_time

__all__ = [
    "cycle_average",
    "envelope",
    "extract",
    "group",
    "match",
    "refit",
    "simulate",
    "space_by_time",
    "vaf_scores",
]
