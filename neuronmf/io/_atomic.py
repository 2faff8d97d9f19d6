"""One atomic-write helper for every file neuronmf writes.

The output is built in a temporary file beside the destination and moved over it
with :func:`os.replace` only once complete, so a crash never leaves a half-written
file where a good one was. A new file ends with the mode an ordinary ``open()``
would give it (``0o666 & ~umask``: 0644 under the usual umask 022, 0600 under
077); :func:`tempfile.mkstemp` alone would leave every output 0600.

Temporary files are named ``.<name>.nmf-<pid>-<host>-<random>.tmp<suffix>``
(``<host>``: 8 hex digits identifying this machine and PID namespace). A process
killed mid-write (``kill -9``, power cut) leaves its temporary file behind; the
next write into the same folder removes such leftovers when their writer is
provably gone (same host, process no longer running) or when they have not been
touched for :data:`STALE_TEMP_SECONDS`. A live writer's temporary file is never
removed, and nothing that does not match this exact pattern is ever touched.

Extending an existing file (``copy_existing=True``: copy, extend, rename) holds an
exclusive advisory lock (:func:`file_lock`, ``fcntl.flock`` on a sidecar
``.<name>.nmf-lock`` that is removed on release) from before the copy until after
the rename, so two processes adding to one file both land, one after the other.

Running out of space is reported before anything is written when the size is
known (``size_hint``) and, when it happens during the write, as an
:class:`~neuronmf.errors.InputError` naming the folder, the space needed and the
space free; the temporary file is removed and the destination left as it was.

Usage (every writer in the package goes through one of these two):

- :func:`atomic_path` — a context manager for writers that create the file
  themselves (HDF5/NetCDF, pynwb, ``np.savez``, ``fig.savefig``)::

      from neuronmf.io._atomic import atomic_path

      with atomic_path(target) as tmp:   # tmp: beside target, not yet created
          fig.savefig(tmp)               # keeps target's suffix
      # renamed over target on success (mode 0o666 & ~umask); removed on failure

  ``copy_existing=True`` starts from a copy of ``target`` (to extend it, under
  :func:`file_lock`); ``size_hint=`` checks the free space first.
- :func:`write_atomic` — bytes or text already in memory
  (``write_atomic(out / "summary.txt", text)``).

Results are saved with :func:`neuronmf.io.save_netcdf` and
:func:`neuronmf.io.save_nwb`, which use these and also encode the attributes.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "atomic_path",
    "clean_stale_temps",
    "current_umask",
    "default_file_mode",
    "file_lock",
    "write_atomic",
]

#: Leftover temporary files untouched for this long are removed whatever their
#: owner (covers writers on other hosts, where liveness cannot be checked).
STALE_TEMP_SECONDS = 24 * 3600.0
#: How long a writer waits for another process's lock on the same file.
LOCK_TIMEOUT_SECONDS = 600.0
_TEMP_RE = re.compile(
    r"^\..+\.nmf-(?P<pid>\d+)-(?P<host>[0-9a-f]{8})-[a-z0-9_]+\.tmp(\.[^.]*)?$"
)
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_MB = 1 << 20
_held = threading.local()  # per thread: {lock path: [fd, depth]}


def _host_tag() -> str:
    """8 hex digits naming this host and PID namespace (where PIDs mean something)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    text = f"{socket.gethostname()}|{namespace}"
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not ours to judge: keep
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: exists, owned by someone else
        return True
    return True


