"""Simulators with known ground truth: EMG synergies, calcium movies, assemblies.

The public import path of the simulators; each modality lives in its own module
(``_emg``, ``_movie``, ``_assemblies``), the :class:`Simulation` they return in
``_simulation``.

Each simulator is seeded (same arguments and seed → identical output) and returns a
:class:`Simulation`: ``.data`` is the recording as the matching
``neuronmf.io.load_*`` function returns it, ``.truth`` an :class:`xarray.Dataset`
of the planted structure, and ``.to_nwb(path)`` writes the recording (and the
truth where NWB has a place for it) to an NWB file that the loaders read back.

NWB conventions used (and read by the loaders):

- EMG: an ``ElectricalSeries`` named ``"EMG"`` in ``acquisition``, data
  (time, channel) in volts with a ``rate``; the electrodes table has one row per
  muscle with the muscle name in its ``location`` column. Envelopes
  (``raw=False``): a ``TimeSeries`` ``"EMGEnvelope"`` in ``processing["emg"]``
  whose description lists the channels. Gait cycles / reach trials: a
  ``TimeIntervals`` table (``"gait_cycles"`` or ``"reaches"``) in ``intervals``.
- Movies: a ``TwoPhotonSeries`` ``"TwoPhotonSeries"`` in ``acquisition`` in NWB's
  (frames, x, y) order (the (time, y, x) movie transposed), with its imaging plane,
  optical channel and device; the planted footprints as ``image_mask`` (roi, x, y)
  of the PlaneSegmentation ``"GroundTruth"`` in ``processing["ophys"]``, with the
  true calcium in ``Fluorescence/GroundTruthCalcium``.
- Assemblies: a ``Units`` table (spike times placed inside their bins, so binning
  at ``bin_width`` from time 0 gives back the counts) and the behaviour as a
  ``TimeSeries`` ``"behavior"`` in a ``BehavioralTimeSeries`` in
  ``processing["behavior"]``.
"""

from neuronmf.datasets._assemblies import simulate_assemblies
from neuronmf.datasets._emg import (  # noqa: F401 (the muscle names stay here)
    GAIT_MUSCLES,
    REACH_MUSCLES,
    simulate_emg,
    simulate_synergy_envelopes,
)
from neuronmf.datasets._movie import simulate_movie
from neuronmf.datasets._simulation import Simulation

__all__ = [
    "Simulation",
    "simulate_assemblies",
    "simulate_emg",
    "simulate_movie",
    "simulate_synergy_envelopes",
]
