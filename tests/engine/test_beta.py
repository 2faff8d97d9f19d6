"""The β-divergence family (losses/beta.py): Itakura–Saito and any β by MU."""

import warnings

import numpy as np
import pytest

import neuronmf as nm
from neuronmf.engine import losses
from neuronmf.engine.losses import beta as B


def _data(m=12, n=60, r=3, seed=0):
    rng = np.random.default_rng(seed)
    V = rng.gamma(2.0, 1.0, (m, r)) @ rng.gamma(2.0, 1.0, (r, n))
    V *= rng.gamma(4.0, 0.25, V.shape)  # multiplicative (spectrogram-like) noise
    W0 = rng.random((m, r)) + 0.1
    H0 = rng.random((r, n)) + 0.1
    return V, W0, H0


def _fit(V, loss, W0, H0, n_iter, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nm.ConvergenceWarning)
        return nm.nmf(
            V,
            W0.shape[1],
            loss=loss,
            solver="mu",
            W=W0,
            H=H0,
            max_iter=n_iter,
            tol=0,
            escape=False,
            **kw,
        )


@pytest.mark.parametrize(
    "spelling, beta", [("itakura-saito", 0.0), (0, 0.0), (0.5, 0.5), ("beta=1.5", 1.5)]
)
def test_spellings(spelling, beta):
    spec = losses.get(spelling)
    assert spec.beta == beta
    assert losses.get(spec.name) is spec  # the stored name resolves back


def test_gamma_of_fevotte_idier():
    assert [B.mu_exponent(b) for b in (-1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 4.0)] == [
        1 / 3,
        0.5,
        1 / 1.5,
        1.0,
        1.0,
        0.5,
        1 / 3,
    ]


def test_divergence_limits_are_kl_and_frobenius():
    rng = np.random.default_rng(1)
    x, y = rng.random((5, 6)) + 0.1, rng.random((5, 6)) + 0.1
    kl = losses.get("kl").divergence(x, y)
    frob = losses.get("frobenius").divergence(x, y)
    assert B.divergence(x, y, beta=1.0) == pytest.approx(kl, rel=1e-12)
    assert B.divergence(x, y, beta=1.0 + 1e-7) == pytest.approx(kl, rel=1e-5)
    assert B.divergence(x, y, beta=2.0) == pytest.approx(frob, rel=1e-12)
    is_ = np.sum(x / y - np.log(x / y) - 1)
    assert B.divergence(x, y, beta=0.0) == pytest.approx(is_, rel=1e-12)
    assert B.divergence(x, y, beta=1e-7) == pytest.approx(is_, rel=1e-5)


@pytest.mark.parametrize("beta, twin", [(1.0, "kl"), (2.0, "frobenius")])
def test_beta_1_and_2_through_the_module_equal_kl_and_frobenius_mu(beta, twin):
    V, W0, H0 = _data()
    a = _fit(V, f"beta={beta!r}", W0, H0, 40)
    b = _fit(V, twin, W0, H0, 40)
    assert a.params["loss"] == f"beta={beta!r}" and b.params["loss"] == twin
    np.testing.assert_allclose(a.loss_history, b.loss_history, rtol=1e-10)
    np.testing.assert_allclose(a.W, b.W, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(a.H, b.H, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.5, 3.0])
