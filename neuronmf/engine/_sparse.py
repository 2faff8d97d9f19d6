"""Sparse data (``scipy.sparse``): recognition, checks and conversion.

:func:`neuronmf.nmf`, :class:`neuronmf.NMF` and :func:`neuronmf.project` accept
``scipy.sparse`` arrays and matrices (CSR, CSC, COO and the other formats, all
converted to CSR without densifying). The fit then never forms V or W·H
densely: KL runs coordinate descent over the non-zeros
(:mod:`neuronmf.engine.solvers.sparse_ccd`), Frobenius runs HALS with sparse
products V·Hᵀ and Vᵀ·W (:mod:`neuronmf.engine.products`), or multiplicative
updates (``solver="mu"``) with the same products and the objective from Grams.
Masked fits (held-out entries, :mod:`neuronmf.engine._heldout`) run CCD (KL)
or HALS (Frobenius).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp

from neuronmf._threads import thread_controller, user_set_threads
from neuronmf.engine._heldout import as_heldout
from neuronmf.errors import input_error

#: The solvers that run on sparse data, by loss (the first is "auto").
SPARSE_SOLVERS = {"kl": ("ccd", "mu"), "frobenius": ("hals", "mu")}


def is_sparse(V) -> bool:
    """Whether ``V`` is a ``scipy.sparse`` array or matrix."""
    return sp.issparse(V)


def sparse_matrix(V, name: str = "V", dtype=None) -> sp.csr_array:
    """Validate sparse data; return it as a canonical CSR array of floats.

    Canonical: sorted column indices, duplicates summed, explicit zeros
    dropped (the kernels visit stored entries only, and expect them > 0). The
    input is never modified and never densified. Integer counts become
    ``dtype`` (float64 unless given; float32 input stays float32).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> X = sparse_matrix(sp.coo_array(([1, 2], ([0, 1], [1, 0])), shape=(2, 3)))
    >>> X.format, X.dtype.name, X.nnz
    ('csr', 'float64', 2)
    """
    if V.ndim != 2:
        raise input_error(f"{name}.ndim", "2 (features × samples)", f"{V.ndim}")
    if V.dtype.kind not in "biuf":
        raise input_error(
            f"{name}.dtype",
            "a real numeric type (integer or float)",
            str(V.dtype),
            "Convert it with V.astype(float).",
        )
    if 0 in V.shape:
        raise input_error(name, "non-empty", f"shape {V.shape}")
    if dtype is None:
        dtype = np.float32 if V.dtype == np.float32 else np.float64
    X = sp.csr_array(V, dtype=dtype, copy=True)
    X.sum_duplicates()  # also sorts the indices
    data = X.data
    if data.size and not np.isfinite(data).all():
        bad = int(np.count_nonzero(~np.isfinite(data)))
        raise input_error(
            name,
            "finite (no NaN or Inf in its stored values)",
            f"{bad} non-finite stored entries",
            "Drop or fill them first, or hold them out (mask=HeldOut(...)) and "
            "store a 0 there.",
        )
    if data.size and data.min() < 0:
        raise input_error(
            name,
            "non-negative",
            f"a stored entry {float(data.min())!r}",
            "NMF needs data >= 0.",
        )
    X.eliminate_zeros()
    if X.nnz == 0:
        raise input_error(name, "not all zero", f"no non-zero entry, shape {V.shape}")
    return X


#: The solvers of masked fits on sparse data, by loss.
MASKED_SPARSE_SOLVERS = {"kl": ("ccd",), "frobenius": ("hals",)}


def sparse_heldout(mask, shape, solver: str):
    """The held-out entries of a masked fit on sparse V, checked.

    ``mask`` is a :class:`neuronmf.engine._heldout.HeldOut` or a dense bool
    observation mask (True = observed); returns the ``HeldOut``. Masked fits
    on sparse data run CCD (KL) or HALS (Frobenius).
    """
    if solver not in MASKED_SPARSE_SOLVERS["kl"] + MASKED_SPARSE_SOLVERS["frobenius"]:
        raise input_error(
            "solver",
            "'ccd' (KL) or 'hals' (Frobenius) for a masked fit on sparse V",
            repr(solver),
            "Leave solver='auto'.",
        )
    return as_heldout(mask, shape)


def check_solver(loss: str, solver: str) -> str:
    """The solver of a sparse fit ("auto" resolved); an ``InputError`` otherwise."""
    allowed = SPARSE_SOLVERS.get(loss)
    if allowed is None:
        raise input_error(
            "loss",
            "'kl' or 'frobenius' for sparse V",
            repr(loss),
            "Densify with V.toarray() for other losses.",
        )
    if solver == "auto":
        return allowed[0]
    if solver not in allowed:
        listed = ", ".join(repr(s) for s in ("auto", *allowed))
        raise input_error(
            "solver",
            f"one of {listed} for sparse V with loss={loss!r}",
            repr(solver),
        )
    return solver


def squared_norm(X) -> float:
    """Σ X² over the stored entries, in float64."""
    d = np.asarray(X.data, dtype=np.float64)
    return float(np.dot(d, d))


def scaled(X, k: int):
    """X / 2**k (exact), same format and dtype, a new array."""
    Y = X.copy()
    Y.data = np.ldexp(Y.data, -k).astype(X.dtype, copy=False)
    return Y


@contextmanager
def one_blas_thread():
    """Run the block on one BLAS thread, unless the user set the thread count.

    On sparse data the dense BLAS work is on factor-sized blocks ((m + n) × a
    few tens: the randomised SVD of the init, norms); the size rule of
    :func:`neuronmf.engine.solvers.base.blas_threads`, made for dense V, keeps
    BLAS's own threads for them. Their spinning then stalls the scipy products
    and the Numba kernels on a busy machine: the setup of a 1,000 × 50,000 fit
    at 2 % took 3.6–4.2 s with two BLAS threads against 1.0–1.4 s on one (2
    cores, under load; docs/benchmarks.md, "Sparse spike counts").
    """
    if user_set_threads():
        yield
        return
    with thread_controller().limit(limits=1, user_api="blas"):
        yield
