"""Held-out entries of sparse data, stored sparsely (masked fits on ``scipy.sparse``).

A masked fit on dense V takes ``mask`` (bool, m × n, True = observed). On
sparse counts a dense m × n mask would cost more than the data, so the held-out
(unobserved) entries are a :class:`HeldOut`: a CSR *pattern* (row pointers and
sorted column indices, no values), which may include zeros of V, as the
speckled hold-out of ``select_rank(method="cv")`` does (most held-out entries
of sparse counts are zeros).

Memory: 4 bytes per held-out entry (int32 indices) plus 8 per row; the fit
also keeps the pattern's transpose and, for the Frobenius loss, V merged with
the pattern (its held-out entries carry the imputed values). At 10 % held out
that is about 0.4 byte per entry of V (0.8 with the transpose) against 1 byte
of a dense bool mask and 8 of a dense float64 V (docs/engine.md, "Masks on
sparse data"; docs/benchmarks.md, "Masked CV on sparse counts").

How the fits use it (O(nnz + n_held) per pass, never O(m · n)):

- KL: the coordinate updates run over the training non-zeros (the stored
  entries that are not held out); each row's linear term Σ_{j trains} O_j is
  Σ_all O_j − Σ_{j held out} O_j, the second sum over the pattern.
- Frobenius (HALS): the expectation–maximisation of the dense masked fit, on
  V merged with the pattern: before each block update the held-out entries
  are set to (WH)_ij, the sparse products then see the imputed matrix.

Given the same data, mask and start, the fits run the dense masked path's
arithmetic, and agree with it to rounding.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from neuronmf.errors import input_error

__all__ = ["HeldOut", "as_heldout", "filled", "heldout_loss", "training_entries"]


class HeldOut:
    """The held-out (unobserved) entries of an (m, n) matrix, stored sparsely.

    Pass it as ``mask=`` to :func:`neuronmf.nmf` with ``scipy.sparse`` data:
    the listed entries are left out of the fit (zeros of V included); score
    them with :meth:`neuronmf.NMFResult.heldout_loss`.

    Parameters
    ----------
    indptr : array of int, shape (m + 1,)
    indices : array of int, shape (n_held,)
        CSR pattern: the held-out columns of row i are
        ``indices[indptr[i]:indptr[i + 1]]``; sorted and unique within rows
        (use :meth:`from_sparse` or :meth:`from_array` to build one from
        anything else).
    shape : (m, n)

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp, neuronmf as nm
    >>> from neuronmf.engine import HeldOut
    >>> rng = np.random.default_rng(0)
    >>> V = sp.random_array((40, 300), density=0.1, random_state=0) * 5
    >>> held = HeldOut.from_array(rng.random(V.shape) < 0.1)
    >>> res = nm.nmf(V, 2, loss="kl", mask=held, seed=0)
    >>> bool(res.heldout_loss(V, held) > 0)
    True
    """

    def __init__(self, indptr, indices, shape: tuple[int, int]) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        kind = np.int32 if self.shape[1] < 2**31 else np.int64
        self.indices = np.ascontiguousarray(indices, dtype=kind)
        if self.indptr.shape != (self.shape[0] + 1,) or self.indptr[-1] != len(
            self.indices
        ):
            raise input_error(
                "HeldOut",
                f"a CSR pattern of {self.shape[0]} rows",
                f"indptr of length {self.indptr.shape[0]} for "
                f"{len(self.indices)} indices",
            )

    @classmethod
    def from_sparse(cls, S) -> HeldOut:
        """The stored non-zero entries of a ``scipy.sparse`` matrix, held out."""
        S = sp.csr_array(S, copy=True)
        S.sum_duplicates()
        S.eliminate_zeros()
        return cls(S.indptr, S.indices, S.shape)

    @classmethod
    def from_array(cls, held) -> HeldOut:
        """The True entries of a dense boolean array (True = held out).

        For an observation mask (True = observed) pass ``~mask``.
        """
        held = np.asarray(held)
        if held.dtype != np.bool_ or held.ndim != 2:
            raise input_error(
                "held",
                "a 2-D bool array (True = held out)",
                f"{held.dtype} {held.shape}",
            )
        rows, cols = np.nonzero(held)
        indptr = np.zeros(held.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=held.shape[0]), out=indptr[1:])
        return cls(indptr, cols, held.shape)

    @property
    def n_held(self) -> int:
        """The number of held-out entries."""
        return int(self.indices.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes of the stored pattern."""
        return int(self.indptr.nbytes + self.indices.nbytes)

    def row_counts(self) -> np.ndarray:
        """Held-out entries per row."""
        return np.diff(self.indptr)

    def col_counts(self) -> np.ndarray:
        """Held-out entries per column."""
        return np.bincount(self.indices, minlength=self.shape[1])

    def transpose(self) -> HeldOut:
        """The same entries of the transposed (n, m) matrix."""
        S = sp.csr_array(
            (np.ones(self.n_held, dtype=bool), self.indices, self.indptr),
            shape=self.shape,
        )
        T = S.T.tocsr()
        T.sort_indices()
        return HeldOut(T.indptr, T.indices, T.shape)

    def to_sparse(self) -> sp.csr_array:
        """A boolean CSR array, True at the held-out entries."""
        return sp.csr_array(
            (np.ones(self.n_held, dtype=bool), self.indices.copy(), self.indptr.copy()),
            shape=self.shape,
        )

    def to_array(self) -> np.ndarray:
        """The dense boolean (m, n) array, True = held out (for small data, tests)."""
        return self.to_sparse().toarray()

    def __eq__(self, other) -> bool:
        return (
            isinstance(other, HeldOut)
            and self.shape == other.shape
            and np.array_equal(self.indptr, other.indptr)
            and np.array_equal(self.indices, other.indices)
        )

    __hash__ = None  # mutable arrays inside

    def __repr__(self) -> str:
        m, n = self.shape
        frac = self.n_held / max(m * n, 1)
        return f"HeldOut(shape={self.shape}, n_held={self.n_held}, {frac:.1%})"


