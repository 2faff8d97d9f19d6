"""EMG envelope: filters on synthetic signals, attributes, time normalisation."""

import numpy as np
import pytest
import xarray as xr

from neuronmf.errors import InputError
from neuronmf.synergies import envelope

RATE = 1000.0


def _signal(n=8000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    return t, rng


def test_bandpass_kills_dc_and_out_of_band():
    t, rng = _signal()
    dc = 50.0 * np.ones_like(t)
    slow = 20.0 * np.sin(2 * np.pi * 2.0 * t)  # 2 Hz, below the 20 Hz corner
    fast = 20.0 * np.sin(2 * np.pi * 480.0 * t)  # between 450 Hz and Nyquist
    raw = np.column_stack(
        [dc + slow + fast, slow + 0.001 * rng.standard_normal(t.size)]
    )
    env = envelope(raw, rate=RATE, lowpass=None, normalize=None)
    inner = slice(1000, -1000)  # away from the filter's edge transients
    assert env.values[inner].max() < 0.05 * 20.0  # < 5% of the amplitude survives
    # in-band tones pass at full amplitude: mean |sin| = 2/pi (frequencies chosen
    # not to divide the sampling rate, where the sampled mean of |sin| differs)
    tone = np.column_stack([np.sin(2 * np.pi * 97.3 * t), np.sin(2 * np.pi * 61.7 * t)])
    env = envelope(tone, rate=RATE, normalize=None)
    np.testing.assert_allclose(env.values[inner].mean(axis=0), 2 / np.pi, rtol=0.01)


def test_lowpass_envelope_tracks_amplitude_modulation():
    t, rng = _signal(20000)
    amp = 1.0 + 0.8 * np.sin(2 * np.pi * 1.0 * t)  # 1 Hz modulation
    raw = amp[:, None] * rng.standard_normal((t.size, 3))
    env = envelope(raw, rate=RATE, lowpass=6.0, normalize=None)
    inner = slice(2000, -2000)
    expected = amp * np.sqrt(2 / np.pi) * 0.96  # E|x| of band-limited unit noise
    for c in range(3):
        r = np.corrcoef(env.values[inner, c], expected[inner])[0, 1]
        assert r > 0.97
    np.testing.assert_allclose(
        env.values[inner].mean(axis=0) / expected[inner].mean(), 1.0, atol=0.08
    )


def test_attrs_names_and_normalisations():
    t, rng = _signal(4000)
    raw = xr.DataArray(
        rng.standard_normal((t.size, 3)) * [1.0, 2.0, 3.0],
        dims=("time", "channel"),
        coords={"time": t, "channel": ["TA", "SO", "GM"]},
        attrs={"rate": RATE, "source": "x.csv"},
    )
    before = raw.copy(deep=True)
    env = envelope(raw)
    xr.testing.assert_identical(raw, before)  # input untouched
    assert list(env.channel.values) == ["TA", "SO", "GM"]
    np.testing.assert_allclose(env.max("time").values, 1.0)
    for key in ("band_hz", "lowpass_hz", "filter_order", "normalize", "filter"):
        assert key in env.attrs
    assert env.attrs["band_hz"] == "20-450" and env.attrs["source"] == "x.csv"
    uv = envelope(raw, normalize="unit_variance")
    np.testing.assert_allclose(np.sqrt((uv.values**2).mean(axis=0)), 1.0)
    mvc = envelope(raw, normalize=[2.0, 4.0, 6.0])
    raw_env = envelope(raw, normalize=None)
    np.testing.assert_allclose(mvc.values, raw_env.values / [2.0, 4.0, 6.0])
    assert mvc.attrs["normalize"] == "mvc"
    np.testing.assert_allclose(mvc.scale.values, [2.0, 4.0, 6.0])


def test_time_normalisation_per_cycle():
    t, rng = _signal(6000)
    raw = rng.standard_normal((t.size, 2))
    td = [0.5, 1.5, 2.6, 3.6]
    env = envelope(raw, rate=RATE, cycles=td, points_per_cycle=100)
    assert env.shape == (300, 2)
    assert env.cycle.values.tolist() == [0] * 100 + [1] * 100 + [2] * 100
    assert env.phase.values[0] == 0 and env.phase.values[99] == pytest.approx(0.99)
    np.testing.assert_allclose(env.source_time.values[[0, 100, 200]], td[:3])
    assert env.attrs["n_cycles"] == 3 and env.attrs["points_per_cycle"] == 100
    both = envelope(raw, rate=RATE, cycles=np.column_stack([td, np.add(td, 0.6)]))
    assert both.subphase.values[:100].tolist() == ["stance"] * 100
    assert both.source_time.values[100] == pytest.approx(1.1)


def test_nan_dropouts_are_kept_as_nan_and_reported():
    t, rng = _signal(4000)
    raw = rng.standard_normal((t.size, 3))
    raw[1000:1100, 1] = np.nan
    with pytest.warns(UserWarning, match=r"100 NaN samples.*ch1"):
        env = envelope(raw, rate=RATE)
    assert np.isnan(env.values[1000:1100, 1]).all()
    assert np.isfinite(env.values[:, [0, 2]]).all()
    assert env.attrs["n_missing"] == 100 and env.attrs["missing_channels"] == "ch1"


def test_independent_muscles_have_uncorrelated_envelopes():
    # null data: 13 muscles of independent white noise, 2 s at 1000 Hz. The low-pass
    # padded the rectified signal by odd reflection about its first and last
    # samples (near 0 after the band-pass), so every envelope dipped at both
    # ends together: mean pairwise correlation 0.46 (0.06 over 30 s), a shared
    # "synergy" made by the filter
    rng = np.random.default_rng(0)
    corr = []
    for _ in range(3):
        x = rng.standard_normal((2000, 13))
        da = xr.DataArray(x, dims=("time", "channel"), attrs={"rate": RATE})
        env = envelope(da).transpose("time", "channel").values
        C = np.corrcoef(env, rowvar=False)
        corr.append((C.sum() - 13) / (13 * 12))
        assert env[:20].mean() > 0.7 * env.mean()  # no dip at the start
        assert env[-20:].mean() > 0.7 * env.mean()
    assert abs(np.mean(corr)) < 0.05


@pytest.mark.parametrize(("n", "message"), [(20, "more than 27 samples"), (60, None)])
def test_a_short_recording_is_not_called_saturated(n, message):
    # one sample at a channel's extreme is no clipping: 60 samples of noise were
    # refused as "1.7% at the rail", 20 as "5.0% at the rail" (too short is the truth)
    x = np.random.default_rng(0).standard_normal((n, 3))
    da = xr.DataArray(x, dims=("time", "channel"), attrs={"rate": RATE})
    if message is None:
        # (no filters: 60 ms is too short for a 6 Hz envelope, a separate matter)
        assert envelope(da, band=None, lowpass=None).sizes["time"] == n
    else:
        with pytest.raises(InputError, match=message):
            envelope(da)


@pytest.mark.parametrize(
    ("kwargs", "data", "message"),
    [
        ({}, "one", "at least 2 channels"),
        (
            {"band": (20, 500)},
            "ok",
            r"Nyquist frequency 500 Hz \(sampling rate 1000 Hz\)",
        ),
        ({"lowpass": 600}, "ok", "Nyquist"),
        ({}, "flat", "flat channel.*SO"),
        ({}, "saturated", "saturated channel.*TA"),
        ({"cycles": [0.5, 1.5, 9.0]}, "ok", r"inside the recording.*\[9.0\]"),
        ({"cycles": [1.0, 0.5]}, "ok", "strictly increasing"),
        ({"normalize": "peak"}, "ok", "normalize must be"),
        ({"normalize": [1.0, -1.0]}, "ok", "MVC"),
        ({"rate": None}, "norate", "rate must be known"),
    ],
)
def test_bad_input_messages(kwargs, data, message):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 2))
    if data == "one":
        x = x[:, :1]
    elif data == "flat":
        x[:, 1] = 3.0
    elif data == "saturated":
        x[:, 0] = np.clip(x[:, 0], -1.0, 1.0)  # about 30% of samples at the rails
    names = ["TA", "SO"][: x.shape[1]]
    da = xr.DataArray(x, dims=("time", "channel"), coords={"channel": names})
    if data != "norate":
        da.attrs["rate"] = RATE
    args = {"rate": None, **kwargs}
    with pytest.raises(InputError, match=message):
        envelope(da, **args)
