"""`neuronmf decode` end to end on a small simulated session written as NWB."""

import numpy as np
import pytest
import xarray as xr

import neuronmf as nm
from neuronmf.cli.main import main

ARGS = ["--rank", "2", "--cv", "3", "--null", "2"]


@pytest.fixture(scope="module")
def nwb_session(tmp_path_factory):
    sim = nm.datasets.simulate_assemblies(
        n_neurons=16, n_assemblies=2, n_bins=900, seed=0
    )
    path = tmp_path_factory.mktemp("dec") / "session.nwb"
    sim.to_nwb(path)
    return sim, path


def test_decode_command_nwb(nwb_session, tmp_path, capsys):
    sim, src = nwb_session
    out = tmp_path / "out"
    args = ["--bin-width", "0.025", "--behavior", "behavior", "--out", str(out)]
    code = main(["decode", str(src), *args, *ARGS])
    assert code == 0, capsys.readouterr().err
    ds = nm.io.load_result(out / "decoding.nc")
    assert ds.scores.sizes["fold"] == 3 and ds.attrs["metric"] == "r2"
    assert ds.attrs["score"] > 0.3
    np.testing.assert_allclose(ds.behavior.values, sim.behavior.values)
    # the NWB output holds the predictions; the behaviour loader reads them back
    pred = nm.io.load_behavior(out / "decoding.nwb", series="predicted")
    np.testing.assert_allclose(pred.values, ds.predictions.values)
    # ... and load_result reads the whole result, as the NetCDF file holds it
    xr.testing.assert_identical(nm.io.load_result(out / "decoding.nwb"), ds)
    assert (out / "predictions.png").stat().st_size > 1000
    assert (out / "rank_scores.png").exists()
    summary = (out / "summary.txt").read_text()
    assert "r2:" in summary and "not causation" in summary
    assert "not causation" in capsys.readouterr().out


def test_decode_command_netcdf(tmp_path, capsys):
    sim = nm.datasets.simulate_assemblies(n_neurons=12, n_assemblies=2, n_bins=600)
    ds = xr.Dataset({"counts": sim.data, "speed": sim.behavior})
    src = tmp_path / "session.nc"
    nm.io.save_netcdf(ds, src)
    out = tmp_path / "o"
    args = ["--behavior", "speed", "--features", "raw", "--out", str(out)]
    assert main(["decode", str(src), *args, *ARGS]) == 0, capsys.readouterr().err
    assert not (out / "rank_scores.png").exists()
    assert nm.io.load_result(out / "decoding.nc").attrs["features"] == "raw"


def test_decode_command_bad_input_exit_3(nwb_session, tmp_path, capsys):
    sim, src = nwb_session
    ds = xr.Dataset({"counts": sim.data, "speed": ("time", np.zeros(900))})
    nc = tmp_path / "session.nc"
    nm.io.save_netcdf(ds, nc)
    assert main(["decode", str(nc), "--behavior", "speed", "--out", str(tmp_path)]) == 3
    assert "non-constant" in capsys.readouterr().err
    assert main(["decode", str(nc), "--behavior", "nope"]) == 3
    args = ["--bin-width", "0.025", "--behavior", "nope", "--out", str(tmp_path)]
    assert main(["decode", str(src), *args]) == 3
    assert "nope" in capsys.readouterr().err


# --------------------------------------------------------------- epochs (issue 20)
@pytest.fixture(scope="module")
def track_nc(tmp_path_factory):
    """Counts and position (time,) of a run session followed by rest, as NetCDF."""
    rng = np.random.default_rng(0)
    n_run, n_rest, m, dt = 900, 600, 16, 0.05
    phase = np.cumsum(np.abs(rng.normal(1.0, 0.6, n_run))) / 60.0 * np.pi
    pos = np.r_[50 - 45 * np.cos(phase), np.full(n_rest, 50 - 45 * np.cos(phase[-1]))]
    rate = 12 * np.exp(-((pos[:, None] - np.linspace(0, 100, m)) ** 2) / 98) + 0.5
    t = np.arange(pos.size) * dt
    ds = xr.Dataset(
        {
            "counts": (("time", "neuron"), rng.poisson(rate * dt * 4).astype(float)),
            "x": ("time", pos),
        },
        coords={"time": t},
    )
    path = tmp_path_factory.mktemp("track") / "track.nc"
    nm.io.save_netcdf(ds, path)
    return path, n_run


