"""Every kind of result round-trips through NetCDF and NWB with its provenance.

Issue 22 item 3: every domain returns an ``xarray.Dataset`` (result objects
such as ``DecodingResult`` and ``RankScan`` through ``to_dataset()``), stamped
by :func:`neuronmf._provenance.result_attrs`; one test round-trips every kind
through :func:`neuronmf.io.save_netcdf` and :func:`neuronmf.io.save_nwb` and
:func:`neuronmf.io.load_result`, and checks that ``neuronmf_kind``,
``neuronmf_version``, ``params`` (JSON) and ``seed`` survive.
"""

from __future__ import annotations

import functools
import json
import warnings

import numpy as np
import pytest
import xarray as xr

import neuronmf as nm
from neuronmf._provenance import decode_seed, params_of, version


@functools.cache
def _nmf() -> xr.Dataset:
    rng = np.random.default_rng(0)
    V = rng.random((12, 3)) @ rng.random((3, 60))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nm.ConvergenceWarning)
        return nm.nmf(V, 3, seed=4, max_iter=50).to_dataset()


@functools.cache
def _synergies() -> xr.Dataset:
    V, _, _ = nm.datasets.simulate_synergy_envelopes(
        n_muscles=6, n_synergies=2, n_cycles=4, points_per_cycle=50, seed=0
    )
    env = xr.DataArray(
        V.T,
        dims=("time", "channel"),
        coords={"time": np.arange(V.shape[1]) / 100.0, "channel": list("ABCDEF")},
    )
    return nm.synergies.extract(
        env, rank="auto", ranks=range(1, 4), n_restarts=1, seed=4
    )


@functools.cache
def _assembly_sim():
    return nm.datasets.simulate_assemblies(n_neurons=12, n_assemblies=2, n_bins=600)


@functools.cache
def _assemblies() -> xr.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return nm.assemblies.detect(
            _assembly_sim().data, rank=2, n_surrogates=2, kind="counts", seed=4
        )


@functools.cache
def _assemblies_ica() -> xr.Dataset:
    return nm.assemblies.detect_ica(_assembly_sim().data, n_assemblies=2, seed=4)


@functools.cache
def _segmentation() -> xr.Dataset:
    sim = nm.datasets.simulate_movie((32, 32), 60, 4, 3.0, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return nm.imaging.segment(sim.data, neuron_radius=3.0)


@functools.cache
def _decoding() -> xr.Dataset:
    sim = _assembly_sim()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = nm.decoding.decode(
            sim.data, sim.behavior, rank=2, lags=2, cv=3, inner_cv=2, n_null=2, seed=4
        )
    return res.to_dataset()


@functools.cache
def _rank_scan() -> xr.Dataset:
    rng = np.random.default_rng(0)
    V = rng.random((10, 2)) @ rng.random((2, 80)) + 0.01 * rng.random((10, 80))
    return nm.select_rank(V, range(1, 4), n_repeats=2, seed=4).to_dataset()


@functools.cache
def _deconvolution() -> xr.Dataset:
    y = np.random.default_rng(0).normal(size=(3, 80))
    return nm.imaging.deconvolve(y, model="ar2")


@functools.cache
def _segmentation_traces() -> xr.Dataset:
    sim = nm.datasets.simulate_movie((32, 32), 60, 4, 3.0, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return nm.imaging.traces(_segmentation(), sim.data)


@functools.cache
def _registration(method: str = "rigid") -> xr.Dataset:
    sim = nm.datasets.simulate_movie((40, 40), 12, 5, 3.0, seed=2, motion={"rigid": 2})
    return nm.imaging.register(sim.data, method=method, patch=20, overlap=8)


@functools.cache
def _session_matching() -> xr.Dataset:
    sims = nm.datasets.simulate_movie((64, 64), 10, 15, 4.0, n_sessions=2, seed=0)
    return nm.imaging.match_sessions([s.truth["footprints"] for s in sims])


# kind -> (builder, neuronmf_kind, the seed the call was given: None = no seed)
KINDS = {
    "nmf": (_nmf, "nmf", 4),
    "synergies": (_synergies, "synergies", 4),
    "assemblies": (_assemblies, "assemblies", 4),
    "assemblies_ica": (_assemblies_ica, "assemblies", 4),
    "segmentation": (_segmentation, "segmentation", None),
    "decoding": (_decoding, "decoding", 4),
    "rank_scan": (_rank_scan, "rank_scan", 4),
    "deconvolution": (_deconvolution, "deconvolution", None),
    "segmentation_traces": (_segmentation_traces, "segmentation", None),
    "registration": (_registration, "registration", None),
    "session_matching": (_session_matching, "session_matching", None),
    "registration_piecewise": (
        lambda: _registration("piecewise"),
        "registration",
        None,
    ),
}


@pytest.mark.parametrize("fmt", ["netcdf", "nwb"])
@pytest.mark.parametrize("name", list(KINDS))
def test_every_result_kind_round_trips_with_its_provenance(tmp_path, name, fmt):
    build, kind, seed = KINDS[name]
    ds = build()
    assert isinstance(ds, xr.Dataset)
    attrs = dict(ds.attrs)
    # the one convention, as written by the domain
    assert attrs.get("neuronmf_kind") == kind
    assert attrs.get("neuronmf_version") == version()
    assert isinstance(attrs.get("params"), str)
    assert isinstance(json.loads(attrs["params"]), dict)
    assert params_of(attrs), f"{name}: params records none of the call's options"
    assert attrs.get("seed") == ("none" if seed is None else seed)
    assert decode_seed(attrs["seed"]) == seed
    # list-valued attributes are JSON, never comma or k=v strings
    for key, value in attrs.items():
        assert not isinstance(value, list | tuple | dict), (key, value)

    path = tmp_path / ("result.nc" if fmt == "netcdf" else "result.nwb")
    if fmt == "netcdf":
        nm.io.save_netcdf(ds, path)
    else:
        nm.io.save_nwb(ds, path)
    back = nm.io.load_result(path)
    for key in ("neuronmf_kind", "neuronmf_version", "params", "seed"):
        assert key in back.attrs, f"{name} via {fmt}: {key} lost"
        got, want = back.attrs[key], attrs[key]
        if isinstance(want, int | np.integer):
            assert isinstance(got, int | np.integer) and int(got) == int(want), key
        else:
            assert got == want, (key, got, want)
    assert params_of(back.attrs) == params_of(attrs)
    assert decode_seed(back.attrs["seed"]) == seed
