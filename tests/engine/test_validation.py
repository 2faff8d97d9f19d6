"""Bad input gets a clear error before any compiled code runs."""

import numpy as np
import pytest
import scipy.sparse

import neuronmf as nm

GOOD = np.random.default_rng(0).random((6, 10))


@pytest.mark.parametrize(
    "V, rank, message",
    [
        (
            -GOOD,
            2,
            r"V must be non-negative; got minimum .* at \(\d+, \d+\)\. "
            r"NMF needs data >= 0",
        ),
        (
            np.where(GOOD > 0.9, np.nan, GOOD),
            2,
            r"V must be finite \(no NaN or Inf\); got \d+ non-finite .* "
            r"pass mask=~np.isnan\(V\)",
        ),
        (np.where(GOOD > 0.9, np.inf, GOOD), 2, r"V must be finite"),
        (GOOD, 0, r"rank must be an integer in \[1, min\(m, n\)\] = \[1, 6\].*got 0"),
        (GOOD, 7, r"rank must be an integer in \[1, min\(m, n\)\] = \[1, 6\].*got 7"),
        (GOOD, 2.5, r"rank must be an integer in \[1, 6\]; got 2.5"),
        (GOOD, True, r"rank must be an integer"),
        (np.zeros((0, 5)), 1, r"V must be non-empty; got shape \(0, 5\)"),
        (np.zeros((4, 5)), 1, r"V must be not all zero"),
        (
            GOOD[0],
            1,
            r"V.ndim must be 2 \(features × samples\); got 1 \(shape \(10,\)\)",
        ),
        (GOOD[None], 1, r"V.ndim must be 2"),
        (np.array([["a", "b"], ["c", "d"]]), 1, r"V.dtype must be a real numeric type"),
        (GOOD.astype(complex), 1, r"V.dtype must be a real numeric type"),
        # scipy.sparse is accepted since issue 25 (tests/engine/test_sparse.py),
        # with the same checks on its stored values
        (scipy.sparse.csr_matrix(-GOOD), 1, r"V must be non-negative"),
    ],
)
def test_bad_data(V, rank, message):
    with pytest.raises(nm.InputError, match=message):
        nm.nmf(V, rank)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"solver": "als"},
            r"solver must be one of 'auto', 'hals', 'mu', 'gradient'; got 'als'",
        ),
        (
            {"init": "svd"},
            r"init must be one of 'random', 'nndsvd', .*'spa'; got 'svd'",
        ),
        (
            {"loss": "itakura"},
            r"loss must be one of 'frobenius', 'kl', 'itakura-saito', or a number "
            r"β .*; got 'itakura'",
        ),
        ({"W": np.ones((6, 3))}, r"W.shape must be \(6, 2\); got \(6, 3\)"),
        ({"H": np.ones((2, 9))}, r"H.shape must be \(2, 10\); got \(2, 9\)"),
        ({"W": -np.ones((6, 2))}, r"W must be non-negative"),
        ({"H": np.full((2, 10), np.nan)}, r"H must be finite"),
        ({"update_W": False}, r"W must be given when update_W=False"),
        ({"l1_H": -1.0}, r"l1_H must be a finite number >= 0; got -1.0"),
        ({"l2_W": "big"}, r"l2_W must be a finite number >= 0; got 'big'"),
        ({"max_iter": 0}, r"max_iter must be an integer >= 1; got 0"),
        ({"n_restarts": 0}, r"n_restarts must be an integer >= 1; got 0"),
        ({"tol": -1e-3}, r"tol must be a finite number >= 0; got -0.001"),
        ({"tol": "1e-4"}, r"tol must be a finite number >= 0; got '1e-4'"),
        ({"update_W": "no"}, r"update_W must be True or False; got 'no'"),
        ({"update_H": 1}, r"update_H must be True or False; got 1"),
        ({"max_iter": 10.0}, r"max_iter must be an integer >= 1; got 10.0"),
        ({"callback": 5}, r"callback must be None or a callable; got 5"),
        ({"progress": "yes"}, r"progress must be True or False"),
        ({"W": np.zeros((6, 2))}, r"W must be not all zero"),
        ({"H": np.zeros((2, 10))}, r"H must be not all zero"),
        ({"seed": -3}, r"seed must be None, an integer >= 0 or a numpy Generator"),
        ({"dtype": "int8"}, r"dtype must be None, 'float32' or 'float64'; got 'int8'"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(nm.InputError, match=message):
        nm.nmf(GOOD, 2, **kwargs)


def test_errors_come_before_any_compiled_work(monkeypatch):
    from neuronmf.engine.solvers import _hals_kernels

    def boom(*args, **kwargs):
        raise AssertionError("compiled code ran")

    monkeypatch.setattr(_hals_kernels, "update_rows", boom)
    monkeypatch.setattr(_hals_kernels, "nnls_rows", boom)
    with pytest.raises(nm.InputError):
        nm.nmf(-GOOD, 2)
    with pytest.raises(nm.InputError):
        nm.nmf(GOOD, 2, W=np.ones((6, 3)))


def test_input_error_is_a_value_error():
    assert issubclass(nm.InputError, ValueError)


def test_project_errors():
    with pytest.raises(nm.InputError, match=r"W.shape must be \(6, rank\)"):
        nm.project(GOOD, np.ones((5, 2)))
    with pytest.raises(nm.InputError, match="W must be non-negative"):
        nm.project(GOOD, -np.ones((6, 2)))
    with pytest.raises(nm.InputError, match="W must be not all zero"):
        nm.project(GOOD, np.zeros((6, 2)))
    with pytest.raises(nm.InputError, match="V must be non-negative"):
        nm.project(-GOOD, np.ones((6, 2)))


@pytest.mark.parametrize(
    "mask, message",
    [
        (
            np.ones((6, 9), bool),
            r"mask.shape must be the data's shape \(6, 10\); got \(6, 9\)",
        ),
        (np.ones((6, 10)), r"mask.dtype must be bool \(True = observed\); got float64"),
        (np.zeros((6, 10), bool), r"mask must be True on at least one entry"),
        (
            np.arange(60).reshape(6, 10) % 10 != 9,
            r"mask must be True somewhere in every column \(sample\); got no observed "
            r"entries in column\(s\) \[9\]",
        ),
        (
            np.vstack([np.ones((5, 10), bool), np.zeros((1, 10), bool)]),
            r"mask must be True somewhere in every row \(feature\); got no observed "
            r"entries in row\(s\) \[5\]",
        ),
    ],
)
def test_bad_masks(mask, message):
    with pytest.raises(nm.InputError, match=message):
        nm.nmf(GOOD, 2, mask=mask)


def test_nan_is_allowed_only_where_masked():
    V = GOOD.copy()
    V[0, 0] = np.nan
    with pytest.raises(nm.InputError, match=r"mask=~np.isnan\(V\)"):
        nm.nmf(V, 2)
    res = nm.nmf(V, 2, mask=~np.isnan(V), seed=0)
    assert np.isfinite(res.loss)
    with pytest.raises(nm.InputError, match="V must be non-negative"):
        bad = V.copy()
        bad[1, 1] = -1
        nm.nmf(bad, 2, mask=~np.isnan(V))


def test_read_only_input_is_accepted_and_not_modified():
    """Memory-mapped or frozen arrays (np.load(mmap_mode="r"), joblib) work."""
    import neuronmf as nm

    V = np.random.default_rng(0).random((20, 60))
    V.flags.writeable = False
    before = V.copy()
    for loss in ("frobenius", "kl"):
        res = nm.nmf(V, 3, loss=loss, seed=0, max_iter=50)
        assert np.all(np.isfinite(res.W))
    assert nm.project(V, res.W).shape == (3, 60)
    np.testing.assert_array_equal(V, before)
