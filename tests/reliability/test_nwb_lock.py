"""Issue 21, defect 3: two processes adding to one NWB file both land.

``save_nwb`` extends a file by copy, append, rename; without a lock two
concurrent appenders both exited 0 and the file kept only one of the results.
The copy–append–rename now holds an exclusive lock (``fcntl.flock`` on a
sidecar that is removed on release), from the existence check to the rename:
the second writer waits, then extends the first one's file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import neuronmf as nm
from neuronmf.io import _atomic

pytestmark = pytest.mark.skipif(os.name != "posix", reason="fcntl locks")


def synergies(seed: int) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    return xr.Dataset(
        {
            "synergies": (("muscle", "synergy"), rng.random((4, 2))),
            "activations": (("synergy", "time"), rng.random((2, 50))),
        },
        coords={"muscle": ["TA", "SO", "GM", "VL"], "time": np.arange(50) / 100},
    )


CHILD = """
import os, sys, time
import numpy as np, pynwb
sys.path.insert(0, {root!r})
from tests.reliability.test_nwb_lock import synergies
import neuronmf as nm

real_write = pynwb.NWBHDF5IO.write
def slow_write(self, *args, **kwargs):  # widen the window between copy and rename
    time.sleep(1.0)
    return real_write(self, *args, **kwargs)
pynwb.NWBHDF5IO.write = slow_write

go = {go!r}
while not os.path.exists(go):  # barrier: both start together
    time.sleep(0.005)
seed = int(sys.argv[1])
nm.io.save_nwb(synergies(seed), {existing!r}, name=f"run{{seed}}")  # append
nm.io.save_nwb(synergies(seed), {fresh!r}, name=f"run{{seed}}")  # create or append
"""


def test_two_processes_appending_to_one_nwb_both_land(tmp_path):
    existing, fresh = tmp_path / "session.nwb", tmp_path / "new.nwb"
    go = tmp_path / "go"
    nm.io.save_nwb(synergies(0), existing, name="run0")
    script = tmp_path / "child.py"
    root = str(Path(__file__).parents[2])
    code = CHILD.format(root=root, go=str(go), existing=str(existing), fresh=str(fresh))
    script.write_text(textwrap.dedent(code))
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(seed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    time.sleep(2.0)  # both imported and waiting (the barrier holds them)
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-2000:]
    for path, names in ((existing, [0, 1, 2]), (fresh, [1, 2])):
        for seed in names:  # every result is in the file, none lost
            back = nm.io.load_result(path, name=f"run{seed}")
            np.testing.assert_array_equal(
                back["synergies"].values, synergies(seed)["synergies"].values
            )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["child.py", "go", "new.nwb", "session.nwb"]
    )  # no lock sidecar, no temporary file left


def test_a_writer_that_cannot_get_the_lock_times_out_clearly(tmp_path, monkeypatch):
    path = tmp_path / "session.nwb"
    nm.io.save_nwb(synergies(0), path)
    before = path.read_bytes()
    holding, release = threading.Event(), threading.Event()

    def hold():  # another thread stands for another process (flock is per open)
        with _atomic.file_lock(path):
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        holding.wait(30)
        monkeypatch.setattr(_atomic, "LOCK_TIMEOUT_SECONDS", 0.3)
        t0 = time.monotonic()
        with pytest.raises(
            TimeoutError,
            match=r"session\.nwb is being written by another process \(lock .*"
            r"held for more than 0\.3 s\)\. Wait for that process",
        ):
            nm.io.save_nwb(synergies(1), path)
        assert time.monotonic() - t0 < 5
    finally:
        release.set()
        thread.join()
    assert path.read_bytes() == before
    nm.io.save_nwb(synergies(1), path)  # the lock is free again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.nwb"]


def test_lock_is_reentrant_and_leaves_no_sidecar(tmp_path):
    path = tmp_path / "x.nwb"
    with _atomic.file_lock(path):
        assert (tmp_path / ".x.nwb.nmf-lock").exists()
        with _atomic.file_lock(path):  # same thread: no self-deadlock
            pass
        nm.io.save_nwb(synergies(0), path)  # takes the same lock inside
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nwb"]
