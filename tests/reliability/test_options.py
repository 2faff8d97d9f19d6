"""Issue 21, defect 7: options are validated, never coerced.

Every reproducer of the issue, plus the same class in the other public entry
points of the engine (nmf, NMF, project, joint_nmf, select_rank).
"""

import warnings

import numpy as np
import pytest

import neuronmf as nm
from neuronmf.engine import _validation as check
from tests.conftest import planted

V, W0, H0 = planted(12, 60, 3, snr_db=30, seed=4)


def test_update_W_string_is_refused():
    # reproducer: update_W="no" updated W (bool("no") is True)
    with pytest.raises(nm.InputError, match="update_W must be True or False; got 'no'"):
        nm.nmf(V, 3, W=W0, update_W="no", max_iter=5)
    with pytest.raises(nm.InputError, match="update_H must be True or False; got 0"):
        nm.nmf(V, 3, H=H0, update_H=0, max_iter=5)


def test_numpy_bools_are_accepted_and_fix_the_factor():
    res = nm.nmf(V, 3, W=W0, update_W=np.False_, tol=1e-3)
    np.testing.assert_array_equal(res.W, W0)


@pytest.mark.parametrize(
    "ranks, shown",
    [([1.5, 2], "got 1.5"), (["2", "3"], "got '2'"), ([2, True], "got True")],
)
def test_select_rank_refuses_non_integer_ranks(ranks, shown):
    # reproducer: [1.5, 2] fitted rank 1; ["2", "3"] was accepted
    with pytest.raises(nm.InputError, match=rf"ranks\[i\] must be an integer; {shown}"):
        nm.select_rank(V, ranks, seed=0)


def test_select_rank_accepts_numpy_integers():
    scan = nm.select_rank(V, np.arange(1, 4), method="vaf", seed=0)
    assert scan.best_rank in (1, 2, 3)


def test_joint_float_mask_is_refused():
    # reproducer: a float mask was cast to bool (every non-zero entry observed)
    mask = np.random.default_rng(0).random(V.shape)
    with pytest.raises(
        nm.InputError,
        match=r"masks\[0\].dtype must be bool \(True = observed\); got float64. "
        r"Build it with a comparison",
    ):
        nm.joint_nmf([V, V], 3, masks=[mask, None], seed=0, max_iter=5)
    # an exact 0/1 array is refused too (one rule), with the conversion named
    with pytest.raises(nm.InputError, match=r"m.astype\(bool\)"):
        nm.joint_nmf([V, V], 3, masks=[np.ones(V.shape), None], seed=0, max_iter=5)


def test_joint_weights_must_be_numbers():
    with pytest.raises(nm.InputError, match="weights must be 2 finite numbers > 0"):
        nm.joint_nmf([V, V], 3, weights=["1", "2"], max_iter=5)
    with pytest.raises(nm.InputError, match="weights must be 2 finite numbers > 0"):
        nm.joint_nmf([V, V], 3, weights=[True, 1.0], max_iter=5)
    res = nm.joint_nmf([V, V], 3, weights=[np.float32(1), np.int64(2)], max_iter=5)
    np.testing.assert_array_equal(res.weights, [1.0, 2.0])


def test_callback_not_callable_is_refused_before_the_fit(monkeypatch):
    # reproducer: callback=5 failed with a TypeError at the first iteration
    from neuronmf.engine.solvers import _hals_kernels

    def boom(*args, **kwargs):
        raise AssertionError("compiled code ran")

    monkeypatch.setattr(_hals_kernels, "update_rows", boom)
    with pytest.raises(nm.InputError, match="callback must be None or a callable"):
        nm.nmf(V, 3, callback=5)


def test_numpy_float_tol_is_accepted():
    # reproducer: tol=np.float32(1e-4) was refused
    a = nm.nmf(V, 3, seed=0, tol=np.float32(1e-4))
    b = nm.nmf(V, 3, seed=0, tol=float(np.float32(1e-4)))
    np.testing.assert_array_equal(a.W, b.W)
    assert nm.NMF(3, tol=np.float64(1e-4), seed=0).fit(V.T).n_iter_ == a.n_iter


def test_tol_zero_runs_to_max_iter_without_warning():
    # reproducer: tol=0 was refused; scikit-learn accepts it (run to max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("error", nm.ConvergenceWarning)
        res = nm.nmf(V, 3, seed=0, tol=0, max_iter=40, escape=False)
    assert res.n_iter == 40
    assert nm.NMF(3, tol=0, max_iter=25, seed=0, escape=False).fit(V.T).n_iter_ == 25


