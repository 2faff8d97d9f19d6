"""Online (minibatch) NMF for streams and very long recordings (Frobenius loss).

Mairal, Bach, Ponce & Sapiro (2010): the data arrive as batches of samples
(time chunks) V_t (m × b). For each batch,

1. the batch's activations solve a non-negative least-squares problem with the
   current parts: H_t = argmin_{H ≥ 0} ½‖V_t − W H‖² + penalties (exact NNLS
   without penalties, HALS sweeps with them);
2. the sufficient statistics are updated, A ← ρA + H_t H_tᵀ (r × r) and
   B ← ρB + V_t H_tᵀ (m × r), with ρ = exp(−b / memory) forgetting old batches
   whose activations were computed with older parts;
3. W is updated by HALS sweeps on the surrogate ½tr(WᵀWA) − tr(WᵀB), which
   summarises every batch seen so far; memory is O(mr + r²), independent of n.

**Convergence criterion.** After each epoch (one pass over the data), the fit
stops when the parts moved by less than ``tol`` relative to their size,
‖W_epoch − W_previous epoch‖_F ≤ tol·‖W_previous epoch‖_F, or after
``n_epochs``. ``loss_history`` holds, per epoch, the mean objective of the
batches (each evaluated right after its own activations were fitted), a running
estimate of the batch objective.
"""

from __future__ import annotations

import math

import numpy as np

from neuronmf.engine._scale import scale_exponent, scaled_penalties
from neuronmf.engine.nnls import nnls_columns
from neuronmf.errors import input_error

W_SWEEPS = 20
H_SWEEPS = 50
DELTA = 1e-3


