"""One patch of :func:`~neuronmf.imaging.segment`.

Seeds → engine refinement → merging → quality (→ anatomy), on one patch held
in memory or, above ``patch_memory``, read block by block
(:class:`~neuronmf.imaging._out_of_core._OutOfCorePatch`). The engine is
imported directly (:mod:`neuronmf.engine`), never through the package facade.
"""

from __future__ import annotations

import numpy as np

from neuronmf.engine import nmf, project
from neuronmf.engine.chunked import is_dask
from neuronmf.engine.nnls import nnls_gram
from neuronmf.imaging._filters import gaussian_frames_adjoint
from neuronmf.imaging._out_of_core import (
    _binned_frames,
    _highpass,
    _OutOfCorePatch,
    _residual,
    _row_means,
    _rows_times,
)
from neuronmf.imaging._parameters import SegmentParameters
from neuronmf.imaging._refine import refine_footprints
from neuronmf.imaging._ring import RingBackground
from neuronmf.imaging.anatomy import activity_evidence, anatomy_score, disc_footprints
from neuronmf.imaging.merging import merge_duplicates
from neuronmf.imaging.quality import (
    compactness,
    mean_trace_correlation,
    nested_fragments,
    trace_correlation,
    trace_snr,
)
from neuronmf.imaging.seeds import greedy_seeds


def _centroids(A: np.ndarray) -> np.ndarray:
    """(y, x) centroid of each footprint's pixels ≥ 0.2 × its max (NaN if empty)."""
    out = np.full((len(A), 2), np.nan)
    for k, a in enumerate(A):
        yy, xx = np.nonzero(a >= 0.2 * max(a.max(), 1e-30))
        if len(yy):
            out[k] = yy.mean(), xx.mean()
    return out


def _fit_traces(V, W, C0, bg_W, bg_H, background_rank):
    """Unpenalised NMF background on what the neurons leave, then exact NNLS traces."""
    bres = nmf(_residual(V, W, C0), background_rank, W=bg_W, H=bg_H, max_iter=20)
    bg_W, bg_H = np.asarray(bres.W), np.asarray(bres.H)
    C = np.asarray(project(_residual(V, bg_W, bg_H), W))
    return C, bg_W, bg_H


def _evidence(R, points, r: float) -> np.ndarray:
    if isinstance(R, _OutOfCorePatch):
        return R.activity_evidence(points)
    return activity_evidence(R, points, r)


def _quality(A, C, R, p: SegmentParameters) -> tuple[dict, list[str]]:
    """Named quality measures of each component and its rejection reasons (step 5).

    The measures are ``snr``, ``compactness``, ``trace_correlation`` and
    ``area`` (one array each); a component's reason is ``""`` when it is kept.
    """
    if isinstance(R, _OutOfCorePatch):
        rval = R.trace_correlation(A, C)
    else:
        rval = trace_correlation(A, C, R)
    return _judge(A, C, rval, p)


def _judge(A, C, rval, p: SegmentParameters) -> tuple[dict, list[str]]:
    """:func:`_quality` given each trace's correlation with its mask mean."""
    snr = trace_snr(C)
    comp = compactness(A)
    area = np.array([(a >= 0.2 * max(a.max(), 1e-30)).sum() for a in A])
    fragment = nested_fragments(A, C, snr, overlap=p.fragment_overlap)
    reasons = []
    for k in range(len(A)):
        why = []
        if snr[k] < p.min_snr:
            why.append(f"snr {snr[k]:.2f} < {p.min_snr}")
        if rval[k] < p.min_trace_corr:
            why.append(f"trace correlation {rval[k]:.2f} < {p.min_trace_corr}")
        if area[k] < p.min_area:
            why.append(f"area {area[k]} px < {p.min_area}")
        if area[k] > p.max_area:
            why.append(f"area {area[k]} px > {p.max_area}")
        if fragment[k]:
            why.append(fragment[k])
        reasons.append("; ".join(why))
    measures = {
        "snr": snr,
        "compactness": comp,
        "trace_correlation": rval,
        "area": area,
    }
    return measures, reasons


