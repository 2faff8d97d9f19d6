"""Thread counts chosen by problem size; the user's settings win (issue 21, 11(d))."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from neuronmf import _threads
from neuronmf._threads import SMALL_PROBLEM_ELEMENTS, blas_threads_for


def _blas_threads() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


@pytest.fixture
def no_thread_env(monkeypatch):
    for name in _threads.THREAD_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_threads, "_default_threads", lambda: 4)


def test_small_problem_runs_on_one_thread(no_thread_env):
    with threadpool_limits(4, user_api="blas"):  # a 4-core machine's default
        with blas_threads_for(90 * 35):
            assert set(_blas_threads()) == {1}
        assert set(_blas_threads()) == {4}  # restored


def test_large_problem_keeps_the_threads(no_thread_env):
    with threadpool_limits(4, user_api="blas"):
        with blas_threads_for(SMALL_PROBLEM_ELEMENTS):
            assert set(_blas_threads()) == {4}


def test_users_threadpool_limits_win(no_thread_env):
    with threadpool_limits(2, user_api="blas"):  # below the default of 4: the user's
        with blas_threads_for(10):
            assert set(_blas_threads()) == {2}


@pytest.mark.parametrize("name", ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"])
def test_users_environment_wins(no_thread_env, monkeypatch, name):
    monkeypatch.setenv(name, "4")
    with threadpool_limits(4, user_api="blas"):
        with blas_threads_for(10):
            assert set(_blas_threads()) == {4}


def test_decode_fits_its_glms_on_one_thread():
    """The cross-validated GLM fits of a small decode run on one BLAS thread."""
    code = r"""
import numpy as np, warnings
from threadpoolctl import threadpool_info
import neuronmf as nm
from neuronmf import _threads
from sklearn.linear_model import LogisticRegression
_threads._default_threads = lambda: 2
seen = []
fit = LogisticRegression.fit
def spy(self, *a, **k):
    seen.append(max(p["num_threads"] for p in threadpool_info()
                    if p["user_api"] == "blas"))
    return fit(self, *a, **k)
LogisticRegression.fit = spy
rng = np.random.default_rng(0)
y = np.tile(np.arange(3), 20)
X = rng.poisson(2.0, size=(60, 8)).astype(float)
warnings.simplefilter("ignore")
nm.decoding.decode(X, y, model="multinomial", features="raw", n_null=0, cv=3,
                   inner_cv=2, alphas=[1.0])
print(sorted(set(seen)), len(seen))
"""
    env = {k: v for k, v in os.environ.items() if k not in _threads.THREAD_ENV_VARS}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    threads, n_fits = out.stdout.split("]")
    assert threads.strip() == "[1" and int(n_fits) > 0, out.stdout


def test_segment_runs_its_patches_on_one_blas_thread(no_thread_env, monkeypatch):
    """Patches are many small products: one BLAS thread each, restored after."""
    import importlib

    from neuronmf.datasets import simulate_movie
    from neuronmf.imaging import segment

    module = importlib.import_module("neuronmf.imaging.segment")
    seen = []
    inner = module._segment_patch

    def spy(*args, **kwargs):
        seen.append(max(_blas_threads()))
        return inner(*args, **kwargs)

    monkeypatch.setattr(module, "_segment_patch", spy)
    sim = simulate_movie((48, 48), 60, 6, 4.0, seed=0)
    with threadpool_limits(4, user_api="blas"):
        segment(sim.data, neuron_radius=4.0, n_jobs=2)
        assert set(_blas_threads()) == {4}  # restored
    assert seen and set(seen) == {1}
