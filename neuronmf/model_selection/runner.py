"""One parallel runner for the fits of every scan: joblib, progress, one thread each.

Every caller that runs many independent fits (the ranks of
:func:`neuronmf.select_rank`, the training sets of
:func:`neuronmf.decoding.decode`) hands them to :func:`run_tasks`:

- ``n_jobs=1`` runs the tasks one after the other in this process, with the
  engine's own thread rules (large fits use every core);
- otherwise joblib (loky processes) runs them in parallel, and each worker runs
  its task with Numba and BLAS/OpenMP on **one thread**: the workers already
  occupy the cores, and Numba's own threads on top of them would oversubscribe
  the cores (loky limits BLAS threads, not Numba's);
- the results come back in the order of the tasks, whatever ``n_jobs`` is, so a
  result never depends on the number of workers;
- an optional tqdm bar counts finished work (a task may count for several
  units, e.g. the ranks of one chain).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from neuronmf.errors import input_error

__all__ = ["check_n_jobs", "one_thread", "run_tasks"]


def check_n_jobs(n_jobs: Any) -> int:
    """``n_jobs`` as joblib takes it: a positive integer, or -1 for every core.

    Examples
    --------
    >>> check_n_jobs(2), check_n_jobs(-1)
    (2, -1)
    """
    if (
        isinstance(n_jobs, bool | np.bool_)
        or not isinstance(n_jobs, int | np.integer)
        or n_jobs == 0
        or n_jobs < -1
    ):
        raise input_error("n_jobs", "a positive integer, or -1 for every core", n_jobs)
    return int(n_jobs)


@contextmanager
def one_thread():
    """Numba and BLAS/OpenMP on one thread inside the block; restored on exit.

    Examples
    --------
    >>> import numba
    >>> with one_thread():
    ...     numba.get_num_threads()
    1
    """
    import numba
    from threadpoolctl import threadpool_limits

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        numba.set_num_threads(before)


def _call_in_worker(func: Callable, args: tuple):
    """``func(*args)`` in a joblib worker, on one Numba and one BLAS thread."""
    with one_thread():
        return func(*args)


def run_tasks(
    func: Callable,
    tasks: Iterable[tuple],
    *,
    n_jobs: int = 1,
    progress: bool = False,
    desc: str = "fits",
    unit: str = "fit",
    weights: Sequence[int] | None = None,
) -> list:
    """``[func(*args) for args in tasks]``, in parallel when ``n_jobs`` ≠ 1.

    Parameters
    ----------
    func : callable
        A module-level function (it is pickled for the worker processes).
    tasks : iterable of tuple
        The positional arguments of each call.
    n_jobs : int, default 1
        Worker processes (joblib); -1 uses every core. With 1 (or a single
        task) everything runs in this process.
    progress : bool
        Show a tqdm bar.
    desc, unit : str
        The bar's label and unit.
    weights : sequence of int, optional
        How many units each task counts for on the bar (default 1 each).

    Returns
    -------
    list
        The results, in the order of ``tasks`` (independent of ``n_jobs``).

    Raises
    ------
    neuronmf.InputError
        Before any task runs: a task that is not a tuple (or list) of
        arguments, a bad ``n_jobs``, or not one weight per task.

    Examples
    --------
    >>> from neuronmf.model_selection import run_tasks
    >>> run_tasks(pow, [(2, 3), (3, 2)])
    [8, 9]
    """
    tasks = list(tasks)
    for i, args in enumerate(tasks):
        if not isinstance(args, tuple | list):
            raise input_error(
                f"tasks[{i}]",
                "a tuple of the positional arguments of one call",
                repr(args),
                "Wrap a single argument as (value,).",
            )
    n_jobs = check_n_jobs(n_jobs)
    weights = [1] * len(tasks) if weights is None else list(weights)
    if len(weights) != len(tasks):
        raise input_error(
            "weights", f"one weight per task ({len(tasks)})", f"{len(weights)}"
        )
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(weights), desc=desc, unit=unit)
    out: list = []
    try:
        if n_jobs == 1 or len(tasks) <= 1:
            results: Iterable = (func(*args) for args in tasks)
        else:
            from joblib import Parallel, delayed

            results = Parallel(n_jobs=n_jobs, return_as="generator")(
                delayed(_call_in_worker)(func, args) for args in tasks
            )
        for weight, result in zip(weights, results, strict=True):
            out.append(result)
            if bar is not None:
                bar.update(weight)
    finally:
        if bar is not None:
            bar.close()
    return out
