"""Neural assemblies: groups of neurons that fire together, by KL (Poisson) NMF.

``V`` (neuron × time counts) ≈ W·H with a Poisson likelihood: column k of W is
assembly k's membership weights (unit ℓ2 norm), row k of H its activation.
For comparison, :func:`detect_ica` implements the PCA/ICA method of
Lopes-dos-Santos, Ribeiro & Tort (2013): z-score, count eigenvalues of the
correlation matrix above the Marchenko–Pastur bound, and unmix that subspace
with FastICA.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from neuronmf.engine import nmf
from neuronmf.errors import input_error
from neuronmf.io.activity import bin_spikes as _io_bin_spikes

__all__ = ["bin_spikes", "detect", "detect_ica", "marchenko_pastur_count"]


def bin_spikes(spike_times, bin_width: float, *, start=None, stop=None) -> xr.DataArray:
    """Bin spike trains into a (time, neuron) count DataArray.

    .. deprecated::
        Kept for compatibility; the one implementation is
        :func:`neuronmf.io.activity.bin_spikes` (flat spike times with unit labels,
        returning ``(counts, bin centres, units)``), which this function calls.

    This alias keeps its own anchoring: by default the first bin starts at the
    first spike (``start``) and the bins cover ``[start, stop]`` with a partial
    last bin kept and a spike at exactly the last edge counted in the last bin.
    :func:`neuronmf.io.activity.bin_spikes` instead anchors bins on multiples of
    ``bin_width`` by default (so bins line up across recordings, the better
    choice for new code) and drops a partial last bin when ``t_stop`` is given.
    With ``start`` and ``stop`` a whole number of bins apart the two give the
    same counts; a spike lying exactly on an inner bin edge may fall one bin
    apart from the earlier ``np.histogram`` version (floating-point rounding of
    the edge, either side is as right).

    Parameters
    ----------
    spike_times : sequence of 1-D arrays
        Spike times in seconds, one array per neuron.
    bin_width : float
        Bin width in seconds.
    start, stop : float, optional
        Time range (default: first and last spike).

    Examples
    --------
    >>> import numpy as np
    >>> counts = bin_spikes([np.array([0.01, 0.02, 0.15]), np.array([0.12])], 0.1,
    ...                     start=0.0, stop=0.2)
    >>> counts.values.tolist()
    [[2.0, 0.0], [1.0, 1.0]]
    """
    if not (isinstance(bin_width, (int, float)) and bin_width > 0):
        raise input_error("bin_width", "a positive number of seconds", bin_width)
    trains = [np.asarray(s, dtype=float).ravel() for s in spike_times]
    if not trains or not any(t.size for t in trains):
        raise input_error("spike_times", "at least one spike", "no spikes")
    times = np.concatenate(trains)
    labels = np.repeat(np.arange(len(trains)), [t.size for t in trains])
    finite = times[np.isfinite(times)]
    lo = float(finite.min()) if start is None else float(start)
    hi = float(finite.max()) if stop is None else float(stop)
    n = max(1, int(np.ceil((hi - lo) / bin_width - 1e-9)))
    # The old histogram's last edge was closed: a spike exactly on it is counted
    # in the last bin (moved to that bin's centre before the half-open binning).
    times = np.where(times == lo + bin_width * n, lo + bin_width * (n - 0.5), times)
    counts, centres, _ = _io_bin_spikes(
        times,
        labels,
        float(bin_width),
        units=np.arange(len(trains)),
        t_start=lo,
        t_stop=lo + (n + 0.5) * bin_width,  # exactly n bins, whatever the rounding
    )
    return xr.DataArray(
        counts.astype(float),
        dims=("time", "neuron"),
        coords={"time": centres, "neuron": np.arange(len(trains))},
        attrs={"bin_width": float(bin_width), "units": "spikes per bin"},
    )


def _as_counts(activity, bin_width, time_dim: str) -> xr.DataArray:
    if isinstance(activity, xr.DataArray):
        if time_dim not in activity.dims or activity.ndim != 2:
            raise input_error(
                "activity",
                f"a 2-D DataArray with a {time_dim!r} dim",
                str(activity.dims),
            )
        other = next(d for d in activity.dims if d != time_dim)
        A = activity.transpose(time_dim, other).rename(
            {time_dim: "time", other: "neuron"}
        )
        if "time" not in A.coords:
            A = A.assign_coords(time=np.arange(A.sizes["time"]))
        if "neuron" not in A.coords:
            A = A.assign_coords(neuron=np.arange(A.sizes["neuron"]))
        return A.astype(float)
    if (
        isinstance(activity, (list, tuple))
        and activity
        and np.ndim(activity[0]) == 1
        and (bin_width is not None)
    ):
        return bin_spikes(activity, bin_width)
    a = np.asarray(activity, dtype=float)
    if a.ndim != 2:
        raise input_error(
            "activity",
            "(time, neuron) counts, a DataArray, or spike-time arrays with bin_width",
            f"shape {a.shape}",
        )
    return xr.DataArray(
        a,
        dims=("time", "neuron"),
        coords={"time": np.arange(a.shape[0]), "neuron": np.arange(a.shape[1])},
    )


def _axis_coords(A: xr.DataArray) -> dict:
    """The ``neuron`` and ``time`` coordinates of ``A``, with any extra coordinate
    along one of them (unit ``location``, ``electrodes``, ``quality``, ...), so
    that unit metadata reaches the result."""
    coords: dict = {"neuron": A["neuron"].values, "time": A["time"].values}
    for name, c in A.coords.items():
        if name not in coords and c.ndim == 1 and c.dims[0] in ("neuron", "time"):
            coords[name] = (c.dims[0], c.values, dict(c.attrs))
    return coords


def marchenko_pastur_count(counts) -> int:
    """Number of correlation-matrix eigenvalues above (1 + √(N/B))².

    Parameters
    ----------
    counts : array of shape (time, neuron)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> marchenko_pastur_count(rng.poisson(1.0, (5000, 30)))
    0
    """
    Z = _zscore(np.asarray(counts, dtype=float))
    B, N = Z.shape
    ev = np.linalg.eigvalsh(Z.T @ Z / B)
    return int(np.sum(ev > (1 + np.sqrt(N / B)) ** 2))


def _zscore(a: np.ndarray) -> np.ndarray:
    sd = a.std(axis=0)
    sd[sd == 0] = 1.0
    return (a - a.mean(axis=0)) / sd


def detect_ica(
    activity, *, n_assemblies: int | None = None, seed: int = 0
) -> xr.Dataset:
    """Assemblies by the PCA/ICA method (Lopes-dos-Santos et al. 2013).

    Z-scores the counts, counts assemblies with :func:`marchenko_pastur_count`
    (unless ``n_assemblies`` is given), and unmixes the leading principal
    subspace with scikit-learn's FastICA. Patterns have unit norm and are signed
    so that their largest-magnitude weight is positive.

    Returns
    -------
    xarray.Dataset
        ``membership`` (neuron, assembly) and ``activations`` (assembly, time)
        (the projection of the z-scored activity on each pattern).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.poisson(1.0, (2000, 20)).astype(float)
    >>> X[:, :5] += rng.poisson(3.0, (2000, 1)) * (rng.random((2000, 1)) < 0.1)
    >>> ds = detect_ica(X)
    >>> ds.sizes["assembly"]
    1
    """
    from sklearn.decomposition import PCA, FastICA

    A = _as_counts(activity, None, "time")
    Z = _zscore(A.values)
    k = marchenko_pastur_count(A.values) if n_assemblies is None else int(n_assemblies)
    k = max(k, 1)
    pcs = PCA(n_components=k, random_state=seed).fit(Z)
    P = pcs.components_.T  # (neuron, k)
    scores = Z @ P
    ica = FastICA(
        n_components=k, random_state=seed, whiten="unit-variance", max_iter=1000
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ica.fit(scores)
    patterns = P @ ica.components_.T  # (neuron, k)
    patterns /= np.linalg.norm(patterns, axis=0, keepdims=True)
    sign = np.sign(patterns[np.abs(patterns).argmax(axis=0), np.arange(k)])
    patterns *= sign
    return xr.Dataset(
        {
            "membership": (("neuron", "assembly"), patterns),
            "activations": (("assembly", "time"), (Z @ patterns).T),
        },
        coords={
            **_axis_coords(A),
            "assembly": np.arange(k),
        },
        attrs={
            "method": "pca-ica (Lopes-dos-Santos et al. 2013)",
            "n_assemblies": int(k),
        },
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
    activity : xarray.DataArray (time, neuron), array (time, neuron), or list of
        spike-time arrays (then ``bin_width`` is required)
        Non-negative counts or rates (e.g. ``neuronmf.io.load_activity``).
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
    A = _as_counts(activity, bin_width, time_dim)
    X, kind, kind_source, preprocessing = _prepare(
        A, kind, float(baseline_percentile), float(baseline_window)
    )
    if loss == "auto":
        loss = "kl" if kind in ("counts", "deconvolved") else "frobenius"
    n_t, n_n = X.shape
    if n_n < 2 or n_t < 10:
        raise input_error(
            "activity", "at least 2 neurons and 10 time bins", f"shape {X.shape}"
        )
    if not np.any(X):
        raise input_error("activity", "not all zero", "all zeros")
    V = X.T
    scan = None
    if rank_method not in ("mp", "cv"):
        raise input_error("rank_method", "'mp' or 'cv'", rank_method)
    mp_count = marchenko_pastur_count(X)
    if rank == "auto" and rank_method == "mp":
        r = int(min(mp_count + 1, max(ranks), n_n, n_t))
    elif rank == "auto":
        cand = sorted({int(r) for r in ranks if 1 <= int(r) <= min(n_n, n_t)})
        if not cand:
            raise input_error("ranks", f"integers in [1, {min(n_n, n_t)}]", list(ranks))
        # the one held-out score of neuronmf.select_rank (same masks, same
        # shrunk Poisson deviance, same 1-SE rule): the two always agree
        from neuronmf.model_selection import select_rank

        rank_scan = select_rank(
            V, cand, method="cv", loss=loss, seed=seed, progress=progress
        )
        r = int(rank_scan.best_rank)
        sc = rank_scan.scores
        scan = (cand, sc["cv_mean"].values, sc["cv_se"].values)
    else:
        if not (isinstance(rank, (int, np.integer)) and 1 <= rank <= min(n_n, n_t)):
            raise input_error(
                "rank", f"an integer in [1, {min(n_n, n_t)}] or 'auto'", rank
            )
        r = int(rank)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*stopped at max_iter.*")
        res = nmf(V, r, loss=loss, n_restarts=n_restarts, seed=seed, max_iter=max_iter)
    W, H = np.asarray(res.W), np.asarray(res.H)
    if threshold == "uniform":
        rule = "W[i,k] > 1/sqrt(n_neurons)"
    else:
        rule = f"W[i,k] > mean(W[:,k]) + {threshold:g}*SD(W[:,k])"
    members, thr = _members(W, threshold)
    n_members = members.sum(0)
    stat = _statistics(X, members)
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
            stacklevel=2,
        )
    from neuronmf import __version__

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
            "assembly": np.arange(r),
        },
    )
    if scan is not None:
        ds = ds.assign_coords(rank=scan[0])
        ds["rank_scores"] = ("rank", scan[1])
        ds["rank_scores_se"] = ("rank", scan[2])
    ds.attrs.update(
        {
            "method": "nmf",
            "loss": loss,
            "rank": int(r),
            "rank_rule": "given"
            if rank != "auto"
            else "Marchenko-Pastur count + 1 (background)"
            if rank_method == "mp"
            else "select_rank(method='cv'): 1-SE rule on held-out deviance",
            "member_rule": rule,
            "activity_kind": kind,
            "activity_kind_source": kind_source,
            "preprocessing": preprocessing,
            "significance_test": "mean pairwise correlation of members; null: "
            "every neuron circularly shifted by its own offset, NMF refitted at "
            "the same rank, members re-chosen, maximum over components "
            "(family-wise over components)",
            "specific_rule": "participation ratio (sum w)^2/sum w^2 <= "
            f"{max_participation:g} * n_neurons",
            "max_participation": float(max_participation),
            "n_surrogates": int(n_surrogates),
            "alpha": float(alpha),
            "n_restarts": int(n_restarts),
            "seed": int(seed) if seed is not None else -1,
            "bin_width": float(A.attrs.get("bin_width", bin_width or np.nan)),
            "marchenko_pastur_count": int(mp_count),
            "neuronmf_version": __version__,
        }
    )
    return ds


def _mean_corr(Y: np.ndarray) -> float:
    C = np.corrcoef(Y, rowvar=False)
    C = np.nan_to_num(C)
    k = C.shape[0]
    return float((C.sum() - np.trace(C)) / (k * (k - 1)))


# ------------------------------------------------------------ input kind
KINDS = ("counts", "fluorescence", "dff", "deconvolved")


def _infer_kind(A: xr.DataArray) -> tuple[str, str]:
    """The activity kind recorded by the loader, or a conservative guess.

    Returns ``(kind, source)`` where source says how the kind was decided.
    """
    recorded = A.attrs.get("activity_kind")
    if recorded in KINDS:
        return str(recorded), "recorded by the loader"
    if A.attrs.get("units") in ("spikes", "spikes per bin"):
        return "counts", "recorded by the loader (units: spikes)"
    X = A.values
    finite = X[np.isfinite(X)]
    if finite.size and np.all(finite == np.round(finite)) and finite.min() >= 0:
        return "counts", "inferred: values are non-negative integers"
    if finite.size and finite.min() > 0:
        p8 = np.percentile(X, 8, axis=0)
        sd = X.std(axis=0)
        ratio = float(np.median(p8 / np.where(sd > 0, sd, np.inf)))
        if ratio >= 2.5:
            return "fluorescence", (
                "inferred: strictly positive with a large per-neuron baseline "
                f"(median 8th percentile / SD = {ratio:.3g} >= 2.5)"
            )
    if finite.size and finite.min() < 0:
        raise input_error(
            "activity",
            "non-negative (counts, raw fluorescence or deconvolved activity)",
            f"min {finite.min():.3g}",
            "For dF/F traces pass kind='dff' (values below 0 are clipped at 0).",
        )
    return "deconvolved", (
        "inferred: non-negative, non-integer, no large baseline; used as given "
        "(deconvolved activity or rates)"
    )


def _bin_seconds(A: xr.DataArray) -> float | None:
    rate = A.attrs.get("rate")
    if isinstance(rate, (int, float)) and np.isfinite(rate) and rate > 0:
        return 1.0 / float(rate)
    bw = A.attrs.get("bin_width")
    if isinstance(bw, (int, float)) and np.isfinite(bw) and bw > 0:
        return float(bw)
    t = np.asarray(A["time"].values)
    if np.issubdtype(t.dtype, np.floating) and t.size > 1:
        dt = np.diff(t)
        if np.all(dt > 0):
            return float(np.median(dt))
    return None


def _delta_f_over_f(
    F: np.ndarray, dt: float | None, percentile: float, window: float
) -> tuple[np.ndarray, str]:
    """ΔF/F = (F − F0)/F0, clipped at 0, with F0 a low per-neuron percentile."""
    from scipy.ndimage import percentile_filter

    n_t = F.shape[0]
    w = None if dt is None else round(window / dt)
    if w is not None and n_t >= 2 * w and w >= 3:
        F0 = percentile_filter(F, percentile, size=(w, 1), mode="nearest")
        how = (
            f"running {percentile:g}th percentile over {window:g} s ({w} bins) "
            "per neuron"
        )
    else:
        F0 = np.broadcast_to(np.percentile(F, percentile, axis=0), F.shape)
        why = (
            "no time step known"
            if w is None
            else f"recording shorter than 2 x {window:g} s"
        )
        how = f"{percentile:g}th percentile of the whole recording per neuron ({why})"
    bad = np.flatnonzero(F0.min(axis=0) <= 0)
    if bad.size:
        raise input_error(
            "fluorescence baseline (low percentile per neuron)",
            "positive for ΔF/F",
            f"<= 0 for {bad.size} neuron(s), e.g. index {bad[:5].tolist()}",
            "The traces look background-subtracted or already normalised: pass "
            "kind='dff' (baseline already removed) or kind='deconvolved'.",
        )
    dff = np.maximum((F - F0) / F0, 0.0)
    return dff, f"dF/F = (F - F0)/F0 clipped at 0, F0 = {how}"


def _prepare(A, kind, baseline_percentile, baseline_window):
    """Resolve the kind, check the values, and return the matrix to factorise."""
    X = A.values
    if not np.all(np.isfinite(X)):
        raise input_error("activity", "finite (no NaN or Inf)", "non-finite values")
    if kind == "auto":
        kind, source = _infer_kind(A)
        if not source.startswith("recorded"):
            warnings.warn(
                f"assemblies.detect: activity kind {source} -> {kind!r}. Pass "
                "kind='counts', 'fluorescence', 'dff' or 'deconvolved' to say so.",
                UserWarning,
                stacklevel=3,
            )
    else:
        source = "given"
        recorded = A.attrs.get("activity_kind")
        if recorded in KINDS and recorded != kind:
            warnings.warn(
                f"assemblies.detect: kind={kind!r} overrides the file's {recorded!r}.",
                UserWarning,
                stacklevel=3,
            )
    if kind == "dff":
        return np.maximum(X, 0.0), kind, source, "dF/F as given, clipped at 0"
    if kind == "fluorescence":
        if np.any(X <= 0):
            raise input_error(
                "fluorescence",
                "strictly positive (raw F, for a ΔF/F baseline)",
                f"min {X.min():.3g}",
                "Pass kind='dff' for baseline-subtracted traces.",
            )
        Y, how = _delta_f_over_f(
            X, _bin_seconds(A), baseline_percentile, baseline_window
        )
        return Y, kind, source, how
    if np.any(X < 0):
        raise input_error(
            "activity",
            f"non-negative for kind={kind!r} (counts or rates)",
            f"min {X.min():.3g}",
            "Pass kind='dff' for dF/F traces with negative values.",
        )
    return X, kind, source, "used as given"


def _participation(W: np.ndarray) -> np.ndarray:
    """Participation ratio (Σw)² / Σw² of each column, as a fraction of N."""
    s2 = (W**2).sum(0)
    return np.where(s2 > 0, W.sum(0) ** 2 / np.where(s2 > 0, s2, 1.0), 0.0) / W.shape[0]


def _members(W: np.ndarray, threshold) -> tuple[np.ndarray, np.ndarray]:
    if threshold == "uniform":
        thr = np.full(W.shape[1], 1.0 / np.sqrt(W.shape[0]))
    else:
        thr = W.mean(0) + threshold * W.std(0)
    return W > thr, thr


def _statistics(Y: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Mean pairwise correlation of each component's members (NaN if < 2)."""
    out = np.full(members.shape[1], np.nan)
    for k in range(members.shape[1]):
        idx = np.flatnonzero(members[:, k])
        if idx.size >= 2:
            out[k] = _mean_corr(Y[:, idx])
    return out


