"""Issue 21, defect 2: a checkpoint is only resumed into the data it was saved for.

The fingerprint holds a digest of V (and of the mask); a finished checkpoint
resumed with a larger max_iter goes on to it, bit for bit as an uninterrupted fit.
"""

import warnings

import numpy as np
import pytest

import neuronmf as nm
from tests.conftest import planted


def _data():
    V1, _, _ = planted(20, 120, 4, snr_db=20, seed=1)
    V2, _, _ = planted(20, 120, 4, snr_db=20, seed=2)
    return V1, V2


def test_resume_into_other_data_is_refused(tmp_path):
    # reproducer: nm.nmf(V2, ..., resume=True) returned V1's factors
    V1, V2 = _data()
    path = tmp_path / "fit.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nm.ConvergenceWarning)
        nm.nmf(V1, 5, seed=1, max_iter=30, checkpoint=path)
    with pytest.raises(
        nm.InputError,
        match=r"the checkpoint must be from the same problem and data; got .*"
        r"saved for other data .* Resume with the data it was saved with, or "
        r"delete the file",
    ):
        nm.nmf(V2, 5, seed=1, max_iter=30, checkpoint=path, resume=True)


def test_one_changed_entry_or_mask_is_other_data(tmp_path):
    V1, _ = _data()
    path = tmp_path / "fit.npz"
    mask = np.ones(V1.shape, bool)
    mask[3, 7] = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nm.ConvergenceWarning)
        nm.nmf(V1, 3, seed=0, max_iter=10, mask=mask, checkpoint=path)
    V_changed = V1.copy()
    V_changed[0, 0] += 1e-9
    with pytest.raises(nm.InputError, match="saved for other data"):
        nm.nmf(
            V_changed, 3, seed=0, max_iter=10, mask=mask, checkpoint=path, resume=True
        )
    other_mask = mask.copy()
    other_mask[5, 5] = False
    with pytest.raises(nm.InputError, match="saved for other data"):
        nm.nmf(
            V1, 3, seed=0, max_iter=10, mask=other_mask, checkpoint=path, resume=True
        )
    # the unobserved entry does not matter: the fit never sees it
    V_unobserved = V1.copy()
    V_unobserved[3, 7] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nm.ConvergenceWarning)
        res = nm.nmf(
            V_unobserved,
            3,
            seed=0,
            max_iter=10,
            mask=mask,
            checkpoint=path,
            resume=True,
        )
    assert res.n_iter == 10


def test_other_options_name_what_differs(tmp_path):
    V1, _ = _data()
    path = tmp_path / "fit.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nm.ConvergenceWarning)
        nm.nmf(V1, 3, seed=0, max_iter=5, checkpoint=path)
    with pytest.raises(
        nm.InputError, match=r"saved with l1_H=0.0 \(now 0.5\)|penalties"
    ):
        nm.nmf(V1, 3, seed=0, max_iter=5, l1_H=0.5, checkpoint=path, resume=True)


def test_finished_checkpoint_goes_on_to_a_larger_max_iter(tmp_path):
    # reproducer: a finished checkpoint ignored max_iter=60 (n_iter stayed 30)
    # while the ConvergenceWarning named max_iter=60
    V1, _ = _data()
    path = tmp_path / "fit.npz"
    opts = {"seed": 1, "tol": 1e-14}
    with pytest.warns(nm.ConvergenceWarning, match="max_iter=30"):
        first = nm.nmf(V1, 5, max_iter=30, checkpoint=path, **opts)
    assert first.n_iter == 30
    with pytest.warns(nm.ConvergenceWarning, match="max_iter=60"):
        resumed = nm.nmf(V1, 5, max_iter=60, checkpoint=path, resume=True, **opts)
    with pytest.warns(nm.ConvergenceWarning):
        whole = nm.nmf(V1, 5, max_iter=60, **opts)
    assert resumed.n_iter == 60
    np.testing.assert_array_equal(resumed.W, whole.W)
    np.testing.assert_array_equal(resumed.H, whole.H)
    assert resumed.loss_history == whole.loss_history
    # a checkpoint past a smaller max_iter cannot be rewound: refused
    with pytest.raises(nm.InputError, match="max_iter must be >= the 60 iterations"):
        nm.nmf(V1, 5, max_iter=40, checkpoint=path, resume=True, **opts)


def test_converged_checkpoint_stays_finished(tmp_path):
    V1, _ = _data()
    path = tmp_path / "fit.npz"
    first = nm.nmf(V1, 4, seed=0, max_iter=2000, tol=1e-4, checkpoint=path)
    assert first.converged
    again = nm.nmf(V1, 4, seed=0, max_iter=5000, tol=1e-4, checkpoint=path, resume=True)
    assert again.n_iter == first.n_iter and again.converged
    np.testing.assert_array_equal(again.W, first.W)


def test_digest_is_deterministic_and_chunking_independent_of_values():
    from neuronmf.engine.checkpoint import data_digest

    da = pytest.importorskip("dask.array")
    V1, V2 = _data()
    assert data_digest(V1) == data_digest(V1.copy())
    assert data_digest(V1) != data_digest(V2)
    assert data_digest(V1) != data_digest(V1.astype(np.float32))
    assert data_digest(V1, np.ones(V1.shape, bool)) != data_digest(V1)
    lazy = da.from_array(V1, chunks=(20, 40))
    assert data_digest(lazy) == data_digest(da.from_array(V1.copy(), chunks=(20, 40)))
    assert data_digest(lazy) != data_digest(da.from_array(V2, chunks=(20, 40)))


def test_dask_resume_into_other_data_is_refused(tmp_path):
    da = pytest.importorskip("dask.array")
    V1, V2 = _data()
    path = tmp_path / "fit.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nm.ConvergenceWarning)
        nm.nmf(
            da.from_array(V1, chunks=(20, 40)), 3, seed=0, max_iter=5, checkpoint=path
        )
    with pytest.raises(nm.InputError, match="saved for other data"):
        nm.nmf(
            da.from_array(V2, chunks=(20, 40)),
            3,
            seed=0,
            max_iter=5,
            checkpoint=path,
            resume=True,
        )
