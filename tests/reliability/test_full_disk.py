"""Issue 21, defect 1: a full disk is a clear error, never a crash or a leftover.

``save_netcdf`` on a full 1 MB tmpfs raised ``OSError [Errno 28]`` and then the
process died with SIGSEGV while h5netcdf closed the half-written file. NetCDF
files are now built in memory and their bytes written by Python, so HDF5 never
sees a failing disk; every atomic write turns ENOSPC/EDQUOT/EFBIG into an
``InputError`` naming the space needed and free, removes its temporary file and
leaves the previous file intact. Each scenario runs in a subprocess, so a
segfault fails the test instead of killing pytest.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import sha256

PRELUDE = """
import json, os, sys, errno
import numpy as np, xarray as xr
import neuronmf as nm
out = {}
def report(key, fn):
    try:
        fn()
        out[key] = {"error": None}
    except Exception as exc:
        out[key] = {"error": type(exc).__name__, "message": str(exc)}
"""


def run_child(code: str, tmp_path: Path) -> dict:
    script = tmp_path.parent / f"{tmp_path.name}_child.py"
    script.write_text(PRELUDE + textwrap.dedent(code) + "\nprint(json.dumps(out))\n")
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=Path(__file__).parents[2],
    )
    assert proc.returncode == 0, (
        f"child died with {proc.returncode} (-11 = SIGSEGV)\n{proc.stderr[-3000:]}"
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_injected_enospc_is_a_clear_error_and_leaves_the_old_file(tmp_path):
    good = tmp_path / "x.nc"
    code = f"""
    folder = {str(tmp_path)!r}
    path = os.path.join(folder, "x.nc")
    ds = xr.Dataset({{"a": (("x", "y"), np.random.rand(600, 600))}})
    nm.io.save_netcdf(ds.isel(x=slice(0, 10)), path)  # the previous good file
    real_write = os.write
    def full_disk(fd, data):  # half of the first chunk lands, then ENOSPC
        real_write(fd, bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    os.write = full_disk
    report("netcdf", lambda: nm.io.save_netcdf(ds, path))
    report("summary", lambda: __import__("neuronmf.cli._common", fromlist=["x"])
           .write_summary(__import__("pathlib").Path(folder), ["a", "b"]))
    os.write = real_write
    import gc; gc.collect()  # the old code crashed here, in h5netcdf's __del__
    """
    # the previous good file's digest is taken after the child wrote it
    result = run_child(code, tmp_path)
    for key in ("netcdf", "summary"):
        assert result[key]["error"] == "InputError", result
        message = result[key]["message"]
        assert f"free space in {tmp_path}" in message
        assert "no space left on device" in message
        assert "nothing was written" in message
    assert re.search(r"x\.nc \(~2\.\d MB\)", result["netcdf"]["message"])  # needed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nc"]  # no temp left
    import neuronmf as nm

    assert nm.io.load_result(good).sizes["x"] == 10  # the old file, intact
    assert not (tmp_path / "summary.txt").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE")
def test_a_real_failing_write_in_hdf5_is_an_error_not_a_segfault(tmp_path):
    # The kernel refuses writes past RLIMIT_FSIZE (EFBIG): a real failure inside
    # the C libraries' writes, with no root needed (the old code: SIGSEGV).
    for name in ("x.nc", "x.nwb"):
        (tmp_path / name).write_bytes(b"previous")
    before = {p.name: sha256(p) for p in tmp_path.iterdir()}
    code = f"""
    import resource, signal
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
    folder = {str(tmp_path)!r}
    ds = xr.Dataset({{"a": (("x", "y"), np.random.rand(600, 600))}})
    report("netcdf", lambda: nm.io.save_netcdf(ds, os.path.join(folder, "x.nc")))
    res = xr.Dataset(
        {{"synergies": (("muscle", "synergy"), np.random.rand(4, 2)),
          "activations": (("synergy", "time"), np.random.rand(2, 200_000))}})
    report("nwb", lambda: nm.io.save_nwb(res, os.path.join(folder, "x.nwb"),
                                         overwrite=True))
    import gc; gc.collect()
    """
    result = run_child(code, tmp_path)
    for key in ("netcdf", "nwb"):
        assert result[key]["error"] == "InputError", result
        assert "File too large" in result[key]["message"]
        assert "nothing was written" in result[key]["message"]
    assert {p.name: sha256(p) for p in tmp_path.iterdir()} == before


def test_too_little_free_space_is_refused_before_writing(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    import numpy as np
    import xarray as xr

    import neuronmf as nm

    good = tmp_path / "x.nc"
    small = xr.Dataset({"a": ("x", np.arange(3.0))})
    nm.io.save_netcdf(small, good)
    before = sha256(good)
    rng = np.random.default_rng(0)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(1 << 30, 0, 1 << 20))
    ds = xr.Dataset({"a": (("x", "y"), rng.random((600, 600)))})
    with pytest.raises(nm.InputError, match=r"x\.nc \(~2\.\d MB\); got 1\.0 MB free"):
        nm.io.save_netcdf(ds, good)
    with pytest.raises(nm.InputError, match=r"free space in .*; got 1\.0 MB free"):
        nm.io.save_nwb(
            xr.Dataset(
                {
                    "synergies": (("muscle", "synergy"), rng.random((4, 2))),
                    "activations": (("synergy", "time"), rng.random((2, 200_000))),
                }
            ),
            tmp_path / "x.nwb",
        )
    # results larger than half the free memory are written by HDF5 itself: the
    # free space is checked against their uncompressed size first
    from neuronmf.io import _netcdf

    monkeypatch.setattr(_netcdf, "NETCDF_IN_MEMORY_MAX_BYTES", 0)
    monkeypatch.setattr(_netcdf, "available_memory", lambda: 0)
    with pytest.raises(nm.InputError, match=r"x\.nc \(~2\.7 MB\); got 1\.0 MB free"):
        nm.io.save_netcdf(ds, good)
    assert sha256(good) == before
    assert sorted(os.listdir(tmp_path)) == ["x.nc"]
