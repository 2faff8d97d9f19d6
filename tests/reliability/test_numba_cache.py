"""Numba's on-disk cache is never a point of failure (issue 21, defect 5).

Every scenario runs in a fresh interpreter (a subprocess), since Numba decides
about its cache when a kernel module is imported. "No cache location" is made
reliable even as root (where permission bits stop nothing): ``NUMBA_CACHE_DIR``,
``HOME`` and ``XDG_CACHE_HOME`` point below a regular *file*, so no directory can
be created there, and the package copy's ``__pycache__`` is a regular file.

Runtimes here (2 shared cores): the tiny-module test ~5 s; the corrupt-entry
test ~15 s (a warm cache copied, two small kernels recompiled); the read-only
install test compiles the KL kernel module uncached, ~15 s of CPU (marked slow).
"""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import neuronmf

PACKAGE = Path(neuronmf.__file__).parent
SOLVERS = PACKAGE / "engine" / "solvers"
WARNING = "NumbaCacheWarning"


def _run(code: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    full = {**os.environ, **env, "PYTHONWARNINGS": "default"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _no_location_env(tmp_path: Path) -> dict:
    blocker = tmp_path / "blocker"  # a regular file: nothing can be created below it
    blocker.write_text("")
    return {
        "NUMBA_CACHE_DIR": str(blocker / "numba"),
        "HOME": str(blocker / "home"),
        "XDG_CACHE_HOME": str(blocker / "xdg"),
    }


TINY = """
import numpy as np
from neuronmf.engine.solvers._numba_cache import njit


@njit("float64(float64[::1])", cache=True, nogil=True)
def total(x):
    s = 0.0
    for v in x:
        s += v
    return s


@njit(cache=True)
def double(x):
    return 2.0 * x
"""

USE_TINY = """
import numpy as np
import tinykernels as T
print("RESULT", T.total(np.arange(5.0)), T.double(1.5))
"""


def test_no_cache_location_compiles_uncached_with_one_warning(tmp_path):
    mod = tmp_path / "mod"
    mod.mkdir()
    (mod / "tinykernels.py").write_text(TINY)
    (mod / "__pycache__").write_text("")  # the in-tree location cannot be made
    env = {**_no_location_env(tmp_path), "PYTHONPATH": str(mod)}
    out = _run(USE_TINY, tmp_path, env)
    assert out.returncode == 0, out.stderr
    assert "RESULT 10.0 3.0" in out.stdout
    assert out.stderr.count(WARNING) == 1, out.stderr
    assert "no writable cache directory" in out.stderr
    assert "NUMBA_CACHE_DIR" in out.stderr


def test_a_writable_location_is_used_silently(tmp_path):
    mod = tmp_path / "mod"
    mod.mkdir()
    (mod / "tinykernels.py").write_text(TINY)
    env = {"PYTHONPATH": str(mod), "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    for _ in range(2):  # compile and save, then load
        out = _run(USE_TINY, tmp_path, env)
        assert out.returncode == 0, out.stderr
        assert WARNING not in out.stderr, out.stderr
    assert list((tmp_path / "cache").rglob("tinykernels.total-*.nbi"))


def _live_entries() -> tuple[str, ...]:
    from neuronmf.engine.solvers import _hals_kernels

    return tuple(
        _entry(name) + "."
        for name in dir(_hals_kernels)
        if hasattr(getattr(_hals_kernels, name), "_cache")
    )


def _warm_cache_copy(tmp_path: Path) -> Path:
    """The package's compiled HALS kernels, copied into a private NUMBA_CACHE_DIR."""
    from numba.core.caching import _CacheLocator

    source = SOLVERS / "_hals_kernels.py"
    cache_dir = tmp_path / "cache"
    target = cache_dir / _CacheLocator.get_suitable_cache_subpath(str(source))
    target.mkdir(parents=True)
    env = {"NUMBA_CACHE_DIR": str(cache_dir)}
    files = list((SOLVERS / "__pycache__").glob("_hals_kernels.*.nb[ic]"))
    files = [f for f in files if f.name.startswith(_live_entries())]
    for f in files:
        shutil.copy2(f, target / f.name)
    if not files:  # no in-tree cache (NUMBA_CACHE_DIR set): compile once into it
        out = _run("import neuronmf.engine.solvers._hals_kernels", tmp_path, env)
        assert out.returncode == 0, out.stderr
    return target


def _entry(name: str) -> str:
    """File name base of a HALS kernel's cache entries (name-line.pyXY)."""
    from neuronmf.engine.solvers import _hals_kernels

    line = getattr(_hals_kernels, name).py_func.__code__.co_firstlineno
    v = sys.version_info
    return f"_hals_kernels.{name}-{line}.py{v.major}{v.minor}{sys.abiflags}"


FIT = """
import numpy as np
import neuronmf as nm
V = np.random.default_rng(0).random((8, 30))
res = nm.nmf(V, 2, max_iter=2, seed=0)
print("RESULT", bool(np.isfinite(res.W).all()), res.W.shape)
"""


def test_corrupt_cache_entry_is_rebuilt_with_one_warning(tmp_path):
    target = _warm_cache_copy(tmp_path)
    env = {"NUMBA_CACHE_DIR": str(target.parent)}
    # a garbage index for one kernel, a garbage data file for another
    index = target / f"{_entry('entries_squares')}.nbi"
    index.write_bytes(b"\x80\x04garbage, not a pickle")
    data = target / f"{_entry('greedy_colouring')}.1.nbc"
    data.write_bytes(os.urandom(64))
    out = _run(FIT, tmp_path, env)
    assert out.returncode == 0, out.stderr  # was UnpicklingError at import
    assert "RESULT True (8, 2)" in out.stdout
    assert out.stderr.count(WARNING) == 1, out.stderr
    assert "could not be loaded" in out.stderr
    # the entries were rewritten: the next process loads them without a warning
    again = _run(FIT, tmp_path, env)
    assert again.returncode == 0, again.stderr
    assert WARNING not in again.stderr, again.stderr
    assert b"garbage" not in index.read_bytes()


@pytest.mark.slow
def test_read_only_install_imports_kernels_with_one_warning(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(
        PACKAGE, site / "neuronmf", ignore=shutil.ignore_patterns("__pycache__")
    )
    (site / "neuronmf" / "engine" / "solvers" / "__pycache__").write_text("")
    env = {**_no_location_env(tmp_path), "PYTHONPATH": str(site)}
    code = """
    import numpy as np
    import neuronmf
    from neuronmf.engine.solvers import _kl_kernels as K
    assert neuronmf.__file__.startswith(SITE), neuronmf.__file__
    X = np.ascontiguousarray(np.arange(6.0).reshape(2, 3))
    indptr, indices, values = K.active_rows(X, np.ones((1, 1), np.uint8), False)
    print("RESULT", indptr.tolist(), values.tolist())
    """.replace("SITE", repr(str(site)))
    out = _run(code, tmp_path, env)  # was: RuntimeError ... no locator available
    assert out.returncode == 0, out.stderr
    assert "RESULT [0, 2, 5] [1.0, 2.0, 3.0, 4.0, 5.0]" in out.stdout
    assert out.stderr.count(WARNING) == 1, out.stderr


def test_every_kernel_has_a_guarded_cache():
    from numba.core.caching import NullCache

    from neuronmf.engine.solvers import _hals_kernels, _kl_kernels
    from neuronmf.engine.solvers._numba_cache import _GuardedCache

    kernels = [
        getattr(mod, name)
        for mod in (_hals_kernels, _kl_kernels)
        for name in dir(mod)
        if hasattr(getattr(mod, name), "_cache")
    ]
    assert len(kernels) > 20
    for k in kernels:
        assert isinstance(k._cache, (_GuardedCache, NullCache)), k