def _prepare(Y, r: float, p: SegmentParameters, refine):
    """Baseline, high-pass and seeding frames of a patch (steps 1–2's input).

    The patch has at most ``seed_frames`` frames (a longer one is binned
    first, see :func:`_segment_patch`). Returns ``R`` (the baseline-subtracted
    patch, or its out-of-core reader), ``Rh`` (R minus its local spatial mean;
    ``None`` out of core), ``Rs`` (the frames the seeding works on), ``Rb``
    (a copy of the baseline-subtracted frames kept for ``refine="full"`` out
    of core, else ``None``) and the baseline ``b0``.
    """
    if is_dask(Y):
        # a patch above patch_memory: its ≤ seed_frames frames are gathered
        # once, block by block, for the seeding and the refinement
        Yb = _binned_frames(Y, 1)
        b0 = np.percentile(Yb, p.baseline_percentile, axis=0).astype(np.float32)
        Yb -= b0
        Rs = _highpass(Yb, r)
        # the footprint refinement works on the binned movie minus the
        # baseline (not high-passed: see neuronmf.imaging._refine)
        Rb = Yb if refine == "full" else None
        del Yb
        return _OutOfCorePatch(Y, b0, r), None, Rs, Rb, b0
    Y = np.asarray(Y, dtype=np.float32)
    b0 = np.percentile(Y, p.baseline_percentile, axis=0).astype(np.float32)
    R = Y - b0
    Rh = _highpass(R, r)
    return R, Rh, Rh.copy(), None, b0


def _activity_seeds(
    Rs, r: float, p: SegmentParameters, limit: int, seeds: str, T, summary=None
):
    """Greedy seeds (step 2) and the first merge (step 4); none for ``"anatomy"``.

    ``summary`` (a dict) receives the seeding's correlation image.
    """
    _, h, w = Rs.shape
    if seeds != "anatomy":
        # seeds on the movie minus its local spatial mean (neuropil flattened)
        A, C, _ = greedy_seeds(
            Rs,
            r,
            max_neurons=limit,
            min_corr=p.min_corr,
            min_pnr=p.min_pnr,
            min_area=p.min_area,
            summary=summary,
        )
    else:
        A, C = np.zeros((0, h, w)), np.zeros((0, T))
    if len(A) > 1:
        # fragments of one soma (its dim rim left in the residual) before the
        # costly joint trace projection
        A, C, _groups = merge_duplicates(
            A, C, threshold=p.merge_threshold, dilation=p.merge_dilation
        )
    return A, C


def _refine_options(p: SegmentParameters, rank: int) -> dict:
    """The keywords of :func:`refine_footprints` from the parameters."""
    return {
        "smoothness": p.smoothness,
        "support_dilation": p.support_dilation,
        "sparsity": p.sparsity,
        "background_rank": rank,
        "sweeps": p.refine_iter,
        "prior": p.refine_prior,
    }


def _refine_discs(fit: dict, stay, D: np.ndarray, V, p: SegmentParameters):
    """Anatomical discs refined beside the components that stay (held fixed).

    ``refine="full"``: each disc is pulled towards itself with the weight of
    ``refine_prior`` (a silent cell keeps its disc, an active one follows
    its transients); the background is fitted jointly, as for the seeds.
    """
    Rr = fit["Rr"]
    A = np.concatenate([fit["A"][stay], D])
    Cd = np.maximum(_rows_times(D.reshape(len(D), -1), V), 0)
    C = np.concatenate([fit["C"][stay], Cd])
    hold = np.arange(len(A)) < len(stay)
    rank = max(fit["bg_W"].shape[1], 1)
    A, _ = refine_footprints(Rr, A, C, hold=hold, **_refine_options(p, rank))
    return A[len(stay) :]


def _fit_components(V, A, C, Rr, p: SegmentParameters, refine, rank: int):
    """Background and traces (``refine="traces"``), or footprints too (``"full"``).

    Step 3 and the second merge of step 4. ``V`` is the (pixels × time)
    refinement matrix, in memory or lazy; ``Rr`` the (frames, y, x)
    baseline-subtracted patch the footprints are refined on with
    ``refine="full"``.
    Returns ``A``, ``C``, ``bg_W``, ``bg_H``.
    """
    K = len(A)
    T = V.shape[1]
    bg_W = np.maximum(_row_means(V), 1e-6)
    bg_W = np.repeat(bg_W, rank, axis=1) * (1 + 0.01 * np.arange(rank))
    bg_H = np.ones((rank, T))
    if refine == "full" and K:  # joint traces of the seeds
        C = np.asarray(project(V, A.reshape(K, -1).T))
    if refine == "full" and K:
        # footprints from the seeds with a jointly fitted local background
        # (neuronmf.imaging._refine); background and traces then as "traces".
        # Duplicates are merged first, on the jointly projected traces: once
        # refined, two seeds of one soma split it and no longer correlate
        A, C, _groups = merge_duplicates(
            A, C, threshold=p.merge_threshold, dilation=p.merge_dilation
        )
        K = len(A)
        A, _ = refine_footprints(Rr, A, C, **_refine_options(p, rank))
        C = np.asarray(project(V, A.reshape(K, -1).T))
    if refine and K:
        C, bg_W, bg_H = _fit_traces(V, A.reshape(K, -1).T, C, bg_W, bg_H, rank)
    if K:
        A, C, _groups = merge_duplicates(
            A, C, threshold=p.merge_threshold, dilation=p.merge_dilation
        )
        if refine and len(A) < K:
            Wm = A.reshape(len(A), -1).T
            C = np.asarray(project(_residual(V, bg_W, bg_H), Wm))
    return A, C, bg_W, bg_H