class OnlineState:
    """Parts and sufficient statistics of an online fit.

    Data at extreme scales are handled as in :func:`neuronmf.nmf`: the first
    batch fixes an even exponent k (:func:`neuronmf.engine._scale.scale_exponent`)
    and every batch is fitted as V / 2**k with W / 2**(k/2) and H / 2**(k/2),
    penalties scaled to match (exact powers of two, so nothing changes for data
    in the usual range). ``W``, ``A`` and ``B`` are held in those units; the
    methods take and return the caller's units.
    """

    def __init__(self, W: np.ndarray, k: int | None = None) -> None:
        m, r = W.shape
        self.W = np.ascontiguousarray(W)
        self.A = np.zeros((r, r), dtype=W.dtype)
        self.B = np.zeros((m, r), dtype=W.dtype)
        self.n_seen = 0
        # the scale exponent: given (from the whole data), or fixed by the first batch
        self.k = None
        if k is not None:
            self._set_scale(k)

    def _set_scale(self, k: int) -> None:
        self.k = int(k)
        if self.k:
            self.W = np.ldexp(self.W, -(self.k // 2)).astype(self.W.dtype)

    def scaled(self, V_batch) -> np.ndarray:
        """The batch as V / 2**k in the working dtype (the first call fixes k)."""
        V_batch = np.ascontiguousarray(V_batch, dtype=self.W.dtype)
        if self.k is None:
            self._set_scale(
                scale_exponent(float(V_batch.max(initial=0.0)), self.W.dtype)
            )
        if self.k:
            V_batch = np.ldexp(V_batch, -self.k).astype(self.W.dtype, copy=False)
        return V_batch

    def penalties(self, **penalties) -> dict:
        """The penalties of the problem in the state's units (see the class notes)."""
        if not self.k:
            return penalties
        return scaled_penalties(penalties, self.k, self.k // 2, self.k // 2)

    def activations(self, V_batch, l1_H: float = 0.0, l2_H: float = 0.0) -> np.ndarray:
        """H for a batch with the parts held fixed (r × b), in the caller's units."""
        Vs = self.scaled(V_batch)
        pen = self.penalties(l1_H=l1_H, l2_H=l2_H)
        Hs = self.scaled_activations(Vs, pen["l1_H"], pen["l2_H"])
        return self.unscaled(Hs, self.k // 2 if self.k else 0)

    def unscaled(self, F, e: int) -> np.ndarray:
        """F · 2**e in the working dtype, refused if it overflows."""
        if not e:
            return F
        with np.errstate(over="ignore"):
            out = np.ldexp(F, e).astype(self.W.dtype, copy=False)
        if not np.isfinite(out).all():
            raise input_error(
                "the data's scale",
                f"within the range of the working dtype {self.W.dtype} for the factors",
                f"factors that overflow it (largest entry about 2**{self.k})",
                "Pass float64 data, or rescale the data.",
            )
        return out

    def scaled_activations(self, Vs, l1_H: float = 0.0, l2_H: float = 0.0):
        """H for a batch already in the state's units (penalties too)."""
        if not (l1_H or l2_H):
            return nnls_columns(Vs, self.W).astype(self.W.dtype)
        from neuronmf.engine.solvers import _hals_kernels as K

        G = np.ascontiguousarray(self.W.T @ self.W)
        Ht = np.ascontiguousarray(nnls_columns(Vs, self.W).T, dtype=self.W.dtype)
        K.update_rows(
            Ht, np.ascontiguousarray(Vs.T @ self.W), G, l1_H, l2_H, H_SWEEPS, DELTA
        )
        return np.ascontiguousarray(Ht.T)

    def update(self, V_batch, memory: float, l1_W=0.0, l1_H=0.0, l2_W=0.0, l2_H=0.0):
        """Take one batch: fit its H, update A, B and W. Returns (H, batch loss).

        H and the loss (½|V_t − W H|², no penalties) are in the caller's units.
        """
        Vs = self.scaled(V_batch)
        pen = self.penalties(l1_W=l1_W, l1_H=l1_H, l2_W=l2_W, l2_H=l2_H)
        H = self.scaled_activations(Vs, pen["l1_H"], pen["l2_H"])
        b = Vs.shape[1]
        rho = self.W.dtype.type(math.exp(-b / memory)) if self.n_seen else 0
        self.A = rho * self.A + H @ H.T
        self.B = rho * self.B + Vs @ H.T
        self.n_seen += b
        R = Vs - self.W @ H
        loss = 0.5 * float(np.sum(np.square(R, dtype=np.float64)))
        from neuronmf.engine.solvers import _hals_kernels as K

        K.update_rows(
            self.W,
            np.ascontiguousarray(self.B),
            np.ascontiguousarray(self.A),
            pen["l1_W"],
            pen["l2_W"],
            W_SWEEPS,
            DELTA,
        )
        k = self.k or 0
        return self.unscaled(H, k // 2), float(np.ldexp(loss, 2 * k))


def initial_parts(V_batch, rank: int, seed, k: int | None = None) -> np.ndarray:
    """Parts from the first batch (NNDSVDa of the batch, scaled).

    Computed on V / 2**k at extreme scales (NNDSVDa's W scales as 2**(k/2));
    ``k`` defaults to the batch's own :func:`~neuronmf.engine._scale.scale_exponent`.
    """
    from neuronmf.engine.init import initialize

    V_batch = np.ascontiguousarray(V_batch)
    if k is None:
        dt = V_batch.dtype if V_batch.dtype == np.float32 else np.dtype(np.float64)
        k = scale_exponent(float(V_batch.max(initial=0.0)), dt)
    if k:
        V_batch = np.ldexp(V_batch, -k).astype(V_batch.dtype, copy=False)
    W, _ = initialize(V_batch, rank, "nndsvda", np.random.default_rng(seed))
    return np.ldexp(W, k // 2).astype(W.dtype, copy=False) if k else W


def batches(n: int, batch_size: int):
    """Column slices of consecutive batches covering 0..n."""
    return [slice(a, min(n, a + batch_size)) for a in range(0, n, batch_size)]


def online_nmf(
    V,
    rank: int,
    *,
    batch_size: int = 512,
    n_epochs: int = 3,
    memory: float | None = None,
    l1_W: float = 0.0,
    l1_H: float = 0.0,
    l2_W: float = 0.0,
    l2_H: float = 0.0,
    tol: float = 1e-4,
    seed=None,
    progress: bool = False,
):
    """Online (minibatch) NMF: one batch of samples in memory at a time.

    Parameters
    ----------
    V : array-like or dask array of shape (m, n)
        Features × samples; a dask array is read one batch at a time.
    rank : int
    batch_size : int, default 512
        Samples per batch (time chunk).
    n_epochs : int, default 3
        Passes over the data at most.
    memory : float, optional
        Forgetting time scale, in samples: old statistics decay by
        exp(−batch_size / memory) per batch. Default: 2·batch_size (each batch's
        statistics weigh e^(−1/2) ≈ 0.61 after the next batch), which tracked the
        batch optimum best in our tests; longer memories average more batches
        but keep statistics from older, worse parts for longer.
    l1_W, l1_H, l2_W, l2_H : float
        Penalties, as in :func:`neuronmf.nmf`.
    tol : float, default 1e-4
        Stop after an epoch in which W moved by less than ``tol`` (relative).
    seed : int, optional
        Seed of the initialisation (NNDSVDa of the first batch).
    progress : bool

    Returns
    -------
    NMFResult
        W (unit columns), H for all samples (a final pass projecting every
        batch on the final W), ``loss_history`` per epoch (see module notes),
        and ``loss``/``relative_error``/``vaf`` of the final (W, H).

    Examples
    --------
    >>> import numpy as np, neuronmf as nm
    >>> rng = np.random.default_rng(0)
    >>> V = rng.random((20, 4)) @ rng.random((4, 3000))
    >>> res = nm.online_nmf(V, 4, batch_size=500, seed=0)
    >>> bool(res.vaf > 0.99)
    True
    """
    from neuronmf.engine import _validation as check
    from neuronmf.engine._fit import _check_factors, _check_norm, _normalise
    from neuronmf.engine.chunked import is_dask
    from neuronmf.engine.result import NMFResult

    progress = check.check_bool("progress", progress)
    tol = check.check_real("tol", tol, 0.0)
    seed = check.check_seed("seed", seed)
    if is_dask(V):
        V, stats = check.dask_matrix(V)
        dt = check.float_dtype(None, V.dtype)
        top = stats["max"]
    else:
        V = check.data_matrix(V)
        dt = check.float_dtype(None, V.dtype)
        V = np.ascontiguousarray(V, dtype=dt)
        top = float(V.max())
    m, n = V.shape
    rank = check.rank(rank, (m, n))
    batch_size = check.integer("batch_size", batch_size, rank)
    n_epochs = check.integer("n_epochs", n_epochs, 1)
    penalties = {
        k: check.non_negative_number(k, v)
        for k, v in {"l1_W": l1_W, "l1_H": l1_H, "l2_W": l2_W, "l2_H": l2_H}.items()
    }
    memory = float(
        2 * batch_size
        if memory is None
        else check.non_negative_number("memory", memory)
    )
    if memory <= 0:
        raise input_error("memory", "a number of samples > 0", memory)
    slices = batches(n, batch_size)

    def batch(s):
        block = V[:, s]
        return np.asarray(block.compute() if is_dask(block) else block, dtype=dt)

    k = scale_exponent(top, dt)
    state = OnlineState(initial_parts(batch(slices[0]), rank, seed, k).astype(dt), k)
    history: list[float] = []
    converged = False
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=n_epochs * len(slices), desc=f"online NMF rank {rank}", leave=False
        )
    for _epoch in range(n_epochs):
        W_before = state.W.copy()
        total = 0.0
        for s in slices:
            _, loss = state.update(batch(s), memory, **penalties)
            total += loss
            if bar is not None:
                bar.update(1)
        history.append(total)
        moved = np.linalg.norm(state.W - W_before) / max(
            np.linalg.norm(W_before), 1e-300
        )
        if moved <= tol:
            converged = True
            break
    if bar is not None:
        bar.close()
    # the final (W, H), residual and objective in the state's units (V / 2**k,
    # see OnlineState), then H and the objective back in the caller's units
    k = state.k or 0
    pen_s = state.penalties(**penalties)
    W = state.W
    H = np.concatenate(
        [
            state.scaled_activations(
                state.scaled(batch(s)), pen_s["l1_H"], pen_s["l2_H"]
            )
            for s in slices
        ],
        axis=1,
    )
    W, H = _normalise(W, H.astype(dt), True, True)
    res2 = 0.0
    norm2 = 0.0
    for s in slices:
        Vb = state.scaled(batch(s)).astype(np.float64)
        res2 += float(np.sum((Vb - W @ H[:, s]) ** 2))
        norm2 += float(np.sum(Vb**2))
    _check_norm(norm2, k)
    pen = sum(pen_s[key] * float(np.sum(F)) for key, F in (("l1_W", W), ("l1_H", H)))
    pen += sum(
        0.5 * pen_s[key] * float(np.sum(F**2)) for key, F in (("l2_W", W), ("l2_H", H))
    )
    H = state.unscaled(H, k)  # W has unit columns: the scale is all H's
    loss = float(np.ldexp(0.5 * res2 + pen, 2 * k))
    result = NMFResult(
        W=W,
        H=H,
        loss_history=history,
        n_iter=len(history),
        converged=converged,
        loss=loss,
        relative_error=float(np.sqrt(res2 / norm2)),
        vaf=float(1 - res2 / norm2),
        restart_losses=[loss],
        params={
            "loss": "frobenius",
            "solver": "online",
            "init": "nndsvda (first batch)",
            "rank": rank,
            "batch_size": batch_size,
            "n_epochs": n_epochs,
            "memory": memory,
            **penalties,
            "tol": tol,
            "seed": seed if seed is None or isinstance(seed, int) else repr(seed),
            "dtype": str(dt),
        },
    )
    _check_factors(result, {**penalties, "graph_weight": 0.0}, k)
    return result
