"""`neuronmf segment` end to end on a small simulated movie written as NWB."""

from __future__ import annotations

import numpy as np
import pytest

import neuronmf as nm
from neuronmf.cli.main import build_parser, main


@pytest.fixture(scope="module")
def nwb_movie(tmp_path_factory):
    sim = nm.datasets.simulate_movie((48, 48), 150, 8, 4.0, seed=3)
    path = tmp_path_factory.mktemp("seg") / "movie.nwb"
    sim.to_nwb(path)
    return sim, path


def test_segment_command_nwb(nwb_movie, tmp_path, capsys):
    sim, src = nwb_movie
    out = tmp_path / "out"
    code = main(
        [
            "segment",
            str(src),
            "--series",
            "TwoPhotonSeries",
            "--radius",
            "4",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    seg = nm.io.load_result(out / "segmentation.nc")
    assert seg.footprints.dims == ("neuron", "y", "x")
    assert seg.attrs["input_file"] == str(src)
    s = nm.imaging.score(seg, sim.truth)
    assert s["recall"] >= 0.85 and s["precision"] >= 0.8, s
    back = nm.io.load_result(out / "segmentation.nwb")
    assert back.sizes["neuron"] == seg.sizes["neuron"]
    np.testing.assert_allclose(
        back.footprints.values, seg.footprints.values, rtol=1e-5, atol=1e-6
    )
    for png in ("contours.png", "traces.png", "footprints.png"):
        assert (out / png).stat().st_size > 1000
    summary = (out / "summary.txt").read_text()
    assert f"neurons kept: {seg.sizes['neuron']}" in summary
    assert "150 frames of 48 x 48 px" in summary
    err = capsys.readouterr().err
    assert "segment: 100%" in err and "1/1" in err  # the progress bar


def test_segment_command_npy_and_tiff(tmp_path, capsys):
    import tifffile

    sim = nm.datasets.simulate_movie((40, 40), 100, 4, 3.0, seed=2)
    tif = tmp_path / "movie.tif"
    tifffile.imwrite(tif, sim.data.values, photometric="minisblack")
    out = tmp_path / "tif"
    args = ["--radius", "3", "--rate", "10", "--no-progress", "--out", str(out)]
    code = main(["segment", str(tif), *args])
    assert code == 0, capsys.readouterr().err
    seg = nm.io.load_result(out / "segmentation.nc")
    assert nm.imaging.score(seg, sim.truth)["f1"] >= 0.8
    assert "rate 10.0 Hz" in (out / "summary.txt").read_text()
    assert "(0 out of core)" in (out / "summary.txt").read_text()


def test_segment_command_patch_memory_streams_patches(tmp_path, capsys):
    sim = nm.datasets.simulate_movie((40, 40), 100, 4, 3.0, seed=2)
    src = tmp_path / "movie.npy"
    np.save(src, sim.data.values)
    out = tmp_path / "ooc"
    args = ["--radius", "3", "--rate", "10", "--no-progress", "--out", str(out)]
    # 0.1 MB is below the 40 x 40 x 100 x 4 B = 0.64 MB patch: streamed
    code = main(["segment", str(src), *args, "--patch-memory", "0.1"])
    assert code == 0, capsys.readouterr().err
    seg = nm.io.load_result(out / "segmentation.nc")
    assert seg.attrs["n_patches_out_of_core"] == seg.attrs["n_patches"] >= 1
    assert "(1 out of core)" in (out / "summary.txt").read_text()
    assert nm.imaging.score(seg, sim.truth)["f1"] >= 0.8


def test_segment_bad_input_exit_code(tmp_path, capsys):
    src = tmp_path / "movie.npy"
    np.save(src, np.ones((1, 32, 32), np.float32))
    assert main(["segment", str(src), "--out", str(tmp_path / "o")]) == 3
    assert "at least 2 frames" in capsys.readouterr().err
    assert main(["segment", str(tmp_path / "missing.tif")]) == 3
    sim = nm.datasets.simulate_movie((32, 32), 20, 2, 3.0, seed=0)
    nwb = tmp_path / "m.nwb"
    sim.to_nwb(nwb)
    assert main(["segment", str(nwb), "--series", "Nope", "--out", str(tmp_path)]) == 3
    assert "Nope" in capsys.readouterr().err


def test_segment_help_has_example():
    sub = build_parser()._subparsers._group_actions[0].choices["segment"]
    assert "neuronmf segment" in sub.epilog and "--series" in sub.epilog