def clean_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Remove leftover neuronmf temporary files in ``folder``; return those removed.

    Only names matching neuronmf's own temporary pattern are considered, and of
    those only files whose writing process is gone (same host and PID namespace,
    PID not running) or that have not been modified for
    :data:`STALE_TEMP_SECONDS`. Errors (a file vanishing, no permission) are
    ignored: cleaning is best effort and never fails a write.

    Examples
    --------
    >>> import tempfile
    >>> clean_stale_temps(tempfile.mkdtemp())
    []
    """
    removed: list[Path] = []
    me, host, now = os.getpid(), _host_tag(), time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_RE.match(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not entry.is_file(follow_symlinks=False):
            continue
        pid = int(match["pid"])
        gone = match["host"] == host and pid != me and not _pid_alive(pid)
        if gone or now - info.st_mtime > STALE_TEMP_SECONDS:
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:
                pass
    return removed


def _lock_name(path: Path) -> Path:
    return path.parent / f".{path.name}.nmf-lock"


@contextlib.contextmanager
def file_lock(
    path: str | os.PathLike, *, timeout: float | None = None
) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` for the ``with`` block.

    The lock is ``fcntl.flock`` on a sidecar file ``.<name>.nmf-lock`` beside
    ``path``, created on demand and removed on release (a lock left by a killed
    process is released by the kernel and its sidecar reused). Re-entrant within a
    thread; other threads and processes wait. Where ``fcntl`` does not exist
    (Windows) the block runs unlocked.

    Parameters
    ----------
    path : path-like
        The file to guard (it need not exist yet).
    timeout : float, optional
        Seconds to wait for another holder; default :data:`LOCK_TIMEOUT_SECONDS`.

    Raises
    ------
    TimeoutError
        When another process holds the lock for longer than ``timeout``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "session.nwb"
    >>> with file_lock(target):
    ...     _ = target.write_text("one writer at a time")
    >>> sorted(p.name for p in target.parent.iterdir())
    ['session.nwb']
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    lock = _lock_name(Path(os.path.abspath(path)))
    held = getattr(_held, "locks", None)
    if held is None:
        held = _held.locks = {}
    key = str(lock)
    if key in held:  # re-entrant within this thread
        held[key][1] += 1
        try:
            yield
        finally:
            held[key][1] -= 1
        return
    timeout = LOCK_TIMEOUT_SECONDS if timeout is None else float(timeout)
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except PermissionError:  # another user's sidecar: flock works read-only
            fd = os.open(lock, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{path} is being written by another process (lock {lock} held "
                    f"for more than {timeout:g} s). Wait for that process to finish "
                    "and retry, or write to another file."
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
            continue
        try:  # the sidecar we locked must still be the one at that name
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # a releasing holder unlinked it meanwhile: start over
    held[key] = [fd, 0]
    try:
        yield
    finally:
        del held[key]
        with contextlib.suppress(OSError):
            os.unlink(lock)  # unlink while still holding: waiters re-check
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _no_space(path: Path, needed: int | None, exc: BaseException | None = None):
    from neuronmf.errors import input_error

    folder = path.parent if str(path.parent) else Path(".")
    need = f"~{needed / _MB:.1f} MB" if needed else "more space"
    if exc is not None and _space_errno(exc) == errno.EFBIG:
        return input_error(
            f"the size of {path}",
            "within this process's file-size limit (ulimit -f)",
            f"{need} (File too large)",
            "Raise the limit or write a smaller result; nothing was written and "
            "any existing file is unchanged.",
        )
    free = _free_bytes(folder)
    have = "an unknown amount free" if free is None else f"{free / _MB:.1f} MB free"
    return input_error(
        f"free space in {folder}",
        f"enough to write {path.name} ({need})",
        f"{have} (no space left on device)",
        "Free some space or write to another folder; nothing was written and any "
        "existing file is unchanged.",
    )


def _space_errno(exc: BaseException) -> int | None:
    """ENOSPC, EDQUOT or EFBIG behind ``exc`` (also inside HDF5's messages)."""
    found = re.search(r"errno = (\d+)", str(exc))  # HDF5 quotes the OS error
    code = int(found[1]) if found else getattr(exc, "errno", None)
    if code not in _NO_SPACE and "No space left on device" in str(exc):
        code = errno.ENOSPC
    return code if code in _NO_SPACE else None


def current_umask() -> int:
    """The process's umask, read without changing it where the OS allows.

    Examples
    --------
    >>> 0 <= current_umask() <= 0o777
    True
    """
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no read-only API elsewhere: set and restore at once
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """``0o666 & ~umask``: the mode a newly created file gets from ``open()``.

    Examples
    --------
    >>> default_file_mode() & 0o111
    0
    """
    return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike,
    *,
    copy_existing: bool = False,
    size_hint: int | None = None,
    lock: bool = False,
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it over ``path`` on success.

    The temporary file does not exist when yielded (the writer creates it), unless
    ``copy_existing``, when it starts as a copy of ``path`` (mode included). On
    success a new file gets ``0o666 & ~umask``; a copied one keeps the original's
    mode. On any exception the temporary file is deleted and ``path`` is left as it
    was. The temporary name keeps ``path``'s suffix, so writers that infer the
    format from it (``savefig``) still work. Leftover temporary files of dead
    writers in the folder are removed first (:func:`clean_stale_temps`).

    Parameters
    ----------
    path : path-like
        Destination; its folder must exist.
    copy_existing : bool, default False
        Start from a copy of the existing ``path`` (to extend it). The copy,
        the extension and the rename happen under :func:`file_lock`, so
        concurrent extensions of one file are serialised, none lost.
    size_hint : int, optional
        Bytes about to be written (beyond the copy): checked against the free
        space before anything is written.
    lock : bool, default False
        Hold :func:`file_lock` on ``path`` even without ``copy_existing``.

    Raises
    ------
    InputError
        Not enough free space (before writing, or when the write fails with
        ``ENOSPC``/``EDQUOT``/``EFBIG``); nothing is left behind.
    TimeoutError
        Another process held the lock for longer than
        :data:`LOCK_TIMEOUT_SECONDS`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text(), target.stat().st_mode & 0o777 == default_file_mode()
    ('done', True)
    """
    from neuronmf.errors import input_error

    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise input_error(
            "the output folder",
            "an existing directory",
            str(folder),
            "Create the folder first.",
        )
    guard = file_lock(path) if (lock or copy_existing) else contextlib.nullcontext()
    with guard:
        clean_stale_temps(folder)
        needed = int(size_hint or 0)
        if copy_existing:
            needed += path.stat().st_size
        free = _free_bytes(folder)
        if needed and free is not None and needed + _MB > free:  # 1 MB to spare
            raise _no_space(path, needed)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.stem}.nmf-{os.getpid()}-{_host_tag()}-",
            suffix=f".tmp{path.suffix}",
            dir=folder,
        )
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            try:
                if copy_existing:
                    shutil.copy2(path, tmp)
                else:
                    tmp.unlink()  # writers create the file themselves
                yield tmp
                if not copy_existing:
                    os.chmod(tmp, default_file_mode())
                os.replace(tmp, path)
            except Exception as exc:
                if _space_errno(exc) is not None:
                    raise _no_space(path, needed or None, exc) from exc
                raise
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()


def write_atomic(
    path: str | os.PathLike, data: bytes | bytearray | memoryview | str
) -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically.

    Through a uniquely named temporary file (:func:`atomic_path`), so concurrent
    writers of the same path never collide: the last rename wins and every
    reader sees one complete version. The free space is checked first.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = write_atomic(pathlib.Path(tempfile.mkdtemp()) / "summary.txt", "ok\\n")
    >>> p.read_text()
    'ok\\n'
    """
    view = memoryview(data.encode("utf-8") if isinstance(data, str) else data)
    view = view.cast("B") if view.ndim != 1 or view.format != "B" else view
    path = Path(path)
    with atomic_path(path, size_hint=view.nbytes) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            done = 0
            while done < view.nbytes:  # os.write may write less than asked
                done += os.write(fd, view[done : done + 8 * _MB])
            os.fsync(fd)
        finally:
            os.close(fd)
    return path