def test_objective_is_monotone(beta):
    V, W0, H0 = _data(seed=2)
    res = _fit(V, beta, W0, H0, 150)
    h = np.asarray(res.loss_history)
    assert np.all(np.diff(h) <= 1e-12 * np.abs(h[:-1]))
    assert h[-1] < h[0]


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.5, 3.0])
def test_matches_scikit_learn_mu_from_the_same_init(beta):
    from sklearn.decomposition import non_negative_factorization
    from sklearn.decomposition._nmf import _beta_divergence

    V, W0, H0 = _data(seed=3)
    ours = _fit(V, beta, W0, H0, 60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # scikit-learn's X is our Vᵀ: its W is our Hᵀ, its H our Wᵀ
        Ws, Hs, _ = non_negative_factorization(
            V.T,
            W=H0.T.copy(),
            H=W0.T.copy(),
            n_components=3,
            init="custom",
            solver="mu",
            beta_loss=beta,
            max_iter=60,
            tol=0,
        )
    theirs = _beta_divergence(V.T, Ws, Hs, beta)
    assert ours.loss == pytest.approx(theirs, rel=1e-6)
    # and our objective is the divergence of our factors by scikit-learn's formula
    ours_by_sklearn = _beta_divergence(V.T, ours.H.T, ours.W.T, beta)
    assert ours.loss == pytest.approx(ours_by_sklearn, rel=1e-9)


def test_itakura_saito_is_scale_invariant_and_rescaling_is_exact():
    V, W0, H0 = _data(seed=4)
    c = 2.0**120  # fitted as V / 2**k (docs/engine.md, "Scale")
    a = _fit(V, "itakura-saito", W0, H0, 30)
    b = _fit(V * c, "itakura-saito", W0 * 2.0**60, H0 * 2.0**60, 30)
    np.testing.assert_allclose(b.loss_history, a.loss_history, rtol=1e-9)
    np.testing.assert_allclose(b.W, a.W, rtol=1e-9)
    d = _fit(V, 1.5, W0, H0, 30)  # degree 1.5: the loss scales by c**1.5
    e = _fit(V * c, 1.5, W0 * 2.0**60, H0 * 2.0**60, 30)
    np.testing.assert_allclose(e.loss_history, np.ldexp(d.loss_history, 180), rtol=1e-9)


def test_zeros_are_refused_for_beta_at_most_zero_unless_masked():
    V, _, _ = _data(seed=5)
    V[2, 7] = 0.0
    with pytest.raises(nm.InputError, match=r"V must be strictly positive .*β = 0"):
        nm.nmf(V, 3, loss="itakura-saito")
    with pytest.raises(nm.InputError, match="strictly positive"):
        nm.nmf(V, 3, loss=-0.5)
    res = nm.nmf(V, 3, loss="itakura-saito", mask=V > 0, seed=0, max_iter=50, tol=1e-4)
    assert np.isfinite(res.loss)
    nm.nmf(V, 3, loss=0.5, seed=0, max_iter=20, tol=1e-4)  # β > 0: zeros are fine


def test_refusals():
    V, _, _ = _data()
    with pytest.raises(nm.InputError, match="solver must be one of 'auto', 'mu'"):
        nm.nmf(V, 3, loss=0.5, solver="hals")
    with pytest.raises(nm.InputError, match="loss must be"):
        nm.nmf(V, 3, loss=float("nan"))
    with pytest.raises(nm.InputError, match="loss must be"):
        nm.nmf(V, 3, loss="beta=x")
    da = pytest.importorskip("dask.array")
    with pytest.raises(nm.InputError, match="in-memory array for loss='itakura-saito'"):
        nm.nmf(da.from_array(V, chunks=(12, 20)), 3, loss="itakura-saito")


def test_design_md_estimator_call_and_transform():
    V, _, _ = _data(m=10, n=120, seed=6)
    X = V.T
    est = nm.NMF(
        3,
        random_state=0,
        beta_loss="itakura-saito",
        solver="mu",
        tol=1e-7,
        max_iter=3000,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nm.ConvergenceWarning)
        Z = est.fit_transform(X)
        Z2 = est.transform(X)
    assert est.result_.params["loss"] == "itakura-saito"
    C = est.components_

    def d_is(Z_):
        return B.divergence(X, Z_ @ C, beta=0.0)

    # transform minimises the fitted loss (IS), not least squares: it does at
    # least as well as the fit's own activations, and far better than NNLS
    nnls = nm.project(X.T, C.T).T
    assert d_is(Z2) <= d_is(Z) * (1 + 1e-9)
    assert d_is(Z2) == pytest.approx(d_is(Z), rel=1e-3)
    assert d_is(nnls) > 1.05 * d_is(Z2)
    assert np.median(np.abs(Z2 - Z)) < 1e-3 * Z.max()


def test_heldout_score_is_finite_and_prefers_the_true_rank():
    V, _, _ = _data(m=20, n=200, seed=7)
    train = np.random.default_rng(0).random(V.shape) > 0.2
    scores = []
    for r in (1, 3):
        res = nm.nmf(V, r, loss="itakura-saito", mask=train, seed=0, tol=1e-6)
        scores.append(res.heldout_loss(V, ~train))
    assert np.all(np.isfinite(scores)) and scores[1] < scores[0]
