"""Plots of a cross-session matching (:func:`neuronmf.imaging.match_sessions`)."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import PathCollection
from scipy.stats import norm

from neuronmf.plotting._labels import new_figure
from neuronmf.plotting.imaging import footprint_outlines

__all__ = ["plot_session_matching", "plot_session_overlay", "plot_session_scores"]

_SESSION_COLOURS = np.array(
    [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.6, 1.0], [1.0, 0.6, 0.0]]
)


def _composite(images: np.ndarray) -> np.ndarray:
    """RGB overlay of the aligned images (slow background removed), one colour each."""
    from scipy.ndimage import gaussian_filter

    rgb = np.zeros((*images.shape[1:], 3))
    for s, im in enumerate(images):
        im = im - gaussian_filter(im, max(im.shape) / 16)
        lo, hi = np.percentile(im, [50, 99.5])
        x = np.clip((im - lo) / max(hi - lo, 1e-12), 0, 1)
        rgb += x[..., None] * _SESSION_COLOURS[s % len(_SESSION_COLOURS)]
    return np.clip(rgb / max(1.0, len(images) / 2), 0, 1)


def plot_session_overlay(result, sessions=None, *, ax=None):
    """Aligned mean images overlaid, matched cells coloured by identity.

    With ``sessions`` (the list given to ``match_sessions``) the footprint
    outlines (30 % of peak) of every session are drawn in the reference
    frame, one colour per identity (cells matched in two or more sessions)
    and grey for cells seen once; without it, the aligned centroids.

    Examples
    --------
    >>> from neuronmf.datasets import simulate_movie
    >>> from neuronmf.imaging import match_sessions
    >>> sims = simulate_movie((64, 64), 60, 15, 4.0, n_sessions=2, seed=0)
    >>> feet = [s.truth["footprints"] for s in sims]
    >>> fig = plot_session_overlay(match_sessions(feet), feet)
    """
    from matplotlib import colormaps

    from neuronmf.imaging.sessions import align_footprints

    if ax is None:
        fig, ax = new_figure(figsize=(6, 6))
    else:
        fig = ax.figure
    ax.imshow(_composite(np.asarray(result["mean_image"].values)))
    table = np.asarray(result["neuron"].values)
    matched = (table >= 0).sum(1) >= 2
    cmap = colormaps["tab20"]
    colours = [
        cmap(c % 20) if matched[c] else (0.6, 0.6, 0.6, 1.0) for c in range(len(table))
    ]
    if sessions is not None:
        for s, item in enumerate(sessions):
            A = align_footprints(item, result, s)
            rows = np.nonzero(table[:, s] >= 0)[0]
            for c in rows:
                paths = footprint_outlines(A[table[c, s]][None], 0.3)
                ax.add_collection(
                    PathCollection(paths, facecolors="none", edgecolors=[colours[c]],
                                   linewidths=0.8),
                    autolim=False,
                )  # fmt: skip
    else:
        cen = np.asarray(result["centroid"].values)
        for s in range(table.shape[1]):
            ok = table[:, s] >= 0
            ax.scatter(
                cen[ok, s, 1],
                cen[ok, s, 0],
                s=12,
                c=[colours[c] for c in np.nonzero(ok)[0]],
                marker="o+x^"[s % 4],
            )
    n_s = table.shape[1]
    ax.set_title(
        f"{int(matched.sum())} cells matched across {n_s} sessions "
        f"({len(table) - int(matched.sum())} seen once)"
    )
    ax.set_xlabel("x (px, reference session)")
    ax.set_ylabel("y (px)")
    for s in range(n_s):
        ax.plot([], [], "s", color=_SESSION_COLOURS[s % 4], label=f"session {s}")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.7)
    return fig


def plot_session_scores(result, *, ax=None):
    """Spatial correlation of candidate pairs with the fitted mixture.

    The histogram of the candidate pairs' footprint correlations (density),
    the fitted same-cell component (log-normal 1 − ρ, scaled by its weight)
    and the different-cell one (the control pairs' histogram, scaled by
    1 − weight), with the P(same) of each pair on a second axis.
    """
    if ax is None:
        fig, ax = new_figure(figsize=(6, 4))
    else:
        fig = ax.figure
    r = np.asarray(result["pair_correlation"].values)
    p = np.asarray(result["pair_p_same"].values)
    bins = np.linspace(min(float(r.min(initial=0.0)), 0.0), 1.0, 41)
    ax.hist(
        r, bins=bins, density=True, color="0.75", label=f"candidate pairs ({len(r)})"
    )
    w = float(result.attrs.get("mixture_weight_same", np.nan))
    mu = float(result.attrs.get("mixture_corr_same_mu", np.nan))
    sd = float(result.attrs.get("mixture_corr_same_sd", np.nan))
    x = np.linspace(0.0, 0.999, 400)
    if np.isfinite(mu):
        f = norm.pdf(np.log1p(-x), mu, sd) / (1 - x)
        ax.plot(x, w * f, color="tab:green", label=f"same cell (weight {w:.2f})")
    if "control_correlation" in result and result.sizes.get("control", 0):
        rc = np.asarray(result["control_correlation"].values)
        h, edges = np.histogram(rc, bins=bins, density=True)
        ax.step(edges[:-1], (1 - w) * h, where="post", color="tab:red",
                label="different cells (control pairs)")  # fmt: skip
    ax.set_xlabel("footprint spatial correlation ρ")
    ax.set_ylabel("density (log scale)")
    ax.set_yscale("log")
    twin = ax.twinx()
    twin.plot(r, p, ".", ms=3, color="tab:blue", alpha=0.6)
    twin.set_ylabel("P(same) of each pair", color="tab:blue")
    twin.set_ylim(-0.02, 1.02)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.7)
    ax.set_title(
        f"Mixture fitted to {len(r)} pairs ({result.attrs.get('mixture_model')})"
    )
    return fig


def plot_session_matching(result, sessions=None):
    """Both panels side by side: the overlay and the scores with the mixture.

    Examples
    --------
    >>> from neuronmf.datasets import simulate_movie
    >>> from neuronmf.imaging import match_sessions
    >>> sims = simulate_movie((64, 64), 60, 15, 4.0, n_sessions=2, seed=0)
    >>> feet = [s.truth["footprints"] for s in sims]
    >>> fig = plot_session_matching(match_sessions(feet))
    """
    fig, axes = new_figure(1, 2, figsize=(12, 5.5))
    plot_session_overlay(result, sessions, ax=axes[0])
    plot_session_scores(result, ax=axes[1])
    return fig
