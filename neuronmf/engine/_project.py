"""Activations of new data on fixed parts: :func:`project`."""

from __future__ import annotations

import warnings

import numpy as np

from neuronmf.engine import _validation as check
from neuronmf.engine import losses
from neuronmf.engine._fit import fit_matrix
from neuronmf.engine._options import check_options
from neuronmf.engine._scale import times_power_of_two
from neuronmf.engine._sparse import is_sparse, scaled, sparse_matrix
from neuronmf.engine.chunked import is_dask
from neuronmf.engine.labels import Labels, is_dataarray
from neuronmf.engine.nnls import exponent, nnls_columns
from neuronmf.engine.solvers.base import blas_threads
from neuronmf.errors import ConvergenceWarning, input_error


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
    V : array-like of shape (m, n), scipy.sparse array or matrix, or xarray.DataArray
        New data with the same features as W. Sparse data (CSR, CSC, COO, ...)
        is never densified (see :func:`neuronmf.nmf`).
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
    if is_dataarray(V):
        labels = Labels.from_data(V, sample_dim)
        V = labels.matrix
        if is_dataarray(W):
            W = labels.matrix_of_W(W)
    elif is_dataarray(W):
        dims = [d for d in W.dims if d != "component"]
        W = W.transpose(*dims, "component").values.reshape(-1, W.sizes["component"])
    chunked = is_dask(V)
    sparse = is_sparse(V)  # scipy.sparse: never densified
    if sparse:
        V = sparse_matrix(V)
    else:
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
    kv, kw = exponent(V.data if sparse else V), exponent(Wa)
    if sparse:
        Vn = scaled(V, kv) if kv else V
    else:
        Vn = np.ldexp(np.asarray(V, dtype=dt), -kv) if kv else V
    Wn = np.ldexp(np.asarray(Wa, dtype=np.float64), -kw) if kw else Wa
    with blas_threads(V.shape, Wa.shape[1]):
        H = nnls_columns(Vn, Wn).astype(dt, copy=False)
    if (not spec.exact_projection or l1_H or l2_H) and H.any():
        # refine the least-squares answer under the loss and penalties, W fixed;
        # on (V / 2**kv, W / 2**kw) the data term is 2**(-p·kv) times V's and H
        # is 2**(kw - kv) times H's, so the penalties scale accordingly
        p = spec.scale_power
        options = check_options(
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
            H = fit_matrix(options).H
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
