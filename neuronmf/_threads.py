"""One thread for small problems: BLAS/OpenMP thread pools chosen by problem size.

Many tiny BLAS calls (an L-BFGS fit of a 90 × 35 design calls ``ddot`` and
``dgemv`` thousands of times) pay for waking, spinning and joining the BLAS
threads on every call, which can cost several times the arithmetic itself,
more so on a loaded machine (measurements: docs/benchmarks.md, "Measurements
formerly in docstrings", "Threads"). :func:`blas_threads_for` runs such work on
one thread and leaves larger problems alone.

The user's own settings always win: nothing is changed when any of
``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``,
``BLIS_NUM_THREADS``, ``VECLIB_MAXIMUM_THREADS`` or ``NEURONMF_NUM_THREADS`` is
set, nor when the BLAS libraries already run on fewer threads than their
default (e.g. inside the user's own ``threadpoolctl.threadpool_limits``).

The engine's own per-fit rule (``neuronmf.engine.solvers.base.blas_threads``,
data products under 2·10⁸ flops on one BLAS thread) is separate: it decides per
factorisation; this helper is for entry points that run many small fits of
other libraries (scikit-learn's GLMs in :func:`neuronmf.decoding.decode`).

Both go through :func:`thread_controller`, one cached
``threadpoolctl.ThreadpoolController``: building one re-reads
``/proc/self/maps`` and re-probes every loaded library, which cost 35–40 % of
``select_rank`` on a 13 × 200 EMG matrix when it was done on every fit.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

__all__ = [
    "SMALL_PROBLEM_ELEMENTS",
    "blas_threads_for",
    "thread_controller",
    "user_set_threads",
]

#: Problems with fewer elements than this (e.g. n_samples × n_features of a
#: design matrix) run on one BLAS/OpenMP thread, where waking the other threads
#: costs more than they save (see docs/benchmarks.md, "Threads").
SMALL_PROBLEM_ELEMENTS = 1_000_000

#: Environment variables that fix the thread count; when any is set, it wins.
THREAD_ENV_VARS = (
    "NEURONMF_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


#: The cached controller and the number of imported modules when it was built.
_CONTROLLER: list = [None, -1]


def thread_controller():
    """The process's ``threadpoolctl.ThreadpoolController``, built once and reused.

    Building a controller scans the loaded shared libraries (on Linux it reads
    ``/proc/self/maps`` and probes each library), which costs milliseconds; a
    fit of a small matrix takes about as long. The controller is rebuilt only
    when modules were imported since it was built (a new BLAS or OpenMP
    runtime arrives with an import: numpy, scipy, scikit-learn, torch, ...).
    Its ``limit(...)`` and ``info()`` act on the libraries' current settings,
    exactly as ``threadpoolctl.threadpool_limits`` and ``threadpool_info`` do.

    Examples
    --------
    >>> thread_controller() is thread_controller()
    True
    >>> with thread_controller().limit(limits=1, user_api="blas"):
    ...     pass
    """
    n_modules = len(sys.modules)
    if _CONTROLLER[0] is None or _CONTROLLER[1] != n_modules:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER[0] = ThreadpoolController()
        _CONTROLLER[1] = len(sys.modules)  # after threadpoolctl's own import
    return _CONTROLLER[0]


def _default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def user_set_threads() -> bool:
    """True if the user fixed the thread count (environment or threadpoolctl).

    Examples
    --------
    >>> isinstance(user_set_threads(), bool)
    True
    """
    if any(os.environ.get(name, "").strip() for name in THREAD_ENV_VARS):
        return True
    default = _default_threads()
    blas = [p for p in thread_controller().info() if p.get("user_api") == "blas"]
    return any(p.get("num_threads", default) < default for p in blas)


@contextmanager
def blas_threads_for(n_elements: float):
    """Run the block on one BLAS/OpenMP thread if the problem is small.

    Parameters
    ----------
    n_elements : float
        Size of the problem, e.g. n_samples × n_features of the largest design
        matrix fitted inside the block. Below :data:`SMALL_PROBLEM_ELEMENTS`
        the thread pools are limited to one thread (and restored on exit);
        otherwise, or when the user set the thread count
        (:func:`user_set_threads`), nothing changes.

    Examples
    --------
    >>> import numpy as np
    >>> with blas_threads_for(90 * 35):
    ...     g = np.ones((90, 35)).T @ np.ones((90, 35))
    >>> g.shape
    (35, 35)
    """
    if n_elements >= SMALL_PROBLEM_ELEMENTS or user_set_threads():
        yield
        return
    with thread_controller().limit(limits=1):
        yield


@contextmanager
def one_thread_unless_user_set():
    """Run the block on one BLAS/OpenMP thread unless the user set the count.

    For work made of many small products (a movie's patches): extra BLAS
    threads spin more than they compute, and parallel work goes through
    ``n_jobs`` instead. Restored on exit.

    Examples
    --------
    >>> import numpy as np
    >>> with one_thread_unless_user_set():
    ...     g = np.ones((90, 35)).T @ np.ones((90, 35))
    >>> g.shape
    (35, 35)
    """
    if user_set_threads():
        yield
        return
    with thread_controller().limit(limits=1):
        yield
