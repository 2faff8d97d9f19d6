"""Checkpoints: a fit killed mid-way and resumed ends as an uninterrupted one."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import neuronmf as nm
from tests.conftest import REPO, planted

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, warnings
    warnings.simplefilter("ignore")
    import neuronmf as nm
    from tests.conftest import planted
    V, _, _ = planted(40, 300, 4, snr_db=15, seed=0)
    def die(iteration, loss):
        if iteration == 23:
            os.kill(os.getpid(), signal.SIGKILL)
    nm.nmf(V, 4, loss=sys.argv[2], seed=0, max_iter=60, tol=1e-14,
           checkpoint=sys.argv[1], checkpoint_every=5, callback=die)
    """
)


@pytest.mark.parametrize("loss", ["frobenius", "kl"])
def test_killed_then_resumed_fit_equals_the_uninterrupted_fit(tmp_path, loss):
    path = tmp_path / "fit.npz"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path), loss],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=300,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]  # killed
    saved = np.load(path)
    assert int(saved["n_iter"]) == 20  # the last checkpoint before the kill
    V, _, _ = planted(40, 300, 4, snr_db=15, seed=0)
    whole = nm.nmf(V, 4, loss=loss, seed=0, max_iter=60, tol=1e-14)
    resumed = nm.nmf(
        V, 4, loss=loss, seed=0, max_iter=60, tol=1e-14, checkpoint=path, resume=True
    )
    np.testing.assert_array_equal(resumed.W, whole.W)
    np.testing.assert_array_equal(resumed.H, whole.H)
    assert resumed.loss_history == whole.loss_history


def test_checkpoint_of_another_problem_is_refused(tmp_path):
    V, _, _ = planted(20, 50, 3, seed=1)
    path = tmp_path / "fit.npz"
    nm.nmf(V, 3, seed=0, max_iter=5, checkpoint=path)
    with pytest.raises(
        nm.InputError, match="the checkpoint must be from the same problem"
    ):
        nm.nmf(V, 2, seed=0, checkpoint=path, resume=True)


def test_checkpoint_option_errors(tmp_path):
    V, _, _ = planted(20, 50, 3, seed=1)
    with pytest.raises(nm.InputError, match="n_restarts must be 1 when checkpoint="):
        nm.nmf(V, 3, n_restarts=2, checkpoint=tmp_path / "x.npz")
    with pytest.raises(nm.InputError, match="solver must be 'hals' or 'ccd'"):
        nm.nmf(V, 3, solver="mu", checkpoint=tmp_path / "x.npz")
    with pytest.raises(nm.InputError, match="checkpoint must be a path in an existing"):
        nm.nmf(V, 3, checkpoint=tmp_path / "missing" / "x.npz")
    with pytest.raises(
        nm.InputError, match="checkpoint must be a path when resume=True"
    ):
        nm.nmf(V, 3, resume=True)
