"""CNMF-E's ring model of the one-photon background: ``segment(background="ring")``.

One-photon (endoscope) movies sit on a background many times brighter than
the neurons that is spatially structured and fluctuates on its own (blurred
out-of-focus tissue, blood vessels). A low-rank background cannot follow it.
CNMF-E (Zhou et al. 2018, eLife 7:e28728) models the background of each
pixel as a weighted combination of the fluctuating pixels on a ring around
it, far enough that the ring misses the pixel's own neuron:

    B = W (Y − A C − b0 1ᵀ) + b0 1ᵀ,

with ``W`` sparse (pixel i regresses only on the pixels of its ring, fitted
by least squares on the residual with the neurons removed) and ``b0`` a
constant per pixel. This module fits that model on one patch (held in
memory) and alternates it with the traces and footprints:

1. ring background fitted on the movie (no neurons yet); the seeding runs on
   the movie minus it (CNMF-E's correlation × peak-to-noise criterion,
   :func:`~neuronmf.imaging.seeds.greedy_seeds`);
2. ``ring_iter`` rounds of: ring background refitted on ``Y − A C``, traces
   (exact NNLS by coordinate descent, on the unclipped background-subtracted
   movie) and footprints (the same on each footprint's seed support dilated
   by ``support_dilation`` + 1 pixels, then cut to its connected part
   ≥ ``footprint_threshold`` × max);
3. overlapping components with correlated traces merged, traces refitted.

The weights are fitted on the frames binned like the seeding's (the
background is slow) and applied at the full frame rate as a sparse matrix;
memory is a few copies of the patch plus ``W`` (pixels × ring size).
No code is taken from CaImAn (GPL); the model and its defaults follow the
paper.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, sparse

from neuronmf.imaging._ring_kernels import ring_weights
from neuronmf.imaging.merging import merge_duplicates

__all__ = [
    "RING_POINTS",
    "RingBackground",
    "RingGeometry",
    "grow_tiles",
    "ring_offsets",
]

#: At most this many ring pixels per pixel (evenly spaced in angle): the
#: background is smooth along the ring, and the fit costs P · n² · T.
RING_POINTS = 48

#: Ridge of the least-squares fit, relative to the mean variance of the ring
#: pixels (keeps the weights small where the ring pixels are collinear).
RING_RIDGE = 1e-3


def grow_tiles(tiles: list, margin: float, shape: tuple[int, int]) -> list:
    """Patches grown by ``margin`` pixels on each side (within ``shape``); cores kept.

    The ring model needs the whole ring of every pixel of a patch's core: a
    ring cut by the patch edge extrapolates the background, which there
    becomes spurious neurons. The grown patch is segmented whole and, as
    always, only the components whose centroid lies in its core are kept.

    Examples
    --------
    >>> grow_tiles([(slice(0, 10), slice(5, 10), None)], 3, (20, 12))
    [(slice(0, 13, None), slice(2, 12, None), None)]
    """
    m = int(np.ceil(margin))
    ny, nx = shape
    return [
        (
            slice(max(ys.start - m, 0), min(ys.stop + m, ny)),
            slice(max(xs.start - m, 0), min(xs.stop + m, nx)),
            core,
        )
        for ys, xs, core in tiles
    ]


def ring_offsets(radius: float, n_max: int = RING_POINTS) -> np.ndarray:
    """(n, 2) integer (dy, dx) offsets of the ring of ``radius`` pixels.

    The pixels whose distance from the centre rounds to ``radius`` (a ring one
    pixel wide), ordered by angle and thinned evenly to at most ``n_max``.

    Examples
    --------
    >>> off = ring_offsets(3.0)
    >>> bool(np.all(np.round(np.hypot(*off.T)) == 3))
    True
    """
    R = int(np.ceil(radius)) + 1
    yy, xx = np.mgrid[-R : R + 1, -R : R + 1]
    d = np.hypot(yy, xx)
    on = np.abs(d - radius) < 0.5
    off = np.stack([yy[on], xx[on]], axis=1)
    off = off[np.argsort(np.arctan2(off[:, 0], off[:, 1]), kind="stable")]
    if len(off) > n_max:
        off = off[np.linspace(0, len(off), n_max, endpoint=False).astype(int)]
    return off


class RingGeometry:
    """Where each pixel's ring lies, for a patch of ``shape`` and a ring ``radius``.

    The ring pixels are the patch averaged in 2 × 2 blocks (as CaImAn's
    ``ssub_B=2``): the ring of radius ``radius / 2`` blocks around each block
    (every block on it, thinned to at most :data:`RING_POINTS`), shared by
    the block's pixels, so one Gram matrix serves four pixels and a vessel
    one or two pixels wide crossing the ring is not missed between samples.

    Attributes
    ----------
    down : scipy.sparse.csr_matrix (Q, P)
        Block means: ``down @ F`` is ``F`` (P, T) averaged in blocks.
    block_of : ndarray (P,)
        The block of each pixel.
    order : ndarray (P,)
        The pixels sorted by block.
    index : ndarray (Q, n)
        Each block's ring blocks, −1 outside the patch.
    """

    def __init__(self, shape: tuple[int, int], radius: float) -> None:
        h, w = shape
        hd, wd = (h + 1) // 2, (w + 1) // 2
        yy, xx = np.divmod(np.arange(h * w), w)
        self.block_of = (yy // 2) * wd + xx // 2
        self.order = np.argsort(self.block_of, kind="stable")
        counts = np.bincount(self.block_of, minlength=hd * wd)
        self.down = sparse.csr_matrix(
            (1.0 / counts[self.block_of], (self.block_of, np.arange(h * w))),
            shape=(hd * wd, h * w),
        )
        off = ring_offsets(radius / 2.0)
        by, bx = np.divmod(np.arange(hd * wd), wd)
        ry = by[:, None] + off[None, :, 0]
        rx = bx[:, None] + off[None, :, 1]
        inside = (ry >= 0) & (ry < hd) & (rx >= 0) & (rx < wd)
        self.index = np.where(inside, ry * wd + rx, -1).astype(np.int64)


def fit_ring_weights(F: np.ndarray, geometry: RingGeometry, ridge: float = RING_RIDGE):
    """The sparse ring weights ``W`` (P × Q) minimising ‖F − W (down F)‖² by row.

    ``F`` (P, T) is the fluctuating residual (each row zero-mean). Each row is
    a ridge regression of the pixel on its ring (ridge = ``ridge`` × the mean
    variance of the ring), solved by the Numba kernel
    :func:`~neuronmf.imaging._ring_kernels.ring_weights`; memory: the
    block-averaged ``F`` and ``W``.
    """
    F = np.ascontiguousarray(F, np.float64)
    Fd = np.ascontiguousarray(geometry.down @ F)
    P, n = len(F), geometry.index.shape[1]
    weights = np.zeros((P, n))
    g = geometry
    ring_weights(F, Fd, g.order, g.block_of, g.index, float(ridge), weights)
    return _sparse_weights(weights, g)


def _sparse_weights(weights: np.ndarray, g: RingGeometry):
    """The (P, n) ring weights as a CSR matrix (P × Q)."""
    P, n = weights.shape
    idx = g.index[g.block_of]
    rows = np.repeat(np.arange(P), n)
    W = sparse.csr_matrix(
        (
            (weights * (idx >= 0)).ravel().astype(np.float32),
            (rows, np.where(idx >= 0, idx, 0).ravel()),
        ),
        shape=(P, g.down.shape[0]),
    )
    W.eliminate_zeros()
    return W


def fit_ring_weights_numpy(F, g: RingGeometry, ridge: float = RING_RIDGE):
    """NumPy twin of :func:`fit_ring_weights` (one block at a time; for tests)."""
    F = np.asarray(F, np.float64)
    Fd = g.down @ F
    weights = np.zeros((len(F), g.index.shape[1]))
    for c in range(len(Fd)):
        valid = g.index[c] >= 0
        if not valid.any():
            continue
        X = Fd[g.index[c][valid]]
        G = X @ X.T
        G += ridge * max(np.trace(G) / valid.sum(), 1e-12) * np.eye(len(X))
        pix = np.nonzero(g.block_of == c)[0]
        weights[np.ix_(pix, np.nonzero(valid)[0])] = np.linalg.solve(G, X @ F[pix].T).T
    return _sparse_weights(weights, g)


def _bin(M: np.ndarray, step: int) -> np.ndarray:
    """Columns of ``M`` (P, T) averaged in bins of ``step`` (partial bin dropped)."""
    if step <= 1:
        return M
    n = M.shape[1] // step
    return M[:, : n * step].reshape(len(M), n, step).mean(axis=2)


def _hals_traces(R, A, C, sweeps: int = 10):
    """Exact NNLS traces ``C`` ≥ 0 of ``R ≈ A C`` (R: P × T) by coordinate descent."""
    AtA = A.T @ A
    AtR = A.T @ R
    C = np.maximum(np.asarray(C, np.float64), 0).copy()
    for _ in range(sweeps):
        for k in range(len(C)):
            if AtA[k, k] > 0:
                C[k] = np.maximum(C[k] + (AtR[k] - AtA[k] @ C) / AtA[k, k], 0)
    return C


def _hals_footprints(R, A, C, support, sweeps: int = 5):
    """Footprints ``A`` ≥ 0 (P × K) of ``R ≈ A C`` on their ``support`` (P × K)."""
    CCt = C @ C.T
    RCt = R @ C.T
    A = A.copy()
    for _ in range(sweeps):
        for k in range(A.shape[1]):
            if CCt[k, k] > 0:
                a = A[:, k] + (RCt[:, k] - A @ CCt[:, k]) / CCt[k, k]
                A[:, k] = np.maximum(a, 0) * support[:, k]
    return A


def _trim(A: np.ndarray, shape, threshold: float) -> np.ndarray:
    """Each footprint (P × K) cut to its connected part ≥ threshold × max."""
    A = A.copy()
    for k in range(A.shape[1]):
        a = A[:, k].reshape(shape)
        if a.max() <= 0:
            continue
        lab, _n = ndimage.label(a >= threshold * a.max())
        A[:, k] = (a * (lab == lab.flat[np.argmax(a)])).ravel()
    return A


class RingBackground:
    """The ring model of one patch ``Y`` (time, y, x), held in memory.

    ``step`` bins the frames for the weight fit (as the seeding's); ``p`` is
    the :class:`~neuronmf.imaging._parameters.SegmentParameters` (``ring_radius``,
    ``ring_iter``, ``support_dilation``, ``footprint_threshold``, merging).
    """

    def __init__(self, Y, r: float, p, step: int) -> None:
        T, h, w = Y.shape
        self.shape = (h, w)
        self.r, self.p, self.step = r, p, step
        self.M = np.asarray(Y, np.float32).reshape(T, -1).T.copy()  # (P, T)
        self.geometry = RingGeometry((h, w), p.ring_radius)
        self.b0 = np.zeros(h * w, np.float32)

    def residual(self, A=None, C=None) -> np.ndarray:
        """``Y − B`` (P, T) with the ring background refitted on ``Y − A C``."""
        X = (
            self.M
            if A is None or not A.shape[1]
            else self.M - (A @ C).astype(np.float32)
        )
        self.b0 = X.mean(1)
        F = X - self.b0[:, None]
        del X
        W = fit_ring_weights(_bin(F, self.step), self.geometry)
        out = self.M - self.b0[:, None]
        out -= np.asarray(W @ (self.geometry.down @ F), np.float32)
        return out

    def prepare(self):
        """``R`` (time, y, x), ``Rs`` (seeding frames) and ``b0`` before any neuron.

        ``R`` is the movie minus its ring background; ``Rs`` its frames
        binned by ``step`` (a copy: the seeding subtracts from it).
        """
        h, w = self.shape
        Rv = self.residual()
        T = Rv.shape[1]
        R = Rv.T.reshape(T, h, w)
        Rs = _bin(Rv, self.step).T.reshape(-1, h, w).copy()
        return R, Rs, self.b0.reshape(h, w).copy()

    def fit(self, A, C):
        """Background, traces and footprints alternated (steps 2–3 of the module).

        ``A`` (K, h, w) and ``C`` (K, T or binned) are the seeds. Returns the
        footprints ``A`` (K, h, w, unit norm), traces ``C`` (K, T), the
        background-subtracted movie ``R`` (time, y, x), the matrix ``V``
        (pixels × time, float64, clipped at 0) for the anatomical candidates,
        and ``b0`` (h, w).
        """
        p, (h, w) = self.p, self.shape
        P, T = self.M.shape
        K = len(A)
        Af = A.reshape(K, h * w).T.astype(np.float64)
        support = (
            ndimage.binary_dilation(
                A > 0,
                structure=np.ones((1, 3, 3), bool),
                iterations=p.support_dilation + 1,
            )
            .reshape(K, -1)
            .T
            if K
            else np.zeros((P, 0), bool)
        )
        Rv = None
        if C.shape[1] != T:  # seeds on binned frames: traces at full rate
            C = np.zeros((K, T))
        for _ in range(p.ring_iter if K else 1):
            Rv = self.residual(Af, C)
            if not K:
                break
            C = _hals_traces(Rv, Af, C if C.any() else np.ones((K, T)))
            Af = _trim(
                _hals_footprints(Rv, Af, C, support), (h, w), p.footprint_threshold
            )
            nrm = np.maximum(np.linalg.norm(Af, axis=0), 1e-30)
            Af, C = Af / nrm, C * nrm[:, None]
        if K:
            Rv = self.residual(Af, C)
            C = _hals_traces(Rv, Af, C)
            A = Af.T.reshape(K, h, w)
            A, C, _groups = merge_duplicates(
                A, C, threshold=p.merge_threshold, dilation=p.merge_dilation
            )
            if len(A) < K:
                Af = A.reshape(len(A), h * w).T
                C = _hals_traces(Rv, Af, C)
        R = Rv.T.reshape(T, h, w)
        V = np.maximum(Rv, 0).astype(np.float64)
        return A, C, R, V, self.b0.reshape(h, w).copy()
