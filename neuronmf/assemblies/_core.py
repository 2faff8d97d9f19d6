"""Neural assemblies: groups of neurons that fire together, by KL (Poisson) NMF.

``V`` (neuron × time counts) ≈ W·H with a Poisson likelihood: column k of W is
assembly k's membership weights (unit ℓ2 norm), row k of H its activation.
For comparison, :func:`detect_ica` implements the PCA/ICA method of
Lopes-dos-Santos, Ribeiro & Tort (2013): z-score, count eigenvalues of the
correlation matrix above the Marchenko–Pastur bound, and unmix that subspace
with FastICA.

The seams: :mod:`._input` (spike trains and arrays in), :mod:`._kind` (what the
activity is and what to factorise), :mod:`._ica` (the PCA/ICA method),
:mod:`._significance` (members, statistic and the circular-shift null); the rank
is chosen by :func:`neuronmf.select_rank` (model selection), never here.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import xarray as xr

from neuronmf._provenance import result_attrs
from neuronmf.assemblies._ica import detect_ica, marchenko_pastur_count
from neuronmf.assemblies._input import (
    _as_counts,
    _axis_coords,
    bin_spikes,
    refuse_constant,
)
from neuronmf.assemblies._kind import (
    KINDS,
    _prepare,
)
from neuronmf.assemblies._significance import (
    _members,
    _participation,
    _shift_null,
    _statistics,
)
from neuronmf.assemblies._sparse import as_sparse_counts, prepare_sparse
from neuronmf.assemblies._sparse import marchenko_pastur_count as sparse_mp_count
from neuronmf.engine import nmf
from neuronmf.errors import input_error
from neuronmf.io.activity import SparseActivity

__all__ = ["bin_spikes", "detect", "detect_ica", "marchenko_pastur_count"]

SIGNIFICANCE_TEST = (
    "mean pairwise correlation of members; null: every neuron circularly shifted "
    "by its own offset, NMF refitted at the same rank, members re-chosen, maximum "
    "over components (family-wise over components)"
)


def detect(
    activity,
    *,
    rank: int | str = "auto",
    rank_method: str = "mp",
    ranks=range(1, 11),
    loss: str = "auto",
    kind: str = "auto",
    baseline_percentile: float = 8.0,
    baseline_window: float = 60.0,
    bin_width: float | None = None,
    threshold: float | str = "uniform",
    n_surrogates: int = 100,
    alpha: float = 0.05,
    max_participation: float = 0.75,
    n_restarts: int = 3,
    max_iter: int = 300,
    time_dim: str = "time",
    seed: int | None = 0,
    progress: bool = False,
) -> xr.Dataset:
    """Find neural assemblies by NMF of (time, neuron) activity.

    Parameters
    ----------
    activity : xarray.DataArray (time, neuron), array (time, neuron), \
