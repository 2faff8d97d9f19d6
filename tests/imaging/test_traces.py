"""imaging.traces: neuropil annuli, coefficient, ΔF/F, spikes, NWB round trip."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from scipy.signal import lfilter

from neuronmf.errors import InputError
from neuronmf.imaging import _neuropil
from neuronmf.imaging.traces import TraceParameters, traces

RATE = 10.0


def _disc(ny, nx, cy, cx, r):
    yy, xx = np.mgrid[:ny, :nx]
    d2 = (yy - cy) ** 2 + (xx - cx) ** 2
    return np.exp(-d2 / (2 * (r / 1.5) ** 2)) * (d2 <= (1.5 * r) ** 2)


def _movie(alpha=0.6, T=600, seed=0, base=10.0, noise=0.2):
    """Cells with resting fluorescence ``base`` and calcium transients over a
    neuropil ``N_t`` that reaches cell pixels attenuated by ``alpha``."""
    rng = np.random.default_rng(seed)
    ny = nx = 64
    centres = [(16, 16), (16, 44), (44, 20), (46, 46)]
    A = np.stack([_disc(ny, nx, cy, cx, 4.0) for cy, cx in centres])
    S = rng.poisson(0.03, (len(A), T)).astype(float)
    C = lfilter([1.0], [1.0, -0.9], S, axis=1)
    N_t = 20.0 + 5.0 * np.sin(np.arange(T) / 15.0) + rng.normal(0, 1.0, T)
    m = np.where((A > 0).any(0), alpha, 1.0)
    Y = (
        50.0
        + N_t[:, None, None] * m[None]
        + np.einsum("kyx,kt->tyx", A, base * (1.0 + C))
    )
    Y = Y + rng.normal(0, noise, Y.shape)
    mov = xr.DataArray(
        Y.astype(np.float32),
        dims=("time", "y", "x"),
        coords={"time": np.arange(T) / RATE},
        attrs={"rate": RATE},
    )
    seg = xr.Dataset(
        {"footprints": (("neuron", "y", "x"), A)},
        attrs={"neuron_radius": 4.0, "neuronmf_kind": "segmentation"},
    )
    return mov, seg, C, S


def test_annulus_excludes_cells_and_gap():
    _, seg, _, _ = _movie(T=20)
    A = seg["footprints"].values
    masks = _neuropil.cell_masks(A, 0.2)
    W, counts, radii = _neuropil.annulus_weights(masks, 2.0, 10.0, 50)
    W = W.toarray()
    any_cell = masks.any(0).ravel()
    from scipy import ndimage

    for i in range(len(A)):
        px = W[:, i] > 0
        assert counts[i] == px.sum() >= 50
        assert not (px & any_cell).any()  # no pixel of any cell
        d = ndimage.distance_transform_edt(~masks[i]).ravel()[px]
        assert d.min() > 2.0 and d.max() <= radii[i]
        np.testing.assert_allclose(W[px, i], 1.0 / counts[i])
    # the annulus grows until it has enough pixels
    _, counts2, radii2 = _neuropil.annulus_weights(masks, 2.0, 3.0, 200)
    assert (counts2 >= 200).all() and (radii2 > 3.0).all()


def test_fixed_coefficient_and_dff():
    mov, seg, C, _ = _movie(alpha=0.7)
    out = traces(seg, mov, neuropil="fixed")
    F, N, Fc = (out[k].values for k in ("raw_fluorescence", "neuropil", "fluorescence"))
    np.testing.assert_allclose(Fc, F - 0.7 * N)
    np.testing.assert_allclose(out["neuropil_coefficient"], 0.7)
    # with the true coefficient the neuropil is gone: ΔF/F follows the calcium
    for i in range(len(C)):
        assert np.corrcoef(out["dff"].values[i], C[i])[0, 1] > 0.95
        assert np.corrcoef(F[i], C[i])[0, 1] < np.corrcoef(Fc[i], C[i])[0, 1]
    # ΔF/F is relative to the resting fluorescence: its running 8th percentile ≈ 0
    assert abs(np.percentile(out["dff"].values, 8)) < 0.05
    assert out["dff_valid"].all()


def test_correction_removes_shared_neuropil_correlation():
    """Independent cells under one neuropil: correlated raw, uncorrelated corrected."""
    mov, seg, C, _ = _movie(alpha=0.6, T=800, seed=5)
    out = traces(seg, mov, neuropil="estimate", spikes=False)
    iu = np.triu_indices(4, 1)
    raw = np.corrcoef(out["raw_fluorescence"].values)[iu]
    corrected = np.corrcoef(out["fluorescence"].values)[iu]
    calcium = np.corrcoef(C)[iu]  # chance correlations of the independent cells
    assert np.median(raw - calcium) > 0.3
    np.testing.assert_allclose(corrected, calcium, atol=0.05)


def test_estimated_coefficient_recovers_truth():
    mov, seg, _, _ = _movie(alpha=0.6)
    out = traces(seg, mov, neuropil="estimate", spikes=False)
    alpha = out["neuropil_coefficient"].values
    np.testing.assert_allclose(alpha, 0.6, atol=0.08)  # transients bias it a little
    assert abs(alpha.mean() - 0.6) < 0.03
    assert "spikes" not in out


def test_spikes_follow_truth_and_input_untouched():
    mov, seg, _, S = _movie(alpha=0.7)
    before_mov, before_seg = mov.copy(deep=True), seg.copy(deep=True)
    out = traces(seg, mov)
    xr.testing.assert_identical(mov, before_mov)
    xr.testing.assert_identical(seg, before_seg)
    for i in range(len(S)):
        s, t = out["spikes"].values[i], S[i]
        k = 4
        a = s[: len(s) // k * k].reshape(-1, k).sum(1)
        b = t[: len(t) // k * k].reshape(-1, k).sum(1)
        assert np.corrcoef(a, b)[0, 1] > 0.8
    assert out.attrs["neuronmf_kind"] == "segmentation"
    assert '"neuropil": "fixed"' in out.attrs["traces_params"]
    assert out["spike_g2"].values.tolist() == [0.0] * 4


def test_lazy_movie_equals_in_memory():
    da = pytest.importorskip("dask.array")
    mov, seg, _, _ = _movie(T=200)
    lazy = mov.copy(data=da.from_array(mov.values, chunks=(37, 64, 64)))
    a = traces(seg, mov, spikes=False)
    b = traces(seg, lazy, spikes=False)
    np.testing.assert_allclose(a["fluorescence"], b["fluorescence"], rtol=1e-10)


def test_nonpositive_baseline_is_nan_with_warning():
    mov, seg, _, _ = _movie(alpha=0.6, base=1.0)
    with pytest.warns(UserWarning, match="baseline F0 ≤ 0"):
        out = traces(seg, mov, neuropil_coefficient=2.0)
    assert not out["dff_valid"].any()
    assert np.isnan(out["dff"]).all() and np.isnan(out["spikes"]).all()


def test_null_movie_gives_almost_no_spikes():
    """Noise only (no transients, no neuropil change): (almost) no spikes."""
    rng = np.random.default_rng(3)
    _, seg, _, _ = _movie(T=20)
    Y = 100.0 + rng.normal(0, 2.0, (1000, 64, 64))
    mov = xr.DataArray(Y, dims=("time", "y", "x"), attrs={"rate": RATE})
    out = traces(seg, mov)
    s = out["spikes"].values
    assert (s > 0).mean() < 0.02
    assert (s.max(1) < 3 * out["spike_noise"].values).all()


def test_nwb_round_trip(tmp_path):
    from neuronmf.io import load_result, save_nwb

    mov, seg, _, _ = _movie(T=100)
    seg = seg.assign(traces=(("neuron", "time"), np.ones((4, 100))))
    seg = seg.assign_coords(time=mov["time"].values)
    out = traces(seg, mov)
    path = tmp_path / "seg.nwb"
    save_nwb(out, path)
    back = load_result(path)
    for k in ("fluorescence", "raw_fluorescence", "neuropil", "denoised", "spikes"):
        np.testing.assert_allclose(back[k].values, out[k].values, rtol=1e-12)
    np.testing.assert_allclose(back["dff"].values, out["dff"].values)
    np.testing.assert_allclose(back["spike_lambda"], out["spike_lambda"])
    import pynwb

    with pynwb.NWBHDF5IO(str(path), "r") as io:
        ophys = io.read().processing["ophys"]
        names = set(ophys["Fluorescence"].roi_response_series)
        assert {"PlaneSegmentationDeconvolved", "PlaneSegmentationNeuropil"} <= names
        assert "DfOverF" in ophys.data_interfaces


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"neuropil": "auto"}, "neuropil must be 'fixed', 'estimate' or 'none'"),
        ({"model": "ar3"}, "model must be"),
        ({"spikes": "yes"}, "spikes must be True or False"),
        ({"inner_gap": -1.0}, "inner_gap must be"),
        ({"dff_window": 0.0}, "dff_window must be a positive number"),
        ({"neuropil_coefficient": 3.0}, "neuropil_coefficient must be"),
        ({"min_snr": 2.0}, "options must be among"),
        ({"rate": -1.0}, "rate must be"),
    ],
)
def test_bad_options_refused(kwargs, match):
    mov, seg, _, _ = _movie(T=40)
    with pytest.raises(InputError, match=match):
        traces(seg, mov, **kwargs)


def test_bad_inputs_refused():
    mov, seg, _, _ = _movie(T=40)
    with pytest.raises(InputError, match="frames of the segmentation's field"):
        traces(seg, mov[:, :32, :32])
    with pytest.raises(InputError, match="seg must be a segmentation Dataset"):
        traces(seg["footprints"], mov)
    with pytest.raises(InputError, match=r"seg\['footprints'\] must be non-negative"):
        traces(seg.assign(footprints=-seg["footprints"]), mov)
    masks = traces(seg.assign(footprints=seg["footprints"] > 0.2), mov, spikes=False)
    assert masks["dff_valid"].all()  # boolean masks are footprints of weight 1
    bare = xr.DataArray(mov.values, dims=("time", "y", "x"))
    with pytest.raises(InputError, match="rate must be given"):
        traces(seg, bare)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert TraceParameters.from_radius(4.0).outer_radius == 10.0