def _add_anatomy(fit: dict, R, V, r: float, p: SegmentParameters, anat: dict, spare):
    """Anatomical candidates joined to the activity components (step 6), in place.

    ``fit`` holds ``A``, ``C``, ``bg_W``, ``bg_H``, ``centroid``, ``origin``,
    ``ring`` and ``activity`` of the activity components, and their
    ``reasons``; ``spare``
    is how many components the patch may still take. Candidates kept are
    appended as discs, the traces of all components are fitted again jointly
    (``fit["refine"]``), and a rejected activity component within one radius
    of a chosen candidate gives way (its trace is no longer fitted).
    """
    A, C = fit["A"], fit["C"]
    K = len(A)
    h, w = anat["response"].shape
    peaks, cring = anat["peaks"], anat["ring"]
    cact = _evidence(R, peaks, r)
    z = anatomy_score(cring, cact, p.anatomy_activity_weight)
    ok = z >= p.anatomy_threshold
    kept = np.array([not why for why in fit["reasons"]], bool)
    dist = np.full((len(peaks), K), np.inf)
    if K:
        cen = fit["centroid"]
        dist = np.nan_to_num(
            np.hypot(*(peaks[:, None, :] - cen[None, :, :]).transpose(2, 0, 1)),
            nan=np.inf,
        )
        # a kept activity component within r of a candidate wins
        ok &= (dist[:, kept] >= r).all(1)
    idx = np.nonzero(ok)[0]
    idx = idx[np.argsort(-z[idx], kind="stable")][: max(spare, 0)]
    # a rejected activity component within r of a chosen candidate gives way
    replaced = ~kept & (dist[idx] < r).any(0)
    if not len(idx):
        return
    D = disc_footprints(peaks[idx], (h, w), r)
    stay = np.nonzero(~replaced)[0]
    if fit["refine"] == "full" and fit["Rr"] is not None:
        D = _refine_discs(fit, stay, D, V, p)
    W = np.concatenate([A[stay], D]).reshape(len(stay) + len(idx), -1).T
    Dm = D.reshape(len(idx), -1)
    C0 = np.concatenate([C[stay], np.maximum(_rows_times(Dm, V), 0)])
    if fit["refine"] and fit["bg_W"].shape[1]:  # (none with the ring model)
        rank = fit["bg_W"].shape[1]
        C_all, fit["bg_W"], fit["bg_H"] = _fit_traces(
            V, W, C0, fit["bg_W"], fit["bg_H"], rank
        )
    else:
        C_all = np.concatenate([C[stay], np.asarray(project(V, W))[len(stay) :]])
    C = C.copy()
    C[stay] = C_all[: len(stay)]
    fit["A"] = np.concatenate([A, D])
    fit["C"] = np.concatenate([C, C_all[len(stay) :]])
    fit["origin"] += ["anatomy"] * len(idx)
    fit["ring"] = np.concatenate([fit["ring"], cring[idx]])
    fit["activity"] = np.concatenate([fit["activity"], cact[idx]])


def _binned(Y, step: int) -> np.ndarray:
    """A patch's frames averaged in bins of ``step`` (float32; the incomplete last
    bin dropped), in memory or block by block from a dask patch."""
    if is_dask(Y):
        return _binned_frames(Y, step)
    T, h, w = Y.shape
    n = T // step
    frames = Y[: n * step].reshape(n, step, h, w)
    return frames.mean(axis=1, dtype=np.float64).astype(np.float32)


