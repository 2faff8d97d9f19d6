"""Finite but extreme data through the domain functions (issue 21 defect 8, swept).

Before (f8bf671): online NMF at x1e80 gave vaf 0 with an all-zero H and at
x1e120 / float32 x1e24 NaN; partial_fit gave all-zero or NaN parts; decode with
NMF features at x1e80 failed (the rank chain's NNDSVDa init of x1e80 data was
all zero); x1e-170 gave a raw ZeroDivisionError.
"""

import numpy as np
import pytest

import neuronmf as nm

RNG = np.random.default_rng(0)
V = RNG.random((10, 3)) @ RNG.random((3, 400))


@pytest.mark.parametrize(
    ("scale", "dtype"), [(1e80, np.float64), (1e120, np.float64), (1e24, np.float32)]
)
def test_online_nmf_at_extreme_scale(scale, dtype):
    base = nm.online_nmf(V, 3, batch_size=100, seed=0)
    res = nm.online_nmf((V * scale).astype(dtype), 3, batch_size=100, seed=0)
    assert np.isfinite(res.H).all() and res.H.any()
    assert res.vaf == pytest.approx(base.vaf, abs=5e-3)


def test_online_nmf_unrepresentable_norm_refused():
    with pytest.raises(nm.InputError, match="within float64's range"):
        nm.online_nmf(V * 1e-170, 3, batch_size=100)


def test_initialize_at_extreme_scale():
    from neuronmf.engine.init import initialize

    # was all zero at x2**300 (NNDSVDa's products under/overflowed)
    Wb, Hb = initialize(np.ldexp(V, 300), 3, "nndsvda", np.random.default_rng(0))
    assert np.isfinite(Wb).all() and np.isfinite(Hb).all()
    R = np.ldexp(Wb @ Hb, -300) - V
    assert np.linalg.norm(R) / np.linalg.norm(V) < 0.5


def test_decode_nmf_features_at_extreme_scale():
    X = RNG.random((120, 6))
    y = X @ RNG.random(6)
    res = nm.decoding.decode(X * 1e80, y, features="nmf", rank=2, cv=3, n_null=0)
    assert np.isfinite(np.asarray(res.score)).all()
