"""decode on the shared model-selection machinery, and its result convention.

Issue 22: the features of every training set come from the one warm-started rank
chain, run by the one parallel runner, with no rank fitted twice (items 2, 5);
the result's attributes come from ``result_attrs`` (item 3).
"""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pytest
import xarray as xr

import neuronmf as nm
from neuronmf.decoding import _features
from neuronmf.model_selection import chain


def _sim(n_bins=900):
    sim = nm.datasets.simulate_assemblies(n_neurons=12, n_assemblies=2, n_bins=n_bins)
    return sim.data, sim.behavior


@pytest.mark.parametrize(("inner_nmf", "per_fold"), [("refit", 3), ("shared", 1)])
def test_no_rank_is_fitted_twice(monkeypatch, inner_nmf, per_fold):
    """One fit per (training set, rank): outer + inner sets, none for the null."""
    X, y = _sim()
    fits, real = [], chain.nmf

    def spy(V, r, **kw):
        fits.append((V.shape[1], np.asarray(V).sum().round(6), r))
        return real(V, r, **kw)

    monkeypatch.setattr(chain, "nmf", spy)
    ranks, cv, inner_cv = [1, 2, 3], 3, 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nm.decoding.decode(
            X, y, ranks=ranks, cv=cv, inner_cv=inner_cv, inner_nmf=inner_nmf,
            n_null=3, max_iter=20,
        )  # fmt: skip
    assert len(fits) == cv * per_fold * len(ranks)
    assert len(set(fits)) == len(fits)  # no (training set, rank) twice


def test_training_sets_run_through_the_one_runner(monkeypatch):
    calls, real = [], _features.run_tasks

    def spy(func, tasks, **kw):
        tasks = list(tasks)
        calls.append((func, len(tasks), kw["n_jobs"], kw["weights"]))
        return real(func, tasks, **kw)

    monkeypatch.setattr(_features, "run_tasks", spy)
    X, y = _sim()
    nm.decoding.decode(
        X, y, ranks=[1, 2], cv=3, inner_cv=2, n_null=0, max_iter=20, n_jobs=2
    )
    # 3 outer + 3 × 2 inner training sets, each a chain of the 2 ranks
    assert calls == [(_features._features_task, 9, 2, [2] * 9)]


def test_attrs_follow_the_one_convention_and_round_trip(tmp_path):
    X, y = _sim()
    res = nm.decoding.decode(
        X, y, features="raw", cv=3, inner_cv=2, n_null=2, lags=1, seed=None
    )
    ds = res.to_dataset()
    assert ds.attrs["neuronmf_kind"] == "decoding"
    assert ds.attrs["neuronmf_version"] == nm.__version__
    assert ds.attrs["seed"] == "none"  # not -1
    params = json.loads(ds.attrs["params"])
    assert params["lags"] == [-1, 0, 1] and params["cv"] == 3
    assert params["features"] == "raw" and params["gap"] == ds.attrs["gap"]
    assert ds.attrs["loss"] == "frobenius" and ds.attrs["metric"] == "r2"
    path = tmp_path / "decoding.nc"
    nm.io.save_netcdf(ds, path)
    back = nm.io.load_result(path)
    xr.testing.assert_identical(back, ds)
    seeded = nm.decoding.decode(X, y, features="raw", cv=3, inner_cv=2, n_null=0)
    assert seeded.to_dataset().attrs["seed"] == 0
    # a result built by hand still says what it is
    bare = dataclasses.replace(seeded, attrs={}).to_dataset()
    assert bare.attrs["neuronmf_kind"] == "decoding"
    assert bare.attrs["seed"] == "none"
