from __future__ import annotations

import h5py
import numpy as np
import pytest

from neuronmf.errors import InputError
from neuronmf.io import load_emg
from tests.conftest import real_file, sha256
from tests.io.conftest import MUSCLES, emg_nwbfile, write_nwb

SANTUZ = ("santuz_gait_emg", "csv", "ID0012_TW_01_raw_emg.csv")
SANTUZ_MUSCLES = "ME MA FL RF VM VL ST BF TA PL GM GL SO".split()


def test_santuz_csv():
    path = real_file(*SANTUZ)
    before = sha256(path)
    emg = load_emg(path)
    assert emg.dims == ("time", "channel")
    assert emg.shape == (7618, 13)
    assert list(emg.channel.values) == SANTUZ_MUSCLES
    assert emg.attrs["rate"] == 1000.0
    assert emg.attrs["source"] == str(path)
    assert emg.time.values[0] == pytest.approx(0.014)
    assert sha256(path) == before


def test_csv_channels_and_time_unit(tmp_path):
    p = tmp_path / "e.tsv"
    p.write_text("t_ms\tA\tB\tC\n0\t1\t2\t3\n2\t4\t5\t6\n4\t7\t8\t9\n")
    emg = load_emg(p, time_column="t_ms", time_unit="ms", channels=["C", 0])
    assert list(emg.channel.values) == ["C", "A"]
    np.testing.assert_allclose(emg.time.values, [0, 0.002, 0.004])
    assert emg.attrs["rate"] == 500.0
    np.testing.assert_array_equal(emg.values[:, 0], [3, 6, 9])


def test_csv_without_time_needs_rate(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("A,B\n1,2\n3,4\n")
    with pytest.raises(InputError, match=r"time column .* or a sampling rate"):
        load_emg(p)
    emg = load_emg(p, rate=100)
    np.testing.assert_allclose(emg.time.values, [0, 0.01])


def test_csv_irregular_time_refused_or_resampled(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("time,A\n0,1\n0.1,2\n0.5,3\n")
    with pytest.raises(InputError, match=r"regularly sampled.*resample=True"):
        load_emg(p)


def test_csv_unknown_channel(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("time,A\n0,1\n1,2\n")
    with pytest.raises(InputError, match=r"channel 'Z' must be .*channels are A"):
        load_emg(p, channels=["Z"])


def test_nwb_convention(emg_nwb):
    path, data = emg_nwb
    before = sha256(path)
    emg = load_emg(path)  # acquisition/EMG preferred over the envelope
    assert emg.dims == ("time", "channel")
    np.testing.assert_array_equal(emg.values, data)
    assert list(emg.channel.values) == MUSCLES
    assert emg.attrs["rate"] == 2000.0
    assert emg.attrs["units"] == "volts"
    assert emg.attrs["source_path"] == "acquisition/EMG"
    assert emg.time.values[0] == 1.5
    np.testing.assert_allclose(np.diff(emg.time.values), 1 / 2000)
    assert sha256(path) == before


def test_nwb_envelope_names_from_description(emg_nwb):
    path, data = emg_nwb
    env = load_emg(path, series="EMGEnvelope")
    assert env.attrs["source_path"] == "processing/emg/EMGEnvelope"
    assert list(env.channel.values) == MUSCLES
    assert env.attrs["rate"] == 200.0
    np.testing.assert_allclose(env.values, np.abs(data[::10]))


def test_nwb_muscle_column_and_fallback(tmp_path):
    nwb, _ = emg_nwbfile(location=False, envelope=False)
    path = write_nwb(nwb, tmp_path / "x.nwb")
    assert list(load_emg(path).channel.values) == ["ch0", "ch1", "ch2", "ch3"]

    nwb, _ = emg_nwbfile(location=False, envelope=False)
    nwb.electrodes.add_column("muscle", "muscle name", data=MUSCLES)
    path = write_nwb(nwb, tmp_path / "y.nwb")
    assert list(load_emg(path).channel.values) == MUSCLES


def test_nwb_missing_series_lists_contents(emg_nwb):
    path, _ = emg_nwb
    with pytest.raises(InputError, match=r"series='Nope'.*acquisition/EMG"):
        load_emg(path, series="Nope")


def test_nwb_ambiguous(tmp_path):
    from pynwb.testing.mock.ecephys import mock_ElectricalSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwb = mock_NWBFile()
    a = mock_ElectricalSeries(name="A", nwbfile=nwb)
    mock_ElectricalSeries(name="B", electrodes=a.electrodes, nwbfile=nwb)
    path = write_nwb(nwb, tmp_path / "two.nwb")
    with pytest.raises(InputError, match=r"several candidates.*acquisition/A.*B"):
        load_emg(path)
    assert load_emg(path, series="B").attrs["source_path"] == "acquisition/B"


def test_nwb_timestamps_length_mismatch(tmp_path):
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwb = mock_NWBFile()
    nwb.add_acquisition(
        mock_TimeSeries(
            name="EMG", data=np.ones((10, 2)), timestamps=np.arange(10.0), rate=None
        )
    )
    path = write_nwb(nwb, tmp_path / "ts.nwb")
    with h5py.File(path, "a") as f:  # corrupt a copy: 7 timestamps for 10 samples
        del f["acquisition/EMG/timestamps"]
        f["acquisition/EMG/timestamps"] = np.arange(7.0)
    with pytest.raises(InputError, match=r"timestamps .* one per sample \(10"):
        load_emg(path)


def test_hdf5_dataset_and_rate(tmp_path):
    p = tmp_path / "emg.h5"
    x = np.random.default_rng(1).random((50, 3))
    with h5py.File(p, "w") as f:
        f["rec/emg"] = x
        f["rec/other"] = np.zeros((4, 4, 4))
    with pytest.raises(InputError, match=r"rate must be given"):
        load_emg(p)
    emg = load_emg(p, series="rec/emg", rate=1000)
    np.testing.assert_array_equal(emg.values, x)
    assert emg.attrs["source_path"] == "rec/emg"
    with pytest.raises(InputError, match=r"3-D data of shape \(4, 4, 4\)"):
        load_emg(p, series="other", rate=1000)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"file must be an existing.*nope\.csv"):
        load_emg(tmp_path / "nope.csv")


def test_unrecognised_and_corrupt(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"garbage")
    with pytest.raises(InputError, match=r"recognised formats"):
        load_emg(p)
    q = tmp_path / "x.nwb"
    q.write_bytes(b"not hdf5 at all")
    with pytest.raises(InputError, match=r"readable HDF5/NWB file"):
        load_emg(q)


def test_truncated_hdf5(tmp_path, emg_nwb):
    path, _ = emg_nwb
    raw = path.read_bytes()
    cut = tmp_path / "cut.nwb"
    cut.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(InputError, match=r"cut\.nwb.*(truncated|corrupt)"):
        load_emg(cut)
