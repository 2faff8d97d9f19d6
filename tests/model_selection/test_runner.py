"""The one parallel runner and the warm-started rank chain (issue 22 item 2)."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info

import neuronmf as nm
from neuronmf.model_selection import chain, runner
from neuronmf.model_selection.chain import rank_chain
from neuronmf.model_selection.runner import run_tasks


def test_results_in_task_order_whatever_n_jobs():
    tasks = [(i, 3) for i in range(7)]
    assert (
        run_tasks(pow, tasks, n_jobs=2)
        == run_tasks(pow, tasks)
        == [i**3 for i in range(7)]
    )


def test_workers_run_numba_and_blas_on_one_thread():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba has one thread here anyway")
    assert run_tasks(numba.get_num_threads, [(), ()], n_jobs=2) == [1, 1]
    infos = run_tasks(threadpool_info, [(), ()], n_jobs=2)
    blas = [p["num_threads"] for info in infos for p in info if p["user_api"] == "blas"]
    assert blas and set(blas) == {1}
    # the calling process keeps its threads (n_jobs=1 runs here, unpinned)
    assert run_tasks(numba.get_num_threads, [()]) == [numba.get_num_threads()] != [1]


def test_progress_counts_the_weights(monkeypatch):
    counted = []

    class Bar:
        def __init__(self, total, **kw):
            counted.append(total)

        def update(self, n):
            counted.append(n)

        def close(self):
            counted.append("closed")

    import tqdm.auto

    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    run_tasks(pow, [(2, 1), (2, 2)], progress=True, weights=[3, 5])
    assert counted == [8, 3, 5, "closed"]


@pytest.mark.parametrize("n_jobs", [0, -2, True, 1.5, "2"])
def test_bad_n_jobs_refused(n_jobs):
    with pytest.raises(nm.InputError, match="n_jobs must be a positive integer"):
        run_tasks(pow, [(1, 1)], n_jobs=n_jobs)


def test_select_rank_runs_its_ranks_through_the_runner(monkeypatch):
    calls = []
    real = runner.run_tasks

    def spy(func, tasks, **kw):
        tasks = list(tasks)
        calls.append((func.__name__, len(tasks), kw["n_jobs"]))
        return real(func, tasks, **kw)

    monkeypatch.setattr(runner, "run_tasks", spy)
    rng = np.random.default_rng(0)
    V = rng.random((12, 2)) @ rng.random((2, 60))
    nm.select_rank(V, [1, 2, 3], method="vaf", n_jobs=2, seed=0)
    assert calls == [("_scan_rank", 3, 2)]


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((15, 3)) @ rng.random((3, 80)) + 0.01


@pytest.mark.filterwarnings("ignore:NMF stopped at max_iter")
def test_chain_fits_each_rank_once_from_the_previous(monkeypatch):
    starts, real = [], chain.nmf

    def spy(V, r, **kw):
        starts.append((r, kw["W"].copy(), kw["H"].copy()))
        return real(V, r, **kw)

    monkeypatch.setattr(chain, "nmf", spy)
    fits = list(rank_chain(_data(), [1, 2, 4], max_iter=30, seed=3))
    assert [r for r, _ in fits] == [1, 2, 4]
    assert [r for r, *_ in starts] == [1, 2, 4]  # one fit per rank
    for (_, prev), (r, W0, H0) in zip(fits, starts[1:], strict=False):
        k = prev.W.shape[1]  # the previous solution, then new components
        np.testing.assert_array_equal(W0[:, :k], prev.W)
        np.testing.assert_array_equal(H0[:k], prev.H)
        assert W0.shape[1] == r
    # seeded: the chain is reproducible
    again = list(rank_chain(_data(), [1, 2, 4], max_iter=30, seed=3))
    np.testing.assert_array_equal(again[-1][1].W, fits[-1][1].W)


@pytest.mark.parametrize(
    ("ranks", "kw", "match"),
    [
        ([2, 1], {}, "strictly increasing"),
        ([1, 1], {}, "strictly increasing"),
        ([0, 1], {}, "strictly increasing"),
        ([1, 16], {}, r"\[1, 15\]"),
        ([], {}, "non-empty"),
        ([1.5], {}, "an integer"),
        ([1, 2], {"W": np.ones((15, 2))}, "rank chain sets itself"),
    ],
)
def test_chain_refuses_bad_input_before_any_fit(monkeypatch, ranks, kw, match):
    def boom(*a, **k):
        raise AssertionError("a fit ran before validation")

    monkeypatch.setattr(chain, "nmf", boom)
    with pytest.raises(nm.InputError, match=match):
        rank_chain(_data(), ranks, **kw)
