"""`neuronmf imaging` end to end: register -> segment -> traces -> spikes."""

from __future__ import annotations

import os

import numpy as np
import pytest

import neuronmf as nm
from neuronmf.cli.main import build_parser, main


@pytest.fixture(scope="module")
def moving(tmp_path_factory):
    sim = nm.datasets.simulate_movie((48, 48), 100, 8, 4.0, seed=3, motion={"rigid": 3})
    path = tmp_path_factory.mktemp("imaging") / "movie.npy"
    np.save(path, sim.data.values)
    return sim, path


@pytest.fixture(scope="module")
def run(moving, tmp_path_factory):
    _, src = moving
    out = tmp_path_factory.mktemp("imaging_out") / "run1"
    argv = ["imaging", str(src), "--rate", "10", "--radius", "4", "--out", str(out)]
    code = main(argv)
    return code, out


def test_imaging_writes_every_step(moving, run, capfd):
    sim, src = moving
    code, out = run
    assert code == 0
    for name in (
        "imaging.nwb",
        "registration.nc",
        "segmentation.nc",
        "registered.h5",
        "summary.txt",
    ):
        assert (out / name).stat().st_size > 0, name
    for png in ("registration.png", "contours.png", "traces.png", "spikes.png"):
        assert (out / png).stat().st_size > 1000, png
    seg = nm.io.load_result(out / "segmentation.nc")
    assert {"dff", "spikes"} <= set(seg.data_vars)
    assert seg.attrs["input_file"] == str(src)
    reg = nm.io.load_result(out / "registration.nc")
    assert reg.sizes["time"] == len(sim.data)
    # the registered frames are closer to the template than the raw ones
    assert float(reg.correlation.median()) > float(reg.correlation_before.median())


def test_imaging_nwb_has_every_step(run):
    import pynwb

    _, out = run
    with pynwb.NWBHDF5IO(str(out / "imaging.nwb"), "r") as io:
        f = io.read()
        names = {
            name: type(obj).__name__
            for module in f.processing.values()
            for name, obj in module.data_interfaces.items()
        }
        assert names.get("MotionCorrection") == "MotionCorrection"
        seg = f.processing["ophys"]["ImageSegmentation"]
        assert "PlaneSegmentation" in seg.plane_segmentations
        n = len(seg["PlaneSegmentation"])
        assert n == nm.io.load_result(out / "segmentation.nc").sizes["neuron"] > 0
        fl = f.processing["ophys"]["Fluorescence"]
        dff = f.processing["ophys"]["DfOverF"]
        assert "PlaneSegmentation" in dff.roi_response_series
        series = dff["PlaneSegmentation"]
        assert series.data.shape == (100, n)
        assert any("Deconvolved" in k for k in fl.roi_response_series)


def test_imaging_summary_and_progress(run, capfd):
    _, out = run
    lines = (out / "summary.txt").read_text().splitlines()
    assert lines[0] == "neuronmf imaging"
    assert "100 frames of 48 x 48 px" in lines[1]
    assert lines[2].startswith("registration: rigid; rigid shift median")
    assert lines[3].startswith("segmentation: ") and "neurons kept" in lines[3]
    # registration moved the frames: only the region every frame covers is segmented
    assert lines[4].startswith("segmented region: y ")
    assert lines[5].startswith("traces: neuropil fixed")
    assert lines[6].startswith("spikes (ar1): median")
    assert lines[-1].startswith("files: ") and "imaging.nwb" in lines[-1]


def test_imaging_runs_on_one_blas_thread_unless_the_user_chose(monkeypatch):
    from threadpoolctl import threadpool_info

    from neuronmf._threads import one_thread_unless_user_set as _one_thread

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NEURONMF_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("neuronmf._threads._default_threads", lambda: 2)
    before = [p["num_threads"] for p in threadpool_info()]
    with _one_thread():
        inside = threadpool_info()
        env = {k: v for k, v in os.environ.items() if "THREAD" in k}
        assert all(p["num_threads"] == 1 for p in inside), (env, inside)
    assert [p["num_threads"] for p in threadpool_info()] == before
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")  # the user's choice wins
    with _one_thread():
        assert [p["num_threads"] for p in threadpool_info()] == before


def test_imaging_summary_times_every_step(run):
    import re

    _, out = run
    line = (out / "summary.txt").read_text().splitlines()[-2]
    steps = re.findall(r"(\w+) ([\d.]+) s \(CPU ([\d.]+) s\)", line)
    assert line.startswith("time: ")
    assert [s[0] for s in steps] == [
        "registration",
        "segmentation",
        "traces",
        "writing",
        "total",
    ]
    wall = [float(s[1]) for s in steps]
    # (segmenting 48² × 100 frames can round to 0.0 s; the whole run cannot)
    assert all(w >= 0 for w in wall) and wall[-1] > 0
    assert abs(sum(wall[:-1]) - wall[-1]) < 0.5  # the total is the steps' sum


