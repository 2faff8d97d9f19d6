"""Masked entries: ALGORITHMS.md §10 test 8 and held-out scoring."""

import numpy as np
import pytest

import neuronmf as nm
from tests.conftest import planted

SOLVERS = [
    ("frobenius", "hals"),
    ("frobenius", "mu"),
    ("kl", "ccd"),
    ("kl", "mu"),
    ("frobenius", "gradient"),
    ("kl", "gradient"),
]


def _data(loss, seed=0):
    if loss == "kl":
        rng = np.random.default_rng(seed)
        return rng.poisson(rng.random((25, 4)) @ rng.random((4, 60)) * 4).astype(float)
    return planted(25, 60, 4, snr_db=20, seed=seed)[0]


def _mask(shape, seed=1, observed=0.85):
    return np.random.default_rng(seed).random(shape) < observed


@pytest.mark.parametrize("loss, solver", SOLVERS)
def test_all_true_mask_equals_no_mask(loss, solver):
    V = _data(loss)
    a = nm.nmf(V, 4, loss=loss, solver=solver, seed=0, max_iter=40, tol=1e-12)
    b = nm.nmf(
        V,
        4,
        loss=loss,
        solver=solver,
        seed=0,
        max_iter=40,
        tol=1e-12,
        mask=np.ones(V.shape, bool),
    )
    np.testing.assert_allclose(b.W, a.W, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.H, a.H, rtol=1e-12, atol=1e-12)
    assert b.loss == pytest.approx(a.loss, rel=1e-12)


@pytest.mark.parametrize("loss, solver", SOLVERS)
def test_values_at_unobserved_entries_cannot_change_the_fit(loss, solver):
    V = _data(loss)
    M = _mask(V.shape)
    a = nm.nmf(V, 4, loss=loss, solver=solver, mask=M, seed=0, max_iter=30, tol=1e-12)
    V2 = V.copy()
    V2[~M] = np.random.default_rng(5).random(int((~M).sum())) * 1e6
    V3 = V.copy()
    V3[~M] = np.nan
    for other in (V2, V3):
        b = nm.nmf(
            other, 4, loss=loss, solver=solver, mask=M, seed=0, max_iter=30, tol=1e-12
        )
        np.testing.assert_array_equal(b.W, a.W)
        np.testing.assert_array_equal(b.H, a.H)
        assert b.loss_history == a.loss_history


@pytest.mark.parametrize("loss", ["frobenius", "kl"])
def test_masked_solvers_agree_on_the_objective(loss):
    rng = np.random.default_rng(3)
    if loss == "kl":
        V = rng.poisson(rng.random((25, 3)) @ rng.random((3, 60)) * 30).astype(float)
        solvers = ["ccd", "mu", "gradient"]
    else:
        V = planted(25, 60, 3, snr_db=30, seed=3)[0]
        solvers = ["hals", "mu"]
    M = _mask(V.shape, seed=4)
    losses = [
        nm.nmf(
            V, 3, loss=loss, solver=s, mask=M, seed=0, tol=1e-13, max_iter=60000
        ).loss
        for s in solvers
    ]
    # EM-imputation HALS, weighted MU and the exact masked CCD / gradient solvers
    np.testing.assert_allclose(losses, losses[0], rtol=1e-6)


@pytest.mark.parametrize("loss, solver", [("frobenius", "hals"), ("kl", "ccd")])
def test_masked_objective_is_monotone(loss, solver):
    for seed in range(5):
        V = _data(loss, seed)
        M = _mask(V.shape, seed + 10, observed=0.6)
        res = nm.nmf(
            V,
            4,
            loss=loss,
            solver=solver,
            mask=M,
            init="random",
            seed=seed,
            max_iter=80,
            tol=1e-12,
        )
        h = np.asarray(res.loss_history)
        assert np.all(h[1:] <= h[:-1] * (1 + 1e-12))


def test_masked_loss_uses_observed_entries_only():
    V = _data("frobenius")
    M = _mask(V.shape)
    res = nm.nmf(V, 4, mask=M, seed=0)
    R = np.where(M, V - res.W @ res.H, 0)
    assert res.loss == pytest.approx(0.5 * np.sum(R**2), rel=1e-8)
    assert res.relative_error == pytest.approx(
        np.linalg.norm(R) / np.linalg.norm(np.where(M, V, 0)), rel=1e-10
    )


def test_heldout_loss_scores_cross_validation():
    V, _, _ = planted(40, 200, 3, snr_db=20, seed=8)
    train = _mask(V.shape, seed=2, observed=0.9)
    scores = {
        r: nm.nmf(V, r, mask=train, seed=0).heldout_loss(V, ~train) for r in (1, 3, 8)
    }
    assert scores[3] < scores[1]
    assert scores[3] < scores[8]
    rng = np.random.default_rng(4)
    counts = rng.poisson(rng.random((25, 3)) @ rng.random((3, 60)) * 30).astype(float)
    train = _mask(counts.shape, seed=3)
    fits = {r: nm.nmf(counts, r, loss="kl", mask=train, seed=0) for r in (1, 3, 6)}
    deviance = {r: fit.heldout_loss(counts, ~train) for r, fit in fits.items()}
    # Poisson noise alone gives a mean deviance of about 1 per entry
    assert 0.3 < deviance[3] < 2.0
    assert deviance[3] < deviance[1] and deviance[3] < deviance[6]
    # heldout_loss scores μ = 0.7·WH + 0.3·(row's mean training count), the one
    # held-out deviance of select_rank and assemblies (issue 20); the plug-in
    # WH is exactly 0 at many held-out spikes of sparse counts (infinite score)
    rates = np.where(train, counts, 0).sum(1) / train.sum(1)
    mu = (0.7 * fits[3].W @ fits[3].H + 0.3 * rates[:, None])[~train]
    v = counts[~train]
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.mean(2 * (np.where(v > 0, v * np.log(v / mu), 0) - v + mu))
    assert deviance[3] == pytest.approx(expected, rel=1e-12)


def test_labelled_mask():
    import xarray as xr

    V = _data("frobenius")
    da = xr.DataArray(V.T, dims=("time", "channel"))
    M = _mask(V.shape)
    a = nm.nmf(V, 4, mask=M, seed=0)
    b = nm.nmf(da, 4, mask=xr.DataArray(M.T, dims=("time", "channel")), seed=0)
    np.testing.assert_allclose(b.W.values, a.W, rtol=1e-12)
