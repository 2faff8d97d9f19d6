"""assemblies.sequences: planted sequences found in order, null data gives none."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import neuronmf as nm
from neuronmf.errors import InputError


@pytest.fixture(scope="module")
def planted():
    sim = nm.datasets.simulate_sequences(n_frames=900, seed=0)
    A = xr.DataArray(
        sim.data.T, dims=("time", "neuron"), coords={"time": np.arange(900) / 30.0}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ds = nm.assemblies.sequences(A, rank=4, lags=35, x_ortho=0.005, kind="dff")
    return sim, A, ds


def test_planted_sequences_are_found_with_their_members_in_order(planted):
    sim, _, ds = planted
    truth = [set(np.flatnonzero(sim.W[:, j, :].sum(1) > 0)) for j in range(3)]
    found = [
        set(np.flatnonzero(ds.members.values[:, k]))
        for k in np.flatnonzero(ds.significant.values)
    ]
    assert len(found) >= 2  # one planted sequence is rare in the held-out quarter
    for members in found:
        assert members in truth
    for k in np.flatnonzero(ds.significant.values):
        idx = np.flatnonzero(ds.members.values[:, k])
        true_first = np.array([sim.W[i].sum(0).argmax() for i in idx])
        peak = ds.peak_lag.values[idx, k]
        # the order in which members peak is the planted order
        assert np.corrcoef(peak, true_first)[0, 1] > 0.95
    assert ds.attrs["neuronmf_kind"] == "sequences"
    assert ds.attrs["n_significant"] == int(ds.significant.sum())


def test_occurrences_match_the_planted_onsets(planted):
    sim, _, ds = planted
    k = int(np.flatnonzero(ds.significant.values)[0])
    j = max(
        range(3), key=lambda j: ds.members.values[sim.W[:, j, :].sum(1) > 0, k].sum()
    )
    true_onsets = np.flatnonzero(sim.H[j] > 0)
    found = ds.event_time.values[ds.event_sequence.values == k] * 30.0
    assert found.size == true_onsets.size
    # each found onset within a few frames of a true one (the pattern is centred)
    gaps = np.abs(found[:, None] - true_onsets[None, :]).min(axis=1)
    assert np.all(gaps <= 40)


def test_null_data_gives_no_significant_sequence():
    # every neuron from its own simulation: the same firing statistics, but no
    # two neurons share occurrences (circularly shifting the neurons of one
    # simulation would not do: each pair keeps a fixed lag, i.e. a sequence)
    null = np.stack(
        [
            nm.datasets.simulate_sequences(n_frames=900, seed=100 + i).data[i]
            for i in range(30)
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ds = nm.assemblies.sequences(null.T, rank=4, lags=35, x_ortho=0.005, kind="dff")
    assert ds.attrs["n_significant"] == 0
    assert not ds.significant.any()


def test_no_held_out_part_tests_nothing_and_says_so():
    sim = nm.datasets.simulate_sequences(n_frames=300, seed=0)
    with pytest.warns(RuntimeWarning, match="no held-out data"):
        ds = nm.assemblies.sequences(
            sim.data.T,
            rank=2,
            lags=35,
            x_ortho=0.0,
            kind="dff",
            train_fraction=1.0,
            max_iter=20,
        )
    assert np.isnan(ds.p_value.values).all()
    assert not ds.significant.any()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"lags": 400}, "lags must be at most half the training frames"),
        ({"train_fraction": 1.5}, "train_fraction must be in"),
        ({"train_fraction": 0.99}, "held-out frames"),
        ({"alpha": 1.0}, "alpha must be in"),
        ({"x_ortho": -1.0}, "x_ortho must be"),
        ({"loss": "l2"}, "loss"),
        ({"merge_fragments": "yes"}, "merge_fragments must be"),
    ],
)
def test_bad_options_are_refused_before_any_work(kwargs, match):
    V = np.random.default_rng(0).random((600, 5))
    with pytest.raises(InputError, match=match):
        nm.assemblies.sequences(V, **{"rank": 2, "lags": 10, "kind": "dff", **kwargs})


def test_negative_counts_are_refused():
    V = -np.ones((200, 3))
    with pytest.raises(InputError, match="non-negative"):
        nm.assemblies.sequences(V, rank=1, lags=5, kind="counts")


def test_result_round_trips_through_netcdf_and_nwb(planted, tmp_path):
    _, _, ds = planted
    for suffix in (".nc", ".nwb"):
        path = tmp_path / f"seq{suffix}"
        if suffix == ".nc":
            nm.io.save_netcdf(ds, path)
        else:
            nm.io.save_nwb(ds, path)
        back = nm.io.load_result(path)
        np.testing.assert_allclose(back.patterns.values, ds.patterns.values)
        np.testing.assert_array_equal(back.members.values, ds.members.values)
        assert back.attrs["neuronmf_kind"] == "sequences"


def test_counts_merge_fragments_by_default_and_dff_does_not(planted):
    _, _, ds = planted  # ΔF/F: Frobenius, no merge step
    assert ds.attrs["merged_fragments"] == 0
    sim = nm.datasets.simulate_sequences(n_frames=900, seed=0, kind="poisson")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ds = nm.assemblies.sequences(
            sim.data.T, rank=4, lags=35, x_ortho=0.03, kind="counts", max_iter=60
        )
    assert isinstance(ds.attrs["merged_fragments"], int)
    # an absorbed pattern is empty: never significant, no members
    empty = ds.patterns.sum(("neuron", "lag")).values == 0
    assert empty.sum() >= ds.attrs["merged_fragments"]
    assert not ds.significant.values[empty].any()
    assert ds.n_members.values[empty].sum() == 0


def _two_sequences_whose_power_order_flips():
    """Sequence A (neurons 0-9) fires mostly in the training part, B (10-19)
    mostly after it: A explains more of the training part, B of the whole."""
    from neuronmf.engine.convolutive import reconstruct_conv

    W = np.zeros((20, 2, 25))
    for i in range(10):
        W[i, 0, 2 * i : 2 * i + 3] = W[10 + i, 1, 2 * i : 2 * i + 3] = [0.5, 1, 0.5]
    onsets = [
        [40, 140, 250, 360, 470, 580, 690, 800, 960, 1100],
        [200, 520, 760, 910, 940, 990, 1020, 1060, 1120, 1150, 1170],
    ]
    H = np.zeros((2, 1200))
    for k, t in enumerate(onsets):
        H[k, t] = 1.0
    noise = 0.01 * np.random.default_rng(0).random((20, 1200))
    return (reconstruct_conv(W, H) + noise).T, onsets


def test_occurrences_belong_to_their_own_pattern():
    # the refit of H over the whole recording sorts its rows by power there;
    # before they were put back in the patterns' order, pattern A was reported
    # with B's occurrences and B with A's
    X, onsets = _two_sequences_whose_power_order_flips()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ds = nm.assemblies.sequences(X, rank=2, lags=25, x_ortho=0.0, kind="dff")
    for k in range(2):
        j = int(ds.members.values[10:, k].sum() > ds.members.values[:10, k].sum())
        found = ds.event_time.values[ds.event_sequence.values == k]
        assert found.size == len(onsets[j])
        gaps = np.abs(found[:, None] - np.asarray(onsets[j])[None, :]).min(axis=1)
        assert np.all(gaps <= 5), (k, j, found.tolist())


def test_a_pattern_seen_once_is_not_a_significant_sequence():
    # seed 1: planted sequence 0 (neurons 0-9) starts once, at frame 426 of
    # the training part. Its pattern passes the held-out skewness test
    # (isolated background events of its neurons are enough), but a sequence
    # must recur: it is reported with passes_test and its counts, and is not
    # significant. The two planted sequences that recur (5 and 4 onsets, 1 and
    # 2 of them in the held-out part) stay significant.
    sim = nm.datasets.simulate_sequences(n_frames=900, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ds = nm.assemblies.sequences(
            sim.data.T, rank=4, lags=35, x_ortho=0.005, kind="dff"
        )
    assert np.flatnonzero(sim.H[0]).tolist() == [426]
    once = [k for k in range(4) if ds.members.values[:10, k].sum() >= 8]
    assert len(once) == 1
    k = once[0]
    assert not ds.significant.values[k]
    assert ds.passes_test.values[k]  # the test alone would have called it
    assert int(ds.n_occurrences.values[k]) == 1
    assert int(ds.n_tested_occurrences.values[k]) == 0
    sig = np.flatnonzero(ds.significant.values)
    assert sig.size == 2
    assert np.all(ds.n_occurrences.values[sig] >= 2)
    assert np.all(ds.n_tested_occurrences.values[sig] >= 1)
    # the counts are those of the listed occurrences
    np.testing.assert_array_equal(
        ds.n_occurrences.values, np.bincount(ds.event_sequence.values, minlength=4)
    )
    assert ds.attrs["n_significant"] == 2


def test_kind_warning_names_sequences():
    """The inferred-kind warning names the function the user called."""
    sim = nm.datasets.simulate_sequences(n_frames=300, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nm.assemblies.sequences(sim.data.T, rank=2, lags=35, x_ortho=0.0, max_iter=5)
    kind = [str(w.message) for w in caught if "activity kind" in str(w.message)]
    assert kind and all(m.startswith("assemblies.sequences: ") for m in kind), kind


@pytest.mark.parametrize("n_constant", [40, 39])
def test_constant_activity_is_refused_before_any_fit(n_constant):
    """Null input: constant neurons fire in no order. A fit used to run on
    them (precision warnings, a pattern at p = 0.024)."""
    rng = np.random.default_rng(0)
    counts = np.full((600, 40), 3.0)
    counts[:, n_constant:] = rng.poisson(3, (600, 40 - n_constant))
    with pytest.raises(InputError, match="at least 2 neurons that vary"):
        nm.assemblies.sequences(counts, rank=2, lags=10, kind="counts")
