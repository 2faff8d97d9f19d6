"""Checkpoints of long fits: the solver state, saved atomically, and resumed.

A checkpoint is an ``.npz`` file holding every array and scalar a solver needs to
continue exactly where it stopped (factors, extrapolation state, history), plus
a fingerprint of the problem (shape, rank, loss, solver, penalties, and a digest
of the data, see :func:`data_digest`) so that a checkpoint is never resumed into
a different fit or different data. Files are written to a temporary name in the
same folder and renamed, so a crash while saving leaves the previous checkpoint
intact.

A finished checkpoint resumed with a larger ``max_iter`` goes on to the new
``max_iter`` unless the saved fit had converged; one saved past a smaller
``max_iter`` is refused (an iteration cannot be undone).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from neuronmf.errors import input_error


def data_digest(V, mask=None) -> str:
    """A deterministic digest of the data a fit sees: shape, dtype and bytes.

    In memory: SHA-256 of the C-ordered bytes of ``V`` (and of ``mask``), with
    the shape and dtype, one pass at memory speed. A dask array is hashed block
    by block in parallel (one extra read of the data, only when a checkpoint is
    used) and the block digests, with the chunking, are hashed together, so no
    block is ever gathered with another. Equal data give equal digests; any
    changed byte changes it.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.arange(6.0).reshape(2, 3)
    >>> data_digest(a) == data_digest(a.copy()), data_digest(a) == data_digest(a + 1)
    (True, False)
    """
    h = hashlib.sha256()
    h.update(repr((tuple(V.shape), str(V.dtype))).encode())
    if type(V).__module__.split(".")[0] == "dask":
        import dask

        h.update(repr(V.chunks).encode())
        parts = [dask.delayed(_block_digest)(b) for b in V.to_delayed().ravel()]
        for part in dask.compute(*parts):
            h.update(part)
    else:
        h.update(_block_digest(V))
    if mask is not None:
        h.update(b"mask")
        h.update(_block_digest(np.asarray(mask)))
    return h.hexdigest()


def _block_digest(block) -> bytes:
    arr = np.ascontiguousarray(block)
    return hashlib.sha256(memoryview(arr).cast("B")).digest()


def _corrupt(path: Path, why: str):
    return input_error(
        f"the checkpoint {path}",
        "a complete checkpoint written by neuronmf",
        f"an unreadable file ({why[:300]})",
        "It is truncated, corrupt or not a checkpoint: delete it (or pass "
        "resume=False) to start afresh.",
    )


class _SavedState(dict):
    """A loaded checkpoint: a missing entry is bad input naming the file."""

    path: Path = Path("checkpoint")

    def __missing__(self, key):
        raise _corrupt(self.path, f"no entry '{key}'")


class Checkpointer:
    """Saves a solver's state every ``every`` iterations; loads it to resume."""

    def __init__(
        self,
        path,
        every: int,
        fingerprint: dict,
        resume: bool,
        max_iter: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.every = every
        self.fingerprint = fingerprint
        self.resume = resume
        self.max_iter = max_iter
        if not self.path.parent.exists():
            raise input_error(
                "checkpoint",
                "a path in an existing folder",
                str(self.path),
                f"Create {self.path.parent} first.",
            )

    def load(self) -> dict | None:
        """The saved state, or None when not resuming or nothing was saved yet."""
        if not (self.resume and self.path.exists()):
            return None
        try:  # a truncated, garbled or crafted file is bad input, never a crash
            with np.load(self.path, allow_pickle=False) as data:
                if not hasattr(data, "files"):
                    raise ValueError("a single array, not an npz archive")
                if "__fingerprint__" not in data.files:
                    raise ValueError("no '__fingerprint__' entry")
                saved = json.loads(str(data["__fingerprint__"]))
                if not isinstance(saved, dict):
                    raise ValueError("a fingerprint that is not a JSON object")
                state = _SavedState(
                    {k: data[k] for k in data.files if k != "__fingerprint__"}
                )
        except (
            OSError,
            EOFError,
            ValueError,
            KeyError,
            TypeError,
            RecursionError,
        ) as exc:
            raise _corrupt(self.path, f"{type(exc).__name__}: {exc}") from None
        except Exception as exc:  # zipfile.BadZipFile, zlib.error, ...
            if type(exc).__module__ not in ("zipfile", "zlib", "json"):
                raise
            raise _corrupt(self.path, f"{type(exc).__name__}: {exc}") from None
        state.path = self.path
        self._check_fingerprint(saved)
        self._check_budget(state)
        return state

    def _check_fingerprint(self, saved: dict) -> None:
        now = self.fingerprint
        differ = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
        if not differ:
            return
        if differ == ["data"]:
            raise input_error(
                "the checkpoint",
                "from the same problem and data",
                f"{self.path}, saved for other data (same shape and options, "
                "different values)",
                "Resume with the data it was saved with, or delete the file "
                "(or pass resume=False) to start afresh.",
            )
        shown = "; ".join(f"{k}={saved.get(k)!r} (now {now.get(k)!r})" for k in differ)
        raise input_error(
            "the checkpoint",
            "from the same problem and options",
            f"{self.path} saved with {shown}",
            "Delete it, or resume with the data and options it was saved with.",
        )

    def _check_budget(self, state: dict) -> None:
        """Let a finished, unconverged fit go on to a larger ``max_iter``."""
        if self.max_iter is None or "n_iter" not in state:
            return
        n_iter = int(state["n_iter"])
        if n_iter > self.max_iter:
            raise input_error(
                "max_iter",
                f">= the {n_iter} iterations already run in the checkpoint {self.path}",
                self.max_iter,
                f"Pass max_iter={n_iter} or more, or delete the file to start afresh.",
            )
        if (
            bool(state.get("finished", False))
            and not bool(state.get("converged", False))
            and n_iter < self.max_iter
        ):
            state["finished"] = np.bool_(False)

    def due(self, n_iter: int) -> bool:
        return n_iter % self.every == 0

    def save(self, state: dict) -> None:
        """Write ``state`` (arrays and scalars) atomically.

        Through the one atomic-write helper (:func:`neuronmf.io._atomic.atomic_path`):
        a unique temporary name carrying the pid (a killed run's leftover is
        removed by the next write into the folder), the umask's file mode, and a
        full disk reported as an ``InputError`` with the previous checkpoint intact.
        """
        from neuronmf.io._atomic import atomic_path

        with atomic_path(self.path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, __fingerprint__=json.dumps(self.fingerprint), **state)
                handle.flush()
                os.fsync(handle.fileno())