def test_imaging_progress_lines(moving, tmp_path, capsys):
    _, src = moving
    out = tmp_path / "o"
    argv = ["imaging", str(src), "--rate", "10", "--radius", "4"]
    argv += ["--registration", "none", "--neuropil", "none", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr()
    for step in ("2/3 segmentation", "3/3 traces and spikes", "writing results"):
        assert f"imaging: {step}" in text.out
    assert "imaging: segmentation took " in text.out  # each step's time
    assert "imaging: registration took" not in text.out  # registration none
    assert "segment: 100%" in text.err  # the progress bars
    assert "registration: none" in (out / "summary.txt").read_text()
    assert not (out / "registration.nc").exists()


@pytest.mark.parametrize(
    "extra",
    [
        ["--radius", "0"],
        ["--radius", "nan"],
        ["--jobs", "0"],
        ["--rate", "-1"],
        ["--neuropil-coefficient", "3"],
        ["--neuropil-coefficient", "nan"],
    ],
)
def test_imaging_bad_options_exit_3_before_any_work(moving, tmp_path, capsys, extra):
    _, src = moving
    out = tmp_path / "never"
    assert main(["imaging", str(src), *extra, "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert extra[0] in err and "must be" in err
    assert not out.exists()  # nothing written, no folder made


def test_imaging_bad_movie_exit_3(tmp_path, capsys):
    missing = tmp_path / "missing.tif"
    assert main(["imaging", str(missing), "--out", str(tmp_path / "o")]) == 3
    one = tmp_path / "one.npy"
    np.save(one, np.ones((1, 32, 32), np.float32))
    assert main(["imaging", str(one), "--out", str(tmp_path / "o2")]) == 3
    assert "at least 2 frames" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()


def test_imaging_help_has_example():
    text = build_parser()._subparsers._group_actions[0].choices["imaging"]
    assert "neuronmf imaging" in text.format_help()


def test_summary_of_traces_with_an_all_nan_neuron_does_not_warn():
    """A neuron without a positive baseline has NaN dF/F: the summary's median
    peak is over the others, without NumPy's all-NaN warning."""
    import argparse
    import warnings

    import numpy as np
    import xarray as xr

    from neuronmf.cli.imaging import _summary

    dff = np.array([[0.0, 2.0, 1.0], [np.nan] * 3, [0.0, 4.0, 0.5]])
    spikes = np.where(np.isnan(dff), np.nan, [[0, 1, 0], [0, 0, 0], [1, 1, 0]])
    seg = xr.Dataset(
        {"dff": (("neuron", "time"), dff), "spikes": (("neuron", "time"), spikes)},
        coords={"neuron": [0, 1, 2], "rejected": [], "time": [0.0, 0.1, 0.2]},
    )
    movie = xr.DataArray(np.zeros((3, 4, 4)), dims=("time", "y", "x"))
    args = argparse.Namespace(
        movie="m.tif", radius=4.0, background="low-rank", neuropil="fixed",
        neuropil_coefficient=0.5,
        registration="none", spike_model="ar1",
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lines = _summary(args, movie, None, seg)
    traces = next(x for x in lines if x.startswith("traces:"))
    assert "finite for 2 of 3" in traces and "median peak dF/F 3.00" in traces
    assert "neuropil fixed (0.5)" in traces
    # the NaN neuron has no spike train: not a 0 in the median, and no rate unit
    # for a movie without a frame rate
    spikes = next(x for x in lines if x.startswith("spikes"))
    # (1 and 2 events: 1.5, printed 2; with the NaN neuron as 0 it was 1)
    assert "median 2 events per neuron, over the 2 neurons" in spikes, spikes
    assert "/s" not in spikes


def test_neuropil_coefficient_reaches_the_traces(moving, tmp_path):
    import xarray as xr

    _, src = moving
    out = tmp_path / "o"
    argv = ["imaging", str(src), "--rate", "10", "--radius", "4", "--no-progress"]
    argv += ["--registration", "none", "--neuropil-coefficient", "0.3"]
    assert main([*argv, "--out", str(out)]) == 0
    with xr.open_dataset(out / "segmentation.nc") as seg:
        assert seg.sizes["neuron"] > 0
        np.testing.assert_allclose(seg["neuropil_coefficient"].values, 0.3)
    assert "neuropil fixed (0.3)" in (out / "summary.txt").read_text()


def test_pure_noise_movie_gives_nothing_and_says_so(tmp_path):
    """Null data end to end: white noise is not moved (registration finds no
    structure), no neuron is found, and the empty result is written, not a
    crash (traces of zero neurons raised ValueError before)."""
    import xarray as xr

    noise = np.random.default_rng(2).normal(1000, 30, (200, 64, 64))
    src = tmp_path / "noise.npy"
    np.save(src, noise.astype(np.float32))
    out = tmp_path / "out"
    argv = ["imaging", str(src), "--rate", "10", "--radius", "4", "--out", str(out)]
    with pytest.warns(RuntimeWarning, match="no structure to register to"):
        assert main(argv) == 0
    summary = (out / "summary.txt").read_text()
    assert "not applied: the movie holds no structure" in summary
    assert "0 neurons kept" in summary
    with xr.open_dataset(out / "segmentation.nc") as seg:
        assert seg.sizes["neuron"] == 0 and seg["spikes"].shape == (0, 200)
    with xr.open_dataset(out / "registration.nc") as reg:
        assert np.all(reg["shifts"].values == 0)
