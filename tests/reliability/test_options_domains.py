"""Domain functions refuse bad options up front (issue 21 defect 7, swept).

Each case was coerced, crashed with a raw TypeError/ValueError, or was
silently accepted before (checked against f8bf671).
"""

import numpy as np
import pytest
import xarray as xr

import neuronmf as nm

RNG = np.random.default_rng(0)
V = RNG.random((8, 3)) @ RNG.random((3, 60)) + 0.01
RAW = RNG.standard_normal((2000, 4))
ENV = xr.DataArray(V.T.copy(), dims=("time", "channel"))
SPIKES = RNG.poisson(1.0, (12, 200)).astype(float)

CALLS = {
    "select_rank": lambda **k: nm.select_rank(V, [1, 2], **{"n_repeats": 2, **k}),
    "envelope": lambda **k: nm.synergies.envelope(RAW, **{"rate": 1000.0, **k}),
    "extract": lambda **k: nm.synergies.extract(ENV, **{"rank": 2, **k}),
    "detect": lambda **k: nm.assemblies.detect(
        SPIKES, **{"rank": 2, "n_surrogates": 2, "bin_width": 0.025, **k}
    ),
    "online_nmf": lambda **k: nm.online_nmf(V, 2, **{"batch_size": 30, **k}),
}

CASES = [
    ("select_rank", "holdout", "x", "holdout must be a finite number"),
    ("select_rank", "seed", "a", "seed must be None, an integer >= 0"),
    ("select_rank", "seed", -1, "seed must be None, an integer >= 0"),
    ("select_rank", "criteria", 5, "criteria must be"),
    ("select_rank", "progress", "no", "progress must be True or False"),
    ("select_rank", "vaf_threshold", "x", "vaf_threshold must be a finite number"),
    ("select_rank", "vaf_threshold", np.nan, "vaf_threshold must be a finite number"),
    ("select_rank", "vaf_threshold", 2.0, r"vaf_threshold must be a fraction in \(0"),
    ("select_rank", "sample_dim", 5, "sample_dim must be a string"),
    ("envelope", "saturation", "x", "saturation must be a finite number"),
    ("envelope", "rate", "1000", "rate must be a finite number > 0"),
    ("envelope", "rate", True, "rate must be a finite number > 0"),
    ("envelope", "band", ("20", "450"), "band must be a pair of numbers"),
    ("envelope", "time_dim", 5, "time_dim must be a string"),
    ("extract", "progress", "no", "progress must be True or False"),
    ("extract", "vaf_threshold", np.nan, "vaf_threshold must be a finite number"),
    ("extract", "criterion", 5, "criterion must be a method name"),
    ("detect", "baseline_percentile", "x", "baseline_percentile must be a finite"),
    ("detect", "bin_width", "x", "bin_width must be a finite number > 0"),
    ("detect", "bin_width", np.nan, "bin_width must be a finite number > 0"),
    ("detect", "alpha", np.nan, "alpha must be a finite number"),
    ("detect", "alpha", 2.0, r"alpha must be a significance level in \(0, 1\)"),
    ("detect", "max_participation", "x", "max_participation must be a finite"),
    ("detect", "progress", "no", "progress must be True or False"),
    ("detect", "rank", True, "rank must be an integer >= 1"),
    ("detect", "threshold", np.nan, "threshold must be a finite number"),
    ("detect", "time_dim", 5, "time_dim must be a string"),
    ("online_nmf", "progress", "no", "progress must be True or False"),
    ("online_nmf", "tol", np.nan, "tol must be a finite number >= 0"),
]


@pytest.mark.parametrize(("function", "option", "value", "message"), CASES)
def test_bad_option_refused_before_work(function, option, value, message):
    with pytest.raises(nm.InputError, match=message):
        CALLS[function](**{option: value})


# ---- sweep2: decode, segment, sample_dim (issue 21 defect 7) ---------------------
# Each case below was accepted, coerced or a raw TypeError/ValueError at f8bf671.
DEC_X = RNG.poisson(2.0, (120, 5)).astype(float)
DEC_Y = np.sin(np.arange(120) / 8.0)
MOVIE = nm.datasets.simulate_movie((40, 40), 60, 5, 3.0, seed=0).data

CALLS["decode"] = lambda **k: nm.decoding.decode(
    DEC_X, DEC_Y, **{"rank": 2, "cv": 2, "inner_cv": 2, "n_null": 0, **k}
)
CALLS["segment"] = lambda **k: nm.imaging.segment(MOVIE, **{"neuron_radius": 3.0, **k})
CALLS["nmf"] = lambda **k: nm.nmf(V, 2, **{"max_iter": 5, **k})
CALLS["project"] = lambda **k: nm.project(V, RNG.random((8, 2)) + 0.1, **k)

