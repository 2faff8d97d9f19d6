"""The one fit path shared by :func:`neuronmf.nmf` and :class:`neuronmf.NMF`.

:func:`fit_matrix` takes validated :class:`~neuronmf.engine._options.FitOptions`
and returns an :class:`~neuronmf.engine.result.NMFResult`: exact power-of-two
rescaling of extreme data (:mod:`neuronmf.engine._scale`), restarts, the solver
(looked up from the loss's spec), escape rounds for locked components
(:mod:`neuronmf.engine.escape`), normalisation and the checks that no
non-finite or all-zero factor is returned.
"""

from __future__ import annotations

import warnings

import numpy as np

from neuronmf.engine import _validation as check
from neuronmf.engine._options import FitOptions
from neuronmf.engine._scale import (
    scale_exponent,
    scaled_penalties,
    times_power_of_two,
)
from neuronmf.engine._sparse import is_sparse, scaled
from neuronmf.engine.chunked import is_dask
from neuronmf.engine.escape import MAX_ROUNDS, locked_components, reflect, reseed
from neuronmf.engine.init import initialize
from neuronmf.engine.losses import gram, squared_residual
from neuronmf.engine.nnls import nnls_columns
from neuronmf.engine.products import data_product_T
from neuronmf.engine.result import NMFResult
from neuronmf.engine.solvers import get_solver
from neuronmf.engine.solvers.base import Monitor, Problem, blas_threads
from neuronmf.errors import ConvergenceWarning, input_error


def fit_matrix(
    options: FitOptions,
    *,
    progress: bool = False,
    callback=None,
    zero_factor_warns: bool = False,
) -> NMFResult:
    """The one fit path shared by :func:`nmf` and :class:`neuronmf.NMF`.

    ``zero_factor_warns``: a factor that the penalties drive to all zeros is
    returned with a warning (scikit-learn's estimator) instead of an InputError.
    """
    progress = check.check_bool("progress", progress)
    callback = check.check_callable("callback", callback)
    k = _scale_exponent(options)
    fit = _rescaled(options, k) if k else options
    V = fit.V
    problem = Problem(
        V,
        fit.rank,
        loss=fit.loss,
        mask=fit.mask,
        graph=fit.graph,
        graph_weight=fit.graph_weight,
        stats=fit.stats,
        checkpointer=fit.checkpointer,
        l1_W=fit.l1_W,
        l1_H=fit.l1_H,
        l2_W=fit.l2_W,
        l2_H=fit.l2_H,
        update_W=fit.update_W,
        update_H=fit.update_H,
        max_iter=fit.max_iter,
        tol=fit.tol,
    )
    _check_norm(problem.norm_V2, k)
    with blas_threads(V.shape, fit.rank, chunked=is_dask(V)):
        result = _fit_restarts(fit, problem, progress, callback)
    _check_factors(result, options.penalties(), k, zero_factor_warns)
    return _unscaled(result, options, k) if k else result


def _scale_exponent(options: FitOptions) -> int:
    """The even k such that the fit runs on V / 2**k (0: no rescaling).

    See :mod:`neuronmf.engine._scale`. NMF is scale-equivariant: with
    V = 2**k V', W = 2**a W', H = 2**b H'
    (a + b = k) the objective is 2**(p·k) times that of (V', W', H') with the
    penalties scaled by powers of two (p = 2 for Frobenius, 1 for KL). Powers
    of two make the rescaling exact in floating point; k is even so that the
    split a = b = k/2 is too.
    """
    V, stats = options.V, options.stats
    top = stats["max"] if stats is not None else float(V.max())
    return scale_exponent(top, V.dtype)


