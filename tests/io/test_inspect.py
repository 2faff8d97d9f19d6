from __future__ import annotations

import h5py
import numpy as np
import pytest

from neuronmf.cli.main import main
from neuronmf.errors import InputError
from neuronmf.io import inspect
from tests.conftest import real_file, sha256


def test_endoscope_nwb():
    path = real_file("endoscope_ophys_nwb", "nwb_test.nwb")
    before = sha256(path)
    items = {d["path"]: d for d in inspect(path)}
    rrs = items["processing/ophys/Fluorescence/RoiResponseSeries"]
    assert rrs["type"] == "RoiResponseSeries"
    assert rrs["shape"] == (250, 15) and rrs["rate"] == 10.0
    ps = items["processing/ophys/ImageSegmentation/PlaneSegmentation"]
    assert ps["shape"] == (15,) and "image_mask" in ps["columns"]
    assert sha256(path) == before


def test_emg_nwb_and_table(emg_nwb):
    path, data = emg_nwb
    contents = inspect(path)
    items = {d["path"]: d for d in contents}
    assert items["acquisition/EMG"]["type"] == "ElectricalSeries"
    assert items["acquisition/EMG"]["shape"] == data.shape
    assert items["acquisition/EMG"]["rate"] == 2000.0
    assert "processing/emg/EMGEnvelope" in items
    text = str(contents)
    assert "acquisition/EMG" in text and "2000 Hz" in text


def test_real_folder_csv_npz():
    assert inspect(real_file("neurofinder_subset", "images"))[0]["shape"] == (
        200,
        512,
        512,
    )
    csv = inspect(real_file("santuz_gait_emg", "csv", "ID0012_TW_01_raw_emg.csv"))
    assert csv[0]["shape"] == (7618, 13) and csv[0]["rate"] == 1000.0
    npz = inspect(real_file("hc_linear_track", "spikes_flat_and_position.npz"))
    assert {d["path"] for d in npz} >= {"spike_times", "spike_unit", "position_t"}


def test_hdf5_and_tiff(tmp_path):
    import tifffile

    h = tmp_path / "a.h5"
    with h5py.File(h, "w") as f:
        f["g/movie"] = np.zeros((3, 4, 5), np.float32)
        f["g/movie"].attrs["rate"] = 15.0
    (item,) = inspect(h)
    assert item["path"] == "g/movie" and item["rate"] == 15.0
    t = tmp_path / "a.tif"
    tifffile.imwrite(t, np.zeros((6, 4, 5), np.uint8))
    assert inspect(t)[0]["shape"] == (6, 4, 5)


def test_inspect_bad_input(tmp_path):
    with pytest.raises(InputError, match=r"no such file"):
        inspect(tmp_path / "missing.nwb")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match=r"readable HDF5"):
        inspect(bad)


def test_cli_info(emg_nwb, capsys):
    path, _ = emg_nwb
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "acquisition/EMG" in out and "ElectricalSeries" in out
    assert main(["info", str(path), "--json"]) == 0
    assert '"acquisition/EMG"' in capsys.readouterr().out
    assert main(["info", str(path) + ".missing"]) == 3
    assert "no such file" in capsys.readouterr().err


def test_cli_info_help(capsys):
    with pytest.raises(SystemExit):
        main(["info", "--help"])
    assert "neuronmf info recording.nwb" in capsys.readouterr().out
