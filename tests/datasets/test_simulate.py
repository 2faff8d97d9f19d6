"""Simulators: seeded, labelled like the loaders, and written to NWB faithfully."""

from __future__ import annotations

import numpy as np
import pynwb
import pytest
import xarray as xr

from neuronmf.datasets import (
    Simulation,
    simulate_assemblies,
    simulate_emg,
    simulate_movie,
)
from neuronmf.errors import InputError

SMALL = {
    "emg": lambda seed=0, **kw: simulate_emg(8, 3, 4, seed=seed, **kw),
    "movie": lambda seed=0, **kw: simulate_movie(
        (32, 40), n_frames=60, n_neurons=5, seed=seed, **kw
    ),
    "assemblies": lambda seed=0, **kw: simulate_assemblies(20, 2, 600, seed=seed, **kw),
}


@pytest.mark.parametrize("kind", list(SMALL))
def test_seeded_deterministic(kind):
    a, b, c = SMALL[kind](0), SMALL[kind](0), SMALL[kind](1)
    assert isinstance(a, Simulation)
    xr.testing.assert_identical(a.data, b.data)
    xr.testing.assert_identical(a.truth, b.truth)
    assert not np.array_equal(a.data.values, c.data.values)


@pytest.mark.parametrize("kind", ["gait", "reach"])
def test_emg_shapes_and_truth(kind):
    sim = simulate_emg(16, 5, 6, rate=2000.0, kind=kind, seed=3)
    d, tr = sim.data, sim.truth
    assert d.dims == ("time", "channel") and d.sizes["channel"] == 16
    assert d.name == "emg"
    assert d.attrs == {"rate": 2000.0, "units": "volts"}
    np.testing.assert_allclose(np.diff(d["time"].values), 1 / 2000.0)
    assert d["time"].values[0] == 0.0
    assert len(set(d["channel"].values.tolist())) == 16
    assert (d.values < 0).any() and (d.values > 0).any()  # raw EMG is signed
    assert tr["synergies"].dims == ("muscle", "synergy")
    assert tr["synergies"].shape == (16, 5)
    np.testing.assert_allclose(np.linalg.norm(tr["synergies"].values, axis=0), 1)
    assert tr["activations"].shape == (5, d.sizes["time"])
    assert (tr["activations"].values >= 0).all()
    assert tr["cycle_start"].size == 6 and (np.diff(tr["cycle_start"]) > 0).all()
    # the envelope is W H scaled; raw EMG power follows it
    env = tr["envelope"].values
    W, H = tr["synergies"].values, tr["activations"].values
    np.testing.assert_allclose(env, tr.attrs["amplitude"] * (W @ H).T)
    loud = env > np.quantile(env, 0.9)
    quiet = env < np.quantile(env, 0.1)
    assert np.abs(d.values[loud]).mean() > 3 * np.abs(d.values[quiet]).mean()


def test_emg_envelope_mode_and_bad_input():
    sim = simulate_emg(6, 2, 3, rate=100.0, raw=False, seed=0)
    assert (sim.data.values >= 0).all()
    with pytest.raises(InputError, match="n_synergies"):
        simulate_emg(3, 4)
    with pytest.raises(InputError, match="kind"):
        simulate_emg(kind="run")
    with pytest.raises(InputError, match="rate"):
        simulate_emg(rate=200.0)


def test_movie_shapes_truth_and_dynamics():
    sim = simulate_movie((48, 40), n_frames=200, n_neurons=6, neuron_radius=5, seed=2)
    d, tr = sim.data, sim.truth
    assert d.dims == ("time", "y", "x") and d.shape == (200, 48, 40)
    assert d.name == "movie" and d.dtype == np.uint16
    assert d.attrs == {"rate": 10.0, "units": "counts"}
    assert tr["footprints"].dims == ("neuron", "y", "x")
    assert tr["footprints"].shape == (6, 48, 40)
    area = tr["masks"].sum(("y", "x")).values
    assert ((area > 0.5 * np.pi * 25) & (area < 3 * np.pi * 25)).all()
    # calcium follows AR(2) driven by the spikes
    g1, g2 = tr.attrs["ar2_coefficients"]
    C, S = tr["traces"].values, tr["spikes"].values
    assert S.sum() > 0
    resid = C[:, 2:] - g1 * C[:, 1:-1] - g2 * C[:, :-2]
    assert ((np.abs(resid) < 1e-9) | (S[:, 2:] > 0)).all()
    # neurons are brighter than their surroundings when active
    active = C.argmax(1)
    for i in range(6):
        frame = d.values[active[i]].astype(float)
        inside = frame[tr["masks"].values[i]].mean()
        assert inside > np.median(frame)


