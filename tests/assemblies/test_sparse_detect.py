"""assemblies.detect on scipy.sparse (time, neuron) counts (issue 25 item 2)."""

import numpy as np
import pytest
import scipy.sparse as sp

from neuronmf.assemblies import detect
from neuronmf.assemblies._ica import marchenko_pastur_count
from neuronmf.assemblies._sparse import circular_shift, correlation
from neuronmf.assemblies._sparse import marchenko_pastur_count as sparse_mp
from neuronmf.errors import InputError


def _counts(seed=0, n_t=1500, n_n=16):
    rng = np.random.default_rng(seed)
    H = (rng.random((2, n_t)) < 0.05) * 4.0
    W = np.zeros((n_n, 2))
    W[:5, 0] = 1
    W[8:13, 1] = 1
    return rng.poisson(W @ H + 0.05).T.astype(float)


def test_sparse_counts_equal_dense_from_the_same_seed():
    X = _counts()
    assert np.mean(X > 0) < 0.2  # genuinely sparse
    dense = detect(X, rank="auto", kind="counts", n_surrogates=20, seed=3)
    for fmt in (sp.csr_array, sp.csc_matrix):
        out = detect(fmt(X), rank="auto", kind="counts", n_surrogates=20, seed=3)
        assert out.attrs["rank"] == dense.attrs["rank"]
        assert (
            out.attrs["marchenko_pastur_count"] == dense.attrs["marchenko_pastur_count"]
        )
        np.testing.assert_allclose(
            out.membership.values, dense.membership.values, rtol=1e-6, atol=1e-9
        )
        np.testing.assert_allclose(
            out.activations.values, dense.activations.values, rtol=1e-6, atol=1e-9
        )
        np.testing.assert_array_equal(out.members.values, dense.members.values)
        np.testing.assert_allclose(out.statistic.values, dense.statistic.values)
        np.testing.assert_array_equal(out.p_value.values, dense.p_value.values)
    assert int(dense.significant.sum()) == 2


def test_sparse_input_is_not_densified(monkeypatch):
    X = sp.csr_array(_counts(1))
    n_t = X.shape[0]
    for cls in (sp.csr_array, sp.csc_array, sp.coo_array):
        real = cls.toarray

        def guarded(self, *a, _real=real, **k):
            # neuron x neuron Grams may be densified; nothing along time may
            assert n_t not in self.shape, f"densified {self.shape}"
            return _real(self, *a, **k)

        monkeypatch.setattr(cls, "toarray", guarded)
    out = detect(X, rank=2, kind="counts", n_surrogates=3, seed=0)
    assert out.membership.shape == (16, 2)


def test_helpers_equal_their_dense_versions():
    X = _counts(2)
    S = sp.csr_array(X)
    assert sparse_mp(S) == marchenko_pastur_count(X)
    np.testing.assert_allclose(correlation(S), np.corrcoef(X, rowvar=False), atol=1e-12)
    shifts = np.random.default_rng(0).integers(0, X.shape[0], X.shape[1])
    rows = (np.arange(X.shape[0])[:, None] - shifts[None, :]) % X.shape[0]
    np.testing.assert_array_equal(
        circular_shift(S, shifts).toarray(), X[rows, np.arange(X.shape[1])]
    )


@pytest.mark.parametrize("kind", ["fluorescence", "dff"])
def test_dff_kinds_refused_on_sparse(kind):
    with pytest.raises(InputError, match="kind for sparse activity"):
        detect(sp.csr_array(_counts()), rank=2, kind=kind)


CV = {"rank": "auto", "rank_method": "cv", "kind": "counts", "n_surrogates": 0}


def test_masked_cv_rank_on_sparse_equals_dense(monkeypatch):
    """rank_method="cv" on sparse counts: select_rank(method="cv") as for dense.

    The fits start from factors drawn from the seed alone (the default init
    reads V through sparse or dense products, which differ in the last bit;
    see tests/model_selection/test_sparse_cv.py), so both arms run the same
    arithmetic and the scan's scores agree to rounding.
    """
    from neuronmf.engine import _fit

    def start(V, rank, init, rng):
        m, n = V.shape
        return rng.random((m, rank)) + 0.1, rng.random((rank, n)) + 0.1

    monkeypatch.setattr(_fit, "initialize", start)
    X = _counts(n_t=600)
    dense = detect(X, ranks=(1, 2, 3, 4), seed=3, **CV)
    out = detect(sp.csr_array(X), ranks=(1, 2, 3, 4), seed=3, **CV)
    assert dense.attrs["rank"] >= 2  # two planted assemblies are seen
    assert out.attrs["rank"] == dense.attrs["rank"]
    assert out.attrs["rank_rule"] == dense.attrs["rank_rule"]
    for name in ("rank_scores", "rank_scores_se"):
        np.testing.assert_allclose(out[name].values, dense[name].values, rtol=1e-9)
    np.testing.assert_allclose(
        out.membership.values, dense.membership.values, rtol=1e-6, atol=1e-9
    )


def test_masked_cv_rank_on_sparse_null_is_1():
    """Independent Poisson neurons: rank 1 by masked CV, sparse as dense."""
    N = np.random.default_rng(5).poisson(0.1, (600, 16)).astype(float)
    S = sp.csr_array(N)
    assert S.nnz < 0.15 * N.size
    out = detect(S, ranks=(1, 2, 3), seed=0, **CV)
    assert out.attrs["rank"] == 1
    assert int(np.argmin(out.rank_scores.values)) == 0  # 1-SE rule aside
    assert detect(N, ranks=(1, 2, 3), seed=0, **CV).attrs["rank"] == 1


def test_negative_sparse_refused():
    X = sp.csr_array(-_counts())
    with pytest.raises(InputError):
        detect(X, rank=2, kind="counts")


def test_sparse_activity_from_the_loader_keeps_coords_and_kind(tmp_path):
    from neuronmf.io import load_activity

    X = _counts(4).astype(np.int64)
    t, u = np.nonzero(X)
    reps = X[t, u]
    p = tmp_path / "spikes.npz"
    np.savez(
        p,
        spike_times=np.repeat((t + 0.5) * 0.01, reps),
        spike_unit=np.repeat(u + 100, reps),
    )
    loaded = load_activity(p, bin_width=0.01, t_start=0.0, sparse=True)
    dense = load_activity(p, bin_width=0.01, t_start=0.0)
    a = detect(loaded, rank=2, kind="counts", n_surrogates=3, seed=0)
    b = detect(dense, rank=2, kind="counts", n_surrogates=3, seed=0)
    np.testing.assert_array_equal(a.neuron.values, b.neuron.values)
    np.testing.assert_allclose(a.time.values, b.time.values)
    np.testing.assert_allclose(a.membership.values, b.membership.values, rtol=1e-6)
    assert a.attrs["bin_width"] == 0.01
