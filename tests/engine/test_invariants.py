"""Invariants of every solver × loss × penalty × mask (issue 22 item 6).

Small problems (10 × 40, rank 3) so that the whole matrix runs in seconds:
the objective never increases (unpenalised fits and fits penalised on both
factors; a penalty on one factor holds the other at unit norm, which may raise
the objective slightly, except for HALS and KL coordinate descent, which fit
under that constraint), the first-order (KKT) conditions hold at the end, a
fixed factor comes back unchanged, and ``NMF.transform(X)`` equals
``fit_transform(X)`` at convergence.
"""

import warnings

import numpy as np
import pytest

import neuronmf as nm
from neuronmf.engine import losses
from neuronmf.engine.solvers.base import projected_gradient_norm

#: (loss, solver, KKT tolerance: final / initial projected gradient)
CASES = [
    ("frobenius", "hals", 1e-4),
    ("frobenius", "mu", 5e-2),
    ("frobenius", "gradient", 5e-2),
    ("kl", "ccd", 1e-4),
    ("kl", "mu", 5e-2),
    ("kl", "gradient", 5e-2),
    ("itakura-saito", "mu", 5e-2),
    (1.5, "mu", 5e-2),
]
PENALTIES = {
    "none": {},
    "H": {"l1_H": 0.05},
    "both": {"l1_H": 0.05, "l2_W": 0.1},
}
# ccd: KL with an L1 penalty on H and a mask stops (tol 1e-9) after 958 iterations
# since the step safeguard no longer depends on rounding (KKT 6.8e-7 there; 1.3e-4
# at 800, when the test used to stop it)
MAX_ITER = {"hals": 400, "ccd": 1200, "mu": 1500, "gradient": 300}
#: solvers whose fits with a penalty on one factor are monotone too
CONSTRAINED = ("hals", "ccd")


def _data(seed=0):
    rng = np.random.default_rng(seed)
    V = rng.gamma(2.0, 1.0, (10, 3)) @ rng.gamma(1.0, 1.0, (3, 40))
    V = rng.poisson(V).astype(float) + 0.5  # > 0 for Itakura–Saito
    mask = rng.random(V.shape) > 0.25
    W0 = rng.random((10, 3)) + 0.2
    H0 = rng.random((3, 40)) + 0.2
    return V, mask, W0, H0


def _fit(V, loss, solver, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nm.ConvergenceWarning)
        return nm.nmf(V, 3, loss=loss, solver=solver, escape=False, **kw)


def _pg(V, W, H, loss, mask, pen, only_H=False, only_W=False):
    """The balanced projected-gradient norm of the penalised objective.

    ``only_H``: H's part alone. With a penalty on H only, the fit holds W's
    columns at unit norm (else the penalty is dodged by scaling and there is no
    minimiser), so only H's conditions are those of the unconstrained problem.
    ``only_W``: W's part alone (a penalty on W only; H's rows at unit norm).
    """
    spec = losses.get(loss)
    D = spec.gradient(V, W @ H, mask)
    gW = D @ H.T + pen.get("l1_W", 0) + pen.get("l2_W", 0) * W
    gH = W.T @ D + pen.get("l1_H", 0) + pen.get("l2_H", 0) * H
    if only_H:
        gW = np.zeros_like(gW)
    if only_W:
        gH = np.zeros_like(gH)
    return projected_gradient_norm(W, H, gW, gH)


@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize("loss, solver, kkt_tol", CASES)
def test_monotone_and_kkt(loss, solver, kkt_tol, penalty, masked):
    V, mask, W0, H0 = _data()
    pen = PENALTIES[penalty]
    M = mask if masked else None
    res = _fit(
        V, loss, solver, W=W0, H=H0, mask=M, tol=1e-9, max_iter=MAX_ITER[solver],
        **pen,
    )  # fmt: skip
    h = np.asarray(res.loss_history)
    assert np.all(np.isfinite(h)) and h[-1] < h[0]
    if penalty != "H" or solver in CONSTRAINED:
        assert np.all(np.diff(h) <= 1e-9 * np.abs(h[:-1])), "objective went up"
    if penalty != "both":
        # normalising W's columns moves scale between the factors, which leaves
        # the objective (and stationarity) unchanged unless both are penalised
        Vf = np.where(mask, V, 0) if masked else V
        only_H = penalty == "H"
        start = _pg(Vf, W0, H0, loss, M, pen, only_H)
        end = _pg(Vf, res.W, res.H, loss, M, pen, only_H)
        assert end <= kkt_tol * start, f"KKT: {end / start:.2e}"


@pytest.mark.parametrize("loss, solver, kkt_tol", CASES)
@pytest.mark.parametrize("fixed", ["W", "H"])
def test_a_fixed_factor_comes_back_unchanged(loss, solver, kkt_tol, fixed):
    V, mask, W0, H0 = _data(1)
    kw = {"update_W": False} if fixed == "W" else {"update_H": False}
    res = _fit(V, loss, solver, W=W0, H=H0, mask=mask, l1_H=0.01, max_iter=30, **kw)
    given = W0 if fixed == "W" else H0
    np.testing.assert_array_equal(getattr(res, fixed), given)
    other = res.H if fixed == "W" else res.W
    assert not np.array_equal(other, H0 if fixed == "W" else W0)


