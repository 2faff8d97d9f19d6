"""Convolutive NMF (seqNMF): patterns that unfold over time.

:func:`conv_nmf` factorises V (features × time) as V ≈ Σ_ℓ W[:, :, ℓ] · shift(H, ℓ):
each component k is a pattern ``W[:, k, :]`` (features × L lags, e.g. a neural
sequence) and ``H[k]`` says when it starts. It is seqNMF (Mackevicius et al.,
eLife 2019) on the engine: the same model, padding, x-ortho penalty, shift fix and
normalisation, with its multiplicative updates as the reference solver and a
coordinate-descent (HALS-type) solver for speed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuronmf.engine import _validation as check
from neuronmf.engine.chunked import is_dask
from neuronmf.engine.labels import is_dataarray
from neuronmf.engine.solvers import _conv_ops as ops
from neuronmf.engine.solvers import conv_mu
from neuronmf.errors import input_error

__all__ = ["ConvNMFResult", "conv_nmf", "factor_similarity", "reconstruct_conv"]

_LOSSES = {"frobenius": "frobenius", "kl": "kl", "kullback-leibler": "kl"}
_SOLVERS = {"frobenius": ("hals", "mu"), "kl": ("mu",)}


def reconstruct_conv(W, H) -> np.ndarray:
    """The model Σ_ℓ W[:, :, ℓ] · shift(H, ℓ) as an (feature, time) ndarray.

    Parameters
    ----------
    W : array-like of shape (N, K, L)
    H : array-like of shape (K, T)

    Examples
    --------
    >>> import numpy as np, neuronmf as nm
    >>> W = np.zeros((2, 1, 3)); W[0, 0, 0] = W[1, 0, 2] = 1
    >>> H = np.zeros((1, 5)); H[0, 1] = 2
    >>> reconstruct_conv(W, H).tolist()
    [[0.0, 2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0, 0.0]]
    """
    W = np.asarray(getattr(W, "values", W), dtype=np.float64)
    H = np.asarray(getattr(H, "values", H), dtype=np.float64)
    return ops.reconstruct(W, H)


def factor_similarity(W1, H1, W2, H2) -> float:
    """seqNMF's similarity of two factorisations (``helper.similarity``), in [0, 1].

    The cosine similarity of every pair of single-component reconstructions
    (W[:, k, :] ⊛ H[k], which does not depend on where a pattern sits in its lag
    window), then a greedy one-to-one matching by the largest remaining cosine;
    the score is the sum of the matched cosines divided by the number of
    components of the first factorisation. Pass the ground truth first: an extra
    (empty) fitted component is not penalised, a missed true one is.

    Examples
    --------
    >>> import numpy as np
    >>> W = np.random.default_rng(0).random((4, 2, 3)); H = np.eye(2, 20)
    >>> round(factor_similarity(W, H, W[:, ::-1], H[::-1]), 6)
    1.0
    """
    parts = []
    for W_, H_ in ((W1, H1), (W2, H2)):
        W_ = np.asarray(getattr(W_, "values", W_), dtype=np.float64)
        H_ = np.asarray(getattr(H_, "values", H_), dtype=np.float64)
        parts.append(
            [
                ops.reconstruct(W_[:, [k], :], H_[[k]]).ravel()
                for k in range(W_.shape[1])
            ]
        )
    S = np.zeros((len(parts[0]), len(parts[1])))
    for i, a in enumerate(parts[0]):
        for j, b in enumerate(parts[1]):
            den = np.linalg.norm(a) * np.linalg.norm(b)
            S[i, j] = float(a @ b) / den if den > 0 else 0.0
    total = 0.0
    for _ in range(min(S.shape)):
        i, j = np.unravel_index(np.argmax(S), S.shape)
        total += S[i, j]
        S[i, :] = -np.inf
        S[:, j] = -np.inf
    return float(total / S.shape[0])


@dataclass
class ConvNMFResult:
    """The outcome of :func:`conv_nmf`.

    Attributes
    ----------
    W : ndarray (feature, component, lag), or DataArray
        The patterns, centred in their lag window (seqNMF's ``shiftFactors``).
    H : ndarray (component, time), or DataArray
        When each pattern starts; rows have unit ℓ2 norm over the padded fit
        (the scale is in W). Components are sorted by ``power_explained``,
        except with ``update_W=False``: then they keep the given W's order.
    loss_history : list of float
        The objective after each iteration (data term + x_ortho·R + l1 terms, on
        the zero-padded data; ``"mu"``'s last iteration is run, and scored,
        without the x-ortho term).
    n_iter, converged, loss
        Iterations run, whether the stopping rule was met, the final objective.
    power : float
        Fraction of the data's power explained by the whole reconstruction,
        1 − ‖V − V̂‖²/‖V‖² (seqNMF's ``power``; observed entries only).
    power_explained : ndarray (component,)
        Per component: (2⟨V, V̂_k⟩ − ‖V̂_k‖²)/‖V‖², clipped at 0 (seqNMF's
        ``loadings``). An empty component explains 0.
    params : dict
        The options used, for provenance.
    """

    W: Any
    H: Any
    loss_history: list[float]
    n_iter: int
    converged: bool
    loss: float
    power: float
    power_explained: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    def reconstruction(self, component=None) -> np.ndarray:
        """V̂ (feature, time), or one component's part of it when ``component``
        (an index) is given.

        Examples
        --------
        >>> import numpy as np, neuronmf as nm
        >>> V = np.random.default_rng(0).random((6, 80))
        >>> res = nm.conv_nmf(V, 2, 4, seed=0, max_iter=20)
        >>> res.reconstruction().shape, res.reconstruction(0).shape
        ((6, 80), (6, 80))
        """
        W = np.asarray(getattr(self.W, "values", self.W))
        H = np.asarray(getattr(self.H, "values", self.H))
        if component is not None:
            W, H = W[:, [component], :], H[[component]]
        return ops.reconstruct(W, H)

    def to_dataset(self):
        """The result as an :class:`xarray.Dataset` stamped with
        ``result_attrs(kind="conv_nmf")``: ``W`` (feature, component, lag),
        ``H`` (component, time), ``loss_history`` (iteration),
        ``power_explained`` (component) and 0-D ``loss``, ``power``,
        ``n_iter``, ``converged``."""
        import xarray as xr

        from neuronmf._provenance import result_attrs

        def labelled(F, dims, name):
            if hasattr(F, "dims"):
                return F.rename(name)
            return xr.DataArray(np.asarray(F), dims=dims, name=name)

        K = int(np.shape(getattr(self.H, "values", self.H))[0])
        history = np.asarray(self.loss_history, dtype=np.float64)
        ds = xr.Dataset(
            {
                "W": labelled(self.W, ("feature", "component", "lag"), "W"),
                "H": labelled(self.H, ("component", "time"), "H"),
                "power_explained": ("component", np.asarray(self.power_explained)),
                "loss_history": xr.DataArray(
                    history,
                    dims="iteration",
                    coords={"iteration": np.arange(1, history.size + 1)},
                ),
                "loss": float(self.loss),
                "power": float(self.power),
                "n_iter": int(self.n_iter),
                "converged": bool(self.converged),
            }
        )
        ds = ds.assign_coords(component=np.arange(K))
        params = dict(self.params)
        ds.attrs = result_attrs(
            "conv_nmf",
            params=params,
            seed=params.get("seed"),
            loss=params.get("loss"),
            solver=params.get("solver"),
        )
        return ds

    def __repr__(self) -> str:
        W = np.shape(getattr(self.W, "values", self.W))
        H = np.shape(getattr(self.H, "values", self.H))
        return (
            f"ConvNMFResult(W{W}, H{H}, loss={self.loss:.6g}, power={self.power:.4f}, "
            f"n_iter={self.n_iter}, converged={self.converged})"
        )


def _as_matrix(V, sample_dim):
    """V as a dense float64 (feature, time) array, and its labels if any."""
    labels = None
    if is_dataarray(V):
        if sample_dim not in V.dims or V.ndim != 2:
            raise input_error(
                "V",
                f"a 2-D DataArray with a {sample_dim!r} dim (feature, time)",
                f"dims {tuple(V.dims)}",
                "Pass sample_dim= naming the time axis.",
            )
        feature = next(d for d in V.dims if d != sample_dim)
        V = V.transpose(feature, sample_dim)
        labels = (feature, sample_dim, V.coords)
        V = V.data
    if is_dask(V):
        # the convolutions need every frame: the chunks are computed into memory
        V = V.compute()
    return V, labels


def _check(V, rank, lags, loss, solver, mask, penalties, max_iter, tol, seed):
    if mask is not None:
        mask = check.mask(mask, np.shape(V))
    V = check.data_matrix(V, "V", mask=mask)
    V = np.asarray(V, dtype=np.float64)
    T = V.shape[1]
    rank = check.check_int("rank", rank, low=1)
    lags = check.check_int("lags", lags, low=1, high=T)
    if not isinstance(loss, str) or loss.lower() not in _LOSSES:
        raise input_error("loss", "one of 'frobenius', 'kl'", repr(loss))
    loss = _LOSSES[loss.lower()]
    solver = check.choice("solver", solver, ("auto", *_SOLVERS[loss]))
    if solver == "auto":
        solver = _SOLVERS[loss][0]
    values = {k: check.non_negative_number(k, v) for k, v in penalties.items()}
    max_iter = check.check_int("max_iter", max_iter, low=1)
    tol = check.check_real("tol", tol, 0.0)
    seed = check.check_seed("seed", seed)
    return V, mask, rank, lags, loss, solver, values, max_iter, tol, seed


def _initial(V, rank, lags, W, H, rng):
    """seqNMF's random start: W ~ max(V)·U(0,1), H ~ max(V)·U(0,1)/√(Tp/3)."""
    N, T = V.shape
    Tp = T + 2 * lags
    top = float(V.max())
    if W is None:
        W0 = top * rng.random((N, rank, lags))
    else:
        W0 = np.array(getattr(W, "values", W), dtype=np.float64)
        if W0.shape != (N, rank, lags) or not np.all(np.isfinite(W0)) or W0.min() < 0:
            raise input_error(
                "W", f"a finite non-negative array of shape {(N, rank, lags)}", W0.shape
            )
    H0 = top * rng.random((rank, Tp)) / np.sqrt(Tp / 3)
    if H is not None:
        Hg = np.array(getattr(H, "values", H), dtype=np.float64)
        if Hg.shape != (rank, T) or not np.all(np.isfinite(Hg)) or Hg.min() < 0:
            raise input_error(
                "H", f"a finite non-negative array of shape {(rank, T)}", Hg.shape
            )
        H0 = np.zeros((rank, Tp))
        H0[:, lags : lags + T] = Hg
    return W0, H0


def conv_nmf(
    V,
    rank: int,
    lags: int,
    *,
    loss: str = "frobenius",
    x_ortho: float = 0.0,
    l1_W: float = 0.0,
    l1_H: float = 0.0,
    mask=None,
    solver: str = "auto",
    max_iter: int = 200,
    tol: float = 1e-4,
    shift: bool = True,
    W=None,
    H=None,
    update_W: bool = True,
    seed=None,
    sample_dim: str = "time",
    callback: Callable[[int, float], object] | None = None,
) -> ConvNMFResult:
    r"""Convolutive NMF V ≈ Σ_ℓ W[:, :, ℓ] · shift(H, ℓ) (seqNMF).

    Minimises, over W ≥ 0 (feature × rank × lags) and H ≥ 0 (rank × time),

    .. math:: D(V, \hat V) + \lambda \|(W \circledast^\top V) S H^\top\|_{1,i\ne j}
              + \ell_{1,W} \textstyle\sum W + \ell_{1,H} \sum H

    where D is ½‖V − V̂‖² (``"frobenius"``) or the generalised KL divergence
    (``"kl"``, for counts), λ = ``x_ortho`` and S sums over 2·lags − 1 frames:
    the x-ortho penalty makes components that overlap in time compete. As in
    seqNMF the data are padded with ``lags`` zero frames on both sides (so a
    pattern may start before the first frame), the factors are centred in their
    lag window every iteration, and H's rows are rescaled to unit norm (the
    scale goes to W); ``"mu"`` runs its last iteration without the x-ortho
    penalty, as seqNMF does (``"hals"`` does not: docs/sequences.md).
    λ is on seqNMF's scale (its demos use 0.001–0.005 for data in [0, 1]); see
    :func:`neuronmf.model_selection.choose_x_ortho` to choose it.

    Parameters
    ----------
    V : array-like (feature, time), 2-D DataArray, or dask array
        Non-negative data. A dask array is computed into memory (the
        convolutions need the whole time axis).
    rank : int
        Number of patterns K.
    lags : int
        Length L of each pattern in frames (1 ≤ L ≤ T; L = 1 is plain NMF).
    loss : {"frobenius", "kl"}
    x_ortho : float, default 0
        λ of the cross-orthogonality penalty (seqNMF's ``lambda``).
    l1_W, l1_H : float, default 0
        L1 penalties (seqNMF's ``lambdaL1W``, ``lambdaL1H``).
    mask : bool array (feature, time), optional
        True where V is observed; the other entries are left out of the data
        term and the penalty (held-out entries for cross-validation).
    solver : {"auto", "hals", "mu"}
        ``"hals"`` (Frobenius; exact coordinate descent on H and W with the
        convolutions as Gram products, Numba) or ``"mu"`` (seqNMF's
        multiplicative updates, NumPy, the reference; the only KL solver).
        ``"auto"`` is ``"hals"`` for Frobenius and ``"mu"`` for KL.
    max_iter : int, default 200
    tol : float, default 1e-4
        Stop when the objective is no lower than the mean of the previous 5 by
        more than ``tol`` (relative; seqNMF's rule). 0 runs ``max_iter``.
    shift : bool, default True
        Centre the factors in their lag window (seqNMF's ``shiftFactors``).
    W, H : array-like, optional
        Initial factors (H of shape (rank, time)); W is held fixed with
        ``update_W=False`` (then ``shift`` is off).
    seed : int or Generator, optional
        The random start (seqNMF's: uniform W and H).
    sample_dim : str, default "time"
        The time dim of a DataArray V.
    callback : callable(iteration, loss), optional
        Returning False stops the fit.

    Returns
    -------
    ConvNMFResult

    Examples
    --------
    >>> import numpy as np, neuronmf as nm
    >>> W = np.zeros((8, 1, 8)); W[np.arange(8), 0, np.arange(8)] = 1
    >>> H = np.zeros((1, 400)); H[0, 20::50] = 1
    >>> V = nm.engine.convolutive.reconstruct_conv(W, H)
    >>> res = nm.conv_nmf(V, 1, 12, seed=0)
    >>> res.W.shape, res.H.shape, bool(res.power > 0.99)
    ((8, 1, 12), (1, 400), True)
    """
    V, labels = _as_matrix(V, check.check_str("sample_dim", sample_dim))
    penalties = {"x_ortho": x_ortho, "l1_W": l1_W, "l1_H": l1_H}
    V, mask, rank, lags, loss, solver, pen, max_iter, tol, seed = _check(
        V, rank, lags, loss, solver, mask, penalties, max_iter, tol, seed
    )
    shift = check.check_bool("shift", shift)
    update_W = check.check_bool("update_W", update_W)
    callback = check.check_callable("callback", callback)
    if not update_W and W is None:
        raise input_error("W", "given when update_W=False", "None")
    N, T = V.shape
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    Vobs = V if mask is None else np.where(mask, V, 0.0)
    W0, H0 = _initial(Vobs, rank, lags, W, H, rng)
    Vp = np.zeros((N, T + 2 * lags))
    Vp[:, lags : lags + T] = np.where(mask, V, 0.0) if mask is not None else V
    Mp = None
    if mask is not None:
        Mp = np.ones_like(Vp)
        Mp[:, lags : lags + T] = mask
    P = conv_mu.ConvProblem(
        Vp, Mp, lags, loss, pen["x_ortho"], pen["l1_W"], pen["l1_H"]
    )
    run = conv_mu.run
    if solver == "hals":
        from neuronmf.engine.solvers import conv_hals

        run = conv_hals.run
    from neuronmf.engine.solvers.base import blas_threads

    # nmf's per-fit thread rule: small lagged products on one BLAS thread (their
    # many tiny GEMMs woke 2 BLAS threads per call: 10-100x slower on 2 busy cores)
    with blas_threads((N, T + 2 * lags), rank * lags):
        Wf, Hf, history, n_iter, converged = run(
            P,
            W0,
            H0,
            max_iter=max_iter,
            tol=tol,
            shift=shift and update_W,
            update_W_=update_W,
            callback=callback,
        )
    return _finish(V, mask, Wf, Hf, lags, history, n_iter, converged, labels, locals())


def _finish(V, mask, W, H, L, history, n_iter, converged, labels, call):
    """Crop the padding, score, sort by power explained (W fitted), label."""
    T = V.shape[1]
    H = np.ascontiguousarray(H[:, L : L + T])
    Vo = V if mask is None else np.where(mask, V, 0.0)
    total = float((Vo * Vo).sum())
    loadings = np.zeros(W.shape[1])
    for k in range(W.shape[1]):
        part = ops.reconstruct(W[:, [k], :], H[[k]])
        if mask is not None:
            part = part * mask
        loadings[k] = (
            2 * float((Vo * part).sum()) - float((part * part).sum())
        ) / total
    loadings = np.maximum(loadings, 0.0)
    # a fixed W keeps its order: its rows are the caller's patterns
    if call["update_W"]:
        order = np.argsort(-loadings, kind="stable")
    else:
        order = np.arange(len(loadings))
    W, H, loadings = W[:, order, :], H[order], loadings[order]
    Xhat = ops.reconstruct(W, H)
    R = Vo - (Xhat if mask is None else Xhat * mask)
    power = 1.0 - float((R * R).sum()) / total
    params = {
        k: call[k]
        for k in ("rank", "lags", "loss", "solver", "max_iter", "tol", "shift", "seed")
    }
    params.update(call["pen"])
    params["seed"] = params["seed"] if isinstance(params["seed"], int) else None
    params["masked"] = mask is not None
    if labels is not None:
        import xarray as xr

        feature, time, coords = labels
        W = xr.DataArray(
            W,
            dims=(feature, "component", "lag"),
            coords={feature: coords[feature]} if feature in coords else None,
            name="W",
        )
        H = xr.DataArray(
            H,
            dims=("component", time),
            coords={time: coords[time]} if time in coords else None,
            name="H",
        )
    return ConvNMFResult(
        W=W,
        H=H,
        loss_history=[float(x) for x in history],
        n_iter=int(n_iter),
        converged=bool(converged),
        loss=float(history[-1]),
        power=power,
        power_explained=loadings,
        params=params,
    )
