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


@parametrize_with_checks([nm.NMF(n_components=2, max_iter=200, random_state=0)])
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


def _fit(**kw):
    V, _, _ = planted(12, 80, 3, snr_db=30, seed=3)
    est = nm.NMF(3, max_iter=300, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nm.ConvergenceWarning)
        return est.fit_transform(V.T), est


@pytest.mark.parametrize(
    "sk, own",
    [
        ({"random_state": 4, "init": "random"}, {"seed": 4, "init": "random"}),
        ({"beta_loss": "kullback-leibler"}, {"loss": "kl"}),
        ({"beta_loss": 1}, {"loss": "kl"}),
        ({"beta_loss": 2.0}, {"loss": "frobenius"}),
        # alpha_W acts on the activations (n_features = 12), alpha_H on the
        # parts (n_samples = 80); l2 carries ½ in both conventions
        ({"alpha_W": 0.1, "alpha_H": 0.0, "l1_ratio": 1.0}, {"l1_H": 1.2}),
        ({"alpha_W": 0.0, "alpha_H": 0.01, "l1_ratio": 0.0}, {"l2_W": 0.8}),
        (
            {"alpha_W": 0.1, "l1_ratio": 0.25},  # alpha_H="same"
            {"l1_H": 0.3, "l2_H": 0.9, "l1_W": 2.0, "l2_W": 6.0},
        ),
    ],
)
def test_sklearn_names_give_the_same_fit(sk, own):
    Z1, a = _fit(**sk)
    Z2, b = _fit(**own)
    np.testing.assert_allclose(Z1, Z2, rtol=1e-12, atol=0)
    np.testing.assert_allclose(a.components_, b.components_, rtol=1e-12, atol=0)
    for key in ("loss", "l1_W", "l1_H", "l2_W", "l2_H"):
        assert a.result_.params[key] == pytest.approx(b.result_.params[key])


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"seed": 1, "random_state": 2}, "seed and random_state"),
        ({"loss": "kl", "beta_loss": "frobenius"}, "loss and beta_loss"),
        ({"beta_loss": "poisson"}, "beta_loss must be"),
        # an explicit loss that beta_loss contradicts (it used to fit KL silently)
        ({"loss": "frobenius", "beta_loss": 1}, "loss and beta_loss"),
        ({"loss": "frobenius", "beta_loss": "kullback-leibler"}, "loss and beta_loss"),
        ({"alpha_W": 0.1, "l1_H": 5.0, "l1_ratio": 1.0}, "l1_H and alpha_W"),
        ({"alpha_H": "other"}, "alpha_H"),
        ({"alpha_W": 0.1, "l1_ratio": 1.5}, "l1_ratio"),
    ],
)
def test_conflicting_or_unsupported_sklearn_names_are_refused(kw, match):
    V, _, _ = planted(12, 80, 3, snr_db=30, seed=3)
    with pytest.raises(nm.InputError, match=match):
        nm.NMF(3, **kw).fit(V.T)


def test_agreeing_spellings_are_accepted():
    _, a = _fit(seed=4, random_state=4, loss="kl", beta_loss=1)
    _, b = _fit(seed=4, loss="kl")
    np.testing.assert_array_equal(a.components_, b.components_)


def _sk_objective(X, W, H, alpha_W, alpha_H, l1_ratio):
    """scikit-learn's regularised Frobenius objective, its orientation (X ≈ W·H)."""
    n, m = X.shape
    return (
        0.5 * np.sum((X - W @ H) ** 2)
        + alpha_W * m * (l1_ratio * W.sum() + 0.5 * (1 - l1_ratio) * np.sum(W**2))
        + alpha_H * n * (l1_ratio * H.sum() + 0.5 * (1 - l1_ratio) * np.sum(H**2))
    )


def _balanced(objective, W, H):
    """Each component's scale split between W and H to minimise the objective
    (neuronmf returns unit-norm parts, which changes the penalty, not W·H)."""
    from scipy.optimize import minimize_scalar

    W, H = W.copy(), H.copy()
    for k in range(W.shape[1]):

        def f(log_c, k=k):
            c = np.exp(log_c)
            W2, H2 = W.copy(), H.copy()
            W2[:, k] *= c
            H2[k] /= c
            return objective(W2, H2)

        c = np.exp(
            minimize_scalar(
                f, bounds=(-20, 20), method="bounded", options={"xatol": 1e-12}
            ).x
        )
        W[:, k] *= c
        H[k] /= c
    return W, H


def test_alphas_reach_sklearn_cd_objective():
    from sklearn.decomposition import NMF as SkNMF

    rng = np.random.default_rng(1)
    X = rng.random((60, 3)) @ rng.random((3, 25)) + 0.05 * rng.random((60, 25))
    alphas = {"alpha_W": 0.01, "alpha_H": 0.02, "l1_ratio": 0.5}

    def objective(W, H):
        return _sk_objective(X, W, H, **alphas)

    sk = SkNMF(3, solver="cd", init="nndsvda", tol=1e-10, max_iter=20000, **alphas)
    ref = objective(sk.fit_transform(X), sk.components_)
    est = nm.NMF(3, tol=1e-10, max_iter=20000, seed=0, **alphas)
    ours = objective(*_balanced(objective, est.fit_transform(X), est.components_))
    assert ours == pytest.approx(ref, rel=1e-6)
    assert est.result_.loss == pytest.approx(ref, rel=1e-6)
    # without the penalties both would be lower: the alphas were applied
    plain = nm.NMF(3, tol=1e-10, max_iter=20000, seed=0)
    assert 0.5 * np.linalg.norm(X - plain.fit_transform(X) @ plain.components_) ** 2 < (
        0.9 * ref
    )


def test_clone_keeps_sklearn_names():
    est = nm.NMF(
        3,
        random_state=0,
        beta_loss="kullback-leibler",
        alpha_W=0.1,
        alpha_H="same",
        l1_ratio=0.3,
    )
    twin = clone(est)
    assert twin.get_params() == est.get_params()
    assert twin.get_params()["alpha_H"] == "same" and twin.random_state == 0
    twin.set_params(alpha_H=0.2, beta_loss=2)
    assert twin.alpha_H == 0.2 and twin._loss() == "frobenius"
