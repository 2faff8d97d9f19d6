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

__all__ = ["bin_spikes", "detect", "detect_ica", "marchenko_pastur_count"]


def bin_spikes(spike_times, bin_width: float, *, start=None, stop=None) -> xr.DataArray:
    """Bin spike trains into a (time, neuron) count DataArray.

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
    lo = min(t.min() for t in trains if t.size) if start is None else float(start)
    hi = max(t.max() for t in trains if t.size) if stop is None else float(stop)
    n = max(1, int(np.ceil((hi - lo) / bin_width - 1e-9)))
    edges = lo + bin_width * np.arange(n + 1)
    counts = np.stack([np.histogram(t, edges)[0] for t in trains], axis=1)
    return xr.DataArray(
        counts.astype(float),
        dims=("time", "neuron"),
        coords={"time": edges[:-1] + bin_width / 2, "neuron": np.arange(len(trains))},
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
            "neuron": A["neuron"].values,
            "assembly": np.arange(k),
            "time": A["time"].values,
        },
        attrs={
            "method": "pca-ica (Lopes-dos-Santos et al. 2013)",
            "n_assemblies": int(k),
        },
    )


def _kl_cv_scores(
    V: np.ndarray, ranks, *, holdout: float, n_splits: int, seed, max_iter
):
    """Held-out Poisson deviance per rank, with the prediction floored.

    KL fits can put exact zeros at held-out entries (a masked entry does not
    pull its own rate up), which makes the deviance of a single held-out spike
    infinite. The score floors the predicted rate at 1 % of the neuron's mean
    rate on training entries, so one such entry costs a finite, bounded amount.
    """
    rng = np.random.default_rng(seed)
    out = np.zeros((len(ranks), n_splits))
    for s in range(n_splits):
        train = rng.random(V.shape) >= holdout
        rates = np.where(train, V, 0).sum(1) / np.maximum(train.sum(1), 1)
        floor = np.maximum(0.01 * rates, 1e-6)[:, None]
        held = ~train
        for i, r in enumerate(ranks):
            res = nmf(
                V, r, loss="kl", mask=train, seed=seed, max_iter=max_iter, tol=1e-4
            )
            mu = np.maximum(np.asarray(res.W) @ np.asarray(res.H), floor)[held]
            v = V[held]
            with np.errstate(divide="ignore", invalid="ignore"):
                term = np.where(v > 0, v * np.log(v / mu), 0.0)
            out[i, s] = float(np.mean(2 * (term - v + mu)))
    return out


def detect(
    activity,
    *,
    rank: int | str = "auto",
    rank_method: str = "mp",
    ranks=range(1, 11),
    loss: str = "kl",
    bin_width: float | None = None,
    threshold: float | str = "uniform",
    n_surrogates: int = 200,
    alpha: float = 0.05,
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
        background firing (capped by ``max(ranks)``). ``"cv"``: scans
        ``ranks`` by speckled masked CV (10 % of entries held out, 2 splits)
        with KL loss, scores held-out
        entries by Poisson deviance with the predicted rate floored at 1 % of
        the neuron's mean rate, and takes the rank with the lowest mean score.
        The floor keeps the score finite: KL fits can put exact zeros at
        held-out entries, where one held-out spike would cost infinite deviance
        and favour whichever rank happens to avoid that. On sparse real
        counts (e.g. hc_linear_track at 100 ms) masked KL fits still degrade
        quickly with rank (zeros, and very large rates, at held-out entries),
        so the scan favours rank 1 there; hence ``"mp"`` is the default.
    ranks : iterable of int
        Candidates for ``rank="auto"``.
    loss : {"kl", "frobenius"}
        KL (Poisson) for counts; Frobenius for rates or calcium activity.
    bin_width : float, optional
        Bin width (s) when ``activity`` is spike times.
    threshold : "uniform" or float, default "uniform"
        Member rule. ``"uniform"``: neuron i belongs to assembly k if its
        weight W[i, k] > 1/√N (the weight every neuron would have if the
        unit-norm pattern were spread evenly over all N neurons). A number t:
        W[i, k] > mean(W[:, k]) + t · SD(W[:, k]) (the rule used for ICA
        patterns by Lopes-dos-Santos et al.).
    n_surrogates : int, default 200
        Circularly shifted surrogates for the significance test: the
        statistic is the mean pairwise Pearson correlation of the members'
        binned activity; each surrogate shifts every member's series by an
        independent random offset (destroying co-firing, keeping each neuron's
        rate and autocorrelation). p = (1 + #{surrogate ≥ observed}) /
        (1 + n_surrogates); an assembly is significant if p < ``alpha`` and it
        has at least two members.
    alpha : float, default 0.05
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
        ``n_members``, ``p_value``, ``significant`` (assembly); with
        ``rank="auto"`` also ``rank_scores`` (rank) and ``rank_scores_se``.
        Attributes record the rules and options (NetCDF-safe).

    Notes
    -----
    NMF cannot take z-scores (the PCA/ICA method's input); it models the raw
    counts with a Poisson likelihood, so weights are non-negative and an
    assembly is a set of neurons whose rates rise together.

    Examples
    --------
    >>> import numpy as np, neuronmf as nm
    >>> rng = np.random.default_rng(0)
    >>> H = (rng.random((2, 3000)) < 0.05) * 4.0
    >>> W = np.zeros((20, 2)); W[:6, 0] = 1; W[10:16, 1] = 1
    >>> X = rng.poisson(W @ H + 0.2).T
    >>> ds = nm.assemblies.detect(X, rank=2, n_surrogates=50)
    >>> sorted(int(ds.n_members[k]) for k in range(2))
    [6, 6]
    """
    if loss not in ("kl", "frobenius"):
        raise input_error("loss", "'kl' or 'frobenius'", loss)
    if not (isinstance(n_surrogates, (int, np.integer)) and n_surrogates >= 0):
        raise input_error("n_surrogates", "an integer >= 0", n_surrogates)
    if threshold != "uniform" and not isinstance(threshold, (int, float)):
        raise input_error("threshold", "'uniform' or a number", threshold)
    A = _as_counts(activity, bin_width, time_dim)
    X = A.values
    if not np.all(np.isfinite(X)):
        raise input_error("activity", "finite (no NaN or Inf)", "non-finite values")
    if np.any(X < 0):
        raise input_error(
            "activity", "non-negative (counts or rates)", f"min {X.min():.3g}"
        )
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
        it = cand
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(cand, desc="assemblies: rank scan", unit="rank")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*stopped at max_iter.*")
            scores = np.vstack(
                [
                    _kl_cv_scores(
                        V, [r], holdout=0.1, n_splits=2, seed=seed, max_iter=max_iter
                    )
                    if loss == "kl"
                    else _fro_cv_scores(V, [r], seed=seed, max_iter=max_iter)
                    for r in it
                ]
            )
        mean, se = scores.mean(1), scores.std(1, ddof=1) / np.sqrt(scores.shape[1])
        r = cand[int(np.argmin(mean))]
        scan = (cand, mean, se)
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
        thr = np.full(r, 1.0 / np.sqrt(n_n))
        rule = "W[i,k] > 1/sqrt(n_neurons)"
    elif isinstance(threshold, (int, float)):
        thr = W.mean(0) + threshold * W.std(0)
        rule = f"W[i,k] > mean(W[:,k]) + {threshold:g}*SD(W[:,k])"
    else:
        raise input_error("threshold", "'uniform' or a number", threshold)
    members = W > thr
    rng = np.random.default_rng(seed)
    p = np.full(r, np.nan)
    for k in range(r):
        idx = np.flatnonzero(members[:, k])
        if idx.size < 2 or n_surrogates == 0:
            continue
        obs = _mean_corr(X[:, idx])
        null = np.empty(n_surrogates)
        for s in range(n_surrogates):
            shifts = rng.integers(0, n_t, idx.size)
            null[s] = _mean_corr(
                np.stack(
                    [np.roll(X[:, i], sh) for i, sh in zip(idx, shifts, strict=True)], 1
                )
            )
        p[k] = (1 + np.sum(null >= obs)) / (1 + n_surrogates)
    from neuronmf import __version__

    ds = xr.Dataset(
        {
            "membership": (("neuron", "assembly"), W),
            "members": (("neuron", "assembly"), members),
            "activations": (("assembly", "time"), H),
            "n_members": (("assembly",), members.sum(0)),
            "p_value": (("assembly",), p),
            "significant": (("assembly",), (p < alpha) & (members.sum(0) >= 2)),
            "threshold": (("assembly",), thr),
        },
        coords={
            "neuron": A["neuron"].values,
            "assembly": np.arange(r),
            "time": A["time"].values,
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
            else "masked-CV minimum (floored Poisson deviance)",
            "member_rule": rule,
            "significance_test": "mean pairwise correlation of members vs "
            "independently circularly shifted members",
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


def _fro_cv_scores(V, ranks, *, seed, max_iter):
    rng = np.random.default_rng(seed)
    out = np.zeros((len(ranks), 2))
    for s in range(2):
        train = rng.random(V.shape) >= 0.1
        for i, r in enumerate(ranks):
            res = nmf(V, r, mask=train, seed=seed, max_iter=max_iter, tol=1e-4)
            out[i, s] = res.heldout_loss(V, ~train)
    return out


def _mean_corr(Y: np.ndarray) -> float:
    C = np.corrcoef(Y, rowvar=False)
    C = np.nan_to_num(C)
    k = C.shape[0]
    return float((C.sum() - np.trace(C)) / (k * (k - 1)))