def test_assemblies_shapes_truth_and_behaviour():
    sim = simulate_assemblies(30, 3, 2000, seed=1)
    d, tr = sim.data, sim.truth
    assert d.dims == ("time", "neuron") and d.shape == (2000, 30)
    assert d.attrs["bin_width"] == 0.025 and d.attrs["units"] == "spikes per bin"
    np.testing.assert_allclose(d["time"].values[:2], [0.0125, 0.0375])
    assert (d.values == np.round(d.values)).all() and (d.values >= 0).all()
    assert tr["membership"].shape == (30, 3)
    assert (tr["members"].sum("neuron").values == 8).all()
    assert (tr["members"].values.sum(1) > 1).any()  # overlapping assemblies
    assert sim.behavior.dims == ("time",)
    # the behaviour is driven by the assemblies
    from scipy.ndimage import gaussian_filter1d

    smooth = gaussian_filter1d(tr["activations"].values, 4.0, axis=1)
    X = np.c_[smooth.T, np.ones(2000)]
    beta, *_ = np.linalg.lstsq(X, sim.behavior.values, rcond=None)
    r2 = 1 - np.var(sim.behavior.values - X @ beta) / np.var(sim.behavior.values)
    assert r2 > 0.8


def _read(path):
    io = pynwb.NWBHDF5IO(str(path), "r")
    return io, io.read()


def test_emg_to_nwb_round_trip(tmp_path):
    sim = SMALL["emg"](rate=1500.0)
    p = sim.to_nwb(tmp_path / "emg.nwb")
    io, nwb = _read(p)
    try:
        es = nwb.acquisition["EMG"]
        assert isinstance(es, pynwb.ecephys.ElectricalSeries)
        np.testing.assert_array_equal(es.data[:], sim.data.values)
        assert es.rate == 1500.0 and es.starting_time == 0.0 and es.unit == "volts"
        locs = es.electrodes.table["location"].data[:]
        assert list(locs[es.electrodes.data[:]]) == sim.data["channel"].values.tolist()
        cycles = nwb.intervals["gait_cycles"]
        np.testing.assert_array_equal(
            cycles["start_time"].data[:], sim.truth["cycle_start"].values
        )
    finally:
        io.close()
    with pytest.raises(InputError, match="overwrite"):
        sim.to_nwb(p)


def test_emg_to_nwb_loads_back_with_load_emg(tmp_path):
    load_emg = pytest.importorskip("neuronmf.io").__dict__.get("load_emg")
    if load_emg is None:
        pytest.skip("neuronmf.io.load_emg not available yet")
    sim = SMALL["emg"]()
    back = load_emg(sim.to_nwb(tmp_path / "emg.nwb"))
    np.testing.assert_array_equal(back.values, sim.data.values)
    assert back.dims == sim.data.dims
    np.testing.assert_array_equal(back["channel"].values, sim.data["channel"].values)
    np.testing.assert_array_equal(back["time"].values, sim.data["time"].values)
    assert back.attrs["rate"] == sim.data.attrs["rate"]


def test_movie_to_nwb_round_trip(tmp_path):
    sim = SMALL["movie"]()
    p = sim.to_nwb(tmp_path / "movie.nwb")
    io, nwb = _read(p)
    try:
        tps = nwb.acquisition["TwoPhotonSeries"]
        assert tps.data.shape == (60, 40, 32)  # (frames, x, y)
        np.testing.assert_array_equal(
            np.transpose(tps.data[:], (0, 2, 1)), sim.data.values
        )
        assert tps.rate == 10.0
        ps = nwb.processing["ophys"]["ImageSegmentation"]["GroundTruth"]
        np.testing.assert_array_equal(
            np.transpose(ps["image_mask"][:], (0, 2, 1)),
            sim.truth["footprints"].values,
        )
    finally:
        io.close()
    load_movie = pytest.importorskip("neuronmf.io").__dict__.get("load_movie")
    if load_movie is not None:
        back = load_movie(p)
        np.testing.assert_array_equal(np.asarray(back.values), sim.data.values)
        assert back.dims == ("time", "y", "x")
        assert back.attrs["rate"] == 10.0
        np.testing.assert_array_equal(back["time"].values, sim.data["time"].values)


def test_assemblies_to_nwb_round_trip(tmp_path):
    sim = SMALL["assemblies"]()
    p = sim.to_nwb(tmp_path / "asm.nwb")
    io, nwb = _read(p)
    try:
        units = nwb.units
        assert len(units) == 20
        bw = sim.data.attrs["bin_width"]
        edges = np.arange(sim.data.sizes["time"] + 1) * bw
        counts = np.stack(
            [np.histogram(units["spike_times"][j], edges)[0] for j in range(20)], 1
        )
        np.testing.assert_array_equal(counts, sim.data.values)
        ts = nwb.processing["behavior"]["BehavioralTimeSeries"]["behavior"]
        np.testing.assert_array_equal(ts.data[:], sim.behavior.values)
        np.testing.assert_array_equal(ts.timestamps[:], sim.data["time"].values)
    finally:
        io.close()


