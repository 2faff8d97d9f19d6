"""Plots for neural sequences: seqNMF's W / H / data figure and the λ scan."""

from __future__ import annotations

import numpy as np

from neuronmf.plotting._labels import time_label

__all__ = ["neuron_order", "plot_sequences", "plot_x_ortho"]


def neuron_order(ds, which: str = "significant") -> np.ndarray:
    """Neuron indices sorted by sequence, then by the lag of their peak weight.

    Members of each chosen sequence come first (sequence by sequence, earliest
    peak first); the other neurons follow in their original order.

    Examples
    --------
    >>> import neuronmf as nm
    >>> sim = nm.datasets.simulate_sequences(n_frames=900, seed=0)
    >>> ds = nm.assemblies.sequences(sim.data.T, rank=3, lags=35, x_ortho=0.005,
    ...                              kind="dff", seed=0)
    >>> neuron_order(ds).shape
    (30,)
    """
    chosen = _chosen(ds, which)
    members = ds.members.values
    peak = ds.peak_lag.values
    order: list[int] = []
    for k in chosen:
        idx = [i for i in np.flatnonzero(members[:, k]) if i not in order]
        order += sorted(idx, key=lambda i: peak[i, k])
    order += [i for i in range(members.shape[0]) if i not in order]
    return np.asarray(order, dtype=int)


def _chosen(ds, which: str) -> list[int]:
    if which == "significant":
        return [int(k) for k in np.flatnonzero(ds.significant.values)]
    if which == "all":
        return [int(k) for k in np.flatnonzero(ds.n_members.values > 0)]
    from neuronmf.errors import input_error

    raise input_error("which", "'significant' or 'all'", which)


def plot_sequences(ds, activity=None, *, which: str = "significant"):
    """seqNMF's figure: patterns W (left), occurrences H (top), sorted data.

    Parameters
    ----------
    ds : xarray.Dataset from :func:`neuronmf.assemblies.sequences`
    activity : xarray.DataArray or array (time, neuron), optional
        The activity that was factorised; drawn as a raster with the neurons in
        :func:`neuron_order`. Without it the reconstruction is drawn.
    which : {"significant", "all"}
        The sequences shown (all non-empty ones, or the significant ones; when
        none is significant, all non-empty ones with a note).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import neuronmf as nm
    >>> sim = nm.datasets.simulate_sequences(n_frames=900, seed=0)
    >>> ds = nm.assemblies.sequences(sim.data.T, rank=3, lags=35, x_ortho=0.005,
    ...                              kind="dff", seed=0)
    >>> fig = plot_sequences(ds, sim.data.T)
    """
    import matplotlib.pyplot as plt

    from neuronmf.engine.convolutive import reconstruct_conv

    chosen = _chosen(ds, which)
    note = ""
    if not chosen:
        chosen = _chosen(ds, "all")
        note = "no significant sequence: all non-empty patterns shown"
    order = neuron_order(ds, "all" if note else which)
    W = ds.patterns.values
    time = ds["time"].values
    if activity is None:
        data = reconstruct_conv(W, ds.activations.values)
        data_name = "reconstruction"
    else:
        data = np.asarray(getattr(activity, "values", activity), float).T
        data_name = "activity"
    fig = plt.figure(figsize=(10, 6.5), layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=(1, 3.5), height_ratios=(1, 3))
    ax_h = fig.add_subplot(grid[0, 1])
    ax_w = fig.add_subplot(grid[1, 0])
    ax_v = fig.add_subplot(grid[1, 1], sharex=ax_h)
    step = float(ds["lag_time"].values[1]) if ds.sizes["lag"] > 1 else 1.0
    L = ds.sizes["lag"]
    strip = (
        np.concatenate([W[order][:, k, :] for k in chosen], axis=1)
        if chosen
        else np.zeros((len(order), L))
    )
    ax_w.imshow(
        strip,
        aspect="auto",
        cmap="Greys",
        interpolation="nearest",
        extent=(0, step * strip.shape[1], len(order) - 0.5, -0.5),
    )
    for j in range(1, len(chosen)):
        ax_w.axvline(j * L * step, color="C3", lw=0.8)
    ax_w.set_xlabel("lag (s), one block per sequence" if chosen else "lag (s)")
    ax_w.set_ylabel("neuron (sorted by sequence, then peak lag)")
    for j, k in enumerate(chosen):
        ax_h.plot(time, ds.activations.values[k], lw=0.8, color=f"C{j}", label=f"{k}")
    ax_h.set_ylabel("H (a.u.)")
    if chosen:
        ax_h.legend(
            title="sequence", fontsize=7, title_fontsize=7, loc="upper right", ncol=2
        )
    ax_h.set_xlabel(time_label(ds["time"]))
    ax_v.imshow(
        data[order],
        aspect="auto",
        cmap="Greys",
        interpolation="nearest",
        extent=(time[0], time[-1], len(order) - 0.5, -0.5),
    )
    ax_v.set_xlabel(time_label(ds["time"]))
    ax_v.set_ylabel(f"neuron ({data_name}, same order)")
    train_end = time[min(int(ds.attrs.get("train_bins", len(time))), len(time) - 1)]
    if int(ds.attrs.get("test_bins", 0)):
        for ax in (ax_h, ax_v):
            ax.axvline(train_end, color="C1", ls="--", lw=1)
        ax_h.set_title("training | held out (dashed line)", fontsize=8)
    title = (
        f"{int(ds.attrs.get('n_significant', 0))} significant of "
        f"{ds.sizes['sequence']} patterns; λ = {float(ds.attrs['x_ortho']):.3g}"
    )
    fig.suptitle(title + (f"\n{note}" if note else ""), fontsize=9)
    return fig


def plot_x_ortho(ds, *, ax=None):
    """The λ scan of ``x_ortho="auto"``: normalised costs against λ.

    Examples
    --------
    >>> import neuronmf as nm
    >>> sim = nm.datasets.simulate_sequences(n_frames=600, seed=0)
    >>> ds = nm.assemblies.sequences(sim.data.T, rank=3, lags=35, kind="dff",
    ...                              seed=0, max_iter=30)
    >>> fig = plot_x_ortho(ds)
    """
    import matplotlib.pyplot as plt

    if "reconstruction_norm" not in ds:
        from neuronmf.errors import input_error

        raise input_error(
            "ds",
            "a result fitted with x_ortho='auto'",
            "a given λ",
            "Refit with x_ortho='auto' to get the scan.",
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
    lam = ds["x_ortho"].values
    ax.semilogx(lam, ds.reconstruction_norm.values, "o-", ms=3, label="reconstruction")
    ax.semilogx(lam, ds.correlation_norm.values, "o-", ms=3, label="cross-correlation")
    ax.axvline(float(ds.attrs["x_ortho"]), color="k", ls="--", lw=1, label="chosen λ")
    ax.set_xlabel("λ, x-ortho weight (a.u.)")
    ax.set_ylabel("normalised cost (a.u.)")
    ax.legend(fontsize=7)
    return ax.figure
