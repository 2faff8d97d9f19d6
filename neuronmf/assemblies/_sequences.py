"""Neural sequences: convolutive NMF (seqNMF) with held-out significance.

:func:`sequences` is the domain wrapper around :func:`neuronmf.conv_nmf`: it
chooses the cross-orthogonality weight λ on the training part of the recording
(:func:`neuronmf.model_selection.choose_x_ortho`), fits the patterns there, tests
each on the held-out part (:func:`neuronmf.model_selection.factor_significance`),
then finds every occurrence over the whole recording with the patterns held
fixed, and labels the members of each sequence in the order in which they fire.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from neuronmf.assemblies._input import _as_counts, refuse_constant
from neuronmf.assemblies._kind import KINDS, _prepare
from neuronmf.errors import input_error

__all__ = ["sequences"]


def _check(rank, lags, train_fraction, alpha, event_threshold, x_ortho, loss, T):
    from neuronmf.engine import _validation as check

    rank = check.check_int("rank", rank, 1)
    lags = check.check_int("lags", lags, 1)
    train_fraction = check.check_real(
        "train_fraction", train_fraction, 0.0, strict=True
    )
    if train_fraction > 1:
        raise input_error(
            "train_fraction", "in (0, 1]", train_fraction, "0.75 is seqNMF's split."
        )
    alpha = check.check_real("alpha", alpha, 0.0, strict=True)
    if alpha >= 1:
        raise input_error("alpha", "in (0, 1)", alpha)
    event_threshold = check.check_real("event_threshold", event_threshold, 0.0)
    if event_threshold >= 1:
        raise input_error("event_threshold", "in [0, 1)", event_threshold)
    if not (isinstance(x_ortho, str) and x_ortho == "auto"):
        x_ortho = check.check_real("x_ortho", x_ortho, 0.0)
    loss = check.choice("loss", loss, ("auto", "kl", "frobenius"))
    n_train = round(train_fraction * T)
    if n_train < 2 * lags:
        raise input_error(
            "lags",
            f"at most half the training frames ({n_train} of {T})",
            lags,
            "Use shorter patterns or a longer recording / larger train_fraction.",
        )
    if train_fraction < 1 and T - n_train < 2 * lags:
        raise input_error(
            "train_fraction",
            f"small enough to leave at least 2·lags = {2 * lags} held-out frames",
            train_fraction,
            "Lower it, or pass train_fraction=1 to skip the significance test.",
        )
    return rank, lags, train_fraction, alpha, event_threshold, x_ortho, loss, n_train


def _members(W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Members by the uniform rule on each neuron's pattern norm; peak lags."""
    N = W.shape[0]
    norm = np.sqrt((W**2).sum(axis=2))  # (neuron, component)
    total = np.linalg.norm(norm, axis=0)
    weight = np.divide(norm, total, out=np.zeros_like(norm), where=total > 0)
    members = weight > 1.0 / np.sqrt(N)
    peak = W.argmax(axis=2)
    return weight, members, peak


