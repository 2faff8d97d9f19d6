"""Escaping local minima where non-negativity locks a group of components.

At a stationary point of ½|V − WH|² with every entry of H positive, the
residual R = V − WH is orthogonal to the columns of W (WᵀR = 0): the fit
absorbs whatever lies in its own frame. Only active constraints (zeros of H)
can leave residual inside span(W). When singular values of that in-frame
residual stand above those of noise projected on r dimensions, some components
are held by their zeros in a spurious local minimum. On dense data NNDSVD can
start components as "mean minus a part"; A-HALS then converges to such
"mirror" components, whose span is right but whose non-negative combination is
not (20,000 × 10,000 rank 20: five mirror components, relative error 0.01962
against 0.01924 for the planted factors).

:func:`locked_components` finds those components cheaply (from WᵀV, WᵀW and H:
an r × n matrix, no pass over V beyond one product); :func:`reflect` turns a
mirror back into its part and :func:`reseed` gives components fresh random
starts; ``neuronmf.engine.api._escape`` resumes the solver from there and keeps
the result only if the objective went down.
"""

from __future__ import annotations

import numpy as np

#: Escape rounds tried at most per fit.
MAX_ROUNDS = 5

#: A component is locked when its share of the in-frame residual energy above
#: the noise edge is at least this fraction of the largest share.
SHARE_OF_MAX = 0.75


def in_frame_residual(WtV, W, H, norm_V2: float, shape: tuple[int, int]):
    """Singular values of the residual inside span(W), and the noise edge.

    Parameters
    ----------
    WtV : ndarray of shape (r, n)
        Wᵀ·V.
    W : ndarray of shape (m, r)
    H : ndarray of shape (r, n)
    norm_V2 : float
        |V|²_F.
    shape : tuple of int
        (m, n), the shape of V.

    Returns
    -------
    s : ndarray of shape (r,)
        Singular values of Qᵀ(V − WH), Q an orthonormal basis of span(W),
        largest first.
    directions : ndarray of shape (r, r)
        Column i: the unit in-frame direction of ``s[i]`` as coefficients of
        W's columns scaled to unit norm.
    edge : float
        The largest singular value expected of i.i.d. noise with the residual's
        mean square σ² once projected onto r dimensions: σ(√r + √n)
        (Marchenko–Pastur). A stationary point absorbs the noise in its frame,
        so what stands above this is held there by the constraints.

    Examples
    --------
    >>> import numpy as np
    >>> import neuronmf as nm
    >>> rng = np.random.default_rng(0)
    >>> V = rng.random((60, 3)) @ rng.random((3, 80)) + 0.01 * rng.random((60, 80))
    >>> fit = nm.nmf(V, 3, tol=1e-8)
    >>> s, _, edge = in_frame_residual(fit.W.T @ V, fit.W, fit.H, (V**2).sum(), V.shape)
    >>> bool(s[0] < 0.5 * edge)   # a converged fit absorbs the noise in its frame
    True
    """
    m, n = shape
    r = W.shape[1]
    W64 = np.asarray(W, dtype=np.float64)
    H64 = np.asarray(H, dtype=np.float64)
    WtV = np.asarray(WtV, dtype=np.float64)
    G = W64.T @ W64
    res2 = norm_V2 - 2.0 * np.vdot(WtV, H64) + np.vdot(G, H64 @ H64.T)
    edge = float(np.sqrt(max(res2, 0.0) / (m * n)) * (np.sqrt(r) + np.sqrt(n)))
    norms = np.sqrt(np.diag(G))
    if np.any(norms == 0):  # a dead component: leave it to the solver
        return np.zeros(0), np.zeros((W64.shape[1], 0)), edge
    # Cholesky G = L Lᵀ: Q = W L⁻ᵀ, so Qᵀ R = L⁻¹ (WᵀV − G H).
    try:
        L = np.linalg.cholesky(G)
    except np.linalg.LinAlgError:  # collinear columns
        return np.zeros(0), np.zeros((W64.shape[1], 0)), edge
    QtR = np.linalg.solve(L, WtV - G @ H64)
    a, s, _ = np.linalg.svd(QtR, full_matrices=False)
    directions = norms[:, None] * np.linalg.solve(L.T, a)
    return s, directions, edge


