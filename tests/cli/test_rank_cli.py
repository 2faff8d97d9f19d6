"""``neuronmf rank``: end to end on a small EMG-like table, and bad input."""

import numpy as np
import xarray as xr

from neuronmf.cli.main import main


def test_rank_command_writes_scores_figure_and_summary(tmp_path, capsys):
    from neuronmf.cli.demo import simulate_synergy_envelopes

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
