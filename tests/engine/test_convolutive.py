"""conv_nmf: convolutive NMF (seqNMF) — model, solvers, masks, result."""

from __future__ import annotations

import numpy as np
import pytest

import neuronmf as nm
from neuronmf.datasets._neural_sequences import simulate_sequences
from neuronmf.engine.convolutive import factor_similarity, reconstruct_conv
from neuronmf.engine.solvers import _conv_ops as ops


def _toy(seed=0, T=600, noise=0.0):
    """Two clean sequences of 6 neurons (no calcium tail), L = 12."""
    rng = np.random.default_rng(seed)
    W = np.zeros((12, 2, 12))
    for i in range(6):
        W[i, 0, 2 * i] = 1.0
        W[6 + i, 1, 2 * i] = 1.0
    H = np.zeros((2, T))
    for k in range(2):
        H[k, rng.choice(np.arange(20, T - 20, 25), size=8, replace=False)] = 1.0
    V = reconstruct_conv(W, H) + noise * rng.random((12, T))
    return V, W, H


def test_reconstruct_and_transconv_are_adjoint():
    rng = np.random.default_rng(1)
    W, H, X = rng.random((4, 3, 5)), rng.random((3, 30)), rng.random((4, 30))
    # <W ⊛ H, X> = <H, W ⊛ᵀ X> (on the frames where both are defined)
    lhs = float((ops.reconstruct(W, H) * X).sum())
    rhs = float((H * ops.transconv(W, X)).sum())
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_shift_factors_keeps_the_reconstruction():
    W = np.zeros((3, 1, 10))
    W[:, 0, 0:3] = np.eye(3)
    H = np.zeros((1, 40))
    H[0, 15] = 1
    W2, H2 = ops.shift_factors(W, H)
    profile = W2[:, 0].sum(axis=0)
    assert np.argmax(profile) > 2  # moved towards the centre
    np.testing.assert_allclose(ops.reconstruct(W2, H2), ops.reconstruct(W, H))


@pytest.mark.parametrize("loss", ["frobenius", "kl"])
def test_mu_recovers_two_sequences(loss):
    V, W, H = _toy()
    res = nm.conv_nmf(V, 2, 16, loss=loss, solver="mu", seed=0, max_iter=150)
    assert factor_similarity(W, H, res.W, res.H) > 0.95
    assert res.power > 0.95
    assert res.W.shape == (12, 2, 16) and res.H.shape == (2, 600)
    assert np.all(np.diff(res.power_explained) <= 0)


def test_mu_loss_decreases_without_penalty():
    V, _, _ = _toy(noise=0.05)
    res = nm.conv_nmf(V, 2, 12, solver="mu", seed=0, max_iter=40, tol=0, shift=False)
    h = np.asarray(res.loss_history)
    assert np.all(np.diff(h) <= 1e-9 * h[:-1])


@pytest.mark.parametrize("solver", ["hals", "mu"])
def test_held_out_entries_do_not_reach_the_fit(solver):
    V, _, _ = _toy(noise=0.05)
    mask = np.random.default_rng(3).random(V.shape) > 0.1
    V2 = V.copy()
    V2[~mask] = 1e6  # anything in the held-out entries
    a = nm.conv_nmf(V, 2, 12, mask=mask, solver=solver, seed=0, max_iter=20)
    b = nm.conv_nmf(V2, 2, 12, mask=mask, solver=solver, seed=0, max_iter=20)
    np.testing.assert_allclose(a.W, b.W)
    np.testing.assert_allclose(a.H, b.H)


def test_hals_reaches_the_objective_of_the_reference():
    V, _, _ = _toy(noise=0.05)
    mu = nm.conv_nmf(V, 2, 12, solver="mu", seed=0, max_iter=1000, tol=1e-7)
    hals = nm.conv_nmf(V, 2, 12, solver="hals", seed=0, max_iter=300, tol=1e-7)
    assert hals.loss == pytest.approx(mu.loss, rel=2e-3)
    # HALS reaches the reference's 1000-iteration objective in far fewer iterations
    reached = np.flatnonzero(np.asarray(hals.loss_history) <= mu.loss * (1 + 1e-3))
    assert reached.size and reached[0] < mu.n_iter / 5


def test_hals_is_monotone_and_keeps_the_reference_fixed_point():
    V, _, _ = _toy(noise=0.05)
    res = nm.conv_nmf(V, 2, 12, solver="hals", seed=0, max_iter=60, tol=0, shift=False)
    h = np.asarray(res.loss_history)
    assert np.all(np.diff(h) <= 1e-9 * h[1:])
    mu = nm.conv_nmf(V, 2, 12, solver="mu", seed=0, max_iter=1500, tol=0, shift=False)
    again = nm.conv_nmf(
        V, 2, 12, solver="hals", W=mu.W, H=mu.H, max_iter=5, tol=0, shift=False
    )
    assert again.loss == pytest.approx(mu.loss, rel=1e-4)


@pytest.mark.parametrize("solver", ["hals", "mu"])
def test_masked_fit_predicts_held_out_entries(solver):
    V, _, _ = _toy()
    mask = np.random.default_rng(4).random(V.shape) > 0.1
    res = nm.conv_nmf(V, 2, 14, mask=mask, solver=solver, seed=0, max_iter=300)
    err = res.reconstruction() - V
    assert np.sqrt(np.mean(err[~mask] ** 2)) < 0.1 * np.sqrt(np.mean(V[~mask] ** 2))