def _events(H: np.ndarray, lags: int, threshold: float):
    """Peaks of each row of H above ``threshold`` × its maximum, ≥ lags/2 apart."""
    from scipy.signal import find_peaks

    rows, frames, heights = [], [], []
    for k, h in enumerate(H):
        top = float(h.max())
        if top <= 0:
            continue
        idx, props = find_peaks(h, height=threshold * top, distance=max(1, lags // 2))
        rows += [k] * idx.size
        frames += idx.tolist()
        heights += props["peak_heights"].tolist()
    order = np.lexsort((np.asarray(rows), np.asarray(frames)))
    return (
        np.asarray(rows, dtype=int)[order],
        np.asarray(frames, dtype=int)[order],
        np.asarray(heights, dtype=float)[order],
    )


def _occurrences(V, W, members, event_threshold, seed, options):
    """H over the whole recording with the patterns W fixed, and its events.

    Without the x-ortho penalty: with W fixed it would only make the patterns
    compete for frames, and it silences whole patterns (seqNMF also ends its
    fit without it). With W fixed, conv_nmf keeps W's order: row k of H is
    pattern k's. An empty pattern has no occurrences, whatever its row holds.
    """
    from neuronmf.engine.convolutive import conv_nmf

    _, rank, lags = W.shape
    full = conv_nmf(
        V, rank, lags, W=W, update_W=False, x_ortho=0.0, seed=seed, **options
    )
    H = np.asarray(getattr(full.H, "values", full.H))
    events = _events(
        np.where(members.any(axis=0)[:, None], H, 0.0), lags, event_threshold
    )
    return H, events


def _occurrence_counts(ev_k, ev_t, rank, lags, n_train):
    """Occurrences of each pattern, in all and in the held-out part.

    An occurrence is in the held-out part when the centre of its window,
    frame ``t + lags // 2`` (conv_nmf centres every pattern there), is: an
    occurrence that starts just before the boundary lies mostly after it.
    """
    n_events = np.bincount(ev_k, minlength=rank)
    tested = ev_t + lags // 2 >= n_train
    return n_events, np.bincount(ev_k[tested], minlength=rank)


def _significance(V_test, W, alpha, seed):
    from neuronmf.model_selection.x_ortho import factor_significance

    K = W.shape[1]
    if V_test is None:
        warnings.warn(
            "assemblies.sequences: train_fraction=1 leaves no held-out data; "
            "no factor is tested (p = NaN, significant = False).",
            RuntimeWarning,
            stacklevel=3,
        )
        nan = np.full(K, np.nan)
        return nan, np.zeros(K, bool), nan.copy()
    sig = factor_significance(V_test, W, alpha=alpha, seed=seed)
    p = np.asarray(sig.pvalues, float)
    # Bonferroni over every fitted pattern, empty ones included (seqNMF's
    # test_significance divides by K, not by the number of tested factors)
    significant = np.nan_to_num(p, nan=np.inf) <= alpha / K
    return p, significant, sig.skewness


def sequences(
    activity,
    rank: int = 5,
    lags: int = 20,
    *,
    x_ortho: float | str = "auto",
    loss: str = "auto",
    l1_W: float = 0.0,
    l1_H: float = 0.0,
    kind: str = "auto",
    baseline_percentile: float = 8.0,
    baseline_window: float = 60.0,
    bin_width: float | None = None,
    train_fraction: float = 0.75,
    alpha: float = 0.05,
    event_threshold: float = 0.25,
    max_iter: int = 200,
    time_dim: str = "time",
    seed: int | None = 0,
    progress: bool = False,
    merge_fragments: bool | str = "auto",
) -> xr.Dataset:
    """Find neural sequences: patterns of neurons that fire in a fixed order.

    seqNMF's recipe (Mackevicius et al. 2019) on neuronmf's engine:

    1. the first ``train_fraction`` of the recording is the training part, the
       rest is held out;
    2. ``x_ortho="auto"``: λ of the cross-orthogonality penalty by seqNMF's
       cost-crossover rule on the training part
       (:func:`neuronmf.model_selection.choose_x_ortho`);
    3. :func:`neuronmf.conv_nmf` on the training part: ``rank`` patterns of
       ``lags`` frames, W (neuron, sequence, lag);
    4. each pattern is tested on the held-out part: the skewness over time of
       its overlap with the held-out data against patterns whose neurons are
       shifted at random in lag (seqNMF's ``test_significance``; Bonferroni
       over all ``rank`` patterns, as seqNMF: p ≤ alpha / rank):
       :func:`neuronmf.model_selection.factor_significance`;
    5. with the patterns fixed, H is fitted on the whole recording (without the
       x-ortho penalty, as seqNMF's last iteration); every peak
       of a pattern's H above ``event_threshold`` × its maximum, at least
       ``lags`` / 2 frames from the next, is an occurrence (in the held-out
       part when the centre of its window, frame t + ``lags`` // 2, is);
    6. a pattern is ``significant`` when it passes the test of step 4
       (``passes_test``), has at least 2 members, and recurs: at least 2
       occurrences, at least 1 of them in the held-out part. The skewness test
       alone passes patterns seen once: on isolated events in sparse held-out
       data, or on the occurrences of another pattern that shares members
       (measured on simulated and songbird data, docs/sequences.md);
    7. members: neuron i belongs to sequence k when its share of the pattern's
       norm, ‖W[i, k, :]‖ / ‖W[:, k, :]‖, exceeds 1/√N (the share if the
       pattern were spread evenly; the rule of :func:`detect`); members are
       ordered by the lag at which their weight peaks.

    Parameters
    ----------
    activity : xarray.DataArray (time, neuron), array (time, neuron), or list of
        spike-time arrays (then ``bin_width``)
        Non-negative counts, deconvolved activity or ΔF/F; ``kind`` as in
        :func:`detect` (raw fluorescence becomes ΔF/F).
    rank : int, default 5
        Number of patterns fitted (seqNMF's K); extra ones come out empty or
        not significant.
    lags : int, default 20
        Pattern length in bins (seqNMF's L); at most half the training bins.
    x_ortho : float or "auto", default "auto"
        λ of the cross-orthogonality penalty.
    loss : {"auto", "kl", "frobenius"}, default "auto"
        KL (Poisson) for counts, Frobenius (seqNMF's) otherwise.
    l1_W, l1_H : float, default 0
        L1 penalties of :func:`neuronmf.conv_nmf` (seqNMF's HVC demo uses
        ``l1_W=0.1``).
    kind, baseline_percentile, baseline_window, bin_width, time_dim
        As in :func:`detect`.
    train_fraction : float, default 0.75
        Training part; 1 fits everything and tests nothing (p = NaN, warned).
    alpha : float, default 0.05
        Family-wise level of the significance test.
    event_threshold : float, default 0.25
        Fraction of a pattern's largest activation that counts as an occurrence.
    max_iter : int, default 200
    seed : int, optional
    progress : bool
        Progress bar over the λ scan.
    merge_fragments : bool or "auto", default "auto"
        Merge patterns that are one sequence split in two (activations locked
        at a fixed lag, merged when held-out training entries allow;
        :func:`neuronmf.model_selection.merge_fragments`) before the
        significance test. ``"auto"``: for the KL loss (counts), where such
        splits were measured (docs/benchmarks.md, "Convolutive NMF").

    Returns
    -------
    xarray.Dataset
        ``patterns`` (neuron, sequence, lag), ``activations`` (sequence, time:
        the whole recording, patterns fixed), ``weight`` (neuron, sequence: share
        of the pattern's norm), ``members`` (neuron, sequence, bool),
        ``peak_lag`` (neuron, sequence: bins), ``n_members``, ``p_value``,
        ``skewness``, ``passes_test`` (p ≤ alpha / rank), ``n_occurrences``,
        ``n_tested_occurrences`` (in the held-out part), ``significant``,
        ``power_explained`` (sequence), the
        occurrences ``event_sequence``, ``event_time``, ``event_amplitude``
        (event), and with ``x_ortho="auto"`` the λ scan
        ``reconstruction_norm``/``correlation_norm`` (x_ortho). Attributes: the
        result convention (kind ``"sequences"``), ``x_ortho`` and its rule,
        ``train_bins``, ``test_bins``, ``n_significant``, ``significance_rule``,
        ``activity_kind``.

    Examples
    --------
    >>> import neuronmf as nm
    >>> sim = nm.datasets.simulate_sequences(n_frames=1200, seed=0)
    >>> ds = nm.assemblies.sequences(sim.data.T, rank=4, lags=40, x_ortho=0.005,
    ...                              kind="dff", seed=0)
    >>> int(ds.attrs["n_significant"]) >= 2
    True
    """
    from neuronmf._provenance import result_attrs
    from neuronmf.engine import _validation as check
    from neuronmf.engine.convolutive import conv_nmf

    time_dim = check.check_str("time_dim", time_dim)
    seed = check.check_seed("seed", seed)
    progress = check.check_bool("progress", progress)
    kind = check.choice("kind", kind, ("auto", *KINDS))
    if not (isinstance(merge_fragments, str) and merge_fragments == "auto"):
        merge_fragments = check.check_bool("merge_fragments", merge_fragments)
    A = _as_counts(activity, bin_width, time_dim)
    T = A.sizes["time"]
    rank, lags, train_fraction, alpha, event_threshold, x_ortho, loss, n_train = _check(
        rank, lags, train_fraction, alpha, event_threshold, x_ortho, loss, T
    )
    Y, kind, kind_source, how = _prepare(
        A, kind, baseline_percentile, baseline_window, caller="assemblies.sequences"
    )
    refuse_constant(np.asarray(Y, float), "fires in no order")
    if loss == "auto":
        loss = "kl" if kind == "counts" else "frobenius"
    V = np.ascontiguousarray(np.asarray(Y, float).T)  # (neuron, time)
    V_train = V[:, :n_train]
    V_test = V[:, n_train:] if n_train < T else None
    options = {"loss": loss, "l1_W": l1_W, "l1_H": l1_H, "max_iter": max_iter}
    scan = None
    if x_ortho == "auto":
        from neuronmf.model_selection.x_ortho import choose_x_ortho

        scan = choose_x_ortho(
            V_train, rank, lags, seed=seed, progress=progress, **options
        )
        lam, rule = scan.x_ortho, scan.rule
    else:
        lam, rule = float(x_ortho), "given"
    fit = conv_nmf(V_train, rank, lags, x_ortho=lam, seed=seed, **options)
    n_merged = 0
    if merge_fragments is True or (merge_fragments == "auto" and loss == "kl"):
        from neuronmf.model_selection.conv_fragments import (
            merge_fragments as _merge,
        )

        merged = _merge(V_train, fit, seed=seed)
        fit, n_merged = merged.result, merged.n_merged
    W = np.asarray(getattr(fit.W, "values", fit.W))
    p, passes_test, skew = _significance(V_test, W, alpha, seed)
    weight, members, peak = _members(W)
    H, (ev_k, ev_t, ev_h) = _occurrences(V, W, members, event_threshold, seed, options)
    time = A["time"].values
    step = float(np.median(np.diff(time))) if T > 1 else 1.0
    n_members = members.sum(axis=0)
    n_events, n_tested_events = _occurrence_counts(ev_k, ev_t, rank, lags, n_train)
    # a sequence must recur, and the held-out part must hold one of its own
    # occurrences: the skewness test alone passes a pattern seen once (on
    # isolated events, or on another pattern's occurrences that share members)
    recurs = (n_events >= 2) & (n_tested_events >= 1)
    significant = passes_test & (n_members >= 2) & recurs
    ds = xr.Dataset(
        {
            "patterns": (("neuron", "sequence", "lag"), W),
            "activations": (("sequence", "time"), H),
            "weight": (("neuron", "sequence"), weight),
            "members": (("neuron", "sequence"), members),
            "peak_lag": (("neuron", "sequence"), peak),
            "n_members": ("sequence", n_members),
            "p_value": ("sequence", p),
            "skewness": ("sequence", skew),
            "passes_test": ("sequence", passes_test),
            "n_occurrences": ("sequence", n_events),
            "n_tested_occurrences": ("sequence", n_tested_events),
            "significant": ("sequence", significant),
            "power_explained": ("sequence", np.asarray(fit.power_explained)),
            "event_sequence": ("event", ev_k),
            "event_time": ("event", time[ev_t] if ev_t.size else time[:0]),
            "event_amplitude": ("event", ev_h),
        },
        coords={
            "neuron": A["neuron"].values,
            "sequence": np.arange(rank),
            "lag": np.arange(lags),
            "lag_time": ("lag", np.arange(lags) * step),
            "time": time,
        },
    )
    if scan is not None:
        ds["reconstruction_norm"] = ("x_ortho", scan.reconstruction_norm)
        ds["correlation_norm"] = ("x_ortho", scan.correlation_norm)
        ds = ds.assign_coords(x_ortho=scan.lambdas)
    params = {
        "rank": rank,
        "lags": lags,
        "x_ortho": x_ortho if isinstance(x_ortho, str) else lam,
        "l1_W": l1_W,
        "l1_H": l1_H,
        "train_fraction": train_fraction,
        "alpha": alpha,
        "event_threshold": event_threshold,
        "max_iter": max_iter,
        "kind": kind,
        "merge_fragments": merge_fragments,
    }
    solver = fit.params.get("solver") if isinstance(fit.params, dict) else None
    ds.attrs = result_attrs(
        "sequences", params=params, seed=seed, loss=loss, solver=solver
    )
    ds.attrs.update(
        {
            "x_ortho": lam,
            "x_ortho_rule": rule,
            "train_bins": n_train,
            "test_bins": T - n_train,
            "n_significant": int(ds.significant.sum()),
            "activity_kind": kind,
            "activity_kind_source": kind_source,
            "preprocessing": how,
            "membership_rule": "share of the pattern norm > 1/sqrt(N)",
            "significance_rule": "p <= alpha/rank on the held-out part, >= 2 "
            "members, >= 2 occurrences with >= 1 in the held-out part",
            "merged_fragments": n_merged,
        }
    )
    return ds
