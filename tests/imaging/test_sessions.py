"""Cross-session matching (imaging.match_sessions) and simulate_movie(n_sessions=)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.ndimage import fourier_shift, gaussian_filter

from neuronmf.datasets import simulate_movie
from neuronmf.errors import InputError
from neuronmf.imaging import match_sessions, score, segment
from neuronmf.imaging._sessions_register import phase_correlation, prepare_image
from neuronmf.imaging.sessions import align_footprints, score_matching

DRIFT = {"shift": 6.0, "deformation": 1.0, "turnover": 0.2, "brightness": 0.3}


@pytest.fixture(scope="module")
def sessions():
    return simulate_movie(
        (96, 96), 40, 30, 4.0, n_sessions=3, session_drift=DRIFT, seed=3
    )


# --- the simulator --------------------------------------------------------------


def test_simulated_sessions_share_one_field(sessions):
    assert isinstance(sessions, list) and len(sessions) == 3
    table = sessions[0].truth["identities"].values
    assert table.shape[1] == 3
    assert (table == -1).any()  # some cells are missing from some session
    for s, sim in enumerate(sessions):
        ids = sim.truth["cell_id"].values
        assert sim.truth.sizes["neuron"] == len(ids) == (table[:, s] >= 0).sum()
        np.testing.assert_array_equal(table[ids, s], np.arange(len(ids)))
        np.testing.assert_array_equal(sim.truth["identities"].values, table)
    np.testing.assert_array_equal(sessions[0].truth["rigid_shift"].values, 0.0)
    # a cell's centre moves by the session's displacement at its reference centre
    ref = sessions[0].truth
    sim = sessions[1].truth
    shift = sim["rigid_shift"].values
    assert np.abs(shift).max() > 0.5
    common = np.intersect1d(ref["cell_id"].values, sim["cell_id"].values)
    for c in common[:5]:
        p = ref["centres"].values[np.nonzero(ref["cell_id"].values == c)[0][0]]
        q = sim["centres"].values[np.nonzero(sim["cell_id"].values == c)[0][0]]
        disp = sim["displacement"].values[:, round(p[0]), round(p[1])]
        np.testing.assert_allclose(q, p + disp, atol=0.3)


def test_one_session_is_the_unchanged_default():
    a = simulate_movie((32, 32), 20, 4, 3.0, seed=5)
    b = simulate_movie((32, 32), 20, 4, 3.0, seed=5, n_sessions=1)
    np.testing.assert_array_equal(a.data.values, b.data.values)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_sessions": 0}, "n_sessions must be an integer >= 1"),
        ({"n_sessions": 2.0}, "n_sessions must be an integer"),
        ({"session_drift": {"shift": 2}}, "session_drift must be None with"),
        ({"n_sessions": 2, "session_drift": {"shfit": 2}}, "keys among"),
        ({"n_sessions": 2, "session_drift": {"turnover": 1.0}}, r"\[0, 1\)"),
        ({"n_sessions": 2, "motion": {"rigid": 2}}, "motion must be off"),
    ],
)
def test_simulator_refuses_bad_session_options(kwargs, match):
    with pytest.raises(InputError, match=match):
        simulate_movie((32, 32), 10, 3, 3.0, **kwargs)


# --- registration ------------------------------------------------------------------


def test_phase_correlation_is_subpixel():
    rng = np.random.default_rng(0)
    ref = gaussian_filter(rng.standard_normal((64, 64)), 2.0)
    img = np.fft.ifftn(fourier_shift(np.fft.fftn(ref), (2.3, -4.6))).real
    shift, strength = phase_correlation(ref, img)
    np.testing.assert_allclose(shift, [2.3, -4.6], atol=0.06)
    assert strength > 10
    other = gaussian_filter(rng.standard_normal((64, 64)), 2.0)
    _, noise = phase_correlation(prepare_image(ref, 2.0), prepare_image(other, 2.0))
    assert noise < 6  # unrelated images: below min_registration_strength (8)


def test_phase_correlation_is_movie_registrations(monkeypatch):
    """One phase correlation: session matching calls _register_phase's peak
    search and subpixel refinement, once for all the patches of a field."""
    from neuronmf.imaging import _register_phase as ph
    from neuronmf.imaging import _sessions_register as sr

    calls = []

    def spy(name):
        real = getattr(ph, name)

        def wrapped(*args, **kwargs):
            calls.append((name, args[0].shape))
            return real(*args, **kwargs)

        monkeypatch.setattr(ph, name, wrapped)

    for name in ("integer_peak", "dft_refine"):
        spy(name)
    rng = np.random.default_rng(1)
    ref = prepare_image(gaussian_filter(rng.standard_normal((96, 96)), 1.5), 2.0)
    img = np.roll(ref, (2, -3), axis=(0, 1))
    shift, _ = phase_correlation(ref, img, max_shift=10)
    np.testing.assert_allclose(shift, [2, -3], atol=0.1)
    assert [c[0] for c in calls] == ["integer_peak", "dft_refine"]
    calls.clear()
    field = sr.piecewise_field(ref, ref, patch=48, max_shift=6, smooth=12)
    assert field.shape == (2, 96, 96) and np.abs(field).max() < 0.1
    assert [c[0] for c in calls] == ["integer_peak", "dft_refine"]
    assert calls[0][1][0] == 9  # 3 × 3 patches in one batch
    assert not hasattr(sr, "_upsampled_peak")  # the duplicate is gone


# --- matching ------------------------------------------------------------------------


def test_truth_footprints_are_matched_across_drifting_sessions(sessions):
    means = [s.data.mean("time").values for s in sessions]
    feet = [s.truth["footprints"] for s in sessions]
    copies = [f.values.copy() for f in feet]
    out = match_sessions(feet, mean_images=means)
    truth = sessions[0].truth["identities"].values
    sc = score_matching(out, truth)
    assert sc["precision"] >= 0.95 and sc["recall"] >= 0.95, sc
    true_shift = np.array([s.truth["rigid_shift"].values for s in sessions])
    assert np.abs(out["rigid_shift"].values - true_shift).max() < 0.5
    assert out.attrs["neuronmf_kind"] == "session_matching"
    assert out.attrs["method"] == "cluster" and out.attrs["seed"] == "none"
    assert out["neuron"].dims == ("cell", "session")
    p = out["pair_p_same"].values
    assert ((p >= 0) & (p <= 1)).all()
    assert out["registered"].values.all()
    for f, c in zip(feet, copies, strict=True):  # inputs untouched
        np.testing.assert_array_equal(f.values, c)
    # the aligned footprints of a session sit on the reference's
    aligned = align_footprints(feet[1], out, 1)
    assert aligned.shape == feet[1].shape


def test_two_sessions_use_the_optimal_assignment_and_round_trip(tmp_path, sessions):
    from neuronmf.io import load_result, save_netcdf, save_nwb

    feet = [s.truth["footprints"].values for s in sessions[:2]]
    out = match_sessions(feet, nonrigid=True, model="joint")
    assert out.attrs["method"] == "reference"
    assert "displacement" in out
    table = sessions[0].truth["identities"].values[:, :2]
    sc = score_matching(out, table)
    assert sc["precision"] >= 0.95 and sc["recall"] >= 0.9, sc
    for path in (
        save_netcdf(out, tmp_path / "m.nc"),
        save_nwb(out, tmp_path / "m.nwb"),
    ):
        back = load_result(path)
        np.testing.assert_array_equal(back["neuron"].values, out["neuron"].values)
        assert back.attrs["neuronmf_kind"] == "session_matching"


def test_sessions_with_no_cell_in_common_give_almost_no_matches():
    a = simulate_movie((128, 128), 10, 40, 4.0, seed=11).truth["footprints"]
    b = simulate_movie((128, 128), 10, 40, 4.0, seed=12).truth["footprints"]
    with pytest.warns(UserWarning, match="does not register"):
        out = match_sessions([a, b])
    matched = int((out["neuron"] >= 0).all("session").sum())
    assert matched <= 0.1 * len(a), matched
    assert int((out["pair_p_same"] > 0.9).sum()) <= 2
    # the same field matched with itself, for contrast
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = match_sessions([a, a])
    assert int((same["neuron"] >= 0).all("session").sum()) == len(a)


def test_end_to_end_from_segment():
    sims = simulate_movie(
        (64, 64), 200, 14, 4.0, n_sessions=2, seed=2,
        session_drift={"shift": 4.0, "deformation": 0.5, "turnover": 0.1},
    )  # fmt: skip
    segs = [segment(s.data, neuron_radius=4.0) for s in sims]
    out = match_sessions(segs)  # registered on the segmentations' mean_image
    assert out.attrs["register_on"] == "mean_image"
    np.testing.assert_allclose(
        out["mean_image"].values[0], sims[0].data.mean("time").values, rtol=1e-5
    )
    # the truth identity table in the indices of the detected neurons
    ident = sims[0].truth["identities"].values
    table = np.full(ident.shape, -1)
    for s, (sim, seg) in enumerate(zip(sims, segs, strict=True)):
        found = {t: f for f, t in score(seg, sim.truth["footprints"])["matches"]}
        for c in np.nonzero(ident[:, s] >= 0)[0]:
            table[c, s] = found.get(int(ident[c, s]), -1)
    sc = score_matching(out, table)
    assert sc["n_true_pairs"] >= 8
    assert sc["precision"] >= 0.95 and sc["recall"] >= 0.95, sc


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda a, b: match_sessions([a]), "at least 2 sessions"),
        (lambda a, b: match_sessions(a), "a list of segmentations"),
        (lambda a, b: match_sessions([a, b[:, :40]]), r"field of view \(48, 48\)"),
        (lambda a, b: match_sessions([a, b[0]]), "3-D"),
        (lambda a, b: match_sessions([a, -b]), "non-negative"),
        (lambda a, b: match_sessions([a, b], reference=2), r"in \[0, 1\]"),
        (
            lambda a, b: match_sessions([a, b], threshold=1.0),
            r"probability in \(0, 1\)",
        ),
        (lambda a, b: match_sessions([a, b], method="hungarian"), "method must be"),
        (lambda a, b: match_sessions([a, b], model="both"), "model must be"),
        (lambda a, b: match_sessions([a, b], nonrigid="yes"), "nonrigid must be"),
        (lambda a, b: match_sessions([a, b], max_distance=-1), "max_distance must"),
        (lambda a, b: match_sessions([a, b], neuron_radius=30), "smaller than half"),
        (
            lambda a, b: match_sessions([a, b], register_on="mean_image"),
            "when a session has no mean image",
        ),
        (
            lambda a, b: match_sessions([a, b], mean_images=[np.zeros((48, 48))]),
            "one image per session",
        ),
    ],
)
def test_bad_input_is_refused(call, match):
    sims = simulate_movie((48, 48), 10, 6, 4.0, n_sessions=2, seed=0)
    a, b = (s.truth["footprints"].values for s in sims)
    with pytest.raises(InputError, match=match):
        call(a, b)


def test_plot_session_matching(sessions):
    import matplotlib

    matplotlib.use("Agg")
    from neuronmf.plotting.sessions import plot_session_matching

    feet = [s.truth["footprints"] for s in sessions]
    out = match_sessions(feet)
    fig = plot_session_matching(out, feet)
    assert len(fig.axes) >= 2
    assert "matched across 3 sessions" in fig.axes[0].get_title()


def test_a_session_without_neurons_leaves_every_cell_alone():
    a = simulate_movie((64, 64), 10, 15, 4.0, seed=0).truth["footprints"].values
    with pytest.warns(UserWarning):  # no registration, no pairs to fit
        out = match_sessions([a, np.zeros((0, 64, 64))])
    np.testing.assert_array_equal(out["neuron"].values[:, 0], np.arange(len(a)))
    assert (out["neuron"].values[:, 1] == -1).all()
    assert np.isnan(out["registration_correlation"].values[1])
