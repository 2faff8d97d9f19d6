"""Time-varying synergies (d'Avella 2003): extract(kind="time-varying", duration=)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import linear_sum_assignment

from neuronmf.datasets import simulate_emg, simulate_time_varying_emg
from neuronmf.errors import InputError
from neuronmf.synergies import envelope, extract
from neuronmf.synergies._time_varying import aligned_cosine, occurrences

DURATION = 0.45  # the fitted window: 1.5 x the planted 0.3 s synergies


def _sim(seed, **kw):
    kw = {"n_muscles": 6, "n_synergies": 2, "total_time": 15.0, "rate": 50.0,
          "occurrence_rate": 1.0, "seed": seed, **kw}  # fmt: skip
    return simulate_time_varying_emg(**kw)


def _evaluate(ds, truth):
    """Matched aligned cosines, and per true occurrence the onset error (in
    samples, after the matched synergy's alignment shift) and amplitudes."""
    step = ds.attrs["scan_step"]  # the truth on the fitted lag grid
    Wt, Wf = truth.synergies.values[:, :, ::step], ds.synergies.values
    C = np.zeros((len(Wt), len(Wf)))
    D = np.zeros((len(Wt), len(Wf)), int)
    for i, a in enumerate(Wt):
        for j, b in enumerate(Wf):
            C[i, j], D[i, j] = aligned_cosine(a, b)
    rows, cols = linear_sum_assignment(-C)
    errors, amps = [], []
    for i, j in zip(rows, cols, strict=True):
        true_on = truth.onset_sample.values[truth.occurrence_synergy.values == i]
        true_amp = truth.amplitude.values[truth.occurrence_synergy.values == i]
        sel = ds.occurrence_synergy.values == j
        found = ds.onset_sample.values[sel] + D[i, j] * step
        for t0, a0 in zip(true_on, true_amp, strict=True):
            k = np.argmin(np.abs(found - t0))
            errors.append(found[k] - t0)
            amps.append((a0, ds.amplitude.values[sel][k]))
    n_found = int(np.isin(ds.occurrence_synergy.values, cols).sum())
    return C[rows, cols], np.asarray(errors), np.asarray(amps), n_found


@pytest.mark.parametrize("seed", [0, 3, 9])
def test_planted_synergies_and_onsets_are_recovered(seed):
    sim = _sim(seed)
    ds = extract(sim.data, kind="time-varying", duration=DURATION, rank=2,
                 n_restarts=2)  # fmt: skip
    cos, err, amps, n_found = _evaluate(ds, sim.truth)
    assert cos.min() >= 0.95, cos
    assert np.mean(np.abs(err) <= 2) >= 0.95, err  # within 2 samples (40 ms)
    assert n_found <= 1.1 * len(err)  # no flood of spurious occurrences
    r = np.corrcoef(amps[:, 0], amps[:, 1])[0, 1]
    assert r > 0.9, r  # amplitudes track the planted ones
    assert float(ds.vaf) > 0.99


def test_result_is_labelled_and_stamped():
    sim = _sim(0)
    ds = extract(sim.data, kind="time-varying", duration=DURATION, rank=2,
                 n_restarts=1, seed=5)  # fmt: skip
    assert ds.synergies.dims == ("synergy", "muscle", "lag")
    assert list(ds.muscle.values) == list(sim.data.channel.values)
    np.testing.assert_allclose(ds.lag.values, np.arange(22) / 50.0)
    np.testing.assert_allclose(np.sqrt((ds.synergies**2).sum(("muscle", "lag"))), 1.0)
    assert ds.activations.dims == ("synergy", "time")
    # onsets in seconds are the time coordinate of the onset samples
    np.testing.assert_allclose(
        ds.onset.values, sim.data.time.values[ds.onset_sample.values]
    )
    assert (ds.amplitude > 0).all()
    assert ds.attrs["neuronmf_kind"] == "time_varying_synergies"
    assert ds.attrs["seed"] == 5 and ds.attrs["rank"] == 2
    assert ds.attrs["lags"] == 22 and ds.attrs["duration"] == DURATION
    # the occurrences table
    table = ds[["occurrence_synergy", "onset", "amplitude"]].to_dataframe()
    assert len(table) == ds.sizes["occurrence"] > 0


def test_default_kind_is_the_synchronous_extract():
    sim = simulate_emg(6, 2, 4, seed=1)
    env = envelope(sim.data)
    a = extract(env, rank=2, n_restarts=2)
    b = extract(env, rank=2, n_restarts=2, kind="synchronous")
    xr.testing.assert_identical(a, b)
    assert a.attrs["neuronmf_kind"] == "synergies"
    assert "duration" not in a.attrs


def test_a_fast_envelope_is_fitted_on_every_sth_sample():
    sim = _sim(0, rate=200.0)  # 0.45 s = 90 lags > 32: every 3rd sample
    ds = extract(sim.data, kind="time-varying", duration=DURATION, rank=2,
                 n_restarts=1)  # fmt: skip
    assert ds.attrs["scan_step"] == 3 and ds.attrs["lags"] == 30
    np.testing.assert_allclose(np.diff(ds.lag.values), 3 / 200.0)
    cos, err, _, _ = _evaluate(ds, sim.truth)
    assert cos.min() >= 0.95
    assert np.median(np.abs(err)) <= 3  # in samples of the 200 Hz recording


def test_rank_auto_by_the_curve_fit_rule():
    sim = _sim(1)
    ds = extract(sim.data, kind="time-varying", duration=DURATION, rank="auto",
                 ranks=range(1, 4), n_restarts=1)  # fmt: skip
    assert ds.attrs["rank"] == 2
    assert ds.scan_vaf.dims == ("rank",) and ds.sizes["rank"] == 3
    assert ds.scan_vaf.sel(rank=2) > 0.99 > ds.scan_vaf.sel(rank=1)


def test_null_independent_muscles_gain_nothing_over_their_shuffles():
    rng = np.random.default_rng(0)
    n, m = 750, 6
    x = np.zeros((n, m))
    for j in range(m):  # every muscle bursts on its own
        x[rng.choice(n, 15, replace=False), j] = rng.uniform(0.5, 1.5, 15)
    x = gaussian_filter1d(x, 2, axis=0) + 0.002 * np.abs(rng.standard_normal((n, m)))
    null = xr.DataArray(x, dims=("time", "channel"), coords={"time": np.arange(n) / 50})
    ds = extract(null, kind="time-varying", duration=DURATION, rank=2,
                 n_restarts=2, n_shuffles=2)  # fmt: skip
    # no gain over data without co-activation (the excess scatters around 0
    # by +-0.05 between fits of 750 samples; here it is -0.05)
    assert float(ds.vaf_excess) < 0.05, float(ds.vaf_excess)
    assert float(ds.vaf) < 0.7  # two synergies cannot explain six free muscles
    sim = _sim(0)
    ds = extract(sim.data, kind="time-varying", duration=DURATION, rank=2,
                 n_restarts=2, n_shuffles=2)  # fmt: skip
    assert float(ds.vaf_excess) > 0.15


def test_nan_dropouts_are_masked():
    sim = _sim(0)
    data = sim.data.copy()
    data[100:110, 2] = np.nan
    with pytest.warns(UserWarning, match="10 missing"):
        ds = extract(data, kind="time-varying", duration=DURATION, rank=2,
                     n_restarts=1)  # fmt: skip
    assert np.isfinite(float(ds.vaf))
    cos, _, _, _ = _evaluate(ds, sim.truth)
    assert cos.min() >= 0.95


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "time-varying"}, "duration must be given"),
        ({"duration": 0.3}, "duration must be given"),
        ({"kind": "timevarying", "duration": 0.3}, "kind must be"),
        ({"kind": "time-varying", "duration": 0.01}, "duration must be at least 2"),
        ({"kind": "time-varying", "duration": 0.3, "rank": 0}, "rank must be"),
        ({"kind": "time-varying", "duration": 0.3, "wobble": 1}, "options of kind"),
        ({"kind": "time-varying", "duration": 0.3, "min_amplitude": 2},
         "min_amplitude must be"),
        ({"kind": "time-varying", "duration": 0.3, "rank": "auto",
          "criterion": "bic"}, "criterion must be 'vaf' or 'curvefit'"),
    ],
)  # fmt: skip
def test_bad_options_are_refused(kwargs, match):
    sim = _sim(0, total_time=5.0)
    kwargs = {"rank": 2, **kwargs}
    with pytest.raises(InputError, match=match):
        extract(sim.data, **kwargs)


