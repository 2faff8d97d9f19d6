"""The engine's public functions: :func:`nmf`, :func:`project` and :class:`NMFResult`.

:func:`nmf` and the scikit-learn estimator :class:`neuronmf.NMF` share one private
fit path, :func:`neuronmf.engine._fit.fit_matrix`, which takes validated
:class:`~neuronmf.engine._options.FitOptions` and returns an :class:`NMFResult`.
The pieces live in their own modules: the options and their checks
(``_options``), the fit path (``_fit``), :func:`project` (``_project``), the
result (``result``) and labelled data (``labels``); their names are importable
from here as before.
"""

from __future__ import annotations

from collections.abc import Callable

from neuronmf.engine import _validation as check
from neuronmf.engine import losses
from neuronmf.engine._fit import fit_matrix
from neuronmf.engine._options import check_options, checkpointer
from neuronmf.engine._project import project
from neuronmf.engine.labels import Labels, is_dataarray
from neuronmf.engine.result import NMFResult
from neuronmf.errors import input_error

__all__ = ["LOSSES", "NMFResult", "nmf", "project"]

#: The registered losses' names (each also accepts aliases and its β: losses.get).
LOSSES = losses.names()

# Earlier private names, kept for code that imported them from here.
_Labels = Labels
_check_options = check_options
_fit_matrix = fit_matrix
_is_dataarray = is_dataarray


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
    V : array-like of shape (m, n), scipy.sparse array or matrix, or xarray.DataArray
        Non-negative data, features × samples (e.g. muscles × time). A
        DataArray may have any dims: ``sample_dim`` is the sample axis and every
        other dim is stacked into features (and unstacked again in W). A
        ``scipy.sparse`` array or matrix (CSR, CSC, COO, ...; e.g. spike counts)
        is never densified: ``loss="kl"`` runs coordinate descent over the
        non-zeros, ``"frobenius"`` HALS with sparse products; the results are
        those of the dense path to rounding. Sparse data takes no ``mask`` or
        ``checkpoint`` and ``init="spa"``; a DataArray must wrap a dense array
        (docs/engine.md, "Sparse input").
    rank : int
        Number of components, 1 ≤ rank ≤ min(m, n); more with ``init="random"``
        or with both ``W`` and ``H`` given (the SVD-based inits and SPA need
        rank ≤ min(m, n)).
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
    if is_dataarray(V):
        labels = Labels.from_data(V, sample_dim)
        if mask is not None:
            mask = labels.matrix_of_mask(mask)
        V = labels.matrix
    options = check_options(
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
        options.checkpointer = checkpointer(
            options, checkpoint, checkpoint_every, resume
        )
    elif resume:
        raise input_error("checkpoint", "a path when resume=True", "None")
    result = fit_matrix(options, progress=progress, callback=callback)
    if labels is not None:
        result.W, result.H = labels.wrap_W(result.W), labels.wrap_H(result.H)
    return result