def _split(options: FitOptions, k: int) -> tuple[int, int]:
    """How the scale 2**k is shared between W (2**a) and H (2**b)."""
    pen_W = bool(
        options.l1_W
        or options.l2_W
        or (options.graph is not None and options.graph_weight > 0)
    )
    pen_H = bool(options.l1_H or options.l2_H)
    if not options.update_W:
        return 0, k  # W fixed: the scale is H's
    if not options.update_H:
        return k, 0  # H fixed: the scale is W's
    if pen_H and not pen_W:
        return 0, k  # W held at unit norm
    if pen_W and not pen_H:
        return k, 0
    # given factors: share the scale so that both come out near 1 (solvers floor
    # entries at an absolute 1e-16, which a factor near 2**-60 would hit)
    e_W, e_H = _top_exponent(options.W), _top_exponent(options.H)
    if e_W is not None and e_H is not None:
        a = (k + e_W - e_H) // 2
    elif e_W is not None:
        a = e_W
    elif e_H is not None:
        a = k - e_H
    else:
        a = k // 2
    return a, k - a


def _top_exponent(F) -> int | None:
    """e with max F in [2**(e-1), 2**e); None for no factor or an all-zero one."""
    if F is None:
        return None
    top = float(np.max(F))
    return int(np.frexp(top)[1]) if top > 0 else None


def _rescaled(options: FitOptions, k: int) -> FitOptions:
    """The options of the same problem on V / 2**k (see :func:`_scale_exponent`)."""
    p = options.spec.scale_power
    a, b = _split(options, k)
    V = options.V
    changes = {}
    if is_dask(V):
        changes["V"] = V.map_blocks(np.ldexp, -k, dtype=V.dtype)
        st = options.stats
        changes["stats"] = {
            **st,
            "min": float(np.ldexp(st["min"], -k)),
            "max": float(np.ldexp(st["max"], -k)),
            "norm2": float(np.ldexp(st["norm2"], -2 * k)),
        }
    elif is_sparse(V):
        changes["V"] = scaled(V, k)
    else:
        changes["V"] = np.ldexp(V, -k).astype(V.dtype, copy=False)
    for name, e in (("W", a), ("H", b)):
        given = getattr(options, name)
        if given is not None:
            changes[name] = np.ldexp(np.asarray(given, dtype=np.float64), -e)
    changes.update(scaled_penalties(options.penalties(), k, a, b, p))
    return options.replace(**changes)


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


def _check_factors(
    result: NMFResult, penalties: dict, k: int, zero_factor_warns: bool = False
) -> None:
    """Never return non-finite or all-zero factors without an error.

    ``penalties``: the penalty weights by name (zero-valued ones are ignored).
    ``zero_factor_warns``: an all-zero factor due to the penalties warns instead.
    """
    for name in ("W", "H"):
        F = getattr(result, name)
        if not np.isfinite(F).all():
            raise FloatingPointError(
                f"the fit gave non-finite entries in {name} (data scale 2**{k} "
                "handled by exact rescaling). Please report this with the data's "
                "shape, dtype and options."
            )
        if not F.any():
            penalties = {key: value for key, value in penalties.items() if value}
            if penalties:
                error = input_error(
                    "the penalties",
                    "small enough to leave a non-zero factor",
                    f"{penalties}, which drive every entry of {name} to zero",
                    "Reduce them (relative to the data's scale).",
                )
                if not zero_factor_warns:
                    raise error
                warnings.warn(f"{error} An all-zero {name} is returned.", stacklevel=4)
                continue
            raise FloatingPointError(
                f"the fit gave an all-zero {name} for non-zero data. Please "
                "report this with the data's shape, dtype and options."
            )


def _unscaled(result: NMFResult, options: FitOptions, k: int) -> NMFResult:
    """Factors, losses and params of a fit of V / 2**k, back in V's units."""
    p = options.spec.scale_power
    dt = result.H.dtype
    with np.errstate(over="ignore"):
        if options.update_H:  # normalised: the scale is all H's
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
    result.params.update(options.penalties())
    return result


