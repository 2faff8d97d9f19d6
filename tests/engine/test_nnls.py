"""``engine.nnls``: exact non-negative least squares, from the data or its products."""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from neuronmf.engine.nnls import nnls_columns, nnls_gram


def test_nnls_gram_matches_scipy_column_by_column():
    rng = np.random.default_rng(0)
    W = rng.random((40, 5))
    V = W @ rng.random((5, 30)) - 0.3 * rng.random((40, 30))  # some H at 0
    H = nnls_gram(W.T @ V, W.T @ W)
    assert H.shape == (5, 30)
    assert (H >= 0).all() and (H == 0).any()
    for j in range(V.shape[1]):
        np.testing.assert_allclose(H[:, j], nnls(W, V[:, j])[0], atol=1e-9)
    np.testing.assert_allclose(nnls_columns(V, W), H, atol=1e-12)


def test_nnls_gram_does_not_modify_its_inputs():
    rng = np.random.default_rng(1)
    W, V = rng.random((10, 3)), rng.random((10, 4))
    B, G = W.T @ V, W.T @ W
    B0, G0 = B.copy(), G.copy()
    nnls_gram(B, G)
    np.testing.assert_array_equal(B, B0)
    np.testing.assert_array_equal(G, G0)
