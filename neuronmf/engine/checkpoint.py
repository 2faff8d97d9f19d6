"""Checkpoints of long fits: the solver state, saved atomically, and resumed.

A checkpoint is an ``.npz`` file holding every array and scalar a solver needs to
continue exactly where it stopped (factors, extrapolation state, history), plus
a fingerprint of the problem (shape, rank, loss, solver, penalties) so that a
checkpoint is never resumed into a different fit. Files are written to a
temporary name in the same folder and renamed, so a crash while saving leaves
the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from neuronmf.errors import input_error


class Checkpointer:
    """Saves a solver's state every ``every`` iterations; loads it to resume."""

    def __init__(self, path, every: int, fingerprint: dict, resume: bool) -> None:
        self.path = Path(path)
        self.every = every
        self.fingerprint = fingerprint
        self.resume = resume
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
        with np.load(self.path, allow_pickle=False) as data:
            saved = json.loads(str(data["__fingerprint__"]))
            if saved != self.fingerprint:
                raise input_error(
                    "the checkpoint",
                    "from the same problem and options",
                    f"{self.path} saved for {saved}",
                    "Delete it, or resume with the options it was saved with.",
                )
            return {k: data[k] for k in data.files if k != "__fingerprint__"}

    def due(self, n_iter: int) -> bool:
        return n_iter % self.every == 0

    def save(self, state: dict) -> None:
        """Write ``state`` (arrays and scalars) atomically."""
        fd, tmp = tempfile.mkstemp(
            prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent
        )
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; use the usual mode
        try:
            with open(tmp, "wb") as handle:
                np.savez(handle, __fingerprint__=json.dumps(self.fingerprint), **state)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
