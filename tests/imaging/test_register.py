"""imaging.register: rigid and piecewise motion correction (issue 23, item 1)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr

from neuronmf.datasets import simulate_movie
from neuronmf.datasets._movie_motion import displacement
from neuronmf.errors import InputError
from neuronmf.imaging import register


def _rmse(est, true):
    d = np.asarray(est) - np.asarray(true)
    d = d - d.mean(axis=tuple(range(d.ndim - 1)))  # the template's position
    return float(np.sqrt((d**2).mean()))


@pytest.fixture(scope="module")
def rigid_sim():
    return simulate_movie((96, 96), 80, 24, seed=3, motion={"rigid": 6, "resting": 0.5})


@pytest.fixture(scope="module")
def rigid_reg(rigid_sim):
    return register(rigid_sim.data)


def test_rigid_shifts_recovered_to_subpixel(rigid_sim, rigid_reg):
    true = rigid_sim.truth["shifts"].values
    assert np.abs(true).max() > 3  # the movie really moves
    assert rigid_reg["shifts"].dims == ("time", "axis")
    assert _rmse(rigid_reg["shifts"], true) < 0.15
    assert (
        rigid_reg.attrs["crispness_after"] > 1.5 * rigid_reg.attrs["crispness_before"]
    )
    after = rigid_reg["correlation"].values
    before = rigid_reg["correlation_before"].values
    assert np.mean(after) > np.mean(before) + 0.1


def test_result_convention(rigid_sim, rigid_reg):
    reg = rigid_reg
    assert reg.attrs["neuronmf_kind"] == "registration"
    assert reg.attrs["seed"] == "none"
    assert reg["corrected"].shape == rigid_sim.data.shape
    assert reg["corrected"].dtype == np.float32
    np.testing.assert_array_equal(reg["time"], rigid_sim.data["time"])
    for v in ("template", "mean_before", "mean_after"):
        assert reg[v].dims == ("y", "x")


def test_subpixel_dft_beats_integer_peak(rigid_sim, rigid_reg):
    true = rigid_sim.truth["shifts"].values
    coarse = register(rigid_sim.data, subpixel="none", template=rigid_reg["template"])
    assert _rmse(rigid_reg["shifts"], true) < 0.5 * _rmse(coarse["shifts"], true)


def test_piecewise_follows_a_nonrigid_field():
    sim = simulate_movie(
        (96, 96), 60, 24, seed=4, motion={"rigid": 4, "nonrigid": 2, "resting": 0.5}
    )
    true = displacement(sim.truth)[:, 8:-8, 8:-8]
    pw = register(sim.data, method="piecewise", patch=40, overlap=20)
    assert pw["shifts"].dims == ("time", "patch_y", "patch_x", "axis")
    assert pw["rigid_shifts"].dims == ("time", "axis")
    from neuronmf.imaging._register_warp import PatchGrid

    g = PatchGrid((96, 96), 40, 20)
    est = np.stack([np.moveaxis(g.field(s), 0, -1) for s in pw["shifts"].values])
    rigid = np.broadcast_to(pw["rigid_shifts"].values[:, None, None], est.shape)
    err_pw = _rmse(est[:, 8:-8, 8:-8], true)
    err_rigid = _rmse(rigid[:, 8:-8, 8:-8], true)
    assert err_pw < 0.35
    assert err_pw < 0.7 * err_rigid


def _shifted_noisy(shifts, shape=(64, 64), noise=1.0, seed=0):
    """A smooth image moved by ``shifts`` (Fourier, exact) plus white noise."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    big = (shape[0] + 40, shape[1] + 40)
    img = ndimage.gaussian_filter(rng.normal(0, 20, big), 1.0)
    F = np.fft.fft2(img)
    fy = np.fft.fftfreq(img.shape[0])[:, None]
    fx = np.fft.fftfreq(img.shape[1])[None, :]
    frames = [
        np.fft.ifft2(F * np.exp(-2j * np.pi * (fy * sy + fx * sx))).real
        for sy, sx in shifts
    ]
    clean = np.stack(frames)[:, 20:-20, 20:-20]
    noisy = clean + rng.normal(0, noise, clean.shape)
    return img[20:-20, 20:-20], noisy.astype(np.float32)


