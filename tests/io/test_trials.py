"""NWB trial/interval tables as behaviour, trial-aligned activity, unit metadata."""

from __future__ import annotations

import numpy as np
import pytest

from neuronmf.errors import InputError
from neuronmf.io import load_activity, load_behavior
from tests.conftest import real_file
from tests.io.conftest import write_nwb

SPIKES = {
    3: [0.10, 0.45, 1.02, 1.30, 2.20, 2.21, 3.90],
    8: [0.50, 0.55, 2.05, 3.10, 3.15, 3.20],
    9: [1.80, 2.50, 3.55],
}
LOCATION = {3: "CA1", 8: "CA1", 9: "CA3"}
QUALITY = {3: "good", 8: "mua", 9: "good"}
TRIALS = [  # start, stop, correct, stimulus
    (0.0, 1.0, True, "left"),
    (1.0, 2.0, False, "right"),
    (2.0, 3.0, True, "left"),
    (3.0, 4.0, True, "right"),
]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    from pynwb.epoch import TimeIntervals
    from pynwb.testing.mock.ecephys import mock_ElectrodeGroup
    from pynwb.testing.mock.file import mock_NWBFile

    nwb = mock_NWBFile()
    groups = {
        r: mock_ElectrodeGroup(nwbfile=nwb, name=f"shank_{r}", location=r)
        for r in ("CA1", "CA3")
    }
    for i in range(6):
        region = "CA1" if i < 4 else "CA3"
        nwb.add_electrode(group=groups[region], location=region)
    nwb.add_unit_column("location", "brain region of the unit")
    nwb.add_unit_column("quality", "sorting quality")
    for k, (uid, st) in enumerate(SPIKES.items()):
        region = LOCATION[uid]
        nwb.add_unit(
            spike_times=st,
            id=uid,
            electrodes=[2 * k, 2 * k + 1] if k < 2 else [4],
            electrode_group=groups[region],
            location=region,
            quality=QUALITY[uid],
        )
    nwb.add_trial_column("correct", "the animal chose correctly")
    nwb.add_trial_column("stimulus", "cue side")
    for start, stop, correct, stim in TRIALS:
        nwb.add_trial(start_time=start, stop_time=stop, correct=correct, stimulus=stim)
    nwb.add_epoch(start_time=0.0, stop_time=2.0, tags=["run"])
    nwb.add_epoch(start_time=2.0, stop_time=4.0, tags=["rest"])
    laps = TimeIntervals(name="laps", description="laps on the track")
    laps.add_column("speed", "mean speed (cm/s)")
    laps.add_interval(start_time=0.2, stop_time=1.9, speed=12.5)
    laps.add_interval(start_time=2.1, stop_time=3.8, speed=20.0)
    nwb.add_time_intervals(laps)
    return write_nwb(nwb, tmp_path_factory.mktemp("trials") / "session.nwb")


def hand_count(uid: int, a: float, b: float) -> int:
    return sum(a <= t < b for t in SPIKES[uid])


def test_trial_table_as_behavior(session):
    trials = load_behavior(session, table="trials", column="correct")
    assert trials.dims == ("trial",) and trials.name == "correct"
    assert trials.values.tolist() == [t[2] for t in TRIALS]
    np.testing.assert_array_equal(trials.start_time, [t[0] for t in TRIALS])
    np.testing.assert_array_equal(trials.stop_time, [t[1] for t in TRIALS])
    assert trials.stimulus.values.tolist() == [t[3] for t in TRIALS]
    assert trials.trial.values.tolist() == [0, 1, 2, 3]
    assert trials.attrs["table"] == "intervals/trials"
    stim = load_behavior(session, column="stimulus")  # trials is the default table
    assert stim.values.tolist() == ["left", "right", "left", "right"]
    laps = load_behavior(session, table="laps", column="speed")
    assert laps.values.tolist() == [12.5, 20.0]
    np.testing.assert_array_equal(laps.start_time, [0.2, 2.1])
    epochs = load_behavior(session, table="epochs", column="stop_time")
    assert epochs.values.tolist() == [2.0, 4.0]


def test_trial_table_errors(session):
    with pytest.raises(
        InputError,
        match=r"table='trial' .*intervals/epochs, intervals/laps, intervals/trials",
    ):
        load_behavior(session, table="trial", column="correct")
    with pytest.raises(InputError, match=r"column='corect'.*start_time, stop_time"):
        load_behavior(session, table="trials", column="corect")
    with pytest.raises(InputError, match=r"column=None .*correct, stimulus"):
        load_behavior(session, table="trials")
    with pytest.raises(InputError, match=r"column 'tags' .*ragged"):
        load_behavior(session, table="epochs", column="tags")
    with pytest.raises(InputError, match=r"times must be None with table="):
        load_behavior(session, table="trials", column="correct", times=[0.0, 1.0])
    npz = real_file("hc_linear_track", "spikes_flat_and_position.npz")
    with pytest.raises(InputError, match=r"table must be used with NWB"):
        load_behavior(npz, table="trials", column="correct")