def as_heldout(mask, shape) -> HeldOut:
    """The held-out entries of a masked fit on sparse V (checked).

    ``mask`` is a :class:`HeldOut`, or a dense boolean observation mask
    (True = observed, as for dense V). Every row and column must keep a
    training entry.
    """
    if isinstance(mask, HeldOut):
        held = mask
    elif sp.issparse(mask):
        raise input_error(
            "mask for sparse V",
            "a HeldOut (the held-out entries) or a dense bool mask (True = observed)",
            f"a {type(mask).__name__}",
            "A sparse mask is ambiguous (observed or held out?): pass "
            "mask=HeldOut.from_sparse(S) for the stored entries of S held out.",
        )
    else:
        from neuronmf.engine._validation import mask as check_mask

        held = HeldOut.from_array(~check_mask(mask, shape))
    if held.shape != tuple(shape):
        raise input_error("mask.shape", f"the data's shape {tuple(shape)}", held.shape)
    m, n = held.shape
    for axis, counts, size in (
        ("row (feature)", held.row_counts(), n),
        ("column (sample)", held.col_counts(), m),
    ):
        full = np.flatnonzero(counts >= size)
        if full.size:
            raise input_error(
                "mask",
                f"leaving a training entry in every {axis}",
                f"every entry held out in {axis.split()[0]}(s) {full[:10].tolist()}",
                "Hold out fewer entries there, or drop those rows/columns.",
            )
    return held