def _neighbour_correlation(resid):
    z = (resid - resid.mean()) / resid.std()
    cy = (z[:, 1:] * z[:, :-1]).mean()
    cx = (z[:, :, 1:] * z[:, :, :-1]).mean()
    return float(cy), float(cx)


def test_fourier_interpolation_keeps_noise_white():
    # half-pixel shifts: a cubic kernel averages neighbours there, correlating
    # their noise (~0.38 per axis); the phase ramp is unitary
    shifts = np.random.default_rng(1).integers(-4, 5, (40, 2)) + 0.5
    template, mov = _shifted_noisy(shifts)
    out = {}
    for interp in ("fourier", "cubic"):
        kw = {} if interp == "fourier" else {"interpolation": interp}  # the default
        reg = register(mov, template=template, **kw)
        assert _rmse(reg["shifts"], shifts) < 0.05
        b = 8  # inside the band that shifts of <= 4.5 px fill from the edge
        resid = reg["corrected"].values[:, b:-b, b:-b] - template[b:-b, b:-b]
        out[interp] = (_neighbour_correlation(resid), resid.var())
    (cy, cx), var = out["fourier"]
    assert abs(cy) < 0.05 and abs(cx) < 0.05
    assert 0.9 < var < 1.15  # the noise variance (1) is kept
    (cy, cx), var = out["cubic"]
    assert cy > 0.25 and cx > 0.25 and var < 0.8
    # the default is recorded: fourier for rigid, cubic for piecewise
    rig = register(mov[:4], template=template)
    assert json.loads(rig.attrs["params"])["interpolation"] == "fourier"
    pw = register(mov[:4], template=template, method="piecewise", patch=32)
    assert json.loads(pw.attrs["params"])["interpolation"] == "cubic"


def test_fourier_shift_exact_inside_and_edge_filled_outside():
    from neuronmf.imaging._register_warp import shift_fourier

    rng = np.random.default_rng(2)
    frame = rng.normal(0, 1, (1, 40, 50)).astype(np.float32)
    frame[0, :, :5] += 30.0  # a bright left edge must not wrap to the right
    out = shift_fourier(frame, np.array([[3.0, -4.0]]))[0]
    # an integer shift is an exact translation inside the frame
    np.testing.assert_allclose(out[:37, 4:], frame[0, 3:, :46], atol=1e-4)
    # p + s beyond the frame: the edge pixel (clamped), not the opposite side
    below = np.broadcast_to(frame[0, -1, :46], (3, 46))
    np.testing.assert_allclose(out[37:, 4:], below, atol=1e-4)
    left = np.repeat(frame[0, 3:, :1], 4, axis=1)
    np.testing.assert_allclose(out[:37, :4], left, atol=1e-4)


def test_fourier_shift_does_not_ring_near_the_edges():
    # a smooth field with a strong gradient, known everywhere: edge padding would
    # leave a jump in the periodic extension (top against bottom) that the phase
    # ramp turns into ringing several pixels into the frame
    from neuronmf.imaging._register_warp import shift_fourier, shift_rigid

    rng = np.random.default_rng(0)
    fy, fx, ph = rng.uniform(-0.2, 0.2, (3, 30))
    ph *= 20

    def f(y, x):
        waves = np.sin(2 * np.pi * (fy * y[..., None] + fx * x[..., None]) + ph)
        return 0.5 * y + 2 * waves.sum(-1)

    yy, xx = np.mgrid[0:100, 0:100].astype(float)
    frame = f(yy, xx).astype(np.float32)[None]
    truth = f(yy + 0.5, xx + 0.5)
    four = np.abs(shift_fourier(frame, np.array([[0.5, 0.5]]))[0] - truth)
    cubic = np.abs(shift_rigid(frame[0], (0.5, 0.5), 3) - truth)
    band = (slice(4, 16), slice(10, -10))  # rows 4-15 from the top edge
    assert four[band].mean() < 0.8 * cubic[band].mean()


