"""NMFResult.to_dataset / from_dataset: the plain fit as a Dataset (issue 22, 3)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import neuronmf as nm
from neuronmf._provenance import params_of, version
from neuronmf.engine.result import NMFResult


def _fit(V, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nm.ConvergenceWarning)
        return nm.nmf(V, 3, max_iter=60, **kw)


@pytest.fixture(scope="module")
def V():
    rng = np.random.default_rng(0)
    return rng.random((8, 3)) @ rng.random((3, 40))


def test_plain_fit_dataset_holds_every_field(V):
    res = _fit(V, seed=2, solver="mu")
    ds = res.to_dataset()
    assert ds["W"].dims == ("feature", "component")
    assert ds["H"].dims == ("component", "sample")
    np.testing.assert_array_equal(ds["W"].values, res.W)
    np.testing.assert_array_equal(ds["H"].values, res.H)
    np.testing.assert_array_equal(ds["loss_history"].values, res.loss_history)
    assert ds["loss_history"].dims == ("iteration",)
    assert ds["iteration"].values[0] == 1
    np.testing.assert_array_equal(ds["restart_losses"].values, res.restart_losses)
    assert float(ds["loss"]) == res.loss
    assert float(ds["relative_error"]) == res.relative_error
    assert float(ds["vaf"]) == res.vaf
    assert int(ds["n_iter"]) == res.n_iter
    assert bool(ds["converged"]) == res.converged
    a = ds.attrs
    assert a["neuronmf_kind"] == "nmf" and a["neuronmf_version"] == version()
    assert a["seed"] == 2 and a["loss"] == "frobenius" and a["solver"] == "mu"
    assert params_of(a)["rank"] == 3 and params_of(a)["solver"] == "mu"


@pytest.mark.parametrize(
    "seed, written", [(None, "none"), (np.random.default_rng(1), "generator")]
)
def test_seed_written_in_the_one_encoding(V, seed, written):
    assert _fit(V, seed=seed).to_dataset().attrs["seed"] == written


def test_round_trip_through_netcdf_gives_the_same_result(V, tmp_path):
    res = _fit(V, seed=0)
    path = tmp_path / "fit.nc"
    nm.io.save_netcdf(res.to_dataset(), path)
    back = NMFResult.from_dataset(nm.io.load_result(path))
    assert isinstance(back.W, np.ndarray) and isinstance(back.H, np.ndarray)
    np.testing.assert_array_equal(back.W, res.W)
    np.testing.assert_array_equal(back.H, res.H)
    assert back.loss_history == res.loss_history
    assert back.restart_losses == res.restart_losses
    assert (back.loss, back.vaf, back.relative_error) == (
        res.loss,
        res.vaf,
        res.relative_error,
    )
    assert (back.n_iter, back.converged) == (res.n_iter, res.converged)
    assert back.params == res.params
    train = np.random.default_rng(3).random(V.shape) > 0.2
    assert back.heldout_loss(V, ~train) == res.heldout_loss(V, ~train)


@pytest.mark.parametrize("fmt", ["nc", "nwb"])
def test_labelled_fit_keeps_its_labels(tmp_path, fmt):
    rng = np.random.default_rng(1)
    da = xr.DataArray(
        rng.random((2, 3, 3)) @ rng.random((3, 30)),
        dims=("y", "x", "time"),
        coords={"y": [10, 20], "x": list("abc"), "time": np.arange(30) / 10.0},
    )
    res = _fit(da, seed=0)
    ds = res.to_dataset()
    assert ds["W"].dims == ("y", "x", "component")
    assert ds["H"].dims == ("component", "time")
    assert list(ds["x"].values) == list("abc")
    np.testing.assert_array_equal(ds["time"].values, da["time"].values)
    path = tmp_path / f"fit.{fmt}"
    (nm.io.save_netcdf if fmt == "nc" else nm.io.save_nwb)(ds, path)
    back = NMFResult.from_dataset(nm.io.load_result(path))
    assert isinstance(back.W, xr.DataArray) and back.W.dims == res.W.dims
    xr.testing.assert_equal(
        back.W.reset_coords(drop=True), res.W.reset_coords(drop=True)
    )
    np.testing.assert_array_equal(back.reconstruct(), res.reconstruct())


def test_from_dataset_refuses_another_kind(V):
    ds = _fit(V, seed=0).to_dataset()
    ds.attrs["neuronmf_kind"] = "synergies"
    with pytest.raises(nm.InputError, match="NMF result Dataset"):
        NMFResult.from_dataset(ds)
    with pytest.raises(nm.InputError, match="without"):
        NMFResult.from_dataset(xr.Dataset({"W": xr.DataArray([1.0])}))
