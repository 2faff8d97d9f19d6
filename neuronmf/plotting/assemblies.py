"""Plots for assemblies: membership matrix, activations with behaviour."""

from __future__ import annotations

import numpy as np

from neuronmf.plotting._labels import time_label, value_label

__all__ = ["plot_activations", "plot_membership"]


def plot_membership(ds, *, ax=None):
    """Membership weights (neuron × assembly) with members outlined.

    Parameters
    ----------
    ds : xarray.Dataset from :func:`neuronmf.assemblies.detect`
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import neuronmf as nm
    >>> sim = nm.datasets.simulate_assemblies(n_neurons=12, n_assemblies=2, n_bins=400)
    >>> fig = plot_membership(nm.assemblies.detect(sim.data, rank=2, n_surrogates=0))
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(
            figsize=(3 + 0.4 * ds.sizes["assembly"], 5), layout="constrained"
        )
    W = ds.membership.values
    im = ax.imshow(W, aspect="auto", cmap="Greys", interpolation="nearest")
    ii, kk = np.nonzero(ds.members.values)
    ax.scatter(kk, ii, s=12, facecolors="none", edgecolors="C3", label="member")
    sig = ds.get("significant")
    flat = ds.get("specific")
    labels = []
    for k in range(W.shape[1]):
        mark = "*" if sig is not None and bool(sig.values[k]) else ""
        if flat is not None and not bool(flat.values[k]):
            mark += " ns"
        labels.append(f"{k}{mark}")
    ax.set_xticks(range(W.shape[1]), labels)
    ax.set_xlabel(
        "component (* significant assembly"
        + (
            ";\nns = non-specific, spread over\nnearly all neurons)"
            if flat is not None
            else ")"
        )
    )
    ax.set_ylabel("neuron")
    ax.legend(loc="upper right", fontsize=7, framealpha=0.7)
    ax.figure.colorbar(im, ax=ax, label="weight (a.u.)")
    return ax.figure


def plot_activations(ds, behavior=None, *, ax=None, max_points: int = 5000):
    """Assembly activations over time, with a behavioural variable below.

    Parameters
    ----------
    ds : xarray.Dataset from :func:`neuronmf.assemblies.detect`
    behavior : xarray.DataArray (time,) or array, optional
    ax : matplotlib Axes, optional (the behaviour goes on a twin axis)

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import neuronmf as nm
    >>> sim = nm.datasets.simulate_assemblies(n_neurons=12, n_assemblies=2, n_bins=400)
    >>> ds = nm.assemblies.detect(sim.data, rank=2, n_surrogates=0)
    >>> fig = plot_activations(ds, sim.behavior)
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3), layout="constrained")
    t = ds.time.values
    step = max(1, t.size // max_points)
    H = ds.activations.values
    offset = 1.1 * np.nanmax(H) if H.size else 1.0
    for k in range(H.shape[0]):
        ax.plot(t[::step], H[k, ::step] + k * offset, lw=0.8, label=f"assembly {k}")
    ax.set_xlabel(time_label(ds["time"]))
    ax.set_ylabel("activation (a.u., stacked)")
    handles = ax.get_legend_handles_labels()[0]
    if behavior is not None:
        b = np.asarray(getattr(behavior, "values", behavior), dtype=float)
        ax2 = ax.twinx()
        name = getattr(behavior, "name", None) or "behaviour"
        handles += ax2.plot(
            t[::step], b[::step], color="k", lw=1, alpha=0.6, label=str(name)
        )
        ax2.set_ylabel(value_label(str(name), behavior))
    ax.legend(handles=handles, loc="upper left", fontsize=7, framealpha=0.7)
    return ax.figure
