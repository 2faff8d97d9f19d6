"""The options of one fit: a dataclass, and the checks that build it.

:func:`check_options` validates everything :func:`neuronmf.nmf` and
:class:`neuronmf.NMF` accept, before any work, and returns a
:class:`FitOptions` whose V is a float matrix (or a prepared dask array). The
scalar options are checked from one table, :data:`SCALAR_CHECKS`; the
structured ones (data, mask, rank, factors, graph, loss and solver) by the code
below it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuronmf.engine import _validation as check
from neuronmf.engine import losses
from neuronmf.engine._heldout import filled
from neuronmf.engine._sparse import check_solver as check_sparse_solver
from neuronmf.engine._sparse import is_sparse, sparse_heldout, sparse_matrix
from neuronmf.engine.chunked import is_dask
from neuronmf.engine.graph import Graph
from neuronmf.engine.init import INITS
from neuronmf.errors import input_error

#: Names of the penalty options (the graph weight is a penalty on W too).
PENALTIES = ("l1_W", "l1_H", "l2_W", "l2_H", "graph_weight")


def _at_least_one(name: str, value) -> int:
    return check.check_int(name, value, 1)


#: Each scalar option and its check (name, value) -> checked value.
SCALAR_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "update_W": check.check_bool,
    "update_H": check.check_bool,
    "tol": check.non_negative_number,  # tol = 0 runs to max_iter (as scikit-learn)
    "seed": check.check_seed,
    "graph_weight": check.non_negative_number,
    "l1_W": check.non_negative_number,
    "l1_H": check.non_negative_number,
    "l2_W": check.non_negative_number,
    "l2_H": check.non_negative_number,
    "max_iter": _at_least_one,
    "n_restarts": _at_least_one,
    "escape": check.check_bool,
}


@dataclass
class FitOptions:
    """Every option of one fit, validated (see :func:`check_options`).

    ``V`` is the data to fit (a float matrix, with unobserved entries filled,
    or a dask array with ``stats`` from one pass over it); ``loss`` is the
    loss's canonical name and ``solver`` a concrete solver (never "auto").
    """

    V: Any
    stats: dict | None
    mask: np.ndarray | None
    graph: Graph | None
    graph_weight: float
    rank: int
    loss: str
    solver: str
    init: str
    l1_W: float
    l1_H: float
    l2_W: float
    l2_H: float
    W: np.ndarray | None
    H: np.ndarray | None
    update_W: bool
    update_H: bool
    max_iter: int
    tol: float
    n_restarts: int
    escape: bool
    seed: Any
    checkpointer: Any = None

    @property
    def spec(self) -> losses.LossSpec:
        """The loss's :class:`~neuronmf.engine.losses.LossSpec`."""
        return losses.get(self.loss)

    def penalties(self) -> dict[str, float]:
        """The penalty weights by name (:data:`PENALTIES`)."""
        return {name: getattr(self, name) for name in PENALTIES}

    def replace(self, **changes) -> FitOptions:
        """A copy with some options changed."""
        return dataclasses.replace(self, **changes)


def check_options(
    V,
    rank,
    *,
    mask=None,
    graph_W=None,
    graph_weight=0.0,
    loss,
    solver,
    init,
    l1_W,
    l1_H,
    l2_W,
    l2_H,
    W,
    H,
    update_W,
    update_H,
    max_iter,
    tol,
    n_restarts,
    seed,
    dtype,
    escape=True,
) -> FitOptions:
    """Validate every option; return them resolved, with V as a float matrix."""
    spec = losses.get(loss)
    solver = check.choice("solver", solver, ("auto", *spec.solvers))
    init = check.choice("init", init, INITS)
    V, stats, mask, solver = _data(V, mask, graph_W, spec, solver)
    m, n = V.shape
    # a random or given start allows more components than min(m, n) (as
    # scikit-learn); the SVD-based inits and SPA do not
    if init == "random" or (W is not None and H is not None):
        rank = check.check_int("rank", rank, 1)
    else:
        rank = check.rank(rank, (m, n))
    dt = check.float_dtype(dtype, V.dtype)
    scalars = {
        "update_W": update_W,
        "update_H": update_H,
        "tol": tol,
        "seed": seed,
        "graph_weight": graph_weight,
        "l1_W": l1_W,
        "l1_H": l1_H,
        "l2_W": l2_W,
        "l2_H": l2_H,
        "max_iter": max_iter,
        "n_restarts": n_restarts,
        "escape": escape,
    }
    scalars = {name: SCALAR_CHECKS[name](name, v) for name, v in scalars.items()}
    W, H = _factors(W, H, (m, n), rank, scalars["update_W"], scalars["update_H"])
    graph = None
    if graph_W is not None:
        graph = Graph.from_adjacency(graph_W, m)
    elif scalars["graph_weight"] > 0:
        raise input_error(
            "graph_W",
            "given when graph_weight > 0",
            "None",
            "Pass graph_W=neuronmf.grid_graph((ny, nx)) or another adjacency.",
        )
    if is_sparse(V) and mask is not None:
        V = filled(V, mask, dt)  # held-out entries stored, at the row means
    elif is_sparse(V):
        V = V.astype(dt, copy=False)
    elif stats is not None:
        V = V.astype(dt)
    else:
        V = check.fill_unobserved(V, mask, dt)
    return FitOptions(
        V=V,
        stats=stats,
        mask=mask,
        graph=graph,
        rank=rank,
        loss=spec.name,
        solver=solver,
        init=init,
        W=W,
        H=H,
        **scalars,
    )


