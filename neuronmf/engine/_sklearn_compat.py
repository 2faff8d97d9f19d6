"""scikit-learn's names and checks for :class:`neuronmf.NMF` (private).

The pieces of the estimator that exist to match scikit-learn's ``NMF``: its
solver names, the warning and error classes its tests expect, the checks of a
custom init (``fit(X, W=, H=)`` with ``init="custom"``) and sparse-aware
helpers. docs/sklearn.md lists what matches and what differs.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning
from sklearn.utils.validation import check_array, check_non_negative

from neuronmf.engine import losses
from neuronmf.engine.chunked import is_dask
from neuronmf.errors import ConvergenceWarning, InputError, input_error

#: scikit-learn's solver names that mean one of ours (its "cd" is coordinate
#: descent on the Frobenius loss, the family of our HALS).
SOLVER_ALIASES = {"cd": "hals"}

#: Inits that need n_components <= min(n_samples, n_features).
_SVD_INITS = ("nndsvd", "nndsvda", "nndsvdar", "spa")

#: Sparse formats passed to the engine as they are (others are converted to CSR).
_SPARSE = ("csr", "csc")


class SklearnConvergenceWarning(ConvergenceWarning, _SklearnConvergenceWarning):
    """The estimator's ConvergenceWarning: neuronmf's and scikit-learn's class.

    A filter on either :class:`neuronmf.errors.ConvergenceWarning` or
    :class:`sklearn.exceptions.ConvergenceWarning` catches it.
    """


class InputTypeError(InputError, TypeError):
    """An :class:`InputError` that is also a ``TypeError`` (scikit-learn raises
    TypeError for a custom init whose dtype differs from X's)."""


def result_norm2(X) -> float:
    """|X|²_F (one pass for a dask array; the stored entries of a sparse one)."""
    if is_dask(X):
        return float((X.astype(np.float64) ** 2).sum().compute())
    if sp.issparse(X):
        return float(np.sum(np.square(X.data, dtype=np.float64)))
    return float(np.sum(np.square(X, dtype=np.float64)))


def _all_zero(X) -> bool:
    """True if X (dense or sparse) has no non-zero entry."""
    return X.count_nonzero() == 0 if sp.issparse(X) else not np.any(X)


def _custom_factor(name: str, A, shape: tuple, dtype) -> np.ndarray:
    """Check a factor of ``init="custom"`` (scikit-learn's orientation).

    ``shape`` may hold ``"auto"`` for an axis taken from the factor itself.
    Shape errors carry scikit-learn's phrase ("Array with wrong first
    dimension passed"), a dtype other than X's is an :class:`InputTypeError`.
    """
    whom = f"NMF (input {name})"
    if A is None:
        raise input_error(
            name,
            'given with init="custom"',
            "None",
            'Pass fit(X, W=..., H=...), or another init than "custom".',
        )
    A = check_array(A, dtype=None, ensure_all_finite=True, input_name=name)
    for axis, word in ((0, "first"), (1, "second")):
        if shape[axis] != "auto" and A.shape[axis] != shape[axis]:
            raise input_error(
                f"{name}.shape[{axis}]",
                f"{shape[axis]} (scikit-learn's {name} has shape {tuple(shape)})",
                A.shape[axis],
                f"Array with wrong {word} dimension passed to {whom}.",
            )
    check_non_negative(A, whom)
    if not A.any():
        raise input_error(
            name,
            "not all zero",
            f"an all-zero array of shape {A.shape}",
            f"Array passed to {whom} is full of zeros.",
        )
    if A.dtype != dtype:
        raise InputTypeError(
            f"{name}.dtype must be X's dtype {dtype}; got {A.dtype}. H and W "
            f"should have the same dtype as X (cast them with .astype(X.dtype))."
        )
    return A


def reconstruction_error(X, result) -> float:
    """scikit-learn's ``reconstruction_err_`` of a fit of X (n_samples, n_features).

    |X − WH|_F for the Frobenius loss; otherwise sqrt(2·D(X‖WH)) of the returned
    factors, D the fitted β-divergence (scikit-learn's definition). Sparse X
    (KL) is summed over its non-zeros; a dask X uses the fit's objective.
    """
    if losses.get(result.params["loss"]).beta == 2:  # Frobenius
        return result.relative_error * float(np.sqrt(result_norm2(X)))
    if is_dask(X):
        return float(np.sqrt(2.0 * max(result.loss, 0.0)))
    W, H = result.W, result.H
    if sp.issparse(X):
        from neuronmf.engine._sparse import sparse_matrix
        from neuronmf.engine.solvers.sparse_ccd import kl_divergence_sparse

        D = kl_divergence_sparse(sparse_matrix(X.T), W, H)
    else:
        D = losses.get(result.params["loss"]).divergence(X.T, W @ H, None)
    return float(np.sqrt(2.0 * max(D, 0.0)))
