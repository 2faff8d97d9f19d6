"""load_intervals / load_events: epochs and events from NWB, CSV/TSV, npy, NetCDF."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from neuronmf.errors import InputError
from neuronmf.io import load_events, load_intervals, save_netcdf
from tests.io.conftest import write_nwb

EPOCHS = [[0.0, 20.0], [22.5, 44.0]]


def _epochs_nwb(path, *, trials=False):
    from pynwb import NWBFile

    nwb = NWBFile(
        session_description="epochs",
        identifier="e",
        session_start_time=datetime(2020, 1, 1, tzinfo=UTC),
    )
    for start, stop in EPOCHS:
        nwb.add_epoch(start, stop)
    if trials:
        nwb.add_trial(1.0, 2.0)
        nwb.add_trial(3.0, 4.5)
    return write_nwb(nwb, path)


# ------------------------------------------------------------- load_intervals
@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("run.csv", "start,stop\n0,20\n22.5,44\n"),
        ("run_no_header.csv", "0,20\n22.5,44\n"),
        ("run.tsv", "start\tstop\n0\t20\n22.5\t44\n"),
        ("run.txt", "0\t20\n22.5\t44\n"),
        ("named.csv", "label,stop_time,start_time\na,20,0\nb,44,22.5\n"),
    ],
)
def test_intervals_from_text_tables(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    ep = load_intervals(path)
    assert ep.dims == ("interval", "bound")
    assert ep.bound.values.tolist() == ["start", "stop"]
    assert ep.values.tolist() == EPOCHS
    assert ep.attrs["units"] == "s" and ep.attrs["source"] == str(path)
    assert path.read_text() == text  # never modified


def test_intervals_choose_columns_by_name_or_position(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n5,0,20\n6,22.5,44\n")
    assert load_intervals(path, start_column="b", stop_column="c").values.tolist() == (
        EPOCHS
    )
    assert load_intervals(path, start_column=1, stop_column=2).values.tolist() == (
        EPOCHS
    )
    with pytest.raises(InputError, match="stop_column must be a column of"):
        load_intervals(path, start_column="b", stop_column="nope")


def test_intervals_from_npy_nwb_and_netcdf_round_trip(tmp_path):
    npy = tmp_path / "run.npy"
    np.save(npy, np.array([[0.0, 20.0, 7.0], [22.5, 44.0, 7.0]]))
    assert load_intervals(npy).values.tolist() == EPOCHS  # the first two columns
    nwb = _epochs_nwb(tmp_path / "epochs.nwb", trials=True)
    with pytest.raises(InputError, match="table must be one of the interval tables"):
        load_intervals(nwb)  # epochs and trials: say which
    ep = load_intervals(nwb, table="epochs")
    assert ep.values.tolist() == EPOCHS
    assert ep.attrs["source_path"] == "intervals/epochs"
    assert load_intervals(nwb, table="intervals/trials").values.tolist() == [
        [1.0, 2.0],
        [3.0, 4.5],
    ]
    nc = save_netcdf(ep, tmp_path / "epochs.nc")
    back = load_intervals(nc)
    np.testing.assert_array_equal(back.values, ep.values)
    assert back.bound.values.tolist() == ["start", "stop"]


def test_intervals_file_with_no_rows(tmp_path):
    path = tmp_path / "none.csv"
    path.write_text("start,stop\n")
    ep = load_intervals(path)
    assert ep.shape == (0, 2) and ep.dims == ("interval", "bound")
    np.save(tmp_path / "none.npy", np.zeros((0, 2)))
    assert load_intervals(tmp_path / "none.npy").shape == (0, 2)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("10,5\n", r"intervals must be finite \(start, stop\) pairs with stop > st"),
        ("start,stop\n0,1\n2,nan\n", r"got \[\[2.0, nan\]\] \(row\(s\) \[1\]"),
        ("start,stop\n0,1\n2,soon\n", "column 'stop' of .* must be times in seconds"),
        ("start\n0\n2\n", r"intervals must be two columns \(start, stop\)"),
        ("", "an empty file"),
    ],
)
def test_intervals_bad_files_refused(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=match):
        load_intervals(path)


def test_intervals_bad_arguments_and_formats(tmp_path):
    path = tmp_path / "run.csv"
    path.write_text("start,stop\n0,1\n")
    with pytest.raises(InputError, match="table must be used with NWB files"):
        load_intervals(path, table="epochs")
    npz = tmp_path / "run.npz"
    np.savez(npz, a=np.zeros((2, 2)))
    with pytest.raises(InputError, match="must be an NWB file, a CSV/TSV table"):
        load_intervals(npz)
    with pytest.raises(InputError, match="an existing file"):
        load_intervals(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="shape"):
        np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2)))
        load_intervals(tmp_path / "cube.npy")


# ------------------------------------------------------------- load_events
def test_events_gait_table_keeps_every_row_and_empty_cells(tmp_path):
    path = tmp_path / "gait.csv"
    path.write_text("touchdown_s,liftoff_s,side\n1.4,2.1,L\n2.4,3.1,L\n3.5,,L\n")
    ev = load_events(path)
    assert ev.dims == ("event", "column")
    assert ev.column.values.tolist() == ["touchdown_s", "liftoff_s"]  # text left out
    np.testing.assert_array_equal(ev.values, [[1.4, 2.1], [2.4, 3.1], [3.5, np.nan]])
    assert load_events(path, columns=["liftoff_s"]).shape == (3, 1)
    assert load_events(path, columns=0).values[:, 0].tolist() == [1.4, 2.4, 3.5]
    with pytest.raises(InputError, match=r"column 'side' of .* must be times"):
        load_events(path, columns=["side"])
    with pytest.raises(InputError, match="columns must be a column of"):
        load_events(path, columns=["heel"])


def test_events_without_header_keep_the_first_row(tmp_path):
    # the CLI's old --cycles reader took the first row as a header and lost it
    path = tmp_path / "gait.csv"
    path.write_text("0.5,0.8\n1.5,1.8\n2.5,2.8\n")
    ev = load_events(path)
    assert ev.shape == (3, 2) and ev.values[0].tolist() == [0.5, 0.8]
    assert ev.column.values.tolist() == ["0", "1"]


def test_events_npy_nwb_netcdf_and_no_rows(tmp_path):
    np.save(tmp_path / "td.npy", np.array([0.5, 1.5, 2.5]))
    assert load_events(tmp_path / "td.npy").values[:, 0].tolist() == [0.5, 1.5, 2.5]
    nwb = _epochs_nwb(tmp_path / "e.nwb")
    ev = load_events(nwb, columns=["start_time"])
    assert ev.values[:, 0].tolist() == [0.0, 22.5]
    assert load_events(nwb).column.values.tolist() == ["start_time", "stop_time"]
    nc = save_netcdf(ev, tmp_path / "ev.nc")
    np.testing.assert_array_equal(load_events(nc).values, ev.values)
    empty = tmp_path / "none.csv"
    empty.write_text("touchdown_s,liftoff_s\n")
    assert load_events(empty).shape == (0, 2)


def test_events_bad_files_refused(tmp_path):
    path = tmp_path / "inf.csv"
    path.write_text("t\n1\ninf\n")
    with pytest.raises(InputError, match=r"event times in .* must be finite"):
        load_events(path)
    words = tmp_path / "words.csv"
    words.write_text("name\nleft\nright\n")
    with pytest.raises(InputError, match="at least one numeric column"):
        load_events(words)
