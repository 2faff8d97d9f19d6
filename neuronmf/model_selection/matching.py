"""Matching the components of two factorisations (Hungarian on cosine similarity)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment


class Matching(NamedTuple):
    """Result of :func:`match_components`.

    ``order[k]`` is the column of ``B`` matched to column ``k`` of ``A``, and
    ``similarity[k]`` their cosine similarity (``-1``/NaN-free: zero columns have
    similarity 0).
    """

    order: np.ndarray
    similarity: np.ndarray

    @property
    def mean(self) -> float:
        """Mean similarity over matched pairs."""
        return float(np.mean(self.similarity))


def cosine_similarity(A, B) -> np.ndarray:
    """Cosine similarity between the columns of A (p, k) and B (p, l): (k, l)."""
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    na = np.linalg.norm(A, axis=0)
    nb = np.linalg.norm(B, axis=0)
    na[na == 0] = 1.0
    nb[nb == 0] = 1.0
    return (A / na).T @ (B / nb)


def match_components(A, B) -> Matching:
    """Pair the columns of ``A`` with those of ``B`` to maximise total cosine.

    Uses :func:`scipy.optimize.linear_sum_assignment` on ``1 − cos``. A and B must
    have the same number of rows; if B has more columns than A, the best subset
    is matched.

    Parameters
    ----------
    A : array-like of shape (p, k)
    B : array-like of shape (p, l), l >= k

    Returns
    -------
    Matching
        ``order`` (k,) indices into B's columns, ``similarity`` (k,) cosines.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.eye(3)
    >>> match_components(A, A[:, [2, 0, 1]]).order
    array([1, 2, 0])
    """
    S = cosine_similarity(A, B)
    rows, cols = linear_sum_assignment(1.0 - S)
    order = np.empty(S.shape[0], dtype=int)
    order[rows] = cols
    return Matching(order=order, similarity=S[np.arange(S.shape[0]), order])
