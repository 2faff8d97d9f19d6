"""`neuronmf synergies` end to end on simulated EMG written as CSV."""

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from neuronmf.cli.main import main
from neuronmf.datasets import simulate_emg


def _write(tmp_path):
    sim = simulate_emg(8, 3, 5, variant="padded", seed=0)
    raw, truth = sim.data, sim.truth
    src = tmp_path / "emg.csv"
    df = pd.DataFrame(raw.values, columns=list(raw.channel.values))
    df.insert(0, "time", raw.time.values)
    df.to_csv(src, index=False)
    cycles = tmp_path / "cycles.csv"
    touchdowns = np.append(truth["cycle_start"], truth["cycle_stop"][-1])
    pd.DataFrame({"touchdown_s": touchdowns}).to_csv(cycles, index=False)
    return src, cycles


def _spy_on_io_save(monkeypatch) -> list[str]:
    """The names of the files written through io.save_netcdf / io.save_nwb."""
    import neuronmf.io as nio

    written = []
    for name in ("save_netcdf", "save_nwb"):
        original = getattr(nio, name)

        def spy(ds, path, *args, _original=original, **kwargs):
            written.append(Path(path).name)
            return _original(ds, path, *args, **kwargs)

        monkeypatch.setattr(nio, name, spy)
    return written


def test_synergies_command_writes_results(tmp_path, capsys, monkeypatch):
    written = _spy_on_io_save(monkeypatch)  # thin CLI: it writes with io.save_*
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
    assert sorted(written) == ["synergies.nc", "synergies.nwb"]


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


def _lab_tsv(tmp_path):
    """Simulated EMG as a lab writes it: time in ms, ~10% rows dropped, `class`."""
    raw = simulate_emg(6, 2, 4, variant="padded", seed=1).data
    df = pd.DataFrame(raw.values, columns=list(raw.channel.values))
    df.insert(0, "time", np.round(raw.time.values * 1000).astype(int))
    df["class"] = (np.arange(len(df)) * 3) // len(df)
    rng = np.random.default_rng(0)
    drop = rng.choice(np.arange(1, len(df) - 1), size=len(df) // 10, replace=False)
    path = tmp_path / "lab.tsv"
    df.drop(index=drop).to_csv(path, sep="\t", index=False)
    return path, raw


def test_synergies_ms_tsv_with_gaps_flags_in_messages(tmp_path, capsys):
    path, raw = _lab_tsv(tmp_path)
    out = tmp_path / "o"
    assert main(["synergies", str(path), "--rate", "1000", "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert "--rate must be consistent" in err and "--time-unit ms" in err
    assert "time_unit" not in err and "rate=" not in err
    assert "left out label-like column(s) class" in err
    args = ["synergies", str(path), "--rate", "1000", "--time-unit", "ms"]
    assert main([*args, "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert "regularly sampled" in err and "--resample" in err
    assert "resample=" not in err
    fast = ["--rank", "2", "--restarts", "1", "--out", str(out)]
    assert main([*args, "--resample", *fast]) == 0
    ds = xr.load_dataset(out / "synergies.nc")
    assert "class" not in ds.muscle.values.tolist()
    assert ds.sizes["muscle"] == 6
    t = ds.time.values  # seconds, not milliseconds
    assert abs(t[-1] - float(raw.time[-1])) < 0.002 and t[0] < 0.002
    summary = (out / "summary.txt").read_text()
    assert "1000 Hz" in summary and "resampled over" in summary
    assert "left out: class" in summary


def test_synergies_channels_and_exclude(tmp_path):
    src, _ = _write(tmp_path)
    out = tmp_path / "c"
    fast = ["--rank", "2", "--restarts", "1", "--envelope", "--out", str(out)]
    names = list(pd.read_csv(src, nrows=1).columns[1:])
    code = main(["synergies", str(src), "--channels", ",".join(names[:4]), *fast])
    assert code == 0
    assert xr.load_dataset(out / "synergies.nc").muscle.values.tolist() == names[:4]
    code = main(["synergies", str(src), "--exclude", names[0], names[1], *fast])
    assert code == 0
    assert xr.load_dataset(out / "synergies.nc").muscle.values.tolist() == names[2:]


def test_cycles_are_read_by_io_load_events(tmp_path):
    # the CLI's own reader took the first row of a file without header as the
    # header (one cycle silently lost) and refused TSV
    import pytest

    from neuronmf.cli.synergies import _read_cycles
    from neuronmf.errors import InputError

    plain = tmp_path / "events.csv"
    plain.write_text("1.0,1.6\n2.0,2.6\n3.0,3.6\n")
    assert _read_cycles(plain).tolist() == [[1.0, 1.6], [2.0, 2.6], [3.0, 3.6]]
    tsv = tmp_path / "events.tsv"
    tsv.write_text("touchdown_s\tliftoff_s\tside\n1.0\t1.6\tL\n2.0\t\tL\n")
    np.testing.assert_array_equal(_read_cycles(tsv), [[1.0, 1.6], [2.0, np.nan]])
    with pytest.raises(InputError, match="--cycles must be an existing file"):
        _read_cycles(tmp_path / "missing.csv")
    words = tmp_path / "words.csv"
    words.write_text("side\nL\nR\n")
    with pytest.raises(InputError, match=r"--cycles: file .* numeric column"):
        _read_cycles(words)


def test_synergies_summary_says_when_the_rank_is_the_top_of_the_scan(tmp_path, capsys):
    # 3 planted synergies, ranks 1-2 scanned: aic's lowest score is at rank 2, the
    # ceiling; the summary must not state "synergies: 2" as a choice
    src, _ = _write(tmp_path)
    out = tmp_path / "o"
    args = ["synergies", str(src), "--criterion", "aic", "--max-rank", "2"]
    assert main([*args, "--restarts", "2", "--out", str(out)]) == 0
    summary = (out / "summary.txt").read_text()
    assert "synergies: 2 — the top of the scan, not a choice" in summary
    assert "note: rank rule 'aic': no scanned rank (up to 2)" in summary