def test_assemblies_to_nwb_loads_back_with_the_loaders(tmp_path):
    """simulate -> NWB -> load_activity/load_behavior: same counts, times, rate."""
    import neuronmf as nm

    sim = SMALL["assemblies"]()
    p = sim.to_nwb(tmp_path / "asm.nwb")
    bw = float(sim.data.attrs["bin_width"])
    activity = nm.io.load_activity(p, bin_width=bw, t_start=0.0)
    assert activity.dims == ("time", "neuron")
    n = sim.data.sizes["time"]
    assert activity.sizes["time"] in (n, n + 1)  # the last edge may open a bin
    np.testing.assert_array_equal(activity.values[:n], sim.data.values)
    np.testing.assert_allclose(activity["time"].values[:n], sim.data["time"].values)
    assert activity.attrs["rate"] == pytest.approx(1 / bw)
    behavior = nm.io.load_behavior(p, times=sim.data["time"].values)
    np.testing.assert_allclose(np.squeeze(behavior.values), sim.behavior.values)


@pytest.mark.parametrize("kind", list(SMALL))
def test_simulated_nwb_passes_nwbinspector(tmp_path, kind):
    nwbinspector = pytest.importorskip("nwbinspector")
    p = SMALL[kind]().to_nwb(tmp_path / f"{kind}.nwb")
    critical = [
        m
        for m in nwbinspector.inspect_nwbfile(nwbfile_path=str(p))
        if m.importance == nwbinspector.Importance.CRITICAL
    ]
    assert critical == [], [m.message for m in critical]


# ------------------------------------------------- one EMG simulator (issue 22 item 4)
def test_padded_variant_is_the_deprecated_synergies_simulate():
    from neuronmf.synergies import simulate

    with pytest.warns(DeprecationWarning, match="simulate_emg"):
        raw, truth = simulate(n_muscles=9, n_synergies=3, n_cycles=4, seed=2)
    sim = simulate_emg(9, 3, 4, variant="padded", seed=2)
    # same model: the alias is in its old arbitrary units (x100), the dataset in volts
    np.testing.assert_allclose(sim.data.values * 1e6, raw.values, rtol=1e-12)
    np.testing.assert_array_equal(sim.data["time"].values, raw["time"].values)
    assert list(sim.data["channel"].values) == list(raw["channel"].values)
    np.testing.assert_array_equal(sim.truth["synergies"].values, truth["synergies"])
    touchdowns = np.append(sim.truth["cycle_start"], sim.truth["cycle_stop"][-1])
    np.testing.assert_array_equal(touchdowns, truth["touchdowns"])
    np.testing.assert_allclose(sim.truth["envelope"].values, 1e-4 * truth["envelope"])
    assert sim.params["variant"] == "padded" and sim.data.attrs["units"] == "volts"
    # one second of walking before the first and after the last touchdown
    assert sim.data.sizes["time"] == 6000 and touchdowns[0] == 1.0


def test_padded_variant_bad_input_and_nwb(tmp_path):
    with pytest.raises(InputError, match="variant"):
        simulate_emg(variant="classic")
    with pytest.raises(InputError, match="kind"):
        simulate_emg(kind="reach", variant="padded")
    sim = simulate_emg(6, 2, 3, variant="padded", raw=False, rate=100.0, seed=0)
    assert (sim.data.values >= 0).all()
    from neuronmf.io import load_emg

    path = simulate_emg(6, 2, 3, variant="padded", seed=0).to_nwb(tmp_path / "p.nwb")
    back = load_emg(path)
    assert back.sizes["channel"] == 6 and back.sizes["time"] == 5000


@pytest.mark.parametrize("kind", ["gait", "reach"])
def test_cycle_stop_ends_each_stride_or_trial(kind):
    sim = simulate_emg(6, 2, 5, kind=kind, seed=4)
    start, stop = sim.truth["cycle_start"].values, sim.truth["cycle_stop"].values
    assert (stop > sim.truth["cycle_event"].values).all()
    if kind == "gait":  # the next touchdown
        np.testing.assert_allclose(stop[:-1], start[1:])
    assert stop[-1] == pytest.approx(sim.data.sizes["time"] / 1000.0, abs=1e-3)


def test_demo_simulator_is_a_deprecated_alias_of_the_datasets_one():
    from neuronmf.cli import demo
    from neuronmf.datasets import simulate_synergy_envelopes

    with pytest.warns(DeprecationWarning, match="neuronmf.datasets"):
        alias = demo.simulate_synergy_envelopes
    assert alias is simulate_synergy_envelopes


def test_tests_benchmarks_and_examples_use_the_datasets_simulators():
    """No import of the deprecated copies (synergies.simulate, cli.demo's) is left."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    deprecated = re.compile(
        r"synergies import (\([^)]*|[^\n]*)\bsimulate\b|synergies\.simulate\("
        r"|cli\.demo import simulate|demo\.simulate_synergy_envelopes"
    )
    offenders = []
    for folder in ("tests", "benchmarks", "examples", "docs"):
        for path in sorted((root / folder).rglob("*.py")):
            if path.resolve() == Path(__file__).resolve():
                continue
            if deprecated.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(root)))
    assert offenders == []
