"""load_activity / load_behavior read CSV/TSV tables and NetCDF results themselves."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neuronmf.errors import InputError
from neuronmf.io import load_activity, load_behavior, load_emg, save_netcdf
from neuronmf.io._formats import data_format, detect_format


@pytest.fixture
def session(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(50) / 20.0
    counts = xr.DataArray(
        rng.poisson(2.0, (50, 4)).astype(float),
        dims=("time", "unit"),
        coords={"time": t, "unit": list("abcd")},
    )
    ds = xr.Dataset(
        {
            "counts": counts,
            "speed": ("time", rng.random(50)),
            "position": (("time", "xy"), rng.random((50, 2))),
            "lick": ("time", rng.integers(0, 2, 50)),
        },
        coords={"xy": ["x", "y"]},
    )
    return save_netcdf(ds, tmp_path / "session.nc"), ds


def test_activity_from_a_table_is_load_emg_with_neurons(tmp_path):
    path = tmp_path / "rates.tsv"
    path.write_text("time\tn1\tn2\n0.0\t1\t0\n0.05\t2\t1\n0.1\t0\t3\n")
    act = load_activity(path)
    ref = load_emg(path)
    assert act.dims == ("time", "neuron")
    assert act.neuron.values.tolist() == ["n1", "n2"]
    np.testing.assert_array_equal(act.values, ref.values)
    assert act.attrs["rate"] == 20.0
    with pytest.raises(InputError, match="series must be None for a CSV/TSV table"):
        load_activity(path, series="n1")


def test_activity_from_netcdf(session, tmp_path):
    path, ds = session
    assert data_format(path) == "netcdf" and detect_format(path) == "hdf5"
    act = load_activity(path, series="counts")
    assert act.dims == ("time", "neuron") and act.neuron.values.tolist() == list("abcd")
    np.testing.assert_array_equal(act.values, ds.counts.values)
    with pytest.raises(InputError, match=r"series must be given when .* counts, pos"):
        load_activity(path)  # two 2-D variables with time: say which
    with pytest.raises(InputError, match="series='nope' must be a series in"):
        load_activity(path, series="nope")
    with pytest.raises(InputError, match=r"must be a 2-D \(time, neuron\) array"):
        load_activity(path, series="speed")
    # a lone (neuron, time) DataArray, written by plain xarray: transposed
    lone = tmp_path / "lone.nc"
    ds.counts.T.to_netcdf(lone)
    assert load_activity(lone).dims == ("time", "neuron")
    np.testing.assert_array_equal(load_activity(lone).values, ds.counts.values)


def test_classic_netcdf_is_recognised_by_its_bytes_and_refused_clearly(tmp_path):
    path = tmp_path / "classic.cdf"
    xr.DataArray(np.ones((3, 2)), dims=("time", "neuron")).to_netcdf(
        path, engine="scipy"
    )
    assert path.read_bytes()[:3] == b"CDF"
    assert data_format(path) == "netcdf"
    with pytest.raises(InputError, match="must be a NetCDF-4 or NWB"):
        load_activity(path)  # load_result reads NetCDF-4 (HDF5) only


def test_behavior_from_netcdf(session):
    path, ds = session
    speed = load_behavior(path, series="speed")
    assert speed.dims == ("time",)
    np.testing.assert_array_equal(speed.values, ds.speed.values)
    np.testing.assert_array_equal(speed.time.values, ds.time.values)
    assert speed.attrs["rate"] == 20.0 and speed.attrs["source_path"] == "speed"
    pos = load_behavior(path, series="position", times=[0.025, 10.0])
    assert pos.dims == ("time", "axis") and pos.axis.values.tolist() == ["x", "y"]
    np.testing.assert_allclose(
        pos.values[0], ds.position.values[:2].mean(axis=0), rtol=1e-12
    )
    assert np.isnan(pos.values[1]).all()  # no extrapolation
    lick = load_behavior(path, series="lick")
    assert lick.dtype.kind == "i"  # class labels keep their dtype
    with pytest.raises(InputError, match="series must be given"):
        load_behavior(path)
    with pytest.raises(InputError, match="series='nope' must be a series in"):
        load_behavior(path, series="nope")
    with pytest.raises(InputError, match="time_column must be None for a NetCDF"):
        load_behavior(path, series="speed", time_column="t")


def test_netcdf_suffix_with_other_content_is_refused(tmp_path):
    path = tmp_path / "fake.nc"
    path.write_text("time,a\n0,1\n")
    with pytest.raises(InputError, match="unrecognised format"):
        load_activity(path)


def test_plain_matrices_take_the_longer_axis_as_time_in_every_format(tmp_path):
    """npz/npy matrices follow MATLAB's rule (a 75 × 666 neuron × frame matrix used
    to be read as 666 neurons over 75 time points)."""
    import numpy as np

    import neuronmf as nm

    X = np.random.default_rng(0).random((7, 40))  # (neuron, time)
    np.savez(tmp_path / "a.npz", neural=X)
    np.save(tmp_path / "a.npy", X)
    for path in (tmp_path / "a.npz", tmp_path / "a.npy"):
        a = nm.io.load_activity(path)
        assert a.dims == ("time", "neuron") and a.shape == (40, 7)
        assert a.attrs["time_axis"] == 1
        np.testing.assert_array_equal(a.values, X.T)
    kept = nm.io.load_activity(tmp_path / "a.npz", time_axis=0)
    assert kept.shape == (7, 40)
    np.save(tmp_path / "sq.npy", np.ones((5, 5)))
    with pytest.raises(nm.InputError, match="time_axis"):
        nm.io.load_activity(tmp_path / "sq.npy")
