"""``neuronmf demo`` end to end, and the command line's exit codes."""

import numpy as np
import pytest

from neuronmf.cli import demo
from neuronmf.cli.main import EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE, main

FIGURES = (
    "synergy_weights.png",
    "synergy_activations.png",
    "synergy_rank_curve.png",
    "segmentation_contours.png",
    "segmentation_traces.png",
    "assembly_membership.png",
    "assembly_activations.png",
    "decoding_predictions.png",
    "decoding_rank_scores.png",
)
RESULTS = (
    "synergies.nc",
    "synergies.nwb",
    "segmentation.nc",
    "segmentation.nwb",
    "assemblies.nc",
    "assemblies.nwb",
    "decoding.nc",
)


def _value(summary: str, label: str) -> str:
    line = next(x for x in summary.splitlines() if x.startswith(label + ":"))
    return line.split(":", 1)[1].split("(")[0].strip()


def test_demo_runs_every_part_and_meets_the_simulated_truth(tmp_path, capsys):
    import xarray as xr

    import neuronmf as nm

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "report.html" in printed
    for name in (*FIGURES, *RESULTS, "report.html", "summary.txt"):
        assert (out / name).stat().st_size > 0, name
    for name in ("emg.nwb", "movie.nwb", "spikes.nwb"):
        assert (out / "session" / name).stat().st_size > 0
    report = (out / "report.html").read_text()
    assert all(f"src='{name}'" in report for name in FIGURES)
    assert "✗" not in report  # every judged number met its target
    summary = (out / "summary.txt").read_text()
    assert float(_value(summary, "mean cosine to the planted synergies")) >= 0.95
    assert int(_value(summary, "automatic rank (curve-fit rule)")) == 5
    assert float(_value(summary, "F1 (IoU matching)")) >= 0.9
    r2 = float(_value(summary, "decoding R² (outer folds)"))
    null = float(summary.split("null 95th percentile ")[1].split(")")[0])
    assert r2 > null
    # results read back
    syn = nm.io.load_result(out / "synergies.nc")
    assert syn["synergies"].dims == ("muscle", "synergy")
    seg = xr.load_dataset(out / "segmentation.nc")
    assert seg["footprints"].dims == ("neuron", "y", "x")


def test_demo_real_needs_the_data_mirror(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEURONMF_DATA_DIR", str(tmp_path / "nowhere"))
    assert main(["demo", "--real", "--out", str(tmp_path / "d")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "NEURONMF_DATA_DIR must be a folder" in err[0]


def test_no_command_prints_help_and_returns_usage(capsys):
    assert main([]) == EXIT_USAGE
    assert "demo" in capsys.readouterr().out


def test_bad_input_exits_3_with_one_line(monkeypatch, capsys, tmp_path):
    import neuronmf as nm

    def bad(ctx):
        return nm.nmf(-np.ones((3, 3)), 1)

    monkeypatch.setitem(demo.STAGES, False, [bad])
    assert main(["demo", "--out", str(tmp_path / "d")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "V must be non-negative" in err[0]


def test_debug_shows_the_traceback(monkeypatch, tmp_path):
    import neuronmf as nm

    monkeypatch.setitem(demo.STAGES, False, [lambda ctx: nm.nmf(-np.ones((3, 3)), 1)])
    with pytest.raises(nm.InputError):
        main(["--debug", "demo", "--out", str(tmp_path / "d")])
