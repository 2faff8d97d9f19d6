"""Segmentations written to NWB as pixel masks, never densifying the footprints."""

from __future__ import annotations

import functools
import json
import time
import tracemalloc

import h5py
import numpy as np
import pytest
import xarray as xr

import neuronmf.io._nwb_segmentation as segmentation_io
import neuronmf.io.writers as writers
from neuronmf.io import load_result, save_nwb
from tests.io.test_writers import _critical_findings, segmentation_result

PS = "processing/ophys/ImageSegmentation/PlaneSegmentation"


@functools.cache
def _segmentation() -> xr.Dataset:
    import neuronmf as nm

    mov = nm.datasets.simulate_movie((48, 48), 200, 8, 4.0, seed=1).data
    return nm.imaging.segment(mov, neuron_radius=4.0)


def real_segmentation() -> xr.Dataset:
    """A real (small) nm.imaging.segment result, computed once per session."""
    return _segmentation().copy(deep=True)


def provenance(path, group=PS) -> dict:
    with h5py.File(path, "r") as f:
        description = f[group].attrs["description"]
    return json.loads(description.split(writers._PROV, 1)[1])


def layout(path, group=PS) -> set[str]:
    with h5py.File(path, "r") as f:
        return {"image_mask", "pixel_mask"} & set(f[group])


def assert_same_segmentation(back: xr.Dataset, ds: xr.Dataset) -> None:
    xr.testing.assert_identical(back["footprints"], ds["footprints"].compute())
    assert back["footprints"].dtype == ds["footprints"].dtype
    np.testing.assert_array_equal(back["traces"].values, ds["traces"].values)
    assert back["traces"].dims == ds["traces"].dims
    for k in ds.data_vars:
        if ds[k].dims == ("neuron",):
            np.testing.assert_array_equal(back[k].values, ds[k].values)


def test_pixel_mask_round_trip_above_threshold(tmp_path, monkeypatch):
    import pynwb

    ds = real_segmentation()
    assert ds["footprints"].dtype == np.float32 and ds.sizes["neuron"] > 0
    monkeypatch.setattr(segmentation_io, "DENSE_IMAGE_MASK_MAX_BYTES", 1)
    p = save_nwb(ds, tmp_path / "seg.nwb")
    assert layout(p) == {"pixel_mask"}
    info = provenance(p)
    assert info["mask_layout"] == "pixel_mask"
    assert info["fov_shape"] == [ds.sizes["y"], ds.sizes["x"]]
    with pynwb.NWBHDF5IO(str(p), "r") as io:
        ps = io.read().processing["ophys"]["ImageSegmentation"]["PlaneSegmentation"]
        assert "image_mask" not in ps.colnames and "pixel_mask" in ps.colnames
        # NWB order (x, y, weight): the first neuron's pixels, as pynwb reads them
        rows = np.asarray(ps["pixel_mask"][0])
        a = ds["footprints"].values[0]
        assert len(rows) == np.count_nonzero(a)
        np.testing.assert_array_equal(
            rows["weight"], a[rows["y"].astype(int), rows["x"].astype(int)]
        )
    back = load_result(p)
    assert_same_segmentation(back, ds)
    np.testing.assert_array_equal(back["dff"].values, ds["dff"].values)
    assert back.attrs == ds.attrs


def test_dask_footprints_use_pixel_mask_by_default(tmp_path):
    ds = real_segmentation()
    lazy = ds.assign(footprints=ds["footprints"].chunk({"neuron": 1}))
    p = save_nwb(lazy, tmp_path / "seg.nwb")
    assert layout(p) == {"pixel_mask"}
    assert provenance(p)["mask_layout"] == "pixel_mask"
    assert_same_segmentation(load_result(p), ds)


def test_dask_footprints_chunked_in_space_round_trip(tmp_path):
    ds = segmentation_result(n=5, ny=12, nx=10)
    ds["footprints"] = ds["footprints"].where(ds["footprints"] > 0.5, 0)
    ds["footprints"][2] = 0  # a neuron without pixels
    lazy = ds.assign(footprints=ds["footprints"].chunk({"neuron": 2, "y": 5, "x": 4}))
    p = save_nwb(lazy, tmp_path / "seg.nwb")
    assert layout(p) == {"pixel_mask"}
    assert_same_segmentation(load_result(p), ds)


