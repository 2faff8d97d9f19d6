"""``imaging.segment`` out of core: patches above ``patch_memory`` stay dask arrays."""

from __future__ import annotations

import threading
import weakref

import dask.array as da
import numpy as np
import pytest

import neuronmf as nm
from neuronmf.errors import InputError

T = 600
#: 600 frames are seeded in bins of 3
SEED_FRAMES = 200
#: bytes: below the 48 × 48 × 600 × 4 = 5.5 MB patch (chunks of 27 frames)
BUDGET = 2_000_000


@pytest.fixture(scope="module")
def sim():
    return nm.datasets.simulate_movie((48, 48), T, 8, 4.0, seed=3)


@pytest.fixture(scope="module")
def in_memory(sim):
    return nm.imaging.segment(sim.data, neuron_radius=4.0, seed_frames=SEED_FRAMES)


@pytest.fixture(scope="module")
def out_of_core(sim):
    return nm.imaging.segment(
        sim.data, neuron_radius=4.0, seed_frames=SEED_FRAMES, patch_memory=BUDGET
    )


def test_out_of_core_finds_the_same_neurons(sim, in_memory, out_of_core):
    f1_mem = nm.imaging.score(in_memory, sim.truth)["f1"]
    f1_ooc = nm.imaging.score(out_of_core, sim.truth)["f1"]
    assert f1_ooc >= 0.9, f1_ooc
    assert abs(f1_ooc - f1_mem) <= 0.05, (f1_mem, f1_ooc)
    # traces at the full frame rate, close to the in-memory ones
    assert out_of_core.sizes["time"] == T
    matches = nm.imaging.score(out_of_core, in_memory)["matches"]
    assert len(matches) == in_memory.sizes["neuron"]
    r = [
        np.corrcoef(out_of_core.traces.values[i], in_memory.traces.values[j])[0, 1]
        for i, j in matches
    ]
    assert min(r) > 0.95, r
    # the baseline comes from the binned frames: close, not equal
    assert np.abs(out_of_core.baseline - in_memory.baseline).mean() < 10


def test_n_patches_out_of_core(in_memory, out_of_core):
    assert in_memory.attrs["n_patches_out_of_core"] == 0
    assert in_memory.attrs["patch_memory"] == 1 << 30
    assert out_of_core.attrs["n_patches_out_of_core"] == out_of_core.attrs["n_patches"]
    assert out_of_core.attrs["patch_memory"] == BUDGET


class _Recorder:
    """NumPy array-like that records the frames of each read and how many live."""

    def __init__(self, a: np.ndarray) -> None:
        self.a, self.shape, self.dtype, self.ndim = a, a.shape, a.dtype, a.ndim
        self.frames: list[int] = []
        self.alive = self.peak = 0
        self._lock = threading.Lock()

    def _free(self, n: int) -> None:
        with self._lock:
            self.alive -= n

    def __getitem__(self, key):
        out = np.array(self.a[key])  # a copy: alive until its reader drops it
        n = out.shape[0] if out.ndim == 3 else 1
        with self._lock:
            self.frames.append(n)
            self.alive += n
            self.peak = max(self.peak, self.alive)
        weakref.finalize(out, self._free, n)
        return out


def test_out_of_core_never_reads_the_whole_patch(sim):
    """Four 32 × 32 patches of a dask movie chunked by 100 frames."""
    runs = {}
    for budget in (1 << 30, 1_000_000):
        rec = _Recorder(sim.data.values)
        movie = da.from_array(rec, chunks=(100, 48, 48))
        seg = nm.imaging.segment(
            movie,
            neuron_radius=4.0,
            patch=32,
            overlap=16,
            seed_frames=SEED_FRAMES,
            patch_memory=budget,
        )
        runs[budget] = rec, seg
    rec, seg = runs[1_000_000]
    assert seg.attrs["n_patches"] == 4
    assert seg.attrs["n_patches_out_of_core"] == 4
    assert max(rec.frames) < T
    # one pass checks the frames; then each patch is read twice, once binned
    # for the detection and once for its traces at the full frame rate
    assert sum(rec.frames) == T * (1 + 2 * 4)
    # frames read and still held: a few chunks, not the patch
    assert rec.peak <= T // 2, rec.peak
    # the instrument sees it when a patch is read whole (in memory)
    rec_mem, seg_mem = runs[1 << 30]
    assert seg_mem.attrs["n_patches_out_of_core"] == 0
    assert rec_mem.peak == T
    assert sum(rec_mem.frames) == T * (1 + 4)  # checks, then each patch once
    assert nm.imaging.score(seg, sim.truth)["f1"] >= 0.9
    # the mean image comes from the same read pass as the frame checks
    mean = sim.data.values.mean(0)
    for _, s in runs.values():
        np.testing.assert_allclose(s["mean_image"], mean, rtol=1e-5)
        assert np.isfinite(s["correlation_image"]).all()


@pytest.mark.parametrize("bad", [0, -5, 1.5, "1GB", True, None])
def test_patch_memory_bad_input(sim, bad):
    with pytest.raises(InputError, match="patch_memory must be a positive integer"):
        nm.imaging.segment(sim.data, neuron_radius=4.0, patch_memory=bad)


def test_out_of_core_quality_and_evidence_are_exact(sim):
    """Unbinned (the baseline is then exact), with ring-shaped somata added.

    The trace correlation and the activity evidence come from mask-mean traces
    computed block by block: the same values as in memory.
    """
    Y = sim.data.values.astype(np.float32)
    yy, xx = np.mgrid[:48, :48]
    for y, x in [(10, 38), (38, 10), (24, 24)]:
        d = np.hypot(yy - y, xx - x)
        Y += np.float32(80) * ((d >= 2.8) & (d <= 4.8))
    runs = [
        nm.imaging.segment(Y, neuron_radius=4.0, patch_memory=budget)
        for budget in (1 << 30, BUDGET)
    ]
    mem, ooc = runs
    assert ooc.attrs["n_patches_out_of_core"] == 1
    assert mem.attrs["n_anatomy"] >= 2
    assert list(ooc.origin.values) == list(mem.origin.values)
    np.testing.assert_array_equal(ooc.baseline, mem.baseline)
    np.testing.assert_allclose(ooc.mean_image, mem.mean_image, rtol=1e-6)
    np.testing.assert_allclose(ooc.correlation_image, mem.correlation_image, atol=1e-5)
    np.testing.assert_allclose(ooc.activity_evidence, mem.activity_evidence, rtol=1e-9)
    np.testing.assert_allclose(ooc.trace_correlation, mem.trace_correlation, atol=1e-6)
    np.testing.assert_allclose(
        ooc.traces, mem.traces, rtol=1e-5, atol=1e-6 * float(mem.traces.max())
    )


@pytest.mark.parametrize("density", [0.02, 1.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_residual_equals_the_plain_formula_for_sparse_and_dense_footprints(
    density, dtype
):
    from neuronmf.imaging._out_of_core import _residual

    rng = np.random.default_rng(5)
    V = rng.random((400, 30)).astype(dtype)
    W = rng.random((400, 6)) * (rng.random((400, 6)) < density)
    H = rng.random((6, 30))
    before = V.copy()
    got = _residual(V, W, H)
    np.testing.assert_allclose(got, np.maximum(V - W @ H, 0), atol=1e-12)
    np.testing.assert_array_equal(V, before)  # the input is not modified
    assert got.min() >= 0
