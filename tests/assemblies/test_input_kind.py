"""Assemblies know their input: fluorescence baselines, the null, flat components.

Issue 20, "What was seen 1": raw fluorescence F (baselines 364-621) gave "2
significant assemblies" with flat weights. These tests fail on the code before
the fix (no ``kind=``; a members-only null that ignored how the members were
chosen: 10 of 20 seeds of independent fluorescence gave a "significant assembly").
"""

import warnings
from datetime import UTC

import numpy as np
import pytest
import xarray as xr
from scipy.signal import lfilter

import neuronmf as nm
from neuronmf.model_selection import match_components


def _fluorescence(spikes, rng, *, tau=5.0, amplitude=0.5, noise=0.03):
    """Calcium-like traces: per-neuron positive baselines of different sizes,
    exponentially decaying transients at each spike, Gaussian noise."""
    ca = lfilter([1.0], [1.0, -np.exp(-1 / tau)], spikes, axis=0)
    base = rng.uniform(100, 600, spikes.shape[1])
    return base * (1 + amplitude * ca) + rng.normal(0, noise, spikes.shape) * base


def _independent(seed, n_neurons=8, n_bins=300):
    rng = np.random.default_rng(seed)
    spikes = rng.poisson(0.03, (n_bins, n_neurons)).astype(float)
    return _fluorescence(spikes, rng, tau=8.0)


@pytest.mark.slow
def test_independent_fluorescence_no_assembly_in_19_of_20_seeds():
    # 39 surrogates: the smallest p is 0.025, so alpha 0.05 can be reached
    hits = 0
    for seed in range(20):
        ds = nm.assemblies.detect(
            _independent(seed, n_neurons=12, n_bins=600),
            kind="fluorescence",
            n_surrogates=39,
            seed=seed,
        )
        hits += bool(ds.significant.any())
    assert hits <= 1


def test_independent_fluorescence_auto_kind_is_inferred_and_said():
    F = _independent(0)
    with pytest.warns(UserWarning, match="fluorescence"):
        ds = nm.assemblies.detect(F, n_surrogates=0)
    assert ds.attrs["activity_kind"] == "fluorescence"
    assert ds.attrs["activity_kind_source"].startswith("inferred")
    assert "dF/F" in ds.attrs["preprocessing"]
    assert ds.attrs["loss"] == "frobenius"


def test_planted_assemblies_in_fluorescence_found():
    sim = nm.datasets.simulate_assemblies(
        n_neurons=12,
        n_assemblies=2,
        n_bins=600,
        members=4,
        overlap=0,
        rate=0.02,
        gain=2.0,
        bin_width=0.1,
        seed=0,
    )
    F = _fluorescence(sim.data.values, np.random.default_rng(0))
    ds = nm.assemblies.detect(F, kind="fluorescence", n_surrogates=39, seed=0)
    truth = sim.truth["members"].values
    m = match_components(sim.truth["membership"].values, ds.membership.values)
    assert m.similarity.min() >= 0.85
    for j in m.order:
        assert bool(ds.significant[j]) and bool(ds.specific[j])
    # every significant component's members lie inside one planted assembly
    for j in np.flatnonzero(ds.significant.values):
        inside = truth[ds.members.values[:, j]].all(axis=0)
        assert inside.any(), j


def test_shared_fluctuation_over_all_neurons_is_non_specific():
    # every neuron follows one slow shared signal (like neuropil in 1p data):
    # co-active, but not an assembly
    rng = np.random.default_rng(1)
    shared = lfilter([1.0], [1.0, -0.9], rng.poisson(0.1, 300).astype(float))
    base = rng.uniform(300, 600, 10)
    F = base * (1 + 0.2 * shared[:, None]) + rng.normal(0, 0.01, (300, 10)) * base
    with pytest.warns(UserWarning, match="non-specific"):
        ds = nm.assemblies.detect(F, kind="fluorescence", rank=1, n_surrogates=39)
    assert bool(ds.coactive[0]) and not bool(ds.specific[0])
    assert ds.participation[0] > 0.9
    assert not ds.significant.any()


