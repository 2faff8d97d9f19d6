"""Shared fixtures and helpers for the test suite."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The real-data mirror: $NEURONMF_DATA_DIR or ../shared/data."""
    return Path(os.environ.get("NEURONMF_DATA_DIR", REPO.parent / "shared" / "data"))


def planted(m, n, r, *, snr_db=None, zeros=0.5, seed=0, dtype=np.float64):
    """Planted NMF problem: W, H uniform with a fraction of zeros, optional noise.

    Gaussian noise is scaled to the requested SNR (10·log10 of signal power over
    noise power) and the noisy data clipped at 0.
    """
    rng = np.random.default_rng(seed)
    W = rng.random((m, r)) * (rng.random((m, r)) >= zeros)
    H = rng.random((r, n)) * (rng.random((r, n)) >= zeros)
    # guard against an all-zero column/row
    W[rng.integers(m, size=r), np.arange(r)] += 1.0
    H[np.arange(r), rng.integers(n, size=r)] += 1.0
    V = W @ H
    if snr_db is not None:
        sigma = np.sqrt(np.mean(V**2) / 10 ** (snr_db / 10))
        V = np.maximum(V + sigma * rng.standard_normal(V.shape), 0)
    return V.astype(dtype), W, H


@pytest.fixture
def small_problem():
    return planted(30, 80, 4, snr_db=30, seed=3)


def real_file(*parts: str) -> Path:
    """A file of the real-data mirror; skips the test when it is not there."""
    path = data_dir().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} (set NEURONMF_DATA_DIR)")
    return path


def sha256(path: Path) -> str:
    """Hex sha256 of a file, or of every file of a folder (sorted by name)."""
    import hashlib

    h = hashlib.sha256()
    files = sorted(p for p in Path(path).rglob("*") if p.is_file())
    for f in [Path(path)] if Path(path).is_file() else files:
        h.update(f.read_bytes())
    return h.hexdigest()
