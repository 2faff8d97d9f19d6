"""`data_product_T` against the plain product, in both forms and memory orders."""

import numpy as np
import pytest

from neuronmf.engine.products import TRANSPOSED_PRODUCT_MAX_ROWS, data_product_T


@pytest.mark.parametrize("m", [3, TRANSPOSED_PRODUCT_MAX_ROWS, 40])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_data_product_T_equals_VtW(m, order, dtype):
    rng = np.random.default_rng(m)
    V = np.asarray(rng.random((m, 257)), dtype=dtype, order=order)
    W = rng.random((m, 4)).astype(dtype)
    out = data_product_T(V, W)
    assert out.shape == (257, 4) and out.flags.c_contiguous and out.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out, V.T.astype(np.float64) @ W, rtol=tol)
