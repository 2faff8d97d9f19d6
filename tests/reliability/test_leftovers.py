"""Issue 21, defect 10: no leftovers, no races between concurrent writers.

A writer killed mid-write (``kill -9``) left hidden temporary files (up to 32 MB)
that nothing removed; ``summary.txt`` went through the fixed temporary name
``.summary.txt.tmp``, so concurrent runs into one folder failed (49 in 6,000).
Temporary files are now named ``.<name>.nmf-<pid>-<host>-<random>.tmp<suffix>``;
the next write into the folder removes those whose writer is gone, never a live
writer's, and every summary goes through a unique temporary name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import neuronmf as nm
from neuronmf.io import _atomic

ROOT = str(Path(__file__).parents[2])


def temp_name(stem: str, pid: int, host: str | None = None) -> str:
    return f".{stem}.nmf-{pid}-{host or _atomic._host_tag()}-abcd_123.tmp.nc"


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.skipif(os.name != "posix", reason="kill -9")
def test_kill_9_mid_write_leaves_a_temp_that_the_next_write_removes(tmp_path):
    code = f"""
    import os, sys, time
    sys.path.insert(0, {ROOT!r})
    import numpy as np, xarray as xr, neuronmf as nm
    real_write = os.write
    def stall(fd, data):  # the first 8 MB land, then the writer hangs: kill -9
        n = real_write(fd, data)
        open({str(tmp_path / "ready")!r}, "w").close()
        time.sleep(600)
        return n
    os.write = stall
    rng = np.random.default_rng(0)
    ds = xr.Dataset({{"a": (("x", "y"), rng.random((1000, 1000)))}})  # 8 MB
    nm.io.save_netcdf(ds, {str(tmp_path / "big.nc")!r})
    """
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)])
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "ready").exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    (tmp_path / "ready").unlink()
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".big.")]
    assert len(leftovers) == 1 and leftovers[0].stat().st_size > 1 << 20
    nm.io.save_netcdf(xr.Dataset({"b": ("t", np.arange(3.0))}), tmp_path / "small.nc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.nc"]


def test_only_dead_or_stale_temps_are_removed(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        keep = {
            temp_name("live", sleeper.pid),  # a live writer's file
            temp_name("mine", os.getpid()),  # this process (another thread?)
            temp_name("elsewhere", dead_pid(), host="0badf00d"),  # other host, fresh
            ".res.abcd1234.tmp.nc",  # not our pattern: never touched
            "notes.txt",
        }
        gone = {
            temp_name("dead", dead_pid()),
            temp_name("ancient", sleeper.pid, host="0badf00d"),  # untouched > 24 h
        }
        for name in keep | gone:
            (tmp_path / name).write_bytes(b"x" * 100)
        old = time.time() - _atomic.STALE_TEMP_SECONDS - 60
        ancient = tmp_path / temp_name("ancient", sleeper.pid, host="0badf00d")
        os.utime(ancient, (old, old))
        folder = temp_name("dir", dead_pid())  # a directory: left alone
        (tmp_path / folder).mkdir()
        keep.add(folder)
        nm.io.save_netcdf(xr.Dataset({"a": ("t", [1.0])}), tmp_path / "res.nc")
    finally:
        sleeper.kill()
        sleeper.wait()
    names = {p.name for p in tmp_path.iterdir()}
    assert keep <= names
    assert not gone & names
    assert "res.nc" in names


def test_concurrent_summaries_never_fail(tmp_path):
    code = f"""
    import sys
    sys.path.insert(0, {ROOT!r})
    from pathlib import Path
    from neuronmf.cli._common import write_summary
    who = sys.argv[1]
    for i in range(200):
        write_summary(Path({str(tmp_path)!r}), [f"{{who}} {{i}}", "x" * 2000])
    """
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), who],
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-2000:]
    lines = (tmp_path / "summary.txt").read_text().splitlines()
    assert lines[0].split()[1] == "199" and lines[1] == "x" * 2000  # one whole write
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.txt"]
