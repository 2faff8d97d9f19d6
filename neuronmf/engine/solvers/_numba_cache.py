"""The ``njit`` decorator of the kernel modules: Numba's on-disk cache, never fatal.

Numba's ``cache=True`` makes two failures fatal for every fit:

* no writable cache location (read-only install, container, HPC node with a
  read-only ``NUMBA_CACHE_DIR``): ``RuntimeError: cannot cache function ...: no
  locator available`` when the kernel module is imported;
* a corrupt cache entry (truncated or overwritten ``.nbi`` index or ``.nbc``
  data file): ``UnpicklingError`` (or ``EOFError``, ...) on every later call until
  the file is deleted by hand.

:func:`njit` is ``numba.njit`` with a guarded cache instead. Where Numba finds no
cache location the kernels are compiled uncached (once per process) with one
:class:`NumbaCacheWarning`; an entry that fails to load is discarded, the kernel
recompiled and the entry rewritten, with one warning; a cache that cannot be
written is switched off for the function, with one warning. Everything else is
Numba's: the same locations (``NUMBA_CACHE_DIR``, else ``__pycache__`` beside the
source, else the user-wide cache directory), the same files, the same keys.

Like the kernels, this module imports nothing from neuronmf (only numba and the
standard library), so the kernel modules stay free of package imports.
"""

from __future__ import annotations

import os
import warnings

import numba
from numba.core.caching import FunctionCache, NullCache
from numba.core.dispatcher import Dispatcher

__all__ = ["NumbaCacheWarning", "njit"]


class NumbaCacheWarning(RuntimeWarning):
    """Numba's on-disk cache could not be used; kernels were compiled anyway."""


#: Kinds of cache trouble already reported in this process (one warning each).
_WARNED: set[str] = set()


def _warn_once(kind: str, message: str, stacklevel: int = 3) -> None:
    if kind in _WARNED:
        return
    _WARNED.add(kind)
    warnings.warn(message, NumbaCacheWarning, stacklevel=stacklevel)


class _GuardedCache(FunctionCache):
    """Numba's function cache whose load and save errors are not fatal."""

    def load_overload(self, sig, target_context):
        try:
            return super().load_overload(sig, target_context)
        except Exception as exc:  # any unreadable entry: discard it and recompile
            _warn_once(
                "corrupt",
                f"Numba cache entry for {self._py_func.__qualname__} in "
                f"{self.cache_path!r} could not be loaded ({type(exc).__name__}: "
                f"{exc}); it was discarded and the kernel recompiled. Delete the "
                "directory's .nbi/.nbc files if this repeats.",
            )
            try:
                self.flush()  # an empty index: the recompiled entry replaces it
            except Exception:
                self.disable()
            return None

    def save_overload(self, sig, data):
        try:
            super().save_overload(sig, data)
        except Exception as exc:  # read-only, full or vanished cache directory
            self.disable()
            _warn_once(
                "save",
                f"Numba cache in {self.cache_path!r} cannot be written "
                f"({type(exc).__name__}: {exc}); kernels are compiled in every "
                "new process. Set NUMBA_CACHE_DIR to a writable directory.",
            )


def cache_for(py_func) -> FunctionCache | NullCache:
    """The cache a kernel gets: guarded when Numba finds a location, else none."""
    try:
        return _GuardedCache(py_func)
    except Exception as exc:  # "no locator available" (or an unreadable source)
        _warn_once(
            "unavailable",
            "Numba found no writable cache directory (NUMBA_CACHE_DIR="
            f"{os.environ.get('NUMBA_CACHE_DIR', '<unset>')!r}, the package's "
            "__pycache__ and the user cache directory were tried: "
            f"{exc}); the kernels are compiled without a cache, in every new "
            "process. Set NUMBA_CACHE_DIR to a writable directory you trust to "
            "keep them.",
            stacklevel=5,  # the kernel's decorator line
        )
        return NullCache()


def njit(signatures=None, /, *, cache: bool = False, **options):
    """``numba.njit`` whose ``cache=True`` falls back instead of failing.

    Used exactly like ``numba.njit``: ``@njit``, ``@njit(**options)`` or
    ``@njit(signatures, **options)`` (signatures are compiled eagerly, and no
    other signature is compiled later, as with Numba).
    """
    if callable(signatures) and not isinstance(signatures, (str, list, tuple)):
        return njit(cache=cache, **options)(signatures)

    def decorate(func):
        disp = numba.njit(**options)(func)  # lazy and uncached
        if not isinstance(disp, Dispatcher):  # NUMBA_DISABLE_JIT=1
            return disp
        if cache:
            disp._cache = cache_for(disp.py_func)
        if signatures is not None:
            from numba.core import typeinfer

            sigs = [signatures] if isinstance(signatures, str) else list(signatures)
            with typeinfer.register_dispatcher(disp):
                for sig in sigs:
                    disp.compile(sig)
            disp.disable_compile()
        return disp

    return decorate
