"""Result writers: NetCDF and NWB round trips, safe appends, atomic output."""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from neuronmf.errors import InputError
from neuronmf.io import load_result, save_netcdf, save_nwb


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def segmentation_result(n=4, ny=12, nx=10, T=30, seed=0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    return xr.Dataset(
        {
            "footprints": (("neuron", "y", "x"), rng.random((n, ny, nx), np.float32)),
            "traces": (("neuron", "time"), rng.random((n, T))),
            "dff": (("neuron", "time"), rng.random((n, T))),
            "snr": ("neuron", rng.random(n)),
            "origin": ("neuron", np.array(["activity", "anatomy"] * n)[:n]),
            "area": ("neuron", rng.integers(5, 50, n)),
            "centroid": (("neuron", "axis"), rng.random((n, 2))),
            "baseline": (("y", "x"), rng.random((ny, nx))),
            "rejected_reason": ("rejected", np.array(["small", "edge"])),
            "ok": ("neuron", rng.random(n) > 0.5),
        },
        coords={
            "neuron": np.arange(n),
            "y": np.arange(ny),
            "x": np.arange(nx),
            "time": np.arange(T) / 10.0,
            "axis": ["y", "x"],
            "rejected": np.arange(2),
        },
        attrs={
            "neuronmf_version": "0.1.0",
            "neuron_radius": 4.0,
            "n_patches": 1,
            "refine": True,
            "penalties": {"l1_W": 0.1, "graph": None},
            "ranks": [1, 2, 3],
            "seed": None,
            "source": "movie.tif",
        },
    )


def synergy_result(seed=0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    muscles = ["TA", "SO", "GM", "GL", "VL", "RF"]
    return xr.Dataset(
        {
            "synergies": (("muscle", "synergy"), rng.random((6, 3))),
            "activations": (("synergy", "time"), rng.random((3, 200))),
        },
        coords={
            "muscle": muscles,
            "synergy": np.arange(3),
            "time": 0.5 + np.arange(200) / 100.0,
        },
        attrs={"loss": "frobenius", "rank": 3, "vaf": 0.93, "converged": True},
    )


def assembly_result(seed=0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    return xr.Dataset(
        {
            "membership": (("neuron", "assembly"), rng.random((10, 2))),
            "activations": (("assembly", "time"), rng.random((2, 80))),
            "significant": ("assembly", np.array([True, False])),
            "p_value": ("assembly", np.array([0.01, 0.4])),
        },
        coords={
            "neuron": np.arange(10) + 100,
            "assembly": np.arange(2),
            "time": (np.arange(80) + 0.5) * 0.025,
        },
        attrs={"method": "nmf", "rank": 2, "seed": -1},
    )


@functools.cache
def _decoding_dataset() -> xr.Dataset:
    import neuronmf as nm

    sim = nm.datasets.simulate_assemblies(n_neurons=20, n_assemblies=2, n_bins=900)
    res = nm.decoding.decode(
        sim.data, sim.behavior, rank=2, lags=3, cv=3, inner_cv=2, n_null=2
    )
    return res.to_dataset()


def decoding_result() -> xr.Dataset:
    """A real (small) nm.decoding.decode result, computed once per session."""
    return _decoding_dataset().copy(deep=True)


# ----------------------------------------------------------------------- NetCDF
@pytest.mark.parametrize(
    "make", [segmentation_result, synergy_result, assembly_result, decoding_result]
)
def test_netcdf_round_trip_is_identical(tmp_path, make):
    ds = make()
    p = save_netcdf(ds, tmp_path / "res.nc")
    back = load_result(p)
    xr.testing.assert_identical(back, ds)
    assert back.attrs == ds.attrs
    for k in ds.variables:
        assert back[k].dtype == ds[k].dtype, k
    assert [p.name for p in tmp_path.iterdir()] == ["res.nc"]  # no temp left


def test_netcdf_round_trip_dataarray(tmp_path):
    da = xr.DataArray(
        np.arange(6.0).reshape(3, 2),
        dims=("time", "channel"),
        coords={"time": [0.0, 0.001, 0.002], "channel": ["TA", "SO"]},
        name="emg",
        attrs={"rate": 1000.0, "units": "V", "filtered": False},
    )
    back = load_result(save_netcdf(da, tmp_path / "emg.nc"))
    xr.testing.assert_identical(back, da)


def test_netcdf_write_is_atomic(tmp_path, monkeypatch):
    p = tmp_path / "res.nc"
    save_netcdf(synergy_result(0), p)
    before = sha256(p)

    real_write = os.write

    def crash(fd, data):
        real_write(fd, bytes(data)[: len(data) // 2])  # a partial write, then a crash
        raise OSError("disk full")

    monkeypatch.setattr(os, "write", crash)
    with pytest.raises(OSError, match="disk full"):
        save_netcdf(synergy_result(1), p)
    assert sha256(p) == before
    assert sorted(q.name for q in tmp_path.iterdir()) == ["res.nc"]


def test_netcdf_is_compressed_losslessly(tmp_path):
    # issue 21, 11(c): dense uncompressed footprints made segmentation.nc 429 MB
    # (4x the movie) where the NWB was 4.5 MB
    rng = np.random.default_rng(0)
    n, ny, nx = 100, 128, 128
    footprints = np.zeros((n, ny, nx), np.float32)
    for i in range(n):  # a 9 x 9 blob per neuron, like real footprints
        y, x = rng.integers(0, ny - 9), rng.integers(0, nx - 9)
        footprints[i, y : y + 9, x : x + 9] = rng.random((9, 9), np.float32)
    ds = segmentation_result(n=n, ny=ny, nx=nx, T=200).assign(
        footprints=(("neuron", "y", "x"), footprints)
    )
    p = save_netcdf(ds, tmp_path / "seg.nc")
    assert p.stat().st_size < 0.1 * footprints.nbytes  # 6.5 MB dense
    back = load_result(p)
    xr.testing.assert_identical(back, ds)
    assert back["footprints"].dtype == np.float32
    np.testing.assert_array_equal(back["footprints"].values, footprints)


def test_load_result_bad_inputs(tmp_path):
    with pytest.raises(InputError, match="existing file"):
        load_result(tmp_path / "missing.nc")
    bad = tmp_path / "bad.nc"
    bad.write_text("not a netcdf file")
    with pytest.raises(InputError, match=r"bad\.nc"):
        load_result(bad)
    with pytest.raises(InputError, match=r"xarray\.Dataset"):
        save_netcdf(np.zeros(3), tmp_path / "x.nc")


# -------------------------------------------------------------------------- NWB
def test_nwb_segmentation_round_trip(tmp_path):
    ds = segmentation_result()
    p = save_nwb(ds, tmp_path / "seg.nwb", source="movie.tif")
    back = load_result(p)
    np.testing.assert_array_equal(back["footprints"].values, ds["footprints"].values)
    assert back["footprints"].dims == ("neuron", "y", "x")
    assert back["footprints"].dtype == np.float32
    np.testing.assert_array_equal(back["traces"].values, ds["traces"].values)
    np.testing.assert_array_equal(back["dff"].values, ds["dff"].values)
    np.testing.assert_array_equal(back["baseline"].values, ds["baseline"].values)
    np.testing.assert_array_equal(back["snr"].values, ds["snr"].values)
    np.testing.assert_array_equal(back["origin"].values, ds["origin"].values)
    np.testing.assert_allclose(back["time"].values, ds["time"].values, atol=1e-12)
    assert back.attrs == ds.attrs


def test_nwb_segmentation_with_no_neurons_round_trips(tmp_path):
    # a movie where nothing passes the quality thresholds is a valid result
    ds = segmentation_result().isel(neuron=slice(0, 0))
    p = save_nwb(ds, tmp_path / "empty.nwb")
    back = load_result(p)
    assert back.sizes["neuron"] == 0
    assert back["footprints"].shape == (0, *ds["footprints"].shape[1:])
    assert back["traces"].shape == (0, ds.sizes["time"])
    np.testing.assert_array_equal(back["baseline"].values, ds["baseline"].values)


def test_nwb_segmentation_layout_follows_nwb_axis_order(tmp_path):
    import pynwb

    ds = segmentation_result(ny=12, nx=10)
    save_nwb(ds, tmp_path / "seg.nwb")
    with pynwb.NWBHDF5IO(str(tmp_path / "seg.nwb"), "r") as io:
        nwb = io.read()
        ps = nwb.processing["ophys"]["ImageSegmentation"]["PlaneSegmentation"]
        masks = ps["image_mask"][:]
        assert masks.shape == (4, 10, 12)  # (roi, x, y)
        np.testing.assert_array_equal(
            masks, ds["footprints"].transpose("neuron", "x", "y").values
        )
        rrs = nwb.processing["ophys"]["Fluorescence"]["PlaneSegmentation"]
        assert rrs.data.shape == (30, 4) and rrs.rate == pytest.approx(10.0)
        assert "neuronmf" in ps.description


@pytest.mark.parametrize("make", [synergy_result, assembly_result])
def test_nwb_factor_round_trip(tmp_path, make):
    ds = make()
    back = load_result(save_nwb(ds, tmp_path / "res.nwb"))
    for var in ds.data_vars:
        if ds[var].dims[-1] == "time" or var in ("synergies", "membership"):
            np.testing.assert_array_equal(back[var].values, ds[var].values)
            assert back[var].dims == ds[var].dims
    for dim in ds[next(iter(ds.data_vars))].dims:
        np.testing.assert_array_equal(back[dim].values, ds[dim].values)
    np.testing.assert_allclose(back["time"].values, ds["time"].values, atol=1e-12)
    assert back.attrs == ds.attrs


def test_nwb_decoding_round_trip_is_identical(tmp_path):
    import pynwb

    ds = decoding_result()
    assert np.isnan(ds["predictions"].values).any()  # NaN outside the test blocks
    assert ds["test_fold"].dims == ("time",)  # per-bin fold of the predictions
    p = save_nwb(ds, tmp_path / "dec.nwb", source="session.nwb")
    back = load_result(p)
    xr.testing.assert_identical(back, ds)
    for k in ds.variables:
        assert back[k].dtype == ds[k].dtype, k
    assert back.attrs == ds.attrs
    with pynwb.NWBHDF5IO(str(p), "r") as io:
        module = io.read().processing["decoding"]
        assert "not causation" in module.description
        assert '"source": "session.nwb"' in module.description
        pred = module["DecodedBehavior"]["predicted"]
        np.testing.assert_array_equal(pred.timestamps[:], ds["time"].values)
        np.testing.assert_array_equal(
            module["DecodedBehavior"]["observed"].data[:], ds["behavior"].values
        )
        folds = module["folds"]
        np.testing.assert_array_equal(folds["scores"][:], ds["scores"])
        np.testing.assert_array_equal(folds["rank_scores"][:], ds["rank_scores"])
        null = module["null"]["null_scores"][:]
        np.testing.assert_array_equal(null, ds["null_scores"])


def test_nwb_decoding_without_null_round_trips(tmp_path):
    ds = decoding_result().isel(null=slice(0, 0))
    ds.attrs["p_value"] = float("nan")
    back = load_result(save_nwb(ds, tmp_path / "dec.nwb"))
    xr.testing.assert_identical(back, ds)
    assert back["null_scores"].shape == (0,) and np.isnan(back.attrs["p_value"])


def test_nwb_decoding_appends_without_touching_existing(tmp_path):
    import pynwb

    p = tmp_path / "session.nwb"
    save_nwb(synergy_result(), p)
    first = load_result(p)
    with pynwb.NWBHDF5IO(str(p), "r") as io:
        description = io.read().processing["synergies"].description
    ds = decoding_result()
    save_nwb(ds, p)
    save_nwb(ds, p)  # a second decoding module is suffixed, not replaced
    with pynwb.NWBHDF5IO(str(p), "r") as io:
        nwb = io.read()
        assert set(nwb.processing) == {"synergies", "decoding", "decoding_2"}
        assert nwb.processing["synergies"].description == description
    xr.testing.assert_identical(load_result(p, name="synergies"), first)
    xr.testing.assert_identical(load_result(p, name="decoding"), ds)
    xr.testing.assert_identical(load_result(p, name="decoding_2"), ds)


def test_nwb_irregular_time_uses_timestamps(tmp_path):
    ds = synergy_result()
    t = np.sort(np.random.default_rng(1).random(200)) * 10
    ds = ds.assign_coords(time=t)
    back = load_result(save_nwb(ds, tmp_path / "res.nwb"))
    np.testing.assert_array_equal(back["time"].values, t)


def test_nwb_append_adds_and_keeps_existing(tmp_path):
    p = tmp_path / "session.nwb"
    save_nwb(segmentation_result(), p)
    save_nwb(synergy_result(), p)
    save_nwb(synergy_result(1), p)  # second synergy result: name gets a suffix
    with pytest.raises(InputError, match="PlaneSegmentation"):
        load_result(p)  # several results: must choose
    seg = load_result(p, name="PlaneSegmentation")
    np.testing.assert_array_equal(
        seg["footprints"].values, segmentation_result()["footprints"].values
    )
    s2 = load_result(p, name="synergies_2")
    np.testing.assert_array_equal(
        s2["synergies"].values, synergy_result(1)["synergies"].values
    )
    with pytest.raises(InputError, match="not yet used"):
        save_nwb(synergy_result(), p, name="synergies")


def test_failed_append_leaves_original_intact(tmp_path, monkeypatch):
    import pynwb

    p = tmp_path / "session.nwb"
    save_nwb(segmentation_result(), p)
    before = sha256(p)
    real_write = pynwb.NWBHDF5IO.write

    def write_then_crash(self, *args, **kwargs):
        real_write(self, *args, **kwargs)  # the copy is modified ...
        raise RuntimeError("power cut mid-write")  # ... and then the write dies

    monkeypatch.setattr(pynwb.NWBHDF5IO, "write", write_then_crash)
    with pytest.raises(RuntimeError, match="power cut"):
        save_nwb(synergy_result(), p)
    monkeypatch.undo()
    assert sha256(p) == before
    assert sorted(q.name for q in tmp_path.iterdir()) == ["session.nwb"]
    back = load_result(p)  # still one readable result
    np.testing.assert_array_equal(
        back["traces"].values, segmentation_result()["traces"].values
    )


def test_failed_new_nwb_write_leaves_nothing(tmp_path, monkeypatch):
    import pynwb

    def crash(self, *args, **kwargs):
        raise RuntimeError("crash")

    monkeypatch.setattr(pynwb.NWBHDF5IO, "write", crash)
    with pytest.raises(RuntimeError):
        save_nwb(synergy_result(), tmp_path / "new.nwb")
    assert list(tmp_path.iterdir()) == []


def test_save_nwb_bad_inputs(tmp_path):
    with pytest.raises(InputError, match="footprints"):
        save_nwb(xr.Dataset({"a": ("t", [1.0])}), tmp_path / "x.nwb")
    text = tmp_path / "notes.nwb"
    text.write_text("hello")
    with pytest.raises(InputError, match="not HDF5"):
        save_nwb(synergy_result(), text)
    assert text.read_text() == "hello"
    with pytest.raises(InputError, match="directory"):
        save_netcdf(synergy_result(), tmp_path / "nope" / "x.nc")


def test_append_to_real_endoscope_copy_keeps_its_content(tmp_path):
    from tests.conftest import data_dir

    src = data_dir() / "endoscope_ophys_nwb" / "nwb_test.nwb"
    if not src.is_file():
        pytest.skip("real-data mirror not found")
    import shutil

    import pynwb

    p = tmp_path / "endo.nwb"
    shutil.copy(src, p)
    original = sha256(src)
    ds = segmentation_result(n=3, ny=128, nx=128, T=250)
    save_nwb(ds, p)
    assert sha256(src) == original
    with pynwb.NWBHDF5IO(str(p), "r") as io:
        nwb = io.read()
        segs = nwb.processing["ophys"]["ImageSegmentation"].plane_segmentations
        assert set(segs) == {"PlaneSegmentation", "PlaneSegmentation_2"}
        assert segs["PlaneSegmentation"]["image_mask"].data.shape == (15, 128, 128)
    back = load_result(p)
    np.testing.assert_array_equal(back["traces"].values, ds["traces"].values)


def _critical_findings(path):
    nwbinspector = pytest.importorskip("nwbinspector")
    from nwbinspector import Importance

    messages = list(nwbinspector.inspect_nwbfile(nwbfile_path=str(path)))
    return [m for m in messages if m.importance == Importance.CRITICAL], messages


@pytest.mark.parametrize(
    "make", [segmentation_result, synergy_result, assembly_result, decoding_result]
)
def test_written_nwb_passes_nwbinspector(tmp_path, make):
    p = save_nwb(make(), tmp_path / "res.nwb")
    critical, _ = _critical_findings(p)
    assert critical == [], [m.message for m in critical]


def test_output_not_written_elsewhere(tmp_path):
    cwd = os.getcwd()
    save_nwb(synergy_result(), tmp_path / "r.nwb")
    assert os.getcwd() == cwd


def test_real_assemblies_result_round_trips(tmp_path):
    import neuronmf as nm
    from neuronmf.datasets import simulate_assemblies

    sim = simulate_assemblies(16, 2, 400, seed=0)
    asm = nm.assemblies.detect_ica(sim.data, n_assemblies=2, seed=0)
    xr.testing.assert_identical(load_result(save_netcdf(asm, tmp_path / "a.nc")), asm)
    back = load_result(save_nwb(asm, tmp_path / "a.nwb"))
    np.testing.assert_array_equal(back["membership"].values, asm["membership"].values)
    np.testing.assert_array_equal(back["activations"].values, asm["activations"].values)
    np.testing.assert_array_equal(back["neuron"].values, asm["neuron"].values)


# ---------------------------------------------------------------- file modes (umask)
@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600)])
def test_every_output_respects_the_umask(tmp_path, umask, mask, expected):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neuronmf.cli._common import save_figure, write_results
    from neuronmf.io._atomic import atomic_path, current_umask

    umask(mask)
    assert current_umask() == mask
    res = synergy_result()
    written = [
        save_netcdf(res, tmp_path / "r.nc"),
        save_nwb(res, tmp_path / "r.nwb"),
        save_figure(plt.subplots()[0], tmp_path / "fig.png"),
    ]
    plain = xr.Dataset({"v": ("x", np.arange(3.0))})
    write_results(plain, tmp_path, "cli", nwb=False)  # every command's NetCDF
    written.append(tmp_path / "cli.nc")
    with atomic_path(tmp_path / "plain.txt") as tmp:
        tmp.write_text("x")
    written.append(tmp_path / "plain.txt")
    assert {p.name: oct(_mode(p)) for p in written} == {
        p.name: oct(expected) for p in written
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in written
    )  # no temporary file left behind


def test_append_keeps_the_existing_files_mode(tmp_path, umask):
    p = save_nwb(synergy_result(), tmp_path / "r.nwb")
    os.chmod(p, 0o640)
    umask(0o077)
    save_nwb(assembly_result(), p)
    assert _mode(p) == 0o640
