"""Escape rounds: the locked-component test and the fits that use it."""

import numpy as np
import pytest

import neuronmf as nm
from neuronmf.engine.escape import (
    in_frame_residual,
    locked_components,
    reflect,
    reseed,
)
from neuronmf.engine.init import initialize
from neuronmf.errors import InputError
from tests.conftest import planted


def _dense(m, n, r, seed):
    """Dense uniform factors plus 10 % Gaussian noise (the benchmark's large shape)."""
    rng = np.random.default_rng(seed)
    W = rng.random((m, r))
    H = rng.random((r, n))
    V = W @ H
    V = np.maximum(V + 0.1 * V.std() * rng.standard_normal(V.shape), 0)
    return V, W, H


def _relative_error(V, W, H):
    return np.linalg.norm(V - W @ H) / np.linalg.norm(V)


def test_in_frame_residual_matches_an_explicit_projection():
    rng = np.random.default_rng(3)
    V = rng.random((50, 70))
    W, H = rng.random((50, 4)), rng.random((4, 70))
    s, directions, edge = in_frame_residual(W.T @ V, W, H, float(np.sum(V**2)), V.shape)
    Q, _ = np.linalg.qr(W)
    R = V - W @ H
    a, s_ref, _ = np.linalg.svd(Q.T @ R, full_matrices=False)
    np.testing.assert_allclose(s, s_ref, rtol=1e-10)
    # direction i, as coefficients of unit-norm columns, spans Q·a_i
    Wn = W / np.linalg.norm(W, axis=0)
    np.testing.assert_allclose(np.abs(Wn @ directions), np.abs(Q @ a), atol=1e-10)
    sigma = np.linalg.norm(R) / np.sqrt(R.size)
    assert edge == pytest.approx(sigma * (np.sqrt(4) + np.sqrt(70)))


def test_nothing_is_locked_at_a_fit_that_absorbs_the_noise():
    good = 0
    for seed in range(6):
        V, W, H = _dense(300, 200, 6, seed)
        fit = nm.nmf(V, 6, escape=False, tol=1e-8)
        if fit.relative_error < _relative_error(V, W, H):  # the global basin
            good += 1
            locked = locked_components(
                fit.W.T @ V, fit.W, fit.H, float(np.sum(V**2)), V.shape
            )
            assert locked.size == 0, seed
    assert good >= 4


def test_reseed_replaces_only_the_named_components_and_keeps_their_scale():
    rng = np.random.default_rng(0)
    W, H = rng.random((30, 4)) * 5, rng.random((4, 40)) * 2
    W_before, H_before = W.copy(), H.copy()
    W1, H1 = reseed(W, H, np.array([1, 3]), np.random.default_rng(1))
    np.testing.assert_array_equal(W, W_before)  # inputs untouched
    np.testing.assert_array_equal(H, H_before)
    np.testing.assert_array_equal(W1[:, [0, 2]], W[:, [0, 2]])
    np.testing.assert_array_equal(H1[[0, 2]], H[[0, 2]])
    assert not np.allclose(W1[:, [1, 3]], W[:, [1, 3]])
    assert np.linalg.norm(W1[:, [1, 3]], axis=0).mean() == pytest.approx(
        np.linalg.norm(W[:, [1, 3]], axis=0).mean()
    )
    assert np.linalg.norm(H1[[1, 3]], axis=1).mean() == pytest.approx(
        np.linalg.norm(H[[1, 3]], axis=1).mean()
    )
    assert (W1 >= 0).all() and (H1 >= 0).all()


def test_reflect_turns_a_mirror_component_back_into_its_part():
    rng = np.random.default_rng(0)
    row_mean, col_mean = 1 + rng.random(40), 1 + rng.random(50)
    part_w, part_h = rng.random(40) * row_mean, rng.random(50) * col_mean
    part_w[5] = part_h[7] = 0.0  # a part is zero somewhere
    W, H = rng.random((40, 3)), rng.random((3, 50))
    W[:, 1] = row_mean - part_w  # the mirrors: mean − part, ≥ 0
    H[1] = col_mean - part_h
    W_before, H_before = W.copy(), H.copy()
    # the means' scale does not matter (V's means are a multiple of them)
    W1, H1 = reflect(W, H, np.array([1]), row_mean / 7, col_mean * 3)
    np.testing.assert_allclose(W1[:, 1], part_w, atol=1e-12)
    np.testing.assert_allclose(H1[1], part_h, atol=1e-12)
    np.testing.assert_array_equal(W1[:, [0, 2]], W[:, [0, 2]])
    np.testing.assert_array_equal(H1[[0, 2]], H[[0, 2]])
    np.testing.assert_array_equal(W, W_before)  # inputs untouched
    np.testing.assert_array_equal(H, H_before)


