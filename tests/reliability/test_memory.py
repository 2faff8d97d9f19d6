"""Memory of the out-of-core path (issue 21, defect 11a).

The default ``nndsvda`` initialisation of a dask array held every block of V at
once (dask's ``svd_compressed``: one graph in which each block feeds several
passes). It now reads V in separate bounded passes, so at most a few blocks are
alive at any time, whatever the number of blocks.
"""

import weakref

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

from neuronmf.engine import chunked  # noqa: E402
from neuronmf.engine.init import initialize  # noqa: E402


class LiveBlocks:
    """An array-like whose every read is a fresh block tracked until it is freed."""

    def __init__(self, array):
        self.array = array
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim
        self.live = 0
        self.peak = 0

    def _freed(self):
        self.live -= 1

    def __getitem__(self, key):
        block = np.array(self.array[key])  # a new buffer, as a file read gives
        self.live += 1
        self.peak = max(self.peak, self.live)
        weakref.finalize(block, self._freed)
        return block


@pytest.mark.parametrize("gram_rows", [1024, 0])  # Gram path; randomized path
@pytest.mark.parametrize("init", ["nndsvda", "nndsvdar"])
def test_nndsvd_of_dask_array_never_holds_v(gram_rows, init, monkeypatch):
    monkeypatch.setattr(chunked, "GRAM_ROWS", gram_rows)
    rng = np.random.default_rng(0)
    V = rng.random((20, 6)) @ rng.random((6, 4000))
    reader = LiveBlocks(V)
    dV = da.from_array(reader, chunks=(20, 100), asarray=False, lock=False)  # 40 blocks
    with dask.config.set(scheduler="synchronous"):
        W, H = initialize(dV, 6, init, np.random.default_rng(0))
    assert reader.peak <= 2, reader.peak  # was 40: every block at once
    assert W.shape == (20, 6) and H.shape == (6, 4000)
    assert np.isfinite(W).all() and (W >= 0).all() and (H >= 0).all()
    assert np.linalg.norm(V - W @ H) < 0.5 * np.linalg.norm(V)
