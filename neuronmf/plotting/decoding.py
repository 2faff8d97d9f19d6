"""Plots for decoding results: decoded vs true behaviour, scores by rank with null."""

from __future__ import annotations

import numpy as np

from neuronmf.plotting._labels import time_label, value_label

__all__ = ["plot_predictions", "plot_rank_scores"]


_METRIC_NAMES = {"r2": "R²", "accuracy": "accuracy", "balanced_accuracy": "accuracy"}


def _axes(ax, figsize=(8, 3)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax.figure, ax


def plot_predictions(result, *, ax=None, max_points: int = 5000):
    """True behaviour and out-of-sample predictions over time, test blocks shaded.

    Parameters
    ----------
    result : DecodingResult
    ax : matplotlib Axes, optional
    max_points : int
        Thin long recordings to at most this many points.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, neuronmf as nm
    >>> rng = np.random.default_rng(0)
    >>> X = rng.poisson(2.0, (300, 6)).astype(float); y = X[:, 0] + rng.random(300)
    >>> res = nm.decoding.decode(X, y, rank=2, cv=3, inner_cv=2, n_null=0)
    >>> fig = plot_predictions(res)
    """
    fig, ax = _axes(ax)
    t = result.behavior["time"].values
    step = max(1, t.size // max_points)
    ax.plot(
        t[::step], result.behavior.values[::step], color="0.5", lw=1, label="behaviour"
    )
    ax.plot(
        t[::step],
        result.predictions.values[::step],
        color="C1",
        lw=1,
        label=f"decoded ({result.metric} = {result.score:.2f})",
    )
    for k, (_, test) in enumerate(result.folds):
        if k % 2 == 0 and test.size:
            ax.axvspan(t[test[0]], t[test[-1]], color="C0", alpha=0.06, lw=0)
    ax.set_xlabel(time_label(result.behavior["time"]))
    name = result.attrs.get("behavior_name") or "behaviour"
    ax.set_ylabel(value_label(name, result.behavior))
    ax.legend(loc="upper right", frameon=False, fontsize=8)
    return fig


def plot_rank_scores(result, *, ax=None):
    """Inner-loop score by rank (mean ± SD over outer folds) with the null band.

    The band is the 2.5–97.5 % range of the circularly shifted null's mean test
    scores; the point is the outer-fold mean test score at the chosen ranks.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, neuronmf as nm
    >>> rng = np.random.default_rng(0)
    >>> X = rng.poisson(2.0, (300, 6)).astype(float); y = X[:, 0] + rng.random(300)
    >>> res = nm.decoding.decode(X, y, ranks=[1, 2], cv=3, inner_cv=2, n_null=3)
    >>> fig = plot_rank_scores(res)
    """
    fig, ax = _axes(ax, (5, 3.5))
    rs = result.rank_scores
    ranks = rs["rank"].values
    ax.errorbar(
        ranks,
        rs.mean("fold"),
        yerr=rs.std("fold"),
        marker="o",
        ms=4,
        label="inner CV (training data)",
    )
    if result.null_scores.size:
        lo, hi = np.percentile(result.null_scores.values, [2.5, 97.5])
        ax.axhspan(lo, hi, color="0.7", alpha=0.5, label="null (shifted behaviour)")
    if result.rank is not None:
        ax.plot(
            [result.rank],
            [result.score],
            "*",
            color="C3",
            ms=12,
            label=f"outer test, rank {result.rank}",
        )
    ax.set_xlabel("rank")
    ax.set_ylabel(f"{_METRIC_NAMES.get(result.metric, result.metric)} (unitless)")
    ax.legend(frameon=False, fontsize=8)
    return fig
