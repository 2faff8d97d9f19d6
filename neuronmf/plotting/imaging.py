"""Plots of a segmentation: contours over summary images, traces, footprint gallery."""

from __future__ import annotations

import numpy as np


def plot_contours(seg, movie=None, *, image: str = "mean", ax=None):
    """Footprint contours over the movie's mean (or max) image, or the baseline.

    Parameters
    ----------
    seg : Dataset from :func:`neuronmf.imaging.segment`
    movie : DataArray (time, y, x), optional
    image : {"mean", "max"}
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import neuronmf as nm
    >>> sim = nm.datasets.simulate_movie((40, 40), 100, 4, 3.0, seed=0)
    >>> fig = plot_contours(nm.imaging.segment(sim.data, neuron_radius=3.0), sim.data)
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 6))
    else:
        fig = ax.figure
    if movie is not None:
        bg = np.asarray(movie.max("time") if image == "max" else movie.mean("time"))
    else:
        bg = np.asarray(seg["baseline"])
    ax.imshow(bg, cmap="gray")
    A = np.asarray(seg["footprints"])
    for a in A:
        if a.max() > 0:
            ax.contour(a, levels=[0.3 * a.max()], colors="tab:orange", linewidths=0.8)
    ax.set_title(
        f"{len(A)} neurons over the {image if movie is not None else 'baseline'} image"
    )
    ax.set_axis_off()
    return fig


def plot_traces(seg, *, n: int = 10, ax=None, dff: bool = True):
    """The ``n`` highest-SNR traces (ΔF/F by default), stacked."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4))
    else:
        fig = ax.figure
    X = np.asarray(seg["dff" if dff else "traces"])[:n]
    t = np.asarray(seg["time"])
    for i, x in enumerate(X):
        ax.plot(t, x / max(np.ptp(x), 1e-12) + i, lw=0.7)
    ax.set_xlabel("time")
    ax.set_ylabel("neuron (normalised " + ("ΔF/F" if dff else "trace") + ")")
    return fig


def plot_footprints(seg, *, n: int = 25):
    """A gallery of the first ``n`` footprints, cropped around each centroid."""
    import matplotlib.pyplot as plt

    A = np.asarray(seg["footprints"])[:n]
    k = max(len(A), 1)
    cols = int(np.ceil(np.sqrt(k)))
    rows = int(np.ceil(k / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(1.5 * cols, 1.5 * rows), squeeze=False
    )
    r = int(np.ceil(3 * float(seg.attrs.get("neuron_radius", 5))))
    for ax, a, c in zip(axes.flat, A, np.asarray(seg["centroid"])[:n], strict=False):
        y, x = round(c[0]), round(c[1])
        ax.imshow(a[max(y - r, 0) : y + r + 1, max(x - r, 0) : x + r + 1], cmap="magma")
    for ax in axes.flat:
        ax.set_axis_off()
    return fig
