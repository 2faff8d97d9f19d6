"""`neuronmf synergies` end to end on simulated EMG written as CSV."""

import numpy as np
import pandas as pd
import xarray as xr

from neuronmf.cli.main import main
from neuronmf.synergies import simulate


def _write(tmp_path):
    raw, truth = simulate(n_muscles=8, n_synergies=3, n_cycles=5, seed=0)
    src = tmp_path / "emg.csv"
    df = pd.DataFrame(raw.values, columns=list(raw.channel.values))
    df.insert(0, "time", raw.time.values)
    df.to_csv(src, index=False)
    cycles = tmp_path / "cycles.csv"
    pd.DataFrame({"touchdown_s": truth["touchdowns"]}).to_csv(cycles, index=False)
    return src, cycles


def test_synergies_command_writes_results(tmp_path, capsys):
    src, cycles = _write(tmp_path)
    out = tmp_path / "out"
    code = main(
        [
            "synergies",
            str(src),
            "--cycles",
            str(cycles),
            "--max-rank",
            "6",
            "--restarts",
            "2",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    ds = xr.load_dataset(out / "synergies.nc")
    assert ds.attrs["rank"] == 3 and ds.attrs["input_file"] == str(src)
    assert ds.attrs["cycles_file"] == str(cycles)
    for name in ("synergies.png", "activations.png", "rank.png"):
        assert (out / name).stat().st_size > 0
    summary = (out / "summary.txt").read_text()
    assert "synergies: 3" in summary and "curvefit=3" in summary
    assert "NWB" in summary  # written, or skipped with the reason
    assert "synergies: 3" in capsys.readouterr().out
    assert not list(out.glob("*.tmp"))  # the NetCDF was written atomically


def test_synergies_command_fixed_rank_and_envelope_input(tmp_path):
    src, _ = _write(tmp_path)
    env = pd.read_csv(src).abs()
    env["time"] = np.arange(len(env)) / 1000.0
    path = tmp_path / "env.csv"
    env.to_csv(path, index=False)
    out = tmp_path / "o"
    assert (
        main(["synergies", str(path), "--envelope", "--rank", "3", "--out", str(out)])
        == 0
    )
    ds = xr.load_dataset(out / "synergies.nc")
    assert ds.sizes["synergy"] == 3 and ds.attrs["envelope_band_hz"] == "none"
    assert not (out / "rank.png").exists()


def test_synergies_command_bad_input(tmp_path, capsys):
    src, _ = _write(tmp_path)
    assert main(["synergies", str(tmp_path / "missing.csv")]) == 3
    assert (
        main(
            ["synergies", str(src), "--band", "20", "600", "--out", str(tmp_path / "a")]
        )
        == 3
    )
    assert "Nyquist frequency 500 Hz" in capsys.readouterr().err
    bad = tmp_path / "late.csv"
    pd.DataFrame({"touchdown_s": [1.0, 2.0, 99.0]}).to_csv(bad, index=False)
    code = main(
        ["synergies", str(src), "--cycles", str(bad), "--out", str(tmp_path / "b")]
    )
    assert code == 3
    assert "inside the recording" in capsys.readouterr().err
    assert main(["synergies", str(src), "--rank", "many"]) == 3


def test_synergies_help_has_example(capsys):
    try:
        main(["synergies", "--help"])
    except SystemExit:
        pass
    assert "neuronmf synergies" in capsys.readouterr().out
