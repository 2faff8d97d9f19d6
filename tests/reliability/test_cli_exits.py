"""Issue 21, defect 9: the command line's exit codes, output checks and Ctrl-C.

Bad input or environment exits 3 with one line (never 1, "a bug"), found before
any work; a re-run replaces the command's own results; Ctrl-C exits 130 with one
line "interrupted" (never 0, a traceback or a signal death); corrupt
checkpoints and crafted NetCDF/NWB results are an ``InputError`` naming the file.
Commands run in-process through ``main(argv)``; the Ctrl-C campaign runs the
installed ``neuronmf`` program in subprocesses.
"""

from __future__ import annotations

import errno
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import neuronmf as nm
from neuronmf.cli import main as cli
from neuronmf.cli.main import main
from neuronmf.io.activity import bin_spikes
from tests.conftest import sha256


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    return code, err


def _last_line(err: str) -> str:
    return err.strip().splitlines()[-1] if err.strip() else ""


@pytest.fixture(scope="module")
def emg_csv(tmp_path_factory):
    from neuronmf.datasets import simulate_emg

    raw = simulate_emg(6, 2, 3, variant="padded", seed=0).data
    path = tmp_path_factory.mktemp("emg") / "emg.csv"
    df = pd.DataFrame(raw.values, columns=list(raw.channel.values))
    df.insert(0, "time", raw.time.values)
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def spikes_npz(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("spk") / "spikes.npz"
    np.savez(
        path, spike_times=rng.uniform(0, 10, 500), spike_unit=rng.integers(0, 5, 500)
    )
    return path


@pytest.fixture(scope="module")
def movie_npy(tmp_path_factory):
    sim = nm.datasets.simulate_movie((32, 32), 60, 4, 3.0, seed=2)
    path = tmp_path_factory.mktemp("mov") / "movie.npy"
    np.save(path, sim.data.values.astype("float32"))
    return path


def _no_work(monkeypatch):
    """Fail the test if a command starts reading its input (work began)."""

    def refuse(*a, **k):
        raise AssertionError("the command read its input before refusing")

    import neuronmf.io as nio

    for name in ("load_emg", "load_activity", "load_movie"):
        monkeypatch.setattr(nio, name, refuse)


# --------------------------------------------------------------- bad input -> 3
def test_unreadable_input_exits_3(emg_csv, tmp_path, capsys, monkeypatch):
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda p, m, **k: False if Path(p) == emg_csv else real(p, m)
    )
    code, err = _run(["synergies", emg_csv, "--out", tmp_path / "o"], capsys)
    assert code == 3, err
    assert "readable" in _last_line(err) and "Traceback" not in err


