"""`neuronmf assemblies` end to end on a small simulated recording written as NWB."""

import numpy as np
import pytest

import neuronmf as nm
from neuronmf.cli.main import main
from neuronmf.model_selection import match_components


@pytest.fixture(scope="module")
def nwb_session(tmp_path_factory):
    sim = nm.datasets.simulate_assemblies(
        n_neurons=16, n_assemblies=2, n_bins=800, seed=0
    )
    path = tmp_path_factory.mktemp("asm") / "session.nwb"
    sim.to_nwb(path)
    return sim, path


def test_assemblies_command_nwb(nwb_session, tmp_path, capsys):
    sim, src = nwb_session
    out = tmp_path / "out"
    args = ["--bin-width", "0.025", "--rank", "3", "--surrogates", "20"]
    code = main(["assemblies", str(src), *args, "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    ds = nm.io.load_result(out / "assemblies.nc")
    assert ds.attrs["rank"] == 3 and ds.attrs["input_file"] == str(src)
    np.testing.assert_allclose(ds.time.values, sim.data.time.values)
    m = match_components(sim.truth["membership"].values, ds.membership.values)
    assert m.similarity.min() >= 0.9
    back = nm.io.load_result(out / "assemblies.nwb")
    np.testing.assert_allclose(back.membership.values, ds.membership.values)
    for png in ("membership.png", "activations.png"):
        assert (out / png).stat().st_size > 1000
    summary = (out / "summary.txt").read_text()
    assert "800 bins x 16 neurons" in summary and "significant assemblies" in summary
    assert "significant" in capsys.readouterr().out


def test_assemblies_command_netcdf_and_npz(tmp_path):
    sim = nm.datasets.simulate_assemblies(n_neurons=12, n_assemblies=2, n_bins=500)
    nc = tmp_path / "counts.nc"
    nm.io.save_netcdf(sim.data, nc)
    args = ["--rank", "2", "--surrogates", "0", "--out", str(tmp_path / "a")]
    assert main(["assemblies", str(nc), *args]) == 0
    assert (tmp_path / "a" / "assemblies.nwb").exists()
    src = tmp_path / "spikes.npz"
    np.savez(src, spike_times=np.array([0.1, 0.2, 0.3]), spike_unit=np.array([0, 1, 0]))
    # spike times without a bin width: a clear input error, exit code 3
    assert main(["assemblies", str(src), "--out", str(tmp_path / "o")]) == 3
    assert main(["assemblies", str(tmp_path / "missing.nc")]) == 3


def test_assemblies_help_has_example(capsys):
    try:
        main(["assemblies", "--help"])
    except SystemExit:
        pass
    assert "neuronmf assemblies" in capsys.readouterr().out


def test_assemblies_command_fluorescence_shared_signal_is_non_specific(
    tmp_path, capsys
):
    # raw fluorescence: big per-neuron baselines and one shared slow signal (as
    # neuropil in 1p data). Before issue 20 this was "significant assemblies".
    from scipy.signal import lfilter

    rng = np.random.default_rng(1)
    shared = lfilter([1.0], [1.0, -0.9], rng.poisson(0.1, 300).astype(float))
    base = rng.uniform(300, 600, 10)
    F = base * (1 + 0.2 * shared[:, None]) + rng.normal(0, 0.01, (300, 10)) * base
    import xarray as xr

    arr = xr.DataArray(
        F, dims=("time", "neuron"), coords={"time": np.arange(300) / 10.0}
    )
    nc = tmp_path / "f.nc"
    nm.io.save_netcdf(arr, nc)
    out = tmp_path / "o"
    args = ["--kind", "fluorescence", "--rank", "1", "--surrogates", "39"]
    assert main(["assemblies", str(nc), *args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "0 significant assemblies, 1 non-specific" in printed
    summary = (out / "summary.txt").read_text()
    assert "activity: fluorescence (given); dF/F" in summary
    assert "NOT counted as assemblies" in summary


def test_assemblies_and_rank_commands_agree_with_rank_method_cv(tmp_path, capsys):
    # issue 20 (What was seen 3): `neuronmf rank --method cv` and
    # `neuronmf assemblies --rank-method cv` score ranks the same way
    rng = np.random.default_rng(3)
    n, t, k = 16, 600, 2
    W = np.zeros((n, k))
    W[:8, 0] = 1.0
    W[8:, 1] = 1.0
    H = rng.gamma(0.5, 0.6, (k, t))
    counts = rng.poisson(W @ H + 0.02).T.astype(float)  # (time, neuron)
    nc = tmp_path / "counts.nc"
    nm.io.save_netcdf(_as_activity(counts), nc)
    code = main(
        [
            "rank",
            str(nc),
            "--ranks",
            "1-4",
            "--loss",
            "kl",
            "--method",
            "cv",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    rank_summary = (tmp_path / "r" / "summary.txt").read_text()
    code = main(
        [
            "assemblies",
            str(nc),
            "--rank-method",
            "cv",
            "--max-rank",
            "4",
            "--surrogates",
            "0",
            "--out",
            str(tmp_path / "a"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    ds = nm.io.load_result(tmp_path / "a" / "assemblies.nc")
    assert f"best rank: {ds.attrs['rank']}" in rank_summary
    assert ds.attrs["rank"] == 2


def _as_activity(counts):
    import xarray as xr

    return xr.DataArray(
        counts,
        dims=("time", "neuron"),
        coords={"time": np.arange(len(counts)) / 20.0},
        attrs={"units": "spikes"},
    )


def test_series_names_a_matlab_variable(tmp_path, capsys):
    # `--series` names the NWB series, the NPZ array or the MATLAB variable
    from scipy.io import savemat

    sim = nm.datasets.simulate_assemblies(n_neurons=12, n_assemblies=2, n_bins=300)
    src = tmp_path / "lab.mat"
    savemat(src, {"counts": sim.data.values.T, "other": np.zeros((3, 3))})
    out = tmp_path / "a"
    args = ["--series", "counts", "--rate", "40", "--rank", "2", "--surrogates", "0"]
    assert main(["assemblies", str(src), *args, "--out", str(out)]) == 0, (
        capsys.readouterr().err
    )
    ds = nm.io.load_result(out / "assemblies.nc")
    assert ds.sizes["neuron"] == 12 and ds.sizes["time"] == 300