def test_shifts_on_the_search_limit_are_flagged():
    # neurons dark between transients (no "resting"): frames of 48 x 48 px hold
    # one or two active cells, which match the wrong cell of the template, up
    # to the ±10 px search limit (shift RMSE ~5 px against 3 px of motion)
    sparse = simulate_movie((48, 48), 100, 8, 4.0, seed=3, motion={"rigid": 3})
    with pytest.warns(RuntimeWarning, match="limit of the search"):
        reg = register(sparse.data)
    assert reg.attrs["frames_at_max_shift"] >= 10
    # the same field with the cells visible at rest registers to subpixel
    sim = simulate_movie(
        (48, 48), 100, 8, 4.0, seed=3, motion={"rigid": 3, "resting": 0.5}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        reg = register(sim.data)
    assert reg.attrs["frames_at_max_shift"] == 0
    assert _rmse(reg["shifts"], sim.truth["shifts"].values) < 0.2


def test_still_movie_gives_no_shift():
    sim = simulate_movie((64, 64), 40, 12, seed=5, motion={"resting": 0.5})
    reg = register(sim.data)
    assert np.abs(reg["shifts"].values).max() < 0.3


def test_structureless_movie_correlates_with_nothing():
    noise = np.random.default_rng(0).normal(100, 10, (30, 48, 48)).astype(np.float32)
    with pytest.warns(RuntimeWarning, match="no structure to register to"):
        reg = register(noise)
    assert np.nanmean(reg["correlation"].values) < 0.3


@pytest.mark.parametrize("method", ["rigid", "piecewise"])
def test_pure_noise_is_not_moved(method):
    """Null data: a template refined on noise finds 'structure' in it (each
    frame moved to where its noise best matches the average): on white noise
    the shifts reached the search limit (median 8 px, 128 px field) and the
    command then found neurons in the invented mean image. Templates built
    from the first and the second half apart do not agree on noise, so no frame
    is moved."""
    noise = np.random.default_rng(1).normal(1000, 30, (120, 96, 96))
    with pytest.warns(RuntimeWarning, match="correlate 0.0"):
        reg = register(noise.astype(np.float32), method=method)
    assert reg.attrs["structureless"] == 1 and reg.attrs["split_agreement"] < 0.1
    assert np.all(reg["shifts"].values == 0)
    np.testing.assert_allclose(reg["corrected"].values, noise, rtol=1e-6)
    assert noise.dtype == np.float64  # the input is untouched


def test_noise_correlated_in_time_is_not_moved():
    """Templates from even and odd frames share noise correlated in time (they
    agreed 0.83-1.00 on AR(1) noise, phi 0.9-0.95); the two halves do not."""
    rng = np.random.default_rng(3)
    e = rng.normal(size=(200, 64, 64))
    x = np.empty_like(e)
    x[0] = e[0]
    for t in range(1, len(e)):
        x[t] = 0.95 * x[t - 1] + np.sqrt(1 - 0.95**2) * e[t]
    with pytest.warns(RuntimeWarning, match="no structure to register to"):
        reg = register((100 + 10 * x).astype(np.float32))
    assert reg.attrs["split_agreement"] < 0.15
    assert np.all(reg["shifts"].values == 0)


def test_real_structure_is_registered_and_a_given_template_is_trusted(rigid_sim):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        reg = register(rigid_sim.data)
    assert reg.attrs["structureless"] == 0 and reg.attrs["split_agreement"] > 0.6
    given = register(rigid_sim.data, template=reg["template"].values)
    assert np.isnan(given.attrs["split_agreement"])
    assert given.attrs["structureless"] == 0


def test_bidirectional_offset_is_found_and_removed():
    sim = simulate_movie((64, 64), 40, 14, seed=6, motion={"resting": 0.5})
    mov = sim.data.values.astype(np.float32)
    mov[:, 1::2] = np.roll(mov[:, 1::2], 2, axis=2)  # odd rows 2 px to the right
    reg = register(mov, bidi=True)
    assert abs(reg.attrs["bidi_offset"] - 2.0) < 0.15
    plain = register(mov)
    clean = sim.data.values.mean(axis=0)[4:-4, 4:-4]

    def err(r):
        return np.abs(r["mean_after"].values[4:-4, 4:-4] - clean).mean()

    assert err(reg) < 0.5 * err(plain)


def test_out_file_lazy_and_equal(tmp_path, rigid_sim, rigid_reg):
    path = tmp_path / "reg.h5"
    reg = register(rigid_sim.data, out=path, template=rigid_reg["template"])
    assert path.is_file()
    assert hasattr(reg["corrected"].data, "dask")
    mem = register(rigid_sim.data, template=rigid_reg["template"])
    np.testing.assert_allclose(reg["corrected"].values, mem["corrected"].values)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reg.h5"]


def test_dask_input_chunked_like_memory(rigid_sim, rigid_reg):
    lazy = rigid_sim.data.chunk({"time": 16})
    before = rigid_sim.data.values.copy()
    reg = register(lazy, template=rigid_reg["template"], chunk_frames=7)
    mem = register(rigid_sim.data, template=rigid_reg["template"])
    np.testing.assert_allclose(reg["shifts"], mem["shifts"], atol=1e-4)
    np.testing.assert_array_equal(rigid_sim.data.values, before)  # input untouched


def test_netcdf_round_trip(tmp_path, rigid_reg):
    from neuronmf.io import load_result, save_netcdf

    path = tmp_path / "reg.nc"
    save_netcdf(rigid_reg, path)
    back = load_result(path)
    xr.testing.assert_allclose(back["shifts"], rigid_reg["shifts"])
    assert back.attrs["neuronmf_kind"] == "registration"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "affine"}, "method must be one of 'rigid', 'piecewise'"),
        ({"whiten": 2.0}, "whiten must be a number in [0, 1]"),
        ({"whiten": True}, "whiten must be"),
        ({"max_shift": 0}, "max_shift must be"),
        ({"subpixel": "gauss"}, "subpixel must be one of"),
        ({"template": np.zeros((5, 5))}, "template must be a finite (32, 32) image"),
        ({"out": "/nonexistent-folder/x.h5"}, "out must be a path in an existing"),
        ({"bidi": "yes"}, "bidi must be True or False"),
        ({"interpolation": "sinc"}, "interpolation must be one of"),
    ],
)
def test_bad_arguments_refused(kwargs, message):
    mov = np.ones((4, 32, 32), np.float32)
    with pytest.raises(InputError) as e:
        register(mov, **kwargs)
    assert message in str(e.value)