def test_x_ortho_empties_extra_components():
    sim = simulate_sequences(n_frames=1200, seed=2)
    res = nm.conv_nmf(
        sim.data, 5, 50, x_ortho=0.005, solver="mu", seed=0, max_iter=60, tol=0
    )
    assert factor_similarity(sim.W, sim.H, res.W, res.H) > 0.9
    assert res.power_explained[3:].max() < 0.01


def test_result_dataset_and_reconstruction():
    V, _, _ = _toy()
    res = nm.conv_nmf(V, 2, 12, solver="mu", seed=0, max_iter=10)
    ds = res.to_dataset()
    assert ds["W"].dims == ("feature", "component", "lag")
    assert ds["H"].dims == ("component", "time")
    assert ds.attrs["neuronmf_kind"] == "conv_nmf" and ds.attrs["seed"] == 0
    total = res.reconstruction(0) + res.reconstruction(1)
    np.testing.assert_allclose(total, res.reconstruction())


def test_dataarray_in_labelled_out():
    xr = pytest.importorskip("xarray")
    V, _, _ = _toy()
    da = xr.DataArray(
        V, dims=("neuron", "time"), coords={"time": np.arange(V.shape[1]) / 30}
    )
    res = nm.conv_nmf(da, 2, 12, solver="mu", seed=0, max_iter=5)
    assert res.W.dims == ("neuron", "component", "lag")
    assert res.H.dims == ("component", "time")
    np.testing.assert_allclose(res.H["time"], da["time"])


def test_dask_input_is_computed():
    da = pytest.importorskip("dask.array")
    V, _, _ = _toy()
    a = nm.conv_nmf(V, 2, 12, solver="mu", seed=0, max_iter=5)
    b = nm.conv_nmf(
        da.from_array(V, chunks=(6, 200)), 2, 12, solver="mu", seed=0, max_iter=5
    )
    np.testing.assert_allclose(a.W, b.W)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rank": 0}, "rank must be"),
        ({"lags": 0}, "lags must be"),
        ({"lags": 10_000}, "lags must be"),
        ({"loss": "is"}, "loss must be"),
        ({"loss": "kl", "solver": "hals"}, "solver must be"),
        ({"x_ortho": -1.0}, "x_ortho must be"),
        ({"mask": np.ones((3, 3), bool)}, "mask.shape"),
        ({"seed": "a"}, "seed must be"),
    ],
)
def test_bad_input_is_refused(kwargs, match):
    V, _, _ = _toy()
    args = {"rank": 2, "lags": 12}
    args.update(kwargs)
    with pytest.raises(nm.InputError, match=match):
        nm.conv_nmf(V, args.pop("rank"), args.pop("lags"), **args)


def test_negative_data_refused():
    with pytest.raises(nm.InputError, match="non-negative"):
        nm.conv_nmf(-np.ones((3, 40)), 1, 3)


@pytest.mark.parametrize("solver", ["hals", "mu"])
def test_fixed_W_finds_the_occurrences(solver):
    W = np.zeros((8, 1, 8))
    W[np.arange(8), 0, np.arange(8)] = 1.0
    H = np.zeros((1, 400))
    H[0, 20::50] = 2.0
    V = reconstruct_conv(W, H)
    res = nm.conv_nmf(V, 1, 8, W=W, update_W=False, solver=solver, max_iter=300)
    np.testing.assert_array_equal(res.W, W)
    np.testing.assert_allclose(res.H, H, atol=0.05)


@pytest.mark.parametrize("solver", ["hals", "mu"])
def test_fixed_W_keeps_its_order(solver):
    """With W fixed its rows are the caller's patterns: H comes back in W's
    order even when the weaker pattern is first (a fitted W is sorted by power;
    sorting a fixed one gave assemblies.sequences another pattern's occurrences)."""
    V, W, H = _toy(seed=1)
    H[0] *= 0.3  # pattern 0 now explains less than pattern 1
    V = reconstruct_conv(W, H)
    res = nm.conv_nmf(V, 2, 12, W=W, update_W=False, solver=solver, max_iter=300)
    np.testing.assert_array_equal(res.W, W)
    assert res.power_explained[0] < res.power_explained[1]
    Hn = H / np.linalg.norm(H, axis=1, keepdims=True)
    Rn = res.H / np.linalg.norm(res.H, axis=1, keepdims=True)
    assert (Hn * Rn).sum(axis=1).min() > 0.95  # row k is pattern k's


@pytest.mark.parametrize("solver", ["hals", "mu"])
def test_small_fit_runs_on_one_blas_thread_and_restores(solver):
    """conv_nmf keeps nmf's per-fit thread rule (engine.solvers.base.blas_threads):
    a small problem's many tiny lagged products on one BLAS thread. Without it,
    waking two threads per product made choose_x_ortho's test (10 fits of
    30 × 3000, K = 5, L = 50) take 48 s instead of 3 s on two busy cores."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas():
        return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}

    if not blas():
        pytest.skip("no BLAS library that threadpoolctl controls")
    V, _, _ = _toy()
    seen = []
    with threadpool_limits(2, user_api="blas"):
        nm.conv_nmf(
            V,
            2,
            12,
            solver=solver,
            seed=0,
            max_iter=3,
            callback=lambda i, f: seen.append(blas()),
        )
        assert blas() == {2}  # restored
    assert seen and all(b == {1} for b in seen)
