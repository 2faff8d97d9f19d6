"""Footprint refinement of :func:`~neuronmf.imaging.segment` (``refine="full"``).

The footprints are refined from the seeds on the baseline-subtracted patch
``R`` (not the high-passed, zero-clipped matrix the traces are fitted on), with
a local background fitted jointly: a per-pixel offset plus ``background_rank``
time courses with free-sign spatial maps. Each round is

1. HALS footprint updates with the traces fixed: for neuron k,
   ``a_k ← max(0, (r_k + λ g N a_k + ρ_k a_k⁰ − s g / √n_k) / (g (1 + λ d) + ρ_k))``
   on its support (its seed support dilated by ``support_dilation`` px, area
   ``n_k``), with ``g = ‖c_k‖²`` the trace energy, ``r_k`` the residual
   correlated with ``c_k``, ``N`` the 8-neighbour pixel adjacency and ``d`` its
   degree: the graph-Laplacian penalty ``λ g a_kᵀ L a_k`` and the L1 term
   (``sparsity`` s) scaled by the trace energy, so λ (``smoothness``) and s are
   unit-free; ``ρ_k`` pulls the footprint towards its seed ``a_k⁰`` with weight
   κ / SNR² against ``g`` (:func:`_prior_weights`, ``refine_prior`` κ); the
   background maps by least squares;
2. each footprint rescaled to unit norm;
3. the traces (non-negative) and background time courses (free) by
   block-coordinate descent with the footprints fixed.

Why the former ``"full"`` (``neuronmf.nmf`` on ``max(V − background, 0)``)
lowered IoU, measured in docs/imaging.md ("Footprint refinement"): the data
were clipped at zero *after* subtracting a per-pixel mean background, which
keeps only the tops of the transients and favours the centre pixels (the
footprints shrank from ~40–70 to 4–21 px), and the unscaled λ = 0.1 was
negligible against a trace energy of ~10⁷ (ratio ~10⁻⁹). The high-pass filter
the seeds run on also carves a negative skirt around every soma (its local
mean, σ = 2 r), which erodes the edge at which masks are cut (0.2 × max);
``R`` has none.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from neuronmf.engine import grid_graph

#: Pixels of a refined footprint below this fraction of its maximum that are
#: not connected to its peak through pixels above it are dropped (the mask
#: rule of :func:`~neuronmf.imaging.score.masks_from_footprints`).
MASK_FRACTION = 0.2


def _supports(A: np.ndarray, dilation: int) -> np.ndarray:
    """(pixels, K) 0/1: each seed's support dilated by ``dilation`` px."""
    K = len(A)
    S = A > 0
    if dilation > 0:
        S = ndimage.binary_dilation(
            S, structure=np.ones((1, 3, 3), bool), iterations=int(dilation)
        )
    return S.reshape(K, -1).T.astype(np.float64)


def _background_traces(Yf: np.ndarray, outside: np.ndarray, rank: int) -> np.ndarray:
    """(1 + rank, T): a constant and the leading time courses outside the supports.

    The time courses are the leading right singular vectors of the pixels
    outside every support, centred (a randomized SVD: a few passes over them).
    """
    from sklearn.utils.extmath import randomized_svd

    T = Yf.shape[1]
    X = Yf[outside] if outside.sum() > rank else Yf
    X = X - X.mean(axis=1, keepdims=True)
    rank = min(rank, *X.shape)
    rows = [np.ones(T)]
    if rank > 0 and np.any(X):
        _, _, vt = randomized_svd(X, rank, n_iter=4, random_state=0)
        rows += [v * np.sqrt(T) for v in vt.astype(np.float64)]
    return np.array(rows)


def _update_footprints(Yf, X, Ct, K, support, lam, l1, adj, deg, sweeps, prior):
    """HALS sweeps over the footprint and background columns of ``X``, traces fixed.

    ``prior`` is ``(rho, W0)``: footprint k is pulled towards ``W0[:, k]`` with
    weight ``rho[k]`` (in trace-energy units; 0 for none, ``inf`` to hold it);
    ``l1[k]`` is its L1 weight relative to the trace energy.
    """
    rho, W0 = prior
    G = Ct @ Ct.T
    YC = (Yf @ Ct.T.astype(Yf.dtype)).astype(np.float64)
    for _ in range(sweeps):
        for k in range(X.shape[1]):
            g = G[k, k]
            if g <= 0 or (k < K and np.isinf(rho[k])):
                continue
            rk = YC[:, k] - X @ G[:, k] + g * X[:, k]
            if k < K:
                lk = lam * g
                num = rk + lk * (adj @ X[:, k]) + rho[k] * W0[:, k] - l1[k] * g
                den = g + lk * deg + rho[k]
                X[:, k] = np.maximum(num / den, 0) * support[:, k]
            else:
                X[:, k] = rk / g
    return X


