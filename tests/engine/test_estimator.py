"""neuronmf.NMF as a scikit-learn estimator."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

import neuronmf as nm
from tests.conftest import planted

# Every check of scikit-learn's suite runs and passes; scikit-learn itself skips
# check_array_api_input unless SCIPY_ARRAY_API is set (neuronmf's kernels take
# NumPy arrays only, so array-API inputs are out of scope).


@parametrize_with_checks([nm.NMF(n_components=2, max_iter=200, seed=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_estimator_and_function_share_one_fit_path():
    V, _, _ = planted(20, 300, 3, snr_db=30, seed=0)
    res = nm.nmf(V, 3, seed=0)
    est = nm.NMF(n_components=3, seed=0)
    Z = est.fit_transform(V.T)
    np.testing.assert_array_equal(est.components_, res.W.T)
    np.testing.assert_array_equal(Z, res.H.T)
    assert est.n_iter_ == res.n_iter
    assert est.reconstruction_err_ == pytest.approx(np.linalg.norm(V - res.W @ res.H))


def test_transform_projects_new_samples():
    V, _, _ = planted(20, 300, 3, snr_db=40, seed=1)
    X = V.T
    est = nm.NMF(n_components=3, seed=0).fit(X[:200])
    Z = est.transform(X[200:])
    assert Z.shape == (100, 3) and Z.min() >= 0
    assert np.linalg.norm(est.inverse_transform(Z) - X[200:]) < 0.05 * np.linalg.norm(
        X[200:]
    )


def test_pipeline_and_grid_search():
    rng = np.random.default_rng(0)
    V, _W, H = planted(15, 400, 3, snr_db=30, seed=2)
    X = V.T
    y = H[0] * 2.0 + 0.01 * rng.standard_normal(400)
    pipe = make_pipeline(nm.NMF(seed=0, max_iter=300), Ridge(alpha=1e-3))
    search = GridSearchCV(pipe, {"nmf__n_components": [1, 3]}, cv=KFold(3))
    search.fit(X, y)
    assert search.best_params_ == {"nmf__n_components": 3}
    assert search.best_score_ > 0.9
    twin = clone(nm.NMF(n_components=4, l1_H=0.1))
    assert twin.get_params()["n_components"] == 4 and twin.get_params()["l1_H"] == 0.1


def _poisson(seed=0, n=300, m=40, k=3):
    rng = np.random.default_rng(seed)
    rate = rng.gamma(1.0, 1.0, (n, k)) @ rng.gamma(1.0, 2.0, (k, m))
    return rng.poisson(rate).astype(float)


@pytest.mark.parametrize("loss", ["frobenius", "kl"])
def test_transform_minimises_the_fitted_loss(loss):
    # issue 22: transform of a KL fit solved Frobenius NNLS (off by up to 4.25)
    X = _poisson()
    est = nm.NMF(3, loss=loss, seed=0, tol=1e-10, max_iter=5000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nm.ConvergenceWarning)
        Z = est.fit_transform(X)
    T = est.transform(X)
    assert np.abs(T - Z).max() < 1e-5 * Z.max()


def test_partial_fit_refuses_kl():
    X = _poisson(n=50)
    with pytest.raises(nm.InputError, match="loss for partial_fit"):
        nm.NMF(3, loss="kl", seed=0).partial_fit(X)