def test_aligned_counts_match_hand_count(session):
    trials = load_behavior(session, table="trials", column="correct")
    t0, t1 = -0.2, 0.6
    act = load_activity(session, align=trials, window=(t0, t1))
    assert act.dims == ("trial", "neuron") and act.shape == (4, 3)
    want = [[hand_count(u, s + t0, s + t1) for u in SPIKES] for s, *_ in TRIALS]
    np.testing.assert_array_equal(act.values, want)
    assert act.neuron.values.tolist() == [3, 8, 9]
    assert act.correct.values.tolist() == [True, False, True, True]
    assert act.stimulus.values.tolist() == ["left", "right", "left", "right"]
    assert act.attrs["window_start"] == t0 and act.attrs["align_to"] == "start_time"

    binned = load_activity(session, align=trials, window=(t0, t1), bin_width=0.2)
    assert binned.dims == ("trial", "time", "neuron") and binned.shape == (4, 4, 3)
    np.testing.assert_allclose(binned.time.values, [-0.1, 0.1, 0.3, 0.5])
    np.testing.assert_array_equal(binned.sum("time").values, act.values)
    for i, (s, *_) in enumerate(TRIALS):
        for k, c in enumerate(binned.time.values):
            for j, u in enumerate(SPIKES):
                a, b = s + t0 + 0.2 * k, s + t0 + 0.2 * (k + 1)
                assert binned.values[i, k, j] == hand_count(u, a, b), (i, k, u, c)
    assert binned.attrs["rate"] == 5.0


def test_align_to_other_column_and_event_array(session):
    trials = load_behavior(session, table="trials", column="correct")
    end = load_activity(session, align=trials, window=(-0.5, 0.0), align_to="stop_time")
    want = [[hand_count(u, e - 0.5, e) for u in SPIKES] for _, e, *_ in TRIALS]
    np.testing.assert_array_equal(end.values, want)
    events = np.array([0.4, 2.0])
    arr = load_activity(session, align=events, window=(0.0, 0.2))
    np.testing.assert_array_equal(
        arr.values, [[hand_count(u, e, e + 0.2) for u in SPIKES] for e in events]
    )
    np.testing.assert_array_equal(arr.start_time, events)


def test_align_refusals(session):
    trials = load_behavior(session, table="trials", column="correct")
    with pytest.raises(InputError, match=r"window must be two numbers"):
        load_activity(session, align=trials)
    with pytest.raises(InputError, match=r"window must be \(t0, t1\) with finite"):
        load_activity(session, align=trials, window=(1.0, 0.5))
    with pytest.raises(InputError, match=r"bin_width must be a divisor"):
        load_activity(session, align=trials, window=(0.0, 1.0), bin_width=0.3)
    with pytest.raises(InputError, match=r"align_to='onset'.*start_time"):
        load_activity(session, align=trials, window=(0, 1), align_to="onset")
    with pytest.raises(InputError, match=r"load_behavior\(path, table='trials'"):
        load_activity(session, align="trials", window=(0, 1))
    with pytest.raises(InputError, match=r"window must be given together with align"):
        load_activity(session, bin_width=0.1, window=(0, 1))
    with pytest.raises(InputError, match=r"finite times"):
        load_activity(session, align=[0.0, np.nan], window=(0, 1))
    endo = real_file("endoscope_ophys_nwb", "nwb_test.nwb")
    with pytest.raises(InputError, match=r"align must be used with spike times"):
        load_activity(endo, series="RoiResponseSeries", align=[1.0], window=(0, 1))


def test_window_past_the_spikes_warns(session):
    with pytest.warns(UserWarning, match=r"1 of 2 trial windows lie entirely outside"):
        load_activity(session, align=[1.0, 10.0], window=(0.0, 0.5))
    with pytest.raises(InputError, match=r"same clock as the spikes"):
        load_activity(session, align=[1000.0, 2000.0], window=(0.0, 0.5))  # ms?


def test_unit_metadata_kept_as_neuron_coords(session):
    act = load_activity(session, bin_width=0.5)
    assert act.location.dims == ("neuron",)
    assert act.location.values.tolist() == [LOCATION[u] for u in SPIKES]
    assert act.quality.values.tolist() == [QUALITY[u] for u in SPIKES]
    assert act.electrodes.values.tolist() == ["0,1", "2,3", "4"]
    assert act.electrode_group.values.tolist() == [
        "shank_CA1",
        "shank_CA1",
        "shank_CA3",
    ]
    assert act.electrode_location.values.tolist() == ["CA1", "CA1", "CA3"]
    ca1 = act.where(act.location == "CA1", drop=True)  # select by region
    assert ca1.neuron.values.tolist() == [3, 8]
    trials = load_behavior(session, table="trials", column="correct")
    aligned = load_activity(session, align=trials, window=(0.0, 1.0))
    assert aligned.location.values.tolist() == ["CA1", "CA1", "CA3"]
