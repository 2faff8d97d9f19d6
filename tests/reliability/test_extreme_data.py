"""Issue 21, defect 8: finite but extreme data give the scaled fit or an InputError.

NMF is scale-equivariant: the fit of s·V is the fit of V with H times s (the
engine rescales by an exact power of two). Across scales 1e-170..1e160 (float64)
and 1e18..1e30 (float32), every entry point returns that, to rounding, or refuses
with an InputError, and only where |V|² leaves float64's range.
"""

import warnings

import numpy as np
import pytest

import neuronmf as nm
from tests.conftest import planted

V, W_TRUE, _ = planted(16, 120, 3, snr_db=30, seed=7)
OPTS = {"seed": 0, "tol": 1e-10, "max_iter": 3000}
SCALES = [1e-170, 1e-150, 1e-100, 1e-40, 1e-13, 1e13, 1e40, 1e80, 1e120, 1e150, 1e160]
F32_SCALES = [1e18, 1e24, 1e30]


def _representable(X, s) -> bool:
    """Whether |s·X|² is a normal float64 (where the engine must not refuse)."""
    log10 = np.log10(np.sum(np.square(X, dtype=np.float64))) + 2 * np.log10(s)
    return -307 < log10 < 307


def _fit(X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nm.ConvergenceWarning)
        return nm.nmf(X, 3, **{**OPTS, **kw})


def _close(a, b, rtol):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert np.isfinite(a).all() and a.any()
    np.testing.assert_allclose(a, b, rtol=0, atol=rtol * np.abs(b).max())


@pytest.fixture(scope="module")
def base():
    return _fit(V)


@pytest.mark.parametrize("s", SCALES)
def test_nmf_is_scale_equivariant_or_refuses(base, s):
    # reproducers: 1e80 all-zero factors, 1e120 NaN, 1e160 LinAlgError,
    # 1e-170 ZeroDivisionError
    if not _representable(V, s):
        with pytest.raises(nm.InputError, match=r"\|V\|² .* must be within float64"):
            _fit(V * s)
        return
    res = _fit(V * s)
    _close(res.W, base.W, 1e-6)
    _close(res.H / s, base.H, 1e-6)
    assert res.vaf == pytest.approx(base.vaf, abs=1e-9)
    assert res.loss / s**2 == pytest.approx(base.loss, rel=1e-6)


def test_the_refused_scales_are_only_the_unrepresentable_ones():
    refused = [s for s in SCALES if not _representable(V, s)]
    assert refused == [1e-170, 1e160]


#: V with its largest entry in [1, 2): V · 2**k (k even) is rescaled back to V itself
V15 = V / V.max() * 1.5


@pytest.mark.parametrize("loss", ["frobenius", "kl"])
@pytest.mark.parametrize("k", [-300, 200])
def test_power_of_two_scales_are_bit_exact(loss, k):
    p = 2 if loss == "frobenius" else 1
    a = _fit(V15, loss=loss, max_iter=200)
    b = _fit(V15 * 2.0**k, loss=loss, max_iter=200)
    np.testing.assert_array_equal(b.W, a.W)
    np.testing.assert_array_equal(b.H, a.H * 2.0**k)
    assert b.loss_history == [x * 2.0 ** (p * k) for x in a.loss_history]


@pytest.mark.parametrize("s", F32_SCALES)
def test_float32_is_scale_equivariant(s):
    # reproducer: float32 near 1e18-1e30 gave NaN factors
    V32 = V.astype(np.float32)
    base32 = _fit(V32, tol=1e-6)
    res = _fit((V * s).astype(np.float32), tol=1e-6)
    assert res.W.dtype == np.float32
    _close(res.W, base32.W, 1e-3)
    _close(res.H / np.float32(s), base32.H, 1e-3)


def test_float32_factors_that_overflow_are_refused():
    V32 = (V / V.max() * 3e38).astype(np.float32)  # H's entries would exceed 3.4e38
    with pytest.raises(nm.InputError, match="dtype='float64'"):
        _fit(V32)
    assert np.isfinite(_fit(V32, dtype="float64").H).all()


@pytest.mark.parametrize("s", [1e-100, 1e80, 1e120])
def test_kl_at_extreme_scales_is_finite_and_as_good(s):
    # KL fits of this problem land on nearby local minima from rounding-level
    # differences (also between V and 3·V): the exact check is the bit-exact
    # power-of-two test above; here, a fit of the same quality
    base_kl = _fit(V, loss="kl", max_iter=300)
    res = _fit(V * s, loss="kl", max_iter=300)
    assert np.isfinite(res.H).all() and res.H.any() and res.W.any()
    assert res.vaf == pytest.approx(base_kl.vaf, abs=0.01)
    assert res.loss / s == pytest.approx(base_kl.loss, rel=0.5)