def test_permission_error_from_a_reader_exits_3(emg_csv, tmp_path, capsys, monkeypatch):
    import neuronmf.io as nio

    def denied(path, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(nio, "load_emg", denied)
    code, err = _run(["synergies", emg_csv, "--out", tmp_path / "o"], capsys)
    assert code == 3, err
    assert _last_line(err).startswith("neuronmf synergies: error: Permission denied")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever the mode")
def test_unreadable_file_for_real_exits_3(emg_csv, tmp_path, capsys):
    src = tmp_path / "locked.csv"
    shutil.copy(emg_csv, src)
    src.chmod(0)
    code, err = _run(["synergies", src, "--out", tmp_path / "o"], capsys)
    assert code == 3, err


def test_existing_file_as_out_exits_3_before_work(
    emg_csv, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "taken"
    out.write_text("mine")
    _no_work(monkeypatch)
    code, err = _run(["synergies", emg_csv, "--out", out], capsys)
    assert code == 3, err
    assert "--out must be a folder" in _last_line(err)
    assert out.read_text() == "mine"


def test_read_only_out_exits_3_before_work(emg_csv, tmp_path, capsys, monkeypatch):
    import tempfile

    def read_only(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    _no_work(monkeypatch)
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    code, err = _run(["synergies", emg_csv, "--out", tmp_path / "ro"], capsys)
    assert code == 3, err
    assert "--out must be a folder you can write to" in _last_line(err)
    assert "Read-only file system" in _last_line(err)
    assert not (tmp_path / "ro").exists()  # nothing created


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes whatever the mode")
def test_read_only_out_for_real_exits_3(emg_csv, tmp_path, capsys, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    _no_work(monkeypatch)
    code, err = _run(["synergies", emg_csv, "--out", ro / "x"], capsys)
    assert code == 3, err


@pytest.mark.parametrize("command", ["assemblies", "decode", "rank", "segment"])
def test_every_command_checks_out_first(command, tmp_path, capsys, monkeypatch):
    out = tmp_path / "file"
    out.write_text("x")
    _no_work(monkeypatch)
    src = tmp_path / "in.npz"
    src.write_bytes(b"")
    extra = ["--behavior", "position"] if command == "decode" else []
    code, err = _run([command, src, *extra, "--out", out], capsys)
    assert code == 3 and "--out must be a folder" in _last_line(err), err


def test_huge_bin_count_refused_before_allocating(spikes_npz, tmp_path, capsys):
    code, err = _run(
        ["assemblies", spikes_npz, "--bin-width", "1e-9", "--out", tmp_path / "o"],
        capsys,
    )
    assert code == 3, err
    line = _last_line(err)
    assert "--bin-width must be wide enough" in line and "GiB" in line, line
    with pytest.raises(nm.InputError, match="fit in memory"):
        bin_spikes(np.array([0.0, 600.0]), np.array([0, 1]), 1e-12)


def test_nan_spike_times_refused(tmp_path, capsys):
    src = tmp_path / "nan.npz"
    np.savez(src, spike_times=[0.1, 0.5, np.nan], spike_unit=[0, 1, 0])
    code, err = _run(
        ["assemblies", src, "--bin-width", "0.1", "--out", tmp_path / "o"], capsys
    )
    assert code == 3, err
    assert "spike_times must be finite" in _last_line(err)
    with pytest.raises(nm.InputError, match="finite"):
        nm.io.load_activity(src, align=[0.2], window=(0.0, 0.5))


def test_truncated_tiff_exits_3(movie_npy, tmp_path, capsys):
    import tifffile

    full = tmp_path / "full.tif"
    tifffile.imwrite(full, np.load(movie_npy).astype("uint16"))
    cut = tmp_path / "cut.tif"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    code, err = _run(["segment", cut, "--out", tmp_path / "o"], capsys)
    assert code == 3 and "truncated" in _last_line(err), err


def test_object_npy_exits_3(tmp_path, capsys):
    src = tmp_path / "obj.npy"
    np.save(src, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    before = sha256(src)
    code, err = _run(["segment", src, "--out", tmp_path / "o"], capsys)
    assert code == 3 and "no pickled objects" in _last_line(err), err
    assert sha256(src) == before


def test_demo_negative_seed_exits_3(tmp_path, capsys):
    code, err = _run(["demo", "--seed", "-1", "--out", tmp_path / "d"], capsys)
    assert code == 3, err
    assert "--seed must be an integer >= 0" in _last_line(err)
    assert not (tmp_path / "d").exists()


def test_full_disk_exits_3_with_one_line(emg_csv, tmp_path, capsys, monkeypatch):
    import neuronmf.io as nio

    def full(ds, path, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(nio, "save_nwb", full)
    argv = ["synergies", emg_csv, "--rank", "2", "--restarts", "1"]
    code, err = _run([*argv, "--out", tmp_path / "o"], capsys)
    assert code == 3, err
    line = _last_line(err)
    assert "No space left on device" in line and "Free some space" in line
    assert "Traceback" not in err


def test_memory_error_exits_3(tmp_path, capsys, monkeypatch):
    from neuronmf.cli import segment

    def huge(args):
        raise MemoryError("Unable to allocate 3.6 TiB")

    monkeypatch.setattr(segment, "run", huge)
    code, err = _run(["segment", "m.npy", "--out", tmp_path / "o"], capsys)
    assert code == 3 and "not enough memory" in _last_line(err), err


def test_a_bug_still_exits_1(tmp_path, capsys, monkeypatch):
    from neuronmf.cli import segment

    monkeypatch.setattr(segment, "run", lambda args: 1 / 0)
    code, err = _run(["segment", "m.npy", "--out", tmp_path / "o"], capsys)
    assert code == 1 and "unexpected error: ZeroDivisionError" in err


# ------------------------------------------------------ synergies output folder
def test_synergies_rerun_replaces_its_nwb(emg_csv, tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["synergies", emg_csv, "--rank", "2", "--restarts", "1", "--out", out]
    for _ in range(2):
        code, err = _run(argv, capsys)
        assert code == 0, err
    with h5py.File(out / "synergies.nwb", "r") as f:
        assert sorted(f["processing"]) == ["synergies"]  # no synergies_2
    assert nm.io.load_result(out / "synergies.nwb")["synergies"].shape == (6, 2)


@pytest.mark.parametrize("kind", ["text", "folder"])
def test_foreign_file_at_result_path_exits_3(
    kind, emg_csv, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "o"
    out.mkdir()
    target = out / "synergies.nwb"
    if kind == "text":
        target.write_text("my notes")
    else:
        target.mkdir()
    _no_work(monkeypatch)
    code, err = _run(["synergies", emg_csv, "--out", out], capsys)
    assert code == 3, err
    assert "must be absent or an earlier neuronmf result" in _last_line(err)
    if kind == "text":
        assert target.read_text() == "my notes"


# ------------------------------------------------------------------ Ctrl-C
def test_interrupt_exits_130_with_one_line(tmp_path, capsys, monkeypatch):
    from neuronmf.cli import segment

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(segment, "run", interrupted)
    code, err = _run(["segment", "m.npy", "--out", tmp_path / "o"], capsys)
    assert code == 130
    assert err.strip() == "neuronmf segment: interrupted"


def test_interrupt_swallowed_by_a_finalizer_still_exits_130(
    tmp_path, capsys, monkeypatch
):
    """A Ctrl-C landing in a weakref callback is only "ignored" by Python."""
    from neuronmf.cli import segment

    class Obj:
        pass

    def work(args):
        obj = Obj()
        ref = weakref.ref(obj, lambda r: signal.raise_signal(signal.SIGINT))
        del obj  # the callback runs: SIGINT -> KeyboardInterrupt inside it
        for _ in range(200):
            time.sleep(0.005)  # the re-delivered interrupt stops this
        assert ref() is None
        return 0

    monkeypatch.setattr(segment, "run", work)
    code, err = _run(["segment", "m.npy", "--out", tmp_path / "o"], capsys)
    assert code == 130
    assert err.strip() == "neuronmf segment: interrupted"  # no "Exception ignored"


def test_in_process_main_restores_the_sigint_handler(tmp_path, capsys):
    before = signal.getsignal(signal.SIGINT)
    _run(["demo", "--seed", "-1", "--out", tmp_path / "d"], capsys)
    assert signal.getsignal(signal.SIGINT) is before


def test_ctrl_c_at_random_times_always_exits_130(movie_npy, tmp_path):
    """SIGINT at 15 random delays over start-up and work: 130, one line, always.

    The first ~0.1 s of a process (the interpreter starting, before any code of
    neuronmf runs) is Python's own and is not sampled; on a loaded machine it
    can last past 0.3 s, so a run interrupted before ``main`` began (Python's
    traceback, no frame of ``main``) is not counted either. A run that finished
    before its signal (exit 0 with its results written) is allowed, not counted.
    """
    exe = shutil.which("neuronmf")
    base = (
        [exe]
        if exe
        else [
            sys.executable,
            "-c",
            "import sys; from neuronmf.cli.main import main; sys.exit(main())",
        ]
    )
    env = {**os.environ, "MPLBACKEND": "Agg"}
    rng = random.Random(21)
    outcomes = []
    for i in range(15):
        delay = rng.uniform(0.3, 3.0)
        proc = subprocess.Popen(
            [
                *base,
                "segment",
                str(movie_npy),
                "--out",
                str(tmp_path / f"o{i}"),
                "--no-progress",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        outcomes.append((round(delay, 2), proc.returncode))
        if proc.returncode == 0:
            assert "results in" in out, (delay, out, err)  # finished first
            continue
        early = proc.returncode in (1, -signal.SIGINT)  # site / import of main
        if early and err.rstrip().endswith("KeyboardInterrupt"):
            if not re.search(r"neuronmf.cli.main\.py\", line \d+, in main\n", err):
                outcomes[-1] = (round(delay, 2), "before main")  # Python's start
                continue
        assert proc.returncode == 130, (delay, proc.returncode, err)
        assert err.strip() == "neuronmf segment: interrupted", (delay, err)
    assert sum(code == 130 for _, code in outcomes) >= 10, outcomes


# ------------------------------------------------ corrupt checkpoints -> InputError
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    V = np.random.default_rng(0).random((20, 30))
    path = tmp_path_factory.mktemp("ckpt") / "fit.npz"
    nm.nmf(V, 3, seed=1, max_iter=20, checkpoint=path)
    return V, path


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _checkpoint_variants(path: Path) -> dict[str, bytes]:
    raw = path.read_bytes()
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    fp = str(arrays.pop("__fingerprint__"))
    garbled = bytearray(raw)
    garbled[len(raw) // 2 : len(raw) // 2 + 64] = b"x" * 64
    no_w = {k: v for k, v in arrays.items() if k != "W"}
    one = io.BytesIO()
    np.save(one, np.zeros(3))
    return {
        "truncated": raw[: len(raw) // 2],
        "empty": b"",
        "garbled": bytes(garbled),
        "no fingerprint": _npz(**arrays),
        "malformed JSON": _npz(__fingerprint__="{bad", **arrays),
        "deeply nested JSON": _npz(__fingerprint__="[" * 100_000 + "]" * 100_000),
        "fingerprint not an object": _npz(__fingerprint__="5", **arrays),
        "missing W": _npz(__fingerprint__=fp, **no_w),
        "a .npy array": one.getvalue(),
    }


@pytest.mark.parametrize(
    "variant",
    [
        "truncated",
        "empty",
        "garbled",
        "no fingerprint",
        "malformed JSON",
        "deeply nested JSON",
        "fingerprint not an object",
        "missing W",
        "a .npy array",
    ],
)
def test_corrupt_checkpoint_is_input_error(variant, checkpoint, tmp_path):
    V, good = checkpoint
    bad = tmp_path / "bad.npz"
    bad.write_bytes(_checkpoint_variants(good)[variant])
    before = sha256(bad)
    with pytest.raises(nm.InputError, match=r"the checkpoint .*bad\.npz must be"):
        nm.nmf(V, 3, seed=1, max_iter=30, checkpoint=bad, resume=True)
    assert sha256(bad) == before


# --------------------------------------------- crafted NetCDF / NWB -> InputError
def _mutated(src: Path, dst: Path, fn) -> Path:
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        fn(f)
    return dst


def _set_attr(obj_path: str, key: str, value: str):
    return lambda f: f[obj_path].attrs.__setitem__(key, value)


NETCDF_CASES = {
    "malformed JSON attr": ("ds", _set_attr("/", "d", "{bad")),
    "deeply nested JSON attr": (
        "ds",
        _set_attr("/", "d", "[" * 100_000 + "]" * 100_000),
    ),
    "malformed JSON index": ("ds", _set_attr("/", "_neuronmf_json", "{bad")),
    "index names a missing attr": ("ds", _set_attr("/", "_neuronmf_json", '["nope"]')),
    "index not a list": ("ds", _set_attr("/", "_neuronmf_json", "5")),
    "DataArray flag names a missing variable": (
        "da",
        _set_attr("/", "_neuronmf_dataarray", "nope"),
    ),
}


@pytest.mark.parametrize("case", list(NETCDF_CASES))
def test_crafted_netcdf_is_input_error(case, tmp_path):
    kind, fn = NETCDF_CASES[case]
    if kind == "ds":
        obj = xr.Dataset({"a": (("x",), np.arange(3.0))}, attrs={"d": {"k": [1]}})
    else:
        obj = xr.DataArray(np.arange(3.0), dims="x", name="v")
    good = nm.io.save_netcdf(obj, tmp_path / "good.nc")
    bad = _mutated(good, tmp_path / "bad.nc", fn)
    with pytest.raises(nm.InputError, match=r"file .*bad\.nc must be a result"):
        nm.io.load_result(bad)


@pytest.fixture(scope="module")
def synergy_nwb(tmp_path_factory):
    ds = xr.Dataset(
        {
            "synergies": (
                ("muscle", "synergy"),
                np.random.default_rng(0).random((4, 2)),
            ),
            "activations": (
                ("synergy", "time"),
                np.random.default_rng(1).random((2, 50)),
            ),
        },
        coords={"muscle": ["TA", "SO", "GM", "VL"], "time": np.arange(50) / 100},
    )
    return nm.io.save_nwb(ds, tmp_path_factory.mktemp("nwb") / "good.nwb")


def _provenance(info) -> str:
    return "Provenance (JSON): " + (info if isinstance(info, str) else json.dumps(info))


@pytest.mark.parametrize(
    "case",
    ["deep JSON", "no kind", "attrs not a dict", "not an object", "missing variable"],
)
def test_crafted_nwb_is_input_error(case, synergy_nwb, tmp_path):
    with h5py.File(synergy_nwb, "r") as f:
        desc = f["processing/synergies"].attrs["description"]
    info = json.loads(desc.split("Provenance (JSON): ", 1)[1])
    if case == "missing variable":

        def fn(f):
            module = f["processing/synergies"]
            del module[next(k for k in module if "ctivation" in k)]

    else:
        crafted = {
            "deep JSON": "[" * 100_000 + "]" * 100_000,
            "no kind": {"writer": "neuronmf.io.save_nwb"},
            "attrs not a dict": {**info, "attrs": 5},
            "not an object": "5",
        }[case]
        fn = _set_attr("processing/synergies", "description", _provenance(crafted))
    bad = _mutated(synergy_nwb, tmp_path / "bad.nwb", fn)
    with pytest.raises(nm.InputError, match=r"bad\.nwb"):
        nm.io.load_result(bad)


def test_crafted_netcdf_through_the_cli_exits_3(tmp_path, capsys):
    da = xr.DataArray(np.ones((20, 3)), dims=("time", "neuron"), name="v")
    good = nm.io.save_netcdf(da, tmp_path / "good.nc")
    bad = _mutated(good, tmp_path / "bad.nc", _set_attr("/", "_neuronmf_json", "{"))
    code, err = _run(["assemblies", bad, "--out", tmp_path / "o"], capsys)
    assert code == 3 and "bad.nc must be a result" in _last_line(err), err


def test_exit_codes_are_documented():
    doc = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    for code in (cli.EXIT_OK, cli.EXIT_BUG, cli.EXIT_USAGE, cli.EXIT_BAD_INPUT):
        assert f"| **{code}** |" in doc
    assert f"| **{cli.EXIT_INTERRUPTED}** |" in doc
    assert "full disk" in doc and "synergies_2" in doc


def _frame_in(*parts: str):
    """A frame whose code seems to come from the file ``/site-packages/<parts>``."""
    path = os.path.join(os.sep, "site-packages", *parts)
    namespace: dict = {}
    exec(compile("import sys\nframe = sys._getframe()", path, "exec"), namespace)
    return namespace["frame"]


def test_ctrl_c_is_held_only_where_llvmlite_keeps_its_books(monkeypatch):
    """A Ctrl-C inside llvmlite's bindings is held; in Numba's pipeline it is raised.

    Raised in the LLVM lock's release callback right after ``LLVMPY_LinkModules``
    (which destroys its source module), it skipped ``src.detach()`` and the
    garbage collector later freed the module twice: SIGSEGV instead of exit 130.
    Held, it is raised again once Python is back outside llvmlite. Numba's own
    Python (type inference, lowering) holds nothing that breaks: raised at once.
    """
    from neuronmf.cli import main as cli_main

    later = []
    monkeypatch.setattr(cli_main, "_redeliver_later", later.append)
    state = {"interrupted": False, "done": False}
    handler = cli_main._interrupt_handler(state)
    for held in (
        _frame_in("llvmlite", "binding", "linker.py"),
        _frame_in("numba", "core", "caching.py"),
        _frame_in("numba", "core", "compiler_lock.py"),
    ):
        handler(signal.SIGINT, held)  # held: no KeyboardInterrupt here
        assert state["interrupted"] and state["delivered"] is False
    assert later == [state] * 3
    for raised in (
        _frame_in("numba", "core", "compiler.py"),
        _frame_in("numba", "core", "typeinfer.py"),
        _frame_in("llvmlite", "ir", "builder.py"),
        sys._getframe(),
    ):
        state.pop("outcome", None)
        with pytest.raises(KeyboardInterrupt):
            handler(signal.SIGINT, raised)
        assert state["delivered"] is True


_LINK_MODULES_INTERRUPTED = """
import gc, signal, sys, time
import numba
from llvmlite.binding import ffi
from neuronmf.cli import main as cli

state = {"interrupted": False, "done": False, "args": None}
signal.signal(signal.SIGINT, cli._interrupt_handler(state))
fired = []

def acquired():
    pass

def released():  # the LLVM lock's callback, right after each C call
    call = sys._getframe(2).f_locals.get("self")
    name = getattr(getattr(call, "_cfn", None), "__name__", "")
    if name == "LLVMPY_LinkModules" and not fired:
        fired.append(name)
        signal.raise_signal(signal.SIGINT)  # as a Ctrl-C during that C call

ffi.register_lock_callback(acquired, released)

@numba.njit
def add_one(x):
    return x + 1

try:
    add_one(1)
    for _ in range(300):
        time.sleep(0.01)
    print("never raised")
except KeyboardInterrupt:
    print("interrupted")
state["done"] = True
ffi.unregister_lock_callback(acquired, released)
gc.collect()  # the crash was here: a destroyed module disposed of again
print("collected", fired)
"""


def test_ctrl_c_during_link_modules_does_not_crash(tmp_path):
    """The SIGSEGV, made deterministic: a Ctrl-C arriving during LinkModules."""
    proc = subprocess.run(
        [sys.executable, "-c", _LINK_MODULES_INTERRUPTED],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)},
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.split() == [
        "interrupted",
        "collected",
        "['LLVMPY_LinkModules']",
    ], proc.stdout


_LONG_LLVM_CALL = """
import os, sys, time
from pathlib import Path
from neuronmf.cli import main as cli, segment
from neuronmf.io._atomic import atomic_path

def run(args):
    with atomic_path(Path(args.out) / "segmentation.nc") as tmp:
        tmp.write_bytes(b"half written")
        print("writing", flush=True)
        path = os.path.join(os.sep, "site-packages", "llvmlite", "binding", "x.py")
        # stands for one long LLVM call: Python gets no chance to raise in it
        exec(compile("time.sleep(60)", path, "exec"), {"time": time})
    return 0

segment.run = run
sys.exit(cli.main())
"""


def _popen(code: str, *args, **env):
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg", **env},
    )


def _interrupt(proc, limit: float = 20.0) -> tuple[str, float]:
    """Send SIGINT; the child's stderr and the seconds until it ended."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"still running {limit:g} s after the Ctrl-C")
    return err, time.monotonic() - sent


def test_ctrl_c_held_in_a_long_llvm_call_exits_130_promptly(tmp_path):
    """Held too long, the program ends itself: 130, one line, no temporary file."""
    out = tmp_path / "o"
    out.mkdir()
    theirs = out / ".other.nmf-1-0123abcd-x1.tmp.nc"  # another writer's: kept
    theirs.write_bytes(b"not ours")
    proc = _popen(_LONG_LLVM_CALL, "segment", "m.npy", "--out", out)
    assert proc.stdout.readline().strip() == "writing"
    err, took = _interrupt(proc)
    assert proc.returncode == 130, (proc.returncode, err)
    assert err.strip() == "neuronmf segment: interrupted", err
    assert took < 5.0, took
    assert sorted(p.name for p in out.iterdir()) == [theirs.name]  # ours removed


def test_ctrl_c_during_cold_compilation_exits_within_seconds(movie_npy, tmp_path):
    """A Ctrl-C while Numba compiles the kernels (a cold cache) stops the run.

    Holding it until the compilation ended took up to 60 s; now it is raised
    in Numba's Python pipeline at once, and inside a long LLVM call the program
    ends itself after half a second.
    """
    cache = tmp_path / "numba-cache"
    out = tmp_path / "o"
    launcher = "import sys; from neuronmf.cli.main import main; sys.exit(main())"
    proc = _popen(
        launcher,
        "segment",
        movie_npy,
        "--out",
        out,
        "--no-progress",
        NUMBA_CACHE_DIR=str(cache),
    )
    maps, start = Path(f"/proc/{proc.pid}/maps"), time.monotonic()
    while maps.exists() and "llvmlite" not in maps.read_text():  # Numba imported
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - start < 60, "Numba not imported after 60 s"
        time.sleep(0.05)
    time.sleep(2.0)  # compiling the kernels (20-60 s with a cold cache)
    assert proc.poll() is None, proc.communicate()
    err, took = _interrupt(proc)
    assert proc.returncode == 130, (proc.returncode, err)
    assert err.strip() == "neuronmf segment: interrupted", err
    assert took < 6.0, took
    leftovers = [p.name for p in out.iterdir()] if out.exists() else []
    assert leftovers == [], leftovers
