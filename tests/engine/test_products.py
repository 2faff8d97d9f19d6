"""`data_product_T` and `data_product` against the plain products, in both forms
and memory orders."""

import numpy as np
import pytest

from neuronmf.engine.products import (
    DIRECT_PRODUCT_MAX_ROWS,
    TRANSPOSED_PRODUCT_MAX_ROWS,
    data_product,
    data_product_T,
    product_is_transposed,
)


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


@pytest.mark.parametrize("m", [3, DIRECT_PRODUCT_MAX_ROWS, DIRECT_PRODUCT_MAX_ROWS + 1])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_data_product_equals_VHt(m, order, dtype):
    rng = np.random.default_rng(m)
    V = np.asarray(rng.random((m, 257)), dtype=dtype, order=order)
    Ht = rng.random((257, 4)).astype(dtype)
    out = data_product(V, Ht)
    assert out.shape == (m, 4) and out.flags.c_contiguous and out.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out, V.astype(np.float64) @ Ht, rtol=tol)


def test_product_form_follows_order_dtype_and_rows():
    big = DIRECT_PRODUCT_MAX_ROWS + 1
    assert product_is_transposed(np.zeros((big, 5)))
    assert not product_is_transposed(np.zeros((DIRECT_PRODUCT_MAX_ROWS, 5)))
    assert not product_is_transposed(np.zeros((big, 5), np.float32))
    assert product_is_transposed(np.zeros((4, 5), np.float32, order="F"))
