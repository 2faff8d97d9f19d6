"""The engine's public functions: :func:`nmf`, :func:`project` and :class:`NMFResult`.

:func:`nmf` and the scikit-learn estimator :class:`neuronmf.NMF` share one private
fit path, :func:`_fit_matrix`, which takes a validated matrix and returns an
:class:`NMFResult`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuronmf.engine import _validation as check
from neuronmf.engine import losses
from neuronmf.engine._scale import (
    scale_exponent,
    scaled_penalties,
    times_power_of_two,
)
from neuronmf.engine.chunked import is_dask
from neuronmf.engine.escape import MAX_ROUNDS, locked_components, reflect, reseed
from neuronmf.engine.graph import Graph
from neuronmf.engine.init import INITS, initialize
from neuronmf.engine.losses import gram, squared_residual
from neuronmf.engine.nnls import exponent, nnls_columns
from neuronmf.engine.products import data_product_T
from neuronmf.engine.solvers import get_solver
from neuronmf.engine.solvers.base import Monitor, Problem, blas_threads
from neuronmf.errors import ConvergenceWarning, input_error

#: The registered losses' names (each also accepts aliases and its β: losses.get).
LOSSES = losses.names()


@dataclass
class NMFResult:
    """The outcome of :func:`nmf`.

    Attributes
    ----------
    W : ndarray of shape (m, rank), or DataArray (feature dims..., "component")
        The parts, with unit-ℓ2 columns (zero columns stay zero).
    H : ndarray of shape (rank, n), or DataArray ("component", sample_dim)
        The activations, carrying the scale; components are sorted by the
        energy |w_k|²·|h_k|² they explain, largest first.
    loss_history : list of float
        The objective after each outer iteration of the kept restart:
        ½|V − WH|²_F + penalties for ``loss="frobenius"``. It includes escape
        rounds (see ``escape`` in :func:`nmf`), where it jumps up as locked
        components are re-seeded.
    n_iter : int
        Outer iterations run by the kept restart.
    converged : bool
        Whether the stopping rule was met (rather than ``max_iter`` or a callback).
    loss : float
        The best objective reached: the minimum of ``loss_history``, its last
        entry unless an escape round ended higher and was dropped.
    relative_error : float
        |V − WH|_F / |V|_F of the returned factors.
    vaf : float
        Variance accounted for, uncentred: 1 − |V − WH|²_F / |V|²_F.
    restart_losses : list of float
        Final objective of each restart; the best one was kept.
    params : dict
        The options used (loss, solver, init, rank, penalties, seed, ...), for
        provenance.
    """

    W: Any
    H: Any
    loss_history: list[float]
    n_iter: int
    converged: bool
    loss: float
    relative_error: float
    vaf: float
    restart_losses: list[float] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def heldout_loss(self, V, entries) -> float:
        """Mean loss of the fit on chosen entries of V, e.g. held-out ones.

        For cross-validation: fit with ``mask=train``, then score
        ``heldout_loss(V, ~train)``. Frobenius: mean squared error; KL: mean
        Poisson deviance 2·(v log(v/μ) − v + μ) of the prediction shrunk
        towards each row's mean rate on the other entries,
        μ = 0.7·(WH)_ij + 0.3·r_i (:func:`neuronmf.engine.losses.heldout_deviance`,
        the one held-out score of ``select_rank`` and ``assemblies.detect``).
        KL fits set many entries of W and H exactly to zero, and a held-out
        count v > 0 where the model predicts 0 has infinite deviance; the
        shrinkage keeps every prediction positive on the row's own scale.

        Parameters
        ----------
        V : array-like of shape (m, n)
            The data in the matrix orientation (features × samples).
        entries : bool array of shape (m, n)
            True where the loss is evaluated.

        Examples
        --------
        >>> import numpy as np, neuronmf as nm
        >>> rng = np.random.default_rng(0)
        >>> V = rng.random((10, 3)) @ rng.random((3, 60))
        >>> train = rng.random(V.shape) > 0.1
        >>> res = nm.nmf(V, 3, mask=train, seed=0, tol=1e-8)
        >>> bool(res.heldout_loss(V, ~train) < 1e-4)
        True
        """
        V = np.asarray(V, dtype=np.float64)
        entries = np.asarray(entries, dtype=bool)
        fitted = self.reconstruct()
        if entries.shape != V.shape or V.shape != fitted.shape:
            raise input_error(
                "V and entries",
                f"both of shape {fitted.shape}",
                f"{V.shape} and {entries.shape}",
            )
        if not entries.any():
            raise input_error("entries", "True on at least one entry", "none")
        spec = losses.get(self.params.get("loss", "frobenius"))
        return spec.heldout(V, fitted, ~entries)

    def reconstruct(self):
        """W·H (as an ndarray, in the matrix orientation features × samples)."""
        return np.asarray(self._matrix(self.W, "W")) @ np.asarray(
            self._matrix(self.H, "H")
        )

    def _matrix(self, F, which):
        if hasattr(F, "dims"):
            if which == "W":
                dims = [d for d in F.dims if d != "component"]
                return F.transpose(*dims, "component").values.reshape(
                    -1, F.sizes["component"]
                )
            return F.transpose("component", ...).values
        return F

    def __repr__(self) -> str:
        shape_W = getattr(self.W, "shape", None)
        shape_H = getattr(self.H, "shape", None)
        return (
            f"NMFResult(W{shape_W}, H{shape_H}, loss={self.loss:.6g}, "
            f"relative_error={self.relative_error:.4g}, vaf={self.vaf:.4f}, "
            f"n_iter={self.n_iter}, converged={self.converged})"
        )


def nmf(
    V,
    rank: int,
    *,
    loss: str = "frobenius",
    solver: str = "auto",
    init: str = "nndsvda",
    mask=None,
    l1_W: float = 0.0,
    l1_H: float = 0.0,
    l2_W: float = 0.0,
    l2_H: float = 0.0,
    graph_W=None,
    graph_weight: float = 0.0,
    W=None,
    H=None,
    update_W: bool = True,
    update_H: bool = True,
    max_iter: int = 1000,
    tol: float = 1e-5,
    n_restarts: int = 1,
    escape: bool = True,
    seed=None,
    dtype=None,
    progress: bool = False,
    callback: Callable[[int, float], object] | None = None,
    sample_dim: str = "time",
    checkpoint=None,
    checkpoint_every: int = 10,
    resume: bool = False,
) -> NMFResult:
    r"""Non-negative matrix factorisation V ≈ W·H.

    Minimises

    .. math:: \tfrac12\|V - WH\|_F^2 + \ell_{1,W}\textstyle\sum W
              + \tfrac{\ell_{2,W}}2\|W\|_F^2 + \ell_{1,H}\sum H
              + \tfrac{\ell_{2,H}}2\|H\|_F^2

    over W ≥ 0 (m × rank) and H ≥ 0 (rank × n).

    Parameters
    ----------
    V : array-like of shape (m, n), or xarray.DataArray
        Non-negative data, features × samples (e.g. muscles × time). A
        DataArray may have any dims: ``sample_dim`` is the sample axis and every
        other dim is stacked into features (and unstacked again in W).
    rank : int
        Number of components, 1 ≤ rank ≤ min(m, n).
    loss : str or float, default "frobenius"
        The data-fit term: ``"frobenius"`` (½|V − WH|², the formula above) or
        ``"kl"`` (the generalised Kullback–Leibler divergence, for counts;
        also spelled ``"kullback-leibler"``), or another registered loss
        (:func:`neuronmf.engine.losses.names`). A number is a β of the
        β-divergence family (2 is Frobenius, 1 is KL).
    solver : {"auto", "hals", "ccd", "mu", "gradient"}
        The solvers of the loss (``losses.get(loss).solvers``); ``"auto"`` picks
        its first. Frobenius: ``"hals"`` (accelerated HALS with extrapolation,
        Numba), ``"mu"`` (Lee–Seung multiplicative updates, the reference) or
        ``"gradient"``; KL: ``"ccd"`` (coordinate descent), ``"mu"`` or
        ``"gradient"``.
    init : {"nndsvda", "nndsvd", "nndsvdar", "random", "spa"}
        Initialisation when ``W``/``H`` are not given.
    mask : array-like of bool, shape of V, optional
        True where V is observed; the fit ignores the other entries.
    graph_W, graph_weight
        A graph over W's rows (adjacency, e.g. :func:`neuronmf.grid_graph`) and
        the weight λ of the smoothness penalty λ·tr(WᵀLW).
    l1_W, l1_H, l2_W, l2_H : float, default 0
        Penalties. With a penalty on one factor only, the other factor's
        columns (W) or rows (H) are held at unit norm during the fit, so the
        penalty cannot be dodged by rescaling.
    W, H : array-like, optional
        Initial factors (or fixed ones, with ``update_W``/``update_H`` False).
        If only one is given, the other starts at its exact NNLS fit.
    update_W, update_H : bool, default True
        Set False to hold a factor fixed (it must then be given).
    max_iter : int, default 1000
        Budget of outer iterations.
    tol : float, default 1e-5
        Stop when the objective fell by less than ``tol`` (relative) over the
        last 10 iterations, or when the normalised projected gradient is below
        ``10 * tol`` (checked every 10 iterations). ``tol=0`` runs to
        ``max_iter`` (unless the fit stalls exactly), without a
        ConvergenceWarning.
    n_restarts : int, default 1
        Fits to run; the one with the lowest objective is kept. The first uses
        ``init`` (or the given factors); the others use random inits.
    escape : bool, default True
        After a fit converges, look for components that non-negativity holds in
        a spurious local minimum: residual left inside span(W) with singular
        values above the noise edge, which at a stationary point only active
        constraints can leave. If there are any, reflect them about V's mean (a
        "mean minus part" mirror becomes the part; if that does not help, the
        next round re-seeds them at random), resume, and keep the result if the
        objective went down (at most 5 rounds, within ``max_iter``). Applies
        to plain Frobenius fits by ``"hals"`` (no mask, penalty, checkpoint or
        dask array, both factors updated). On dense data it finds lower minima
        (20,000 × 10,000 rank 20: relative error 0.01962 → 0.01921); where
        nothing is locked it costs one product WᵀV; where it fires with little
        to gain it can double the fit's time (docs/engine.md).
    seed : int or numpy.random.Generator, optional
        Makes random inits reproducible: the same seed, input and thread count
        give identical results.
    dtype : {None, "float32", "float64"}
        Working precision. None keeps float32 input in float32 and uses float64
        otherwise.
    progress : bool, default False
        Show a tqdm progress bar.
    callback : callable(iteration, loss) -> bool, optional
        Called after each outer iteration; returning False stops the fit.
    sample_dim : str, default "time"
        Name of the sample dimension of a DataArray ``V``.
    checkpoint : path, optional
        Save the solver's state there (atomically) every ``checkpoint_every``
        iterations and at the end (solvers ``"hals"`` and ``"ccd"``, one
        restart). With ``resume=True`` a fit continues from the file when it
        exists, and ends exactly where an uninterrupted fit would.
    checkpoint_every : int, default 10
    resume : bool, default False

    Returns
    -------
    NMFResult

    Raises
    ------
    neuronmf.InputError
        For bad data or options, before any work is done.

    Examples
    --------
    >>> import numpy as np
    >>> import neuronmf as nm
    >>> rng = np.random.default_rng(0)
    >>> V = rng.random((16, 4)) @ rng.random((4, 500))
    >>> res = nm.nmf(V, 4, seed=0)
    >>> bool(res.vaf > 0.999), res.W.shape
    (True, (16, 4))
    """
    progress = check.check_bool("progress", progress)
    callback = check.check_callable("callback", callback)
    resume = check.check_bool("resume", resume)
    sample_dim = check.check_str("sample_dim", sample_dim)
    labels = None
    if _is_dataarray(V):
        labels = _Labels.from_data(V, sample_dim)
        if mask is not None:
            mask = labels.matrix_of_mask(mask)
        V = labels.matrix
    options = _check_options(
        V,
        rank,
        mask=mask,
        graph_W=graph_W,
        graph_weight=graph_weight,
        loss=loss,
        solver=solver,
        init=init,
        l1_W=l1_W,
        l1_H=l1_H,
        l2_W=l2_W,
        l2_H=l2_H,
        W=W,
        H=H,
        update_W=update_W,
        update_H=update_H,
        max_iter=max_iter,
        tol=tol,
        n_restarts=n_restarts,
        escape=escape,
        seed=seed,
        dtype=dtype,
    )
    if checkpoint is not None:
        options["checkpointer"] = _checkpointer(
            options, checkpoint, checkpoint_every, resume
        )
    elif resume:
        raise input_error("checkpoint", "a path when resume=True", "None")
    result = _fit_matrix(options, progress=progress, callback=callback)
    if labels is not None:
        result.W, result.H = labels.wrap_W(result.W), labels.wrap_H(result.H)
    return result


def _checkpointer(options: dict, path, every, resume: bool):
    from neuronmf.engine.checkpoint import Checkpointer

    if options["solver"] not in ("hals", "ccd"):
        raise input_error(
            "solver",
            "'hals' or 'ccd' when checkpoint= is given",
            repr(options["solver"]),
        )
    if options["n_restarts"] != 1:
        raise input_error(
            "n_restarts",
            "1 when checkpoint= is given",
            options["n_restarts"],
            "Run each restart with its own checkpoint file.",
        )
    from neuronmf.engine.checkpoint import data_digest

    every = check.check_int("checkpoint_every", every, 1)
    V = options["V"]
    fingerprint = {
        "shape": list(V.shape),
        "dtype": str(V.dtype),
        "rank": options["rank"],
        "loss": options["loss"],
        "solver": options["solver"],
        "penalties": [options[k] for k in ("l1_W", "l1_H", "l2_W", "l2_H")],
        "graph_weight": options["graph_weight"],
        "masked": options["mask"] is not None,
        "update": [options["update_W"], options["update_H"]],
        "tol": options["tol"],
        "data": data_digest(V, options["mask"]),
    }
    return Checkpointer(path, every, fingerprint, resume, options["max_iter"])


def _is_dataarray(obj) -> bool:
    return type(obj).__name__ == "DataArray" and hasattr(obj, "dims")


def _check_options(
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
) -> dict:
    """Validate every option; return them resolved, with V as a float matrix."""
    spec = losses.get(loss)
    loss = spec.name
    solver = check.choice("solver", solver, ("auto", *spec.solvers))
    auto_solver = solver == "auto"
    if auto_solver:
        solver = spec.default_solver
    init = check.choice("init", init, INITS)
    stats = None
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
                f"an in-memory array for loss={loss!r} (no solver of it runs "
                "block by block)",
                "a dask array",
                "Call .compute() on a manageable piece, or use loss='frobenius' "
                "or 'kl'.",
            )
        if auto_solver:
            solver = spec.chunked_solvers[0]
        check.choice("solver (for a dask array)", solver, spec.chunked_solvers)
        V, stats = check.dask_matrix(V)
    else:
        if mask is not None:
            mask = check.mask(mask, np.shape(V))
        V = check.data_matrix(V, mask=mask)
    if spec.check_data is not None:
        spec.check_data(V, mask, stats)
    m, n = V.shape
    rank = check.rank(rank, (m, n))
    dt = check.float_dtype(dtype, V.dtype)
    update_W = check.check_bool("update_W", update_W)
    update_H = check.check_bool("update_H", update_H)
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
    # tol = 0 runs to max_iter (as scikit-learn)
    tol = check.check_real("tol", tol, 0.0)
    seed = check.check_seed("seed", seed)
    graph_weight = check.non_negative_number("graph_weight", graph_weight)
    graph = None
    if graph_W is not None:
        graph = Graph.from_adjacency(graph_W, m)
    elif graph_weight > 0:
        raise input_error(
            "graph_W",
            "given when graph_weight > 0",
            "None",
            "Pass graph_W=neuronmf.grid_graph((ny, nx)) or another adjacency.",
        )
    return {
        "V": V.astype(dt) if stats is not None else check.fill_unobserved(V, mask, dt),
        "stats": stats,
        "mask": mask,
        "graph": graph,
        "graph_weight": graph_weight,
        "rank": rank,
        "loss": loss,
        "solver": solver,
        "init": init,
        "l1_W": check.non_negative_number("l1_W", l1_W),
        "l1_H": check.non_negative_number("l1_H", l1_H),
        "l2_W": check.non_negative_number("l2_W", l2_W),
        "l2_H": check.non_negative_number("l2_H", l2_H),
        "W": W,
        "H": H,
        "update_W": update_W,
        "update_H": update_H,
        "max_iter": check.check_int("max_iter", max_iter, 1),
        "tol": tol,
        "n_restarts": check.check_int("n_restarts", n_restarts, 1),
        "escape": check.check_bool("escape", escape),
        "seed": seed,
    }


def _fit_matrix(options: dict, *, progress: bool = False, callback=None) -> NMFResult:
    """The one fit path shared by :func:`nmf` and :class:`neuronmf.NMF`."""
    progress = check.check_bool("progress", progress)
    callback = check.check_callable("callback", callback)
    k = _scale_exponent(options)
    fit = _rescaled(options, k) if k else options
    V = fit["V"]
    problem = Problem(
        V,
        fit["rank"],
        loss=fit["loss"],
        mask=fit["mask"],
        graph=fit["graph"],
        graph_weight=fit["graph_weight"],
        stats=fit["stats"],
        checkpointer=fit.get("checkpointer"),
        l1_W=fit["l1_W"],
        l1_H=fit["l1_H"],
        l2_W=fit["l2_W"],
        l2_H=fit["l2_H"],
        update_W=fit["update_W"],
        update_H=fit["update_H"],
        max_iter=fit["max_iter"],
        tol=fit["tol"],
    )
    _check_norm(problem.norm_V2, k)
    with blas_threads(V.shape, fit["rank"], chunked=is_dask(V)):
        result = _fit_restarts(fit, problem, progress, callback)
    _check_factors(result, options, k)
    return _unscaled(result, options, k) if k else result


def _scale_exponent(options: dict) -> int:
    """The even k such that the fit runs on V / 2**k (0: no rescaling).

    See :mod:`neuronmf.engine._scale`. NMF is scale-equivariant: with
    V = 2**k V', W = 2**a W', H = 2**b H'
    (a + b = k) the objective is 2**(p·k) times that of (V', W', H') with the
    penalties scaled by powers of two (p = 2 for Frobenius, 1 for KL). Powers
    of two make the rescaling exact in floating point; k is even so that the
    split a = b = k/2 is too.
    """
    V, stats = options["V"], options["stats"]
    top = stats["max"] if stats is not None else float(V.max())
    return scale_exponent(top, V.dtype)


def _split(options: dict, k: int) -> tuple[int, int]:
    """How the scale 2**k is shared between W (2**a) and H (2**b)."""
    pen_W = bool(
        options["l1_W"]
        or options["l2_W"]
        or (options["graph"] is not None and options["graph_weight"] > 0)
    )
    pen_H = bool(options["l1_H"] or options["l2_H"])
    if not options["update_W"]:
        return 0, k  # W fixed: the scale is H's
    if not options["update_H"]:
        return k, 0  # H fixed: the scale is W's
    if pen_H and not pen_W:
        return 0, k  # W held at unit norm
    if pen_W and not pen_H:
        return k, 0
    return k // 2, k // 2


def _rescaled(options: dict, k: int) -> dict:
    """The options of the same problem on V / 2**k (see :func:`_scale_exponent`)."""
    p = losses.get(options["loss"]).scale_power
    a, b = _split(options, k)
    V = options["V"]
    fit = dict(options)
    if is_dask(V):
        fit["V"] = V.map_blocks(np.ldexp, -k, dtype=V.dtype)
        st = options["stats"]
        fit["stats"] = {
            **st,
            "min": float(np.ldexp(st["min"], -k)),
            "max": float(np.ldexp(st["max"], -k)),
            "norm2": float(np.ldexp(st["norm2"], -2 * k)),
        }
    else:
        fit["V"] = np.ldexp(V, -k).astype(V.dtype, copy=False)
    for name, e in (("W", a), ("H", b)):
        if options[name] is not None:
            fit[name] = np.ldexp(np.asarray(options[name], dtype=np.float64), -e)
    names = ("l1_W", "l2_W", "graph_weight", "l1_H", "l2_H")
    fit.update(scaled_penalties({n: options[n] for n in names}, k, a, b, p))
    return fit


def _check_norm(norm2: float, k: int) -> None:
    """Refuse data whose objective cannot be represented in float64."""
    log2 = np.log2(norm2) + 2 * k if norm2 > 0 else -np.inf
    if -1021 <= log2 < 1023:
        return
    raise input_error(
        "|V|² (the sum of squared entries)",
        "within float64's range, about 1e-307 to 1e307, so that the loss can "
        "be computed and reported",
        f"about 1e{log2 * np.log10(2):.0f}",
        "Rescale the data, e.g. V / V.max(): the factors of c·V are those of V "
        "with H times c.",
    )


def _check_factors(result: NMFResult, options: dict, k: int) -> None:
    """Never return non-finite or all-zero factors without an error."""
    for name in ("W", "H"):
        F = getattr(result, name)
        if not np.isfinite(F).all():
            raise FloatingPointError(
                f"the fit gave non-finite entries in {name} (data scale 2**{k} "
                "handled by exact rescaling). Please report this with the data's "
                "shape, dtype and options."
            )
        if not F.any():
            penalties = {
                key: options[key]
                for key in ("l1_W", "l1_H", "l2_W", "l2_H", "graph_weight")
                if options[key]
            }
            if penalties:
                raise input_error(
                    "the penalties",
                    "small enough to leave a non-zero factor",
                    f"{penalties}, which drive every entry of {name} to zero",
                    "Reduce them (relative to the data's scale).",
                )
            raise FloatingPointError(
                f"the fit gave an all-zero {name} for non-zero data. Please "
                "report this with the data's shape, dtype and options."
            )


def _unscaled(result: NMFResult, options: dict, k: int) -> NMFResult:
    """Factors, losses and params of a fit of V / 2**k, back in V's units."""
    p = losses.get(options["loss"]).scale_power
    dt = result.H.dtype
    with np.errstate(over="ignore"):
        if options["update_H"]:  # normalised: the scale is all H's
            result.H = np.ldexp(result.H, k).astype(dt, copy=False)
        else:
            result.W = np.ldexp(result.W, k).astype(dt, copy=False)
        result.loss_history = [
            times_power_of_two(x, p * k) for x in result.loss_history
        ]
        result.restart_losses = [
            times_power_of_two(x, p * k) for x in result.restart_losses
        ]
        result.loss = times_power_of_two(result.loss, p * k)
    for name in ("W", "H"):
        if not np.isfinite(getattr(result, name)).all():
            raise input_error(
                "V's scale",
                f"within the range of the working dtype {dt} for the factors",
                f"factors that overflow {dt} (largest entry of V about 2**{k})",
                "Fit in float64 (dtype='float64'), or rescale the data.",
            )
    for key in ("l1_W", "l1_H", "l2_W", "l2_H", "graph_weight"):
        result.params[key] = options[key]
    return result


def _fit_restarts(
    options: dict, problem: Problem, progress: bool, callback
) -> NMFResult:
    V = problem.V
    dt = V.dtype
    solve = get_solver(options["loss"], options["solver"])
    seeds = _restart_rngs(options["seed"], options["n_restarts"])
    best = None
    restart_losses = []
    for restart, rng in enumerate(seeds):
        W0, H0 = _initial_factors(options, restart, rng)
        if losses.get(options["loss"]).positive_start:
            W0, H0 = _positive_start(W0, H0, options)
        desc = f"NMF rank {options['rank']}"
        if options["n_restarts"] > 1:
            desc += f" (restart {restart + 1}/{options['n_restarts']})"
        monitor = Monitor(
            problem, progress=progress, callback=callback, description=desc
        )
        try:
            W, H = solve(problem, W0, H0, monitor)
            final = monitor.history[-1] if monitor.history else np.inf
            converged = monitor.converged
            if _escapes_apply(options):
                W, H, final, converged = _escape(
                    problem, solve, W, H, final, monitor, _escape_rng(options, rng)
                )
        finally:
            monitor.close()
        restart_losses.append(final)
        if best is None or final < best[0]:
            best = (final, W, H, monitor, converged)
        if monitor.stopped_by_callback:
            break
    _, W, H, monitor, converged = best
    if not converged and not monitor.stopped_by_callback and options["tol"] > 0:
        warnings.warn(
            f"NMF stopped at max_iter={options['max_iter']} before meeting its "
            f"stopping rule (tol={options['tol']}). Increase max_iter or tol.",
            ConvergenceWarning,
            stacklevel=3,
        )
    W, H = _normalise(
        W.astype(dt, copy=False),
        H.astype(dt, copy=False),
        options["update_W"],
        options["update_H"],
    )
    if problem.masked:
        R = np.where(problem.mask, V - W @ H, 0)
        res2 = float(np.sum(np.square(R, dtype=np.float64)))
    else:
        P = np.asarray(V @ H.T)  # one pass over a dask V
        res2 = squared_residual(problem.norm_V2, W, P, gram(W), gram(H.T))
    seed = options["seed"]
    params = {
        "loss": options["loss"],
        "solver": options["solver"],
        "init": "custom"
        if options["W"] is not None or options["H"] is not None
        else options["init"],
        "rank": options["rank"],
        "l1_W": options["l1_W"],
        "l1_H": options["l1_H"],
        "l2_W": options["l2_W"],
        "l2_H": options["l2_H"],
        "graph_weight": options["graph_weight"],
        "masked": problem.masked,
        "max_iter": options["max_iter"],
        "tol": options["tol"],
        "n_restarts": options["n_restarts"],
        "escape": _escapes_apply(options),
        "seed": seed if seed is None or isinstance(seed, int) else repr(seed),
        "dtype": str(dt),
    }
    return NMFResult(
        W=W,
        H=H,
        loss_history=list(monitor.history),
        n_iter=monitor.n_iter,
        converged=converged,
        loss=float(best[0]),
        relative_error=float(np.sqrt(res2 / problem.norm_V2)),
        vaf=float(1.0 - res2 / problem.norm_V2),
        restart_losses=[float(x) for x in restart_losses],
        params=params,
    )


def _escapes_apply(options: dict) -> bool:
    """Escape rounds run for plain in-memory fits by A-HALS (a Frobenius solver)."""
    return bool(
        options["escape"]
        and options["solver"] == "hals"
        and options["mask"] is None
        and options["stats"] is None
        and options["graph"] is None
        and not (options["l1_W"] or options["l1_H"] or options["l2_W"])
        and not options["l2_H"]
        and options["update_W"]
        and options["update_H"]
        and options.get("checkpointer") is None
    )


def _escape_rng(options: dict, rng: np.random.Generator) -> np.random.Generator:
    """The restart's generator when seeded, else a fixed one (deterministic fits)."""
    return rng if options["seed"] is not None else np.random.default_rng(0)


def _escape(problem: Problem, solve, W, H, loss: float, monitor, rng):
    """Move locked components and resume while that lowers the objective.

    Returns the best ``(W, H, loss, converged)``. A round first reflects the
    locked components about V's mean (the mirror of a part becomes the part);
    if that does not end lower, the next round re-seeds them at random. Each
    round starts the stopping rule afresh and shares the ``max_iter`` budget;
    a round is kept only if it ends below the objective before it. Rounds stop
    when no component is locked, after a random re-seed that did not help,
    after a kept round that gained less than ``tol`` (relative), or after
    :data:`escape.MAX_ROUNDS`.
    """
    converged = monitor.converged
    V = problem.V
    means = None
    move = "reflect"
    locked = None  # the locked set at (W, H), kept while (W, H) stay
    for _ in range(MAX_ROUNDS):
        if monitor.stopped_by_callback or monitor.n_iter >= problem.max_iter:
            break
        if locked is None:
            WtV = data_product_T(V, W).T
            locked = locked_components(WtV, W, H, problem.norm_V2, V.shape)
        if locked.size == 0:
            break
        if move == "reflect":
            if means is None:
                means = (V.mean(axis=1, dtype=np.float64), V.mean(0, dtype=np.float64))
            start = reflect(W, H, locked, *means)
        else:
            start = reseed(W, H, locked, rng)
        monitor.begin_round()
        W_new, H_new = solve(problem, *start, monitor)
        new_loss = monitor.history[-1]
        if not new_loss < loss:
            if move == "random":
                break
            move = "random"
            continue
        gain = (loss - new_loss) / loss
        W, H, loss, converged = W_new, H_new, new_loss, monitor.converged
        move, locked = "reflect", None
        if gain < problem.tol:
            break
    return W, H, loss, converged


def _restart_rngs(seed, n_restarts: int) -> list[np.random.Generator]:
    if isinstance(seed, np.random.Generator):
        return [seed] * n_restarts
    children = np.random.SeedSequence(seed).spawn(n_restarts)
    return [np.random.default_rng(s) for s in children]


def _initial_factors(options: dict, restart: int, rng: np.random.Generator):
    V = options["V"]
    dt = V.dtype
    W, H = options["W"], options["H"]
    if restart > 0 and options["update_W"] and options["update_H"]:
        return initialize(V, options["rank"], "random", rng)
    if W is None and H is None:
        return initialize(V, options["rank"], options["init"], rng)
    if is_dask(V) and (W is None or H is None):
        raise input_error(
            "W and H",
            "both given, or both None, for a dask array",
            "only one",
        )
    if W is None:
        W = nnls_columns(V.T, np.asarray(H, np.float64).T).T
    elif H is None:
        H = nnls_columns(V, np.asarray(W, np.float64))
    return np.array(W, dtype=dt), np.array(H, dtype=dt)


def _positive_start(W, H, options: dict):
    """Lift exact zeros of the factors being fitted to 1e-6 of their largest entry.

    For losses whose spec asks (``positive_start``): KL is infinite where
    (WH)_ij = 0 < V_ij, and coordinate descent needs a finite start; NNDSVD
    leaves exact zeros. Fixed factors are kept.
    """
    if options["update_W"]:
        W = np.maximum(W, W.dtype.type(1e-6 * max(float(W.max()), 1e-30)))
    if options["update_H"]:
        H = np.maximum(H, H.dtype.type(1e-6 * max(float(H.max()), 1e-30)))
    return W, H


def _normalise(W, H, update_W: bool, update_H: bool):
    """Unit-ℓ2 columns of W (scale into H), components sorted by energy.

    A factor the caller held fixed is returned exactly as given.
    """
    if not (update_W and update_H):
        return W, H
    norms = np.linalg.norm(W, axis=0)
    safe = np.where(norms > 0, norms, 1.0).astype(W.dtype)
    W = W / safe
    H = H * safe[:, None]
    energy = np.sum(np.square(H, dtype=np.float64), axis=1) * (norms > 0)
    order = np.argsort(-energy, kind="stable")
    return np.ascontiguousarray(W[:, order]), np.ascontiguousarray(H[order])


def project(
    V,
    W,
    *,
    loss: str = "frobenius",
    sample_dim: str = "time",
    tol: float = 1e-10,
    max_iter: int = 2000,
    l1_H: float = 0.0,
    l2_H: float = 0.0,
):
    """Activations of new data on fixed parts: ``argmin_{H >= 0} loss(V, W·H)``.

    Frobenius: exact non-negative least squares per column (active set on WᵀW,
    compiled, parallel over columns); agrees with :func:`scipy.optimize.nnls`.
    Other losses (KL: the Poisson maximum-likelihood H): the loss's default
    solver with W fixed (coordinate descent for KL), from the NNLS solution
    until the objective changes by less than ``tol``.
    A dask ``V`` is projected block by block (columns are independent).

    Parameters
    ----------
    V : array-like of shape (m, n), or xarray.DataArray
        New data with the same features as W.
    W : array-like of shape (m, rank), or DataArray from :func:`nmf`
        The fixed parts.
    loss : str or float, default "frobenius"
        Any loss :func:`nmf` accepts.
    sample_dim : str, default "time"
        Sample dimension of a DataArray ``V``.
    tol, max_iter
        Stopping rule of the iterative solve (KL, other losses, penalties);
        unused for plain Frobenius, which is exact.
    l1_H, l2_H : float, default 0
        Penalties on the activations, as in :func:`nmf`: the result minimises
        loss(V, W·H) + l1_H·ΣH + ½·l2_H·|H|² (by the loss's default solver with
        W fixed, from the NNLS answer). ``NMF.transform`` passes the fit's.

    Returns
    -------
    H : ndarray of shape (rank, n), or DataArray ("component", sample_dim)

    Examples
    --------
    >>> import numpy as np, neuronmf as nm
    >>> rng = np.random.default_rng(0)
    >>> W = rng.random((10, 3)); H = rng.random((3, 50))
    >>> bool(np.allclose(nm.project(W @ H, W), H))
    True
    """
    spec = losses.get(loss)
    l1_H = check.non_negative_number("l1_H", l1_H)
    l2_H = check.non_negative_number("l2_H", l2_H)
    tol = check.check_real("tol", tol, 0.0)
    max_iter = check.check_int("max_iter", max_iter, 1)
    sample_dim = check.check_str("sample_dim", sample_dim)
    labels = None
    if _is_dataarray(V):
        labels = _Labels.from_data(V, sample_dim)
        V = labels.matrix
        if _is_dataarray(W):
            W = labels.matrix_of_W(W)
    elif _is_dataarray(W):
        dims = [d for d in W.dims if d != "component"]
        W = W.transpose(*dims, "component").values.reshape(-1, W.sizes["component"])
    chunked = is_dask(V)
    V = check.dask_matrix(V)[0] if chunked else check.data_matrix(V)
    Wa = np.asarray(W)
    if Wa.ndim != 2 or Wa.shape[0] != V.shape[0]:
        raise input_error(
            "W.shape",
            f"({V.shape[0]}, rank) to match V's {V.shape[0]} features",
            f"{Wa.shape}",
        )
    Wa = check.factor(Wa, "W", Wa.shape)
    dt = check.float_dtype(None, V.dtype)
    if chunked:
        # columns of H are independent: project each block, in parallel, in memory
        import dask

        blocks = V.to_delayed().ravel().tolist()
        parts = [
            dask.delayed(project, pure=True)(
                b, Wa, loss=spec.name, tol=tol, max_iter=max_iter, l1_H=l1_H, l2_H=l2_H
            )
            for b in blocks
        ]
        with blas_threads(V.shape, Wa.shape[1], chunked=True):
            H = np.concatenate(dask.compute(*parts), axis=1).astype(dt, copy=False)
        return labels.wrap_H(H) if labels is not None else H
    # data and parts of any scale: solve on V / 2**kv and W / 2**kw (exact),
    # then H * 2**(kv - kw)
    kv, kw = exponent(V), exponent(Wa)
    Vn = np.ldexp(np.asarray(V, dtype=dt), -kv) if kv else V
    Wn = np.ldexp(np.asarray(Wa, dtype=np.float64), -kw) if kw else Wa
    with blas_threads(V.shape, Wa.shape[1]):
        H = nnls_columns(Vn, Wn).astype(dt, copy=False)
    if (not spec.exact_projection or l1_H or l2_H) and H.any():
        # refine the least-squares answer under the loss and penalties, W fixed;
        # on (V / 2**kv, W / 2**kw) the data term is 2**(-p·kv) times V's and H
        # is 2**(kw - kv) times H's, so the penalties scale accordingly
        p = spec.scale_power
        options = _check_options(
            Vn,
            Wa.shape[1],
            loss=spec.name,
            solver=spec.default_solver,
            init="nndsvda",
            l1_W=0.0,
            l1_H=times_power_of_two(l1_H, kv - kw - p * kv),
            l2_W=0.0,
            l2_H=times_power_of_two(l2_H, 2 * (kv - kw) - p * kv),
            W=Wn,
            H=H,
            update_W=False,
            update_H=True,
            max_iter=max_iter,
            tol=tol,
            n_restarts=1,
            seed=None,
            dtype=dt,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            H = _fit_matrix(options).H
    H = _unscale_projection(H, kw - kv, dt)
    if labels is not None:
        return labels.wrap_H(H)
    return H


def _unscale_projection(Hn, kw: int, dt) -> np.ndarray:
    """H = Hn / 2**kw in dtype ``dt``, refused if it over- or underflows."""
    with np.errstate(over="ignore", under="ignore"):
        H = np.ldexp(np.asarray(Hn, dtype=np.float64), -kw).astype(dt)
    lost = (Hn != 0) & (H == 0)
    if not np.isfinite(H).all() or lost.any():
        raise input_error(
            "the activations H = argmin |V - W·H|",
            f"representable in {np.dtype(dt)}",
            "entries that "
            + ("overflow" if lost.sum() == 0 else "underflow")
            + f" (W's scale over V's is about 2**{kw})",
            "Rescale V or W towards 1 (or pass float64 data).",
        )
    return H


class _Labels:
    """Stacking of a labelled DataArray into a matrix, and unstacking of results."""

    def __init__(self, data, sample_dim, feature_dims, stacked):
        self.data = data
        self.sample_dim = sample_dim
        self.feature_dims = feature_dims
        self.stacked = stacked  # (feature, sample) view of the data
        # a dask-backed DataArray stays lazy: the chunked path reads it block by block
        self.matrix = stacked.data if is_dask(stacked.data) else stacked.values

    @classmethod
    def from_data(cls, data, sample_dim: str) -> _Labels:
        if sample_dim not in data.dims:
            raise input_error(
                "sample_dim",
                f"one of the data's dims {tuple(data.dims)}",
                sample_dim,
                "Pass sample_dim= naming the time/sample axis.",
            )
        feature_dims = [d for d in data.dims if d != sample_dim]
        if not feature_dims:
            raise input_error(
                "V.dims",
                f"at least one feature dim besides {sample_dim!r}",
                f"{tuple(data.dims)}",
            )
        if len(feature_dims) > 1:
            stacked = data.stack(feature=feature_dims).transpose("feature", sample_dim)
        else:
            stacked = data.transpose(feature_dims[0], sample_dim)
        return cls(data, sample_dim, feature_dims, stacked)

    def _feature_coords(self):
        return (
            self.stacked.drop_vars(
                [k for k, v in self.stacked.coords.items() if self.sample_dim in v.dims]
            )
            .isel({self.sample_dim: 0}, drop=True)
            .coords
        )

    def wrap_W(self, W):
        import xarray as xr

        fdim = self.stacked.dims[0]
        out = xr.DataArray(W, dims=(fdim, "component"), coords=self._feature_coords())
        out = out.assign_coords(component=np.arange(W.shape[1]))
        if len(self.feature_dims) > 1:
            out = out.unstack("feature").transpose(*self.feature_dims, "component")
        out.name = "W"
        return out

    def wrap_H(self, H):
        import xarray as xr

        coords = {
            k: v
            for k, v in self.stacked.coords.items()
            if self.sample_dim in v.dims and set(v.dims) == {self.sample_dim}
        }
        out = xr.DataArray(H, dims=("component", self.sample_dim), coords=coords)
        out = out.assign_coords(component=np.arange(H.shape[0]))
        out.name = "H"
        out.attrs = dict(self.data.attrs)
        return out

    def matrix_of_mask(self, mask):
        """A mask shaped like the labelled data, in the matrix orientation."""
        import xarray as xr

        if not _is_dataarray(mask):
            arr = np.asarray(mask)
            if arr.shape != self.data.shape:
                raise input_error(
                    "mask.shape", f"the data's shape {self.data.shape}", f"{arr.shape}"
                )
            mask = xr.DataArray(arr, dims=self.data.dims)
        if set(mask.dims) != set(self.data.dims):
            raise input_error(
                "mask.dims", f"the data's dims {tuple(self.data.dims)}", f"{mask.dims}"
            )
        mask = mask.transpose(*self.data.dims)
        stacked = (
            mask.stack(feature=self.feature_dims)
            if len(self.feature_dims) > 1
            else mask
        )
        return stacked.transpose(self.stacked.dims[0], self.sample_dim).values

    def matrix_of_W(self, W):
        missing = [d for d in self.feature_dims if d not in W.dims]
        if missing or "component" not in W.dims:
            raise input_error(
                "W.dims",
                f"the data's feature dims {tuple(self.feature_dims)} plus 'component'",
                f"{tuple(W.dims)}",
            )
        W = W.transpose(*self.feature_dims, "component")
        if len(self.feature_dims) > 1:
            W = W.stack(feature=self.feature_dims).transpose("feature", "component")
        return W.values
