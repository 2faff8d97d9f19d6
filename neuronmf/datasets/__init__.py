"""Datasets: simulators with known ground truth and the registry of real data."""

from neuronmf.datasets.registry import fetch, list_datasets

__all__ = ["fetch", "list_datasets"]
