"""run_tasks and rank_chain are public: exported and refusing bad input (issue 22)."""

from __future__ import annotations

import numpy as np
import pytest

import neuronmf as nm
import neuronmf.model_selection as ms
from neuronmf.model_selection import chain, runner


def test_exported_from_model_selection():
    assert {"run_tasks", "rank_chain"} <= set(ms.__all__)
    assert ms.run_tasks is runner.run_tasks
    assert ms.rank_chain is chain.rank_chain
    V = np.random.default_rng(0).random((6, 40))
    fits = dict(ms.rank_chain(V, [1, 2], max_iter=20))
    assert [fits[r].W.shape[1] for r in (1, 2)] == [1, 2]


def test_run_tasks_refuses_bad_tasks_and_weights_before_running():
    ran = []

    def record(x):
        ran.append(x)
        return x

    with pytest.raises(nm.InputError, match=r"tasks\[1\] must be a tuple"):
        ms.run_tasks(record, [(1,), 2])
    with pytest.raises(nm.InputError, match=r"weights must be one weight per task"):
        ms.run_tasks(record, [(1,), (2,)], weights=[1])
    assert not ran
    assert ms.run_tasks(record, [(1,), [2]], weights=[2, 1]) == [1, 2]