def locked_components(WtV, W, H, norm_V2: float, shape: tuple[int, int]):
    """Indices of the components that non-negativity holds in place.

    Each component's share is the in-frame residual energy above the noise
    edge that its (unit-norm) column carries; the components whose share is at
    least :data:`SHARE_OF_MAX` of the largest are returned. Empty when no
    in-frame singular value exceeds the edge.

    Examples
    --------
    >>> import numpy as np
    >>> import neuronmf as nm
    >>> V = np.random.default_rng(1).random((40, 50)) ** 2
    >>> fit = nm.nmf(V, 4, tol=1e-8)   # a converged fit: nothing is locked
    >>> locked_components(fit.W.T @ V, fit.W, fit.H, (V**2).sum(), V.shape).size
    0
    """
    s, directions, edge = in_frame_residual(WtV, W, H, norm_V2, shape)
    excess = np.clip(s**2 - edge**2, 0.0, None)
    if not np.any(excess > 0):
        return np.zeros(0, dtype=np.int64)
    share = np.sqrt(np.square(directions) @ excess)
    return np.flatnonzero(share >= SHARE_OF_MAX * share.max()).astype(np.int64)


def reflect(W, H, components, row_mean, col_mean):
    """Copies of W and H with ``components`` reflected about the data's mean.

    A mirror component is ``c·mean − part``: column k of W becomes
    ``a·row_mean − w_k`` with the smallest ``a`` that keeps it non-negative
    (``a = max_i w_ik / row_mean_i``), and row k of H likewise with
    ``col_mean``. For an exact mirror this gives the part back.

    Parameters
    ----------
    W : ndarray of shape (m, r)
    H : ndarray of shape (r, n)
    components : array of int
    row_mean : ndarray of shape (m,)
        V's mean over samples (its columns), ≥ 0.
    col_mean : ndarray of shape (n,)
        V's mean over features (its rows), ≥ 0.

    Examples
    --------
    >>> import numpy as np
    >>> mean = np.array([1.0, 1.0, 1.0])
    >>> part = np.array([0.0, 0.5, 1.0])
    >>> W = np.stack([mean - part, part], axis=1)   # component 0 mirrors a part
    >>> H = np.ones((2, 4))
    >>> W1, _ = reflect(W, H, np.array([0]), mean, np.ones(4))
    >>> W1[:, 0]
    array([0. , 0.5, 1. ])
    """
    W1, H1 = W.copy(), H.copy()
    # columns of W and of Hᵀ (a view: writing it writes H1)
    for F, mean in ((W1, row_mean), (H1.T, col_mean)):
        mean = np.asarray(mean, dtype=np.float64)
        positive = mean > 0
        for k in components:
            f = F[:, k].astype(np.float64)
            a = float(np.max(f[positive] / mean[positive], initial=0.0))
            F[:, k] = np.maximum(a * mean - f, 0.0)
    return W1, H1


def reseed(W, H, components, rng: np.random.Generator):
    """Copies of W and H with ``components`` redrawn uniformly at random.

    The new columns of W and rows of H keep the mean norms of the ones they
    replace, so the start is on the data's scale.

    Examples
    --------
    >>> import numpy as np
    >>> W, H = np.ones((4, 2)), np.ones((2, 5))
    >>> W1, H1 = reseed(W, H, np.array([1]), np.random.default_rng(0))
    >>> bool((W1[:, 0] == 1).all() and (W1[:, 1] != 1).any()), float(W.max())
    (True, 1.0)
    """
    W1, H1 = W.copy(), H.copy()
    k = len(components)
    newW = rng.random((W.shape[0], k)).astype(W.dtype)
    newH = rng.random((k, H.shape[1])).astype(H.dtype)
    newW *= (
        np.linalg.norm(W[:, components], axis=0).mean()
        / np.linalg.norm(newW, axis=0).mean()
    )
    newH *= (
        np.linalg.norm(H[components], axis=1).mean()
        / np.linalg.norm(newH, axis=1).mean()
    )
    W1[:, components] = newW
    H1[components] = newH
    return W1, H1
