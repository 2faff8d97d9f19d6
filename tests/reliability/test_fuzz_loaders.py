"""Property-based fuzz of every loader (issue 21, "Must show").

Random bytes, mutated and truncated copies of a small valid file of each format
(CSV, TSV, NPY, NPZ, HDF5, NWB, TIFF, MAT v5, NetCDF), and valid files handed to
the loader of another kind (wrong layouts): the only outcomes allowed are a valid
result or :class:`neuronmf.errors.InputError`. Derandomized, so CI is
deterministic; bounded so the file runs in well under a minute.
"""

from __future__ import annotations

import hashlib
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("hypothesis")
h5py = pytest.importorskip("h5py")
tifffile = pytest.importorskip("tifffile")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from neuronmf.errors import InputError  # noqa: E402
from neuronmf.io import (  # noqa: E402
    inspect,
    load_activity,
    load_behavior,
    load_emg,
    load_masks,
    load_movie,
    load_regions,
    load_result,
)
from neuronmf.io.matlab import read_mat_variable  # noqa: E402

SUFFIX = {
    "csv": ".csv",
    "tsv": ".tsv",
    "npy": ".npy",
    "npz": ".npz",
    "hdf5": ".h5",
    "nwb": ".nwb",
    "tiff": ".tif",
    "mat": ".mat",
    "netcdf": ".nc",
}


def _valid_files(folder: Path) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    x = rng.random((30, 3))
    out = {}
    t = np.arange(30) / 100.0
    rows = "\n".join(
        f"{a:.3f},{b:.4f},{c:.4f},{d:.4f}" for a, (b, c, d) in zip(t, x, strict=True)
    )
    out["csv"] = ("time,TA,GM,SOL\n" + rows + "\n").encode()
    out["tsv"] = out["csv"].replace(b",", b"\t")
    p = folder / "a.npy"
    np.save(p, rng.random((8, 4, 5)))
    out["npy"] = p.read_bytes()
    p = folder / "a.npz"
    np.savez(p, spike_times=np.sort(rng.random(40) * 2), spike_unit=np.arange(40) % 3)
    out["npz"] = p.read_bytes()
    p = folder / "a.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("emg", data=x).attrs["rate"] = 100.0
        f.create_dataset("movie", data=rng.random((6, 4, 5)))
    out["hdf5"] = p.read_bytes()
    p = folder / "a.tif"
    tifffile.imwrite(p, (rng.random((6, 4, 5)) * 1000).astype(np.uint16))
    out["tiff"] = p.read_bytes()
    from scipy.io import savemat

    p = folder / "a.mat"
    savemat(p, {"x": x, "t": t})
    out["mat"] = p.read_bytes()
    import xarray as xr

    from neuronmf.io import save_netcdf

    p = folder / "a.nc"
    save_netcdf(xr.Dataset({"W": (("a", "b"), x)}), p)
    out["netcdf"] = p.read_bytes()
    from datetime import UTC, datetime

    import pynwb

    nwb = pynwb.NWBFile("fuzz", "fuzz", datetime(2024, 1, 1, tzinfo=UTC))
    nwb.add_acquisition(pynwb.TimeSeries(name="EMG", data=x, unit="V", rate=100.0))
    p = folder / "a.nwb"
    with pynwb.NWBHDF5IO(str(p), "w") as io:
        io.write(nwb)
    out["nwb"] = p.read_bytes()
    return out


_DIR = Path(tempfile.mkdtemp(prefix="neuronmf-fuzz-"))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    VALID = _valid_files(_DIR)

LOADERS = {
    "load_emg": lambda p: load_emg(p, rate=100.0),
    "load_movie": lambda p: load_movie(p, rate=10.0, lazy=False),
    "load_activity": lambda p: load_activity(p, rate=10.0),
    "load_behavior": lambda p: load_behavior(p),
    "inspect": lambda p: inspect(p).to_text(),
    "load_result": lambda p: load_result(p),
    "load_masks": lambda p: load_masks(p),
    "load_regions": lambda p: load_regions(p, (4, 5)),
    "read_mat_variable": lambda p: read_mat_variable(p, "x"),
}


def _check(data: bytes, fmt: str, loader: str) -> None:
    p = _DIR / f"case{SUFFIX[fmt]}"
    p.write_bytes(data)
    before = hashlib.sha256(data).hexdigest()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = LOADERS[loader](p)
            values = getattr(out, "values", None)  # read everything lazy
            if values is not None:
                np.asarray(values)
    except InputError:
        pass
    assert hashlib.sha256(p.read_bytes()).hexdigest() == before


FMTS = st.sampled_from(sorted(SUFFIX))
NAMES = st.sampled_from(sorted(LOADERS))
FAST = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@FAST
@given(fmt=FMTS, loader=NAMES, data=st.binary(max_size=600))
def test_random_bytes(fmt, loader, data):
    _check(data, fmt, loader)


@FAST
@given(fmt=FMTS, loader=NAMES, frac=st.floats(0.0, 1.0))
def test_truncated(fmt, loader, frac):
    raw = VALID[fmt]
    _check(raw[: int(len(raw) * frac)], fmt, loader)


@settings(FAST, max_examples=150)
@given(
    fmt=FMTS,
    loader=NAMES,
    edits=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
)
def test_mutated(fmt, loader, edits):
    raw = bytearray(VALID[fmt])
    for where, byte in edits:
        raw[min(int(where * len(raw)), len(raw) - 1)] = byte
    _check(bytes(raw), fmt, loader)


@pytest.mark.parametrize("loader", sorted(LOADERS))
@pytest.mark.parametrize("fmt", sorted(SUFFIX))
def test_wrong_layouts(fmt, loader):
    """Every valid file through every loader: a result or an InputError."""
    _check(VALID[fmt], fmt, loader)
