"""Summary images and greedy seeds (neuronmf.imaging.seeds)."""

import numpy as np
import pytest

from neuronmf.imaging.seeds import (
    _peak_to_noise,
    _spatial_filters,
    _subtract_filtered,
    correlation_image,
    noise_level,
)


@pytest.mark.parametrize("corner", [(20, 25), (0, 0), (52, 3)])
def test_filtered_movies_follow_a_rank_one_subtraction_exactly(corner):
    """Updating the filtered movies by c ⊗ filter(a) equals filtering again."""
    rng = np.random.default_rng(0)
    R = rng.random((30, 64, 60))
    radius = 3.0
    Rf, Z = _spatial_filters(R, radius)
    c, a = rng.random(30), rng.random((9, 7))
    y0, x0 = corner
    R2 = R.copy()
    R2[:, y0 : y0 + 9, x0 : x0 + 7] -= c[:, None, None] * a[None]
    _subtract_filtered(Rf, Z, c, a, corner, radius)
    Rf2, Z2 = _spatial_filters(R2, radius)
    np.testing.assert_allclose(Rf, Rf2, atol=1e-12)
    np.testing.assert_allclose(Z, Z2, atol=1e-12)


def _reference_correlation_image(R):
    """Mean Pearson correlation with each of the (up to 8) neighbours, per pixel."""
    _T, ny, nx = R.shape
    out = np.zeros((ny, nx))
    for y in range(ny):
        for x in range(nx):
            rs = [
                np.corrcoef(R[:, y, x], R[:, y + dy, x + dx])[0, 1]
                for dy in (-1, 0, 1)
                for dx in (-1, 0, 1)
                if (dy or dx) and 0 <= y + dy < ny and 0 <= x + dx < nx
            ]
            out[y, x] = np.mean(rs)
    return out


def test_correlation_image_matches_pearson_with_each_neighbour():
    rng = np.random.default_rng(1)
    R = rng.normal(size=(80, 7, 9))
    R[:, 2:5, 3:6] += rng.normal(size=(80, 1, 1)) * 2  # a correlated block
    np.testing.assert_allclose(
        correlation_image(R), _reference_correlation_image(R), atol=1e-6
    )


def test_peak_to_noise_is_computed_only_where_asked_and_exactly_there():
    rng = np.random.default_rng(2)
    Rf = rng.normal(size=(50, 6, 8))
    Rf[10, 2, 3] += 9.0
    where = rng.random((6, 8)) < 0.4
    where[2, 3] = True
    pnr = _peak_to_noise(Rf, where)
    full = (Rf.max(0) - np.median(Rf, 0)) / noise_level(Rf)
    np.testing.assert_array_equal(pnr[where], full[where])
    assert np.all(pnr[~where] == 0)
    assert pnr[2, 3] == full.max()


def test_correlation_image_of_float32_input_and_a_constant_pixel():
    rng = np.random.default_rng(3)
    R = rng.normal(size=(60, 5, 6)).astype(np.float32)
    R[:, 0, 0] = 4.0  # no variance: correlates 0 with everything
    got = correlation_image(R)
    assert got.dtype == np.float32
    ref = _reference_correlation_image(R[:, 1:, 1:].astype(np.float64))
    np.testing.assert_allclose(got[1:, 1:][1:, 1:], ref[1:, 1:], atol=1e-5)
    assert got[0, 0] == 0


def test_subtract_outer_rounds_as_numpy_does():
    from neuronmf.imaging._seeds_kernels import subtract_outer

    rng = np.random.default_rng(4)
    X = rng.normal(size=(20, 12, 11)).astype(np.float32)
    c = rng.normal(size=20).astype(np.float32)
    img = rng.normal(size=(5, 4)).astype(np.float32)
    want = X.copy()
    want[:, 3:8, 6:10] -= c[:, None, None] * img[None]
    subtract_outer(X, c, img, 3, 6)
    np.testing.assert_array_equal(X, want)
