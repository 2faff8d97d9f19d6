"""`neuronmf assemblies` end to end on a small simulated recording."""

import numpy as np
import xarray as xr

import neuronmf as nm
from neuronmf.cli.main import main


def test_assemblies_command_writes_results(tmp_path, capsys):
    counts, _ = nm.assemblies.simulate(n_neurons=16, n_assemblies=2, n_bins=800, seed=0)
    src = tmp_path / "counts.nc"
    counts.rename("counts").to_netcdf(src)
    out = tmp_path / "out"
    code = main(
        ["assemblies", str(src), "--rank", "3", "--surrogates", "20", "--out", str(out)]
    )
    assert code == 0
    ds = xr.load_dataset(out / "assemblies.nc")
    assert ds.attrs["rank"] == 3 and ds.attrs["input_file"] == str(src)
    assert (out / "membership.png").stat().st_size > 0
    assert "significant" in capsys.readouterr().out


def test_assemblies_command_npz_needs_bin_width(tmp_path):
    src = tmp_path / "spikes.npz"
    np.savez(src, spike_times=np.array([0.1, 0.2, 0.3]), spike_unit=np.array([0, 1, 0]))
    assert main(["assemblies", str(src), "--out", str(tmp_path / "o")]) == 3
    assert main(["assemblies", str(tmp_path / "missing.nc")]) == 3


def test_assemblies_help_has_example(capsys):
    try:
        main(["assemblies", "--help"])
    except SystemExit:
        pass
    assert "neuronmf assemblies" in capsys.readouterr().out
