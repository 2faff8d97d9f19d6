"""Plots of a registration result (:func:`neuronmf.imaging.register`)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_registration"]


def plot_registration(reg, *, axes=None):
    """Shifts over time, correlation with the template, mean image before/after.

    Parameters
    ----------
    reg : xarray.Dataset
        The result of :func:`neuronmf.imaging.register`.
    axes : sequence of 4 matplotlib Axes, optional
        Where to draw (shifts, correlation, mean before, mean after); a new
        2 × 2 figure by default.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from neuronmf.datasets import simulate_movie
    >>> from neuronmf.imaging import register
    >>> sim = simulate_movie((48, 48), 30, 6, seed=0, motion={"rigid": 3})
    >>> reg = register(sim.data)
    >>> fig = plot_registration(reg)
    >>> len(fig.axes)
    4
    """
    import matplotlib.pyplot as plt

    if axes is None:
        fig, grid = plt.subplots(2, 2, figsize=(10, 7))
        axes = grid.ravel()
    fig = axes[0].figure
    t = reg["time"].values if "time" in reg.coords else np.arange(reg.sizes["time"])
    rigid = reg["rigid_shifts"] if "rigid_shifts" in reg else reg["shifts"]
    ax = axes[0]
    for k, (label, color) in enumerate((("y", "C0"), ("x", "C1"))):
        ax.plot(t, rigid.values[:, k], color=color, lw=1, label=f"{label} (rigid)")
        if reg["shifts"].ndim == 4:
            local = reg["shifts"].values[..., k].reshape(len(t), -1)
            ax.fill_between(t, local.min(1), local.max(1), color=color, alpha=0.25)
    ax.set_xlabel("time (s)" if "time" in reg.coords else "frame")
    ax.set_ylabel("shift (px)")
    title = "shifts" + (" (band: patches)" if reg["shifts"].ndim == 4 else "")
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    ax = axes[1]
    ax.plot(t, reg["correlation_before"].values, lw=1, color="0.6", label="raw")
    ax.plot(t, reg["correlation"].values, lw=1, color="C2", label="corrected")
    ax.set_xlabel(axes[0].get_xlabel())
    ax.set_ylabel("correlation with template")
    ax.legend(loc="best", fontsize="small")
    before = reg["mean_before"].values
    after = reg["mean_after"].values
    lo, hi = np.percentile(np.r_[before.ravel(), after.ravel()], [1, 99.5])
    for ax, img, name, key in (
        (axes[2], before, "mean before", "crispness_before"),
        (axes[3], after, "mean after", "crispness_after"),
    ):
        ax.imshow(img, cmap="gray", vmin=lo, vmax=hi)
        crisp = reg.attrs.get(key)
        ax.set_title(f"{name} (crispness {crisp:.4g})" if crisp else name)
        ax.set_axis_off()
    fig.tight_layout()
    return fig
