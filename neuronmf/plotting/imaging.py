"""Plots of a segmentation: contours over summary images, traces, footprint gallery."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import PathCollection
from matplotlib.path import Path

from neuronmf.plotting._labels import new_figure, subset_note, time_label


def footprint_outlines(footprints, fraction: float = 0.3) -> list[Path]:
    """Outlines of each footprint at ``fraction`` of its peak, in pixel coordinates.

    Each footprint is contoured only inside the bounding box of its pixels at or
    above the level, padded by one pixel (every cell the level crosses lies in
    it), and the lines are shifted back by the box's corner: the same lines as
    contouring the whole frame, with memory and time that grow with the
    footprints' size instead of n_neurons × frame (a 512 × 512 frame per
    neuron held 3 GB for 330 neurons; issue 21, 11(b)).

    Parameters
    ----------
    footprints : array-like (neuron, y, x)
        Non-negative footprints; read one at a time (a DataArray, a NumPy or a
        lazily indexed array; nothing is stacked or copied whole).
    fraction : float
        Level as a fraction of each footprint's peak.

    Returns
    -------
    list of matplotlib.path.Path
        Outlines in (x, y) pixel coordinates (closed ones end with CLOSEPOLY,
        as matplotlib's own contours), ready for one
        :class:`matplotlib.collections.PathCollection`. Footprints with no
        positive pixel have no outline.

    Examples
    --------
    >>> a = np.zeros((1, 64, 64)); a[0, 10:13, 20:23] = 1.0
    >>> lines = footprint_outlines(a)
    >>> xy = lines[0].vertices
    >>> len(lines), float(xy[:, 0].min()) > 19, float(xy[:, 1].max()) < 13
    (1, True, True)
    """
    from contourpy import LineType, contour_generator

    lines: list[Path] = []
    for i in range(len(footprints)):
        a = np.asarray(footprints[i])
        peak = float(a.max()) if a.size else 0.0
        if not peak > 0:
            continue
        level = fraction * peak
        above = a >= level
        rows = np.flatnonzero(above.any(axis=1))
        cols = np.flatnonzero(above.any(axis=0))
        y0, y1 = max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 2, a.shape[0])
        x0, x1 = max(int(cols[0]) - 1, 0), min(int(cols[-1]) + 2, a.shape[1])
        crop = np.asarray(a[y0:y1, x0:x1], dtype=np.float64)
        if crop.shape[0] < 2 or crop.shape[1] < 2:  # contourpy needs a 2 x 2 grid
            crop = np.pad(crop, ((0, crop.shape[0] < 2), (0, crop.shape[1] < 2)))
        gen = contour_generator(
            z=crop, name="mpl2014", corner_mask=True, line_type=LineType.SeparateCode
        )
        points, codes = gen.lines(level)
        for xy, code in zip(points, codes, strict=True):
            if len(xy):
                lines.append(Path(xy + np.array([x0, y0]), code))
    return lines


#: The images :func:`plot_contours` draws on: name → (variable of the
#: segmentation, colour-bar label).
CONTOUR_IMAGES = {
    "mean": ("mean_image", "mean intensity"),
    "max": (None, "max intensity"),
    "correlation": ("correlation_image", "local correlation"),
}


def _contour_image(seg, movie, image: str):
    """(image, its name for the title, colour-bar label) under the contours."""
    from neuronmf.errors import input_error

    if image not in CONTOUR_IMAGES:
        raise input_error("image", " or ".join(map(repr, CONTOUR_IMAGES)), repr(image))
    name, label = CONTOUR_IMAGES[image]
    if name is not None and name in seg:  # kept by segment: no pass over the movie
        return np.asarray(seg[name]), image, label
    if image != "correlation" and movie is not None:
        bg = movie.max("time") if image == "max" else movie.mean("time")
        return np.asarray(bg), image, label
    if image != "correlation" and "baseline" in seg:  # no movie, no mean_image
        return np.asarray(seg["baseline"]), "baseline", "baseline intensity"
    raise input_error(
        "image",
        "an image the segmentation has",
        repr(image),
        f"The segmentation has no {name or 'baseline'!r} variable (segment "
        "keeps correlation_image unless seeds='anatomy'); pass the movie and "
        "image='mean' or 'max'.",
    )


def plot_contours(seg, movie=None, *, image: str = "mean", ax=None):
    """Footprint contours over a summary image of the movie.

    ``image="mean"`` draws on the segmentation's ``mean_image`` (kept by
    :func:`neuronmf.imaging.segment`, so the movie is not read again; for
    results without one, the movie's mean), ``"correlation"`` on its local
    ``correlation_image``, ``"max"`` on the movie's maximum projection (the
    movie is read once). Without a movie and without the image, the
    ``baseline`` is drawn, as the title says.

    Parameters
    ----------
    seg : Dataset from :func:`neuronmf.imaging.segment`
    movie : DataArray (time, y, x), optional
        Only needed for ``image="max"``, a mean image segment did not keep,
        and the intensity units (``movie.attrs["units"]``).
    image : {"mean", "correlation", "max"}
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import neuronmf as nm
    >>> sim = nm.datasets.simulate_movie((40, 40), 100, 4, 3.0, seed=0)
    >>> seg = nm.imaging.segment(sim.data, neuron_radius=3.0)
    >>> fig = plot_contours(seg, image="correlation")
    """
    bg, shown, label = _contour_image(seg, movie, image)
    if ax is None:
        fig, ax = new_figure(figsize=(6, 6))
    else:
        fig = ax.figure
    im = ax.imshow(bg, cmap="gray")
    del bg
    A = seg["footprints"]
    ax.add_collection(  # one artist for every outline
        PathCollection(
            footprint_outlines(A, 0.3),
            facecolors="none",
            edgecolors="tab:orange",
            linewidths=0.8,
        ),
        autolim=False,
    )
    ax.plot([], [], color="tab:orange", lw=0.8, label="footprint (30 % of peak)")
    ax.set_title(f"{len(A)} neurons over the {shown} image")
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.7)
    units = (movie.attrs.get("units") if movie is not None else None) or "a.u."
    if shown == "correlation":
        units = "Pearson r"
    fig.colorbar(im, ax=ax, shrink=0.8, label=f"{label} ({units})")
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
