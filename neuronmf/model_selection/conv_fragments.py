"""Merging fragments of one sequence split across two convolutive NMF components.

With spike counts and the KL loss, :func:`neuronmf.conv_nmf` can end with a
real sequence split in two: a spare component holds a few of the sequence's
neurons at their true spacing and fires at a fixed lag after (or before) the
main one (docs/benchmarks.md, "Convolutive NMF"). Two such components are one
pattern; :func:`merge_fragments` finds them by their locked occurrences or
their shared spacing and merges them when held-out data do not object.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from neuronmf.engine import _validation as check
from neuronmf.engine.convolutive import ConvNMFResult, conv_nmf
from neuronmf.errors import input_error
from neuronmf.model_selection.masks import speckled_mask

__all__ = ["FragmentMerge", "lag_locking", "merge_fragments"]

#: conv_nmf options carried from the result into every refit
_CARRIED = ("loss", "solver", "x_ortho", "l1_W", "l1_H", "max_iter", "tol", "shift")


@dataclass
class FragmentMerge:
    """The outcome of :func:`merge_fragments`.

    Attributes
    ----------
    result : ConvNMFResult
        The fit after every accepted merge: same rank, each absorbed component
        left empty (W and H zero, power 0), sorted by power explained. The input
        result when nothing was merged.
    merges : list of dict
        Every candidate tried, in order: ``kept``, ``absorbed`` (component
        indices in the fit it was tried on), ``lag`` (frames from the kept
        component's onset to the absorbed one's), ``pvalue`` and ``correlation``
        of the lag locking, ``pvalue_spacing`` of the shared spacing,
        ``heldout_split`` and ``heldout_merged`` (mean
        held-out loss over the masks), ``heldout_se`` (the split model's
        standard error over the masks) and ``accepted``.
    """

    result: ConvNMFResult
    merges: list[dict] = field(default_factory=list)

    @property
    def n_merged(self) -> int:
        """The number of accepted merges."""
        return sum(bool(m["accepted"]) for m in self.merges)


def _values(A) -> np.ndarray:
    return np.asarray(getattr(A, "values", A), dtype=np.float64)


def lag_locking(H, lags: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How tightly each pair of activations is locked at one lag, and its p-value.

    For rows i, j of H the cross-correlation c(ℓ) = Σₜ H_i(t)·H_j(t + ℓ) (circular)
    is taken at its largest |ℓ| < ``lags``. The null shifts H_j circularly by
    every offset s with 2L − 1 ≤ s ≤ T − 2L + 1 (L = ``lags``; its window
    s + ℓ never meets the observed one) and takes the same maximum around s:
    p = (1 + #{s: max ≥ observed}) / (1 + #s). Two components that are one
    pattern split in two fire together at a fixed lag (small p); two different
    sequences that only follow each other at varying gaps do not.

    Parameters
    ----------
    H : array-like (component, time)
    lags : int
        The pattern length L; lags ℓ with |ℓ| < L are searched.

    Returns
    -------
    pvalues : ndarray (component, component)
        NaN on the diagonal and for empty rows.
    lag : ndarray of int (component, component)
        ℓ at the peak: component j fires ℓ frames after component i.
    correlation : ndarray (component, component)
        c(ℓ) / (‖H_i‖·‖H_j‖) at the peak.

    Examples
    --------
    >>> import numpy as np
    >>> from neuronmf.model_selection import lag_locking
    >>> rng = np.random.default_rng(0)
    >>> H = np.zeros((2, 2000)); t = rng.choice(1900, 40, replace=False)
    >>> H[0, t] = 1; H[1, t + 7] = 1
    >>> p, lag, r = lag_locking(H, 20)
    >>> int(lag[0, 1]), bool(p[0, 1] < 0.01)
    (7, True)
    """
    H = _values(H)
    if H.ndim != 2:
        raise input_error("H", "a 2-D array (component, time)", H.shape)
    lags = check.check_int("lags", lags, low=1)
    K, T = H.shape
    if T < 4 * lags:
        raise input_error("H", f"at least 4·lags = {4 * lags} frames long", T)
    F = np.fft.rfft(H, axis=1)
    norms = np.linalg.norm(H, axis=1)
    pvalues = np.full((K, K), np.nan)
    lag = np.zeros((K, K), dtype=int)
    corr = np.full((K, K), np.nan)
    window = np.arange(-lags + 1, lags)
    # null windows s + ℓ never reach the observed one (|ℓ| < L)
    offsets = np.arange(2 * lags - 1, T - 2 * lags + 2)
    for i in range(K):
        for j in range(K):
            if i == j or not (norms[i] > 0 and norms[j] > 0):
                continue
            # cc[τ] = Σₜ H_i(t) H_j(t + τ), circular
            cc = np.fft.irfft(np.conj(F[i]) * F[j], n=T)
            at = cc[window % T]
            best = int(np.argmax(at))
            observed = at[best]
            null = np.max(cc[(offsets[:, None] + window[None, :]) % T], axis=1)
            tol = 1e-12 * max(abs(observed), 1e-300)
            pvalues[i, j] = (1 + np.sum(null >= observed - tol)) / (1 + offsets.size)
            lag[i, j] = window[best]
            corr[i, j] = observed / (norms[i] * norms[j])
    return pvalues, lag, corr