def _full_rate_traces(out: dict, Y, r: float, refine, p: SegmentParameters) -> dict:
    """Traces and background traces at the full frame rate of a patch detected
    on binned frames (in place on ``out``, which is returned).

    The exact NNLS fit of the full-rate frames as the detection sees them,
    baseline-subtracted and high-passed, ``Rh = (Y − b0) − G(Y − b0)``, on the
    footprints and (``refine``) the background footprints, jointly. ``Rh`` is
    never formed: its products with the footprints are those of the raw frames
    with ``f − Gᵀf`` (:func:`~neuronmf.imaging._filters.gaussian_frames_adjoint`),
    so the cost is one product of the patch with a few images instead of a
    spatial filter of every frame. Not clipped at zero (the detection's ``V``
    is): an unbiased trace of the noise. Without ``refine`` the background
    keeps its constant trace. The same product gives each mask's mean trace,
    and the components are judged again on their full-rate traces
    (:func:`_judge_full_rate`).
    """
    T, h, w = Y.shape
    A, bg = out["A"], out["bg_W"]
    K, rank = len(A), len(bg)
    fit_bg = bool(refine) and rank > 0
    F = np.concatenate([A, bg]) if fit_bg else A
    n = len(F)
    out["bg_H"] = np.ones((rank, T))
    if not n:
        out["C"] = np.zeros((0, T))
        return out
    F64 = F.reshape(n, -1).astype(np.float64)
    Fh = (F - gaussian_frames_adjoint(F, 2 * r)).reshape(n, -1)
    # the masks' mean traces come out of the same product (quality, below)
    peak = A.max(axis=(1, 2), keepdims=True, initial=0.0)
    masks = (A >= 0.2 * np.maximum(peak, 1e-30)).reshape(K, h * w)
    means = masks / np.maximum(masks.sum(1, keepdims=True), 1)
    P = np.concatenate([Fh, means]).astype(np.float32)
    if is_dask(Y):
        M = Y.reshape(T, h * w).T  # lazy (pixels × time)
        B = _rows_times(P, M).astype(np.float64)
    else:
        B = (Y.reshape(T, h * w) @ P.T).T.astype(np.float64)
    B, mask_means = B[:n], B[n:]
    B -= (Fh @ out["b0"].ravel().astype(np.float64))[:, None]
    H = nnls_gram(B, F64 @ F64.T)
    out["C"] = H[:K]
    if fit_bg:
        out["bg_H"] = H[K:]
    return _judge_full_rate(out, mask_means, p)


def _judge_full_rate(out: dict, mask_means: np.ndarray, p: SegmentParameters):
    """Quality of the full-rate traces (step 5 again), in place on ``out``.

    Binning smooths a trace's noise, so a fragment or a dim duplicate that fails
    step 5 at the full rate can pass it on the binned frames (2026-12-06: 5
    more edge fragments in the 512² × 3,000 benchmark). An activity component
    kept on the binned frames is rejected when its full-rate traces fail
    (``min_snr``, ``min_trace_corr``, the fragment test); one rejected stays
    rejected, and anatomical components are still judged on their area only.
    ``snr`` and ``trace_correlation`` report the full-rate traces.
    """
    A, C = out["A"], out["C"]
    measures, reasons = _judge(A, C, mean_trace_correlation(mask_means, C), p)
    for k, origin in enumerate(out["origin"]):
        if origin == "activity" and not out["reasons"][k]:
            out["reasons"][k] = reasons[k]
    out["measures"]["snr"] = measures["snr"]
    out["measures"]["trace_correlation"] = measures["trace_correlation"]
    return out


