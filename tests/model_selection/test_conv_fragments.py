"""merge_fragments / lag_locking: one sequence split across two conv_nmf components."""

import numpy as np
import pytest

import neuronmf as nm
from neuronmf.datasets._neural_sequences import simulate_sequences
from neuronmf.engine.convolutive import factor_similarity
from neuronmf.errors import InputError
from neuronmf.model_selection import lag_locking, merge_fragments


def _sparse_h(rng, T, n):
    h = np.zeros(T)
    h[rng.choice(T - 60, n, replace=False) + 30] = rng.gamma(5.0, 0.2, n)
    return h


def test_lag_locking_finds_a_fixed_lag():
    rng = np.random.default_rng(1)
    H = np.zeros((3, 3000))
    H[0] = _sparse_h(rng, 3000, 30)
    H[1, 11:] = 0.5 * H[0, :-11]  # fires 11 frames after component 0
    H[2] = _sparse_h(rng, 3000, 30)  # independent
    p, lag, r = lag_locking(H, 50)
    assert lag[0, 1] == 11 and lag[1, 0] == -11
    assert p[0, 1] < 0.002 and r[0, 1] > 0.99
    assert np.isnan(np.diag(p)).all()


def test_lag_locking_null_pairs_are_rarely_locked():
    # structureless: independent sparse activations; p-values should be ~uniform
    rng = np.random.default_rng(2)
    ps = []
    for _ in range(40):
        H = np.stack([_sparse_h(rng, 1500, 20), _sparse_h(rng, 1500, 20)])
        ps.append(lag_locking(H, 30)[0][0, 1])
    ps = np.array(ps)
    assert np.mean(ps <= 0.05) <= 0.15
    assert 0.3 < np.median(ps) < 0.7


def test_spacing_locking_finds_a_fragment_and_is_uniform_on_null():
    from neuronmf.model_selection.conv_fragments import _spacing_locking

    rng = np.random.default_rng(3)
    W = np.zeros((20, 3, 30))
    W[np.arange(10), 0, 3 * np.arange(10)] = 1.0  # a sequence, 3 frames a neuron
    W[[2, 7], 1, [6 + 5, 21 + 5]] = 0.5  # two of its neurons, same spacing
    W[10:, 2] = rng.random((10, 30))  # unrelated neurons
    p, lag = _spacing_locking(W, np.random.default_rng(0))
    # 5 lags later in its window: it lines up when its onset is 5 frames earlier
    assert p[0, 1] <= 0.05 and lag[0, 1] == -5
    assert p[0, 2] > 0.05
    # structureless: random patterns over the same neurons
    ps = []
    for _ in range(30):
        Wn = rng.random((8, 2, 12)) ** 4
        ps.append(_spacing_locking(Wn, rng, n_null=99)[0][0, 1])
    ps = np.array(ps)
    assert np.mean(ps <= 0.05) <= 0.2
    assert 0.25 < np.median(ps) < 0.75


def test_merge_fragments_fixes_the_split_poisson_sequence():
    # the reproducer of issue 24: seqNMF's demo data as Poisson counts, KL loss,
    # λ as choose_x_ortho picks it for this seed (bench_conv_nmf.py recovery
    # --case poisson, seed 3): a fourth component keeps 8.7 % of the power, a
    # fragment of the third sequence firing 4 frames after it
    sim = simulate_sequences(seed=103, kind="poisson")
    fit = nm.conv_nmf(
        sim.data, 5, 50, loss="kl", x_ortho=0.03564175206533506, seed=3, max_iter=100
    )
    assert np.sort(fit.power_explained)[::-1][3] > 0.05  # the split, before
    out = merge_fragments(sim.data, fit, seed=3)
    res = out.result
    assert out.n_merged >= 1
    assert res.W.shape == fit.W.shape and res.H.shape == fit.H.shape
    extra = np.sort(res.power_explained)[::-1][3:]
    assert np.all(extra < 0.01)
    assert factor_similarity(sim.W, sim.H, res.W, res.H) >= 0.95
    assert res.params["merged_fragments"][0]["lag"] == out.merges[0]["lag"]
    # the absorbed components are empty, not just small
    assert (np.abs(res.W).sum(axis=(0, 2)) == 0).sum() == out.n_merged
    # the first merge is the fragment: locked 4 frames after the third sequence
    assert out.merges[0]["accepted"] and out.merges[0]["lag"] == 4


def test_merge_fragments_keeps_distinct_sequences():
    # the calcium demo is recovered as it is: nothing locked, nothing merged
    sim = simulate_sequences(n_frames=1500, seed=100)
    fit = nm.conv_nmf(sim.data, 3, 50, x_ortho=0.008, seed=0, max_iter=60)
    out = merge_fragments(sim.data, fit, n_repeats=2)
    assert out.n_merged == 0
    assert out.result is fit


def test_merge_fragments_bad_input():
    V = np.random.default_rng(0).random((6, 200))
    fit = nm.conv_nmf(V, 2, 5, max_iter=5)
    with pytest.raises(InputError, match="result must be a ConvNMFResult"):
        merge_fragments(V, {"W": 1})
    with pytest.raises(InputError, match="V must be the data the result"):
        merge_fragments(V[:, :100], fit)
    with pytest.raises(InputError, match="n_repeats"):
        merge_fragments(V, fit, n_repeats=1)
    masked = nm.conv_nmf(V, 2, 5, max_iter=5, mask=np.ones(V.shape, bool))
    with pytest.raises(InputError, match="without a mask"):
        merge_fragments(V, masked)
    with pytest.raises(InputError, match="lags"):
        lag_locking(np.ones((2, 100)), 0)