@pytest.mark.parametrize(
    "params",
    [
        {"loss": "frobenius"},
        {"loss": "frobenius", "l1_H": 0.5},
        {"loss": "frobenius", "alpha_W": 0.001, "alpha_H": 0.0, "l1_ratio": 0.5},
        {"loss": "kl"},
        {"loss": "kl", "l2_H": 0.5},
        {"loss": "kl", "l1_H": 0.3},
        {"beta_loss": "itakura-saito", "solver": "mu"},
    ],
    ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()),
)
def test_transform_equals_fit_transform_at_convergence(params):
    V, _, _, _ = _data(2)
    X = V.T
    est = nm.NMF(3, random_state=0, tol=1e-12, max_iter=4000, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nm.ConvergenceWarning)
        Z = est.fit_transform(X)
        Z2 = est.transform(X)
    rtol = 2e-2 if params.get("solver") == "mu" else 1e-4
    np.testing.assert_allclose(Z2, Z, rtol=0, atol=rtol * Z.max())


@pytest.mark.parametrize("loss", ["frobenius", "kl", "itakura-saito"])
@pytest.mark.parametrize("power", [120, -150])
def test_given_factors_at_an_extreme_scale_fit_as_at_scale_one(loss, power):
    # V·c with the scale given in H: the fit is that of V with H·c. The scale used
    # to be split evenly between the given factors (W0 / 2**60, H0 / 2**60 here),
    # putting W near 1e-18, where the solvers' absolute 1e-16 floor changed it.
    V, _, W0, H0 = _data(3)
    c = 2.0**power
    a = _fit(V, loss, "mu", W=W0, H=H0, max_iter=20, tol=0)
    b = _fit(V * c, loss, "mu", W=W0, H=H0 * c, max_iter=20, tol=0)
    p = losses.get(loss).scale_power
    np.testing.assert_allclose(
        np.asarray(b.loss_history) / c**p, a.loss_history, rtol=1e-12
    )
    np.testing.assert_allclose(b.W, a.W, rtol=1e-10)


@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
@pytest.mark.parametrize(
    "pen", [{"l1_W": 0.05}, {"l2_W": 0.3}, {"l1_W": 0.02, "l2_W": 0.1}]
)
def test_kl_ccd_with_a_penalty_on_w_only_is_monotone_and_stationary(pen, masked):
    # the mirror of the H-only case: H's rows are held at unit norm
    V, mask, W0, H0 = _data(4)
    M = mask if masked else None
    res = _fit(V, "kl", "ccd", W=W0, H=H0, mask=M, tol=1e-9, max_iter=800, **pen)
    h = np.asarray(res.loss_history)
    assert np.all(np.diff(h) <= 1e-9 * np.abs(h[:-1])), "objective went up"
    # the result comes back with W's columns at unit norm: undo that
    norms = np.linalg.norm(res.H, axis=1)
    W, H = res.W * norms, res.H / norms[:, None]
    # ... and the last objective is the penalised one at H's unit-norm scale
    objective = losses.kl_divergence(V, W @ H, M) + losses.penalty(
        W, H, pen.get("l1_W", 0), 0, pen.get("l2_W", 0), 0
    )
    np.testing.assert_allclose(h[-1], objective, rtol=1e-9)
    Vf = np.where(mask, V, 0) if masked else V
    start = _pg(Vf, W0, H0, "kl", M, pen, only_W=True)
    end = _pg(Vf, W, H, "kl", M, pen, only_W=True)
    assert end <= 1e-4 * start, f"KKT: {end / start:.2e}"


def test_kl_ccd_with_a_graph_penalty_on_w_is_monotone_and_stationary():
    # the graph penalty λ·tr(WᵀLW) enters H's unit-norm update as 2λ·w_kᵀLw_k
    import scipy.sparse as sp

    V, _, W0, H0 = _data(4)
    A = sp.csr_matrix(sp.diags([np.ones(9), np.ones(9)], [1, -1]))
    L = (sp.diags(np.asarray(A.sum(axis=1)).ravel()) - A).toarray()
    lam = 0.1
    res = _fit(
        V, "kl", "ccd", W=W0, H=H0, tol=1e-9, max_iter=800, graph_W=A,
        graph_weight=lam,
    )  # fmt: skip
    h = np.asarray(res.loss_history)
    assert np.all(np.diff(h) <= 1e-9 * np.abs(h[:-1])), "objective went up"
    norms = np.linalg.norm(res.H, axis=1)
    W, H = res.W * norms, res.H / norms[:, None]
    kl = losses.get("kl")

    def pg_W(W_, H_):
        grad = kl.gradient(V, W_ @ H_, None) @ H_.T + 2 * lam * L @ W_
        return projected_gradient_norm(W_, H_, grad, np.zeros_like(H_))

    assert pg_W(W, H) <= 1e-4 * pg_W(W0, H0)