FAST = ["--features", "raw", "--cv", "5", "--null", "2"]


def test_decode_rest_blocks_undefined_then_min_speed(track_nc, tmp_path, capsys):
    src, n_run = track_nc
    out = tmp_path / "plain"
    with pytest.warns(UserWarning, match="fold 4"):
        code = main(["decode", str(src), "--behavior", "x", "--out", str(out), *FAST])
    assert code == 0, capsys.readouterr().err
    summary = (out / "summary.txt").read_text()
    assert "mean of 3 of 5 blocked folds" in summary and "nan" in summary
    assert "fold(s) 3,4 undefined, left out" in summary
    ds = nm.io.load_result(out / "decoding.nc")
    assert np.isnan(ds.scores.values[3:]).all()
    # --min-speed: only running bins, every fold defined
    out = tmp_path / "run"
    args = ["--behavior", "x", "--min-speed", "5", "--out", str(out), *FAST]
    assert main(["decode", str(src), *args]) == 0, capsys.readouterr().err
    ds = nm.io.load_result(out / "decoding.nc")
    assert np.isfinite(ds.scores.values).all() and ds.attrs["score"] > 0.5
    assert ds.attrs["n_scored"] <= n_run + 10
    assert "speed >= 5 behaviour units/s" in (out / "summary.txt").read_text()


def test_decode_epochs_csv_npy_and_bad(track_nc, tmp_path, capsys):
    src, _n_run = track_nc
    csv = tmp_path / "run.csv"
    csv.write_text("start,stop\n0,20\n22.5,44\n")
    out = tmp_path / "ep"
    args = ["--behavior", "x", "--epochs", str(csv), "--out", str(out), *FAST]
    assert main(["decode", str(src), *args]) == 0, capsys.readouterr().err
    ds = nm.io.load_result(out / "decoding.nc")
    t = ds.behavior.time.values
    assert ds.attrs["n_scored"] == int(
        nm.decoding.in_epochs(t, [[0, 20], [22.5, 44]]).sum()
    )
    assert np.isnan(ds.predictions.values[(t >= 20) & (t < 22.5)]).all()
    npy = tmp_path / "run.npy"
    np.save(npy, np.array([[0.0, 44.0]]))
    out = tmp_path / "ep2"
    args = ["--behavior", "x", "--epochs", str(npy), "--out", str(out), *FAST]
    assert main(["decode", str(src), *args]) == 0, capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("10,5\n")
    args = ["--behavior", "x", "--epochs", str(bad), "--out", str(tmp_path / "b")]
    assert main(["decode", str(src), *args, *FAST]) == 3
    assert "--epochs must be finite (start, stop) pairs" in capsys.readouterr().err


def test_decode_model_bayes_cli(track_nc, tmp_path, capsys):
    pytest.importorskip("neuronmf.decoding.bayes")
    src, _ = track_nc
    out = tmp_path / "bayes"
    args = ["--behavior", "x", "--min-speed", "5", "--model", "bayes"]
    assert main(["decode", str(src), *args, "--out", str(out), *FAST]) == 0, (
        capsys.readouterr().err
    )
    ds = nm.io.load_result(out / "decoding.nc")
    assert ds.attrs["model"] == "bayes" and ds.attrs["score"] > 0.5
    assert np.isfinite(ds.median_errors.values).all()
    assert "median position error" in (out / "summary.txt").read_text()


def test_decode_epochs_from_nwb_interval_table(track_nc, tmp_path, capsys):
    from datetime import UTC, datetime

    import pynwb

    src, _ = track_nc
    nwbfile = pynwb.NWBFile(
        session_description="epochs",
        identifier="ep",
        session_start_time=datetime(2026, 1, 1, tzinfo=UTC),
    )
    nwbfile.add_epoch(start_time=0.0, stop_time=20.0)
    nwbfile.add_epoch(start_time=22.5, stop_time=44.0)
    path = tmp_path / "epochs.nwb"
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    out = tmp_path / "nwb_ep"
    args = ["--behavior", "x", "--epochs", str(path), "--out", str(out), *FAST]
    assert main(["decode", str(src), *args]) == 0, capsys.readouterr().err
    ds = nm.io.load_result(out / "decoding.nc")
    t = ds.behavior.time.values
    assert ds.attrs["n_scored"] == int(
        nm.decoding.in_epochs(t, [[0, 20], [22.5, 44]]).sum()
    )
    args = ["--behavior", "x", "--epochs", str(path), "--epochs-table", "trials"]
    assert main(["decode", str(src), *args, "--out", str(tmp_path / "x")]) == 3
    assert "--epochs-table must be one of" in capsys.readouterr().err


