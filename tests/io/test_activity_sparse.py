"""load_activity(..., sparse=True): spike counts as scipy.sparse (issue 25 item 2)."""

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp
import xarray as xr

from neuronmf.errors import InputError
from neuronmf.io import load_activity
from neuronmf.io._spikes import bin_spikes, bin_spikes_sparse
from neuronmf.io.activity import SparseActivity


def _same(out, dense):
    assert isinstance(out, SparseActivity)
    assert sp.issparse(out.counts) and out.counts.format == "csr"
    assert out.counts.dtype == np.int64
    np.testing.assert_array_equal(out.counts.toarray(), dense.values)
    assert isinstance(out.coords, xr.Dataset) and not out.coords.data_vars
    for name, c in dense.coords.items():
        np.testing.assert_array_equal(out.coords[name].values, c.values)
    assert out.coords.attrs == dense.attrs


def test_npz_spikes_sparse_equal_dense(tmp_path):
    rng = np.random.default_rng(0)
    st = np.sort(rng.random(300) * 20.0)
    su = rng.integers(0, 7, 300)
    p = tmp_path / "spikes.npz"
    np.savez(p, spike_times=st, spike_unit=su)
    for kw in ({}, {"t_start": 1.0, "t_stop": 15.0}):
        dense = load_activity(p, bin_width=0.01, **kw)
        _same(load_activity(p, bin_width=0.01, sparse=True, **kw), dense)
    assert load_activity(p, bin_width=0.01, sparse=True).counts.nnz < 300 < 2000 * 7


def test_nwb_units_sparse_equal_dense(units_nwb):
    path, _ = units_nwb
    dense = load_activity(path, bin_width=0.1)
    out = load_activity(path, bin_width=0.1, sparse=True)
    _same(out, dense)
    assert out.coords.attrs["activity_kind"] == "counts"


def test_matlab_cells_sparse_equal_dense(tmp_path):
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0] = np.array([[0.05, 0.12, 0.31, 0.95]])
    cell[0, 1] = np.array([[0.5, 0.51]])
    p = tmp_path / "cells.mat"
    scipy.io.savemat(p, {"spikes": cell})
    _same(load_activity(p, bin_width=0.1, sparse=True), load_activity(p, bin_width=0.1))


def test_bin_spikes_sparse_has_no_dense_size_limit(monkeypatch):
    import neuronmf.io._spikes as spikes

    # the dense limit lowered to 1 MB: 10 units x 1e6 bins (80 MB) is refused
    # densely and built sparsely with its 3 stored entries
    monkeypatch.setattr(spikes, "MAX_COUNTS_BYTES", 2**20)
    monkeypatch.setattr(spikes, "MAX_COUNTS_MEMORY_FRACTION", 1e-9)
    st, su = np.array([0.0, 500.0, 999.0]), np.array([0, 3, 9])
    with pytest.raises(InputError):
        bin_spikes(st, su, 1e-3, units=np.arange(10), t_stop=1e3)
    c, t, _ = bin_spikes_sparse(st, su, 1e-3, units=np.arange(10), t_stop=1e3)
    assert c.shape == (10**6, 10) and c.nnz == 3 and c.sum() == 3
    assert c[500_000, 3] == 1 and t.size == 10**6


def test_sparse_refused_for_dense_series_and_with_align(tmp_path):
    p = tmp_path / "rates.npy"
    np.save(p, np.ones((20, 3)))
    with pytest.raises(InputError, match="sparse=True"):
        load_activity(p, sparse=True)
    q = tmp_path / "spikes.npz"
    np.savez(q, spike_times=[0.1, 0.2], spike_unit=[0, 1])
    with pytest.raises(InputError, match="sparse"):
        load_activity(q, align=[0.1], window=(0.0, 0.5), sparse=True)
    with pytest.raises(InputError, match="sparse"):
        load_activity(q, bin_width=0.1, sparse="yes")


def test_default_unchanged(tmp_path):
    q = tmp_path / "spikes.npz"
    np.savez(q, spike_times=[0.1, 0.2, 0.7], spike_unit=[0, 1, 0])
    a = load_activity(q, bin_width=0.5)
    assert isinstance(a, xr.DataArray) and a.values.tolist() == [[1, 1], [1, 0]]
    assert not any(k.startswith("_neuronmf") for k in a.attrs)
