"""`neuronmf segment` end to end on a small simulated movie."""

from __future__ import annotations

import numpy as np
import xarray as xr

from neuronmf.cli.main import build_parser, main
from neuronmf.imaging._simulate import simulate_movie


def test_segment_command(tmp_path, capsys):
    sim = simulate_movie((48, 48), 150, 8, 4.0, seed=3)
    src = tmp_path / "movie.npy"
    np.save(src, sim.data.values)
    out = tmp_path / "out"
    code = main(["segment", str(src), "--radius", "4", "--out", str(out)])
    assert code == 0
    seg = xr.load_dataset(out / "segmentation.nc")
    assert seg.sizes["neuron"] >= 6
    assert (out / "contours.png").stat().st_size > 1000
    err = capsys.readouterr().err
    assert "patch 1/1" in err


def test_segment_bad_input_exit_code(tmp_path, capsys):
    src = tmp_path / "movie.npy"
    np.save(src, np.ones((1, 32, 32), np.float32))
    assert main(["segment", str(src), "--out", str(tmp_path / "o")]) == 3
    assert "at least 2 frames" in capsys.readouterr().err
    assert main(["segment", str(tmp_path / "missing.tif")]) == 3


def test_segment_help_has_example():
    sub = build_parser()._subparsers._group_actions[0].choices["segment"]
    assert "neuronmf segment" in sub.epilog
