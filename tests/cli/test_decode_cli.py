"""`neuronmf decode` end to end on a small simulated session."""

import numpy as np
import xarray as xr

import neuronmf as nm
from neuronmf.cli.main import main


def _session(tmp_path, constant=False):
    counts, truth = nm.assemblies.simulate(
        n_neurons=16, n_assemblies=2, n_bins=900, seed=0
    )
    beh = np.zeros(900) if constant else truth["behavior"]
    ds = xr.Dataset({"counts": counts, "speed": ("time", beh)})
    path = tmp_path / "session.nc"
    ds.to_netcdf(path)
    return path


def test_decode_command_writes_results(tmp_path, capsys):
    src = _session(tmp_path)
    out = tmp_path / "out"
    code = main(
        [
            "decode",
            str(src),
            "--behavior",
            "speed",
            "--rank",
            "2",
            "--cv",
            "3",
            "--null",
            "2",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    ds = xr.load_dataset(out / "decoding.nc")
    assert ds.scores.sizes["fold"] == 3 and ds.attrs["metric"] == "r2"
    assert ds.attrs["score"] > 0.3
    assert (out / "predictions.png").exists()
    assert "not causation" in capsys.readouterr().out


def test_decode_command_bad_input_exit_3(tmp_path, capsys):
    src = _session(tmp_path, constant=True)
    assert (
        main(["decode", str(src), "--behavior", "speed", "--out", str(tmp_path)]) == 3
    )
    assert "non-constant" in capsys.readouterr().err
    assert main(["decode", str(src), "--behavior", "nope"]) == 3
