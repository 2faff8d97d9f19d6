from __future__ import annotations

import dask.array as da
import h5py
import numpy as np
import pytest
import tifffile

from neuronmf.errors import InputError
from neuronmf.io import load_movie
from tests.conftest import real_file, sha256


def test_neurofinder_folder_lazy():
    folder = real_file("neurofinder_subset", "images")
    mov = load_movie(folder, lazy=True)
    assert mov.dims == ("time", "y", "x")
    assert mov.shape == (200, 512, 512)
    assert mov.dtype == np.uint16
    assert isinstance(mov.data, da.Array)
    assert all(c == 512 for c in mov.data.chunks[1] + mov.data.chunks[2])
    first = tifffile.imread(folder / "image00000.tiff")
    last = tifffile.imread(folder / "image00199.tiff")
    np.testing.assert_array_equal(mov[0].values, first)
    np.testing.assert_array_equal(mov[-1].values, last)
    assert "rate" not in mov.attrs and "time" not in mov.coords


def test_nwb_two_photon_transposed(movie_nwb):
    path, data = movie_nwb  # (frames, x, y) = (20, 6, 4)
    before = sha256(path)
    mov = load_movie(path)
    assert mov.shape == (20, 4, 6)
    np.testing.assert_array_equal(mov.values, data.transpose(0, 2, 1))
    assert mov.attrs["rate"] == 30.0
    assert mov.attrs["neurodata_type"] == "TwoPhotonSeries"
    assert mov.attrs["source_path"] == "acquisition/TwoPhotonSeries"
    np.testing.assert_allclose(mov.time.values, np.arange(20) / 30.0)
    lazy = load_movie(path, lazy=True)
    assert isinstance(lazy.data, da.Array)
    expected = data.transpose(0, 2, 1)[3:7, 1:3, 2:5]
    np.testing.assert_array_equal(lazy[3:7, 1:3, 2:5].values, expected)
    assert sha256(path) == before


def test_nwb_without_movie_lists_series(tmp_path):
    path = real_file("endoscope_ophys_nwb", "nwb_test.nwb")
    with pytest.raises(InputError, match=r"movie.*none found.*Fluorescence/Neuropil"):
        load_movie(path)


