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
