"""Joint NMF with a shared W or a shared H."""

import numpy as np
import pytest

import neuronmf as nm
from neuronmf.model_selection import match_components
from tests.conftest import planted


def test_shared_w_is_recovered_across_three_matrices():
    rng = np.random.default_rng(0)
    _, W, _ = planted(20, 10, 4, seed=1)
    Vs = []
    for _b in range(3):
        H = rng.random((4, 300)) * (rng.random((4, 300)) > 0.5)
        V = W @ H
        V = np.maximum(V + 0.03 * V.std() * rng.standard_normal(V.shape), 0)
        Vs.append(V)
    res = nm.joint_nmf(Vs, 4, shared="W", seed=0, n_restarts=5, init="random")
    assert match_components(W, res.W[0]).similarity.min() >= 0.99
    assert all(h.shape == (4, 300) for h in res.H)


def test_shared_h_is_recovered_across_three_matrices():
    rng = np.random.default_rng(1)
    H = rng.random((3, 400)) * (rng.random((3, 400)) > 0.5)
    Vs = []
    for m in (8, 12, 5):
        # zeros in W too: with W > 0 everywhere, (W(I - εE))((I + εE)H) for E >= 0
        # fits as well, so H is not identifiable and where a fit lands on that set
        # depends on where it stops (cosine 0.94-0.995 over seeds)
        W = rng.random((m, 3)) * (rng.random((m, 3)) > 0.4)
        V = W @ H
        Vs.append(np.maximum(V + 0.02 * V.std() * rng.standard_normal(V.shape), 0))
    res = nm.joint_nmf(Vs, 3, shared="H", seed=0, n_restarts=5, init="random")
    assert match_components(H.T, res.H[0].T).similarity.min() >= 0.99
    assert [w.shape for w in res.W] == [(8, 3), (12, 3), (5, 3)]


@pytest.mark.parametrize("loss", ["frobenius", "kl"])
def test_equal_weights_equal_plain_nmf_of_the_concatenation(loss):
    rng = np.random.default_rng(2)
    Vs = [rng.poisson(3 * rng.random((10, 40))).astype(float) + 0.5 for _ in range(3)]
    from neuronmf.engine.init import initialize

    V_all = np.concatenate(Vs, axis=1)
    W0, H0 = initialize(V_all, 3, "nndsvda", np.random.default_rng(0))
    joint = nm.joint_nmf(Vs, 3, shared="W", loss=loss, W=W0, H=H0, max_iter=50)
    plain = nm.nmf(V_all, 3, loss=loss, W=W0, H=H0, max_iter=50)
    assert joint.loss == pytest.approx(plain.loss, rel=1e-12)
    assert sum(joint.block_losses) == pytest.approx(plain.loss, rel=1e-8)


@pytest.mark.parametrize("loss", ["frobenius", "kl"])
def test_weights_scale_each_block_loss(loss):
    rng = np.random.default_rng(3)
    Vs = [rng.poisson(3 * rng.random((10, 40))).astype(float) + 0.5 for _ in range(2)]
    res = nm.joint_nmf(Vs, 2, shared="W", loss=loss, weights=[1.0, 4.0], seed=0)
    weighted = res.block_losses[0] + 4.0 * res.block_losses[1]
    assert res.loss == pytest.approx(weighted, rel=1e-6)


def test_joint_masks():
    rng = np.random.default_rng(4)
    Vs = [rng.random((6, 30)) for _ in range(2)]
    masks = [rng.random((6, 30)) > 0.2, None]
    Vs[0][~masks[0]] = np.nan
    res = nm.joint_nmf(Vs, 2, masks=masks, seed=0)
    assert np.isfinite(res.loss)


def test_joint_bad_input():
    V = np.ones((4, 5))
    with pytest.raises(nm.InputError, match="shared must be 'W' or 'H'"):
        nm.joint_nmf([V], 2, shared="X")
    with pytest.raises(nm.InputError, match=r"rows \(features\) must be equal"):
        nm.joint_nmf([V, np.ones((3, 5))], 2, shared="W")
    with pytest.raises(nm.InputError, match=r"weights must be 2 finite numbers > 0"):
        nm.joint_nmf([V, V], 2, weights=[1, -1])