def _data(V, mask, graph_W, spec: losses.LossSpec, solver: str):
    """Check V (in memory, sparse or dask) and the mask; resolve solver="auto"."""
    stats = None
    if is_sparse(V):  # scipy.sparse: KL (ccd) and Frobenius (hals)
        solver = check_sparse_solver(spec.name, solver)
        V = sparse_matrix(V)
        if mask is not None:  # held-out entries, stored sparsely (_heldout)
            mask = sparse_heldout(mask, V.shape, solver)
        return V, stats, mask, solver
    if is_dask(V):
        if mask is not None or graph_W is not None:
            raise input_error(
                "V",
                "an in-memory array when mask= or graph_W= is given",
                "a dask array",
                "Masks and graph penalties need V in memory: "
                "call .compute() on a manageable piece, or drop them.",
            )
        if not spec.chunked_solvers:
            raise input_error(
                "V",
                f"an in-memory array for loss={spec.name!r} (no solver of it runs "
                "block by block)",
                "a dask array",
                "Call .compute() on a manageable piece, or use loss='frobenius' "
                "or 'kl'.",
            )
        if solver == "auto":
            solver = spec.chunked_solvers[0]
        check.choice("solver (for a dask array)", solver, spec.chunked_solvers)
        V, stats = check.dask_matrix(V)
    else:
        if solver == "auto":
            solver = spec.default_solver
        if mask is not None:
            mask = check.mask(mask, np.shape(V))
        V = check.data_matrix(V, mask=mask)
    if spec.check_data is not None:
        spec.check_data(V, mask, stats)
    return V, stats, mask, solver


def _factors(W, H, shape, rank: int, update_W: bool, update_H: bool):
    """Check given factors; a fixed factor must be given, and one must be fitted."""
    m, n = shape
    if W is not None:
        W = check.factor(W, "W", (m, rank))
    if H is not None:
        H = check.factor(H, "H", (rank, n))
    for name, flag, given in (("W", update_W, W), ("H", update_H, H)):
        if not flag and given is None:
            raise input_error(
                f"{name}",
                f"given when update_{name}=False",
                "None",
                f"Pass the fixed factor as {name}=...",
            )
    if not (update_W or update_H):
        raise input_error("update_W or update_H", "True", "both False")
    return W, H


def checkpointer(options: FitOptions, path, every, resume: bool):
    """The :class:`~neuronmf.engine.checkpoint.Checkpointer` of a fit (checked)."""
    from neuronmf.engine.checkpoint import Checkpointer, data_digest

    if options.solver not in ("hals", "ccd"):
        raise input_error(
            "solver",
            "'hals' or 'ccd' when checkpoint= is given",
            repr(options.solver),
        )
    if options.n_restarts != 1:
        raise input_error(
            "n_restarts",
            "1 when checkpoint= is given",
            options.n_restarts,
            "Run each restart with its own checkpoint file.",
        )
    every = check.check_int("checkpoint_every", every, 1)
    V = options.V
    if is_sparse(V):
        raise input_error(
            "checkpoint",
            "None for sparse V (checkpoints hash dense data)",
            repr(path),
            "Fit sparse data without checkpoint=, or densify it with V.toarray().",
        )
    fingerprint = {
        "shape": list(V.shape),
        "dtype": str(V.dtype),
        "rank": options.rank,
        "loss": options.loss,
        "solver": options.solver,
        "penalties": [options.l1_W, options.l1_H, options.l2_W, options.l2_H],
        "graph_weight": options.graph_weight,
        "masked": options.mask is not None,
        "update": [options.update_W, options.update_H],
        "tol": options.tol,
        "data": data_digest(V, options.mask),
    }
    return Checkpointer(path, every, fingerprint, resume, options.max_iter)
