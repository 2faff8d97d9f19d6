"""Masked fits on scipy.sparse V (issue 25 item 2): held-out entries, zeros included.

The held-out entries are a HeldOut (a CSR pattern), never a dense m × n mask;
from the same data, mask and start the sparse fit equals the dense masked fit.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import neuronmf as nm
from neuronmf.engine import HeldOut
from neuronmf.engine._heldout import filled, heldout_loss
from neuronmf.errors import InputError


def _problem(seed=0, m=30, n=200):
    rng = np.random.default_rng(seed)
    W = rng.random((m, 3))
    H = (rng.random((3, n)) < 0.2) * 3.0
    V = rng.poisson(W @ H * 0.5).astype(float)
    mask = rng.random(V.shape) > 0.1  # True = observed
    W0 = rng.random((m, 3)) + 0.1
    H0 = rng.random((3, n)) + 0.1
    return V, mask, W0, H0


def _fit(V, loss, mask, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nm.nmf(V, 3, loss=loss, mask=mask, max_iter=30, tol=0, **kw)


@pytest.mark.parametrize("loss", ["kl", "frobenius"])
@pytest.mark.parametrize("start", ["given", "random", "default"])
def test_sparse_masked_fit_equals_dense_masked_fit(loss, start):
    V, mask, W0, H0 = _problem()
    held = HeldOut.from_array(~mask)
    # held-out zeros and held-out non-zeros both occur
    assert (V[~mask] == 0).any() and (V[~mask] > 0).any()
    kw = {"given": {"W": W0, "H": H0}, "random": {"init": "random", "seed": 1}}
    kw = kw.get(start, {"seed": 1})
    dense = _fit(V, loss, mask, **kw)
    for fmt, m in ((sp.csr_array, held), (sp.csc_matrix, mask)):
        out = _fit(fmt(V), loss, m, **kw)
        np.testing.assert_allclose(out.W, dense.W, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(out.H, dense.H, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(out.loss_history, dense.loss_history, rtol=1e-12)
        assert out.relative_error == pytest.approx(dense.relative_error, rel=1e-12)
        assert out.heldout_loss(fmt(V), held) == pytest.approx(
            dense.heldout_loss(V, ~mask), rel=1e-12
        )


@pytest.mark.parametrize("loss", ["kl", "frobenius"])
def test_heldout_values_never_reach_the_fit(loss):
    """Changing V at held-out entries (zeros to counts) leaves the fit bit-identical."""
    V, mask, W0, H0 = _problem(1)
    held = HeldOut.from_array(~mask)
    other = V.copy()
    other[~mask] = np.random.default_rng(5).poisson(3.0, (~mask).sum())
    a = _fit(sp.csr_array(V), loss, held, W=W0, H=H0)
    b = _fit(sp.csr_array(other), loss, held, W=W0, H=H0)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.H, b.H)
    # the unmasked fit does see them (so the test could fail)
    c = _fit(sp.csr_array(other), loss, None, W=W0, H=H0)
    assert not np.allclose(a.W, c.W)


def test_no_dense_mask_or_product_is_formed(monkeypatch):
    """The fit and the score never densify the sparse data or held-out set."""
    V, mask, W0, H0 = _problem(2, m=20, n=3000)
    X = sp.csr_array(V)
    held = HeldOut.from_array(~mask)
    n = V.shape[1]
    for cls in (sp.csr_array, sp.csc_array, sp.coo_array, sp.csr_matrix):
        real = cls.toarray

        def guarded(self, *a, _real=real, **k):
            assert n not in self.shape, f"densified {self.shape}"
            return _real(self, *a, **k)

        monkeypatch.setattr(cls, "toarray", guarded)
    for loss in ("kl", "frobenius"):
        res = _fit(X, loss, held, W=W0, H=H0)
        assert np.isfinite(res.heldout_loss(X, held))


def test_heldout_loss_equals_dense_score_including_zero_rows():
    """KL shrinks to the training rates (a silent row gets the floor)."""
    V, mask, _, _ = _problem(3)
    V[4] = 0.0  # a silent neuron
    rng = np.random.default_rng(0)
    W, H = rng.random((V.shape[0], 2)), rng.random((2, V.shape[1]))
    res = nm.NMFResult(W, H, [], 0, True, 0.0, 0.0, 0.0, params={"loss": "kl"})
    held = HeldOut.from_array(~mask)
    want = res.heldout_loss(V, ~mask)
    assert heldout_loss(sp.csr_array(V), held, W, H, "kl", chunk=97) == pytest.approx(
        want, rel=1e-12
    )
    assert res.heldout_loss(sp.csr_array(V), held) == pytest.approx(want, rel=1e-12)


def test_filled_matches_dense_fill():
    from neuronmf.engine._validation import fill_unobserved

    V, mask, _, _ = _problem(4)
    held = HeldOut.from_array(~mask)
    X = filled(sp.csr_array(V), held, np.float64)
    dense = fill_unobserved(V, mask, np.float64)
    np.testing.assert_allclose(X.toarray(), dense, rtol=1e-14)
    # every held-out entry is stored, zero-valued or not
    assert X.nnz == np.count_nonzero(V * mask) + held.n_held


def test_heldout_structure_round_trips():
    rng = np.random.default_rng(0)
    held_dense = rng.random((7, 11)) < 0.3
    held = HeldOut.from_array(held_dense)
    np.testing.assert_array_equal(held.to_array(), held_dense)
    np.testing.assert_array_equal(held.transpose().to_array(), held_dense.T)
    assert HeldOut.from_sparse(sp.coo_array(held_dense)) == held
    assert held.n_held == held_dense.sum()
    assert held.indices.dtype == np.int32
    assert "HeldOut(shape=(7, 11)" in repr(held)


def test_bad_masks_refused_before_any_work():
    V, mask, _, _ = _problem()
    X = sp.csr_array(V)
    full_row = np.zeros(V.shape, bool)
    full_row[2] = True
    with pytest.raises(InputError, match="every row"):
        nm.nmf(X, 2, mask=HeldOut.from_array(full_row))
    with pytest.raises(InputError, match="every row"):  # a dense mask is checked too
        nm.nmf(X, 2, mask=~full_row)
    with pytest.raises(InputError, match=r"mask\.shape"):
        nm.nmf(X, 2, mask=HeldOut.from_array(np.zeros((3, 3), bool)))
    with pytest.raises(InputError, match="ambiguous"):
        nm.nmf(X, 2, mask=sp.csr_array(~mask))
    with pytest.raises(InputError, match="masked fit on sparse"):
        nm.nmf(X, 2, loss="kl", mask=mask, solver="mu")
    only = np.ones(V.shape, bool)  # every non-zero held out
    only[V > 0] = False
    only[:, 0] = True
    with pytest.raises(InputError, match="not all zero on its observed"):
        nm.nmf(X, 2, mask=only)


def test_input_and_mask_not_modified():
    V, mask, W0, H0 = _problem()
    X = sp.csr_array(V)
    held = HeldOut.from_array(~mask)
    before_X, before_h = X.copy(), (held.indptr.copy(), held.indices.copy())
    for loss in ("kl", "frobenius"):
        _fit(X, loss, held, W=W0, H=H0)
    assert (X != before_X).nnz == 0
    np.testing.assert_array_equal(held.indptr, before_h[0])
    np.testing.assert_array_equal(held.indices, before_h[1])
