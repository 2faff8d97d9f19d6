"""Shared fixtures and helpers for the test suite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------
# Parallel runs (pytest-xdist: ``-n auto`` in pyproject.toml's addopts)
# ---------------------------------------------------------------------------
# Numba's on-disk cache is not safe for processes that compile one kernel at the
# same time: a save reads the index (.nbi), takes the first free data-file number
# and writes the index and the data (.nbc) one after the other, so two processes
# saving different signatures of one kernel can leave an index entry pointing at
# the other signature's machine code. Under xdist therefore:
# * the controller compiles the eagerly typed kernels once, before any worker
#   starts, each kernel module in a process of its own (never two on one module),
#   into Numba's usual cache (a fresh clone spends minutes of CPU here, which two
#   workers would otherwise both spend at collection, when --doctest-modules
#   imports every module);
# * each worker runs on a private copy of that cache (NUMBA_CACHE_DIR, which the
#   subprocesses it starts inherit), so a lazily typed kernel is compiled and saved
#   by one process per cache only. The copies are removed when the run ends.
#   Run without xdist (``-n 0``), nothing here happens.

_PRIVATE_CACHE = "NEURONMF_TEST_NUMBA_CACHE"  # the controller's folder of copies


def _kernel_files() -> list[Path]:
    """The package's Numba kernel modules, largest first."""
    files = (REPO / "neuronmf").rglob("*kernels.py")
    return sorted(files, key=lambda p: -p.stat().st_size)


def _cache_dir(source_dir: Path, user_dir: str | None) -> Path:
    """Where Numba caches the kernels of ``source_dir`` (NUMBA_CACHE_DIR or in-tree)."""
    if not user_dir:
        return source_dir / "__pycache__"
    from numba.core.caching import _CacheLocator

    return Path(user_dir) / _CacheLocator.get_suitable_cache_subpath(
        str(source_dir / "x.py")
    )


def _is_warm(source: Path) -> bool:
    """A cache index of the module was written after its last edit."""
    folder = _cache_dir(source.parent, os.environ.get("NUMBA_CACHE_DIR"))
    indexes = folder.glob(f"{source.stem}.*.nbi") if folder.is_dir() else ()
    newest = max((f.stat().st_mtime for f in indexes), default=-1.0)
    return newest >= source.stat().st_mtime


def _warm_numba_cache(n_procs: int) -> float:
    """Import each kernel module not yet cached (compiling), n_procs at a time."""
    start = time.perf_counter()
    cold = [p for p in _kernel_files() if not _is_warm(p)]

    def load(source: Path) -> None:
        name = ".".join(source.relative_to(REPO).with_suffix("").parts)
        code = f"import {name}"
        subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=1800)

    with ThreadPoolExecutor(max(1, n_procs)) as pool:
        list(pool.map(load, cold))  # failures show up in the tests themselves
    return time.perf_counter() - start


def _seed_private_numba_cache(folder: Path) -> None:
    """Point this process's Numba cache at ``folder``, seeded with the warm cache."""
    user_dir = os.environ.get("NUMBA_CACHE_DIR")
    if user_dir == str(folder):
        return  # a subprocess of the worker that imports this file: already its own
    os.environ["NUMBA_CACHE_DIR"] = str(folder)  # before Numba reads its config
    from numba.core import config

    config.CACHE_DIR = str(folder)  # in case Numba was imported already
    for source in {p.parent for p in _kernel_files()}:
        warm = _cache_dir(source, user_dir)
        target = _cache_dir(source, str(folder))
        target.mkdir(parents=True, exist_ok=True)
        for f in warm.glob("*.nb[ic]") if warm.is_dir() else ():
            shutil.copy2(f, target / f.name)


if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get(_PRIVATE_CACHE):
    _seed_private_numba_cache(
        Path(os.environ[_PRIVATE_CACHE]) / os.environ["PYTEST_XDIST_WORKER"]
    )


def pytest_configure(config):
    n_workers = getattr(config.option, "numprocesses", None)
    if not n_workers or hasattr(config, "workerinput"):
        return  # no xdist, or a worker
    if n_workers in ("auto", "logical"):
        n_workers = os.cpu_count() or 1
    config._numba_warm_seconds = _warm_numba_cache(int(n_workers))
    os.environ[_PRIVATE_CACHE] = tempfile.mkdtemp(prefix="neuronmf-numba-")


def pytest_report_header(config):
    seconds = getattr(config, "_numba_warm_seconds", None)
    if seconds is not None:
        return f"numba kernel cache warmed in {seconds:.1f} s (one process a module)"


def pytest_unconfigure(config):
    if hasattr(config, "_numba_warm_seconds"):
        shutil.rmtree(os.environ.pop(_PRIVATE_CACHE, ""), ignore_errors=True)


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