def test_bad_movies_refused():
    with pytest.raises(InputError, match="3-D"):
        register(np.ones((32, 32)))
    with pytest.raises(InputError, match="at least 2 frames"):
        register(np.ones((1, 32, 32)))
    bad = np.ones((5, 32, 32), np.float32)
    bad[3, 1, 1] = np.nan
    with pytest.raises(InputError, match="frame 3 of the movie must be finite"):
        register(bad)


def test_simulated_motion_truth():
    sim = simulate_movie((48, 48), 30, 6, seed=1, motion={"rigid": 5, "nonrigid": 2})
    shifts = sim.truth["shifts"].values
    assert shifts.shape == (30, 2) and np.abs(shifts).max() <= 5
    field = displacement(sim.truth) - shifts[:, None, None, :]
    assert np.isclose(np.abs(field).max(), 2.0)
    still = simulate_movie((48, 48), 30, 6, seed=1)
    zero = simulate_movie((48, 48), 30, 6, seed=1, motion={"rigid": 0})
    np.testing.assert_array_equal(still.data.values, zero.data.values)
    with pytest.raises(InputError, match="motion keys"):
        simulate_movie((48, 48), 30, 6, motion={"affine": 1})


def test_nwb_motion_correction_links_the_acquired_movie(tmp_path):
    import pynwb

    from neuronmf.io import load_result, save_nwb

    sim = simulate_movie((40, 40), 12, 5, 3.0, seed=2, motion={"rigid": 2})
    reg = register(sim.data)
    path = tmp_path / "session.nwb"
    sim.to_nwb(path)
    save_nwb(reg, path)
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        mc = nwb.processing["registration"]["MotionCorrection"]
        stack = mc.corrected_image_stacks["CorrectedImageStack"]
        assert stack.original.name == "TwoPhotonSeries"
        assert stack.corrected.data.shape == (12, 40, 40)
        xy = stack.xy_translation.data[:]
        np.testing.assert_allclose(xy[:, ::-1], reg["shifts"].values)
    back = load_result(path)
    np.testing.assert_allclose(back["corrected"].values, reg["corrected"].values)
    np.testing.assert_allclose(back["template"].values, reg["template"].values)


