"""Per-fit thread limits: the same limits, without re-scanning the libraries per fit.

``engine.solvers.base.blas_threads`` used to build a fresh
``threadpoolctl`` controller (a read of ``/proc/self/maps`` and a probe of every
loaded library) on every fit: 35–40 % of ``select_rank`` on a 13 × 200 matrix.
It now reuses :func:`neuronmf._threads.thread_controller` (issue 22).
"""

from __future__ import annotations

import sys
import types
import warnings

import numba
import numpy as np
import pytest
import threadpoolctl
from threadpoolctl import threadpool_info, threadpool_limits

import neuronmf as nm
from neuronmf import _threads
from neuronmf.engine.solvers.base import blas_threads


def _blas() -> set[int]:
    return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}


@pytest.fixture
def counted_scans(monkeypatch):
    """How many ThreadpoolControllers (library scans) are built."""
    built = []
    init = threadpoolctl.ThreadpoolController.__init__

    def spy(self, *args, **kwargs):
        built.append(1)
        init(self, *args, **kwargs)

    monkeypatch.setattr(threadpoolctl.ThreadpoolController, "__init__", spy)
    return built


def test_fits_do_not_rescan_the_loaded_libraries(counted_scans):
    V = np.random.default_rng(0).random((13, 200))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nm.ConvergenceWarning)
        for _ in range(2):  # the first fits build the controller and import lazily
            nm.nmf(V, 3, seed=0, max_iter=5)
        counted_scans.clear()
        for seed in range(5):
            nm.nmf(V, 3, seed=seed, max_iter=5)
    assert len(counted_scans) == 0


def test_controller_is_cached_and_rebuilt_after_an_import(monkeypatch):
    first = _threads.thread_controller()
    assert _threads.thread_controller() is first
    monkeypatch.setitem(sys.modules, "_neuronmf_test_new_module", types.ModuleType("x"))
    assert _threads.thread_controller() is not first  # a new library may have come


def test_small_fit_runs_kernels_on_one_thread_and_restores():
    if not _blas():
        pytest.skip("no BLAS library that threadpoolctl controls")
    seen = []

    def spy(it, loss):
        seen.append((_blas(), numba.get_num_threads()))

    V = np.random.default_rng(0).random((13, 200))
    with threadpool_limits(2, user_api="blas"):
        before = numba.get_num_threads()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", nm.ConvergenceWarning)
            nm.nmf(V, 3, seed=0, max_iter=3, callback=spy)
        assert _blas() == {2}  # restored
        assert numba.get_num_threads() == before
    assert seen and all(b == {1} and n == 1 for b, n in seen)


def test_large_problem_keeps_blas_threads_and_chunked_uses_one():
    if not _blas():
        pytest.skip("no BLAS library that threadpoolctl controls")
    with threadpool_limits(2, user_api="blas"):
        with blas_threads((2000, 2000), 100):  # 8·10⁸ flops: BLAS's own threads
            assert _blas() == {2}
        with blas_threads((2000, 2000), 100, chunked=True):  # dask: one each
            assert _blas() == {1}
        with blas_threads((10, 10), 2):
            assert _blas() == {1}
        assert _blas() == {2}
