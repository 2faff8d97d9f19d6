"""match (chance level), group, refit, cycle_average."""

import numpy as np
import pytest
import xarray as xr

from neuronmf.errors import InputError
from neuronmf.synergies import cycle_average, extract, group, match, refit


def _sparse_w(rng, m=13, k=5):
    W = rng.random((m, k)) * (rng.random((m, k)) < 0.5)
    W[rng.permutation(m)[:k], np.arange(k)] += 1
    return W / np.linalg.norm(W, axis=0)


def test_match_recovers_permutation_and_chance_level():
    rng = np.random.default_rng(0)
    A = _sparse_w(rng)
    perm = rng.permutation(5)
    m = match(A, A[:, perm], n_shuffles=500, seed=1)
    assert (perm[m.match.values] == np.arange(5)).all()
    np.testing.assert_allclose(m.similarity.values, 1.0)
    # chance: the 95th percentile of matched cosine between shuffled sets
    chance = m.attrs["chance"]
    assert 0.5 < chance < 0.98
    assert m.above_chance.all()
    # unrelated random sets score around chance, not above it for most synergies
    B = _sparse_w(np.random.default_rng(7))
    u = match(A, B, n_shuffles=500, seed=1)
    assert u.attrs["mean"] < chance
    assert int(u.above_chance.sum()) <= 2
    # the chance level is reproducible and depends on the seed only
    assert match(A, B, n_shuffles=500, seed=1).attrs["chance"] == u.attrs["chance"]


def test_match_aligns_muscles_by_name():
    rng = np.random.default_rng(2)
    W = rng.random((4, 2))
    a = xr.DataArray(W, dims=("muscle", "synergy"), coords={"muscle": list("abcd")})
    b = a.isel(muscle=[3, 1, 0, 2])
    np.testing.assert_allclose(match(a, b, n_shuffles=0).similarity.values, 1.0)
    with pytest.raises(InputError, match="same muscles"):
        match(a, b.assign_coords(muscle=list("wxyz")), n_shuffles=0)
    with pytest.raises(InputError, match="at least as many synergies"):
        match(W, W[:, :1])


def test_group_finds_common_synergies():
    rng = np.random.default_rng(3)
    common = _sparse_w(rng, k=4)
    sets, perms = [], []
    for i in range(6):
        k = 4 if i != 5 else 3  # one person with a synergy fewer
        perm = rng.permutation(4)[:k]
        noisy = np.abs(common[:, perm] + 0.05 * rng.standard_normal((13, k)))
        sets.append(noisy)
        perms.append(perm)
    g = group(sets, labels=[f"p{i}" for i in range(6)])
    assert g.sizes["synergy"] == 4
    assert g.consistency.min() > 0.95
    assert g.n_members.values.tolist() in ([6, 6, 6, 5], sorted([6, 6, 6, 5]))
    # each common synergy matches one planted one
    assert match(common, g, n_shuffles=0).similarity.min() > 0.98
    # members of a set point at the planted synergy they came from
    to_group = match(common, g, n_shuffles=0).match.values  # planted -> group
    for i, perm in enumerate(perms):
        assert (g.assignment.values[i, : len(perm)] == to_group[perm]).all()
    h = group(sets, method="hierarchical")
    assert match(common, h, n_shuffles=0).similarity.min() > 0.98


def test_refit_recovers_activations_with_fixed_synergies():
    rng = np.random.default_rng(4)
    W = _sparse_w(rng, k=4)
    names = [f"m{i}" for i in range(13)]
    fixed = xr.DataArray(W, dims=("muscle", "synergy"), coords={"muscle": names})
    H_new = rng.random((4, 300))
    new = xr.DataArray(
        (W @ H_new).T, dims=("time", "channel"), coords={"channel": names}
    )
    out = refit(new, fixed)
    np.testing.assert_allclose(out.activations.values, H_new, rtol=1e-6, atol=1e-9)
    assert float(out.vaf) == pytest.approx(1.0) and out.attrs["refit"] == 1
    np.testing.assert_array_equal(out.synergies.values, W)
    # channels are matched by name, whatever their order
    shuffled = new.isel(channel=rng.permutation(13))
    np.testing.assert_allclose(refit(shuffled, fixed).activations, out.activations)
    # synergies extracted from another trial give the same activations, matched
    train = extract(
        xr.DataArray(
            (W @ rng.random((4, 600))).T,
            dims=("time", "channel"),
            coords={"channel": names},
        ),
        rank=4,
        n_restarts=3,
    )
    again = refit(new, train)
    order = match(train, W, n_shuffles=0).match.values  # train synergy -> planted
    for j in range(4):
        assert np.corrcoef(again.activations.values[j], H_new[order[j]])[0, 1] > 0.99
    assert float(again.vaf) > 0.999
    with pytest.raises(InputError, match="synergies' muscles"):
        refit(new.assign_coords(channel=[f"x{i}" for i in range(13)]), fixed)


def test_cycle_average_mean_and_sd():
    phase = np.arange(100) / 100
    cycles = np.stack([np.sin(np.pi * phase) * (1 + 0.1 * c) for c in range(5)])
    H = xr.DataArray(
        cycles.reshape(1, -1),
        dims=("synergy", "time"),
        coords={
            "cycle": ("time", np.repeat(np.arange(5), 100)),
            "phase": ("time", np.tile(phase, 5)),
        },
    )
    avg = cycle_average(H)
    np.testing.assert_allclose(avg["mean"].values[0], cycles.mean(axis=0))
    np.testing.assert_allclose(avg["sd"].values[0], cycles.std(axis=0, ddof=1))
    assert avg.attrs["n_cycles"] == 5 and avg.phase.size == 100
    with pytest.raises(InputError, match="cycle"):
        cycle_average(H.drop_vars(["cycle", "phase"]))