def _spacing_locking(W, rng, n_null: int = 199):
    """Does pattern j hold neurons of pattern i at i's relative spacing?

    c(δ) = Σₙ Σ_ℓ W_i(n, ℓ)·W_j(n, ℓ − δ) at its peak over |δ| < L, against
    ``n_null`` draws with each neuron's row of W_j rolled over lags by a random
    1…L (``factor_significance``'s null: the same neurons, spacing broken).
    Returns p-values and peak δ (component, component); δ is the lag at which
    j's onset follows i's.
    """
    N, K, L = W.shape
    n = 2 * L
    F = np.fft.rfft(W, n=n, axis=2)  # (N, K, L + 1)
    pvalues = np.full((K, K), np.nan)
    lag = np.zeros((K, K), dtype=int)
    window = np.arange(-L + 1, L)
    idx = np.arange(L)
    for i in range(K):
        for j in range(i + 1, K):
            c = np.fft.irfft((np.conj(F[:, j]) * F[:, i]).sum(axis=0), n=n)[window % n]
            best = int(np.argmax(c))
            observed = c[best]
            above = 0
            for _ in range(n_null):
                shifts = rng.integers(1, L + 1, size=(N, 1))
                Wj = np.take_along_axis(W[:, j], (idx - shifts) % L, axis=1)
                Fj = np.fft.rfft(Wj, n=n, axis=1)
                null = np.fft.irfft((np.conj(Fj) * F[:, i]).sum(axis=0), n=n)
                above += null[window % n].max() >= observed
            pvalues[i, j] = pvalues[j, i] = (1 + above) / (1 + n_null)
            lag[i, j], lag[j, i] = window[best], -window[best]
    return pvalues, lag


def _merged(W, H, keep, drop, lag):
    """W with component ``drop`` (firing ``lag`` frames after ``keep``) added into
    ``keep`` at that lag, scaled by the regression of H_drop on shifted H_keep."""
    L = W.shape[2]
    hk, hd = H[keep], H[drop]
    T = hk.size
    if lag >= 0:
        a = float(hk[: T - lag] @ hd[lag:]) / float(hk @ hk)
    else:
        a = float(hk[-lag:] @ hd[: T + lag]) / float(hk @ hk)
    moved = np.zeros_like(W[:, drop])
    if lag >= 0:
        moved[:, lag:] = W[:, drop, : L - lag]
    else:
        moved[:, : L + lag] = W[:, drop, -lag:]
    W = W.copy()
    W[:, keep] += max(a, 0.0) * moved
    rest = [k for k in range(W.shape[1]) if k != drop]
    return W[:, rest], H[rest]


def _heldout_losses(V, W0, H0, lags, options, masks) -> np.ndarray:
    """Held-out loss of the model started at (W0, H0), refitted on each mask."""
    from neuronmf.engine import losses

    spec = losses.get(options.get("loss", "frobenius"))
    out = []
    for mask in masks:
        r = conv_nmf(V, W0.shape[1], lags, W=W0, H=H0, mask=mask, **options)
        out.append(spec.heldout(V, r.reconstruction(), mask))
    return np.array(out)


