"""Comparing synergy sets: matching, chance level, grouping, refitting, cycle means."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from neuronmf._provenance import result_attrs
from neuronmf.errors import input_error
from neuronmf.model_selection.criteria import vaf_scores
from neuronmf.model_selection.matching import cosine_similarity, match_components

__all__ = ["cycle_average", "group", "match", "refit"]


def _weights(s, what: str) -> tuple[np.ndarray, list[str] | None]:
    """(muscle, synergy) weights and muscle names of a set, DataArray or array."""
    if isinstance(s, xr.Dataset):
        if "synergies" not in s:
            raise input_error(what, "a SynergySet with a 'synergies' variable", "none")
        s = s["synergies"]
    if isinstance(s, xr.DataArray):
        if s.ndim != 2:
            raise input_error(what, "2-D (muscle, synergy)", f"dims {s.dims}")
        if "muscle" in s.dims:
            s = s.transpose("muscle", ...)
        names = [str(x) for x in s[s.dims[0]].values] if s.dims[0] in s.coords else None
        W = np.asarray(s.values, dtype=float)
    else:
        W = np.asarray(s, dtype=float)
        names = None
        if W.ndim != 2:
            raise input_error(what, "a 2-D (muscle, synergy) array", f"shape {W.shape}")
    if not np.isfinite(W).all() or (W < 0).any():
        raise input_error(what, "finite and non-negative", "NaN, Inf or negative")
    return W, names


def _align(W, names, ref_names, what):
    if names is None or ref_names is None or names == ref_names:
        if ref_names is not None and W.shape[0] != len(ref_names):
            raise input_error(
                f"{what} muscles", f"{len(ref_names)} rows", f"{W.shape[0]}"
            )
        return W
    if set(names) != set(ref_names):
        raise input_error(
            f"{what} muscles",
            f"the same muscles as the first set ({', '.join(ref_names)})",
            ", ".join(names),
        )
    return W[[names.index(n) for n in ref_names]]


def _shuffled_chance(A, B, n_shuffles, percentile, rng) -> tuple[float, np.ndarray]:
    """Percentile of matched cosines between sets whose weights are shuffled.

    Each synergy's muscle weights are permuted independently (both sets), which
    keeps every synergy's weight distribution and breaks its muscle pattern.
    """
    sims = []
    for _ in range(n_shuffles):
        As = rng.permuted(A, axis=0)
        Bs = rng.permuted(B, axis=0)
        sims.append(match_components(As, Bs).similarity)
    null = np.concatenate(sims)
    return float(np.percentile(null, percentile)), null


def match(
    a,
    b,
    *,
    n_shuffles: int = 1000,
    percentile: float = 95.0,
    seed: int | None = 0,
) -> xr.Dataset:
    """Pair the synergies of two sets and score them by cosine similarity.

    Hungarian matching (:func:`scipy.optimize.linear_sum_assignment` on 1 − cos,
    via :func:`neuronmf.model_selection.match_components`) of every synergy of
    ``a`` with one of ``b``, and a chance level: the ``percentile`` of the matched
    similarities between copies of ``a`` and ``b`` whose muscle weights were
    shuffled within each synergy (``n_shuffles`` times).

    Parameters
    ----------
    a, b : SynergySet Dataset, DataArray (muscle, synergy) or array (muscle, k)
        ``b`` must have at least as many synergies as ``a``. With muscle names
        on both sides, ``b`` is reordered to ``a``'s muscles.
    n_shuffles : int, default 1000
        0 skips the chance level (NaN).
    percentile : float, default 95
    seed : int, optional

    Returns
    -------
    xarray.Dataset
        ``similarity`` (synergy): cosine of each synergy of ``a`` with its match;
        ``match`` (synergy): index of the matched synergy in ``b``;
        ``above_chance`` (synergy); ``matrix`` (synergy, synergy_b): all cosines.
        ``attrs``: ``mean`` similarity, ``chance`` level, ``percentile``,
        ``n_shuffles``.

    Examples
    --------
    >>> import numpy as np
    >>> from neuronmf.synergies import match
    >>> rng = np.random.default_rng(0)
    >>> A = rng.random((12, 4))
    >>> m = match(A, A[:, [2, 0, 3, 1]], n_shuffles=200)
    >>> m.match.values.tolist(), round(m.attrs["mean"], 6)
    ([1, 3, 0, 2], 1.0)
    >>> bool(m.attrs["chance"] < 1)
    True
    """
    A, na = _weights(a, "a")
    B, nb = _weights(b, "b")
    B = _align(B, nb, na, "b")
    if A.shape[0] != B.shape[0]:
        raise input_error("b", f"{A.shape[0]} muscles like a", f"{B.shape[0]}")
    if B.shape[1] < A.shape[1]:
        raise input_error(
            "b",
            f"at least as many synergies as a ({A.shape[1]})",
            f"{B.shape[1]}",
            "Swap the arguments: match(b, a).",
        )
    if not 0 < percentile < 100:
        raise input_error("percentile", "in (0, 100)", percentile)
    if isinstance(n_shuffles, bool) or not isinstance(n_shuffles, (int, np.integer)):
        raise input_error("n_shuffles", "an integer >= 0", repr(n_shuffles))
    result = match_components(A, B)
    chance = np.nan
    if n_shuffles > 0:
        chance, _ = _shuffled_chance(
            A, B, int(n_shuffles), percentile, np.random.default_rng(seed)
        )
    coords = {"synergy": np.arange(A.shape[1]), "synergy_b": np.arange(B.shape[1])}
    return xr.Dataset(
        {
            "similarity": ("synergy", result.similarity),
            "match": ("synergy", result.order),
            "above_chance": ("synergy", result.similarity > chance),
            "matrix": (("synergy", "synergy_b"), cosine_similarity(A, B)),
        },
        coords=coords,
        attrs={
            **result_attrs(
                "synergy_match",
                params={"n_shuffles": n_shuffles, "percentile": percentile},
                seed=seed,
            ),
            "mean": float(result.mean),
            "chance": float(chance),
            "percentile": float(percentile),
            "n_shuffles": int(n_shuffles),
            "method": "Hungarian matching on cosine similarity",
        },
    )


def group(
    sets: Sequence,
    *,
    n_groups: int | None = None,
    method: str = "matched",
    max_iter: int = 100,
    labels: Sequence[str] | None = None,
) -> xr.Dataset:
    """Group the synergies of many sets (people, sessions) into common synergies.

    ``method="matched"`` (default): a k-means on cosine similarity in which each
    set gives at most one synergy to each group. Centroids start from the first
    set with ``n_groups`` synergies; every set is Hungarian-matched to the
    centroids; each centroid becomes the normalised mean of its members; repeat
    until the assignment no longer changes. ``method="hierarchical"``: average
    linkage on cosine distance (:func:`scipy.cluster.hierarchy.linkage`) cut into
    ``n_groups`` clusters (a set may then give several synergies to one group).

    Parameters
    ----------
    sets : sequence of SynergySet Datasets, DataArrays or (muscle, k) arrays
    n_groups : int, optional
        Number of common synergies (default: the median rank of the sets).
    method : {"matched", "hierarchical"}
    max_iter : int, default 100
    labels : sequence of str, optional
        Names of the sets (default "0", "1", ...).

    Returns
    -------
    xarray.Dataset
        ``synergies`` (muscle, synergy): the common synergies (unit norm);
        ``assignment`` (set, member): the group of each set's synergy (−1 when
        unassigned or padding); ``similarity`` (set, member): its cosine with
        the group centroid; ``n_members`` (synergy) and ``consistency``
        (synergy): mean cosine of the members with their centroid.

    Examples
    --------
    >>> import numpy as np
    >>> from neuronmf.synergies import group
    >>> rng = np.random.default_rng(0)
    >>> W = rng.random((10, 3))
    >>> sets = [np.abs(W[:, rng.permutation(3)] + 0.05 * rng.random((10, 3)))
    ...         for _ in range(4)]
    >>> g = group(sets)
    >>> g.sizes["synergy"], bool(g.consistency.min() > 0.95)
    (3, True)
    """
    if isinstance(sets, (xr.Dataset, xr.DataArray, np.ndarray)) or len(sets) < 2:
        raise input_error("sets", "a sequence of at least 2 synergy sets", "fewer")
    Ws, ref_names = [], None
    for i, s in enumerate(sets):
        W, names = _weights(s, f"sets[{i}]")
        if i == 0:
            ref_names = names
        W = _align(W, names, ref_names, f"sets[{i}]")
        if Ws and W.shape[0] != Ws[0].shape[0]:
            raise input_error(
                f"sets[{i}]", f"{Ws[0].shape[0]} muscles", f"{W.shape[0]}"
            )
        n = np.linalg.norm(W, axis=0)
        Ws.append(W / np.where(n > 0, n, 1.0))
    ks = [W.shape[1] for W in Ws]
    if n_groups is None:
        n_groups = int(np.median(ks))
    if isinstance(n_groups, bool) or not isinstance(n_groups, (int, np.integer)):
        raise input_error("n_groups", "an integer >= 1", repr(n_groups))
    if not 1 <= n_groups <= sum(ks):
        raise input_error("n_groups", f"in [1, {sum(ks)}]", int(n_groups))
    if method not in ("matched", "hierarchical"):
        raise input_error("method", "'matched' or 'hierarchical'", repr(method))
    kmax = max(ks)
    assign = np.full((len(Ws), kmax), -1, dtype=int)
    if method == "hierarchical":
        from scipy.cluster.hierarchy import fcluster, linkage

        X = np.concatenate(Ws, axis=1).T
        Z = linkage(X, method="average", metric="cosine")
        flat = fcluster(Z, t=n_groups, criterion="maxclust") - 1
        pos = 0
        for i, k in enumerate(ks):
            assign[i, :k] = flat[pos : pos + k]
            pos += k
        n_groups = int(flat.max()) + 1
        C = _centroids(Ws, assign, n_groups)
    else:
        start = next((W for W in Ws if W.shape[1] >= n_groups), None)
        if start is None:
            start = np.concatenate(Ws, axis=1)
        C = start[:, :n_groups].copy()
        for _ in range(max_iter):
            new = np.full_like(assign, -1)
            for i, W in enumerate(Ws):
                if W.shape[1] >= n_groups:
                    order = match_components(C, W).order  # centroid -> member
                    new[i, order] = np.arange(n_groups)
                else:
                    order = match_components(W, C).order  # member -> centroid
                    new[i, : W.shape[1]] = order
            C = _centroids(Ws, new, n_groups, C)
            if np.array_equal(new, assign):
                break
            assign = new
    sim = np.full(assign.shape, np.nan)
    for i, W in enumerate(Ws):
        for j in range(W.shape[1]):
            if assign[i, j] >= 0:
                sim[i, j] = float(W[:, j] @ C[:, assign[i, j]])
    n_members = np.array([(assign == g).sum() for g in range(n_groups)])
    consistency = np.array(
        [
            np.nanmean(sim[assign == g]) if n_members[g] else np.nan
            for g in range(n_groups)
        ]
    )
    names = list(labels) if labels is not None else [str(i) for i in range(len(Ws))]
    coords = {"synergy": np.arange(n_groups), "set": names, "member": np.arange(kmax)}
    if ref_names is not None:
        coords["muscle"] = ref_names
    return xr.Dataset(
        {
            "synergies": (("muscle", "synergy"), C),
            "assignment": (("set", "member"), assign),
            "similarity": (("set", "member"), sim),
            "n_members": ("synergy", n_members),
            "consistency": ("synergy", consistency),
        },
        coords=coords,
        attrs={
            **result_attrs(
                "synergy_groups",
                params={"n_groups": n_groups, "method": method, "max_iter": max_iter},
            ),
            "method": method,
            "n_sets": len(Ws),
        },
    )


def _centroids(Ws, assign, n_groups, previous=None) -> np.ndarray:
    m = Ws[0].shape[0]
    C = np.zeros((m, n_groups))
    for i, W in enumerate(Ws):
        for j in range(W.shape[1]):
            if assign[i, j] >= 0:
                C[:, assign[i, j]] += W[:, j]
    n = np.linalg.norm(C, axis=0)
    if previous is not None:
        C[:, n == 0] = previous[:, n == 0]
        n = np.linalg.norm(C, axis=0)
    return C / np.where(n > 0, n, 1.0)


def refit(envelope, synergies, *, time_dim: str = "time") -> xr.Dataset:
    """Activations of new trials on fixed synergies (:func:`neuronmf.project`).

    Parameters
    ----------
    envelope : DataArray (time, channel) or ndarray (time, muscle)
        The new trial's envelope, processed like the one the synergies came
        from. With names, channels are matched to the synergies' muscles.
    synergies : SynergySet Dataset, DataArray (muscle, synergy) or array

    Returns
    -------
    xarray.Dataset
        A SynergySet with the given ``synergies``, the refitted
        ``activations`` (synergy, time), ``vaf``, ``r2`` and ``vaf_muscle``;
        ``attrs["refit"] = 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from neuronmf.synergies import refit
    >>> rng = np.random.default_rng(0)
    >>> W = rng.random((8, 3)); H = rng.random((3, 100))
    >>> out = refit((W @ H).T, W)
    >>> bool(np.allclose(out.activations.values, H)), round(float(out.vaf), 6)
    (True, 1.0)
    """
    from neuronmf.engine import _validation as check
    from neuronmf.engine.api import project
    from neuronmf.synergies._extract import _as_envelope

    time_dim = check.check_str("time_dim", time_dim)
    W, names = _weights(synergies, "synergies")
    da = _as_envelope(envelope, time_dim)
    env_names = [str(c) for c in da["channel"].values]
    if names is not None and not isinstance(envelope, np.ndarray):
        if set(names) != set(env_names):
            raise input_error(
                "envelope channels",
                f"the synergies' muscles ({', '.join(names)})",
                ", ".join(env_names),
            )
        da = da.sel(channel=names)
    elif da.sizes["channel"] != W.shape[0]:
        raise input_error(
            "envelope channels",
            f"{W.shape[0]} (one per synergy muscle)",
            f"{da.sizes['channel']}",
        )
    V = np.ascontiguousarray(da.values.T)
    if np.isnan(V).any():
        raise input_error(
            "envelope",
            "free of NaN for refit",
            f"{int(np.isnan(V).sum())} NaN entries",
            "Cut the dropouts out of the trial first.",
        )
    H = np.asarray(project(V, W))
    vaf, r2, local = vaf_scores(V, W, H)
    muscles = names if names is not None else [str(c) for c in da["channel"].values]
    time_coords = {
        k: v.variable for k, v in da.coords.items() if set(v.dims) == {"time"}
    }
    return xr.Dataset(
        {
            "synergies": (("muscle", "synergy"), W),
            "activations": (("synergy", "time"), H),
            "vaf": ((), vaf),
            "r2": ((), r2),
            "vaf_muscle": (("muscle",), local),
        },
        coords={"muscle": muscles, "synergy": np.arange(W.shape[1]), **time_coords},
        attrs={
            "kind": "SynergySet",
            **result_attrs(
                "synergies",
                params={"refit": True, "time_dim": time_dim},
                loss="frobenius",
                solver="nnls",
            ),
            "refit": 1,
            "rank": int(W.shape[1]),
        },
    )


def cycle_average(activations, *, points_per_cycle: int | None = None) -> xr.Dataset:
    """Mean ± SD over gait cycles of time-normalised activations (or envelopes).

    Parameters
    ----------
    activations : SynergySet Dataset or DataArray with a ``time`` dim
        Cycles come from the ``cycle`` and ``phase`` coords that
        :func:`neuronmf.synergies.envelope` adds when given ``cycles``;
        without them, ``points_per_cycle`` splits time into equal cycles.
    points_per_cycle : int, optional

    Returns
    -------
    xarray.Dataset
        ``mean`` and ``sd`` (…, phase) and ``n_cycles`` attr.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neuronmf.synergies import cycle_average
    >>> H = xr.DataArray(np.tile([0.0, 1.0, 2.0, 1.0], 3)[None],
    ...                  dims=("synergy", "time"))
    >>> avg = cycle_average(H, points_per_cycle=4)
    >>> avg["mean"].values.tolist(), avg.attrs["n_cycles"]
    ([[0.0, 1.0, 2.0, 1.0]], 3)
    """
    da = (
        activations["activations"]
        if isinstance(activations, xr.Dataset)
        else (activations)
    )
    if not isinstance(da, xr.DataArray) or "time" not in da.dims:
        raise input_error(
            "activations", "a DataArray (or SynergySet) with a 'time' dim", type(da)
        )
    n = da.sizes["time"]
    if points_per_cycle is None:
        if "cycle" not in da.coords or "phase" not in da.coords:
            raise input_error(
                "activations",
                "time-normalised (with 'cycle' and 'phase' coords)",
                "no cycle coords",
                "Pass cycles= to envelope(), or points_per_cycle= here.",
            )
        cycle = np.asarray(da["cycle"].values)
        counts = np.bincount(cycle - cycle.min())
        if counts.min() != counts.max():
            raise input_error("cycles", "of equal length", counts.tolist())
        points = int(counts[0])
        phase = np.asarray(da["phase"].values[:points], dtype=float)
    else:
        points = int(points_per_cycle)
        if points < 1 or n % points:
            raise input_error(
                "points_per_cycle", f"a divisor of the {n} time samples", points
            )
        phase = np.arange(points) / points
    n_cyc = n // points
    other = [d for d in da.dims if d != "time"]
    vals = da.transpose(*other, "time").values
    vals = vals.reshape(*vals.shape[:-1], n_cyc, points)
    dims = (*other, "phase")
    coords = {d: da[d].values for d in other if d in da.coords}
    coords["phase"] = phase
    return xr.Dataset(
        {
            "mean": (dims, np.nanmean(vals, axis=-2)),
            "sd": (dims, np.nanstd(vals, axis=-2, ddof=1 if n_cyc > 1 else 0)),
        },
        coords=coords,
        attrs={
            **result_attrs(
                "cycle_average", params={"points_per_cycle": points_per_cycle}
            ),
            "n_cycles": int(n_cyc),
            "points_per_cycle": points,
        },
    )


def _cycle_summary(ds, points_per_cycle: int | None = None) -> xr.Dataset | None:
    """The mean ± SD over cycles that stands for ``ds``'s activations, or None.

    A result of :func:`cycle_average` (``mean`` and ``sd`` variables) is returned
    as is; activations with ``cycle`` coords, or split by ``points_per_cycle``,
    are averaged with :func:`cycle_average`; without cycles there is no
    summary (None) and the activations stand for themselves over time. The
    plots call this so that they only draw.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> H = xr.DataArray(np.tile([0.0, 1.0], 3)[None], dims=("synergy", "time"))
    >>> _cycle_summary(H) is None
    True
    >>> _cycle_summary(H, points_per_cycle=2).attrs["n_cycles"]
    3
    """
    if isinstance(ds, xr.Dataset) and "mean" in ds and "sd" in ds:
        return ds
    if "cycle" in ds.coords or points_per_cycle is not None:
        return cycle_average(ds, points_per_cycle=points_per_cycle)
    return None