def _unit_columns(W: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(W, axis=0)
    return W / np.where(n > 0, n, 1.0)


def _shift_null(
    Y, r, *, loss, threshold, n_surrogates, rng, seed, max_iter, progress
) -> np.ndarray:
    """Largest member correlation over the components of each surrogate's refit.

    Every neuron's series is circularly shifted by its own random offset (each
    neuron keeps its baseline, distribution and autocorrelation; co-activation is
    destroyed). The offsets are a random permutation of the lags 0, T/N, 2T/N, …
    (T bins, N neurons) plus a jitter of up to T/(2N), so that every pair of
    neurons is moved at least T/(2N) bins out of register; independent uniform
    offsets would leave some pair nearly aligned (so still co-active) in a sizeable
    fraction of surrogates and inflate the null. Then the whole detection (NMF
    at the same rank, the member rule, the statistic) is run again. The maximum
    over components makes the p-value account for the members having been
    chosen on the data and for testing several components.
    """
    n_t, n_n = Y.shape
    null = np.full(n_surrogates, -np.inf)
    it = range(n_surrogates)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="assemblies: surrogates", unit="refit")
    spacing = n_t // n_n
    for s in it:
        if spacing >= 2:
            # a random permutation of evenly spaced lags plus jitter: every pair
            # of neurons ends up at least spacing/2 bins out of register
            shifts = rng.permutation(n_n) * spacing + rng.integers(
                0, spacing // 2 + 1, n_n
            )
        else:
            shifts = rng.integers(0, n_t, n_n)
        rows = (np.arange(n_t)[:, None] - shifts[None, :]) % n_t
        Ys = Y[rows, np.arange(n_n)[None, :]]
        if not np.any(Ys):
            continue
        res = nmf(
            Ys.T,
            r,
            loss=loss,
            n_restarts=1,
            seed=seed,
            max_iter=min(max_iter, 100),
            tol=1e-4,
        )
        Ws = _unit_columns(np.asarray(res.W))
        stat = _statistics(Ys, _members(Ws, threshold)[0])
        if np.any(np.isfinite(stat)):
            null[s] = np.nanmax(stat)
    return null