def _prior_weights(Yf, support, C, kappa: float) -> np.ndarray:
    """κ n σ² g / g_c per footprint (n its support area, σ² the mean noise
    variance there, g = ‖c‖² and g_c = ‖c − c̄‖² its trace's energy and
    variation).

    Against the trace energy g this is κ / SNR², SNR being that of one pixel
    of a unit-norm footprint estimated from the trace's *variation*: a quiet
    neuron keeps its seed even when it sits on a bright offset, an active one
    follows the data.
    """
    K = support.shape[1]
    if kappa == 0:
        return np.zeros(K)
    on = support.sum(axis=1) > 0
    d = np.diff(Yf[on], axis=1)
    var = np.zeros(len(support))
    var[on] = (np.median(np.abs(d), axis=1) / (0.6745 * np.sqrt(2.0))) ** 2
    area = support.sum(axis=0)
    g = (C**2).sum(axis=1)
    gc = ((C - C.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    ratio = np.where(gc > 0, g / np.maximum(gc, 1e-300), np.inf)
    return kappa * (var @ support) / np.maximum(area, 1) * area * ratio


def _update_traces(Yf, X, Ct, K, sweeps):
    """HALS sweeps over the traces (≥ 0) and background time courses (free)."""
    G = X.T @ X
    XY = (X.T.astype(Yf.dtype) @ Yf).astype(np.float64)
    for _ in range(sweeps):
        for k in range(len(G)):
            g = G[k, k]
            if g <= 0:
                continue
            v = Ct[k] + (XY[k] - G[k] @ Ct) / g
            Ct[k] = np.maximum(v, 0) if k < K else v
    return Ct


def _connected_to_peak(A: np.ndarray, fraction: float) -> np.ndarray:
    """Each footprint without the pixels cut off from its peak at ``fraction`` × max."""
    out = A.copy()
    for k, a in enumerate(A):
        top = a.max()
        if top <= 0:
            continue
        lab, _ = ndimage.label(a >= fraction * top, structure=np.ones((3, 3), bool))
        keep = ndimage.binary_dilation(lab == lab.flat[np.argmax(a)])
        out[k] = a * keep
    return out


def refine_footprints(
    Y: np.ndarray,
    A: np.ndarray,
    C: np.ndarray,
    *,
    smoothness: float,
    support_dilation: int,
    sparsity: float = 0.0,
    background_rank: int = 1,
    rounds: int = 2,
    sweeps: int = 5,
    prior: float = 0.0,
    hold=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Refine seed footprints by HALS with the traces fixed (private helper).

    Parameters
    ----------
    Y : ndarray (T, h, w)
        The baseline-subtracted patch (not high-passed, not clipped).
    A : ndarray (K, h, w)
        Seed footprints (≥ 0); a footprint is confined to its support (pixels
        > 0) dilated by ``support_dilation`` px.
    C : ndarray (K, T)
        Seed traces (any positive scale).
    smoothness : float
        Unit-free graph-Laplacian weight λ (relative to each trace's energy).
    support_dilation : int
    sparsity : float
        Unit-free L1 weight: relative to each trace's energy and to the value
        of a flat unit-norm footprint on the support.
    background_rank : int
        Background time courses beside the per-pixel offset.
    rounds, sweeps : int
        Alternations of footprints and traces; HALS sweeps per update.
    prior : float
        κ ≥ 0: each footprint is pulled towards its seed with weight κ / SNR²
        relative to its trace energy (:func:`_prior_weights`); 0 for none.
    hold : ndarray of bool (K,), optional
        Footprints kept as they are (their traces are still fitted).

    Returns
    -------
    A : ndarray (K, h, w), unit ℓ2 norm (a footprint with no energy is
        returned as it came, normalised)
    C : ndarray (K, T), the traces of the joint fit
    """
    K, h, w = A.shape
    T = Y.shape[0]
    if K == 0:
        return A.copy(), np.zeros((0, T))
    # (pixels, T) view of the patch, float32 as given (no float64 copy)
    Yf = np.asarray(Y, dtype=np.float32).reshape(T, -1).T
    support = _supports(A, support_dilation)
    adj = grid_graph((h, w), connectivity=8)
    deg = np.asarray(adj.sum(axis=1)).ravel()
    Cb = _background_traces(Yf, support.sum(axis=1) == 0, background_rank)
    W0 = A.reshape(K, -1).T.astype(np.float64)
    W0 = W0 / np.maximum(np.linalg.norm(W0, axis=0), 1e-30)
    X = np.hstack([W0, np.zeros((h * w, len(Cb)))])
    # the prior weighs each seed by its trace's variation on these frames
    c0 = (W0.T.astype(Yf.dtype) @ Yf).astype(np.float64) if prior else None
    rho = _prior_weights(Yf, support, c0, prior)
    l1 = sparsity / np.sqrt(np.maximum(support.sum(axis=0), 1))
    if hold is not None:
        rho[np.asarray(hold, bool)] = np.inf
    Ct = np.vstack([np.maximum(np.asarray(C, np.float64), 0), Cb])
    for _ in range(rounds):
        X = _update_footprints(
            Yf, X, Ct, K, support, smoothness, l1, adj, deg, sweeps, (rho, W0)
        )
        norm = np.linalg.norm(X[:, :K], axis=0)
        dead = norm <= 0
        X[:, :K][:, dead] = W0[:, dead]
        norm[dead] = 1.0
        X[:, :K] /= norm
        Ct[:K] *= norm[:, None]
        Ct = _update_traces(Yf, X, Ct, K, sweeps)
    Ar = _connected_to_peak(X[:, :K].T.reshape(K, h, w), MASK_FRACTION)
    Wr = Ar.reshape(K, -1)
    Ar = Ar / np.maximum(np.linalg.norm(Wr, axis=1), 1e-30)[:, None, None]
    held = np.isinf(rho)
    Ar[held] = W0[:, held].T.reshape(-1, h, w)
    return Ar, Ct[:K]
