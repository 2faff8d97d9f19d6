"""One atomic-write helper for every file neuronmf writes.

The output is built in a temporary file beside the destination and moved over it
with :func:`os.replace` only once complete, so a crash never leaves a half-written
file where a good one was. A new file ends with the mode an ordinary ``open()``
would give it (``0o666 & ~umask``: 0644 under the usual umask 022, 0600 under
077); :func:`tempfile.mkstemp` alone would leave every output 0600.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "current_umask", "default_file_mode"]


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
    path: str | os.PathLike, *, copy_existing: bool = False
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it over ``path`` on success.

    The temporary file does not exist when yielded (the writer creates it), unless
    ``copy_existing``, when it starts as a copy of ``path`` (mode included). On
    success a new file gets ``0o666 & ~umask``; a copied one keeps the original's
    mode. On any exception the temporary file is deleted and ``path`` is left as it
    was. The temporary name keeps ``path``'s suffix, so writers that infer the
    format from it (``savefig``) still work.

    Parameters
    ----------
    path : path-like
        Destination; its folder must exist.
    copy_existing : bool, default False
        Start from a copy of the existing ``path`` (to extend it).

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
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=folder
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if copy_existing:
            shutil.copy2(path, tmp)
        else:
            tmp.unlink()  # writers create the file themselves
        yield tmp
        if not copy_existing:
            os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
