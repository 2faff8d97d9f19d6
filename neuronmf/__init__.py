"""neuronmf: non-negative matrix factorisation for neuroscience and biosignals.

V (features × samples) ≈ W (features × rank) · H (rank × samples), all entries ≥ 0.
W holds the parts (muscle synergies, neuron footprints, assemblies) and H their
activations over time.

>>> import numpy as np, neuronmf as nm
>>> rng = np.random.default_rng(0)
>>> V = rng.random((20, 3)) @ rng.random((3, 100))
>>> res = nm.nmf(V, 3, seed=0)
>>> res.W.shape, res.H.shape
((20, 3), (3, 100))
>>> bool(res.relative_error < 1e-3)
True
"""

from __future__ import annotations

import importlib
import os

# Numba's OpenMP worker threads spin after every parallel kernel (GOMP's default
# spin count) and take the cores that OpenBLAS's threads need for the next data
# product, which slows HALS iterations down (measured: docs/benchmarks.md,
# "OpenMP spin count"). libgomp
# reads this when Numba first starts its thread pool, i.e. after this import. A
# value already set by the user is kept. See docs/engine.md, "Threads".
os.environ.setdefault("GOMP_SPINCOUNT", "0")

from typing import TYPE_CHECKING

from neuronmf.errors import ConvergenceWarning, InputError

# The engine (Numba, scikit-learn, SciPy: seconds to import) is loaded on first
# use, like the subpackages: `import neuronmf` and the `neuronmf` command start in
# a fraction of a second, and a Ctrl-C during the command's start-up reaches its
# handler (one line, exit code 130) instead of printing an import traceback.
_LAZY = {
    **dict.fromkeys(
        (
            "NMF",
            "ConvNMFResult",
            "HeldOut",
            "JointNMFResult",
            "NMFResult",
            "conv_nmf",
            "grid_graph",
            "joint_nmf",
            "knn_graph",
            "nmf",
            "online_nmf",
            "project",
        ),
        "neuronmf.engine",
    ),
    "RankScan": "neuronmf.model_selection",
    "select_rank": "neuronmf.model_selection",
}
if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from neuronmf.engine import (
        NMF,
        ConvNMFResult,
        HeldOut,
        JointNMFResult,
        NMFResult,
        conv_nmf,
        grid_graph,
        joint_nmf,
        knn_graph,
        nmf,
        online_nmf,
        project,
    )
    from neuronmf.model_selection import RankScan, select_rank


_SUBPACKAGES = {
    "io",
    "datasets",
    "model_selection",
    "plotting",
    "synergies",
    "imaging",
    "assemblies",
    "decoding",
}

__all__ = [
    "NMF",
    "ConvNMFResult",
    "ConvergenceWarning",
    "HeldOut",
    "InputError",
    "JointNMFResult",
    "NMFResult",
    "__version__",
    "conv_nmf",
    "grid_graph",
    "joint_nmf",
    "knn_graph",
    "nmf",
    "online_nmf",
    "project",
    "RankScan",
    "select_rank",
    *sorted(_SUBPACKAGES),
]


def __getattr__(name: str):
    # Subpackages are imported on first use so that `import neuronmf` stays fast
    # and does not pull in pynwb, dask or matplotlib for a plain engine call.
    if name == "__version__":  # importlib.metadata is slow to load: on first use
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("neuronmf")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0.0.0+unknown"
        globals()[name] = value
        return value
    if name in _SUBPACKAGES or name == "engine":
        return importlib.import_module(f"neuronmf.{name}")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # once: later lookups skip __getattr__
        return value
    raise AttributeError(f"module 'neuronmf' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