def test_plot_registration(rigid_reg):
    import matplotlib

    matplotlib.use("Agg")
    from neuronmf.plotting import plot_registration

    fig = plot_registration(rigid_reg)
    assert len(fig.axes) == 4
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 2


@pytest.mark.parametrize("method", ["rigid", "piecewise"])
def test_threads_give_the_same_result_in_memory_and_to_a_file(tmp_path, method):
    sim = simulate_movie(
        (64, 64), 50, 12, seed=8, motion={"rigid": 3, "nonrigid": 1, "resting": 0.5}
    )
    kw = {"method": method, "patch": 32, "overlap": 16, "chunk_frames": 7}
    one = register(sim.data, **kw)
    two = register(sim.data, n_jobs=3, **kw)
    to_file = register(sim.data, n_jobs=2, out=tmp_path / "r.h5", **kw)
    for res in (two, to_file):
        for name in ("shifts", "correlation", "corrected", "mean_after"):
            np.testing.assert_array_equal(res[name].values, one[name].values)


def test_n_jobs_must_be_a_positive_integer():
    sim = simulate_movie((32, 32), 10, 3, seed=1)
    with pytest.raises(InputError, match="n_jobs"):
        register(sim.data, n_jobs=0)


def _lanczos_reference(frame, dy, dx):
    """Plain-NumPy Lanczos-3 warp: exact windowed-sinc weights, normalised."""
    ny, nx = frame.shape
    yy, xx = np.mgrid[:ny, :nx]
    sy, sx = yy + dy.astype(np.float64), xx + dx.astype(np.float64)
    iy, ix = np.floor(sy).astype(int), np.floor(sx).astype(int)
    j = np.arange(-2, 4)
    uy, ux = (sy - iy)[..., None] - j, (sx - ix)[..., None] - j
    wy, wx = np.sinc(uy) * np.sinc(uy / 3), np.sinc(ux) * np.sinc(ux / 3)
    wy /= wy.sum(-1, keepdims=True)
    wx /= wx.sum(-1, keepdims=True)
    r = np.clip(iy[..., None] + j, 0, ny - 1)
    c = np.clip(ix[..., None] + j, 0, nx - 1)
    vals = frame.astype(np.float64)[r[..., :, None], c[..., None, :]]
    return np.einsum("yxa,yxb,yxab->yx", wy, wx, vals)


