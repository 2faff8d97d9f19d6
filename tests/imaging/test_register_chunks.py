"""The layout of register's HDF5 output (neuronmf.imaging.register, ``out=``)."""

from __future__ import annotations

import h5py
import numpy as np

from neuronmf.datasets import simulate_movie
from neuronmf.imaging import register


def test_corrected_movie_is_chunked_in_blocks_a_patch_can_read(tmp_path):
    """Chunks of the pass's frames × 64 × 64 px (not one per frame), same values."""
    sim = simulate_movie((80, 150), 30, 10, seed=2, motion={"rigid": 2})
    path = tmp_path / "reg.h5"
    lazy = register(sim.data, out=path, chunk_frames=8)
    with h5py.File(path, "r") as f:
        assert f["corrected"].chunks == (8, 64, 64)
    mem = register(sim.data, chunk_frames=8, template=lazy["template"].values)
    np.testing.assert_array_equal(lazy["corrected"].values, mem["corrected"].values)
