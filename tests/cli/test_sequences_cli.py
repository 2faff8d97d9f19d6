"""``neuronmf sequences``: planted sequences in, files and a readable summary out."""

from __future__ import annotations

import numpy as np
import pytest

import neuronmf as nm
from neuronmf.cli.main import main


def test_sequences_command_writes_results_and_summary(tmp_path, capsys):
    sim = nm.datasets.simulate_sequences(n_frames=900, seed=0)
    src = tmp_path / "activity.npy"
    np.save(src, sim.data.T)  # (time, neuron): the longer axis is time
    out = tmp_path / "seq"
    args = ["--rank", "3", "--lags", "35", "--x-ortho", "0.005", "--kind", "dff"]
    assert main(["sequences", str(src), *args, "--rate", "30", "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"sequences.nc", "sequences.nwb", "sequences.png", "summary.txt"} <= names
    assert "x_ortho.png" not in names  # λ was given: no scan to draw
    summary = (out / "summary.txt").read_text()
    assert "significant sequences:" in summary
    assert "members in firing order" in summary
    back = nm.io.load_result(out / "sequences.nc")
    assert back.attrs["neuronmf_kind"] == "sequences"
    assert int(back.attrs["n_significant"]) >= 1
    assert "significant of 3" in capsys.readouterr().out


def test_sequences_command_refuses_bad_options(tmp_path, capsys):
    src = tmp_path / "a.npy"
    np.save(src, np.random.default_rng(0).random((300, 4)))
    # lags longer than half the training part: bad input (exit 3), no files
    code = main(["sequences", str(src), "--lags", "200", "--out", str(tmp_path / "o")])
    assert code == 3
    assert "lags must be at most half the training frames" in capsys.readouterr().err
    assert not (tmp_path / "o" / "sequences.nc").exists()
    with pytest.raises(SystemExit):
        main(["sequences", str(src), "--x-ortho", "big"])