def _spy_on_reads(monkeypatch) -> list:
    """The keys of every h5py dataset read from now on (a list that fills)."""
    reads = []
    original = h5py.Dataset.__getitem__

    def spy(self, key):
        reads.append(key)
        return original(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    return reads


def test_hdf5_lazy_reads_nothing(tmp_path, monkeypatch):
    p = tmp_path / "m.h5"
    x = np.random.default_rng(0).random((40, 8, 9)).astype(np.float32)
    with h5py.File(p, "w") as f:
        ds = f.create_dataset("mov", data=x, chunks=(4, 8, 9))
        ds.attrs["rate"] = 20.0
    reads = _spy_on_reads(monkeypatch)
    mov = load_movie(p, lazy=True)
    assert isinstance(mov.data, da.Array)
    assert reads == []  # opening lazily reads no pixel
    assert mov.data.chunks[0][0] % 4 == 0
    assert mov.attrs["rate"] == 20.0
    np.testing.assert_allclose(mov.mean("time").values, x.mean(0), rtol=1e-6)
    assert reads  # ... and computing does


def test_hdf5_default_eager_and_choice(tmp_path):
    p = tmp_path / "m.h5"
    with h5py.File(p, "w") as f:
        f["a"] = np.zeros((3, 4, 5))
        f["b"] = np.ones((3, 4, 5))
        f["flat"] = np.ones((3, 4))
    with pytest.raises(InputError, match=r"several candidates .*a, b"):
        load_movie(p)
    mov = load_movie(p, series="b", rate=5)
    assert isinstance(mov.data, np.ndarray) and mov.values.sum() == 60
    np.testing.assert_allclose(mov.time.values, [0, 0.2, 0.4])
    with pytest.raises(
        InputError, match=r"must be 3-D .*got 2-D data of shape \(3, 4\)"
    ):
        load_movie(p, series="flat")


def test_multipage_tiff_and_zarr(tmp_path):
    import zarr

    x = np.arange(5 * 3 * 4, dtype=np.uint16).reshape(5, 3, 4)
    tif = tmp_path / "m.tif"
    tifffile.imwrite(tif, x, photometric="minisblack")
    mov = load_movie(tif, rate=10)
    np.testing.assert_array_equal(mov.values, x)
    assert mov.attrs["rate"] == 10.0

    store = tmp_path / "m.zarr"
    z = zarr.open_array(str(store), mode="w", shape=x.shape, dtype=x.dtype)
    z[:] = x
    mov = load_movie(store, lazy=True)
    assert isinstance(mov.data, da.Array)
    np.testing.assert_array_equal(mov.values, x)


def test_tiff_folder_mismatched_frames(tmp_path):
    tifffile.imwrite(tmp_path / "f0.tif", np.zeros((4, 4), np.uint16))
    tifffile.imwrite(tmp_path / "f1.tif", np.zeros((4, 5), np.uint16))
    with pytest.raises(InputError, match="all of one shape"):
        load_movie(tmp_path)


def test_folder_without_frames(tmp_path):
    with pytest.raises(InputError, match="folder of TIFF frames"):
        load_movie(tmp_path)


def test_hdf5_chunked_along_space_gets_tile_chunks(tmp_path, monkeypatch):
    # on-disk chunks spanning every frame of a 32 × 32 tile: whole-frame dask
    # chunks would each read the entire file, so the chunks follow the tiles
    import neuronmf.io.movie as movie_module

    monkeypatch.setattr(movie_module, "CHUNK_BYTES", 300 * 32 * 64 * 4)
    p = tmp_path / "tiles.h5"
    x = np.random.default_rng(1).random((300, 64, 192)).astype(np.float32)
    with h5py.File(p, "w") as f:
        f.create_dataset("mov", data=x, chunks=(300, 32, 32))
    mov = load_movie(p, lazy=True)
    assert mov.data.chunks == ((300,), (64,), (32,) * 6)
    np.testing.assert_array_equal(mov.values, x)
    np.testing.assert_allclose(mov.mean("time").values, x.mean(0), rtol=1e-6)


def test_h5_chunks_follow_on_disk_tiles():
    from neuronmf.io.movie import CHUNK_BYTES, _h5_chunks

    # 2,000 frames × 1024² float32 chunked (2000, 64, 64): 32 MB tiles
    assert _h5_chunks((2000, 1024, 1024), 4, (2000, 64, 64)) == (2000, 64, 64)
    # small tiles grow (aligned, by doubling) up to the target chunk size
    _t, a, b = _h5_chunks((2000, 1024, 1024), 4, (2000, 16, 16))
    assert (a % 16, b % 16) == (0, 0) and 2000 * a * b * 4 <= CHUNK_BYTES
    assert 2000 * a * b * 4 > CHUNK_BYTES / 4
    # time-chunked files keep whole frames
    assert _h5_chunks((32000, 256, 256), 4, (250, 256, 256))[1:] == (256, 256)
    assert _h5_chunks((100, 64, 64), 4, None) == (100, 64, 64)


@pytest.mark.parametrize("nwb", [False, True])
def test_lazy_window_reads_only_the_window(tmp_path, monkeypatch, movie_nwb, nwb):
    """A patch of the window is one read of the file per chunk, of that patch only
    (a patch of ``isel``'d lazy data reads whole frames)."""
    from neuronmf.io.movie import lazy_window

    if nwb:
        p, raw = movie_nwb
        x = raw.transpose(0, 2, 1)
    else:
        p = tmp_path / "m.h5"
        x = np.random.default_rng(0).random((40, 12, 15)).astype(np.float32)
        with h5py.File(p, "w") as f:
            f.create_dataset("mov", data=x, chunks=(8, 12, 15))
    mov = load_movie(p, lazy=True)
    win = lazy_window(mov, slice(1, -1), slice(2, None))
    np.testing.assert_array_equal(win.values, x[:, 1:-1, 2:])
    assert win.y.values.tolist() == list(range(1, x.shape[1] - 1))
    assert win.attrs == mov.attrs
    reads = _spy_on_reads(monkeypatch)
    patch = np.asarray(win.data[:, 0:2, 1:3])
    np.testing.assert_array_equal(patch, x[:, 1:3, 3:5])
    # every read is the patch's pixels of whole frames (NWB: (frames, x, y))
    yx = [(k[1], k[2]) if not nwb else (k[2], k[1]) for k in reads]
    assert reads and all(k == (slice(1, 3, 1), slice(3, 5, 1)) for k in yx), reads


def test_lazy_window_of_other_data_is_isel():
    import xarray as xr

    from neuronmf.io.movie import lazy_window

    x = np.arange(2 * 4 * 5.0).reshape(2, 4, 5)
    mov = xr.DataArray(x, dims=("time", "y", "x"))
    np.testing.assert_array_equal(
        lazy_window(mov, slice(1, 3), slice(0, 5, 2)).values, x[:, 1:3, ::2]
    )
    lazy = mov.chunk({"time": 1})
    np.testing.assert_array_equal(
        lazy_window(lazy, slice(1, 3), slice(2, 4)).values, x[:, 1:3, 2:4]
    )


@pytest.mark.parametrize("bad", [3, [1, 2], None])
def test_lazy_window_refuses_what_is_not_a_slice(bad):
    import xarray as xr

    from neuronmf.io.movie import lazy_window

    mov = xr.DataArray(np.zeros((2, 4, 5)), dims=("time", "y", "x"))
    with pytest.raises(InputError, match="y must be a slice of pixel indices"):
        lazy_window(mov, bad, slice(0, 5))
