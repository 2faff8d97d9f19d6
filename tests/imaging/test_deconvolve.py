"""OASIS deconvolution: against the exact NNLS reference, recovery, null data, input."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.signal import lfilter

from neuronmf.errors import InputError
from neuronmf.imaging import _oasis_kernels as K
from neuronmf.imaging._oasis_reference import (
    objective,
    reference_constrained,
    reference_deconvolve,
    reference_fit_b,
)
from neuronmf.imaging.deconvolve import deconvolve, estimate_decay, estimate_noise


def _sim(rng, n, T, g, sn, rate=0.04, b=0.0):
    s = (rng.random((n, T)) < rate) * rng.uniform(0.5, 1.5, (n, T))
    c = lfilter([1.0], [1.0, -g[0], -g[1]], s, axis=1)
    return c + b + sn * rng.normal(size=(n, T)), s


def _binned_corr(a, b, k):
    T = a.shape[1] // k * k
    A = a[:, :T].reshape(len(a), -1, k).sum(-1)
    B = b[:, :T].reshape(len(b), -1, k).sum(-1)
    return float(np.mean([np.corrcoef(x, y)[0, 1] for x, y in zip(A, B, strict=True)]))


def _kernel_fit(y, g, lam, b=0.0, fit_b=False, auto=False, sn=1.0):
    c = np.empty_like(y)
    lam, b, _ = K.deconvolve_trace(y, g[0], g[1], sn, b, lam, 0.0, auto, fit_b, 50, c)
    s = np.empty_like(y)
    K.spikes_of(c, g[0], g[1], s)
    return c, s, lam, b


@pytest.mark.parametrize("lam", [0.0, 0.4, 2.0])
def test_ar1_equals_exact_nnls(lam):
    rng = np.random.default_rng(0)
    y = _sim(rng, 1, 120, (0.9, 0.0), 0.2)[0][0]
    c, s, _, _ = _kernel_fit(y, (0.9, 0.0), lam)
    cr, sr, obj = reference_deconvolve(y, (0.9, 0.0), lam)
    np.testing.assert_allclose(c, cr, atol=1e-9)
    np.testing.assert_allclose(s, sr, atol=1e-9)
    assert objective(y, c, s, lam) == pytest.approx(obj, rel=1e-10)


def test_ar1_fitted_baseline_equals_reference():
    rng = np.random.default_rng(1)
    y = _sim(rng, 1, 80, (0.85, 0.0), 0.2, b=3.0)[0][0]
    c, s, _, b = _kernel_fit(y, (0.85, 0.0), 0.5, b=np.percentile(y, 15), fit_b=True)
    cr, _, br, obj = reference_fit_b(y, (0.85, 0.0), 0.5)
    assert b == pytest.approx(br, abs=1e-6)
    np.testing.assert_allclose(c, cr, atol=1e-6)
    assert objective(y, c, s, 0.5, b) == pytest.approx(obj, rel=1e-9)


def test_noise_constraint_matches_reference_lambda():
    rng = np.random.default_rng(2)
    y = _sim(rng, 1, 100, (0.9, 0.0), 0.2)[0][0]
    c, s, lam, _ = _kernel_fit(y, (0.9, 0.0), 0.0, auto=True, sn=0.2)
    assert np.sum((y - c) ** 2) == pytest.approx(0.04 * 100, rel=1e-8)
    _, sr, lr, _ = reference_constrained(y, (0.9, 0.0), 0.2, b=0.0)
    assert lam == pytest.approx(lr, rel=1e-6)
    np.testing.assert_allclose(s, sr, atol=1e-6)


def test_ar2_close_to_exact():
    """AR(2) is the paper's greedy variant: close to, not always at, the optimum."""
    rng = np.random.default_rng(3)
    g = (1.6, -0.63)
    Y, _ = _sim(rng, 3, 120, g, 0.2)
    for y in Y:
        c, s, _, _ = _kernel_fit(y, g, 0.3)
        _, sr, obj = reference_deconvolve(y, g, 0.3)
        mine = objective(y, c, s, 0.3)
        assert obj - 1e-9 <= mine <= 1.1 * obj
        assert np.corrcoef(s, sr)[0, 1] > 0.9
        # the spikes are a valid AR(2) solution: c = K s exactly
        np.testing.assert_allclose(lfilter([1], [1, -g[0], -g[1]], s), c, atol=1e-9)


def test_s_min_removes_small_spikes():
    rng = np.random.default_rng(4)
    Y, _ = _sim(rng, 4, 400, (0.9, 0.0), 0.2)
    res = deconvolve(Y, g=0.9, s_min=0.4, sparsity=0.0)
    s = res["spikes"].values[:, 1:]
    assert s[s > 0].min() >= 0.4 * (1 - 1e-9)


@pytest.mark.parametrize("model,g", [("ar1", (0.92, 0.0)), ("ar2", (1.55, -0.59))])
def test_recovers_simulated_spikes(model, g):
    rng = np.random.default_rng(5)
    Y, S = _sim(rng, 10, 2000, g, 0.2)
    res = deconvolve(Y, model=model)
    assert _binned_corr(res["spikes"].values, S, 1) > 0.75
    assert _binned_corr(res["spikes"].values, S, 4) > 0.85