scipy.sparse (time, neuron), or list of spike-time arrays (then ``bin_width`` \
is required)
        Non-negative counts or rates (e.g. ``neuronmf.io.load_activity``). A
        ``scipy.sparse`` matrix or array (any format) is time × neuron, as an
        array is; it is never densified: the fit runs on its non-zeros
        (``neuronmf.nmf`` on sparse input), correlations come from the sparse
        Gram matrix, and the surrogates shift the stored entries. Sparse input
        takes ``kind`` "counts", "deconvolved" or "auto" (refused:
        "fluorescence" and "dff", which need a dense ΔF/F); ``rank_method="cv"``
        runs ``select_rank(method="cv")`` on the sparse counts (held-out entries,
        zeros included, stored sparsely); coordinates are 0, 1, … . The result
        equals the dense array's to rounding. The
        ``SparseActivity`` of ``load_activity(..., sparse=True)`` is taken as
        it is, with its coordinates and recorded kind.
    rank : int or "auto"
        Number of NMF components. ``"auto"`` chooses it by ``rank_method``.
    rank_method : {"mp", "cv"}, default "mp"
        ``"mp"``: the Marchenko–Pastur count of the z-scored activity (the
        assembly count of Lopes-dos-Santos et al.) plus one component for
        background firing (capped by ``max(ranks)``). ``"cv"``: exactly
        ``neuronmf.select_rank(V, ranks, method="cv", loss=loss, seed=seed)``
        (speckled masks, 10 % held out, 5 repeats; held-out Poisson deviance
        of the prediction shrunk towards each neuron's rate; 1-SE rule; see
        docs/model_selection.md), so ``neuronmf rank --method cv`` picks the
        same rank on the same counts.
    ranks : iterable of int
        Candidates for ``rank="auto"``.
    loss : {"auto", "kl", "frobenius"}, default "auto"
        KL (Poisson) for counts and deconvolved activity, Frobenius for ΔF/F
        (``"auto"`` chooses by ``kind``).
    kind : {"auto", "counts", "fluorescence", "dff", "deconvolved"}, default "auto"
        What the activity is. ``"auto"`` uses the ``activity_kind`` attribute the
        loader records (NWB Units → counts; RoiResponseSeries in ``Fluorescence``
        → fluorescence, in ``DfOverF`` → dff; a series named like Deconvolved /
        spikes → deconvolved; ``units`` "spikes" → counts); otherwise it infers
        conservatively and warns: non-negative integers → counts; strictly
        positive with median over neurons of (8th percentile / SD) ≥ 2.5 →
        fluorescence; negative values → refused (pass ``"dff"``); else
        deconvolved (used as given). ``"fluorescence"`` is converted to ΔF/F =
        (F − F0)/F0 clipped at 0, F0 a running ``baseline_percentile``
        percentile over ``baseline_window`` seconds per neuron
        (``scipy.ndimage.percentile_filter``), or the whole recording's
        percentile per neuron when it is shorter than two windows or has no
        time step; refused if any F0 ≤ 0. ``"dff"`` is clipped at 0.
    baseline_percentile : float, default 8
    baseline_window : float, default 60
        Seconds; see ``kind``.
    bin_width : float, optional
        Bin width (s) when ``activity`` is spike times.
    threshold : "uniform" or float, default "uniform"
        Member rule. ``"uniform"``: neuron i belongs to assembly k if its
        weight W[i, k] > 1/√N (the weight every neuron would have if the
        unit-norm pattern were spread evenly over all N neurons). A number t:
        W[i, k] > mean(W[:, k]) + t · SD(W[:, k]) (the rule used for ICA
        patterns by Lopes-dos-Santos et al.).
    n_surrogates : int, default 100
        Surrogates for the significance test. The statistic is the mean
        pairwise Pearson correlation of a component's members. Each surrogate
        circularly shifts every neuron by its own offset (keeping each neuron's
        baseline, distribution and autocorrelation, destroying co-activation;
        every pair at least T/(2N) bins out of register), refits NMF at the
        same rank, re-chooses members and keeps the largest statistic over
        components. p_k = (1 + #{surrogate max ≥ observed_k}) / (1 +
        n_surrogates): family-wise over components, and the choice of members
        is inside the null. Costs one NMF fit per surrogate.
    alpha : float, default 0.05
        A component is ``coactive`` if p < alpha and it has ≥ 2 members.
    max_participation : float, default 0.75
        A component whose participation ratio (Σw)²/Σw², as a fraction of the
        number of neurons, exceeds this is non-specific (spread over nearly all
        neurons: a shared signal, not an assembly) and is not ``significant``.
    n_restarts, max_iter
        NMF restarts and iteration budget.
    time_dim : str
    seed : int, optional
    progress : bool
        tqdm progress bar over the rank scan.

    Returns
    -------
    xarray.Dataset
        ``membership`` (neuron, assembly) unit-norm weights; ``members``
        (neuron, assembly) bool; ``activations`` (assembly, time);
        ``n_members``, ``statistic``, ``p_value``, ``participation``,
        ``specific``, ``coactive`` and ``significant`` (= coactive and
        specific) (assembly); with ``rank="auto"`` also ``rank_scores`` (rank)
        and ``rank_scores_se``. Attributes record the rules and options,
        ``activity_kind``, ``activity_kind_source`` and ``preprocessing``
        (NetCDF-safe).

    Notes
    -----
    NMF cannot take z-scores (the PCA/ICA method's input); it models the raw
    counts with a Poisson likelihood, so weights are non-negative and an
    assembly is a set of neurons whose rates rise together. Raw fluorescence
    must not be factorised as it is: its per-neuron baselines dominate and
    come out as a component spread over every neuron.

    Examples
    --------
    >>> import numpy as np, neuronmf as nm
    >>> rng = np.random.default_rng(0)
    >>> H = (rng.random((2, 3000)) < 0.05) * 4.0
    >>> W = np.zeros((20, 2)); W[:6, 0] = 1; W[10:16, 1] = 1
    >>> X = rng.poisson(W @ H + 0.2).T
    >>> ds = nm.assemblies.detect(X, rank=2, n_surrogates=20, kind="counts")
    >>> sorted(int(ds.n_members[k]) for k in range(2))
    [6, 6]
    >>> ds.attrs["activity_kind"], bool(ds.significant.all())
    ('counts', True)
    """
    from neuronmf.engine import _validation as check

    # plain options first, refused rather than coerced (issue 21 defect 7)
    time_dim = check.check_str("time_dim", time_dim)
    progress = check.check_bool("progress", progress)
    seed = check.check_seed("seed", seed)
    opts = _check_options(
        alpha=alpha,
        baseline_percentile=baseline_percentile,
        baseline_window=baseline_window,
        max_participation=max_participation,
        bin_width=bin_width,
        threshold=threshold,
        rank=rank,
        loss=loss,
        kind=kind,
        n_surrogates=n_surrogates,
    )
    threshold, rank, bin_width = opts["threshold"], opts["rank"], opts["bin_width"]
    coords = None
    if isinstance(activity, SparseActivity):  # load_activity(..., sparse=True)
        activity, coords = activity.counts, activity.coords
    sparse = sp.issparse(activity)
    if sparse:  # kept sparse throughout (see _sparse): never densified
        A, X = as_sparse_counts(activity, coords)
        kind, kind_source, preprocessing = prepare_sparse(X, kind, A.attrs)
    else:
        A = _as_counts(activity, bin_width, time_dim)
        X, kind, kind_source, preprocessing = _prepare(
            A, kind, opts["baseline_percentile"], opts["baseline_window"]
        )
    if loss == "auto":
        loss = "kl" if kind in ("counts", "deconvolved") else "frobenius"
    n_t, n_n = X.shape
    if n_n < 2 or n_t < 10:
        raise input_error(
            "activity", "at least 2 neurons and 10 time bins", f"shape {X.shape}"
        )
    if not (X.nnz if sparse else np.any(X)):
        raise input_error("activity", "not all zero", "all zeros")
    refuse_constant(X, "co-varies with nothing")
    V = sp.csr_array(X.T) if sparse else X.T
    if rank_method not in ("mp", "cv"):
        raise input_error("rank_method", "'mp' or 'cv'", rank_method)
    mp_count = sparse_mp_count(X) if sparse else marchenko_pastur_count(X)
    r, scan = _choose_rank(V, rank, rank_method, ranks, mp_count, loss, seed, progress)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*stopped at max_iter.*")
        res = nmf(V, r, loss=loss, n_restarts=n_restarts, seed=seed, max_iter=max_iter)
    W, H = np.asarray(res.W), np.asarray(res.H)
    members, thr = _members(W, threshold)
    stat = _statistics(X, members)
    p = _p_values(X, r, stat, loss, threshold, n_surrogates, seed, max_iter, progress)
    ds = _dataset(A, W, H, members, thr, stat, p, alpha, max_participation, scan=scan)
    call = {
        "rank": rank,
        "rank_method": rank_method,
        "ranks": _as_list(ranks),
        "loss": loss,
        "kind": kind,
        "baseline_percentile": opts["baseline_percentile"],
        "baseline_window": opts["baseline_window"],
        "bin_width": bin_width,
        "threshold": threshold,
        "n_surrogates": n_surrogates,
        "alpha": alpha,
        "max_participation": max_participation,
        "n_restarts": n_restarts,
        "max_iter": max_iter,
        "time_dim": time_dim,
    }
    ds.attrs.update(_attrs(A, res, call, r, seed, kind_source, preprocessing, mp_count))
    return ds


def _attrs(A, res, params, r, seed, kind_source, preprocessing, mp_count) -> dict:
    """The result's attributes: the ones every result carries, then the rules."""
    rank, rank_method, loss = params["rank"], params["rank_method"], params["loss"]
    threshold, bin_width = params["threshold"], params["bin_width"]
    max_participation, kind = params["max_participation"], params["kind"]
    if rank != "auto":
        rank_rule = "given"
    elif rank_method == "mp":
        rank_rule = "Marchenko-Pastur count + 1 (background)"
    else:
        rank_rule = "select_rank(method='cv'): 1-SE rule on held-out deviance"
    source = A.attrs.get("source")
    return {
        **result_attrs(
            "assemblies",
            params=params,
            seed=seed,
            loss=loss,
            solver=str(res.params.get("solver", "auto")),
            source=source if isinstance(source, str) else None,
        ),
        "method": "nmf",
        "rank": int(r),
        "rank_rule": rank_rule,
        "member_rule": "W[i,k] > 1/sqrt(n_neurons)"
        if threshold == "uniform"
        else f"W[i,k] > mean(W[:,k]) + {threshold:g}*SD(W[:,k])",
        "activity_kind": kind,
        "activity_kind_source": kind_source,
        "preprocessing": preprocessing,
        "significance_test": SIGNIFICANCE_TEST,
        "specific_rule": "participation ratio (sum w)^2/sum w^2 <= "
        f"{max_participation:g} * n_neurons",
        "max_participation": float(max_participation),
        "n_surrogates": int(params["n_surrogates"]),
        "alpha": float(params["alpha"]),
        "n_restarts": int(params["n_restarts"]),
        "bin_width": float(A.attrs.get("bin_width", bin_width or np.nan)),
        "marchenko_pastur_count": int(mp_count),
    }


def _as_list(ranks):
    try:
        return [int(r) for r in ranks]
    except (TypeError, ValueError):
        return repr(ranks)


def _check_options(
    *,
    alpha,
    baseline_percentile,
    baseline_window,
    max_participation,
    bin_width,
    threshold,
    rank,
    loss,
    kind,
    n_surrogates,
) -> dict:
    """``detect``'s options checked before any work; the numbers as floats."""
    from neuronmf.engine import _validation as check

    if not 0 < check.check_real("alpha", alpha) < 1:
        raise input_error("alpha", "a significance level in (0, 1)", repr(alpha))
    baseline_percentile = check.check_real("baseline_percentile", baseline_percentile)
    baseline_window = check.check_real("baseline_window", baseline_window)
    max_participation = check.check_real("max_participation", max_participation)
    if bin_width is not None:
        bin_width = check.check_real("bin_width", bin_width, 0.0, strict=True)
    if not isinstance(threshold, str):
        threshold = check.check_real("threshold", threshold)
    if not isinstance(rank, str):
        rank = check.check_int("rank", rank, 1)
    if loss not in ("auto", "kl", "frobenius"):
        raise input_error("loss", "'auto', 'kl' or 'frobenius'", loss)
    if kind not in ("auto", *KINDS):
        raise input_error("kind", "'auto', " + ", ".join(repr(k) for k in KINDS), kind)
    if not (isinstance(n_surrogates, (int, np.integer)) and n_surrogates >= 0):
        raise input_error("n_surrogates", "an integer >= 0", n_surrogates)
    if threshold != "uniform" and not isinstance(threshold, (int, float)):
        raise input_error("threshold", "'uniform' or a number", threshold)
    if not (0 < baseline_percentile < 50):
        raise input_error(
            "baseline_percentile", "a number in (0, 50)", baseline_percentile
        )
    if not (isinstance(baseline_window, (int, float)) and baseline_window > 0):
        raise input_error(
            "baseline_window", "a positive number of seconds", baseline_window
        )
    if not (0 < max_participation <= 1):
        raise input_error("max_participation", "a number in (0, 1]", max_participation)
    return {
        "baseline_percentile": float(baseline_percentile),
        "baseline_window": float(baseline_window),
        "bin_width": bin_width,
        "threshold": threshold,
        "rank": rank,
    }


def _choose_rank(V, rank, rank_method, ranks, mp_count, loss, seed, progress):
    """The rank to fit, and the CV scan ``(ranks, mean, se)`` when one was run.

    ``"cv"`` is exactly :func:`neuronmf.select_rank` (its masks, held-out
    deviance and 1-SE rule, through model selection's runner), so ``neuronmf
    rank --method cv`` picks the same rank on the same counts.
    """
    n_n, n_t = V.shape
    if rank == "auto" and rank_method == "mp":
        return int(min(mp_count + 1, max(ranks), n_n, n_t)), None
    if rank == "auto":
        cand = sorted({int(r) for r in ranks if 1 <= int(r) <= min(n_n, n_t)})
        if not cand:
            raise input_error("ranks", f"integers in [1, {min(n_n, n_t)}]", list(ranks))
        from neuronmf.model_selection import select_rank

        rank_scan = select_rank(
            V, cand, method="cv", loss=loss, seed=seed, progress=progress
        )
        sc = rank_scan.scores
        return int(rank_scan.best_rank), (
            cand,
            sc["cv_mean"].values,
            sc["cv_se"].values,
        )
    if not (isinstance(rank, (int, np.integer)) and 1 <= rank <= min(n_n, n_t)):
        raise input_error("rank", f"an integer in [1, {min(n_n, n_t)}] or 'auto'", rank)
    return int(rank), None


def _p_values(X, r, stat, loss, threshold, n_surrogates, seed, max_iter, progress):
    """Family-wise p-value of each component's statistic against the shift null."""
    p = np.full(r, np.nan)
    if n_surrogates > 0 and np.any(np.isfinite(stat)):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*stopped at max_iter.*")
            null = _shift_null(
                X,
                r,
                loss=loss,
                threshold=threshold,
                n_surrogates=int(n_surrogates),
                rng=np.random.default_rng(seed),
                seed=seed,
                max_iter=max_iter,
                progress=progress,
            )
        ok = np.isfinite(stat)
        p[ok] = (1 + (null[None, :] >= stat[ok, None]).sum(1)) / (1 + n_surrogates)
    return p


def _dataset(A, W, H, members, thr, stat, p, alpha, max_participation, *, scan):
    """The result's variables and coordinates (attrs are added by ``detect``)."""
    n_members = members.sum(0)
    participation = _participation(W)
    specific = participation <= max_participation
    coactive = (p < alpha) & (n_members >= 2)
    n_flat = int(np.sum(coactive & ~specific))
    if n_flat:
        warnings.warn(
            f"assemblies.detect: {n_flat} co-active component(s) spread over "
            f"(nearly) all neurons (participation ratio > {max_participation:g} of "
            "N); reported as non-specific (a shared signal such as neuropil, "
            "baseline drift or global state), not as assemblies.",
            UserWarning,
            stacklevel=3,
        )
    ds = xr.Dataset(
        {
            "membership": (("neuron", "assembly"), W),
            "members": (("neuron", "assembly"), members),
            "activations": (("assembly", "time"), H),
            "n_members": (("assembly",), n_members),
            "statistic": (("assembly",), stat),
            "p_value": (("assembly",), p),
            "participation": (("assembly",), participation),
            "specific": (("assembly",), specific),
            "coactive": (("assembly",), coactive),
            "significant": (("assembly",), coactive & specific),
            "threshold": (("assembly",), thr),
        },
        coords={
            **_axis_coords(A),
            "assembly": np.arange(W.shape[1]),
        },
    )
    if scan is not None:
        ds = ds.assign_coords(rank=scan[0])
        ds["rank_scores"] = ("rank", scan[1])
        ds["rank_scores_se"] = ("rank", scan[2])
    return ds
