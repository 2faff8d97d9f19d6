"""`neuronmf decode` end to end on a small simulated session written as NWB."""

import numpy as np
import pytest
import xarray as xr

import neuronmf as nm
from neuronmf.cli.main import main

ARGS = ["--rank", "2", "--cv", "3", "--null", "2"]


@pytest.fixture(scope="module")
def nwb_session(tmp_path_factory):
    sim = nm.datasets.simulate_assemblies(
        n_neurons=16, n_assemblies=2, n_bins=900, seed=0
    )
    path = tmp_path_factory.mktemp("dec") / "session.nwb"
    sim.to_nwb(path)
    return sim, path


def test_decode_command_nwb(nwb_session, tmp_path, capsys):
    sim, src = nwb_session
    out = tmp_path / "out"
    args = ["--bin-width", "0.025", "--behavior", "behavior", "--out", str(out)]
    code = main(["decode", str(src), *args, *ARGS])
    assert code == 0, capsys.readouterr().err
    ds = nm.io.load_result(out / "decoding.nc")
    assert ds.scores.sizes["fold"] == 3 and ds.attrs["metric"] == "r2"
    assert ds.attrs["score"] > 0.3
    np.testing.assert_allclose(ds.behavior.values, sim.behavior.values)
    # the NWB output holds the predictions; the behaviour loader reads them back
    pred = nm.io.load_behavior(out / "decoding.nwb", series="predicted")
    np.testing.assert_allclose(pred.values, ds.predictions.values)
    # ... and load_result reads the whole result, as the NetCDF file holds it
    xr.testing.assert_identical(nm.io.load_result(out / "decoding.nwb"), ds)
    assert (out / "predictions.png").stat().st_size > 1000
    assert (out / "rank_scores.png").exists()
    summary = (out / "summary.txt").read_text()
    assert "r2:" in summary and "not causation" in summary
    assert "not causation" in capsys.readouterr().out


def test_decode_command_netcdf(tmp_path, capsys):
    sim = nm.datasets.simulate_assemblies(n_neurons=12, n_assemblies=2, n_bins=600)
    ds = xr.Dataset({"counts": sim.data, "speed": sim.behavior})
    src = tmp_path / "session.nc"
    nm.io.save_netcdf(ds, src)
    out = tmp_path / "o"
    args = ["--behavior", "speed", "--features", "raw", "--out", str(out)]
    assert main(["decode", str(src), *args, *ARGS]) == 0, capsys.readouterr().err
    assert not (out / "rank_scores.png").exists()
    assert nm.io.load_result(out / "decoding.nc").attrs["features"] == "raw"


def test_decode_command_bad_input_exit_3(nwb_session, tmp_path, capsys):
    sim, src = nwb_session
    ds = xr.Dataset({"counts": sim.data, "speed": ("time", np.zeros(900))})
    nc = tmp_path / "session.nc"
    nm.io.save_netcdf(ds, nc)
    assert main(["decode", str(nc), "--behavior", "speed", "--out", str(tmp_path)]) == 3
    assert "non-constant" in capsys.readouterr().err
    assert main(["decode", str(nc), "--behavior", "nope"]) == 3
    args = ["--bin-width", "0.025", "--behavior", "nope", "--out", str(tmp_path)]
    assert main(["decode", str(src), *args]) == 3
    assert "nope" in capsys.readouterr().err
