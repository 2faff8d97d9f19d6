"""save_nwb picks the writer by the result's ``neuronmf_kind``, not its variable names.

Issue 22 item 4: one NWB writer module per kind behind ``save_nwb``, chosen by a
table keyed on ``neuronmf_kind``; the guess from variable names is only the
fallback for Datasets without the attribute.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import xarray as xr

from neuronmf.errors import InputError
from neuronmf.io import load_result, save_nwb
from neuronmf.io.writers import NWB_KINDS, result_kind


def _factors(kind: str | None) -> xr.Dataset:
    rng = np.random.default_rng(0)
    ds = xr.Dataset(
        {
            "synergies": (("muscle", "synergy"), rng.random((4, 2))),
            "activations": (("synergy", "time"), rng.random((2, 30))),
        },
        coords={"muscle": list("ABCD"), "time": np.arange(30) / 100.0},
    )
    if kind is not None:
        ds.attrs["neuronmf_kind"] = kind
    return ds


def _modules(path) -> list[str]:
    with h5py.File(path, "r") as f:
        return sorted(f["processing"])


def test_the_kind_attribute_chooses_the_writer_not_the_variable_names(tmp_path):
    # synergy-like variables, but the result says it is a plain NMF fit
    ds = _factors("nmf")
    assert result_kind(ds) == "nmf"
    p = save_nwb(ds, tmp_path / "nmf.nwb")
    assert _modules(p) == ["nmf"]  # not "synergies"
    back = load_result(p)
    xr.testing.assert_identical(back, ds)


def test_without_the_kind_attribute_the_variable_names_decide(tmp_path):
    ds = _factors(None)
    assert result_kind(ds) == "synergies"
    p = save_nwb(ds, tmp_path / "guess.nwb")
    assert _modules(p) == ["synergies"]
    with h5py.File(p, "r") as f:
        assert "loadings" in f["processing/synergies"]


def test_a_kind_without_its_variables_is_refused_before_writing(tmp_path):
    ds = _factors("segmentation")
    with pytest.raises(InputError, match=r"kind 'segmentation'.*footprints, traces"):
        save_nwb(ds, tmp_path / "bad.nwb")
    assert not (tmp_path / "bad.nwb").exists()


def test_any_other_kind_round_trips_exactly_as_tables(tmp_path):
    rng = np.random.default_rng(1)
    ds = xr.Dataset(
        {
            "rss": ("rank", rng.random(3)),
            "cv_error": (("rank", "repeat"), rng.random((3, 2))),
            "n_iter": ("rank", np.array([5, 7, 9], np.int32)),
            "best": ((), 2),
        },
        coords={"rank": [1, 2, 3], "repeat": [0, 1], "feature": ("feature", [3, 4])},
        attrs={"neuronmf_kind": "rank_scan", "seed": "none", "params": "{}"},
    )
    ds["rss"].attrs["units"] = "a.u."
    assert "rank_scan" not in NWB_KINDS
    p = save_nwb(ds, tmp_path / "scan.nwb")
    save_nwb(ds, p)  # a second one beside it: rank_scan_2
    assert _modules(p) == ["rank_scan", "rank_scan_2"]
    back = load_result(p, name="rank_scan_2")
    xr.testing.assert_identical(back, ds)
    assert back["n_iter"].dtype == np.int32