def test_small_result_keeps_image_mask(tmp_path):
    ds = real_segmentation()
    p = save_nwb(ds, tmp_path / "seg.nwb")
    assert layout(p) == {"image_mask"}
    info = provenance(p)
    assert info["mask_layout"] == "image_mask"
    assert info["fov_shape"] == [ds.sizes["y"], ds.sizes["x"]]
    with h5py.File(p, "r") as f:
        masks = f[PS]["image_mask"]
        assert masks.dtype == np.float64
        np.testing.assert_array_equal(
            masks[:], ds["footprints"].transpose("neuron", "x", "y").values
        )
    assert_same_segmentation(load_result(p), ds)


def test_file_without_mask_layout_still_loads(tmp_path):
    """A file written before pixel masks existed: no mask_layout in provenance."""
    ds = segmentation_result()
    p = save_nwb(ds, tmp_path / "old.nwb")
    info = provenance(p)
    del info["mask_layout"], info["fov_shape"]
    with h5py.File(p, "r+") as f:
        description = f[PS].attrs["description"]
        head = description.split(writers._PROV, 1)[0]
        f[PS].attrs["description"] = head + writers._PROV + json.dumps(info)
    assert "mask_layout" not in provenance(p)
    back = load_result(p)
    np.testing.assert_array_equal(back["footprints"].values, ds["footprints"].values)
    assert back["footprints"].dtype == np.float32


def test_float64_footprints_are_stored_as_float32_weights(tmp_path, monkeypatch):
    ds = segmentation_result()
    ds["footprints"] = ds["footprints"].astype(np.float64) / 3
    monkeypatch.setattr(segmentation_io, "DENSE_IMAGE_MASK_MAX_BYTES", 1)
    p = save_nwb(ds, tmp_path / "seg.nwb")
    with h5py.File(p, "r") as f:
        assert f[PS]["pixel_mask"].dtype["weight"] == np.float32  # NWB's dtype
    back = load_result(p)
    assert back["footprints"].dtype == np.float64
    np.testing.assert_array_equal(
        back["footprints"].values,
        ds["footprints"].values.astype(np.float32).astype(np.float64),
    )


def test_large_pixel_mask_result_reads_back_lazily(tmp_path, monkeypatch):
    ds = real_segmentation()
    monkeypatch.setattr(segmentation_io, "DENSE_IMAGE_MASK_MAX_BYTES", 1)
    monkeypatch.setattr(segmentation_io, "DENSE_FOOTPRINTS_READ_MAX_BYTES", 1)
    p = save_nwb(ds, tmp_path / "seg.nwb")
    back = load_result(p)
    assert back["footprints"].chunks is not None
    assert back["footprints"].chunks[0] == (1,) * ds.sizes["neuron"]
    assert_same_segmentation(back, ds)


def test_pixel_mask_appended_next_to_image_mask(tmp_path, monkeypatch):
    from neuronmf.io import load_masks

    ds = segmentation_result()
    p = tmp_path / "session.nwb"
    save_nwb(ds, p)
    monkeypatch.setattr(segmentation_io, "DENSE_IMAGE_MASK_MAX_BYTES", 1)
    save_nwb(ds, p)
    assert layout(p) == {"image_mask"}
    assert layout(p, PS + "_2") == {"pixel_mask"}
    first = load_result(p, name="PlaneSegmentation")
    xr.testing.assert_identical(load_result(p, name="PlaneSegmentation_2"), first)
    masks = load_masks(p, series="PlaneSegmentation_2", shape=(12, 10))
    np.testing.assert_array_equal(masks.values, ds["footprints"].values)


def test_pixel_mask_nwb_passes_nwbinspector(tmp_path, monkeypatch):
    ds = real_segmentation()
    monkeypatch.setattr(segmentation_io, "DENSE_IMAGE_MASK_MAX_BYTES", 1)
    p = save_nwb(ds, tmp_path / "seg.nwb")
    assert layout(p) == {"pixel_mask"}
    critical, _ = _critical_findings(p)
    assert critical == [], [m.message for m in critical]


