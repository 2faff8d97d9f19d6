"""The chunked (dask) path: same iterates as in memory, one pass per iteration."""

import os

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

import neuronmf as nm  # noqa: E402
from neuronmf._threads import THREAD_ENV_VARS  # noqa: E402
from neuronmf.engine.init import initialize  # noqa: E402
from tests.conftest import planted  # noqa: E402


@pytest.fixture(scope="module")
def problem():
    V, _, _ = planted(30, 500, 4, snr_db=20, seed=0)
    W0, H0 = initialize(V, 4, "nndsvda", np.random.default_rng(0))
    return V, W0, H0


@pytest.mark.parametrize("loss", ["frobenius", "kl"])
@pytest.mark.parametrize("chunks", [500, 128, 77, 13])
def test_chunked_iterates_equal_in_memory_iterates(problem, loss, chunks):
    V, W0, H0 = problem
    solver = "hals" if loss == "frobenius" else "mu"
    kwargs = dict(loss=loss, W=W0, H=H0, max_iter=25, tol=1e-14)
    a = nm.nmf(V, 4, solver=solver, **kwargs)
    b = nm.nmf(da.from_array(V, chunks=(30, chunks)), 4, **kwargs)
    np.testing.assert_allclose(b.W, a.W, rtol=0, atol=1e-10)
    np.testing.assert_allclose(b.H, a.H, rtol=0, atol=1e-10 * np.abs(a.H).max())
    np.testing.assert_allclose(b.loss_history, a.loss_history, rtol=1e-10)


def test_row_chunks_are_merged(problem):
    V, W0, H0 = problem
    a = nm.nmf(V, 4, W=W0, H=H0, max_iter=10, tol=1e-14)
    b = nm.nmf(da.from_array(V, chunks=(7, 100)), 4, W=W0, H=H0, max_iter=10, tol=1e-14)
    np.testing.assert_allclose(b.W, a.W, atol=1e-10)


class CountingReader:
    """An array-like that counts how many times each column block is read."""

    def __init__(self, array):
        self.array = array
        self.shape = array.shape
        self.dtype = array.dtype
        self.ndim = array.ndim
        self.reads = 0

    def __getitem__(self, key):
        self.reads += 1
        return self.array[key]


@pytest.mark.parametrize("loss", ["frobenius", "kl"])
def test_exactly_one_pass_over_v_per_outer_iteration(problem, loss):
    V, W0, H0 = problem
    reader = CountingReader(V)
    dV = da.from_array(reader, chunks=(30, 100), asarray=True, lock=False)
    n_blocks = 5
    counts = []

    def callback(iteration, value):
        counts.append(reader.reads)

    nm.nmf(dV, 4, loss=loss, W=W0, H=H0, max_iter=12, tol=1e-14, callback=callback)
    per_iteration = np.diff(counts)
    assert np.all(per_iteration == n_blocks), per_iteration


def test_dask_backed_dataarray_is_read_lazily(problem):
    xr = pytest.importorskip("xarray")
    V, _, _ = problem
    movie = xr.DataArray(
        da.from_array(V.T.reshape(500, 6, 5), chunks=(100, 6, 5)),
        dims=("time", "y", "x"),
    )
    res = nm.nmf(movie, 4, seed=0)
    assert res.W.dims == ("y", "x", "component")
    ref = nm.nmf(movie.compute(), 4, seed=0)
    assert res.loss == pytest.approx(ref.loss, rel=1e-3)


def test_local_cluster_gives_the_in_memory_fit(problem):
    distributed = pytest.importorskip("distributed")
    V, W0, H0 = problem
    a = nm.nmf(V, 4, W=W0, H=H0, max_iter=15, tol=1e-14)
    # distributed's nanny writes OMP/MKL/OPENBLAS_NUM_THREADS=1 into this
    # process's environment before spawning its workers and leaves them there;
    # later tests in this process (and their subprocesses) would then run as if
    # the user had chosen one thread
    saved = {name: os.environ.get(name) for name in THREAD_ENV_VARS}
    try:
        with (
            distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            distributed.Client(cluster),
        ):
            b = nm.nmf(
                da.from_array(V, chunks=(30, 100)),
                4,
                W=W0,
                H=H0,
                max_iter=15,
                tol=1e-14,
            )
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    np.testing.assert_allclose(b.W, a.W, atol=1e-10)
    np.testing.assert_allclose(b.H, a.H, atol=1e-10 * np.abs(a.H).max())


