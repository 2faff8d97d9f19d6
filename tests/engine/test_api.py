"""Public behaviour of nmf(), project() and NMFResult."""

import warnings

import numpy as np
import pytest
import xarray as xr

import neuronmf as nm
from neuronmf.model_selection import match_components
from tests.conftest import planted


def test_planted_recovery_at_20db():
    """ALGORITHMS.md §10 test 1: m=200, n=1000, r=5, 20 dB, best of 10 restarts."""
    V, W, H = planted(200, 1000, 5, snr_db=20, seed=0)
    res = nm.nmf(V, 5, n_restarts=10, seed=0, init="random")
    mw = match_components(W, res.W)
    mh = match_components(H.T, res.H.T[:, mw.order])
    assert mw.mean >= 0.99 and mw.similarity.min() >= 0.98, mw.similarity
    assert mh.similarity.mean() >= 0.99 and mh.similarity.min() >= 0.98, mh.similarity
    assert np.array_equal(mh.order, np.arange(5))


def test_planted_recovery_at_40db():
    V, W, _H = planted(200, 1000, 5, snr_db=40, seed=1)
    res = nm.nmf(V, 5, seed=0, tol=1e-7)
    assert match_components(W, res.W).similarity.min() >= 0.999


def test_same_seed_gives_identical_results():
    V, _, _ = planted(50, 300, 4, snr_db=15, seed=2)
    a = nm.nmf(V, 4, init="random", n_restarts=3, seed=7)
    b = nm.nmf(V, 4, init="random", n_restarts=3, seed=7)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.H, b.H)
    assert a.loss_history == b.loss_history
    c = nm.nmf(V, 4, init="random", n_restarts=3, seed=8)
    assert not np.array_equal(a.W, c.W)


def test_float32_stays_float32_and_agrees_with_float64():
    V, _, _ = planted(60, 400, 4, snr_db=30, seed=3)
    r64 = nm.nmf(V, 4, seed=0)
    r32 = nm.nmf(V.astype(np.float32), 4, seed=0)
    assert r32.W.dtype == np.float32 and r32.H.dtype == np.float32
    assert r64.W.dtype == np.float64
    assert abs(r32.relative_error - r64.relative_error) < 1e-3
    assert match_components(r64.W, r32.W).similarity.min() > 0.999
    r = nm.nmf(V.astype(np.float32), 4, seed=0, dtype="float64")
    assert r.W.dtype == np.float64