def _disc_footprints(n: int, ny: int, nx: int, radius: int = 4):
    """(n, ny, nx) float32 dask footprints: one ~50-pixel disc per neuron."""
    import dask
    import dask.array as da

    rng = np.random.default_rng(0)
    cy = rng.integers(radius, ny - radius, n)
    cx = rng.integers(radius, nx - radius, n)
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    disc = (yy**2 + xx**2 <= radius**2).astype(np.float32)

    def frame(i: int) -> np.ndarray:
        out = np.zeros((1, ny, nx), np.float32)
        ys = slice(cy[i] - radius, cy[i] + radius + 1)
        xs = slice(cx[i] - radius, cx[i] + radius + 1)
        out[0, ys, xs] = disc * np.float32(1 + i / n)
        return out

    fp = da.concatenate(
        [
            da.from_delayed(dask.delayed(frame)(i), shape=(1, ny, nx), dtype=np.float32)
            for i in range(n)
        ]
    )
    return fp, frame, int(disc.sum())


def test_save_nwb_memory_stays_far_below_dense_footprints(tmp_path):
    n, ny, nx, T = 400, 512, 512, 50
    fp, frame, disc_pixels = _disc_footprints(n, ny, nx)
    dense_bytes = n * ny * nx * 4
    assert dense_bytes >= 400e6 and 45 <= disc_pixels <= 55
    rng = np.random.default_rng(1)
    ds = xr.Dataset(
        {
            "footprints": (("neuron", "y", "x"), fp),
            "traces": (("neuron", "time"), rng.random((n, T))),
            "snr": ("neuron", rng.random(n)),
        },
        coords={"neuron": np.arange(n), "time": np.arange(T) / 10.0},
    )
    save_nwb(ds.isel(neuron=slice(0, 2)), tmp_path / "warm.nwb")  # imports
    p = tmp_path / "big.nwb"
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        save_nwb(ds, p)
        seconds = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(
        f"save_nwb: {n} x {ny} x {nx} float32 footprints ({dense_bytes / 1e6:.0f} "
        f"MB dense): peak traced {peak / 1e6:.1f} MB in {seconds:.1f} s"
    )
    assert peak < 100e6, peak
    assert layout(p) == {"pixel_mask"}
    with h5py.File(p, "r") as f:
        assert f[PS]["pixel_mask"].shape == (n * disc_pixels,)
    back = load_result(p)
    assert back["footprints"].shape == (n, ny, nx)
    for i in (0, 1, n // 2, n - 1):
        np.testing.assert_array_equal(back["footprints"][i].values, frame(i)[0])
    np.testing.assert_array_equal(back["traces"].values, ds["traces"].values)


@pytest.mark.parametrize("chunk", [1, 7])
def test_pixel_mask_sink_orders_blocks_that_arrive_out_of_order(tmp_path, chunk):
    ds = segmentation_result(n=9, ny=6, nx=5)
    fp = ds["footprints"].values
    with h5py.File(tmp_path / "sink.h5", "w") as f:
        pm = f.create_dataset(
            "pm", (0,), writers._pixel_mask_dtype(), maxshape=(None,), chunks=(4,)
        )
        index = f.create_dataset("index", (9,), np.uint64)
        sink = writers._PixelMaskSink(pm, index, 9)
        starts = list(range(0, 9, chunk))[::-1]  # last block first
        for s in starts:
            sink[slice(s, min(s + chunk, 9)), slice(0, 6), slice(0, 5)] = fp[
                s : s + chunk
            ]
        sink.close()
        rows, ends = pm[:], index[:]
    assert list(ends) == list(np.cumsum([np.count_nonzero(a) for a in fp]))
    starts = np.concatenate([[0], ends[:-1]]).astype(int)
    for i, (a, b) in enumerate(zip(starts, ends.astype(int), strict=True)):
        r = rows[a:b]
        np.testing.assert_array_equal(r["weight"], fp[i][r["y"], r["x"]])
