"""Plot of spike deconvolution: trace, denoised calcium and spikes of a few neurons."""

from __future__ import annotations

import numpy as np

from neuronmf.plotting._labels import new_figure, subset_note, time_label

__all__ = ["plot_deconvolution"]


def plot_deconvolution(result, traces=None, *, neurons=None, n: int = 4, axes=None):
    """Trace, denoised calcium and spikes for ``n`` neurons, one panel each.

    Parameters
    ----------
    result : xarray.Dataset
        A :func:`~neuronmf.imaging.deconvolve` result (``denoised``,
        ``spikes``, ``baseline``), or a segmentation after
        :func:`~neuronmf.imaging.traces` (``dff``, ``denoised``, ``spikes``,
        ``spike_baseline``; its ``dff`` is the trace drawn).
    traces : array-like (neuron, time), optional
        The deconvolved traces, for a ``deconvolve`` result (default: the
        result's ``dff`` if it has one; otherwise only the fit is drawn).
    neurons : sequence of int, optional
        Which neurons (positions); default the ``n`` with the most spikes.
    n : int
        How many neurons when ``neurons`` is not given.
    axes : sequence of matplotlib Axes, optional
        One per neuron.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from neuronmf.imaging import deconvolve
    >>> y = np.random.default_rng(0).normal(size=(3, 200))
    >>> fig = plot_deconvolution(deconvolve(y), y, n=2)
    >>> len(fig.axes)
    2
    """
    S = np.asarray(result["spikes"].values, float)
    C = np.asarray(result["denoised"].values, float)
    base_name = "spike_baseline" if "spike_baseline" in result else "baseline"
    b = np.asarray(result[base_name].values, float)
    if b.ndim != 1:  # a segmentation's (y, x) baseline image: not this one
        b = np.zeros(len(S))
    if traces is None and "dff" in result:
        traces = result["dff"].values
    Y = None if traces is None else np.asarray(traces, float)
    total = len(S)
    if neurons is None:
        order = np.argsort(-np.nan_to_num(S).sum(axis=1), kind="stable")
        neurons = order[: min(n, total)]
    neurons = [int(i) for i in neurons]
    if axes is None:
        fig, axes = new_figure(
            len(neurons), 1, figsize=(9, 1.8 * len(neurons) + 0.6), sharex=True
        )
        axes = np.atleast_1d(axes)
    else:
        axes = np.atleast_1d(axes)
        fig = axes[0].figure
    t = np.asarray(result["time"].values) if "time" in result.coords else None
    t = np.arange(S.shape[1]) if t is None else t
    for ax, i in zip(axes, neurons, strict=True):
        if Y is not None:
            ax.plot(t, Y[i], color="0.6", lw=0.7, label="trace")
        ax.plot(t, C[i] + b[i], color="C0", lw=1.0, label="denoised + baseline")
        top = np.nanmax(S[i]) if np.isfinite(S[i]).any() else 0.0
        if top > 0:
            lo = np.nanmin(Y[i]) if Y is not None else np.nanmin(C[i] + b[i])
            nz = S[i] > 0
            ax.vlines(t[nz], lo, lo + S[i][nz], color="C3", lw=1.0, label="spikes")
        ax.set_ylabel(f"neuron {result['neuron'].values[i]}")
    axes[0].legend(loc="upper right", fontsize="small", ncols=3)
    axes[-1].set_xlabel(time_label(result["time"] if "time" in result else t))
    subset_note(axes[0], len(neurons), total, "neurons (most spikes)")
    return fig
