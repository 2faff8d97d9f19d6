"""Datasets: simulators with known ground truth and the registry of real data."""

from neuronmf.datasets._emg_sequences import (
    simulate_space_by_time,
    simulate_time_varying_emg,
)
from neuronmf.datasets._neural_sequences import simulate_sequences
from neuronmf.datasets.registry import fetch, list_datasets
from neuronmf.datasets.simulate import (
    Simulation,
    simulate_assemblies,
    simulate_emg,
    simulate_movie,
    simulate_synergy_envelopes,
)

__all__ = [
    "Simulation",
    "fetch",
    "list_datasets",
    "simulate_assemblies",
    "simulate_emg",
    "simulate_movie",
    "simulate_sequences",
    "simulate_space_by_time",
    "simulate_synergy_envelopes",
    "simulate_time_varying_emg",
]
