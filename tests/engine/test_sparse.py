"""Sparse input (scipy.sparse): same results as dense, never densified (issue 25)."""

import numba
import numpy as np
import pytest
import scipy.sparse as sp

import neuronmf as nm
from neuronmf.engine.graph import no_graph
from neuronmf.engine.solvers import _kl_kernels as K
from neuronmf.engine.solvers import _sparse_kernels as S
from neuronmf.engine.solvers.sparse_ccd import kl_divergence_sparse
from neuronmf.errors import InputError


def _counts(m, n, r, seed, density=0.1):
    """Poisson counts thinned to about ``density`` non-zeros, no empty row/column."""
    rng = np.random.default_rng(seed)
    V = rng.poisson(rng.random((m, r)) @ rng.random((r, n)) * 2.0).astype(float)
    V[rng.random((m, n)) > density / max(np.mean(V > 0), 1e-9)] = 0
    V[np.arange(m), rng.integers(0, n, m)] += 1
    V[rng.integers(0, m, n), np.arange(n)] += 1
    return V


def _start(m, n, r, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((m, r)) + 0.1, rng.random((r, n)) + 0.1


@pytest.fixture
def no_densify(monkeypatch):
    """Make densifying any (m, n) or (n, m) sparse array an error during the test."""
    shapes = set()

    def guard(original):
        def wrapped(self, *args, **kwargs):
            if tuple(self.shape) in shapes:
                raise AssertionError(f"densified a {self.shape} sparse array")
            return original(self, *args, **kwargs)

        return wrapped

    for cls in (sp.csr_array, sp.csc_array, sp.coo_array, sp.csr_matrix):
        for name in ("toarray", "todense"):
            monkeypatch.setattr(cls, name, guard(getattr(cls, name)))
    return shapes


def test_log_term_kernel_matches_reference():
    V = _counts(30, 50, 3, 0)
    X = sp.csr_array(V)
    W, H = _start(30, 50, 3)
    for dt in (np.float64, np.float32):
        Xd = X.astype(dt)
        got = S.kl_log_term(
            *S.csr_parts(Xd),
            np.ascontiguousarray(W, dt),
            np.ascontiguousarray(H.T, dt),
        )
        want = S.kl_log_term_reference(Xd, W.astype(dt), H.astype(dt))
        assert got == pytest.approx(want, rel=1e-5 if dt == np.float32 else 1e-12)
    dense = nm.engine.losses.kl_divergence(V, W @ H)
    assert kl_divergence_sparse(X, W, H) == pytest.approx(dense, rel=1e-12)


def test_row_update_over_csr_matches_reference():
    # a start near the truth: no coordinate lands exactly on the domain's edge,
    # where the kernel's fused multiply-add and NumPy may round differently
    rng = np.random.default_rng(0)
    W_true, H = rng.random((25, 3)) + 0.2, rng.random((3, 40)) + 0.2
    V = rng.poisson(W_true @ H * 2).astype(float)
    V[rng.random(V.shape) < 0.5] = 0
    X = sp.csr_array(V)
    W = W_true * rng.uniform(0.7, 1.3, W_true.shape)
    Ht = np.ascontiguousarray(H.T)
    F_kernel, F_ref = W.copy(), W.copy()
    base = np.ascontiguousarray(np.broadcast_to(Ht.sum(0), W.shape))
    indptr, indices, values = S.csr_parts(X)
    width = int(np.diff(indptr).max())
    scratch = np.zeros((numba.get_num_threads(), 5 * width + 9))
    got = K.kl_update_rows(
        F_kernel, indptr, indices, values, Ht, base, 0.0, 0.0, 1, 1, 0.0,
        *no_graph(25), scratch,
    )  # fmt: skip
    want = S.kl_update_rows_reference(F_ref, X, Ht, 0.0, 0.0, 1, 1)
    np.testing.assert_allclose(F_kernel, F_ref, rtol=1e-10, atol=1e-14)
    assert got == pytest.approx(want, rel=1e-10)
    assert np.abs(F_kernel - W).max() > 0.1  # the pass moved W


@pytest.mark.parametrize("loss", ["kl", "frobenius"])
@pytest.mark.parametrize("m", [40, 90])  # 40: dense Frobenius takes the fused step
def test_sparse_equals_dense_from_same_start(loss, m, no_densify):
    n, r = 120, 4
    V = _counts(m, n, r, m)
    W0, H0 = _start(m, n, r)
    kw = dict(loss=loss, W=W0, H=H0, max_iter=40, tol=0, escape=False)
    dense = nm.nmf(V, r, **kw)
    no_densify.update({(m, n), (n, m)})
    for X in (sp.csr_array(V), sp.csc_array(V), sp.coo_array(V), sp.csr_matrix(V)):
        res = nm.nmf(X, r, **kw)
        np.testing.assert_allclose(res.W, dense.W, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(res.H, dense.H, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(res.loss_history, dense.loss_history, rtol=1e-8)
        assert res.loss == pytest.approx(dense.loss, rel=1e-10)
        assert res.relative_error == pytest.approx(dense.relative_error, rel=1e-8)


def test_sparse_default_fit_frobenius_with_escape_equals_dense(no_densify):
    V = _counts(70, 150, 3, 5)
    dense = nm.nmf(V, 3, seed=0, max_iter=60)
    no_densify.update({(70, 150), (150, 70)})
    res = nm.nmf(sp.csr_array(V), 3, seed=0, max_iter=60)
    np.testing.assert_allclose(res.W, dense.W, rtol=1e-6, atol=1e-10)
    assert res.loss == pytest.approx(dense.loss, rel=1e-8)


@pytest.mark.parametrize("shape", [(40, 300), (70, 120)])
def test_nndsvda_on_sparse_matches_dense(shape, no_densify):
    from neuronmf.engine.init import initialize

    V = _counts(*shape, 3, 7)
    Wd, Hd = initialize(V, 3, "nndsvda", np.random.default_rng(0))
    no_densify.add(shape)
    Ws, Hs = initialize(sp.csr_array(V), 3, "nndsvda", np.random.default_rng(0))
    np.testing.assert_allclose(Ws, Wd, rtol=1e-8)
    np.testing.assert_allclose(Hs, Hd, rtol=1e-8)


def test_dtypes_and_counts():
    V = _counts(20, 60, 2, 3)
    ints = sp.csr_array(V.astype(np.int64))
    res = nm.nmf(ints, 2, loss="kl", max_iter=5, tol=0)
    assert res.W.dtype == np.float64
    res32 = nm.nmf(sp.csr_array(V.astype(np.float32)), 2, loss="kl", max_iter=5, tol=0)
    assert res32.W.dtype == np.float32 and res32.H.dtype == np.float32
    res32 = nm.nmf(ints, 2, max_iter=5, tol=0, dtype="float32")
    assert res32.H.dtype == np.float32
    assert ints.dtype == np.int64  # input untouched


def test_explicit_zeros_and_duplicates_are_harmless():
    V = _counts(20, 50, 2, 4)
    X = sp.coo_array(V)
    rows = np.concatenate([X.row, [0, 0]])
    cols = np.concatenate([X.col, [0, 0]])
    data = np.concatenate([X.data, [0.0, 0.0]])  # explicit zeros, duplicated
    Y = sp.coo_array((data, (rows, cols)), shape=V.shape)
    W0, H0 = _start(20, 50, 2)
    kw = dict(loss="kl", W=W0, H=H0, max_iter=10, tol=0)
    np.testing.assert_allclose(nm.nmf(Y, 2, **kw).W, nm.nmf(V, 2, **kw).W, rtol=1e-10)


@pytest.mark.parametrize(
    "bad, match",
    [(-1.0, "non-negative"), (np.nan, "finite"), (np.inf, "finite")],
)
def test_bad_values_refused(bad, match):
    X = sp.csr_array(_counts(10, 20, 2, 0))
    X.data[3] = bad
    with pytest.raises(InputError, match=match):
        nm.nmf(X, 2, loss="kl")


def test_unsupported_options_refused():
    V = _counts(10, 20, 2, 0)
    X = sp.csr_array(V)
    with pytest.raises(InputError, match="masked fit on sparse"):  # masks: ccd/hals
        nm.nmf(X, 2, mask=np.ones(V.shape, bool), solver="mu")
    with pytest.raises(InputError, match="solver"):
        nm.nmf(X, 2, loss="kl", solver="gradient")
    with pytest.raises(InputError, match="'kl' or 'frobenius'"):
        nm.nmf(X, 2, loss=0.5)
    with pytest.raises(InputError, match="not all zero"):
        nm.nmf(sp.csr_array((10, 20)), 2)
    with pytest.raises(InputError, match="spa"):
        nm.nmf(X, 2, init="spa")


def test_checkpoint_refused(tmp_path):
    X = sp.csr_array(_counts(10, 20, 2, 0))
    with pytest.raises(InputError, match="checkpoint"):
        nm.nmf(X, 2, loss="kl", checkpoint=tmp_path / "c.npz")


@pytest.mark.parametrize("loss", ["kl", "frobenius"])
def test_project_sparse_equals_dense(loss, no_densify):
    V = _counts(30, 80, 3, 9)
    W = _start(30, 80, 3)[0]
    dense = nm.project(V, W, loss=loss)
    no_densify.update({(30, 80), (80, 30)})
    got = nm.project(sp.csc_array(V), W, loss=loss)
    np.testing.assert_allclose(got, dense, rtol=1e-7, atol=1e-10)


def test_project_refuses_negative_sparse():
    X = sp.csr_array(_counts(10, 20, 2, 0))
    X.data[0] = -2.0
    with pytest.raises(InputError, match="non-negative"):
        nm.project(X, np.ones((10, 2)))


def test_densify_guard_works(no_densify):
    X = sp.csr_array(np.eye(3))
    no_densify.add((3, 3))
    with pytest.raises(AssertionError, match="densified"):
        X.toarray()


@pytest.mark.parametrize("loss", ["kl", "frobenius"])
def test_sparse_equals_dense_with_penalties_and_graph(loss):
    m, n, r = 16, 90, 3
    V = _counts(m, n, r, 11)
    W0, H0 = _start(m, n, r)
    graph = nm.grid_graph((4, 4))
    kw = dict(
        loss=loss, W=W0, H=H0, max_iter=25, tol=0, l1_W=0.05, l1_H=0.1, l2_H=0.2,
        graph_W=graph, graph_weight=0.3,
    )  # fmt: skip
    dense = nm.nmf(V, r, **kw)
    res = nm.nmf(sp.csr_array(V), r, **kw)
    np.testing.assert_allclose(res.W, dense.W, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(res.H, dense.H, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(res.loss_history, dense.loss_history, rtol=1e-8)


@pytest.mark.parametrize("penalty", [{"l1_W": 0.1}, {"l2_H": 0.3}])
def test_sparse_kl_equals_dense_with_a_penalty_on_one_factor(penalty):
    m, n, r = 20, 70, 3
    V = _counts(m, n, r, 12)
    W0, H0 = _start(m, n, r)
    kw = dict(loss="kl", W=W0, H=H0, max_iter=20, tol=0, **penalty)
    dense = nm.nmf(V, r, **kw)
    res = nm.nmf(sp.csr_array(V), r, **kw)
    np.testing.assert_allclose(res.W, dense.W, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(res.H, dense.H, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(res.loss_history, dense.loss_history, rtol=1e-8)


def test_sparse_kl_mu_equals_dense(no_densify):
    m, n, r = 30, 100, 3
    V = _counts(m, n, r, 13)
    W0, H0 = _start(m, n, r)
    kw = dict(loss="kl", solver="mu", W=W0, H=H0, max_iter=30, tol=0)
    dense = nm.nmf(V, r, **kw)
    no_densify.update({(m, n), (n, m)})
    res = nm.nmf(sp.csc_array(V), r, **kw)
    np.testing.assert_allclose(res.W, dense.W, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(res.H, dense.H, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(res.loss_history, dense.loss_history, rtol=1e-10)
    X = sp.csr_array(V)
    exact = nm.engine.losses.kl_divergence(V, W0 @ H0)
    assert nm.engine.losses.kl.kl_divergence_sparse(X, W0, H0) == pytest.approx(
        exact, rel=1e-12
    )


def _blas_threads_now():
    from neuronmf._threads import thread_controller

    blas = [p for p in thread_controller().info() if p.get("user_api") == "blas"]
    return max(p["num_threads"] for p in blas)


def test_sparse_kl_fit_runs_on_one_blas_thread(monkeypatch):
    """The init's randomised SVD and the iterations of a sparse KL fit run on one
    BLAS thread, even where the size rule for dense V would keep them all (their
    dense blocks are (m + n) × ~rank; spinning BLAS threads tripled the setup on
    2 busy cores)."""
    import sklearn.utils.extmath as extmath

    from neuronmf._threads import THREAD_ENV_VARS, _default_threads, user_set_threads

    # a dask LocalCluster (tests/engine/test_chunked.py) leaves OMP_NUM_THREADS=1 and
    # the like in this process's environment; they are not the user's choice here
    for name in THREAD_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    if _default_threads() < 2 or user_set_threads() or _blas_threads_now() < 2:
        pytest.skip("needs BLAS on more than one thread by default")
    X = sp.csr_array(_counts(700, 1500, 5, seed=3, density=0.05))  # 2mnr ≥ 2e8
    seen = {}
    real = extmath.randomized_svd

    def spy(*args, **kwargs):
        seen["init"] = _blas_threads_now()
        return real(*args, **kwargs)

    monkeypatch.setattr(extmath, "randomized_svd", spy)

    def callback(it, loss):
        seen["iterations"] = _blas_threads_now()

    nm.nmf(X, 100, loss="kl", max_iter=1, tol=0, callback=callback)
    assert seen == {"init": 1, "iterations": 1}
    assert _blas_threads_now() >= 2  # restored afterwards