def test_occurrences_are_the_peaks_of_the_activations():
    H = np.zeros((2, 60))
    H[0, [10, 11]] = [1.0, 0.5]  # an onset spread over two samples
    H[0, 40] = 0.05  # below min_amplitude x the largest
    H[1, 30] = 2.0
    k, t, c = occurrences(H, min_amplitude=0.1, min_interval=5, half_width=1)
    assert k.tolist() == [0, 1] and t.tolist() == [10, 30]
    np.testing.assert_allclose(c, [1.5, 2.0])


def test_aligned_cosine_finds_the_shift():
    rng = np.random.default_rng(0)
    a = np.zeros((3, 20))
    a[:, 5:12] = rng.random((3, 7))
    c, d = aligned_cosine(a, np.roll(a, 3, axis=1))
    assert c == pytest.approx(1.0) and d == 3
    c, d = aligned_cosine(a, np.roll(a, -4, axis=1))
    assert c == pytest.approx(1.0) and d == -4


def test_the_simulator_plants_what_its_truth_says():
    sim = simulate_time_varying_emg(
        n_muscles=4, n_synergies=2, total_time=10.0, rate=50.0, noise=0.0, seed=2
    )
    tr = sim.truth
    model = np.zeros_like(tr.envelope.values)
    n_lags = tr.sizes["lag"]
    for k, t0, c in zip(
        tr.occurrence_synergy.values,
        tr.onset_sample.values,
        tr.amplitude.values,
        strict=True,
    ):
        model[t0 : t0 + n_lags] += c * tr.synergies.values[k].T
    np.testing.assert_allclose(model, tr.envelope.values)
    np.testing.assert_allclose(sim.data.values, tr.envelope.values)  # noise 0
    np.testing.assert_allclose(tr.onset.values, tr.onset_sample.values / 50.0)
    again = simulate_time_varying_emg(
        n_muscles=4, n_synergies=2, total_time=10.0, rate=50.0, noise=0.0, seed=2
    )
    xr.testing.assert_identical(sim.data, again.data)
    with pytest.raises(InputError, match="duration and total_time"):
        simulate_time_varying_emg(duration=0.01, rate=50.0)


def test_plot_time_varying():
    from neuronmf.plotting.synergies_time import plot_time_varying

    sim = _sim(0, total_time=5.0)
    ds = extract(sim.data, kind="time-varying", duration=DURATION, rank=2,
                 n_restarts=1)  # fmt: skip
    fig = plot_time_varying(ds, envelope=sim.data, window=(0, 3))
    assert len(fig.axes) == 3
    assert fig.axes[-1].get_xlim() == (0.0, 3.0)


def test_netcdf_round_trip(tmp_path):
    from neuronmf.io import load_result, save_netcdf

    sim = _sim(0, total_time=5.0)
    ds = extract(sim.data, kind="time-varying", duration=DURATION, rank=2,
                 n_restarts=1)  # fmt: skip
    save_netcdf(ds, tmp_path / "tv.nc")
    back = load_result(tmp_path / "tv.nc")
    xr.testing.assert_allclose(ds, back)
    assert back.attrs["neuronmf_kind"] == "time_varying_synergies"