def test_recovers_simulate_movie_truth():
    from neuronmf.datasets import simulate_movie

    sim = simulate_movie((40, 40), 1500, 8, 4.0, seed=0)
    calcium, spikes = sim.truth["traces"].values, sim.truth["spikes"].values
    Y = calcium + np.random.default_rng(0).normal(0, 0.1, calcium.shape)
    res = deconvolve(Y, model="ar2")
    assert _binned_corr(res["spikes"].values, spikes, 4) > 0.9


def test_estimates_decay_and_noise():
    rng = np.random.default_rng(6)
    Y, _ = _sim(rng, 5, 20000, (0.95, 0.0), 0.5, rate=0.01)
    g = estimate_decay(Y, 1)
    assert np.all(np.abs(g[:, 0] - 0.95) < 0.02) and np.all(g[:, 1] == 0)
    assert np.allclose(estimate_noise(Y), 0.5, rtol=0.1)


def test_innovation_noise_on_high_snr_traces():
    """The spectrum overestimates σ on spike-dense, high-SNR traces; innovations not."""
    from neuronmf.datasets import simulate_movie

    sim = simulate_movie((40, 40), 1500, 8, 4.0, seed=0)
    calcium, spikes = sim.truth["traces"].values, sim.truth["spikes"].values
    Y = calcium + np.random.default_rng(0).normal(0, 0.02, calcium.shape)
    psd = deconvolve(Y, model="ar2")
    inn = deconvolve(Y, model="ar2", noise="innovations")
    assert np.median(psd["noise"]) > 2 * 0.02  # the known bias
    np.testing.assert_allclose(np.median(inn["noise"]), 0.02, rtol=0.15)
    assert _binned_corr(inn["spikes"].values, spikes, 1) >= _binned_corr(
        psd["spikes"].values, spikes, 1
    )
    # and on white noise it is σ too
    rng = np.random.default_rng(1)
    null = deconvolve(rng.normal(0, 1.0, (10, 2000)), noise="innovations")
    np.testing.assert_allclose(null["noise"], 1.0, rtol=0.1)
    assert (null["spikes"].values > 0).mean() < 0.02


def test_pure_noise_gives_almost_no_spikes():
    """Null data: white noise has no transients; at most tiny, rare spikes."""
    rng = np.random.default_rng(7)
    Y = rng.normal(5.0, 1.0, (40, 1000))
    for model in ("ar1", "ar2"):
        s = deconvolve(Y, model=model)["spikes"].values
        assert (s > 0).mean() < 0.02  # < 2 % of frames
        assert s.max() < 3.0  # nothing at 3 σ, where real spikes of 5 σ would be
    # and real spikes of 5 σ in the same noise are found
    Y2, S = _sim(rng, 10, 1000, (0.9, 0.0), 0.2)
    assert _binned_corr(deconvolve(Y2)["spikes"].values, S, 1) > 0.7


def test_dataarray_time_neuron_input_and_attrs():
    rng = np.random.default_rng(8)
    Y, _ = _sim(rng, 3, 300, (0.9, 0.0), 0.2)
    da = xr.DataArray(
        Y.T.copy(),
        dims=("time", "cell"),
        coords={"time": np.arange(300) / 10.0, "cell": ["a", "b", "c"]},
    )
    before = da.copy(deep=True)
    res = deconvolve(da, g=0.9)
    xr.testing.assert_identical(da, before)  # input not modified
    assert res["spikes"].dims == ("neuron", "time")
    assert list(res["neuron"].values) == ["a", "b", "c"]
    np.testing.assert_allclose(res["time"].values, np.arange(300) / 10.0)
    assert res.attrs["neuronmf_kind"] == "deconvolution"
    assert res.attrs["seed"] == "none"
    np.testing.assert_allclose(res["g"].values[:, 0], 0.9)
    # the fitted calcium plus baseline reproduces the trace up to the noise
    resid = Y - res["denoised"].values - res["baseline"].values[:, None]
    assert np.allclose(resid.std(axis=1), res["noise"].values, rtol=0.05)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"model": "ar3"}, "model must be 'ar1' or 'ar2'"),
        ({"g": 1.2}, "g must be AR coefficients of a decaying response"),
        ({"model": "ar2", "g": 0.9}, "g must be a pair"),
        ({"sparsity": -1.0}, "sparsity must be"),
        ({"sparsity": "high"}, "sparsity must be"),
        ({"s_min": "0"}, "s_min must be"),
        ({"noise": 0.0}, "noise must be positive"),
        ({"noise": "mad"}, "noise must be 'psd', 'innovations'"),
        ({"max_iter": 2.5}, "max_iter must be"),
    ],
)
def test_bad_options_refused(kwargs, match):
    Y = np.random.default_rng(0).normal(size=(2, 100))
    with pytest.raises(InputError, match=match):
        deconvolve(Y, **kwargs)


def test_bad_traces_refused():
    with pytest.raises(InputError, match="at least one neuron and 16 frames"):
        deconvolve(np.zeros((3, 5)))
    Y = np.ones((2, 50))
    Y[1, 3] = np.nan
    with pytest.raises(InputError, match="trace of neuron 1 must be finite"):
        deconvolve(Y)
    with pytest.raises(InputError, match="1-D trace or a 2-D"):
        deconvolve(np.zeros((2, 3, 40)))
