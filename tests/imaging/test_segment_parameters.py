"""SegmentParameters, the provenance attrs of segment, its named per-neuron measures."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import neuronmf as nm
from neuronmf._provenance import params_of
from neuronmf.errors import InputError
from neuronmf.imaging import SegmentParameters, default_parameters


@pytest.fixture(scope="module")
def movie():
    return nm.datasets.simulate_movie((40, 40), 80, 5, 3.0, seed=0).data


@pytest.fixture(scope="module")
def seg(movie):
    return nm.imaging.segment(movie, neuron_radius=3.0, min_snr=2.5)


@pytest.mark.parametrize("radius", [1.0, 3.0, 4.0, 5.0, 7.3, 20.0])
def test_from_radius_gives_default_parameters(radius):
    p = SegmentParameters.from_radius(radius)
    assert p.as_dict() == default_parameters(radius)
    assert list(p.as_dict()) == list(default_parameters(radius))
    assert sorted(default_parameters(radius)) == SegmentParameters.names()


def test_default_values_for_radius_five():
    d = default_parameters(5.0)
    assert (d["patch"], d["overlap"], d["min_area"], d["max_area"]) == (64, 20, 39, 491)
    assert d["merge_dilation"] == 2 and d["patch_memory"] == 1 << 30
    assert type(d["patch"]) is int and type(d["min_snr"]) is float


def test_fields_checked_when_built_and_frozen():
    with pytest.raises(InputError, match="min_snr must be a finite number"):
        SegmentParameters.from_radius(4.0, min_snr="3")
    with pytest.raises(
        InputError, match=r"baseline_percentile must be a number in \[0, 100\]"
    ):
        SegmentParameters.from_radius(4.0, baseline_percentile=101.0)
    with pytest.raises(InputError, match="anatomy_activity_weight must be ≥ 0"):
        SegmentParameters.from_radius(4.0, anatomy_activity_weight=-0.1)
    with pytest.raises(InputError, match="overlap must be in"):
        SegmentParameters.from_radius(4.0, overlap=64)
    p = SegmentParameters.from_radius(4.0)
    with pytest.raises(InputError, match="seed_frames must be an integer ≥ 2"):
        p.replace(seed_frames=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.min_snr = 1.0  # type: ignore[misc]
    # numpy scalars are accepted and made plain (JSON and NetCDF attributes)
    q = p.replace(min_snr=np.float32(2.5), refine_iter=np.int64(5))
    assert type(q.min_snr) is float and type(q.refine_iter) is int


def test_unknown_keyword_names_the_valid_ones(movie):
    with pytest.raises(InputError, match="options must be among") as err:
        nm.imaging.segment(movie, neuron_radius=3.0, min_snnr=3)
    assert "'min_snnr'" in str(err.value) and "'min_snr'" in str(err.value)
    with pytest.raises(InputError, match="min_snnr"):
        SegmentParameters.from_radius(3.0, min_snnr=3)
    with pytest.raises(InputError, match="parameters must be a SegmentParameters"):
        nm.imaging.segment(movie, neuron_radius=3.0, parameters={"min_snr": 3})


def test_parameters_argument_equals_the_keywords(movie, seg):
    p = SegmentParameters.from_radius(3.0, min_snr=2.5)
    by_dataclass = nm.imaging.segment(movie, neuron_radius=3.0, parameters=p)
    for name in ("footprints", "traces", "snr", "centroid", "rejected_reason"):
        np.testing.assert_array_equal(by_dataclass[name].values, seg[name].values)
    # keywords beside parameters= override its fields
    strict = nm.imaging.segment(
        movie, neuron_radius=3.0, parameters=p, min_snr=1e6, patch=40
    )
    # no activity component passes; filled somata seen in the mean image remain
    assert (strict.origin.values == "activity").sum() == 0
    assert strict.attrs["min_snr"] == 1e6
    assert strict.attrs["patch"] == 40
    # a patch too small for the radius is refused whichever way it is given
    with pytest.raises(InputError, match="patch must be larger than 4"):
        nm.imaging.segment(
            movie, neuron_radius=3.0, parameters=p.replace(patch=12, overlap=4)
        )


def test_result_carries_the_provenance_attrs(seg):
    attrs = seg.attrs
    assert attrs["neuronmf_kind"] == "segmentation"
    assert attrs["seed"] == "none"
    assert isinstance(attrs["neuronmf_version"], str) and attrs["neuronmf_version"]
    params = params_of(attrs)
    assert params["min_snr"] == 2.5 and params["neuron_radius"] == 3.0
    assert params["seeds"] == "anatomy+activity" and params["refine"] == "full"
    assert set(SegmentParameters.names()) <= set(params)
    # the plain per-parameter attributes are kept beside the JSON
    assert attrs["min_snr"] == 2.5 and attrs["patch_memory"] == 1 << 30


def test_named_measures_are_the_result_variables(seg):
    from neuronmf.imaging._assembly import NEURON_MEASURES

    for name, (dtype, tail) in NEURON_MEASURES.items():
        var = seg[name]
        assert var.dims[0] == "neuron" and var.shape[1:] == tail
        assert np.issubdtype(var.dtype, np.integer if dtype is int else np.floating)
    assert seg.sizes["neuron"] >= 3
    # each measure is the one its name says, recomputed from the result
    A = seg.footprints.values
    mask = A >= 0.2 * A.max(axis=(1, 2), keepdims=True)
    np.testing.assert_array_equal(seg.area.values, mask.sum((1, 2)))
    yy, xx = np.mgrid[: A.shape[1], : A.shape[2]]
    cy = (mask * yy).sum((1, 2)) / mask.sum((1, 2))
    cx = (mask * xx).sum((1, 2)) / mask.sum((1, 2))
    np.testing.assert_allclose(seg.centroid.values, np.c_[cy, cx])
    # neurons come ordered by decreasing SNR
    assert (np.diff(seg.snr.values) <= 0).all()
    np.testing.assert_allclose(
        seg.anatomy_score.values,
        nm.imaging.anatomy.anatomy_score(
            seg.soma_response.values, seg.activity_evidence.values, 0.0
        ),
    )