def test_scaling_and_permutation_invariances():
    V, _, _ = planted(40, 120, 3, snr_db=30, seed=5)
    from neuronmf.engine.init import initialize

    W0, H0 = initialize(V, 3, "nndsvda", np.random.default_rng(0))
    base = nm.nmf(V, 3, W=W0, H=H0, tol=1e-9)
    # a power-of-two scale keeps every floating-point operation exact
    scaled = nm.nmf(4.0 * V, 3, W=2 * W0, H=2 * H0, tol=1e-9)
    np.testing.assert_allclose(
        scaled.reconstruct(), 4.0 * base.reconstruct(), rtol=1e-12
    )
    # any other scale agrees to the accuracy both fits converged to
    a = nm.nmf(V, 3, seed=0, tol=1e-12, max_iter=3000)
    b = nm.nmf(7.5 * V, 3, seed=0, tol=1e-12, max_iter=3000)
    np.testing.assert_allclose(
        b.reconstruct(),
        7.5 * a.reconstruct(),
        rtol=1e-6,
        atol=1e-6 * 7.5 * np.abs(V).max(),
    )
    rng = np.random.default_rng(0)
    pr, pc = rng.permutation(40), rng.permutation(120)
    # matched init: permute the initial factors too
    a = nm.nmf(V, 3, W=W0, H=H0, tol=1e-9)
    b = nm.nmf(V[pr][:, pc], 3, W=W0[pr], H=H0[:, pc], tol=1e-9)
    np.testing.assert_allclose(b.W, a.W[pr], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(b.H, a.H[:, pc], rtol=1e-8, atol=1e-10)


def test_result_is_normalised_and_sorted():
    V, _, _ = planted(30, 200, 4, snr_db=20, seed=6)
    res = nm.nmf(V, 4, seed=0)
    np.testing.assert_allclose(np.linalg.norm(res.W, axis=0), 1.0, rtol=1e-12)
    energy = np.sum(res.H**2, axis=1)
    assert np.all(np.diff(energy) <= 0)
    assert res.loss == res.loss_history[-1] == min(res.loss_history)
    assert 0 < res.vaf <= 1 and res.relative_error == pytest.approx(
        np.sqrt(1 - res.vaf)
    )
    direct = np.linalg.norm(V - res.W @ res.H) / np.linalg.norm(V)
    assert res.relative_error == pytest.approx(direct, rel=1e-9)
    assert "NMFResult" in repr(res)


def test_inputs_are_not_modified():
    V, _, _ = planted(20, 50, 3, seed=7)
    W0, H0 = np.full((20, 3), 0.5), np.full((3, 50), 0.5)
    copies = V.copy(), W0.copy(), H0.copy()
    nm.nmf(V, 3, W=W0, H=H0, max_iter=20)
    nm.project(V, W0)
    for a, b in zip((V, W0, H0), copies, strict=True):
        np.testing.assert_array_equal(a, b)


def test_fixed_factors():
    V, W, H = planted(25, 60, 3, seed=8)
    res = nm.nmf(V, 3, W=W, update_W=False, tol=1e-10)
    np.testing.assert_array_equal(res.W, W)
    np.testing.assert_allclose(res.H, H, rtol=1e-5, atol=1e-6)
    res = nm.nmf(V, 3, H=H, update_H=False, tol=1e-10)
    np.testing.assert_array_equal(res.H, H)
    np.testing.assert_allclose(res.W, W, rtol=1e-5, atol=1e-6)


def test_restarts_keep_the_best():
    V, _, _ = planted(30, 60, 5, snr_db=5, seed=9)
    res = nm.nmf(V, 5, n_restarts=4, seed=1, max_iter=50, tol=1e-6)
    assert len(res.restart_losses) == 4
    assert res.loss == min(res.restart_losses)


def test_callback_stops_the_fit_and_progress_bar_runs(capsys):
    V, _, _ = planted(20, 50, 3, snr_db=20, seed=10)
    seen = []

    def callback(iteration, loss):
        seen.append((iteration, loss))
        return iteration < 5

    res = nm.nmf(V, 3, callback=callback, progress=True, tol=1e-12)
    assert res.n_iter == 5 and len(seen) == 5 and not res.converged
    assert [s[1] for s in seen] == res.loss_history
    assert "NMF" in capsys.readouterr().err


def test_convergence_warning_at_budget():
    V, _, _ = planted(20, 50, 3, snr_db=20, seed=11)
    with pytest.warns(nm.ConvergenceWarning, match="max_iter=3"):
        res = nm.nmf(V, 3, max_iter=3, tol=1e-12)
    assert res.n_iter == 3 and not res.converged


def test_converges_quietly_by_default():
    V, _, _ = planted(30, 100, 3, snr_db=20, seed=12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = nm.nmf(V, 3)
    assert res.converged


@pytest.mark.parametrize("init", ["random", "nndsvd", "nndsvda", "nndsvdar", "spa"])
def test_every_init_fits(init):
    V, _W, _ = planted(40, 150, 4, snr_db=30, seed=13)
    res = nm.nmf(V, 4, init=init, seed=0)
    assert res.relative_error < 0.1
    assert res.params["init"] == init


def test_spa_finds_the_pure_columns_of_separable_data():
    from neuronmf.engine.init import spa_columns

    rng = np.random.default_rng(0)
    W = rng.random((30, 4))
    H = rng.dirichlet(np.ones(4) * 0.5, size=100).T * 0.9
    H[:, [10, 20, 30, 40]] = np.eye(4)
    chosen = spa_columns(W @ H, 4)
    assert sorted(chosen) == [10, 20, 30, 40]


def test_l1_penalty_sparsifies_and_cannot_be_dodged_by_scaling():
    V, _, _ = planted(40, 200, 4, snr_db=10, seed=14)
    plain = nm.nmf(V, 4, seed=0)
    sparse = nm.nmf(V, 4, seed=0, l1_H=0.5 * V.mean() * 40)
    assert np.mean(sparse.H == 0) > np.mean(plain.H == 0) + 0.1
    # W was held at unit norm during the fit, so the penalty acted on H's scale
    np.testing.assert_allclose(np.linalg.norm(sparse.W, axis=0), 1.0, rtol=1e-6)
    assert sparse.H.sum() < plain.H.sum()
    # (0.2 · mean · 200 zeroed every entry of W: now refused, issue 21)
    w_pen = nm.nmf(V, 4, seed=0, l1_W=0.05 * V.mean() * 200)
    assert np.mean(w_pen.W == 0) > np.mean(plain.W == 0)
    assert w_pen.vaf > 0.5


def test_l2_penalty_shrinks():
    V, _, _ = planted(40, 200, 4, snr_db=10, seed=15)
    plain = nm.nmf(V, 4, seed=0)
    # (50 zeroed both factors: now refused, issue 21)
    ridge = nm.nmf(V, 4, seed=0, l2_H=20.0, l2_W=20.0)
    assert ridge.vaf > 0.5
    assert np.linalg.norm(ridge.reconstruct()) < np.linalg.norm(plain.reconstruct())


def test_project_agrees_with_scipy_nnls_on_1000_problems():
    from scipy.optimize import nnls

    rng = np.random.default_rng(0)
    worst = 0.0
    for trial in range(1000):
        m = int(rng.integers(3, 30))
        r = int(rng.integers(1, min(m, 8) + 1))
        W = rng.random((m, r))
        if trial % 5 == 0 and r > 1:  # rank-deficient: a repeated column
            W[:, -1] = W[:, 0]
        v = rng.random((m, 1)) * 2
        h = nm.project(v, W)[:, 0]
        h_ref = nnls(W, v[:, 0])[0]
        res, res_ref = (
            np.linalg.norm(W @ h - v[:, 0]),
            np.linalg.norm(W @ h_ref - v[:, 0]),
        )
        assert h.min() >= 0
        if trial % 5 == 0 and r > 1:
            # solution not unique: compare the objective
            assert res <= res_ref * (1 + 1e-8) + 1e-12
        else:
            worst = max(
                worst, np.abs(h - h_ref).max() / max(np.abs(h_ref).max(), 1e-12)
            )
    assert worst <= 1e-8


def test_project_batched_and_float32():
    V, W, H = planted(20, 300, 3, seed=16)
    Hp = nm.project(V, W)
    np.testing.assert_allclose(Hp, H, atol=1e-9)
    H32 = nm.project(V.astype(np.float32), W)
    assert H32.dtype == np.float32


def _labelled_movie():
    rng = np.random.default_rng(0)
    W = rng.random((3, 4, 5, 2))
    W = W.reshape(60, 2)
    H = rng.random((2, 40))
    data = (W @ H).reshape(3, 4, 5, 40).transpose(3, 1, 2, 0)  # (time, y, x, plane)
    return xr.DataArray(
        data,
        dims=("time", "y", "x", "plane"),
        coords={
            "time": np.arange(40) / 30.0,
            "y": np.arange(4),
            "x": np.arange(5) * 2,
            "plane": ["a", "b", "c"],
        },
        attrs={"rate_hz": 30.0},
    )


def test_labelled_input_gives_labelled_output():
    movie = _labelled_movie()
    res = nm.nmf(movie, 2, seed=0, tol=1e-9)
    assert res.W.dims == ("y", "x", "plane", "component")
    assert res.H.dims == ("component", "time")
    np.testing.assert_array_equal(res.W["plane"], ["a", "b", "c"])
    np.testing.assert_array_equal(res.H["time"], movie["time"])
    assert res.H.attrs["rate_hz"] == 30.0
    recon = (res.W @ res.H).transpose(*movie.dims)
    assert float(np.abs(recon - movie).max()) < 1e-3 * float(movie.max())
    # project with a labelled W on labelled data
    H_new = nm.project(movie.isel(time=slice(0, 10)), res.W)
    assert H_new.dims == ("component", "time") and H_new.sizes["time"] == 10
    np.testing.assert_allclose(H_new.values, res.H.values[:, :10], rtol=1e-4, atol=1e-6)


def test_labelled_two_dim_input():
    emg = xr.DataArray(
        planted(6, 200, 2, seed=1)[0].T,
        dims=("time", "channel"),
        coords={"channel": [f"m{i}" for i in range(6)]},
    )
    res = nm.nmf(emg, 2, seed=0)
    assert res.W.dims == ("channel", "component")
    assert list(res.W["channel"].values) == [f"m{i}" for i in range(6)]


def test_labelled_input_errors():
    movie = _labelled_movie()
    with pytest.raises(
        nm.InputError, match="sample_dim must be one of the data's dims"
    ):
        nm.nmf(movie, 2, sample_dim="frame")
    with pytest.raises(nm.InputError, match="at least one feature dim"):
        nm.nmf(movie.isel(y=0, x=0, plane=0), 1)