def test_decode_min_speed_and_epochs_together(track_nc, tmp_path, capsys):
    """--min-speed (on the behaviour's 60 Hz clock) and --epochs (on the bins).

    The CLI used to align the two masks by hand; it now passes both to
    ``decode(where=[...])``. The scored bins and the scores are those of the
    former hand-made mask (nearest behaviour sample to each bin, AND).
    """
    src, _ = track_nc
    X = nm.io.load_result(src)["counts"]
    tx = X.time.values
    t60 = np.arange(0, tx[-1] + 0.02, 1 / 60)
    x60 = nm.io.load_result(src)["x"].interp(time=t60)
    beh = tmp_path / "beh60.nc"
    nm.io.save_netcdf(xr.Dataset({"x": x60}), beh)
    csv = tmp_path / "ep.csv"
    csv.write_text("start,stop\n2,30\n33,60\n")
    out = tmp_path / "both"
    args = ["--behavior", "x", "--behavior-file", str(beh), "--min-speed", "5"]
    args += ["--epochs", str(csv), "--out", str(out), *FAST]
    assert main(["decode", str(src), *args]) == 0, capsys.readouterr().err
    # the former CLI's mask, built here the way it was built there
    run = nm.decoding.min_speed(x60, 5.0)
    pos = np.clip(np.searchsorted(t60, tx), 1, t60.size - 1)
    near = np.where(np.abs(t60[pos - 1] - tx) <= np.abs(t60[pos] - tx), pos - 1, pos)
    inside = nm.decoding.in_epochs(tx, [[2, 30], [33, 60]])
    expected = run.values[near] & inside
    assert 0 < expected.sum() < min(inside.sum(), run.values[near].sum())
    ds = nm.io.load_result(out / "decoding.nc")
    np.testing.assert_array_equal(ds.scored.values.astype(bool), expected)
    assert ds.attrs["where_kept"] == f"{run.values[near].sum()},{inside.sum()}"
    assert ds.attrs["where_intersection"] == expected.sum()
    with pytest.warns(UserWarning, match="different time base"):
        ref = nm.decoding.decode(
            X, x60, where=expected, features="raw", cv=5, n_null=2, seed=0
        )
    np.testing.assert_array_equal(ds.scores.values, ref.scores.values)
    np.testing.assert_array_equal(ds.null_scores.values, ref.null_scores.values)
    summary = (out / "summary.txt").read_text()
    pct = f"{100 * float(run.mean()):.0f}"
    assert (
        f"scored bins: {expected.sum()} of {tx.size} (speed >= 5 behaviour units/s "
        f"({pct} % of behaviour samples) and inside the epochs of {csv})"
    ) in summary


# ------------------------------------------- the readers are io's (issue 22, item 7)
def test_decode_readers_call_io_and_name_the_flags(nwb_session, tmp_path):
    import argparse

    from neuronmf.cli.decode import _behavior, _epochs
    from neuronmf.errors import InputError

    _, src = nwb_session
    args = argparse.Namespace(behavior="nope", behavior_file=None, axis=None)
    with pytest.raises(InputError, match="--behavior nope must be") as err:
        _behavior(args, src)
    assert "--series" not in str(err.value)  # was: "--series nope" for NWB files
    csv = tmp_path / "run.csv"
    csv.write_text("start,stop\n0,20\n22.5,44\n")
    assert _epochs(csv, None).tolist() == nm.io.load_intervals(csv).values.tolist()
    empty = tmp_path / "none.csv"
    empty.write_text("start,stop\n")
    with pytest.raises(InputError, match="--epochs must be a file with at least one"):
        _epochs(empty, None)
    with pytest.raises(InputError, match="--epochs-table must be one of"):
        _epochs(src, "trials")
