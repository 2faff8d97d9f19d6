"""MATLAB .mat files: v5 (scipy) and v7.3 (HDF5 + MATLAB header) through the loaders."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io

from neuronmf.cli.main import main
from neuronmf.errors import InputError
from neuronmf.io import inspect, load_activity, load_behavior
from neuronmf.io._common import detect_format
from neuronmf.io.matlab import mat_variables, read_mat_variable, spike_trains
from tests.conftest import real_file, sha256

HC_MAT = ("hc_linear_track", "spikes.mat")
HC_NPZ = ("hc_linear_track", "spikes_flat_and_position.npz")

# Three units' spike times (s); unit 2 is nested one cell deeper, one entry empty.
UNIT_A = [0.05, 0.12, 0.31, 0.95]
UNIT_B = [0.50]
UNIT_C = [0.07, 0.08, 0.62, 0.63, 0.64]
RATES = np.arange(3 * 50, dtype=float).reshape(3, 50)  # MATLAB (neuron, time)
POS = np.column_stack([np.arange(20) / 10, np.arange(20) * 2.0, -np.arange(20.0)])


def spike_cell() -> np.ndarray:
    inner = np.empty((1, 2), dtype=object)
    inner[0, 0] = np.array([UNIT_B])
    inner[0, 1] = np.zeros((1, 0))  # an empty placeholder
    cell = np.empty((1, 3), dtype=object)
    cell[0, 0] = np.array([UNIT_A])
    cell[0, 1] = inner
    cell[0, 2] = np.array(UNIT_C)[:, None]  # a column vector
    return cell


def hand_counts(bin_width: float, t_stop: float) -> np.ndarray:
    n = round(t_stop / bin_width)
    return np.stack(
        [
            np.histogram(u, bins=n, range=(0, n * bin_width))[0]
            for u in (UNIT_A, UNIT_B, UNIT_C)
        ],
        axis=1,
    )


@pytest.fixture
def v5_file(tmp_path):
    p = tmp_path / "session_v5.mat"
    scipy.io.savemat(
        p,
        {
            "spk": spike_cell(),
            "rates": RATES,
            "pos": POS,
            "units": {"time": np.array([UNIT_A]), "meanrate": 4.0},
            "label": "rat 7",
            "fs": 30.0,
        },
    )
    return p


def write_v73(p):
    """A MATLAB 7.3 file as MATLAB writes it: HDF5 with a 512-byte user block
    whose first 128 bytes are the MAT-file header; arrays stored transposed."""

    def cls(obj, name):
        obj.attrs["MATLAB_class"] = np.bytes_(name)
        return obj

    with h5py.File(p, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        cls(f.create_dataset("rates", data=RATES.T), "double")
        cls(f.create_dataset("pos", data=POS.T), "double")

        def element(name, values):
            ds = cls(refs.create_dataset(name, data=np.atleast_2d(values)), "double")
            return ds.ref

        empty = cls(
            refs.create_dataset("e", data=np.array([1, 0], np.uint64)), "double"
        )
        empty.attrs["MATLAB_empty"] = np.uint8(1)
        inner = cls(
            refs.create_dataset(
                "inner", data=np.array([[element("b", UNIT_B)], [empty.ref]])
            ),
            "cell",
        )
        cells = [element("a", UNIT_A), inner.ref, element("c", UNIT_C)]
        cls(f.create_dataset("spk", data=np.array(cells)[:, None]), "cell")
        name = cls(
            f.create_dataset(
                "label",
                data=np.frombuffer(b"rat 7", np.uint8).astype(np.uint16)[:, None],
            ),
            "char",
        )
        assert name.shape == (5, 1)
        st = cls(f.create_group("units"), "struct")
        cls(st.create_dataset("time", data=np.array(UNIT_A)[:, None]), "double")
        cls(st.create_dataset("meanrate", data=np.array([[4.0]])), "double")
        cls(f.create_dataset("fs", data=np.array([[30.0]])), "double")
        cls(f.create_dataset("ok", data=np.array([[1], [0]], np.uint8)), "logical")
    header = (
        b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 ."
    )
    with open(p, "r+b") as fh:
        fh.write(header.ljust(116) + b"\x00" * 8 + b"\x00\x02IM")
    return p


@pytest.fixture
def v73_file(tmp_path):
    return write_v73(tmp_path / "session_v73.mat")


def test_info_lists_real_mat_variables(capsys):
    """Reproducer: `neuronmf info spikes.mat` said "truncated or corrupt"."""
    path = real_file(*HC_MAT)
    before = sha256(path)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "spikes" in out and "MATLAB v5" in out and "cell" in out
    assert "31 units" in out
    (item,) = inspect(path)
    assert item["shape"] == (1, 1) and item["dtype"] == "cell"
    assert sha256(path) == before


def test_real_mat_spikes_match_npz_copy():
    act = load_activity(real_file(*HC_MAT), bin_width=0.1)
    z = np.load(real_file(*HC_NPZ))
    assert act.dims == ("time", "neuron") and act.sizes["neuron"] == 31
    assert act.attrs["empty_skipped"] == 74 and act.attrs["activity_kind"] == "counts"
    per_unit = np.sort(act.sum("time").values)
    np.testing.assert_array_equal(per_unit, np.sort(np.bincount(z["spike_unit"])))
    assert act.neuron.values[0] == "1.1"  # tetrode 1, cell 1


@pytest.mark.parametrize("fixture", ["v5_file", "v73_file"])
def test_both_versions_read_alike(fixture, request):
    p = request.getfixturevalue(fixture)
    assert detect_format(p) == "matlab"
    listed = {n: (s, d) for n, s, d in mat_variables(p)}
    assert listed["rates"] == ((3, 50), "float64")
    assert listed["spk"] == ((1, 3), "cell")
    assert listed["units"][1] == "struct" and listed["label"][1] == "char"
    np.testing.assert_array_equal(read_mat_variable(p, "rates"), RATES)
    np.testing.assert_array_equal(read_mat_variable(p, "units.time").ravel(), UNIT_A)
    assert read_mat_variable(p, "label").tolist() == ["rat 7"]
    assert float(read_mat_variable(p, "fs")[0, 0]) == 30.0
    labels, trains, n_empty = spike_trains(read_mat_variable(p, "spk"))
    assert labels == ["1", "2.1", "3"] and n_empty == 1
    for got, want in zip(trains, (UNIT_A, UNIT_B, UNIT_C), strict=True):
        np.testing.assert_array_equal(got, want)
    # spike times → counts checked against a histogram
    act = load_activity(p, variable="spk", bin_width=0.25, t_start=0.0, t_stop=1.0)
    np.testing.assert_array_equal(act.values, hand_counts(0.25, 1.0))
    assert act.neuron.values.tolist() == ["1", "2.1", "3"]
    np.testing.assert_allclose(act.time.values, [0.125, 0.375, 0.625, 0.875])
    # a struct with a `time` field is one unit
    one = load_activity(p, variable="units", bin_width=0.5, t_start=0, t_stop=1)
    assert one.values.ravel().tolist() == [3, 1]
    # a (neuron, time) matrix: the longer axis is time
    rates = load_activity(p, variable="rates", rate=10.0)
    assert rates.dims == ("time", "neuron") and rates.shape == (50, 3)
    np.testing.assert_array_equal(rates.values, RATES.T)
    assert rates.attrs["time_axis"] == 1 and rates.time.values[1] == 0.1
    # behaviour: a [t x y] matrix with its time column
    beh = load_behavior(p, variable="pos", time_column=0, times=[0.05, 1.0])
    assert beh.dims == ("time", "axis") and beh.axis.values.tolist() == [
        "pos(:,2)",
        "pos(:,3)",
    ]
    np.testing.assert_allclose(beh.values, [[1.0, -0.5], [20.0, -10.0]])


def test_v73_is_not_read_as_plain_hdf5(v73_file):
    """Before: a v7.3 file was plain HDF5 and its matrices came back transposed."""
    (item,) = [d for d in inspect(v73_file) if d["path"] == "rates"]
    assert item["shape"] == (3, 50) and item["type"] == "MATLAB v7.3"
    assert read_mat_variable(v73_file, "ok").tolist() == [[True, False]]


def test_mat_bad_input(v5_file, tmp_path):
    with pytest.raises(InputError, match=r"variable='nope'.*rates \(3×50 float64\)"):
        load_activity(v5_file, variable="nope", bin_width=0.1)
    with pytest.raises(InputError, match=r"variable must be given.*spk"):
        load_activity(v5_file, bin_width=0.1)  # spk, rates, pos, units all fit
    with pytest.raises(InputError, match=r"bin_width must be None for a matrix"):
        load_activity(v5_file, variable="rates", bin_width=0.1)
    square = tmp_path / "sq.mat"
    scipy.io.savemat(square, {"m": np.ones((4, 4))})
    with pytest.raises(InputError, match=r"square 4×4.*time_axis=0"):
        load_activity(square, variable="m")
    assert load_activity(square, variable="m", time_axis=0).attrs["time_axis"] == 0
    with pytest.raises(InputError, match=r"time_column must be the timestamps"):
        load_behavior(v5_file, variable="pos")
    with pytest.raises(InputError, match=r"field of spike times.*fields a, b"):
        scipy.io.savemat(square, {"s": {"a": 1.0, "b": 2.0}})
        load_activity(square, variable="s", bin_width=0.1)
    broken = tmp_path / "broken.mat"
    broken.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(InputError, match=r"MAT-file .*truncated or corrupt"):
        inspect(broken)
    with pytest.raises(InputError, match=r"variable must be used with MATLAB"):
        load_activity(real_file(*HC_NPZ), variable="spike_times", bin_width=0.1)


@pytest.mark.parametrize("fixture", ["v5_file", "v73_file"])
def test_emg_from_mat(fixture, request):
    from neuronmf.io import load_emg

    p = request.getfixturevalue(fixture)
    emg = load_emg(p, variable="rates", rate=1000.0)
    assert emg.dims == ("time", "channel") and emg.shape == (50, 3)
    np.testing.assert_array_equal(emg.values, RATES.T)
    assert emg.attrs["rate"] == 1000.0 and emg.channel.values.tolist()[0] == "ch0"
    with pytest.raises(InputError, match=r"rate must be given for a MATLAB variable"):
        load_emg(p, variable="rates")
