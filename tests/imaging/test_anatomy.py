"""Anatomical candidates: ring and disc templates, noise, activity evidence, discs."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import ndimage

import neuronmf as nm
from neuronmf.errors import InputError
from neuronmf.imaging.anatomy import (
    activity_evidence,
    anatomy_score,
    disc_footprints,
    disc_template,
    normalise_contrast,
    ring_response,
    ring_template,
    soma_candidates,
    template_snr,
)

THRESHOLD = nm.imaging.default_parameters(4.0)["anatomy_threshold"]


def _ring(shape, cy, cx, r):
    y, x = np.mgrid[: shape[0], : shape[1]]
    d = np.hypot(y - cy, x - cx)
    return ((d >= 0.7 * r) & (d <= 1.2 * r)).astype(float) - 0.3 * (d < 0.5 * r)


RINGS = [(20, 20), (20, 70), (50, 45), (75, 20), (75, 72)]
DOTS = [(35, 30), (35, 60), (60, 85), (88, 45)]


@pytest.fixture(scope="module")
def mean_image():
    """A textured, shaded mean image with planted rings and very bright 1-px dots."""
    rng = np.random.default_rng(0)
    n = 96
    _, x = np.mgrid[:n, :n]
    img = (
        100
        + 20 * np.sin(x / 30.0)
        + rng.normal(0, 1.0, (n, n))
        + ndimage.gaussian_filter(rng.normal(0, 20, (n, n)), 3)
    )
    for cy, cx in RINGS:
        img += 12 * _ring((n, n), cy, cx, 4.0)
    for cy, cx in DOTS:
        img[cy, cx] += 200
    return img


def test_soma_candidates_find_planted_rings(mean_image):
    peaks, resp, image = soma_candidates(mean_image, 4.0)
    assert image.shape == mean_image.shape
    assert np.all(np.diff(resp) <= 0)  # strongest first
    for cy, cx in RINGS:
        d = np.hypot(*(peaks - [cy, cx]).T)
        i = int(np.argmin(d))
        assert d[i] <= 1.0, (cy, cx, peaks[i])
        assert resp[i] >= THRESHOLD
    # the planted rings are the five strongest candidates
    top = {tuple(p) for p in peaks[:5].tolist()}
    assert top == set(RINGS)


BLOBS = [(47, 118), (88, 128)]  # clear of the mirrored rings and dots


def test_filled_somata_are_candidates_and_rings_keep_their_rank(mean_image):
    """A filled blob is found by the disc template; the ring alone misses it."""
    n = mean_image.shape[0]
    img = np.pad(mean_image, ((0, 0), (0, 40)), mode="reflect")
    y, x = np.mgrid[:n, : n + 40]
    for cy, cx in BLOBS:
        img += 25 * (np.hypot(y - cy, x - cx) <= 3.5)
    peaks, _, _ = soma_candidates(img, 4.0, min_response=THRESHOLD)
    ring = ring_response(img, 4.0)
    for cy, cx in BLOBS:
        d = np.hypot(*(peaks - [cy, cx]).T)
        assert d.min() <= 1.0, (cy, cx)
        assert ring[cy, cx] < THRESHOLD  # the ring template alone misses it
    for cy, cx in RINGS:
        assert np.hypot(*(peaks - [cy, cx]).T).min() <= 1.0


def test_disc_template():
    t = disc_template(5.0)
    assert t.shape == (21, 21) and abs(t.sum()) < 1e-12
    assert t[10, 10] > 0 and t[10, 10 + 4] > 0 and t[10, 10 + 8] < 0


def test_pure_noise_gives_no_candidates_with_the_noise_image():
    """Null data: the contrast normalisation turns noise into unit-contrast
    texture, so the contrast threshold alone passes many candidates; the
    template SNR against the half-difference image passes none."""
    rng = np.random.default_rng(3)
    frames = 100 + rng.normal(size=(400, 128, 128))
    T = len(frames)
    mean = frames.mean(0)
    half_difference = (frames[0::2].sum(0) - frames[1::2].sum(0)) / T
    snr = template_snr(mean, half_difference, 4.0)
    assert 0.7 < snr.std() < 1.3 and abs(snr.mean()) < 0.3
    contrast_only, _, _ = soma_candidates(mean, 4.0, min_response=THRESHOLD)
    assert len(contrast_only) > 20
    peaks, _, _ = soma_candidates(
        mean, 4.0, min_response=THRESHOLD, noise_image=half_difference, min_snr=6.0
    )
    assert len(peaks) == 0
    # a faint ring (half the frames' noise SD, 10 × the mean's) is found
    y, x = np.mgrid[:128, :128]
    ring = (np.abs(np.hypot(y - 60, x - 60) - 3.8) < 1.0).astype(float)
    peaks, _, _ = soma_candidates(
        mean + 0.5 * ring,
        4.0,
        min_response=THRESHOLD,
        noise_image=half_difference,
        min_snr=6.0,
    )
    assert peaks[0].tolist() == [60, 60]  # the planted ring, and its side lobes
    assert (np.hypot(*(peaks - [60, 60]).T) <= 2 * 4.0).all()


def test_bright_dots_make_no_rings(mean_image):
    """A 1-px speck must not seed ring candidates around it (the ±2 clip)."""
    peaks, resp, _ = soma_candidates(mean_image, 4.0, min_response=THRESHOLD / 2)
    for cy, cx in DOTS:
        d = np.hypot(*(peaks - [cy, cx]).T)
        assert not (d <= 8.0).any(), (cy, cx, peaks[d <= 8.0], resp[d <= 8.0])


def test_candidates_are_separated(mean_image):
    peaks, _, _ = soma_candidates(mean_image, 4.0, min_response=-np.inf)
    d = np.hypot(*(peaks[:, None, :] - peaks[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 1.5 * 4.0


def test_template_and_normalisation():
    t = ring_template(5.0)
    assert t.shape == (21, 21)
    assert abs(t.sum()) < 1e-12
    assert t[10, 10] < 0 and t[10, 10 + 5] > 0 and t[10, 10 + 9] < 0
    rng = np.random.default_rng(1)
    img = rng.normal(size=(80, 80)) * np.linspace(1, 50, 80)[None, :] + 1000
    z = normalise_contrast(img, 3.0)
    # the contrast is equalised across the 50-fold gain ramp
    left, right = z[:, 10:30].std(), z[:, 50:70].std()
    assert 0.7 < left / right < 1.4
    assert np.all(normalise_contrast(np.full((30, 30), 7.0), 3.0) == 0)


def test_activity_evidence_and_score():
    rng = np.random.default_rng(2)
    R = rng.normal(size=(150, 40, 40))
    R[60:64, 18:23, 18:23] += 2.0  # a transient under one disc only
    R[:, 0:40, 0:40] += rng.normal(size=(150, 1, 1)) * 0.5  # shared neuropil
    ev = activity_evidence(R, [[20, 20], [8, 30]], 3.0)
    assert ev[0] > 6 and ev[1] < 5
    assert activity_evidence(np.ones((20, 10, 10)), [[5, 5]], 2.0)[0] == 0
    np.testing.assert_allclose(anatomy_score([0.5, 1.0], ev, 0.0), [0.5, 1.0])
    np.testing.assert_allclose(anatomy_score([0.5, 1.0], [2, 4], 0.1), [0.7, 1.4])


def test_disc_footprints():
    A = disc_footprints([[5, 5], [0, 0]], (12, 12), 3.0)
    np.testing.assert_allclose(np.linalg.norm(A.reshape(2, -1), axis=1), 1.0)
    assert (A[0] > 0).sum() == 29  # the lattice points within 3 px
    assert (A[1] > 0).sum() == 11  # clipped at the corner


def test_bad_inputs():
    with pytest.raises(InputError, match="neuron_radius"):
        ring_template(0.0)
    with pytest.raises(InputError, match="neuron_radius"):
        ring_template(0.2)
    with pytest.raises(InputError, match="neuron_radius"):
        normalise_contrast(np.zeros((10, 10)), "five")
    with pytest.raises(InputError, match="2-D"):
        normalise_contrast(np.zeros((3, 10, 10)), 2.0)
    with pytest.raises(InputError, match="finite"):
        normalise_contrast(np.full((10, 10), np.nan), 2.0)
    with pytest.raises(InputError, match="3-D"):
        activity_evidence(np.zeros((10, 10)), [[1, 1]], 2.0)


# --------------------------------------------------------------- inside segment
@pytest.fixture(scope="module")
def quiet_rings():
    """A simulated movie plus five *silent* ring-shaped cells (constant in time)."""
    sim = nm.datasets.simulate_movie((96, 96), 200, 8, 4.0, seed=5, dtype="float32")
    rng = np.random.default_rng(3)
    centres = []
    truth = sim.truth["masks"].values
    while len(centres) < 5:
        c = rng.integers(10, 86, 2)
        far_truth = all(np.hypot(*(np.argwhere(m).mean(0) - c)) > 12 for m in truth)
        if far_truth and all(np.hypot(*(c - o)) > 12 for o in centres):
            centres.append(c)
    static = sum(_ring((96, 96), cy, cx, 4.0) for cy, cx in centres)
    data = sim.data + 40.0 * static[None]
    y, x = np.mgrid[:96, :96]
    rings = np.array([np.hypot(y - cy, x - cx) <= 4.0 for cy, cx in centres])
    return sim, data, np.array(centres), rings


def test_segment_finds_quiet_ring_cells(quiet_rings):
    sim, data, _centres, rings = quiet_rings
    seg = nm.imaging.segment(data, neuron_radius=4.0)
    assert seg.attrs["seeds"] == "anatomy+activity"
    origin = seg.origin.values
    assert set(origin) <= {"activity", "anatomy"}
    anat = seg.footprints.values[origin == "anatomy"]
    # every silent ring is found, anatomically, although its trace is flat
    s = nm.imaging.score(anat, rings)
    assert s["recall"] == 1.0, s
    assert s["precision"] >= 0.8, s
    # the active neurons are still found by activity
    act = seg.footprints.values[origin == "activity"]
    assert nm.imaging.score(act, sim.truth)["f1"] >= 0.9
    # anatomy scores: recorded for every neuron; the anatomical ones pass
    assert np.isfinite(seg.anatomy_score.values).all()
    assert (seg.anatomy_score.values[origin == "anatomy"] >= THRESHOLD).all()
    assert seg.attrs["n_anatomy"] == int((origin == "anatomy").sum())
    assert "rejected_origin" in seg


def test_anatomical_neurons_are_not_judged_on_activity(quiet_rings):
    _sim, data, _centres, rings = quiet_rings
    seg = nm.imaging.segment(data, neuron_radius=4.0, min_snr=1e6)
    assert (seg.origin.values == "anatomy").all()
    assert nm.imaging.score(seg, rings)["recall"] == 1.0
    assert seg.sizes["rejected"] >= 6
    assert (seg.rejected_origin.values == "activity").all()
    assert all("snr" in why for why in seg.rejected_reason.values)


def test_segment_activity_only_misses_quiet_rings(quiet_rings):
    _sim, data, _centres, rings = quiet_rings
    seg = nm.imaging.segment(data, neuron_radius=4.0, seeds="activity")
    assert (seg.origin.values == "activity").all()
    assert nm.imaging.score(seg, rings)["n_matched"] == 0
    only = nm.imaging.segment(data, neuron_radius=4.0, seeds="anatomy")
    assert (only.origin.values == "anatomy").all()
    assert nm.imaging.score(only, rings)["recall"] == 1.0


def test_segment_anatomy_parameters(quiet_rings):
    _sim, data, _c, _rings = quiet_rings
    off = nm.imaging.segment(data, neuron_radius=4.0, anatomy_threshold=10.0)
    assert (off.origin.values == "activity").all()
    with pytest.raises(InputError, match="seeds"):
        nm.imaging.segment(data, neuron_radius=4.0, seeds="rings")
    with pytest.raises(InputError, match="anatomy_threshold"):
        nm.imaging.segment(data, neuron_radius=4.0, anatomy_threshold=np.nan)
    with pytest.raises(InputError, match="anatomy_threshold"):
        nm.imaging.segment(data, neuron_radius=4.0, anatomy_threshold="high")
    with pytest.raises(InputError, match="anatomy_activity_weight"):
        nm.imaging.segment(data, neuron_radius=4.0, anatomy_activity_weight=-0.1)


def test_segment_netcdf_keeps_origin(quiet_rings, tmp_path):
    _sim, data, _c, _rings = quiet_rings
    seg = nm.imaging.segment(xr.DataArray(data.values[:60]), neuron_radius=4.0)
    seg.to_netcdf(tmp_path / "s.nc")
    back = xr.load_dataset(tmp_path / "s.nc")
    assert list(back.origin.values) == list(seg.origin.values)
