"""Plots for synergies in time: space-by-time modules and time-varying synergies."""

from __future__ import annotations

import numpy as np

from neuronmf.plotting._labels import new_figure, time_label

__all__ = ["plot_space_by_time", "plot_time_varying"]


def plot_space_by_time(ds, *, max_trials: int = 60):
    """Temporal modules, spatial modules and the trials' coefficients.

    Top row: each temporal module over the trial's time. Middle row: each
    spatial module's muscle weights (bars). Bottom: the coefficients of every
    (temporal, spatial) pair per trial (an image, trials sorted by their
    ``condition`` coordinate when there is one).

    Parameters
    ----------
    ds : Dataset from :func:`neuronmf.synergies.space_by_time`
    max_trials : int
        Trials shown in the coefficient image (the first ones).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from neuronmf.datasets import simulate_space_by_time
    >>> from neuronmf.synergies import space_by_time
    >>> ds = space_by_time(simulate_space_by_time(n_trials=8).data, 3, 2)
    >>> fig = plot_space_by_time(ds)
    >>> len(fig.axes) >= 6
    True
    """
    P, L = ds.sizes["temporal_module"], ds.sizes["spatial_module"]
    cols = max(P, L)
    fig, axes = new_figure(3, cols, figsize=(3.0 * cols, 7.5), squeeze=False)
    feature = ds.spatial.dims[1]
    for p in range(cols):
        ax = axes[0, p]
        if p < P:
            ax.plot(ds["time"].values, ds.temporal.isel(temporal_module=p).values)
            ax.set_title(f"temporal module {p}")
            ax.set_xlabel(time_label(ds["time"]))
        else:
            ax.axis("off")
    names = [str(v) for v in ds[feature].values]
    for q in range(cols):
        ax = axes[1, q]
        if q < L:
            ax.bar(np.arange(len(names)), ds.spatial.isel(spatial_module=q).values)
            ax.set_xticks(np.arange(len(names)), names, rotation=90, fontsize=7)
            ax.set_title(f"spatial module {q}")
        else:
            ax.axis("off")
    gs = axes[2, 0].get_gridspec()
    for ax in axes[2]:
        ax.remove()
    ax = fig.add_subplot(gs[2, :])
    A = ds.activations.values
    order = np.arange(A.shape[0])
    if "condition" in ds.coords:
        order = np.argsort(ds["condition"].values, kind="stable")
    order = order[:max_trials]
    image = A[order].reshape(len(order), P * L).T
    im = ax.imshow(image, aspect="auto", interpolation="nearest", cmap="viridis")
    ax.set_yticks(
        np.arange(P * L), [f"t{p}·s{q}" for p in range(P) for q in range(L)], fontsize=7
    )
    ax.set_xlabel(
        "trial" + (" (sorted by condition)" if "condition" in ds.coords else "")
    )
    fig.colorbar(im, ax=ax, label="coefficient (a.u.)")
    fig.suptitle(f"space-by-time, VAF {float(ds.vaf):.3f}")
    return fig


def plot_time_varying(ds, *, envelope=None, window=None):
    """Time-varying synergies (muscle × lag) and their occurrences.

    Top row: each synergy's waveform, one line per muscle, offset vertically.
    Bottom: the activations over time with a marker at every occurrence
    (height = amplitude); with ``envelope`` (time, channel), the summed
    envelope is drawn above them for reference.

    Parameters
    ----------
    ds : Dataset from ``extract(..., kind="time-varying")``
    envelope : DataArray (time, channel), optional
    window : (t0, t1), optional
        Time range of the bottom panel.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from neuronmf.datasets import simulate_time_varying_emg
    >>> from neuronmf.synergies import extract
    >>> sim = simulate_time_varying_emg(n_muscles=5, n_synergies=2, total_time=10,
    ...                                 rate=50, seed=0)
    >>> ds = extract(sim.data, kind="time-varying", duration=0.45, rank=2,
    ...              n_restarts=1)
    >>> fig = plot_time_varying(ds, envelope=sim.data)
    >>> len(fig.axes)
    3
    """
    K = ds.sizes["synergy"]
    fig, axes = new_figure(2, K, figsize=(3.2 * K, 7.0), squeeze=False)
    muscles = [str(m) for m in ds["muscle"].values]
    lag = ds["lag"].values
    for k in range(K):
        ax = axes[0, k]
        W = ds.synergies.isel(synergy=k).values  # (muscle, lag)
        step = float(W.max()) or 1.0
        for j in range(W.shape[0]):
            base = (W.shape[0] - 1 - j) * step
            ax.fill_between(lag, base, base + W[j], color=f"C{k}", alpha=0.7, lw=0)
        ax.set_yticks(
            (W.shape[0] - 1 - np.arange(W.shape[0])) * step, muscles, fontsize=7
        )
        ax.set_xlabel("lag (s)")
        ax.set_title(f"synergy {k}")
    gs = axes[1, 0].get_gridspec()
    for ax in axes[1]:
        ax.remove()
    ax = fig.add_subplot(gs[1, :])
    t = ds["time"].values
    if envelope is not None:
        env = np.asarray(envelope.values).sum(axis=1)
        te = np.asarray(envelope["time"].values)
        top = float(ds.activations.max()) or 1.0
        ax.plot(te, top * (1.1 + env / (env.max() or 1.0)), color="0.5", lw=0.8)
    for k in range(K):
        ax.plot(t, ds.activations.isel(synergy=k).values, color=f"C{k}", lw=0.8)
        sel = ds.occurrence_synergy.values == k
        ax.plot(
            ds.onset.values[sel],
            ds.amplitude.values[sel],
            "v",
            color=f"C{k}",
            ms=5,
            label=f"synergy {k}",
        )
    if window is not None:
        ax.set_xlim(*window)
    ax.set_xlabel(time_label(ds["time"]))
    ax.set_ylabel("activation / amplitude (a.u.)")
    ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"time-varying synergies, VAF {float(ds.vaf):.3f}")
    return fig
