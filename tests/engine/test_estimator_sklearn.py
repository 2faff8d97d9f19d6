"""neuronmf.NMF with scikit-learn's parameters and meanings (issue 25, item 1).

Our own assertions for each difference to scikit-learn's NMF that was fixed; the
count of scikit-learn's own test file is measured by
``benchmarks/sklearn_nmf_suite.py`` (docs/sklearn.md).
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.exceptions

import neuronmf as nm
from neuronmf.engine.estimator import SklearnConvergenceWarning
from neuronmf.errors import ConvergenceWarning, InputError


@pytest.fixture
def X():
    return np.random.default_rng(0).random((30, 8))


# --- solver="cd" ------------------------------------------------------------------


def test_cd_is_hals_on_the_frobenius_loss(X):
    cd = nm.NMF(3, solver="cd", random_state=0).fit(X)
    hals = nm.NMF(3, solver="hals", random_state=0).fit(X)
    assert cd.result_.params["solver"] == "hals"
    np.testing.assert_array_equal(cd.components_, hals.components_)


@pytest.mark.parametrize("beta", [1.0, "kullback-leibler", 0])
def test_cd_is_refused_with_another_loss_before_work(X, beta):
    with pytest.raises(InputError, match=r"solver must be one of .*; got 'cd'") as e:
        nm.NMF(3, solver="cd", beta_loss=beta).fit(X)
    assert (
        f"Invalid beta_loss parameter: solver 'cd' does not handle "
        f"beta_loss = {beta!r}" in str(e.value)
    )
    assert not hasattr(nm.NMF(), "components_")


# --- init=None, n_components="auto", more components than min(shape) ------------


def test_init_none_is_nndsvda_up_to_min_shape_else_random(X):
    assert nm.NMF(3).fit(X).result_.params["init"] == "nndsvda"
    est = nm.NMF(12, random_state=0, tol=1e-2).fit(X)  # 12 > min(30, 8)
    assert est.result_.params["init"] == "random"
    assert est.components_.shape == (12, 8)
    assert np.all(np.isfinite(est.components_))


@pytest.mark.parametrize("init", ["nndsvd", "nndsvda", "nndsvdar", "spa"])
def test_svd_inits_refuse_more_components_than_min_shape(X, init):
    phrase = (
        f"init = '{init}' can only be used when n_components <= "
        "min(n_samples, n_features)"
    )
    with pytest.raises(InputError, match=r"n_components must be <= .*; got 9\."):
        nm.NMF(9, init=init).fit(X)
    with pytest.raises(ValueError) as e:
        nm.NMF(9, init=init).fit(X)
    assert phrase in str(e.value)


def test_function_allows_more_components_with_a_random_start(X):
    res = nm.nmf(X.T, 12, init="random", seed=0, tol=1e-2)
    assert res.W.shape == (8, 12)
    with pytest.raises(InputError, match="rank must be"):
        nm.nmf(X.T, 12)  # nndsvda needs rank <= min(m, n)


def test_n_components_auto_without_custom_init_is_n_features(X):
    est = nm.NMF("auto", init="random", random_state=0, tol=1e-2).fit(X)
    assert est.n_components_ == X.shape[1] == est._n_components


# --- init="custom" with fit(X, W=, H=) --------------------------------------------


def _custom(X, k, seed=1, dtype=None):
    rng = np.random.default_rng(seed)
    W = rng.random((X.shape[0], k))
    H = rng.random((k, X.shape[1]))
    if dtype is not None:
        W, H = W.astype(dtype), H.astype(dtype)
    return W, H


def test_custom_init_starts_from_the_given_factors(X):
    W, H = _custom(X, 3)
    Xe = W @ H  # exactly factorisable: the given start is the optimum
    est = nm.NMF("auto", init="custom", max_iter=5, tol=0).fit(Xe, W=W, H=H)
    assert est.result_.params["init"] == "custom"
    assert est.n_components_ == est._n_components == 3
    assert est.reconstruction_err_ < 1e-6 * np.linalg.norm(Xe)
    # a different start gives a different 5-iteration fit
    other = nm.NMF(3, init="random", max_iter=5, tol=0, random_state=0).fit(Xe)
    assert other.reconstruction_err_ > 1e3 * est.reconstruction_err_


def test_custom_init_checks_before_work(X):
    W, H = _custom(X, 3)
    est = nm.NMF(3, init="custom")
    with pytest.raises(InputError, match="Array with wrong first dimension passed"):
        est.fit(X, W=W[:-1], H=H)
    with pytest.raises(InputError, match="Array with wrong second dimension passed"):
        est.fit(X, W=W, H=H[:, :-1])
    with pytest.raises(InputError, match="Array with wrong first dimension passed"):
        est.fit(X, W=W, H=H[:2])  # H has 2 rows, n_components is 3
    with pytest.raises(InputError, match="W must be given"):
        est.fit(X, H=H)
    with pytest.raises(InputError, match="full of zeros"):
        est.fit(X, W=W, H=np.zeros_like(H))
    with pytest.raises(ValueError, match="Negative values"):
        est.fit(X, W=-W, H=H)
    _, H32 = _custom(X, 3, dtype=np.float32)
    with pytest.raises(TypeError, match="should have the same dtype as X"):
        est.fit(X, W=W, H=H32)
    with pytest.raises(InputError, match=r"H\.dtype must be X's dtype float64"):
        est.fit(X, W=W, H=H32)
    assert not hasattr(est, "components_")


def test_custom_factors_with_another_init_warn_and_are_ignored(X):
    W, H = _custom(X, 3)
    with pytest.warns(RuntimeWarning, match="provided W or H are ignored"):
        a = nm.NMF(3, random_state=0).fit(X, W=W, H=H)
    b = nm.NMF(3, random_state=0).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)


# --- the convergence warning ----------------------------------------------------


def test_convergence_warning_follows_scikit_learns_rule():
    A = np.ones((2, 2))  # fitted exactly at once: the engine calls it converged
    for solver in ("cd", "mu"):
        with pytest.warns(SklearnConvergenceWarning) as rec:
            nm.NMF(1, max_iter=1, solver=solver).fit(A)
        assert len(rec) == 1
        w = rec[0].message
        assert isinstance(w, sklearn.exceptions.ConvergenceWarning)
        assert isinstance(w, ConvergenceWarning)
        assert "Maximum number of iterations 1 reached. Increase it" in str(w)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nm.NMF(1, max_iter=1, tol=0).fit(A)  # tol=0: run to max_iter, no warning


# --- feature names, verbose, shuffle ------------------------------------------


def test_feature_names_out_and_pandas_output(X):
    est = nm.NMF(3).fit(X)
    assert list(est.get_feature_names_out()) == ["nmf0", "nmf1", "nmf2"]
    pd = pytest.importorskip("pandas")
    out = nm.NMF(2).set_output(transform="pandas").fit_transform(pd.DataFrame(X))
    assert list(out.columns) == ["nmf0", "nmf1"]


def test_verbose_shows_progress(X, capsys):
    nm.NMF(2, verbose=1, max_iter=20, tol=0).fit(X)
    assert "NMF rank 2" in capsys.readouterr().err
    nm.NMF(2, verbose=0, max_iter=20, tol=0).fit(X)
    assert capsys.readouterr().err == ""


def test_shuffle_refused_for_coordinate_descent_ignored_for_mu(X):
    with pytest.raises(InputError, match="shuffle must be False"):
        nm.NMF(2, solver="cd", shuffle=True).fit(X)
    a = nm.NMF(2, solver="mu", shuffle=True, random_state=0).fit(X)
    b = nm.NMF(2, solver="mu", random_state=0).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)


# --- sparse input -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", [sp.csr_array, sp.csc_matrix])
def test_sparse_input_is_passed_to_the_engine_and_matches_dense(fmt, monkeypatch):
    from neuronmf.engine import estimator

    seen = []

    def spy(V, *args, **kwargs):
        seen.append(sp.issparse(V))
        return check_options(V, *args, **kwargs)

    check_options = estimator.check_options
    monkeypatch.setattr(estimator, "check_options", spy)
    rng = np.random.default_rng(3)
    X = rng.random((40, 12)) * (rng.random((40, 12)) < 0.3)
    Xs = fmt(X)
    kw = dict(n_components=3, init="random", random_state=0, tol=0, max_iter=50)
    dense = nm.NMF(**kw, solver="cd")
    Zd = dense.fit_transform(X)
    est = nm.NMF(**kw, solver="cd")
    Zs = est.fit_transform(Xs)
    assert seen == [False, True]  # the engine got the sparse matrix itself
    np.testing.assert_allclose(Zs, Zd, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(est.components_, dense.components_, rtol=1e-9)
    assert est.reconstruction_err_ == pytest.approx(dense.reconstruction_err_)
    np.testing.assert_allclose(est.transform(Xs), dense.transform(X), atol=1e-9)
    Z = est.inverse_transform(sp.csr_matrix(Zs))
    assert isinstance(Z, np.ndarray)
    np.testing.assert_allclose(Z, Zs @ est.components_)


# --- exact zeros from MU, penalties that zero a factor --------------------------


def test_mu_returns_exact_zeros_where_the_updates_drive_entries_to_zero():
    rng = np.random.default_rng(4)
    X = np.zeros((20, 8))
    X[:10, :4] = rng.random((10, 4)) + 0.5
    X[10:, 4:] = rng.random((10, 4)) + 0.5
    est = nm.NMF(2, solver="mu", beta_loss=1, init="random", random_state=0)
    Z = est.fit_transform(X)
    R = est.inverse_transform(Z)
    assert np.all(R[X == 0] == 0)  # the floor 1e-16 is not left behind
    F = np.concatenate([Z.ravel(), est.components_.ravel()])
    assert not np.any((F > 0) & (F <= 1e-15))


def test_penalties_that_zero_the_parts_warn_and_give_zeros(X):
    X32 = X.astype(np.float32)
    est = nm.NMF(3, alpha_W=50.0, random_state=0)
    with pytest.warns(UserWarning, match="drive every entry of W to zero"):
        est.fit(X32)
    assert not est.components_.any()
    Z = est.transform(X32)
    assert Z.dtype == np.float32 and Z.shape == (30, 3) and not Z.any()
    assert est.reconstruction_err_ == pytest.approx(np.linalg.norm(X32), rel=1e-6)
    # the function keeps refusing them (its house rule)
    with pytest.raises(InputError, match="small enough to leave a non-zero factor"):
        nm.nmf(X.T, 3, l2_W=1e4, l2_H=1e4)


@pytest.mark.parametrize("penalties", [{}, {"alpha_W": 0.01, "l1_ratio": 0.5}])
def test_sparse_mu_matches_dense_mu_by_gram_objective(monkeypatch, penalties):
    from neuronmf.engine.solvers import mu

    rng = np.random.default_rng(5)
    X = rng.random((25, 15)) * (rng.random((25, 15)) < 0.4)
    kw = dict(n_components=4, init="random", random_state=0, tol=0, max_iter=60)
    dense = nm.NMF(**kw, solver="mu", **penalties)
    Zd = dense.fit_transform(X)
    calls = []

    def counted(*args):
        calls.append(1)
        return gram_residual(*args)

    gram_residual = mu.squared_residual
    monkeypatch.setattr(mu, "squared_residual", counted)
    est = nm.NMF(**kw, solver="mu", **penalties)
    Zs = est.fit_transform(sp.csc_array(X))
    assert est.result_.params["solver"] == "mu"
    assert len(calls) == 60  # the objective of each iterate from Grams, not W·H
    np.testing.assert_allclose(Zs, Zd, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(est.components_, dense.components_, rtol=1e-9)


def test_reconstruction_err_is_scikit_learns_for_kl_dense_and_sparse():
    from neuronmf.engine.losses import kl_divergence

    rng = np.random.default_rng(6)
    X = rng.poisson(2.0, (40, 10)).astype(float)
    est = nm.NMF(3, beta_loss="kullback-leibler", random_state=0).fit(X)
    WH = est.transform(X) @ est.components_
    fitted = est.result_.W @ est.result_.H
    expected = np.sqrt(2 * kl_divergence(X.T, fitted))
    assert est.reconstruction_err_ == pytest.approx(expected, rel=1e-10)
    assert est.reconstruction_err_ != pytest.approx(np.linalg.norm(X - WH), rel=1e-3)
    sparse = nm.NMF(3, beta_loss="kullback-leibler", random_state=0).fit(
        sp.csr_matrix(X)
    )
    assert sparse.reconstruction_err_ == pytest.approx(est.reconstruction_err_, 1e-6)