@pytest.mark.parametrize("k", [-300, 200])
def test_penalties_are_scaled_consistently(k):
    # fit(s·V, l1_H = λ·s) = fit(V, l1_H = λ) with H times s (W held at unit norm)
    s = 2.0**k
    lam = 0.05 * V15.mean() * 16
    a, b = _fit(V15, l1_H=lam), _fit(V15 * s, l1_H=lam * s)
    np.testing.assert_array_equal(b.W, a.W)
    np.testing.assert_array_equal(b.H, a.H * s)
    assert b.params["l1_H"] == lam * s  # reported as given
    # fit(s·V, l2 = μ·s on both) = fit(V, l2 = μ) (the split is √s each)
    mu = 2.0
    a, b = _fit(V15, l2_W=mu, l2_H=mu), _fit(V15 * s, l2_W=mu * s, l2_H=mu * s)
    np.testing.assert_array_equal(b.W, a.W)
    np.testing.assert_array_equal(b.H, a.H * s)
    # a graph penalty on W (H held at unit norm): fit(s·V, λ) = fit(V, λ)
    graph = nm.grid_graph((4, 4))
    a = _fit(V15, graph_W=graph, graph_weight=0.5)
    b = _fit(V15 * s, graph_W=graph, graph_weight=0.5)
    np.testing.assert_array_equal(b.reconstruct(), a.reconstruct() * s)


def test_penalties_at_a_non_power_of_two_scale():
    s, lam = 1e100, 0.05 * V.mean() * 16
    a, b = _fit(V, l1_H=lam), _fit(V * s, l1_H=lam * s)
    _close(b.reconstruct() / s, a.reconstruct(), 1e-3)


@pytest.mark.parametrize("s", [1e-150, 1e100])
def test_masked_and_fixed_factor_fits_at_extreme_scales(s):
    mask = np.random.default_rng(0).random(V.shape) > 0.1
    a = _fit(np.where(mask, V, np.nan), mask=mask)
    b = _fit(np.where(mask, V * s, np.nan), mask=mask)
    _close(b.H / s, a.H, 1e-6)
    # W fixed: returned exactly as given, H carries the scale
    a = _fit(V, W=W_TRUE, update_W=False)
    b = _fit(V * s, W=W_TRUE, update_W=False)
    np.testing.assert_array_equal(b.W, W_TRUE)
    _close(b.H / s, a.H, 1e-6)


def test_dask_input_at_an_extreme_scale(base):
    da = pytest.importorskip("dask.array")
    lazy = da.from_array(V * 1e100, chunks=(16, 40))
    res = _fit(lazy, init="random")
    ref = _fit(V, init="random")
    assert np.isfinite(res.H).all() and res.vaf == pytest.approx(ref.vaf, abs=1e-6)


@pytest.mark.parametrize("s", [1e-150, 1e100, 1e150])
def test_estimator_is_scale_equivariant(s):
    est = nm.NMF(3, **OPTS)
    Z1 = est.fit_transform(V.T)
    err1 = est.reconstruction_err_
    est_s = nm.NMF(3, **OPTS)
    Zs = est_s.fit_transform(V.T * s)
    _close(est_s.components_, est.components_, 1e-6)
    _close(Zs / s, Z1, 1e-6)
    assert est_s.reconstruction_err_ / s == pytest.approx(err1, rel=1e-5)
    _close(est_s.transform(V.T * s) / s, est.transform(V.T), 1e-6)


@pytest.mark.parametrize("loss", ["frobenius", "kl"])
@pytest.mark.parametrize(
    "sv, sw",
    [(1.0, 1e200), (1.0, 1e-200), (1e160, 1.0), (1e-170, 1.0), (1e150, 1e-150)],
)
def test_project_is_scale_equivariant(loss, sv, sw):
    # reproducer: project(V, W * 1e200) returned H = 0
    H1 = nm.project(V, W_TRUE, loss=loss)
    H = nm.project(V * sv, W_TRUE * sw, loss=loss)
    _close(H * (sw / sv), H1, 1e-9)


def test_project_refuses_activations_beyond_float64():
    with pytest.raises(nm.InputError, match="underflow"):
        nm.project(V * 1e-170, W_TRUE * 1e200)
    with pytest.raises(nm.InputError, match="overflow"):
        nm.project(V * 1e300, W_TRUE * 1e-300)


@pytest.mark.parametrize("s", [1e-150, 1e120])
def test_joint_nmf_is_scale_equivariant(s):
    V2, _, _ = planted(16, 80, 3, snr_db=30, seed=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nm.ConvergenceWarning)
        a = nm.joint_nmf([V, V2], 3, **OPTS)
        b = nm.joint_nmf([V * s, V2 * s], 3, **OPTS)
    _close(b.W[0], a.W[0], 1e-6)
    for Hb, Ha in zip(b.H, a.H, strict=True):
        _close(Hb / s, Ha, 1e-6)
    assert all(np.isfinite(b.block_losses))


def test_non_finite_factors_are_never_returned(monkeypatch):
    from neuronmf.engine import _fit as api  # the fit path looks the solver up

    real = api.get_solver

    def broken(loss, solver):
        solve = real(loss, solver)

        def run(problem, W, H, monitor):
            W, H = solve(problem, W, H, monitor)
            return W * np.nan, H

        return run

    monkeypatch.setattr(api, "get_solver", broken)
    with pytest.raises(FloatingPointError, match="non-finite entries in W"):
        _fit(V, escape=False)


def test_penalties_that_zero_a_factor_are_refused():
    with pytest.raises(
        nm.InputError, match=r"the penalties must be small enough .*'l1_W'"
    ):
        _fit(V, l1_W=1e6)