def _pad_empty(res: ConvNMFResult, n: int) -> ConvNMFResult:
    """``res`` with ``n`` empty components appended (W = H = 0, power 0)."""
    if n == 0:
        return res
    if hasattr(res.W, "pad"):  # labelled (DataArray)
        W = res.W.pad(component=(0, n), constant_values=0.0)
        H = res.H.pad(component=(0, n), constant_values=0.0)
    else:
        W = np.concatenate([res.W, np.zeros((*res.W.shape[:1], n, res.W.shape[2]))], 1)
        H = np.concatenate([res.H, np.zeros((n, res.H.shape[1]))], 0)
    pe = np.concatenate([np.asarray(res.power_explained), np.zeros(n)])
    params = {**res.params, "rank": int(res.params.get("rank", 0)) + n}
    return replace(res, W=W, H=H, power_explained=pe, params=params)


def merge_fragments(
    V,
    result: ConvNMFResult,
    *,
    alpha: float = 0.05,
    holdout: float = 0.1,
    n_repeats: int = 5,
    block: int | None = None,
    max_merges: int | None = None,
    seed: int = 0,
) -> FragmentMerge:
    """Merge components of a :func:`neuronmf.conv_nmf` fit that are one pattern
    split in two.

    A pair of components is a candidate when their activations are locked at one
    lag (:func:`lag_locking`, p ≤ ``alpha``; the lag is below the pattern length,
    so the two overlap in time at every occurrence), or when the weaker pattern
    holds neurons of the stronger at the stronger's relative spacing (the peak
    over lags of Σₙ Σ_ℓ W_i(n, ℓ)·W_j(n, ℓ − δ) against 199 draws with each
    neuron's row of W_j rolled over lags at random, ``factor_significance``'s
    null; p ≤ ``alpha``). A fragment that fires at only some of the
    occurrences is found by the second. The weaker component is then
    shifted by that lag, scaled by the regression of its activations on the
    stronger one's, and added into it; the model with one component fewer is
    refitted from there. The merge is accepted when the held-out loss does not get
    worse by more than one standard error: both models are refitted from their
    current factors with ``n_repeats`` speckled masks (``holdout`` of the entries,
    in runs of ``block`` frames) and scored on the held-out entries (the
    loss's held-out score: Poisson deviance for KL, mean squared error for
    Frobenius); the merged model's mean must be at most the split model's mean
    plus its standard error over the masks (the one-standard-error rule of
    :func:`neuronmf.model_selection.select_conv_rank`, here between rank K and
    K − 1 with the same masks). Candidates are tried from
    the most locked; after an accepted merge the search starts again on the new
    fit. The refits start from factors fitted on all the data, which favours the
    split model (it fitted the held-out entries too), so the rule errs towards
    keeping components.

    Parameters
    ----------
    V : array-like (feature, time)
        The data ``result`` was fitted to.
    result : ConvNMFResult
        A fit of :func:`neuronmf.conv_nmf`; its options (loss, solver, x_ortho,
        l1_W, l1_H, max_iter, tol, shift) are used for every refit.
    alpha : float, default 0.05
        Candidate screen for both tests (the held-out rule decides).
    holdout, n_repeats : float, int
        Masks of the held-out comparison (default 10 %, 5 masks, as
        :func:`~neuronmf.model_selection.select_conv_rank`).
    block : int, optional
        Length of each held-out run; default ``max(1, lags // 10)``.
    max_merges : int, optional
        At most this many merges (default rank − 1).
    seed : int, default 0
        Seed of the masks and of the spacing null.

    Returns
    -------
    FragmentMerge

    Examples
    --------
    >>> import numpy as np, neuronmf as nm
    >>> from neuronmf.model_selection import merge_fragments
    >>> V = np.random.default_rng(0).random((6, 200))
    >>> fit = nm.conv_nmf(V, 2, 5, max_iter=20)
    >>> out = merge_fragments(V, fit, n_repeats=2)
    >>> out.result.W.shape == fit.W.shape
    True
    """
    if not isinstance(result, ConvNMFResult):
        raise input_error(
            "result", "a ConvNMFResult (from neuronmf.conv_nmf)", type(result).__name__
        )
    Vm = check.data_matrix(getattr(V, "values", V), "V").astype(np.float64)
    W = _values(result.W)
    H = _values(result.H)
    N, K, L = W.shape
    if Vm.shape != (N, H.shape[1]):
        raise input_error(
            "V", f"the data the result was fitted to, shape {(N, H.shape[1])}", Vm.shape
        )
    if result.params.get("masked"):
        raise input_error(
            "result", "a fit without a mask", "a masked fit", "Refit on all the data."
        )
    alpha = check.check_real("alpha", alpha, 0.0, strict=True)
    if alpha >= 1:
        raise input_error("alpha", "in (0, 1)", alpha)
    holdout = check.check_real("holdout", holdout, 0.0, strict=True)
    if holdout >= 0.5:
        raise input_error("holdout", "in (0, 0.5)", holdout)
    n_repeats = check.check_int("n_repeats", n_repeats, low=2)
    block = max(1, L // 10) if block is None else check.check_int("block", block, 1)
    max_merges = (
        K - 1
        if max_merges is None
        else check.check_int("max_merges", max_merges, low=0)
    )
    seed = check.check_seed("seed", seed)
    options = {k: result.params[k] for k in _CARRIED if k in result.params}
    masks = [
        speckled_mask(Vm.shape, holdout, np.random.default_rng([seed or 0, i]), block)
        for i in range(n_repeats)
    ]
    current, merges = result, []
    rng = np.random.default_rng([seed or 0, 7])
    while sum(m["accepted"] for m in merges) < max_merges:
        W, H = _values(current.W), _values(current.H)
        # refits use the non-empty components only (an empty one is padded back)
        live = np.flatnonzero((W > 0).any(axis=(0, 2)) & (H > 0).any(axis=1))
        W, H = W[:, live], H[live]
        power = np.asarray(current.power_explained)[live]
        p, lag, corr = lag_locking(H, L)
        pw, lagw = _spacing_locking(W, rng)
        pairs = sorted(
            (min(p[i, j], pw[i, j]), -corr[i, j], i, j)
            for i in range(live.size)
            for j in range(i + 1, live.size)
            if min(p[i, j], pw[i, j]) <= alpha and power[i] > 0 and power[j] > 0
        )
        accepted = False
        # the split model's held-out losses: the same for every candidate pair
        split = _heldout_losses(Vm, W, H, L, options, masks) if pairs else None
        for _pv, negr, i, j in pairs:
            # keep the stronger (components are sorted by power: the lower index);
            # the lag of the locked activations, else that of the shared spacing
            keep, drop = int(i), int(j)
            ell = int(lag[i, j] if p[i, j] <= alpha else lagw[i, j])
            Wm, Hm = _merged(W, H, keep, drop, ell)
            merged = _heldout_losses(Vm, Wm, Hm, L, options, masks)
            s, m = float(split.mean()), float(merged.mean())
            se = float(split.std(ddof=1) / np.sqrt(split.size))
            accepted = bool(m - s <= se)
            merges.append(
                {
                    "kept": int(live[keep]),
                    "absorbed": int(live[drop]),
                    "lag": ell,
                    "pvalue": float(p[i, j]),
                    "pvalue_spacing": float(pw[i, j]),
                    "correlation": float(-negr),
                    "heldout_split": s,
                    "heldout_merged": m,
                    "heldout_se": se,
                    "accepted": accepted,
                }
            )
            if accepted:
                refit = conv_nmf(V, Wm.shape[1], L, W=Wm, H=Hm, **options)
                current = _pad_empty(refit, K - Wm.shape[1])
                break
        if not accepted:
            break
    if current is not result:
        current.params["merged_fragments"] = [
            {k: m[k] for k in ("kept", "absorbed", "lag")}
            for m in merges
            if m["accepted"]
        ]
    return FragmentMerge(result=current, merges=merges)
