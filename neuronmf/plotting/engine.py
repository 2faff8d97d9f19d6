"""Plots of an :class:`~neuronmf.NMFResult`: convergence, parts and activations."""

from __future__ import annotations

import numpy as np

from neuronmf.plotting._labels import new_figure, subset_note, time_label


def _axes(ax, **subplots):
    if ax is None:
        fig, ax = new_figure(**subplots)
        return fig, ax
    return ax.figure, ax


def plot_loss(result, *, ax=None):
    """Objective against outer iteration (log scale).

    Parameters
    ----------
    result : NMFResult
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, neuronmf as nm
    >>> res = nm.nmf(np.random.default_rng(0).random((8, 40)), 2, seed=0)
    >>> fig = plot_loss(res)
    """
    fig, ax = _axes(ax, figsize=(4, 3))
    ax.semilogy(np.arange(1, len(result.loss_history) + 1), result.loss_history)
    ax.set_xlabel("outer iteration")
    ax.set_ylabel("objective (a.u., log scale)")
    ax.set_title(f"{result.params.get('solver', '')}: {result.n_iter} iterations")
    return fig


def plot_components(
    result, *, feature_names=None, sample_times=None, axes=None, max_samples=2000
):
    """Parts as bars (one row per component) and activations as traces.

    Parameters
    ----------
    result : NMFResult
    feature_names : sequence of str, optional
        Labels of W's rows (taken from the DataArray coordinate when labelled).
    sample_times : array-like, optional
        x values of H (taken from the sample coordinate when labelled).
    axes : array of matplotlib Axes, shape (rank, 2), optional
    max_samples : int, default 2000
        Activations longer than this are shown in their first ``max_samples``
        (the figure then says "showing <max_samples> of <n> samples").

    Returns
    -------
    matplotlib.figure.Figure
    """
    W = result.W
    H = result.H
    if hasattr(W, "dims"):
        fdims = [d for d in W.dims if d != "component"]
        if feature_names is None and len(fdims) == 1 and fdims[0] in W.coords:
            feature_names = [str(v) for v in W[fdims[0]].values]
        W = W.transpose(*fdims, "component").values.reshape(-1, W.sizes["component"])
    xlabel = "sample (index)"
    if hasattr(H, "dims"):
        sdim = next(d for d in H.dims if d != "component")
        if sample_times is None and sdim in H.coords:
            sample_times = H[sdim].values
            xlabel = time_label(H[sdim]) if sdim == "time" else f"{sdim} (index)"
        H = H.transpose("component", sdim).values
    rank = W.shape[1]
    if axes is None:
        fig, axes = new_figure(
            rank,
            2,
            figsize=(9, 1.6 * rank + 1.2),
            squeeze=False,
            gridspec_kw={"width_ratios": [1, 2]},
        )
    else:
        axes = np.asarray(axes).reshape(rank, 2)
        fig = axes[0, 0].figure
    x = np.arange(W.shape[0])
    t = np.arange(H.shape[1]) if sample_times is None else np.asarray(sample_times)
    shown = slice(0, min(H.shape[1], max_samples))
    for k in range(rank):
        axes[k, 0].bar(x, W[:, k], color=f"C{k % 10}")
        axes[k, 0].set_ylabel(f"comp. {k}\nweight (a.u.)")
        axes[k, 1].set_ylabel("activation (a.u.)")
        axes[k, 1].plot(t[shown], H[k, shown], color=f"C{k % 10}", lw=0.8)
        if k < rank - 1:
            axes[k, 0].set_xticks([])
            axes[k, 1].set_xticklabels([])
    if feature_names is not None and len(feature_names) == W.shape[0]:
        axes[-1, 0].set_xticks(x, feature_names, rotation=90, fontsize=7)
    axes[0, 0].set_title("parts W")
    axes[0, 1].set_title("activations H")
    if sample_times is not None and xlabel == "sample (index)":
        xlabel = "time (s)"  # given by the caller
    for k in range(rank):
        axes[k, 0].set_xlabel("feature")
        axes[k, 1].set_xlabel(xlabel)
        axes[k, 0].xaxis.label.set_visible(k == rank - 1)
        axes[k, 1].xaxis.label.set_visible(k == rank - 1)
    subset_note(axes[0, 1], shown.stop, H.shape[1], "samples")
    return fig


def plot_result(result, **kwargs):
    """Components and convergence of one result in a single figure."""
    fig = plot_components(result, **kwargs)
    return fig
