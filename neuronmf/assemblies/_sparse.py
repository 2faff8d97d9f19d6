"""Sparse (``scipy.sparse``) counts in :func:`neuronmf.assemblies.detect`.

Spike counts in short bins are mostly zeros. ``detect`` keeps a sparse
(time, neuron) count matrix sparse throughout: the NMF fit runs on the
non-zeros (:func:`neuronmf.nmf` on sparse input), the correlations (the
Marchenko–Pastur count, the members' statistic) come from the sparse Gram
matrix Xᵀ·X (neuron × neuron, dense: small), and the circular-shift surrogates
shift each neuron's stored entries (O(nnz)), so the counts are never densified.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import xarray as xr

from neuronmf.errors import input_error

#: Kinds ``detect`` takes as sparse input (the others need a dense ΔF/F).
SPARSE_KINDS = ("counts", "deconvolved")


def as_sparse_counts(activity, coords=None) -> tuple[xr.DataArray, sp.csr_array]:
    """``(A, X)``: a coords-only (time, neuron) DataArray and X as CSR (time × neuron).

    ``A`` holds the coordinates only (its values are a zero-stride view of one
    0, no memory), for the result's coordinates and attributes: those of
    ``coords`` (the Dataset of ``load_activity(..., sparse=True)``) when given,
    else 0, 1, … .
    """
    from neuronmf.engine._sparse import sparse_matrix

    X = sparse_matrix(activity, "activity")
    shape = X.shape
    base = {"time": np.arange(shape[0]), "neuron": np.arange(shape[1])}
    attrs = {}
    if coords is not None:
        if any(
            coords.sizes.get(d, n) != n
            for d, n in zip(("time", "neuron"), shape, strict=True)
        ):
            raise input_error(
                "activity.coords",
                f"time and neuron sizes matching the counts {shape}",
                str(dict(coords.sizes)),
            )
        base.update({k: c for k, c in coords.coords.items()})
        attrs = dict(coords.attrs)
    A = xr.DataArray(
        np.broadcast_to(np.float64(0.0), shape),
        dims=("time", "neuron"),
        coords=base,
        attrs=attrs,
    )
    return A, X


def prepare_sparse(X: sp.csr_array, kind: str, attrs=None) -> tuple[str, str, str]:
    """``(kind, kind_source, preprocessing)`` for sparse counts; refuses ΔF/F kinds."""
    recorded = (attrs or {}).get("activity_kind")
    if kind == "auto" and recorded in SPARSE_KINDS:
        return str(recorded), "recorded by the loader", "used as given"
    if kind in ("fluorescence", "dff"):
        raise input_error(
            "kind for sparse activity",
            f"one of {SPARSE_KINDS} (used as given, KL)",
            repr(kind),
            "ΔF/F needs a dense per-neuron baseline: pass a dense array "
            "(e.g. X.toarray()) for fluorescence or dF/F traces.",
        )
    if kind != "auto":
        return kind, "given", "used as given"
    import warnings

    integer = bool(np.all(X.data == np.round(X.data)))
    kind = "counts" if integer else "deconvolved"
    source = (
        "inferred: values are non-negative integers"
        if integer
        else "inferred: non-negative, non-integer (sparse); used as given"
    )
    warnings.warn(
        f"assemblies.detect: activity kind {source} -> {kind!r}. Pass "
        "kind='counts' or 'deconvolved' to say so.",
        UserWarning,
        stacklevel=3,
    )
    return kind, source, "used as given"


def correlation(X) -> np.ndarray:
    """Pearson correlation of the columns of sparse ``X`` (from Xᵀ·X; 0 for flat).

    Equals ``np.nan_to_num(np.corrcoef(X.toarray(), rowvar=False))`` to
    rounding, with a flat column's correlations 0.
    """
    n_t = X.shape[0]
    X = sp.csc_array(X)
    mean = np.asarray(X.sum(axis=0)).ravel() / n_t
    gram = (X.T @ X).toarray() / n_t
    cov = gram - np.outer(mean, mean)
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    ok = sd > 0
    C = np.zeros_like(cov)
    C[np.ix_(ok, ok)] = cov[np.ix_(ok, ok)] / np.outer(sd[ok], sd[ok])
    np.fill_diagonal(C, np.where(ok, 1.0, 0.0))
    return C


def marchenko_pastur_count(X) -> int:
    """:func:`neuronmf.assemblies.marchenko_pastur_count` of sparse counts.

    The z-scored Zᵀ·Z / B is the correlation matrix (a flat neuron's row and
    column 0), so it comes from the sparse Gram matrix.
    """
    B, N = X.shape
    ev = np.linalg.eigvalsh(correlation(X))
    return int(np.sum(ev > (1 + np.sqrt(N / B)) ** 2))


def mean_corr(Y) -> float:
    """Mean off-diagonal correlation of the columns of sparse ``Y``."""
    return mean_defined_corr(correlation(Y))


def mean_defined_corr(C: np.ndarray) -> float:
    """Mean correlation over the pairs of varying columns of a correlation matrix.

    A flat column (its diagonal entry 0, not 1) has no correlation with anything:
    its pairs are left out, not averaged in as 0. NaN when fewer than 2 columns
    vary.
    """
    ok = np.diag(C) > 0.5
    k = int(ok.sum())
    if k < 2:
        return float("nan")
    sub = C[np.ix_(ok, ok)]
    return float((sub.sum() - np.trace(sub)) / (k * (k - 1)))


def circular_shift(Y, shifts: np.ndarray) -> sp.csc_array:
    """Column j of sparse ``Y`` (time × neuron) rolled down by ``shifts[j]`` bins.

    The same as ``Y.toarray()[(t - shifts[j]) % T, j]``, in O(nnz).
    """
    Y = sp.csc_array(Y)
    n_t = Y.shape[0]
    cols = np.repeat(np.arange(Y.shape[1]), np.diff(Y.indptr))
    rows = (Y.indices + np.asarray(shifts)[cols]) % n_t
    out = sp.csc_array((Y.data, (rows, cols)), shape=Y.shape)
    out.sort_indices()
    return out
