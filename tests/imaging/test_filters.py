"""``imaging._filters``: Gaussian filters of frame stacks as matrix products."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from neuronmf.imaging._filters import (
    gaussian_frames,
    gaussian_frames_adjoint,
    gaussian_matrix,
)


@pytest.mark.parametrize("sigma", [0.7, 2.5, 10.0])
@pytest.mark.parametrize("shape", [(4, 30, 41), (2, 7, 5)])  # 5 px < the kernel
def test_gaussian_frames_is_scipys_filter(sigma, shape):
    X = np.random.default_rng(0).normal(size=shape)
    want = ndimage.gaussian_filter(X, (0, sigma, sigma))
    np.testing.assert_allclose(gaussian_frames(X, sigma), want, atol=1e-12)
    X32 = X.astype(np.float32)
    got32 = gaussian_frames(X32, sigma)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, want, atol=1e-5)


def test_gaussian_frames_leaves_its_input_alone():
    X = np.arange(2 * 6 * 6, dtype=np.float32).reshape(2, 6, 6)
    before = X.copy()
    gaussian_frames(X, 1.5)
    np.testing.assert_array_equal(X, before)


def test_gaussian_matrix_is_cached_and_read_only():
    G = gaussian_matrix(9, 1.0)
    assert G is gaussian_matrix(9, 1.0)
    with pytest.raises(ValueError):
        G[0, 0] = 1.0


def test_adjoint_is_the_filters_transpose_edges_included():
    rng = np.random.default_rng(0)
    F = rng.random((3, 20, 26))
    X = rng.random((20, 26))
    smooth = ndimage.gaussian_filter(X, 5.0)
    got = (gaussian_frames_adjoint(F, 5.0) * X).sum(axis=(1, 2))
    want = (F * smooth).sum(axis=(1, 2))
    np.testing.assert_allclose(got, want, rtol=1e-10)