def filled(X, held: HeldOut, dtype) -> sp.csr_array:
    """X merged with the held-out pattern, held-out entries at the row's mean.

    The sparse twin of :func:`neuronmf.engine._validation.fill_unobserved`:
    a new CSR array whose stored entries are the training non-zeros of X and
    every held-out entry (stored even where the fill is 0), the latter set to
    the mean of the row's training entries (zeros included), so that what X
    holds there never reaches the fit. Refuses data that is all zero on its
    training entries.
    """
    from neuronmf.engine.solvers import _sparse_kernels as S

    indptr, indices, values = S.csr_parts(X)
    counts = S.union_counts(indptr, indices, held.indptr, held.indices)
    out_indptr = np.zeros(X.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=out_indptr[1:])
    out_indices = np.empty(out_indptr[-1], dtype=held.indices.dtype)
    out_values = np.empty(out_indptr[-1], dtype=dtype)
    slots = np.empty(held.n_held, dtype=np.int64)
    sums = np.empty(X.shape[0])
    S.union_rows(
        indptr,
        indices,
        values.astype(dtype, copy=False),
        held.indptr,
        held.indices,
        out_indptr,
        out_indices,
        out_values,
        slots,
        sums,
    )
    if not (sums > 0).any():
        raise input_error(
            "V",
            "not all zero on its observed entries",
            f"no non-zero training entry, shape {X.shape}",
        )
    means = (sums / (X.shape[1] - held.row_counts())).astype(dtype)
    out_values[slots] = np.repeat(means, held.row_counts())
    index = np.int32 if out_indptr[-1] < 2**31 else np.int64
    return sp.csr_array(
        (out_values, out_indices.astype(index, copy=False), out_indptr.astype(index)),
        shape=X.shape,
    )


def training_entries(X, held: HeldOut):
    """``(training, slots)``: the stored entries of merged ``X`` that train, as a
    canonical CSR array, and the positions of the held-out ones in ``X``.

    ``X`` stores every held-out entry (as :func:`filled` returns it).
    """
    from neuronmf.engine.solvers import _sparse_kernels as S

    indptr, indices, _ = S.csr_parts(X)
    slots = S.locate(indptr, indices, held.indptr, held.indices)
    keep = np.ones(X.nnz, dtype=bool)
    keep[slots] = False
    per_row = np.diff(indptr) - held.row_counts()
    out_indptr = np.zeros(X.shape[0] + 1, dtype=X.indptr.dtype)
    np.cumsum(per_row, out=out_indptr[1:])
    T = sp.csr_array(
        (X.data[keep], X.indices[keep], out_indptr), shape=X.shape, copy=False
    )
    T.eliminate_zeros()  # the kernels visit positive entries only
    return T, slots


def pattern_sums(held: HeldOut, Ot) -> np.ndarray:
    """Σ over each row's held-out columns of ``Ot`` (q, r): an (m, r) array."""
    from neuronmf.engine.solvers import _sparse_kernels as S

    out = np.empty((held.shape[0], Ot.shape[1]), dtype=Ot.dtype)
    S.pattern_sums(held.indptr, held.indices, np.ascontiguousarray(Ot), out)
    return out


def fitted_at(held: HeldOut, W, H) -> np.ndarray:
    """(W·H)_ij at every held-out entry, float64, in the pattern's order."""
    from neuronmf.engine.solvers import _sparse_kernels as S

    dt = np.float32 if np.asarray(W).dtype == np.float32 else np.float64
    W = np.ascontiguousarray(W, dtype=dt)
    Ht = np.ascontiguousarray(np.asarray(H).T, dtype=dt)
    return S.pattern_products(held.indptr, held.indices, W, Ht)


def masked_squared_residual(X, held: HeldOut, W, H) -> float:
    """Σ over the training entries of (V − WH)², never forming W·H densely.

    ``X`` stores every held-out entry (merged, as :func:`filled` returns it):
    Σ_train (V − WH)² = Σ_all (WH)² − Σ_held (WH)² + Σ_train,stored (v² − 2v·WH).
    """
    from neuronmf.engine.solvers import _sparse_kernels as S

    T, _ = training_entries(X, held)
    W64 = np.ascontiguousarray(W, dtype=np.float64)
    H64 = np.asarray(H, dtype=np.float64)
    total = float(np.sum((W64.T @ W64) * (H64 @ H64.T)))
    mu_held = fitted_at(held, W64, H64)
    T64 = T.astype(np.float64)
    train = HeldOut(T64.indptr, T64.indices, T64.shape)
    mu = S.pattern_products(
        train.indptr, train.indices, W64, np.ascontiguousarray(H64.T)
    )
    stored = float(np.dot(T64.data, T64.data - 2.0 * mu))
    return max(total - float(np.dot(mu_held, mu_held)) + stored, 0.0)