def _segment_patch(
    Y,
    r: float,
    p: SegmentParameters,
    n_neurons,
    background_rank: int,
    refine,
    seeds: str,
    anat: dict,
) -> dict:
    """Seeds → engine refinement → merging → quality (→ anatomy), on one patch.

    ``anat`` holds the patch's slice of the ring-response image (``"response"``)
    and the anatomical candidates whose peak lies in the patch core
    (``"peaks"`` in patch coordinates, ``"ring"``; empty unless ``seeds``
    includes anatomy).

    ``Y`` is a NumPy (time, y, x) patch, or a dask one (a patch above
    ``patch_memory``, chunked along time) that is never read whole: see
    :class:`~neuronmf.imaging._out_of_core._OutOfCorePatch`.

    Returns the components ``A`` (K, h, w) and ``C`` (K, T), the baseline
    ``b0``, the background ``bg_W`` (rank, h, w) and ``bg_H`` (rank, T), each
    component's ``origin``, its rejection ``reasons`` (``""`` when kept) and
    its named ``measures`` (``snr``, ``compactness``, ``trace_correlation``,
    ``area``, ``soma_response``, ``activity_evidence``, ``anatomy_score``),
    and the seeding's local ``correlation`` image (h, w) (``None`` with
    ``seeds="anatomy"``).
    """
    T, h, w = Y.shape
    # long movies are detected on frames averaged in bins of `step` (calcium
    # transients span several frames; averaging also lowers the noise)
    step = max(1, int(np.ceil(T / p.seed_frames)))
    if step > 1 and p.background != "ring":
        # every detection step on the binned frames (seeds, footprints,
        # merging, quality, anatomy): their cost follows the frames; then the
        # traces at the full rate, one product with the patch
        out = _segment_patch(
            _binned(Y, step), r, p, n_neurons, background_rank, refine, seeds, anat
        )
        return _full_rate_traces(out, Y, r, refine, p)
    ring = RingBackground(Y, r, p, step) if p.background == "ring" else None
    if ring is not None:  # one-photon: seeds on the movie minus its ring background
        (R, Rs, b0), Rh, Rb = ring.prepare(), None, None
    else:
        R, Rh, Rs, Rb, b0 = _prepare(Y, r, p, refine)
    cap = max(1, min(h * w, T) - background_rank - 1)
    limit = cap if n_neurons is None else min(n_neurons, cap)
    summary: dict = {}  # the seeding's correlation image, kept for the result
    A, C = _activity_seeds(Rs, r, p, limit, seeds, T, summary)
    del Rs
    if ring is not None:  # background, traces and footprints alternated
        A, C, R, V, b0 = ring.fit(A, C)
        bg_W, bg_H = np.zeros((h * w, 0)), np.zeros((0, T))
    else:
        # refinement data: baseline- and neuropil-flattened movie, clipped at
        # zero (out of core: a lazy matrix the engine reads block by block)
        if isinstance(R, _OutOfCorePatch):
            V = R.matrix()
        else:
            V = np.maximum(Rh, 0).reshape(T, -1).T.astype(np.float64)
        del Rh
        Rr = Rb if isinstance(R, _OutOfCorePatch) else R
        A, C, bg_W, bg_H = _fit_components(V, A, C, Rr, p, refine, background_rank)
    K = len(A)
    # activity components are accepted or rejected on the activity-only fit
    measures, reasons = _quality(A, C, R, p)
    cen = _centroids(A)
    at = np.nan_to_num(cen, nan=-1.0).round().astype(int)
    valid = (at[:, 0] >= 0) & (at[:, 1] >= 0)
    at = np.clip(at, 0, [h - 1, w - 1])
    resp = anat["response"]
    fit = {
        "A": A,
        "C": C,
        "bg_W": bg_W,
        "bg_H": bg_H,
        "refine": refine,
        # the frames refine="full" refines anatomical discs on (not with the ring)
        "Rr": None if ring is not None else Rr,
        "reasons": reasons,
        "centroid": cen,
        "origin": ["activity"] * K,
        "ring": np.where(valid, resp[at[:, 0], at[:, 1]], np.nan),
        "activity": np.where(valid, _evidence(R, at, r), np.nan),
    }
    if len(anat["peaks"]):
        _add_anatomy(fit, R, V, r, p, anat, limit - K)
    if len(fit["A"]) > K:
        # quality values of the final traces; anatomical components are not
        # judged on activity: only their area counts
        measures, new_reasons = _quality(fit["A"], fit["C"], R, p)
        for why in new_reasons[K:]:
            reasons.append(
                "; ".join(x for x in why.split("; ") if x.startswith("area"))
            )
    measures["soma_response"] = fit["ring"]
    measures["activity_evidence"] = fit["activity"]
    measures["anatomy_score"] = anatomy_score(
        fit["ring"], fit["activity"], p.anatomy_activity_weight
    )
    return {
        "A": fit["A"],
        "C": fit["C"],
        "b0": b0,
        "bg_W": fit["bg_W"].T.reshape(background_rank, h, w),
        "bg_H": fit["bg_H"],
        "origin": fit["origin"],
        "reasons": reasons,
        "measures": measures,
        "correlation": summary.get("correlation"),
    }
