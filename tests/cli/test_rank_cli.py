"""``neuronmf rank``: end to end on a small EMG-like table, and bad input."""

import numpy as np
import xarray as xr

from neuronmf.cli.main import main


def test_rank_command_writes_scores_figure_and_summary(tmp_path, capsys):
    from neuronmf.datasets import simulate_synergy_envelopes

    V, _, _ = simulate_synergy_envelopes(n_muscles=8, n_synergies=3, n_cycles=5)
    table = tmp_path / "envelope.csv"
    names = [f"m{i}" for i in range(8)]
    header = "time," + ",".join(names)
    t = np.arange(V.shape[1]) / 100.0
    np.savetxt(
        table, np.column_stack([t, V.T]), delimiter=",", header=header, comments=""
    )
    out = tmp_path / "scan"
    code = main(
        ["rank", str(table), "--ranks", "1-5", "--method", "vaf", "--out", str(out)]
    )
    assert code == 0
    summary = (out / "summary.txt").read_text()
    assert "best rank: 3" in summary
    assert (out / "rank_scan.png").stat().st_size > 0
    scores = xr.load_dataset(out / "rank_scan.nc")
    assert list(scores["feature"].values) == names
    assert "results in" in capsys.readouterr().out


def test_rank_command_bad_input_exit_code(tmp_path, capsys):
    code = main(["rank", str(tmp_path / "missing.csv")])
    assert code == 3
    assert "missing.csv" in capsys.readouterr().err
    assert main(["rank", str(tmp_path / "x.csv"), "--ranks", "a-b"]) == 3


def test_rank_command_names_the_kl_score(tmp_path, capsys):
    # issue 20 (What was seen 3): for counts the printout says what the score is
    rng = np.random.default_rng(0)
    counts = rng.poisson(0.3, (200, 6)).astype(float)
    da = xr.DataArray(counts, dims=("time", "neuron"))
    da.to_netcdf(tmp_path / "counts.nc")
    out = tmp_path / "scan"
    args = ["rank", str(tmp_path / "counts.nc"), "--ranks", "1-2", "--loss", "kl"]
    code = main([*args, "--repeats", "2", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "cv score (held-out Poisson deviance per entry, mean ± SE) by rank: 1:" in (
        printed
    )


def _rank_summary_on_noise(tmp_path, n_features: int, *options: str) -> str:
    """`neuronmf rank` on 200 x n_features uniform noise; its summary.txt."""
    rng = np.random.default_rng(0)
    da = xr.DataArray(rng.random((200, n_features)), dims=("time", "neuron"))
    da.to_netcdf(tmp_path / "noise.nc")
    out = tmp_path / "scan"
    assert main(["rank", str(tmp_path / "noise.nc"), *options, "--out", str(out)]) == 0
    return (out / "summary.txt").read_text()


def test_rank_command_says_when_the_rule_was_not_met(tmp_path, capsys):
    # structure-free data: VAF never reaches 0.9 in ranks 1-3, so the summary must
    # not present rank 3 as a choice
    summary = _rank_summary_on_noise(tmp_path, 30, "--ranks", "1-3", "--method", "vaf")
    assert "best rank: 3 — the top of the scan, not a choice" in summary
    assert "note: rank rule 'vaf'" in summary


def test_rank_reads_the_2d_variable_of_a_netcdf_dataset(tmp_path):
    # the CLI's own reader took the first variable with a time dim: a 1-D speed
    import neuronmf as nm
    from neuronmf.cli.rank import read_input

    rng = np.random.default_rng(0)
    ds = xr.Dataset(
        {
            "speed": ("time", rng.random(30)),
            "rates": (("time", "ch"), rng.random((30, 5))),
        }
    )
    path = nm.io.save_netcdf(ds, tmp_path / "session.nc")
    data = read_input(path, "emg", None, None)
    assert data.dims == ("time", "neuron") and data.shape == (30, 5)
    np.testing.assert_array_equal(data.values, ds.rates.values)


def test_rank_command_says_why_bicv_is_nan(tmp_path, capsys):
    # 6 features: bicv fits at most rank 3, so ranks 4-5 are undefined (NaN) and
    # the summary says so instead of printing bare NaNs
    summary = _rank_summary_on_noise(
        tmp_path, 6, "--ranks", "1-5", "--criteria", "bicv", "--repeats", "2"
    )
    assert "note: select_rank: bicv is undefined above rank 3" in summary
    assert "reported as NaN at ranks [4, 5]" in summary


def test_rank_command_says_consensus_and_stability_cannot_choose_one(tmp_path):
    # independent Poisson neurons: cv chooses 1; consensus and stability only
    # score ranks >= 2 (undefined at 1), so their 2 is no finding; the summary says so
    rng = np.random.default_rng(0)
    counts = rng.poisson(rng.uniform(0.2, 2, 12), (300, 12)).astype(float)
    xr.DataArray(counts, dims=("time", "neuron")).to_netcdf(tmp_path / "null.nc")
    out = tmp_path / "scan"
    args = ["rank", str(tmp_path / "null.nc"), "--ranks", "1-3", "--loss", "kl"]
    args += ["--criteria", "consensus,stability", "--repeats", "2", "--out", str(out)]
    assert main(args) == 0
    summary = (out / "summary.txt").read_text()
    assert "best rank: 1" in summary
    assert "consensus and stability choose among ranks >= 2 only" in summary
