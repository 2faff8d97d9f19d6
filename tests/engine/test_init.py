"""Initial factors (neuronmf.engine.init)."""

import numpy as np
import pytest
import scipy.linalg

from neuronmf.engine.init import _gram_svd, _truncated_svd


@pytest.mark.parametrize("shape", [(20, 500), (500, 20)])
def test_gram_svd_matches_lapack(shape):
    V = np.random.default_rng(0).random(shape)
    U, S, Vt = _gram_svd(V, 5)
    U2, S2, Vt2 = scipy.linalg.svd(V, full_matrices=False)
    np.testing.assert_allclose(S, S2[:5], rtol=1e-10)
    # singular vectors agree up to sign
    np.testing.assert_allclose(np.abs(U.T @ U2[:, :5]), np.eye(5), atol=1e-8)
    np.testing.assert_allclose(np.abs(Vt @ Vt2[:5].T), np.eye(5), atol=1e-8)


def test_gram_svd_refuses_rank_deficient_and_falls_back():
    rng = np.random.default_rng(1)
    V = rng.random((10, 3)) @ rng.random((3, 400))  # rank 3
    assert _gram_svd(V, 5) is None
    U, S, Vt = _truncated_svd(V, 5, rng)
    np.testing.assert_allclose((U * S) @ Vt, V, atol=1e-10)
