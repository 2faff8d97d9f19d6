"""``match_sessions``: the same neurons across imaging sessions (CellReg-like).

Sessions of one field of view move between days (a rigid shift of several
pixels and a smaller, smooth deformation), some cells appear or disappear and
their brightness changes. :func:`match_sessions` registers every session's
mean image (or footprint projection) to a reference session
(:mod:`neuronmf.imaging._sessions_register`), applies the transform to the
footprints, scores nearby pairs of cells by centroid distance and footprint
spatial correlation, turns the scores into a probability that a pair is one
cell with a fitted same/different mixture, and assigns identities
(:mod:`neuronmf.imaging._sessions_model`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from itertools import combinations

import numpy as np
import xarray as xr

from neuronmf._provenance import result_attrs
from neuronmf.errors import input_error
from neuronmf.imaging import _sessions_model as _model
from neuronmf.imaging import _sessions_register as _reg
from neuronmf.imaging._sessions_inputs import (
    _check_options,
    _footprints_of,
    _inputs,
    _projection,
    _radius,
)

__all__ = ["align_footprints", "match_sessions", "score_matching"]


def _register(images, reference, radius, nonrigid, max_shift, patch, min_strength):
    """Rigid shifts (session, 2), strengths, fields (or None) and aligned images.

    A session whose phase-correlation peak is weaker than ``min_strength``
    (see :func:`~neuronmf.imaging._sessions_register.phase_correlation`) is
    not moved (shift 0), with a warning: unrelated images (another field of
    view) still have a highest peak, and following it would line up
    unrelated cells by chance.
    """
    n = len(images)
    prepared = [_reg.prepare_image(im, radius) for im in images]
    ref = prepared[reference]
    shifts = np.zeros((n, 2))
    strength = np.full(n, np.nan)
    fields: list = [None] * n
    corr = np.ones(n)
    for s in range(n):
        if s == reference:
            continue
        shift, strength[s] = _reg.phase_correlation(
            ref, prepared[s], max_shift=max_shift
        )
        if strength[s] < min_strength:
            warnings.warn(
                f"session {s} does not register to session {reference} (phase-"
                f"correlation peak {strength[s]:.1f} robust sd, below "
                f"{min_strength}); it is taken as aligned (shift 0). Different "
                "fields of view, or too few cells in common?",
                stacklevel=3,
            )
        else:
            shifts[s] = shift
        if nonrigid and strength[s] >= min_strength:
            rigid = _reg.align_image(prepared[s], shifts[s])
            fields[s] = _reg.piecewise_field(
                ref,
                rigid,
                patch=patch,
                max_shift=patch / 8,
                smooth=patch / 4,
                min_strength=_reg.PATCH_MIN_STRENGTH,
            )
        moved = _reg.align_image(prepared[s], shifts[s], fields[s])
        if ref.std() > 0 and moved.std() > 0:
            corr[s] = float(np.corrcoef(ref.ravel(), moved.ravel())[0, 1])
        else:  # an empty image (a session without cells): undefined
            corr[s] = np.nan
    aligned = [
        _reg.align_image(images[s], shifts[s], fields[s]).astype(np.float32)
        for s in range(n)
    ]
    return shifts, strength, fields, corr, aligned


def _pairs(A, centroids, session_pairs, max_distance):
    """(i, j, distance, correlation) of the candidate pairs of each session pair."""
    out = {}
    for a, b in session_pairs:
        ii, jj, d = _model.candidate_pairs(centroids[a], centroids[b], max_distance)
        out[(a, b)] = (ii, jj, d, _model.spatial_correlation(A[a], A[b], ii, jj))
    return out


def _table(clusters, counts, reference, probs, centroids):
    """Identity table variables from the clusters, reference cells first."""

    def key(members):
        sessions = {s: i for s, i in members}
        if reference in sessions:
            return (0, sessions[reference], 0)
        s, i = members[0]
        return (1, s, i)

    clusters = sorted(clusters, key=key)
    n, S = len(clusters), len(counts)
    neuron = np.full((n, S), -1, np.int64)
    p_same = np.full((n, S), np.nan)
    score = np.full(n, np.nan)
    cen = np.full((n, S, 2), np.nan)
    for c, members in enumerate(clusters):
        for s, i in members:
            neuron[c, s] = i
            cen[c, s] = centroids[s][i]
        if len(members) < 2:
            continue
        pq = []
        for x, y in combinations(members, 2):
            pq.append(probs.get((x, y), probs.get((y, x), 0.0)))
        score[c] = float(np.mean(pq))
        for s, i in members:
            others = [m for m in members if m != (s, i)]
            p_same[c, s] = float(
                np.mean(
                    [
                        probs.get(((s, i), m), probs.get((m, (s, i)), 0.0))
                        for m in others
                    ]
                )
            )
    return neuron, p_same, score, cen


def match_sessions(
    sessions: Sequence,
    *,
    mean_images: Sequence | None = None,
    reference: int = 0,
    register_on: str = "auto",
    nonrigid: bool = False,
    neuron_radius: float | None = None,
    max_distance: float | None = None,
    max_shift: float | None = None,
    min_registration_strength: float = 8.0,
    model: str = "correlation",
    method: str = "auto",
    threshold: float = 0.5,
) -> xr.Dataset:
    """Match neurons across imaging sessions with a probability (CellReg-like).

    1. **Register** every session to ``reference``: its mean image (or, with
       ``register_on="footprints"`` or when no mean image is known, the
       maximum projection of its peak-normalised footprints) is band-passed
       and aligned by phase correlation with subpixel refinement (1/20 px);
       with ``nonrigid=True`` a smooth displacement field from overlapping
       patches (NoRMCorre-like) is added on top of the rigid shift.
    2. **Align** the footprints with the same transform (linear interpolation).
    3. **Score** candidate pairs (centroids closer than ``max_distance``) by
       centroid distance and footprint spatial correlation (Pearson over the
       field of view).
    4. **Model**: a mixture of a same-cell and a different-cell component is
       fitted to the pooled pair scores by EM (Sheintuch et al. 2017); each
       pair gets its posterior P(same). See
       :mod:`neuronmf.imaging._sessions_model`.
    5. **Assign**: ``method="reference"`` matches each session to the
       reference by :func:`scipy.optimize.linear_sum_assignment` (maximum
       summed P, a match needs P ≥ ``threshold``); ``"cluster"`` groups cells
       of all sessions by greedy average linkage on P (one cell per session
       per group, mean P within a merge ≥ ``threshold``); ``"auto"`` is
       ``"reference"`` for two sessions and ``"cluster"`` for more.

    Parameters
    ----------
    sessions : list of Dataset or array
        Per session, the result of :func:`neuronmf.imaging.segment` (its
        ``footprints`` (neuron, y, x) and ``mean_image`` (y, x), which
        ``segment`` keeps) or a plain (neuron, y, x) footprints array. Every
        session has the same field of view.
    mean_images : list of arrays (y, x), optional
        The sessions' mean images (e.g. ``movie.mean("time")``); they override
        any ``mean_image`` of the segmentations.
    reference : int
        The session the others are registered to.
    register_on : {"auto", "mean_image", "footprints", "none"}
        What is registered: ``"auto"`` takes the mean images when every
        session has one, else the footprint projections; ``"none"`` takes the
        sessions as aligned already.
    nonrigid : bool
        Add a smooth non-rigid field to the rigid shift.
    neuron_radius : float, optional
        Soma radius in pixels (default: from the footprints' median area).
    max_distance : float, optional
        Candidate pairs have centroids closer than this (default 2 radii).
    max_shift : float, optional
        Largest rigid shift searched (default a quarter of the field of view).
    min_registration_strength : float
        A session whose phase-correlation peak is weaker than this (robust
        standard deviations of the correlation surface; unrelated images reach
        4–8, sessions of one field 10–50) is not moved, with a warning, since
        a chance peak would line up unrelated cells.
    model : {"correlation", "joint", "distance"}
        The features the mixture uses: the footprints' spatial correlation
        (default, as CellReg's default), both (naive Bayes) or the centroid
        distance. On simulated sessions with 1.5 px of uncorrected
        deformation, ``"correlation"`` kept every true pair where
        ``"joint"`` lost 6 %: same-cell distances spread with the
        deformation, correlations much less.
    method : {"auto", "reference", "cluster"}
        How identities are assigned (step 5).
    threshold : float
        P(same) a match needs (0.5).

    Returns
    -------
    xarray.Dataset
        The identity table: ``neuron`` (cell, session), the neuron's index in
        each session or −1 where the cell was not found; ``p_same`` (cell,
        session), the mean P(same) of that neuron with the cell's other
        members (NaN where absent or alone); ``score`` (cell), the mean P of
        the cell's member pairs; ``centroid`` (cell, session, axis) in the
        reference frame. Registration: ``rigid_shift`` (session, axis),
        ``registration_strength`` (the phase-correlation peak in robust sd;
        NaN for the reference), ``registered`` (False where the session was
        not moved) and ``registration_correlation`` (session),
        ``displacement`` (session, axis, y, x; with ``nonrigid``) and the
        aligned registration images ``mean_image`` (session, y, x). Pairwise
        scores: ``pair_session`` and ``pair_neuron`` (pair, side),
        ``pair_distance``, ``pair_correlation`` and ``pair_p_same`` (pair);
        the control pairs behind the different-cell density,
        ``control_distance`` and ``control_correlation`` (control).
        ``attrs``: provenance (``neuronmf_kind="session_matching"``), the
        fitted mixture (``mixture_*``) and the options.

    Examples
    --------
    >>> from neuronmf.datasets import simulate_movie
    >>> sims = simulate_movie((64, 64), 60, 15, 4.0, n_sessions=2, seed=0)
    >>> out = match_sessions([s.truth["footprints"] for s in sims])
    >>> out["neuron"].dims
    ('cell', 'session')
    >>> int((out["neuron"] >= 0).all("session").sum())  # cells seen in both
    9
    """
    options = dict(locals())
    foot, means, register_on = _inputs(sessions, mean_images, register_on)
    n_s = len(foot)
    _check_options(n_s, options)
    ny, nx = foot[0].shape[1:]
    radius = _radius(foot) if neuron_radius is None else float(neuron_radius)
    if 2 * radius >= min(ny, nx):
        raise input_error(
            "neuron_radius",
            f"smaller than half the field of view ({ny} × {nx} px)",
            radius,
            "Give the radius in pixels, not micrometres.",
        )
    dmax = 2.0 * radius if max_distance is None else float(max_distance)
    if max_shift is None:
        max_shift = min(ny, nx) / 4
    method_used = (
        ("reference" if n_s == 2 else "cluster") if method == "auto" else method
    )
    patch = int(max(48, 12 * radius))

    if register_on == "none":
        images = [
            m if m is not None else _projection(f)
            for m, f in zip(means, foot, strict=True)
        ]
        shifts, peaks, fields = np.zeros((n_s, 2)), np.full(n_s, np.nan), [None] * n_s
        corr = np.full(n_s, np.nan)
        aligned = [np.asarray(im, np.float32) for im in images]
    else:
        images = (
            means if register_on == "mean_image" else [_projection(f) for f in foot]
        )
        shifts, peaks, fields, corr, aligned = _register(
            images, reference, radius, nonrigid, max_shift, patch,
            min_registration_strength,
        )  # fmt: skip

    A = [_reg.warp_footprints(f, shifts[s], fields[s]) for s, f in enumerate(foot)]
    centroids = [_reg.footprint_centroids(a, (ny, nx)) for a in A]
    counts = [f.shape[0] for f in foot]
    if method_used == "reference":
        session_pairs = [(reference, s) for s in range(n_s) if s != reference]
    else:
        session_pairs = list(combinations(range(n_s), 2))
    scored = _pairs(A, centroids, session_pairs, dmax)
    d_all = np.concatenate([v[2] for v in scored.values()])
    r_all = np.concatenate([v[3] for v in scored.values()])
    controls = _model.control_pairs(A, centroids, session_pairs, (ny, nx), dmax)
    mix = _model.fit_mixture(
        d_all, r_all, model=model, max_distance=dmax, controls=controls
    )
    p_all = mix.posterior(d_all, r_all) if len(d_all) else np.zeros(0)

    pairs, probs, rows = {}, {}, []
    start = 0
    for (a, b), (ii, jj, _d, _rho) in scored.items():
        p = p_all[start : start + len(ii)]
        start += len(ii)
        pairs[(a, b)] = (ii, jj, p)
        for i, j, q in zip(ii, jj, p, strict=True):
            probs[((a, int(i)), (b, int(j)))] = float(q)
        rows.append((np.full(len(ii), a), np.full(len(ii), b), ii, jj))
    if method_used == "reference":
        clusters = _model.assign_to_reference(pairs, counts, reference, threshold)
    else:
        clusters = _model.cluster_sessions(pairs, counts, threshold)
    neuron, p_same, score, cen = _table(clusters, counts, reference, probs, centroids)

    call = {
        "reference": int(reference),
        "register_on": register_on,
        "nonrigid": bool(nonrigid),
        "neuron_radius": radius,
        "max_distance": dmax,
        "max_shift": float(max_shift),
        "min_registration_strength": float(min_registration_strength),
        "model": model,
        "method": method_used,
        "threshold": float(threshold),
        "n_sessions": n_s,
    }
    return _dataset(
        neuron,
        p_same,
        score,
        cen,
        (shifts, peaks, corr, fields, aligned),
        (rows, d_all, r_all, p_all, controls),
        call,
        mix,
    )


def _dataset(neuron, p_same, score, cen, registration, pair_data, call, mix):
    shifts, peaks, corr, fields, aligned = registration
    rows, d_all, r_all, p_all, controls = pair_data
    n_s = neuron.shape[1]
    ny, nx = aligned[0].shape
    if rows:
        sa, sb, ii, jj = (np.concatenate(x) for x in zip(*rows, strict=True))
    else:
        sa = sb = ii = jj = np.zeros(0, np.int64)
    variables = {
        "neuron": (("cell", "session"), neuron),
        "p_same": (("cell", "session"), p_same),
        "score": (("cell",), score),
        "centroid": (("cell", "session", "axis"), cen),
        "rigid_shift": (("session", "axis"), shifts),
        "registration_strength": (("session",), peaks),
        "registered": (
            ("session",),
            ~(peaks < call["min_registration_strength"]),
        ),
        "registration_correlation": (("session",), corr),
        "mean_image": (("session", "y", "x"), np.stack(aligned)),
        "pair_session": (("pair", "side"), np.stack([sa, sb], 1).astype(np.int64)),
        "pair_neuron": (("pair", "side"), np.stack([ii, jj], 1).astype(np.int64)),
        "pair_distance": (("pair",), d_all),
        "pair_correlation": (("pair",), r_all),
        "pair_p_same": (("pair",), p_all),
        "control_distance": (("control",), controls[0]),
        "control_correlation": (("control",), controls[1]),
    }
    if any(f is not None for f in fields):
        disp = np.zeros((n_s, 2, ny, nx), np.float32)
        for s, f in enumerate(fields):
            if f is not None:
                disp[s] = f
        variables["displacement"] = (("session", "axis", "y", "x"), disp)
    attrs = result_attrs("session_matching", params=call, seed=None)
    attrs.update({k: (int(v) if isinstance(v, bool) else v) for k, v in call.items()})
    attrs.update(mix.as_attrs())
    return xr.Dataset(
        variables,
        coords={
            "cell": np.arange(neuron.shape[0]),
            "session": np.arange(n_s),
            "axis": ["y", "x"],
            "y": np.arange(ny),
            "x": np.arange(nx),
            "pair": np.arange(len(d_all)),
            "side": ["a", "b"],
        },
        attrs=attrs,
    )


def align_footprints(footprints, result: xr.Dataset, session: int) -> np.ndarray:
    """A session's footprints (neuron, y, x) in the reference frame of ``result``.

    Applies the ``rigid_shift`` (and ``displacement``) that :func:`match_sessions`
    found for ``session``.

    Examples
    --------
    >>> from neuronmf.datasets import simulate_movie
    >>> sims = simulate_movie((64, 64), 60, 15, 4.0, n_sessions=2, seed=0)
    >>> out = match_sessions([s.truth["footprints"] for s in sims])
    >>> align_footprints(sims[1].truth["footprints"], out, 1).shape[1:]
    (64, 64)
    """
    f, _ = _footprints_of(footprints, session)
    field = None
    if "displacement" in result:
        field = np.asarray(result["displacement"].values[session], float)
    A = _reg.warp_footprints(f, result["rigid_shift"].values[session], field)
    return A.toarray().reshape(f.shape[0], *f.shape[1:])


def _pair_set(table: np.ndarray) -> set[tuple[int, int, int, int]]:
    out = set()
    for row in table:
        present = [(s, int(i)) for s, i in enumerate(row) if i >= 0]
        for (s, i), (t, j) in combinations(present, 2):
            out.add((s, i, t, j))
    return out


def score_matching(result, truth) -> dict:
    """Precision and recall of the matched identity pairs against a truth table.

    A pair is two neurons of two sessions given one identity. ``truth`` is an
    identity table (cell, session) of neuron indices (−1 absent), like
    ``result["neuron"]``. Found pairs that involve a neuron absent from the
    truth table (a false detection of a segmentation) are left out of both
    counts and counted in ``n_ignored``.

    Examples
    --------
    >>> t = np.array([[0, 1], [1, -1], [-1, 0]])
    >>> score_matching(t, t)["precision"]
    1.0
    """
    found = np.asarray(getattr(result, "neuron", result))
    truth = np.asarray(getattr(truth, "values", truth))
    if found.ndim != 2 or truth.ndim != 2 or found.shape[1] != truth.shape[1]:
        raise input_error(
            "result and truth",
            "identity tables (cell, session) with one number of sessions",
            f"shapes {found.shape} and {truth.shape}",
        )
    known = {(s, int(i)) for row in truth for s, i in enumerate(row) if i >= 0}
    true_pairs = _pair_set(truth)
    found_all = _pair_set(found)
    found_pairs = {
        p for p in found_all if (p[0], p[1]) in known and (p[2], p[3]) in known
    }
    hit = len(found_pairs & true_pairs)
    precision = hit / len(found_pairs) if found_pairs else float("nan")
    recall = hit / len(true_pairs) if true_pairs else float("nan")
    return {
        "precision": precision,
        "recall": recall,
        "n_true_pairs": len(true_pairs),
        "n_found_pairs": len(found_pairs),
        "n_correct": hit,
        "n_ignored": len(found_all) - len(found_pairs),
    }