def test_nwb_kind_recorded_by_loader(tmp_path):
    pynwb = pytest.importorskip("pynwb")
    from datetime import datetime

    from pynwb.ophys import (
        DfOverF,
        Fluorescence,
        ImageSegmentation,
        OpticalChannel,
        RoiResponseSeries,
    )

    nwb = pynwb.NWBFile("t", "id", datetime(2020, 1, 1, tzinfo=UTC))
    dev = nwb.create_device("scope")
    plane = nwb.create_imaging_plane(
        name="plane",
        optical_channel=OpticalChannel(
            name="ch", description="d", emission_lambda=500.0
        ),
        description="d",
        device=dev,
        excitation_lambda=600.0,
        imaging_rate=10.0,
        indicator="GCaMP",
        location="x",
    )
    ps = ImageSegmentation().create_plane_segmentation("d", plane, "ps")
    for _ in range(3):
        ps.add_roi(image_mask=np.ones((4, 4)))
    nwb.create_processing_module("ophys", "o").add(ps.parent)
    region = ps.create_roi_table_region("all", region=[0, 1, 2])
    data = np.random.default_rng(0).uniform(100, 110, (50, 3))
    fl = Fluorescence()
    for name, d in (("RoiResponseSeries", data), ("Deconvolved", data - 100)):
        fl.add_roi_response_series(
            RoiResponseSeries(name=name, data=d, rois=region, unit="a.u.", rate=10.0)
        )
    dff = DfOverF()
    dff.add_roi_response_series(
        RoiResponseSeries(
            name="dff", data=data / 100 - 1, rois=region, unit="a.u.", rate=10.0
        )
    )
    nwb.processing["ophys"].add(fl)
    nwb.processing["ophys"].add(dff)
    path = tmp_path / "o.nwb"
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    kinds = {
        s: nm.io.load_activity(path, series=s).attrs.get("activity_kind")
        for s in ("RoiResponseSeries", "Deconvolved", "dff")
    }
    assert kinds == {
        "RoiResponseSeries": "fluorescence",
        "Deconvolved": "deconvolved",
        "dff": "dff",
    }


def test_counts_unchanged_and_no_warning():
    sim = nm.datasets.simulate_assemblies(n_neurons=12, n_assemblies=2, n_bins=400)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        ds = nm.assemblies.detect(sim.data, rank=2, n_surrogates=0)
    assert ds.attrs["activity_kind"] == "counts" and ds.attrs["loss"] == "kl"
    assert ds.attrs["preprocessing"] == "used as given"


@pytest.mark.parametrize(
    ("data", "kw", "match"),
    [
        (np.full((60, 4), 5.0) - 10, {"kind": "fluorescence"}, "strictly positive"),
        (-np.ones((60, 4)), {}, "kind='dff'"),
        (np.ones((60, 4)), {"kind": "calcium"}, "kind must be"),
        (np.ones((60, 4)), {"baseline_percentile": 80}, "baseline_percentile"),
        (np.ones((60, 4)), {"max_participation": 0}, "max_participation"),
    ],
)
def test_bad_kind_input(data, kw, match):
    with pytest.raises(nm.InputError, match=match):
        nm.assemblies.detect(data, **kw)


def test_fluorescence_baseline_not_positive_refused():
    # background-subtracted traces: the low percentile is <= 0 for a neuron
    F = np.random.default_rng(0).uniform(1, 2, (100, 4))
    F[:20, 1] = 1e-9
    F[20:, 1] += 0.0
    da = xr.DataArray(F, dims=("time", "neuron"))
    out = nm.assemblies.detect(da, kind="dff", rank=1, n_surrogates=0)
    assert out.attrs["preprocessing"].startswith("dF/F as given")


def test_long_fluorescence_gets_running_baseline():
    # slow bleaching shared by every neuron: a running 8th percentile removes it,
    # so the dF/F has no shared drift left
    rng = np.random.default_rng(2)
    t = np.arange(3000) / 10.0  # 300 s at 10 Hz
    bleach = np.exp(-t / 200.0)[:, None]
    spikes = rng.poisson(0.02, (3000, 6)).astype(float)
    ca = lfilter([1.0], [1.0, -np.exp(-1 / 5.0)], spikes, axis=0)
    base = rng.uniform(200, 500, 6)
    F = base * bleach * (1 + 0.5 * ca) + rng.normal(0, 0.02, (3000, 6)) * base
    da = xr.DataArray(F, dims=("time", "neuron"), coords={"time": t})
    ds = nm.assemblies.detect(da, kind="fluorescence", rank=2, n_surrogates=0)
    assert "running 8th percentile over 60 s (600 bins)" in ds.attrs["preprocessing"]
    from neuronmf.assemblies._kind import _prepare

    Y = _prepare(da, "fluorescence", 8.0, 60.0)[0]
    # near baseline at both ends (a whole-recording F0 would put the start at
    # dF/F > 1: the bleaching takes F from 1 to 0.22 of its initial value)
    assert np.all(np.percentile(Y[:300], 10, axis=0) < 0.25)
    assert np.all(np.percentile(Y[-300:], 10, axis=0) < 0.25)
    whole = _prepare(da, "fluorescence", 8.0, 1000.0)  # window > half the recording
    assert "whole recording" in whole[3]
    assert np.all(np.percentile(whole[0][:300], 10, axis=0) > 1.0)