def heldout_loss(V, held: HeldOut, W, H, loss: str, chunk: int = 1 << 22) -> float:
    """Mean loss of W·H at the held-out entries of sparse ``V`` (zeros included).

    The score of :meth:`neuronmf.NMFResult.heldout_loss` (the loss's
    ``heldout``): Frobenius the mean squared error, KL the mean Poisson
    deviance of the prediction shrunk towards each row's mean training rate
    (:func:`neuronmf.engine.losses.kl.row_rates`). V's values at the held-out
    entries and the predictions there are formed in chunks of rows (at most
    about ``chunk`` entries each); V and W·H are never densified.
    """
    from neuronmf.engine import losses
    from neuronmf.engine.losses.kl import RATE_SHRINK
    from neuronmf.engine.solvers import _sparse_kernels as S

    X = sp.csr_array(V)
    X.sum_duplicates()
    indptr, indices, values = S.csr_parts(X.astype(np.float64))
    spec = losses.get(loss)
    shrink = spec.positive_start  # as the dense heldout: KL shrinks to rates
    held_values = S.values_at(indptr, indices, values, held.indptr, held.indices)
    rates = None
    if shrink:
        n_train = held.shape[1] - held.row_counts()
        held_sums = np.add.reduceat(held_values, held.indptr[:-1]) if held.n_held else 0
        held_sums = np.where(held.row_counts() > 0, held_sums, 0.0)
        sums = np.asarray(X.sum(axis=1), dtype=np.float64).ravel() - held_sums
        rates = sums / np.maximum(n_train, 1)
        overall = float(sums.sum()) / max(int(n_train.sum()), 1)
        rates = np.maximum(rates, 0.01 * (overall if overall > 0 else 1.0))
    W64 = np.ascontiguousarray(W, dtype=np.float64)
    Ht = np.ascontiguousarray(np.asarray(H, dtype=np.float64).T)
    m = held.shape[0]
    counts = held.row_counts()
    total = 0.0
    start = 0
    while start < m:  # rows whose held-out entries add up to about `chunk`
        stop = int(np.searchsorted(held.indptr, held.indptr[start] + chunk, "right"))
        stop = min(max(stop - 1, start + 1), m)
        lo, hi = held.indptr[start], held.indptr[stop]
        if hi > lo:
            part = HeldOut(
                held.indptr[start : stop + 1] - lo,
                held.indices[lo:hi],
                (stop - start, held.shape[1]),
            )
            mu = S.pattern_products(part.indptr, part.indices, W64[start:stop], Ht)
            if shrink:
                row_rate = np.repeat(rates[start:stop], counts[start:stop])
                mu = (1.0 - RATE_SHRINK) * mu + RATE_SHRINK * row_rate
            total += (hi - lo) * spec.mean_deviance(held_values[lo:hi], mu, 0.0)
        start = stop
    return total / max(held.n_held, 1)


class Imputer:
    """The held-out entries of a merged sparse V, imputed in place (masked HALS).

    The sparse twin of the dense masked HALS's ``fill_entries``,
    ``fill_and_update_product`` and ``entries_squares``: ``X`` is the solver's
    private copy of V merged with the pattern (:func:`filled`); its held-out
    entries are set to (W·Htᵀ)_ij, so the sparse products see the imputed
    matrix.
    """

    def __init__(self, X, held: HeldOut) -> None:
        self.X = X
        self.held = held
        _, self.slots = training_entries(X, held)

    def fill(self, W, Ht, P=None) -> None:
        """Set the held-out entries to W·Htᵀ; keep ``P`` = X·Ht current if given."""
        from neuronmf.engine.solvers import _sparse_kernels as S

        update = P is not None
        S.fill_slots(
            self.X.data,
            self.held.indptr,
            self.held.indices,
            self.slots,
            W,
            Ht,
            P if update else W[:0],
            update,
        )

    def squares(self, W, Ht) -> tuple[float, float]:
        """[Σ x², Σ (x − W·Htᵀ)²] over the held-out entries."""
        from neuronmf.engine.solvers import _sparse_kernels as S

        out = S.slot_squares(
            self.X.data, self.held.indptr, self.held.indices, self.slots, W, Ht
        )
        return float(out[0]), float(out[1])
