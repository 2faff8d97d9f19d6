"""Hostile and malformed input files (issue 21, defects 4 and 6).

Every reader refuses, with an InputError, a file that would make it read outside
itself (HDF5 external storage, external links, virtual datasets; Zarr links out of
the store), a special file (FIFO), and input it would otherwise misread. Every
input file is unchanged (sha256) after the attempt.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

from neuronmf.errors import InputError  # noqa: E402
from neuronmf.io import (  # noqa: E402
    inspect,
    load_activity,
    load_emg,
    load_movie,
    load_result,
)


def sha(p: Path) -> str:
    if p.is_dir():
        h = hashlib.sha256()
        for f in sorted(p.rglob("*")):
            if f.is_file() and not f.is_symlink():
                h.update(f.read_bytes())
        return h.hexdigest()
    return hashlib.sha256(p.read_bytes()).hexdigest()


def refused(p: Path, fn, *args, match: str, **kw) -> None:
    before = sha(p) if p.exists() and not _is_fifo(p) else None
    with pytest.raises(InputError, match=match):
        fn(p, *args, **kw)
    if before is not None:
        assert sha(p) == before


def _is_fifo(p: Path) -> bool:
    import stat

    return stat.S_ISFIFO(os.stat(p).st_mode)


@pytest.fixture
def secret(tmp_path):
    p = tmp_path / "secret.txt"
    p.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n" * 40)
    return p


# ------------------------------------------------------------------ defect 4
def test_hdf5_external_storage_refused_everywhere(tmp_path, secret):
    p = tmp_path / "ext.h5"
    with h5py.File(p, "w") as f:
        ds = f.create_dataset(
            "emg", shape=(76, 2), dtype="<f8", external=[(str(secret), 0, 1216)]
        )
        ds.attrs["rate"] = 100.0
    for fn, kw in (
        (load_emg, {}),
        (load_activity, {"rate": 100.0}),
        (inspect, {}),
    ):
        refused(p, fn, match="external raw storage", **kw)
    p3 = tmp_path / "ext3.h5"
    with h5py.File(p3, "w") as f:
        f.create_dataset(
            "movie", shape=(4, 4, 4), dtype="u1", external=[(str(secret), 0, 64)]
        )
    refused(p3, load_movie, match="external raw storage", rate=10.0)


def test_netcdf_external_storage_refused_by_load_result(tmp_path, secret):
    p = tmp_path / "result.nc"
    with h5py.File(p, "w") as f:
        f.create_dataset("W", shape=(10,), dtype="<f8", external=[(str(secret), 0, 80)])
    refused(p, load_result, match="external raw storage")


def test_hdf5_external_link_and_virtual_dataset_refused(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.ones((50, 2))
    link = tmp_path / "link.h5"
    with h5py.File(link, "w") as f:
        f["emg"] = h5py.ExternalLink(str(other), "/x")
    refused(link, load_emg, match="external link", rate=100.0)
    refused(link, inspect, match="external link")
    vds = tmp_path / "vds.h5"
    layout = h5py.VirtualLayout(shape=(50, 2), dtype="f8")
    layout[:] = h5py.VirtualSource(str(other), "x", shape=(50, 2))
    with h5py.File(vds, "w") as f:
        f.create_virtual_dataset("emg", layout)
    refused(vds, load_emg, match="virtual dataset", rate=100.0)
    refused(vds, load_activity, match="virtual dataset", rate=100.0)


def test_zarr_link_out_of_store_refused(tmp_path, secret):
    zarr = pytest.importorskip("zarr")
    store = tmp_path / "movie.zarr"
    z = zarr.open(str(store), mode="w", shape=(4, 4, 4), dtype="u1")
    z[:] = 1
    # replace one chunk file by a link to a file outside the store
    chunks = [f for f in store.rglob("*") if f.is_file() and not f.name.startswith(".")]
    chunk = next(f for f in chunks if f.name != "zarr.json")
    chunk.unlink()
    chunk.symlink_to(secret)
    refused(store, load_movie, match="link to", rate=10.0)
    refused(store, inspect, match="link to")


def test_npy_object_array_refused(tmp_path):
    p = tmp_path / "obj.npy"
    np.save(p, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    refused(p, load_activity, match="NumPy file", rate=10.0)
    refused(p, inspect, match="NumPy file")


# ------------------------------------------------------------------ defect 6
def test_csv_text_in_numeric_column(tmp_path):
    p = tmp_path / "text.csv"
    p.write_text("time,TA,GM\n0,1,2\n0.001,abc,3\n0.002,4,5\n")
    refused(p, load_emg, match="TA .* must be numeric")


def test_single_page_rgb_tiff_refused(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    p = tmp_path / "rgb.tif"
    tifffile.imwrite(p, np.zeros((16, 16, 3), np.uint8), photometric="rgb")
    refused(p, load_movie, match="grayscale movie", rate=10.0)
    refused(p, inspect, match="grayscale movie")


def test_headerless_csv_keeps_first_row(tmp_path):
    p = tmp_path / "nohead.csv"
    p.write_text("3,1,2\n1,2,3\n4,4,5\n2,4,1\n")
    before = sha(p)
    emg = load_emg(p, rate=1000.0)
    assert emg.shape == (4, 3)
    assert list(emg.channel.values) == ["ch0", "ch1", "ch2"]
    np.testing.assert_array_equal(emg.values[0], [3, 1, 2])
    assert sha(p) == before


def test_headerless_csv_with_time_column_not_read_as_channel(tmp_path):
    p = tmp_path / "nohead_t.csv"
    p.write_text("0,1,2\n0.001,2,3\n0.002,4,5\n0.003,4,1\n")
    refused(p, load_emg, match="header row", rate=1000.0)
    emg = load_emg(p, time_column="ch0")
    assert list(emg.channel.values) == ["ch1", "ch2"]
    assert emg.shape == (4, 2)
    assert emg.attrs["rate"] == 1000.0


def test_duplicate_csv_columns_refused(tmp_path):
    p = tmp_path / "dup.csv"
    p.write_text("time,TA,TA\n0,1,2\n0.001,2,3\n0.002,4,5\n")
    refused(p, load_emg, match="'TA' more than once")
    refused(p, inspect, match="'TA' more than once")


@pytest.mark.parametrize("kind", ["bytes", "compound"])
def test_non_numeric_hdf5_refused(tmp_path, kind):
    p = tmp_path / f"{kind}.h5"
    with h5py.File(p, "w") as f:
        if kind == "bytes":
            data = np.array([[b"ab", b"cd"]] * 10)
        else:
            data = np.zeros((10, 2), dtype=[("a", "f8"), ("b", "i4")])
        f.create_dataset("emg", data=data).attrs["rate"] = 100.0
    refused(p, load_emg, match="must be numeric")
    refused(p, load_activity, match="must be numeric")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_refused_without_blocking(tmp_path):
    p = tmp_path / "fifo.csv"
    os.mkfifo(p)
    for fn in (load_emg, inspect, load_movie, load_activity):
        refused(p, fn, match="regular file")


def test_cli_info_on_fifo_exits_3(tmp_path, capsys):
    from neuronmf.cli.main import main

    p = tmp_path / "fifo.csv"
    os.mkfifo(p)
    assert main(["info", str(p)]) == 3
    assert "regular file" in capsys.readouterr().err


def test_truncated_tiff_refused(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    full = tmp_path / "full.tif"
    movie = np.arange(20 * 8 * 8, dtype=np.uint16).reshape(20, 8, 8)
    tifffile.imwrite(full, movie, photometric="minisblack")
    raw = full.read_bytes()
    p = tmp_path / "cut.tif"
    p.write_bytes(raw[:2000])
    refused(p, load_movie, match="truncated", rate=10.0, lazy=True)
    refused(p, inspect, match="truncated")


def test_hdf5_without_rate_refused_before_reading(tmp_path, monkeypatch):
    p = tmp_path / "norate.h5"
    with h5py.File(p, "w") as f:
        f["emg"] = np.ones((100, 2))
    reads = []
    orig = h5py.Dataset.__getitem__

    def spy(self, key):
        reads.append(self.name)
        return orig(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    refused(p, load_emg, match="rate")
    assert "/emg" not in reads