def test_dask_input_errors():
    V = da.from_array(-np.ones((4, 6)), chunks=(4, 3))
    with pytest.raises(nm.InputError, match="V must be non-negative"):
        nm.nmf(V, 2)
    V = da.from_array(np.ones((4, 6)), chunks=(4, 3))
    with pytest.raises(nm.InputError, match="in-memory array when mask= or graph_W="):
        nm.nmf(V, 2, mask=np.ones((4, 6), bool))
    with pytest.raises(
        nm.InputError, match=r"solver \(for a dask array\) must be one of 'hals'"
    ):
        nm.nmf(V, 2, solver="mu")


@pytest.mark.parametrize("loss", ["frobenius", "kl"])
def test_project_dask_blocks_equal_in_memory(problem, loss):
    V, W0, _ = problem
    a = nm.project(V, W0, loss=loss)
    b = nm.project(da.from_array(V, chunks=(30, 64)), W0, loss=loss)
    # NNLS is exact; the KL solve stops per block, to the same tolerance
    tol = 1e-9 if loss == "frobenius" else 1e-5
    np.testing.assert_allclose(b, a, rtol=tol, atol=tol * np.abs(a).max())


def test_estimator_fits_and_transforms_dask(problem):
    V, _, _ = problem
    X = da.from_array(np.ascontiguousarray(V.T), chunks=(100, 30))  # samples × features
    # the same iterations (the in-memory fit also checks a gradient rule to stop)
    opts = dict(n_components=4, seed=0, init="random", max_iter=30, tol=1e-14)
    est = nm.NMF(**opts).fit(X)
    ref = nm.NMF(**opts).fit(V.T)
    # the random init's scale comes from a dask mean: equal to rounding only
    np.testing.assert_allclose(est.components_, ref.components_, atol=1e-6)
    Z = est.transform(X[:50])
    np.testing.assert_allclose(Z, ref.transform(V.T[:50]), atol=1e-6)


@pytest.mark.parametrize("init", ["nndsvd", "nndsvda"])
@pytest.mark.parametrize("gram_rows", [1024, 0])  # Gram path; randomized path
def test_chunked_nndsvd_equals_in_memory(problem, init, gram_rows, monkeypatch):
    from neuronmf.engine import chunked

    monkeypatch.setattr(chunked, "GRAM_ROWS", gram_rows)
    V, _, _ = problem
    Wa, Ha = initialize(V, 4, init, np.random.default_rng(0))
    Wb, Hb = initialize(
        da.from_array(V, chunks=(30, 77)), 4, init, np.random.default_rng(0)
    )
    # Gram path: the in-memory computation to rounding; randomized subspace
    # iteration (2 power iterations, noisy planted rank-4 data): an approximation
    tol = 1e-10 if gram_rows else 1e-4
    np.testing.assert_allclose(Wb, Wa, rtol=0, atol=tol * np.abs(Wa).max())
    np.testing.assert_allclose(Hb, Ha, rtol=0, atol=tol * np.abs(Ha).max())


def test_chunked_nndsvd_reads_v_in_a_few_passes(problem):
    V, _, _ = problem
    reader = CountingReader(V)
    dV = da.from_array(reader, chunks=(30, 100), asarray=True, lock=False)
    before = reader.reads  # dask reads an empty slice for the array's metadata
    initialize(dV, 4, "nndsvda", np.random.default_rng(0))
    # Gram, Vᵀ·U, the mean (for the zero fill) and the rescaling: 4 passes of 5 blocks
    assert reader.reads - before == 4 * 5