CASES_SWEEP2 = [
    ("decode", "seed", "a", "seed must be None, an integer >= 0"),
    ("decode", "seed", 1.5, "seed must be None, an integer >= 0"),
    ("decode", "gap", 1.5, "gap must be an integer >= 0"),
    ("decode", "gap", "2", "gap must be an integer >= 0"),
    ("decode", "gap", True, "gap must be an integer >= 0"),
    ("decode", "progress", "no", "progress must be True or False"),
    ("decode", "time_dim", 5, "time_dim must be a string"),
    ("decode", "trial_dim", 5, "trial_dim must be a string"),
    ("decode", "lags", (1.5, 0), r"lags\[0\] must be an integer >= 0"),
    ("decode", "lags", ("1", "0"), r"lags\[0\] must be an integer >= 0"),
    ("decode", "rank", True, "rank must be an integer >= 1 or 'auto'"),
    ("decode", "ranks", [1.5, 2], r"ranks\[0\] must be an integer >= 1"),
    ("decode", "ranks", ["1", "2"], r"ranks\[0\] must be an integer >= 1"),
    ("decode", "ranks", 5, "ranks must be an iterable of integers"),
    ("decode", "alphas", ["1"], r"alphas\[0\] must be a finite number > 0"),
    ("decode", "alphas", [np.nan], r"alphas\[0\] must be a finite number > 0"),
    ("decode", "alphas", [True], r"alphas\[0\] must be a finite number > 0"),
    ("decode", "alphas", 1.0, "alphas must be a sequence of finite numbers"),
    ("decode", "model_options", 5, "model_options must be None or a dict"),
    ("decode", "n_jobs", True, "n_jobs must be a positive integer"),
    ("decode", "inner_cv", "3", "inner_cv must be an integer >= 2; got '3'"),
    ("segment", "neuron_radius", "3", "neuron_radius must be a positive number"),
    ("segment", "neuron_radius", True, "neuron_radius must be a positive number"),
    ("segment", "n_neurons", True, "n_neurons must be 'auto' or a positive"),
    ("segment", "background_rank", True, "background_rank must be an integer"),
    ("segment", "smoothness", "0.1", "smoothness must be a finite number >= 0"),
    ("segment", "sparsity", "0", "sparsity must be a finite number >= 0"),
    ("segment", "patch", 64.5, "patch must be an integer >= 1"),
    ("segment", "overlap", "12", "overlap must be an integer >= 0"),
    ("segment", "n_jobs", 1.5, "n_jobs must be an integer >= 1"),
    ("segment", "n_jobs", "2", "n_jobs must be an integer >= 1"),
    ("segment", "refine", 0, "refine must be 'traces', 'full' or False"),
    ("segment", "progress", "no", "progress must be True or False"),
    ("segment", "min_corr", np.nan, "min_corr must be a finite number"),
    ("segment", "min_pnr", "5", "min_pnr must be a finite number"),
    ("segment", "min_snr", np.nan, "min_snr must be a finite number"),
    ("segment", "min_trace_corr", "x", "min_trace_corr must be a finite number"),
    ("segment", "min_area", 1.5, "min_area must be an integer >= 0"),
    ("segment", "min_area", -1, "min_area must be an integer >= 0"),
    ("segment", "max_area", np.nan, "max_area must be an integer >= 0"),
    ("segment", "merge_threshold", np.nan, "merge_threshold must be a finite"),
    ("segment", "merge_dilation", -1, "merge_dilation must be an integer >= 0"),
    ("segment", "support_dilation", 1.5, "support_dilation must be an integer"),
    (
        "segment",
        "baseline_percentile",
        150.0,
        r"baseline_percentile must be a "
        r"number in \[0, 100\]",
    ),
    ("segment", "baseline_percentile", "10", "baseline_percentile must be a finite"),
    ("segment", "footprint_threshold", np.nan, "footprint_threshold must be a"),
    (
        "segment",
        "footprint_threshold",
        2.0,
        r"footprint_threshold must be a number "
        r"in \[0, 1\]",
    ),
    ("segment", "anatomy_threshold", True, "anatomy_threshold must be a finite"),
    ("nmf", "sample_dim", 5, "sample_dim must be a string"),
    ("project", "sample_dim", ["time"], "sample_dim must be a string"),
]


@pytest.mark.parametrize(("function", "option", "value", "message"), CASES_SWEEP2)
def test_bad_option_refused_sweep2(function, option, value, message):
    with pytest.raises(nm.InputError, match=message):
        CALLS[function](**{option: value})


def test_decode_numpy_integer_options_accepted():
    # numpy integers are integers: accepted like int (not coerced from floats)
    res = CALLS["decode"](gap=np.int64(2), seed=np.int64(1), ranks=[np.int64(2)])
    assert np.isfinite(res.score)


def test_segment_numpy_integer_options_accepted():
    # refused at f8bf671 (isinstance(..., int)); numpy integers are integers
    seg = CALLS["segment"](n_neurons=np.int64(5), background_rank=np.int64(1))
    assert seg.sizes["neuron"] >= 1


def test_sample_dim_must_name_a_dim_of_labelled_input():
    da = xr.DataArray(V, dims=("channel", "time"))
    with pytest.raises(nm.InputError, match="sample_dim"):
        nm.nmf(da, 2, sample_dim="frame", max_iter=5)
    with pytest.raises(nm.InputError, match="sample_dim must be a string"):
        nm.nmf(da, 2, sample_dim=("time",), max_iter=5)


def test_refit_time_dim_must_be_a_string():
    rng = np.random.default_rng(0)
    syn = nm.synergies.extract(rng.random((200, 5)), rank=2, n_restarts=1, seed=0)
    with pytest.raises(nm.InputError, match="time_dim"):
        nm.synergies.refit(rng.random((200, 5)), syn, time_dim=5)