@pytest.mark.parametrize("which", ["W", "H", "both"])
def test_all_zero_initial_factors_are_refused(which):
    # reproducer: all-zero W/H accepted, vaf 0 after one iteration
    kwargs = {
        "W": np.zeros((12, 3)) if which in ("W", "both") else W0,
        "H": np.zeros((3, 60)) if which in ("H", "both") else H0,
    }
    name = "W" if which != "H" else "H"
    with pytest.raises(nm.InputError, match=rf"{name} must be not all zero"):
        nm.nmf(V, 3, **kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_iter": 10.0}, r"max_iter must be an integer >= 1; got 10.0"),
        ({"max_iter": "10"}, r"max_iter must be an integer >= 1; got '10'"),
        ({"n_restarts": np.float64(2)}, r"n_restarts must be an integer >= 1"),
        ({"escape": "False"}, r"escape must be True or False; got 'False'"),
        ({"progress": 1}, r"progress must be True or False; got 1"),
        ({"l1_H": "0.1"}, r"l1_H must be a finite number >= 0; got '0.1'"),
        ({"l2_W": np.inf}, r"l2_W must be a finite number >= 0"),
        ({"tol": np.nan}, r"tol must be a finite number >= 0"),
        ({"tol": True}, r"tol must be a finite number >= 0; got True"),
        ({"seed": 1.0}, r"seed must be None, an integer >= 0"),
        ({"seed": np.True_}, r"seed must be None, an integer >= 0"),
    ],
)
def test_nmf_options_are_not_coerced(kwargs, message):
    with pytest.raises(nm.InputError, match=message):
        nm.nmf(V, 3, **kwargs)


def test_checkpoint_options_are_not_coerced(tmp_path):
    with pytest.raises(nm.InputError, match="resume must be True or False; got 'yes'"):
        nm.nmf(V, 3, checkpoint=tmp_path / "a.npz", resume="yes")
    with pytest.raises(nm.InputError, match="checkpoint_every must be an integer >= 1"):
        nm.nmf(V, 3, checkpoint=tmp_path / "a.npz", checkpoint_every=2.5)


def test_estimator_options_are_not_coerced():
    with pytest.raises(nm.InputError, match="n_components"):
        nm.NMF(n_components=2.0).fit(V.T)
    with pytest.raises(nm.InputError, match="escape must be True or False"):
        nm.NMF(3, escape="no").fit(V.T)
    with pytest.raises(nm.InputError, match="progress must be True or False"):
        nm.NMF(3, progress="no").fit(V.T)


def test_project_options_are_not_coerced():
    with pytest.raises(nm.InputError, match="tol must be a finite number >= 0"):
        nm.project(V, W0, tol="1e-8")
    with pytest.raises(nm.InputError, match="max_iter must be an integer >= 1"):
        nm.project(V, W0, loss="kl", max_iter=1.5)


def test_shared_helpers():
    assert check.check_bool("x", np.bool_(True)) is True
    assert check.check_int("x", np.int32(3), 1, 5) == 3
    assert check.check_real("x", np.float32(0.25), 0.0) == 0.25
    assert check.check_real("x", 0, 0.0) == 0.0
    for bad in ("1", 1.0, True, None):
        with pytest.raises(nm.InputError):
            check.check_int("x", bad)
    with pytest.raises(nm.InputError, match=r"x must be an integer in \[1, 5\]"):
        check.check_int("x", 6, 1, 5)
    with pytest.raises(nm.InputError, match="x must be a finite number > 0"):
        check.check_real("x", 0.0, 0.0, strict=True)
    with pytest.raises(nm.InputError, match="x must be None or a callable"):
        check.check_callable("x", "print")


def test_partial_fit_options_are_not_coerced():
    with pytest.raises(nm.InputError, match="memory must be a finite number > 0"):
        nm.NMF(3, seed=0).partial_fit(V.T, memory="100")
    with pytest.raises(nm.InputError, match="l1_H must be a finite number >= 0"):
        nm.NMF(3, seed=0, l1_H="0.1").partial_fit(V.T)
    with pytest.raises(nm.InputError, match="n_components must be an integer >= 1"):
        nm.NMF(2.5, seed=0).partial_fit(V.T)
