"""One field of neurons imaged over several sessions: ``simulate_movie(n_sessions=)``.

The field (cell centres and shapes) is drawn once; every session then sees it
through its own drift: a rigid shift and a smooth non-rigid deformation
(session 0 is the reference, undrifted), some cells missing (not expressing,
out of focus), and per-cell brightness changes. Each session's movie is made
like :func:`~neuronmf.datasets.simulate_movie`'s (its calcium, background,
neuropil and noise helpers are handed in by the hook there, which keeps this
module free of an import cycle).

Return form: a ``list`` of :class:`~neuronmf.datasets.Simulation`, one per
session. Each ``truth`` is that of a single movie (footprints, masks, traces,
spikes, centres of the cells present in the session) plus ``cell_id``
(neuron): the identity of each neuron in the field; ``identities`` (cell,
session): the whole truth identity table, the neuron index of each cell in
each session or −1; ``rigid_shift`` (axis): the rigid shift; and ``displacement``
(axis, y, x): the total displacement, in reference coordinates p, such that
the point p of session 0 appears at p + displacement(p) in this session.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.ndimage import gaussian_filter, map_coordinates

from neuronmf.datasets._simulation import Simulation, _check_int, movie_array
from neuronmf.errors import input_error

__all__ = ["DRIFT_DEFAULTS", "simulate_sessions"]

#: ``session_drift`` keys: largest rigid shift per axis (px), largest
#: non-rigid displacement (px), probability that a cell is missing from a
#: session, standard deviation of a cell's log-brightness change per session.
DRIFT_DEFAULTS = {"shift": 4.0, "deformation": 1.0, "turnover": 0.1, "brightness": 0.2}


def _check_drift(drift) -> dict:
    if drift is None:
        return dict(DRIFT_DEFAULTS)
    if not isinstance(drift, dict) or set(drift) - set(DRIFT_DEFAULTS):
        raise input_error(
            "session_drift",
            f"None or a dict with keys among {sorted(DRIFT_DEFAULTS)}",
            repr(drift),
        )
    out = dict(DRIFT_DEFAULTS)
    for k, v in drift.items():
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise input_error(f"session_drift[{k!r}]", "a number", repr(v)) from None
        high = 1.0 if k == "turnover" else np.inf
        if not np.isfinite(v) or not 0 <= v < high:
            raise input_error(
                f"session_drift[{k!r}]",
                "a number in [0, 1)" if k == "turnover" else "a number >= 0",
                repr(v),
            )
        out[k] = v
    return out


def _field(rng, n, shape, radius, sep):
    """Centres (n, 2) and shapes (n, 3: ry, rx, angle) of the field's cells."""
    ny, nx = shape
    centres: list[tuple[float, float]] = []
    margin = radius + 1
    tries = 0
    while len(centres) < n and tries < 20000:
        tries += 1
        c = rng.uniform(margin, ny - margin - 1), rng.uniform(margin, nx - margin - 1)
        if all(np.hypot(c[0] - a, c[1] - b) > sep for a, b in centres):
            centres.append(c)
    k = len(centres)
    shapes = np.column_stack(
        [radius * rng.uniform(0.8, 1.2, (k, 2)), rng.uniform(0, np.pi, k)]
    )
    return np.array(centres, float).reshape(-1, 2), shapes


def _deformation(rng, shape, amplitude: float) -> np.ndarray:
    """A smooth random displacement field (2, y, x), largest magnitude ``amplitude``."""
    ny, nx = shape
    if amplitude <= 0:
        return np.zeros((2, ny, nx))
    sigma = max(min(ny, nx) / 5, 2.0)
    f = np.stack(
        [
            gaussian_filter(rng.standard_normal((ny, nx)), sigma, mode="wrap")
            for _ in "yx"
        ]
    )
    f -= f.mean(axis=(1, 2), keepdims=True)
    top = np.sqrt((f**2).sum(0)).max()
    return f / max(top, 1e-12) * amplitude


def _render(centres, shapes, source) -> np.ndarray:
    """Footprints (neuron, y, x) at reference coordinates ``source`` (2, y, x)."""
    py, px = source
    A = np.zeros((len(centres), *py.shape))
    for i, ((cy, cx), (ry, rx, a)) in enumerate(zip(centres, shapes, strict=True)):
        dy, dx = py - cy, px - cx
        u = (dy * np.cos(a) + dx * np.sin(a)) / ry
        v = (-dy * np.sin(a) + dx * np.cos(a)) / rx
        d2 = u**2 + v**2
        A[i] = np.exp(-d2 / 0.8) * (d2 <= 2.25)
        top = A[i].max()
        if top > 0:
            A[i] /= top
    return A


def _source(shift, deform, shape) -> np.ndarray:
    """Reference coordinates p of each session pixel x (x = p + shift + d(p))."""
    ny, nx = shape
    x = np.mgrid[:ny, :nx].astype(float)
    p = x - shift[:, None, None]
    for _ in range(3):  # fixed point of p = x - shift - d(p)
        d = np.stack(
            [map_coordinates(deform[k], p, order=1, mode="nearest") for k in range(2)]
        )
        p = x - shift[:, None, None] - d
    return p