def _fit_restarts(
    options: FitOptions, problem: Problem, progress: bool, callback
) -> NMFResult:
    V = problem.V
    dt = V.dtype
    solve = _solver(options)
    seeds = _restart_rngs(options.seed, options.n_restarts)
    best = None
    restart_losses = []
    for restart, rng in enumerate(seeds):
        W0, H0 = _initial_factors(options, restart, rng)
        if options.spec.positive_start:
            W0, H0 = _positive_start(W0, H0, options)
        desc = f"NMF rank {options.rank}"
        if options.n_restarts > 1:
            desc += f" (restart {restart + 1}/{options.n_restarts})"
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
    if not converged and not monitor.stopped_by_callback and options.tol > 0:
        warnings.warn(
            f"NMF stopped at max_iter={options.max_iter} before meeting its "
            f"stopping rule (tol={options.tol}). Increase max_iter or tol.",
            ConvergenceWarning,
            stacklevel=3,
        )
    W, H = _normalise(
        W.astype(dt, copy=False),
        H.astype(dt, copy=False),
        options.update_W,
        options.update_H,
    )
    if problem.masked and is_sparse(V):  # Σ_train (V − WH)², W·H never formed
        from neuronmf.engine._heldout import masked_squared_residual

        res2 = masked_squared_residual(V, problem.mask, W, H)
    elif problem.masked:
        R = np.where(problem.mask, V - W @ H, 0)
        res2 = float(np.sum(np.square(R, dtype=np.float64)))
    else:
        P = np.asarray(V @ H.T)  # one pass over a dask V
        res2 = squared_residual(problem.norm_V2, W, P, gram(W), gram(H.T))
    seed = options.seed
    params = {
        "loss": options.loss,
        "solver": options.solver,
        "init": "custom"
        if options.W is not None or options.H is not None
        else options.init,
        "rank": options.rank,
        "l1_W": options.l1_W,
        "l1_H": options.l1_H,
        "l2_W": options.l2_W,
        "l2_H": options.l2_H,
        "graph_weight": options.graph_weight,
        "masked": problem.masked,
        "max_iter": options.max_iter,
        "tol": options.tol,
        "n_restarts": options.n_restarts,
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


def _solver(options: FitOptions):
    """The solve function: sparse V takes the sparse CCD (KL); the others as is."""
    if is_sparse(options.V) and options.solver == "ccd":
        from neuronmf.engine.solvers import sparse_ccd

        return sparse_ccd.solve
    return get_solver(options.loss, options.solver)


def _escapes_apply(options: FitOptions) -> bool:
    """Escape rounds run for plain in-memory fits by A-HALS (a Frobenius solver)."""
    return bool(
        options.escape
        and options.solver == "hals"
        and options.mask is None
        and options.stats is None
        and options.graph is None
        and not (options.l1_W or options.l1_H or options.l2_W)
        and not options.l2_H
        and options.update_W
        and options.update_H
        and options.checkpointer is None
    )


def _escape_rng(options: FitOptions, rng: np.random.Generator) -> np.random.Generator:
    """The restart's generator when seeded, else a fixed one (deterministic fits)."""
    return rng if options.seed is not None else np.random.default_rng(0)


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


def _initial_factors(options: FitOptions, restart: int, rng: np.random.Generator):
    V = options.V
    dt = V.dtype
    W, H = options.W, options.H
    if restart > 0 and options.update_W and options.update_H:
        return initialize(V, options.rank, "random", rng)
    if W is None and H is None:
        return initialize(V, options.rank, options.init, rng)
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


def _positive_start(W, H, options: FitOptions):
    """Lift exact zeros of the factors being fitted to 1e-6 of their largest entry.

    For losses whose spec asks (``positive_start``): KL is infinite where
    (WH)_ij = 0 < V_ij, and coordinate descent needs a finite start; NNDSVD
    leaves exact zeros. Fixed factors are kept.
    """
    if options.update_W:
        W = np.maximum(W, W.dtype.type(1e-6 * max(float(W.max()), 1e-30)))
    if options.update_H:
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
