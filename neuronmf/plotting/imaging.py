"""Plots of a segmentation: contours over summary images, traces, footprint gallery."""

from __future__ import annotations

import numpy as np

from neuronmf.plotting._labels import new_figure, subset_note, time_label


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
    if ax is None:
        fig, ax = new_figure(figsize=(6, 6))
    else:
        fig = ax.figure
    if movie is not None:
        bg = np.asarray(movie.max("time") if image == "max" else movie.mean("time"))
    else:
        bg = np.asarray(seg["baseline"])
    im = ax.imshow(bg, cmap="gray")
    A = np.asarray(seg["footprints"])
    for a in A:
        if a.max() > 0:
            ax.contour(a, levels=[0.3 * a.max()], colors="tab:orange", linewidths=0.8)
    ax.plot([], [], color="tab:orange", lw=0.8, label="footprint (30 % of peak)")
    ax.set_title(
        f"{len(A)} neurons over the {image if movie is not None else 'baseline'} image"
    )
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.7)
    units = (movie.attrs.get("units") if movie is not None else None) or "a.u."
    fig.colorbar(im, ax=ax, shrink=0.8, label=f"{image} intensity ({units})")
    return fig


def plot_traces(seg, *, n: int = 10, ax=None, dff: bool = True):
    """The ``n`` highest-SNR traces (ΔF/F by default), stacked.

    Each trace is scaled to its own range and drawn one unit above the previous;
    the figure says how many of the neurons it shows.
    """
    if ax is None:
        fig, ax = new_figure(figsize=(8, 4))
    else:
        fig = ax.figure
    X = np.asarray(seg["dff" if dff else "traces"])
    total = len(X)
    order = (
        np.argsort(-np.asarray(seg["snr"]))[:n] if "snr" in seg else np.arange(total)
    )
    X = X[order[:n]]
    t = np.asarray(seg["time"])
    for i, x in enumerate(X):
        ax.plot(t, x / max(np.ptp(x), 1e-12) + i, lw=0.7)
    ax.set_xlabel(time_label(seg["time"]))
    ax.set_ylabel(
        "neuron, " + ("ΔF/F" if dff else "trace") + " (normalised, 1 per neuron)"
    )
    subset_note(ax, len(X), total, "neurons (highest SNR)")
    return fig


def plot_footprints(seg, *, n: int = 25):
    """A gallery of the first ``n`` footprints, cropped around each centroid.

    The panels are image crops (pixels): their axes are hidden and the figure's
    labels say "x (px)" and "y (px)"; it says how many of the neurons it shows.
    """
    total = int(seg.sizes.get("neuron", len(seg["footprints"])))
    A = np.asarray(seg["footprints"])[:n]
    k = max(len(A), 1)
    cols = int(np.ceil(np.sqrt(k)))
    rows = int(np.ceil(k / cols))
    fig, axes = new_figure(
        rows, cols, figsize=(1.5 * cols + 0.5, 1.5 * rows + 0.8), squeeze=False
    )
    r = int(np.ceil(3 * float(seg.attrs.get("neuron_radius", 5))))
    for ax, a, c in zip(axes.flat, A, np.asarray(seg["centroid"])[:n], strict=False):
        y, x = round(c[0]), round(c[1])
        ax.imshow(a[max(y - r, 0) : y + r + 1, max(x - r, 0) : x + r + 1], cmap="magma")
    for i, ax in enumerate(axes.flat):
        if i < len(A):
            ax.set_title(f"neuron {i}", fontsize=7)
        ax.set_axis_off()
    fig.supxlabel(f"x (px), crops of {2 * r + 1} px", fontsize=8)
    fig.supylabel("y (px)", fontsize=8)
    if len(A) < total:
        fig.suptitle(f"showing {len(A)} of {total} neurons", fontsize=8)
    return fig
