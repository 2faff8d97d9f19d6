"""Simulated two-photon calcium movies with planted neurons."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy.ndimage import gaussian_filter, gaussian_filter1d
from scipy.signal import lfilter

from neuronmf.datasets._movie_motion import (
    check_motion,
    make_motion,
    motion_truth,
    moving_frames,
)
from neuronmf.datasets._movie_one_photon import check_flag, one_photon_frames
from neuronmf.datasets._movie_sessions import simulate_sessions
from neuronmf.datasets._simulation import (
    Simulation,
    _check_int,
    _check_pos,
    movie_array,
)
from neuronmf.errors import input_error

__all__ = ["simulate_movie"]


def simulate_movie(
    shape: tuple[int, int] = (64, 64),
    n_frames: int = 300,
    n_neurons: int = 20,
    neuron_radius: float = 4.0,
    *,
    rate: float = 10.0,
    spike_rate: float = 0.3,
    tau_rise: float = 0.05,
    tau_decay: float = 0.7,
    brightness: float = 200.0,
    background: float = 100.0,
    neuropil: float = 0.3,
    read_noise: float = 4.0,
    min_separation: float | None = None,
    dtype: str = "uint16",
    seed: int | None = 0,
    one_photon: bool = False,
    motion: dict | None = None,
    n_sessions: int = 1,
    session_drift: dict | None = None,
) -> Simulation:
    """Two-photon-like calcium movie with planted neurons.

    Somata are elliptical Gaussian-like footprints (semi-axes ``neuron_radius``
    × 0.8–1.2, random orientation, cut to zero outside 1.5 radii). Each neuron
    fires Poisson spikes (``spike_rate`` Hz) that become calcium through AR(2)
    dynamics (rise ``tau_rise``, decay ``tau_decay`` seconds) with a per-neuron
    amplitude. The field adds a vignetted background, spatially smooth neuropil
    whose time course follows the population activity, photon shot noise
    (Poisson counts) and Gaussian read noise.

    Parameters
    ----------
    shape : (int, int)
        Frame size (y, x).
    n_frames, n_neurons : int
    neuron_radius : float
        Soma radius in pixels (about 4–8 px at typical two-photon resolution).
    rate : float
        Frame rate in Hz.
    spike_rate : float
        Mean firing rate in Hz.
    tau_rise, tau_decay : float
        Calcium rise and decay time constants in seconds (GCaMP6f-like default).
    brightness : float
        Photons per frame at the peak of a footprint for a unit calcium level.
    background : float
        Mean background photons per pixel per frame.
    neuropil : float
        Neuropil strength relative to ``background``.
    read_noise : float
        Standard deviation of the Gaussian read noise (counts).
    min_separation : float, optional
        Minimum centre distance (default ``1.5 * neuron_radius``).
    dtype : {"uint16", "float32"}
        Movie data type (uint16 counts like a microscope, or float32).
    seed : int or None
    one_photon : bool
        A one-photon (endoscope) movie: the footprints blurred wide-field and a
        strong, spatially structured, slowly fluctuating background (blobs and
        blood vessels with their own time courses, 5–20 × ``brightness``)
        added; see :mod:`neuronmf.datasets._movie_one_photon`. ``truth`` then
        holds the blurred footprints and ``one_photon_background`` (y, x).
    motion : dict, optional
        Known motion of the sample (:mod:`neuronmf.datasets._movie_motion`):
        ``{"rigid": N, "nonrigid": M}`` gives rigid random-walk shifts up to
        N px per axis plus a smooth non-rigid field up to M px (``"resting"``:
        resting fluorescence of the neurons, default 0); the truth then
        holds ``shifts`` (time, axis) and, when M > 0, ``motion_modes`` and
        ``motion_weights``. The neurons, calcium and noise are those of the
        same ``seed`` without motion. With ``one_photon`` the one-photon
        background does not move. Default None: no motion (unchanged).
    n_sessions : int
        With more than 1, the same field of neurons imaged in ``n_sessions``
        sessions that drift (:mod:`neuronmf.datasets._movie_sessions`): a
        rigid shift and a smooth deformation per session, cells missing from
        some sessions, brightness changes. Returns a **list** of
        Simulations, one per session, whose truth carries ``cell_id``
        (neuron), the identity table ``identities`` (cell, session),
        ``rigid_shift`` and ``displacement``.
    session_drift : dict, optional
        The drift (``n_sessions > 1`` only): ``{"shift": 4.0, "deformation":
        1.0, "turnover": 0.1, "brightness": 0.2}`` (px, px, probability, sd of
        the log brightness).

    Returns
    -------
    Simulation
        ``data`` (time, y, x) with attrs ``rate`` and ``units``; ``truth`` with
        ``footprints`` (neuron, y, x), ``masks`` (neuron, y, x, bool: footprint
        above 20 % of its peak), ``traces`` (neuron, time: calcium), ``spikes``
        (neuron, time: counts per frame), ``centres`` (neuron, axis),
        ``background`` (y, x) and ``neuropil`` (y, x).

    Examples
    --------
    >>> sim = simulate_movie((32, 32), n_frames=50, n_neurons=4, seed=0)
    >>> sim.data.dims, sim.data.shape, str(sim.data.dtype)
    (('time', 'y', 'x'), (50, 32, 32), 'uint16')
    >>> sim.truth["footprints"].shape
    (4, 32, 32)
    """
    if len(shape) != 2:
        raise input_error("shape", "a pair (ny, nx)", shape)
    ny, nx = (_check_int("shape", int(s), 8) for s in shape)
    T = _check_int("n_frames", n_frames, 2)
    n_neurons = _check_int("n_neurons", n_neurons, 0)
    radius = _check_pos("neuron_radius", neuron_radius)
    rate = _check_pos("rate", rate)
    one_photon = check_flag("one_photon", one_photon)
    if dtype not in ("uint16", "float32"):
        raise input_error("dtype", "'uint16' or 'float32'", dtype)
    motion = check_motion(motion)
    if isinstance(n_sessions, bool) or n_sessions != 1 or session_drift is not None:
        return simulate_sessions(  # issue 23: one field, several sessions
            n_sessions, session_drift, dict(locals(), shape=(ny, nx), n_frames=T),
            {"calcium": _calcium, "frames": _frames, "write_nwb": _write_movie_nwb},
        )  # fmt: skip
    rng = np.random.default_rng(seed)
    sep = 1.5 * radius if min_separation is None else float(min_separation)
    centres = _place(rng, n_neurons, (ny, nx), radius, sep)
    A = _footprints(rng, centres, radius, ny, nx)
    S, C, (g1, g2) = _calcium(
        rng, len(centres), T, rate, spike_rate, tau_rise, tau_decay
    )
    moves = None if motion is None else make_motion(motion, T, ny, nx, seed)
    if one_photon:  # footprints blurred, background added: _movie_one_photon
        A, Y, bg_img, npil_img, extra_truth = one_photon_frames(
            rng, A, C, radius, rate, brightness, _frames,
            (background, neuropil, read_noise, moves),
        )  # fmt: skip
    else:
        Y, bg_img, npil_img = _frames(
            rng, A, C, rate, brightness, background, neuropil, read_noise, moves
        )
    Y = _cast(Y, dtype)  # the float64 frames freed before movie_array's copies
    data = movie_array(Y, dtype, rate)
    Y, units, t = data.values, data.attrs["units"], data["time"].values
    truth = xr.Dataset(
        {
            "footprints": (("neuron", "y", "x"), A),
            "masks": (("neuron", "y", "x"), A >= 0.2),
            "traces": (("neuron", "time"), C),
            "spikes": (("neuron", "time"), S),
            "centres": (("neuron", "axis"), np.array(centres).reshape(-1, 2)),
            "background": (("y", "x"), bg_img),
            "neuropil": (("y", "x"), npil_img),
        },
        coords={
            "neuron": np.arange(len(centres)),
            "y": np.arange(ny),
            "x": np.arange(nx),
            "time": t,
            "axis": ["y", "x"],
        },
        attrs={"ar2_coefficients": [g1, g2], "brightness": brightness},
    )
    if moves is not None:
        params_motion = motion_truth(truth, moves, motion)
    params = {
        "simulator": "simulate_movie",
        "shape": [ny, nx],
        "n_frames": T,
        "n_neurons": n_neurons,
        "neuron_radius": radius,
        "rate": rate,
        "spike_rate": spike_rate,
        "tau_rise": tau_rise,
        "tau_decay": tau_decay,
        "seed": seed,
    }
    if motion is not None:
        params["motion"] = params_motion
    if one_photon:
        params["one_photon"] = True
        truth = truth.assign(extra_truth)

    def writer(nwbfile) -> None:
        _write_movie_nwb(nwbfile, Y, A, C, rate, units)

    return Simulation(data=data, truth=truth, params=params, _writer=writer)


def _place(rng, n, shape, radius, sep) -> list[tuple[float, float]]:
    ny, nx = shape
    centres: list[tuple[float, float]] = []
    tries = 0
    margin = radius + 1
    while len(centres) < n and tries < 20000:
        tries += 1
        c = rng.uniform(margin, ny - margin - 1), rng.uniform(margin, nx - margin - 1)
        if all(np.hypot(c[0] - a, c[1] - b) > sep for a, b in centres):
            centres.append(c)
    return centres


def _footprints(rng, centres, radius: float, ny: int, nx: int) -> np.ndarray:
    """(neuron, y, x) elliptical somata, peak 1, zero outside 1.5 radii."""
    yy, xx = np.mgrid[:ny, :nx].astype(float)
    A = np.zeros((len(centres), ny, nx))
    half = int(np.ceil(1.5 * 1.2 * radius)) + 2  # the support lies in this box
    for i, (cy, cx) in enumerate(centres):
        ry, rx = radius * rng.uniform(0.8, 1.2, 2)
        a = rng.uniform(0, np.pi)
        box = (
            slice(max(0, int(cy) - half), min(ny, int(cy) + half + 1)),
            slice(max(0, int(cx) - half), min(nx, int(cx) + half + 1)),
        )
        dy, dx = yy[box] - cy, xx[box] - cx
        u = (dy * np.cos(a) + dx * np.sin(a)) / ry
        v = (-dy * np.sin(a) + dx * np.cos(a)) / rx
        d2 = u**2 + v**2
        A[i][box] = np.exp(-d2 / 0.8) * (d2 <= 2.25)
        A[i] /= A[i].max()
    return A


def _neuron_signal(A, C, scale: float, chunk: int = 64) -> np.ndarray:
    """``scale * einsum("kyx,kt->tyx", A, C)``, each footprint over its own box.

    The same sequential sum over the neurons as the einsum (zeros outside a
    footprint's bounding box add nothing), so bit-identical, in time chunks:
    O(T · Σ box) instead of O(T · k · y · x).
    """
    k, ny, nx = A.shape
    T = C.shape[1]
    out = np.zeros((T, ny, nx))
    boxes = []
    for i in range(k):
        rows, cols = np.flatnonzero(A[i].any(1)), np.flatnonzero(A[i].any(0))
        if len(rows):
            box = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
            boxes.append((i, box, A[i][box]))
    for t0 in range(0, T, chunk):
        block = out[t0 : t0 + chunk]
        for i, (ys, xs), a in boxes:
            block[:, ys, xs] += a[None] * C[i, t0 : t0 + chunk, None, None]
        block *= scale
    return out


def _calcium(rng, k, T, rate, spike_rate, tau_rise, tau_decay) -> tuple[Any, ...]:
    """Poisson spikes (neuron, time), their AR(2) calcium and its coefficients."""
    d = np.exp(-1.0 / (tau_decay * rate))
    g = np.exp(-1.0 / (tau_rise * rate))
    g1, g2 = d + g, -d * g
    S = rng.poisson(spike_rate / rate, (k, T)).astype(float)
    C = lfilter([1.0], [1.0, -g1, -g2], S, axis=1)
    peak = lfilter([1.0], [1.0, -g1, -g2], np.r_[1.0, np.zeros(200)]).max()
    C = C / peak * rng.uniform(0.6, 1.4, (k, 1))
    return S, C, (g1, g2)


def _frames(rng, A, C, rate, brightness, background, neuropil, read_noise, moves=None):
    """Photon counts (time, y, x) with background, neuropil, shot and read noise."""
    k, ny, nx = A.shape
    T = C.shape[1]
    yy, xx = np.mgrid[:ny, :nx].astype(float)
    bg_img = background * (1.0 - 0.35 * ((yy / ny - 0.5) ** 2 + (xx / nx - 0.5) ** 2))
    field_ = gaussian_filter(rng.standard_normal((ny, nx)), 6.0)
    field_ = (field_ - field_.min()) / max(np.ptp(field_), 1e-12)
    npil_img = neuropil * background * (0.5 + field_)
    pop = C.mean(0) if k else np.zeros(T)
    npil_t = 1.0 + gaussian_filter1d(pop, 2.0 * rate) / max(pop.max(), 1e-12) * 0.5
    drift = 1.0 + 0.03 * np.sin(2 * np.pi * np.arange(T) / max(T, 1))
    # One (T, y, x) buffer, filled in time chunks (3,000 512^2 frames fit):
    # expected photons, then Poisson counts, then + read noise; the same
    # random streams and arithmetic as whole-array calls.
    if moves is None:
        Y = _neuron_signal(A, C, brightness)
        for c in _chunks(T):
            Y[c] += bg_img[None] * drift[c, None, None]
            Y[c] += npil_img[None] * npil_t[c, None, None]
    else:  # issue 23: a moving sample (_movie_motion)
        neurons = _neuron_signal(A, C + moves["resting"], brightness)
        Y = moving_frames(moves, neurons, bg_img, drift, npil_img, npil_t)
    for c in _chunks(T):
        Y[c] = rng.poisson(Y[c])
    for c in _chunks(T):
        Y[c] += read_noise * rng.standard_normal(Y[c].shape)
    return Y, bg_img, npil_img


def _chunks(T: int, size: int = 64) -> list[slice]:
    return [slice(t, min(T, t + size)) for t in range(0, T, size)]


def _cast(Y: np.ndarray, dtype: str) -> np.ndarray:
    """``Y`` rounded and clipped to uint16 (or float32) in time chunks.

    ``movie_array`` then repeats it exactly on 2-byte or 4-byte temporaries
    instead of 8-byte ones (a 512^2 x 3,000 movie is 6.3 GB in float64).
    """
    out = np.empty(Y.shape, np.uint16 if dtype == "uint16" else np.float32)
    for c in _chunks(len(Y)):
        out[c] = np.clip(np.rint(Y[c]), 0, 65535) if dtype == "uint16" else Y[c]
    return out


def _write_movie_nwb(nwbfile, Y, A, C, rate: float, units: str) -> None:
    """The movie as a TwoPhotonSeries and the planted footprints and calcium."""
    from pynwb.ophys import (
        Fluorescence,
        ImageSegmentation,
        OpticalChannel,
        TwoPhotonSeries,
    )

    k = A.shape[0]
    ny, nx = Y.shape[1:]
    device = nwbfile.create_device(
        name="Microscope", description="Simulated two-photon microscope."
    )
    channel = OpticalChannel(
        name="OpticalChannel",
        description="Green emission (simulated GCaMP).",
        emission_lambda=510.0,
    )
    plane = nwbfile.create_imaging_plane(
        name="ImagingPlane",
        optical_channel=channel,
        device=device,
        description="Simulated imaging plane.",
        excitation_lambda=920.0,
        indicator="GCaMP6f (simulated)",
        location="simulated cortex",
        imaging_rate=rate,
    )
    nwbfile.add_acquisition(
        TwoPhotonSeries(
            name="TwoPhotonSeries",
            data=np.ascontiguousarray(Y.transpose(0, 2, 1)),  # (frames, x, y)
            imaging_plane=plane,
            unit=units,
            rate=rate,
            starting_time=0.0,
            dimension=[nx, ny],
            description="Simulated calcium movie, stored (frames, x, y).",
        )
    )
    ophys = nwbfile.create_processing_module(
        "ophys", "Ground truth of the simulated movie."
    )
    seg = ImageSegmentation(name="ImageSegmentation")
    ophys.add(seg)
    ps = seg.create_plane_segmentation(
        name="GroundTruth",
        description="Planted neuron footprints (image_mask stored (roi, x, y)).",
        imaging_plane=plane,
    )
    for i in range(k):
        ps.add_roi(image_mask=A[i].T)
    if k:
        rois = ps.create_roi_table_region(
            region=list(range(k)), description="All planted neurons."
        )
        fl = Fluorescence(name="Fluorescence")
        ophys.add(fl)
        fl.create_roi_response_series(
            name="GroundTruthCalcium",
            data=C.T,
            rois=rois,
            unit="a.u.",
            rate=rate,
            starting_time=0.0,
            description="True calcium (time, roi) of the planted neurons.",
        )
