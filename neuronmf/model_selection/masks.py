"""Which entries a rank scan holds out: speckled masks and bi-cross-validation splits.

Pure functions of a shape and a random generator, so that a scan is reproducible
from its seed and a test can check that held-out entries never reach a fit.
"""

from __future__ import annotations

import numpy as np


def speckled_mask(
    shape: tuple[int, int], holdout: float, rng: np.random.Generator, block: int = 1
) -> np.ndarray:
    """A boolean training mask (True = used in the fit) for speckled hold-out.

    Each entry is held out with probability ``holdout`` (Wold 1978). With
    ``block > 1`` the hold-out comes in runs of ``block`` consecutive samples of a
    feature, so that autocorrelation cannot carry a held-out value in from its
    neighbours.

    Parameters
    ----------
    shape : (m, n)
        Features × samples.
    holdout : float
        Expected fraction of entries held out.
    rng : numpy.random.Generator
    block : int, default 1
        Length of each held-out run along the sample axis.

    Returns
    -------
    ndarray of bool, shape (m, n)

    Examples
    --------
    >>> import numpy as np
    >>> mask = speckled_mask((50, 400), 0.1, np.random.default_rng(0), block=10)
    >>> round(float(1 - mask.mean()), 2)
    0.1
    """
    m, n = shape
    n_blocks = -(-n // block)
    held = rng.random((m, n_blocks)) < holdout
    return ~np.repeat(held, block, axis=1)[:, :n]


def speckled_heldout(
    shape: tuple[int, int],
    holdout: float,
    rng: np.random.Generator,
    block: int = 1,
    chunk: int = 1 << 21,
):
    """The held-out entries of :func:`speckled_mask`, stored sparsely.

    The same draws from ``rng`` as ``speckled_mask(shape, holdout, rng,
    block)`` (made a few rows at a time, at most about ``chunk`` per call, so
    the generator ends in the same state), so the held-out entries are those
    where that mask is False; but no (m, n) array is formed: the result is a
    :class:`neuronmf.engine.HeldOut` (4 bytes per held-out entry), for masked
    fits on sparse data.

    Examples
    --------
    >>> import numpy as np
    >>> held = speckled_heldout((50, 400), 0.1, np.random.default_rng(0), block=10)
    >>> mask = speckled_mask((50, 400), 0.1, np.random.default_rng(0), block=10)
    >>> bool(np.array_equal(held.to_array(), ~mask))
    True
    """
    from neuronmf.engine._heldout import HeldOut

    m, n = shape
    n_blocks = -(-n // block)
    step = max(1, chunk // max(n_blocks, 1))
    offsets = np.arange(block)
    counts = np.zeros(m, dtype=np.int64)
    parts = []
    for start in range(0, m, step):
        size = min(step, m - start)
        rows, blocks = np.nonzero(rng.random((size, n_blocks)) < holdout)
        cols = (blocks[:, None] * block + offsets).ravel()
        keep = cols < n
        rows = np.repeat(rows, block)[keep]
        parts.append(cols[keep].astype(np.int32 if n < 2**31 else np.int64))
        counts[start : start + size] = np.bincount(rows, minlength=size)
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.concatenate(parts) if parts else np.zeros(0, np.int32)
    return HeldOut(indptr, indices, shape)


def bicv_split(
    shape: tuple[int, int], rng: np.random.Generator, fraction: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Held-out rows and columns for one Owen–Perry bi-cross-validation fold.

    Returns boolean indicators ``(rows, cols)``; the block ``V[rows][:, cols]`` is
    predicted from the other three blocks.

    Examples
    --------
    >>> import numpy as np
    >>> rows, cols = bicv_split((10, 40), np.random.default_rng(0))
    >>> int(rows.sum()), int(cols.sum())
    (5, 20)
    """
    m, n = shape
    rows = np.zeros(m, dtype=bool)
    cols = np.zeros(n, dtype=bool)
    rows[rng.choice(m, size=max(1, round(fraction * m)), replace=False)] = True
    cols[rng.choice(n, size=max(1, round(fraction * n)), replace=False)] = True
    return rows, cols


def block_bootstrap(n: int, rng: np.random.Generator, block: int = 1) -> np.ndarray:
    """Sample indices of a (moving-)block bootstrap resample of ``n`` samples.

    Blocks of ``block`` consecutive samples are drawn with replacement until
    ``n`` indices are collected; ``block=1`` is the ordinary bootstrap.

    Examples
    --------
    >>> import numpy as np
    >>> idx = block_bootstrap(100, np.random.default_rng(0), block=10)
    >>> idx.shape, bool(np.all(np.diff(idx[:10]) == 1))
    ((100,), True)
    """
    block = max(1, min(block, n))
    starts = rng.integers(0, n - block + 1, size=-(-n // block))
    return (starts[:, None] + np.arange(block)).ravel()[:n]