def test_escape_leaves_a_spurious_minimum_on_dense_data():
    # NNDSVDa + A-HALS end 0.9 % above the planted error here; the locked
    # components are re-seeded and the fit ends below it.
    V, W, H = _dense(1500, 800, 12, seed=1)
    planted_error = _relative_error(V, W, H)
    plain = nm.nmf(V, 12, escape=False)
    assert plain.relative_error > 1.005 * planted_error
    locked = locked_components(
        plain.W.T @ V, plain.W, plain.H, float(np.sum(V**2)), V.shape
    )
    assert locked.size > 0
    res = nm.nmf(V, 12)
    assert res.relative_error < planted_error < plain.relative_error
    assert res.params["escape"] is True
    # the history holds the first path unchanged, then the escape round(s)
    n = plain.n_iter
    np.testing.assert_allclose(res.loss_history[:n], plain.loss_history, rtol=1e-9)
    assert res.loss_history[n] > res.loss_history[n - 1]  # re-seeded: jumps up
    assert res.loss == min(res.loss_history) < plain.loss
    assert res.n_iter > n and res.converged
    # the re-seeding does not draw fresh entropy without a seed: a second run
    # ends at the same point (up to the order of parallel sums)
    again = nm.nmf(V, 12)
    assert again.n_iter == res.n_iter
    assert again.relative_error == pytest.approx(res.relative_error, rel=1e-8)


def test_escape_never_ends_higher_and_is_silent_when_nothing_is_locked():
    for seed in range(12):
        rng = np.random.default_rng(seed)
        m, n = rng.integers(20, 120, size=2)
        r = int(rng.integers(2, 8))
        V = rng.random((m, n)) @ rng.random((n, n)) ** 4
        plain = nm.nmf(V, r, escape=False, seed=seed)
        res = nm.nmf(V, r, seed=seed)
        assert res.loss <= plain.loss, seed
        if res.n_iter == plain.n_iter:  # no round ran: the same fit
            np.testing.assert_allclose(res.W, plain.W, rtol=1e-9, atol=1e-12)
    V, _, _ = planted(60, 200, 4, snr_db=20, seed=0)
    plain = nm.nmf(V, 4, escape=False)
    res = nm.nmf(V, 4)
    assert res.n_iter == plain.n_iter
    np.testing.assert_allclose(res.H, plain.H, rtol=1e-9)


@pytest.mark.parametrize(
    "options",
    [{"l1_H": 0.1}, {"solver": "mu"}, {"mask": "half"}, {"loss": "kl"}],
)
def test_escape_applies_only_to_plain_frobenius_hals(options):
    V, _, _ = _dense(300, 200, 6, seed=0)
    if options.get("mask") == "half":
        options = {"mask": np.random.default_rng(0).random(V.shape) < 0.5}
    res = nm.nmf(V, 6, max_iter=50, **options)
    assert res.params["escape"] is False
    assert nm.nmf(V, 6, max_iter=50, **options).n_iter == res.n_iter


def test_escape_must_be_a_bool():
    V = np.random.default_rng(0).random((10, 12))
    with pytest.raises(InputError, match="escape must be True or False; got 'yes'"):
        nm.nmf(V, 2, escape="yes")


def test_a_new_round_restarts_the_stopping_window():
    from neuronmf.engine.solvers.base import Monitor, Problem

    problem = Problem(np.ones((3, 4)), 1, tol=1e-3)
    monitor = Monitor(problem)
    for _ in range(12):
        go_on = monitor.step(1.0)
    assert not go_on and monitor.converged  # flat for 10 iterations
    monitor.begin_round()
    assert not monitor.converged
    assert all(monitor.step(1.0) for _ in range(10))  # a fresh window of 10
    assert not monitor.step(1.0)
    assert monitor.n_iter == 23 and len(monitor.history) == 23


def test_initial_factors_are_not_modified():
    V, _, _ = _dense(200, 150, 5, seed=2)
    W0, H0 = initialize(V, 5, "random", np.random.default_rng(0))
    W_copy, H_copy = W0.copy(), H0.copy()
    nm.nmf(V, 5, W=W0, H=H0)
    np.testing.assert_array_equal(W0, W_copy)
    np.testing.assert_array_equal(H0, H_copy)
