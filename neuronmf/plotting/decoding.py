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
    dim = result.behavior.dims[0]
    t = result.behavior[dim].values
    trials = dim != "time"
    step = 1 if trials else max(1, t.size // max_points)
    style = {"marker": "o", "ms": 3, "ls": "none"} if trials else {"lw": 1}
    finite = int(np.isfinite(result.scores.values).sum())
    over = (
        ""
        if finite == result.scores.size
        else f" over {finite} of {result.scores.size} folds"
    )
    ax.plot(
        t[::step],
        result.behavior.values[::step],
        color="0.5",
        label="behaviour (scored bins)",
        **style,
    )
    ax.plot(
        t[::step],
        result.predictions.values[::step],
        color="C1",
        label=f"decoded ({result.metric} = {result.score:.2f}{over})",
        **style,
    )
    if not trials:
        for k, (_, test) in enumerate(result.folds):
            if k % 2 == 0 and test.size:
                ax.axvspan(t[test[0]], t[test[-1]], color="C0", alpha=0.06, lw=0)
            if test.size and not np.isfinite(result.scores.values[k]):
                ax.annotate(
                    f"fold {k}: score undefined",
                    ((t[test[0]] + t[test[-1]]) / 2, 0.02),
                    xycoords=("data", "axes fraction"),
                    ha="center",
                    fontsize=7,
                    color="C3",
                )
    ax.set_xlabel(f"{dim} (id)" if trials else time_label(result.behavior["time"]))
    name = result.attrs.get("behavior_name") or "behaviour"
    ax.set_ylabel(
        f"{name} (class code)"
        if result.attrs.get("classes")
        else value_label(name, result.behavior)
    )
    ax.legend(loc="upper right", frameon=False, fontsize=8)
    if not trials:
        ax.set_title("test blocks alternate shading; gaps = not scored", fontsize=8)
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
        lo, hi = np.nanpercentile(result.null_scores.values, [2.5, 97.5])
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