def test_lanczos_kernels_match_a_numpy_reference():
    from neuronmf.imaging._register_warp import ORDERS, shift_rigid, warp

    rng = np.random.default_rng(4)
    frame = rng.normal(0, 1, (24, 20)).astype(np.float32)
    field = rng.uniform(-4, 4, (2, 24, 20)).astype(np.float32)  # edges included
    field[:, 0, 0] = 0.0
    field[:, 1, 1] = (1.0, -2.0)
    out = warp(frame, field, ORDERS["lanczos"])
    # the weights come from a table of 1024 offsets per pixel, linearly interpolated
    np.testing.assert_allclose(out, _lanczos_reference(frame, *field), atol=1e-5)
    moved = shift_rigid(frame, (0.3, -1.7), ORDERS["lanczos"])
    flat = np.ones_like(field)
    ref = _lanczos_reference(frame, 0.3 * flat[0], -1.7 * flat[1])
    np.testing.assert_allclose(moved, ref, atol=1e-5)
    # a constant stays constant; whole-pixel shifts are exact, edges clamped
    const = np.full_like(frame, 7.0)
    np.testing.assert_allclose(warp(const, field, 6), const, atol=1e-5)
    whole = warp(frame, np.stack([np.full((24, 20), 2.0), np.full((24, 20), -3.0)]), 6)
    np.testing.assert_allclose(whole[:22, 3:], frame[2:, :17], atol=1e-6)
    np.testing.assert_allclose(whole[22:, 3:], frame[[23, 23], :17], atol=1e-6)


def test_lanczos_leaves_noise_less_correlated_than_cubic():
    from neuronmf.imaging._register_warp import ORDERS, warp

    rng = np.random.default_rng(5)
    noise = rng.normal(0, 1, (2, 128, 128)).astype(np.float32)
    yy, xx = np.mgrid[0:128, 0:128] / 128.0
    field = np.stack(
        [0.4 + 2 * np.sin(2 * np.pi * yy) * xx, -1.3 + 2 * np.cos(np.pi * xx) * yy]
    ).astype(np.float32)
    stats = {}
    for name in ("cubic", "lanczos"):
        out = np.stack([warp(f, field, ORDERS[name]) for f in noise])[:, 8:-8, 8:-8]
        stats[name] = (np.mean(_neighbour_correlation(out)), out.var())
    # measured at 512 px: neighbour correlation 0.16 -> 0.11, variance 0.66 -> 0.80
    assert stats["lanczos"][0] < stats["cubic"][0] - 0.02
    assert stats["lanczos"][1] > stats["cubic"][1] + 0.08


@pytest.mark.parametrize("interp", ["lanczos", "fourier-lanczos"])
def test_piecewise_lanczos_registers_and_records_it(interp):
    sim = simulate_movie(
        (64, 64), 50, 12, seed=8, motion={"rigid": 3, "nonrigid": 1, "resting": 0.5}
    )
    kw = {"method": "piecewise", "patch": 32, "overlap": 16}
    reg = register(sim.data, interpolation=interp, **kw)
    assert json.loads(reg.attrs["params"])["interpolation"] == interp
    cubic = register(sim.data, interpolation="cubic", **kw)
    # the template is refined on resampled frames: nearly the same shifts
    np.testing.assert_allclose(reg["shifts"].values, cubic["shifts"].values, atol=0.2)
    # resampled differently: close, not identical
    a, b = reg["corrected"].values, cubic["corrected"].values
    d = np.abs(a - b)[:, 8:-8, 8:-8]
    assert 0 < d.mean() < 0.1 * np.abs(b).mean()
    with pytest.raises(InputError, match="interpolation"):
        register(sim.data, interpolation="sinc", **kw)


def test_the_output_file_is_tiled_in_space_and_time(tmp_path):
    """Whole 32-frame tiles per write; a patch of the corrected movie reads only
    the tiles it covers."""
    import h5py

    from neuronmf.imaging.register import FILE_TILE, _chunk

    sim = simulate_movie((96, 80), 70, 6, seed=2, motion={"rigid": 2})
    reg = register(sim.data, out=tmp_path / "r.h5")
    with h5py.File(tmp_path / "r.h5", "r") as f:
        assert f["corrected"].chunks == (32, 64, 64)
    np.testing.assert_array_equal(
        reg["corrected"].values, register(sim.data)["corrected"].values
    )

    # the default pass writes whole tiles: a multiple of their frames (93
    # frames of 300² px fit in a pass; 64 are taken)
    class Shaped:
        shape = (10_000, 300, 300)

    assert _chunk(Shaped, None) == 64 and FILE_TILE[0] == 32
    assert _chunk(Shaped, 7) == 7  # the user's choice stands
