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


# ------------------------------------------------ units, gaps, label columns
def _lab_tsv(path, *, drop=True, unit_ms=True, label=True, n=2000, seed=0):
    """A lab-style TSV: 1 kHz EMG, time in ms, scattered dropped rows, a `class`."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)) * [1.0, 2.0, 3.0]
    t = np.arange(n)  # ms
    keep = np.ones(n, bool)
    if drop:
        keep[rng.choice(np.arange(1, n - 40), size=200, replace=False)] = False
        keep[n - 30 : n - 18] = False  # one long gap: 12 missing samples
    lines = ["time\tTA\tSO\tGM" + ("\tclass" if label else "")]
    for i in np.flatnonzero(keep):
        ti = t[i] if unit_ms else t[i] / 1000
        row = [f"{ti:g}", *(f"{v:.6f}" for v in x[i])]
        if label:
            row.append(str(i * 3 // n))  # 0, 1, 2
        lines.append("\t".join(row))
    path.write_text("\n".join(lines) + "\n")
    return x, keep


def test_ms_tsv_with_gaps_rate_contradiction_names_the_unit(tmp_path):
    p = tmp_path / "lab.tsv"
    _lab_tsv(p)
    with pytest.raises(
        InputError,
        match=r"rate must be consistent.*\(1 Hz when read in seconds.*"
        r"got 1000\.0.*milliseconds: pass time_unit='ms' \(it gives 1000 Hz\)",
    ):
        load_emg(p, rate=1000)


def test_ms_tsv_with_gaps_refused_without_resample(tmp_path):
    p = tmp_path / "lab.tsv"
    _lab_tsv(p)
    with pytest.raises(InputError, match=r"regularly sampled") as err:
        load_emg(p, time_unit="ms", exclude=["class"])
    msg = str(err.value)
    assert "the largest step is 13 ms" in msg
    assert "212 sample(s) missing" in msg and "resample=True" in msg


def test_ms_tsv_with_gaps_resampled_onto_the_right_time_axis(tmp_path):
    p = tmp_path / "lab.tsv"
    x, keep = _lab_tsv(p)
    before = sha256(p)
    with pytest.warns(UserWarning, match=r"label-like column\(s\) class"):
        emg = load_emg(p, time_unit="ms", rate=1000, resample=True)
    assert list(emg.channel.values) == ["TA", "SO", "GM"]
    assert emg.attrs["excluded"] == "class"
    n = x.shape[0]
    np.testing.assert_allclose(emg.time.values, np.arange(n) / 1000, atol=1e-12)
    assert emg.attrs["rate"] == 1000.0 and emg.attrs["resampled"] == 1
    # kept rows are the file's values; short gaps interpolated; the long gap NaN
    np.testing.assert_allclose(emg.values[keep], x[keep], atol=1e-6)
    long_gap = np.arange(n - 30, n - 18)
    assert np.isnan(emg.values[long_gap]).all()
    short = np.flatnonzero(~keep)
    short = short[short < n - 30]
    assert np.isfinite(emg.values[short]).all()
    assert emg.attrs["n_masked"] == 12
    assert emg.attrs["n_interpolated"] == 200
    assert sha256(p) == before  # opened read-only


def test_time_unit_from_the_column_name(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("time_ms,A,B\n0,1,2\n0.5,3,5\n1.0,4,4\n1.5,0,1\n")
    emg = load_emg(p)
    np.testing.assert_allclose(emg.time.values, [0, 0.0005, 0.001, 0.0015])
    assert emg.attrs["rate"] == 2000.0 and emg.attrs["time_unit"] == "ms"


def test_implausible_seconds_warn_and_suggest_ms(tmp_path):
    p = tmp_path / "lab.tsv"
    _lab_tsv(p, drop=False, label=False)
    with pytest.warns(UserWarning, match=r"1 Hz, implausible.*time_unit='ms'"):
        emg = load_emg(p)
    assert emg.attrs["rate"] == 1.0  # read as told, but the user was warned
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_emg(p, time_unit="ms").attrs["rate"] == 1000.0
        assert load_emg(p, time_unit="s").attrs["rate"] == 1.0  # stated: silent


def test_label_columns_left_out_unless_asked(tmp_path):
    p = tmp_path / "e.csv"
    rng = np.random.default_rng(2)
    rows = [
        f"{i},{i / 1000},{a:.4f},{b:.4f},{i % 3},{i // 50}"
        for i, (a, b) in enumerate(rng.normal(size=(100, 2)))
    ]
    p.write_text("Unnamed: 0,time,TA,SO,class,trial\n" + "\n".join(rows) + "\n")
    with pytest.warns(UserWarning, match=r"Unnamed: 0, class, trial"):
        emg = load_emg(p)
    assert list(emg.channel.values) == ["TA", "SO"]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept = load_emg(p, channels=["TA", "class"])
        assert list(kept.channel.values) == ["TA", "class"]
        dropped = load_emg(p, exclude=["Unnamed: 0", "class", "trial"])
        assert list(dropped.channel.values) == ["TA", "SO"]
    with pytest.raises(InputError, match=r"excluded channel 'nope' must be"):
        load_emg(p, exclude=["nope"])


def test_integer_tables_keep_their_columns(tmp_path):
    # spike counts / ADC integers: small non-negative integers everywhere are data
    p = tmp_path / "counts.csv"
    rng = np.random.default_rng(3)
    c = rng.poisson(0.5, size=(50, 3))
    p.write_text(
        "time,n0,n1,n2\n"
        + "".join(f"{i / 100},{a},{b},{d}\n" for i, (a, b, d) in enumerate(c))
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        emg = load_emg(p)
    assert list(emg.channel.values) == ["n0", "n1", "n2"]


def test_valid_seconds_files_unchanged(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        emg = load_emg(real_file(*SANTUZ))
        p = tmp_path / "lab_s.tsv"
        x, _ = _lab_tsv(p, drop=False, unit_ms=False, label=False)
        reg = load_emg(p)
        assert reg.attrs["rate"] == 1000.0 and "resampled" not in reg.attrs
        np.testing.assert_allclose(reg.values, x, atol=1e-6)
        assert load_emg(p, rate=1000, resample=True).shape == x.shape
    assert emg.shape == (7618, 13) and emg.attrs["rate"] == 1000.0
    # headerless (issue 21): the first row is data, never a header; a first
    # column increasing like time must be named
    q = tmp_path / "nohdr.csv"
    q.write_text("0.1,0.2,0.3\n0.4,0.5,0.6\n0.7,0.8,0.9\n1.0,1.2,1.3\n")
    with pytest.raises(InputError, match="header row"):
        load_emg(q, rate=100)
    q.write_text("0.1,0.2,0.3\n0.4,0.1,0.6\n0.7,0.8,0.2\n1.0,1.2,1.3\n")
    emg = load_emg(q, time_column="ch0", time_unit="ms")
    assert emg.shape == (4, 2) and list(emg.channel.values) == ["ch1", "ch2"]


def test_jittered_timestamps_are_regular(tmp_path):
    # 3 kHz written with 6 decimals: steps of 0.000333/0.000334 s
    p = tmp_path / "e.csv"
    rng = np.random.default_rng(4)
    p.write_text(
        "time,A,B\n"
        + "".join(
            f"{i / 3000:.6f},{a:.3f},{b:.3f}\n"
            for i, (a, b) in enumerate(rng.normal(size=(300, 2)))
        )
    )
    emg = load_emg(p, rate=3000)
    assert emg.attrs["rate"] == 3000.0 and emg.shape == (300, 2)
    with pytest.raises(InputError, match=r"rate must be consistent.*3000 Hz"):
        load_emg(p, rate=2000)


def test_repeated_timestamps_refused(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("time,A\n0,1\n0.001,2\n0.001,3\n0.002,4\n")
    with pytest.raises(InputError, match=r"strictly increasing.*1 repeated"):
        load_emg(p)


def test_text_column_named_with_the_fix(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("time,A,cond\n0,1.5,walk\n0.001,2.5,walk\n0.002,0.5,run\n")
    with pytest.raises(InputError, match=r"columns cond .* must be numeric.*exclude"):
        load_emg(p)
    assert list(load_emg(p, exclude=["cond"]).channel.values) == ["A"]
