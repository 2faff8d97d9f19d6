"""Summary images and greedy seeds (neuronmf.imaging.seeds)."""

import numpy as np
import pytest

from neuronmf.imaging.seeds import _spatial_filters, _subtract_filtered


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