def _session_geometry(rng, s, drift, shape, centres):
    """Shift (2,), deformation (2, y, x) and displaced centres of session ``s``."""
    if s == 0:
        return np.zeros(2), np.zeros((2, *shape)), centres.copy()
    shift = rng.uniform(-drift["shift"], drift["shift"], 2)
    deform = _deformation(rng, shape, drift["deformation"])
    if len(centres):
        d = np.stack(
            [
                map_coordinates(deform[k], centres.T, order=1, mode="nearest")
                for k in range(2)
            ],
            axis=1,
        )
    else:
        d = np.zeros((0, 2))
    return shift, deform, centres + shift + d


def simulate_sessions(n_sessions, session_drift, call: dict, parts: dict) -> list:
    """``n_sessions`` movies of one drifting field (see the module docstring).

    ``call`` holds :func:`simulate_movie`'s checked arguments; ``parts`` its
    helpers ``calcium``, ``frames`` and ``write_nwb``.
    """
    n_sessions = _check_int("n_sessions", n_sessions, 1)
    if n_sessions == 1:
        raise input_error(
            "session_drift",
            "None with n_sessions=1",
            repr(session_drift),
            "Pass n_sessions=2 or more for drifting sessions.",
        )
    for flag in ("motion", "one_photon"):
        if call.get(flag):
            raise input_error(
                flag,
                "off with n_sessions > 1 (not simulated together yet)",
                repr(call[flag]),
            )
    drift = _check_drift(session_drift)
    radius = call["radius"]
    sep = call["min_separation"]
    sep = 1.5 * radius if sep is None else float(sep)
    call = {**call, "session_drift": drift, "neuron_radius": radius}
    ny, nx = call["shape"]
    T, rate = call["n_frames"], call["rate"]
    rng = np.random.default_rng(call["seed"])
    centres, shapes = _field(rng, call["n_neurons"], (ny, nx), radius, sep)
    n_cells = len(centres)
    present = rng.random((n_sessions, n_cells)) >= drift["turnover"]
    gain = np.exp(drift["brightness"] * rng.standard_normal((n_sessions, n_cells)))
    geometry, table = [], np.full((n_cells, n_sessions), -1, np.int64)
    for s in range(n_sessions):
        shift, deform, moved = _session_geometry(rng, s, drift, (ny, nx), centres)
        inside = (
            (moved[:, 0] >= 0)
            & (moved[:, 0] <= ny - 1)
            & (moved[:, 1] >= 0)
            & (moved[:, 1] <= nx - 1)
        )
        ids = np.nonzero(present[s] & inside)[0]
        table[ids, s] = np.arange(len(ids))
        geometry.append((shift, deform, moved, ids))
    sims = []
    for s, (shift, deform, moved, ids) in enumerate(geometry):
        source = _source(shift, deform, (ny, nx))
        A = _render(centres[ids], shapes[ids], source)
        S, C, (g1, g2) = parts["calcium"](
            rng,
            len(ids),
            T,
            rate,
            call["spike_rate"],
            call["tau_rise"],
            call["tau_decay"],
        )
        C = C * gain[s, ids][:, None]
        Y, bg_img, npil_img = parts["frames"](
            rng,
            A,
            C,
            rate,
            call["brightness"],
            call["background"],
            call["neuropil"],
            call["read_noise"],
        )
        sims.append(
            _simulation(
                s,
                call,
                parts,
                Y,
                A,
                C,
                S,
                (g1, g2),
                moved[ids],
                ids,
                (bg_img, npil_img),
                table,
                shift,
                deform,
            )
        )
    return sims


def _simulation(
    s, call, parts, Y, A, C, S, g, centres, ids, images, table, shift, deform
):
    """The :class:`Simulation` of session ``s``."""
    ny, nx = call["shape"]
    T, rate = call["n_frames"], call["rate"]
    data = movie_array(Y, call["dtype"], rate, session=s)
    Y, units, t = data.values, data.attrs["units"], data["time"].values
    displacement = deform + shift[:, None, None]
    truth = xr.Dataset(
        {
            "footprints": (("neuron", "y", "x"), A),
            "masks": (("neuron", "y", "x"), A >= 0.2),
            "traces": (("neuron", "time"), C),
            "spikes": (("neuron", "time"), S),
            "centres": (("neuron", "axis"), centres.reshape(-1, 2)),
            "background": (("y", "x"), images[0]),
            "neuropil": (("y", "x"), images[1]),
            "cell_id": (("neuron",), ids.astype(np.int64)),
            "identities": (("cell", "session"), table),
            "rigid_shift": (("axis",), shift),
            "displacement": (("axis", "y", "x"), displacement),
        },
        coords={
            "neuron": np.arange(len(ids)),
            "y": np.arange(ny),
            "x": np.arange(nx),
            "time": t,
            "axis": ["y", "x"],
            "cell": np.arange(table.shape[0]),
            "session": np.arange(table.shape[1]),
        },
        attrs={
            "ar2_coefficients": list(g),
            "brightness": call["brightness"],
            "session": s,
        },
    )
    params = {
        "simulator": "simulate_movie",
        "shape": [ny, nx],
        "n_frames": T,
        "n_neurons": call["n_neurons"],
        "neuron_radius": call["neuron_radius"],
        "rate": rate,
        "spike_rate": call["spike_rate"],
        "tau_rise": call["tau_rise"],
        "tau_decay": call["tau_decay"],
        "seed": call["seed"],
        "n_sessions": table.shape[1],
        "session": s,
        "session_drift": call["session_drift"],
    }

    def writer(nwbfile) -> None:
        parts["write_nwb"](nwbfile, Y, A, C, rate, units)

    return Simulation(data=data, truth=truth, params=params, _writer=writer)
