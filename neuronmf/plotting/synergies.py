"""Plots for muscle synergies: weights, activations, rank curve, similarity."""

from __future__ import annotations

import numpy as np

from neuronmf.plotting._labels import new_figure, time_label

__all__ = [
    "plot_activations",
    "plot_rank_curve",
    "plot_similarity",
    "plot_synergies",
]


def plot_synergies(ds, *, axes=None, color: str = "C0"):
    """Synergy weights as bars per muscle, one panel per synergy.

    Parameters
    ----------
    ds : SynergySet Dataset (from :func:`neuronmf.synergies.extract`) or a
        (muscle, synergy) DataArray
    axes : sequence of matplotlib Axes, optional
        One per synergy.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from neuronmf import synergies
    >>> rng = np.random.default_rng(0)
    >>> ds = synergies.extract(rng.random((300, 6)), rank=2, n_restarts=1)
    >>> fig = plot_synergies(ds)
    >>> len(fig.axes)
    2
    """
    W = ds["synergies"] if hasattr(ds, "data_vars") else ds
    W = W.transpose("muscle", "synergy")
    k = W.sizes["synergy"]
    muscles = [str(m) for m in W["muscle"].values]
    if axes is None:
        fig, axes = new_figure(
            k, 1, figsize=(max(4, 0.4 * len(muscles)), 1.3 * k + 1.2), sharex=True
        )
        axes = np.atleast_1d(axes)
    fig = axes[0].figure
    for j, ax in enumerate(axes[:k]):
        ax.bar(np.arange(len(muscles)), W.values[:, j], color=color)
        ax.set_ylim(0, max(1.0, float(W.values.max())) * 1.05)
        ax.set_ylabel(f"syn {j}\nweight (a.u.)")
    axes[k - 1].set_xticks(np.arange(len(muscles)), muscles, rotation=90)
    for ax in axes[:k]:
        ax.set_xlabel("muscle")
        ax.xaxis.label.set_visible(ax is axes[k - 1])
    axes[0].set_title("synergy weights (unit norm)")
    return fig


def plot_activations(ds, *, axes=None, points_per_cycle: int | None = None):
    """Activations over the normalised cycle (mean ± SD), or over time.

    Parameters
    ----------
    ds : SynergySet Dataset, or the output of
        :func:`neuronmf.synergies.cycle_average`
    axes : sequence of matplotlib Axes, optional
        One per synergy.
    points_per_cycle : int, optional
        Cycle length when ``ds`` has no ``cycle`` coords.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from neuronmf import synergies
    >>> rng = np.random.default_rng(0)
    >>> ds = synergies.extract(rng.random((400, 6)), rank=2, n_restarts=1)
    >>> fig = plot_activations(ds, points_per_cycle=100)
    """
    from neuronmf.synergies._compare import _cycle_summary

    avg = _cycle_summary(ds, points_per_cycle=points_per_cycle)
    k = ds.sizes["synergy"]
    if axes is None:
        fig, axes = new_figure(k, 1, figsize=(5, 1.3 * k + 1.0), sharex=True)
        axes = np.atleast_1d(axes)
    fig = axes[0].figure
    for j, ax in enumerate(axes[:k]):
        if avg is not None:
            x = 100 * avg["phase"].values
            mu = avg["mean"].isel(synergy=j).values
            sd = avg["sd"].isel(synergy=j).values
            ax.fill_between(
                x, np.maximum(mu - sd, 0), mu + sd, alpha=0.3, lw=0, label="± SD"
            )
            ax.plot(x, mu, lw=1.5, label="mean")
        else:
            H = ds["activations"]
            ax.plot(H["time"].values, H.isel(synergy=j).values, lw=0.8)
        ax.set_ylabel(f"syn {j}\n(a.u.)")
        ax.set_xlabel("cycle (%)" if avg is not None else time_label(ds["time"]))
        ax.xaxis.label.set_visible(ax is axes[k - 1])
    if avg is not None:
        axes[0].legend(fontsize=7, loc="best", frameon=False)
        axes[0].set_title(
            f"activations: mean ± SD over {avg.attrs.get('n_cycles', '?')} cycles"
        )
    else:
        axes[0].set_title("activations")
    return fig


def plot_rank_curve(ds, *, ax=None):
    """VAF and R² against the number of synergies, with the chosen rank.

    Parameters
    ----------
    ds : SynergySet Dataset from ``extract(..., rank="auto")`` (needs the
        ``scan_vaf`` and ``scan_r2`` variables)
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from neuronmf import synergies
    >>> rng = np.random.default_rng(0)
    >>> ds = synergies.extract(rng.random((300, 6)), ranks=range(1, 5), n_restarts=1)
    >>> fig = plot_rank_curve(ds)
    """
    from neuronmf.errors import input_error

    if "scan_vaf" not in ds:
        raise input_error(
            "ds", "a SynergySet with a rank scan (rank='auto')", "no scan_vaf"
        )
    if ax is None:
        _, ax = new_figure(figsize=(4.5, 3))
    r = ds["rank"].values
    ax.plot(r, ds["scan_vaf"].values, marker="o", label="VAF (uncentred)")
    ax.plot(r, ds["scan_r2"].values, marker="s", label="R² (centred)")
    ax.axhline(0.9, color="grey", ls="--", lw=0.8, label="0.90")
    ax.axvline(ds.attrs["rank"], color="k", ls=":", label="chosen")
    ax.set_xlabel("number of synergies")
    ax.set_ylabel("variance accounted for (fraction)")
    ax.set_title(f"rank {ds.attrs['rank']} ({ds.attrs.get('criterion', '')})")
    ax.legend(fontsize=8)
    return ax.figure


def plot_similarity(matrix, *, ax=None, labels=None, title: str | None = None):
    """A similarity matrix between synergy sets (or between two sets' synergies).

    Parameters
    ----------
    matrix : array (p, q), DataArray, or the Dataset from
        :func:`neuronmf.synergies.match` (its ``matrix``, rows ordered by match)
    ax : matplotlib Axes, optional
    labels : (row_labels, col_labels), optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_similarity(np.eye(3), labels=(["a", "b", "c"], ["a", "b", "c"]))
    """
    xlabel, ylabel = "synergy (columns)", "synergy (rows)"
    if hasattr(matrix, "data_vars"):
        order = matrix["match"].values
        S = matrix["matrix"].values[:, order]
        title = title or (
            f"matched cosine: mean {matrix.attrs['mean']:.3f}\n"
            f"chance level {matrix.attrs['chance']:.2f}"
        )
        if labels is None:
            labels = (list(range(S.shape[0])), [str(o) for o in order])
        xlabel, ylabel = "second set: synergy (matched order)", "first set: synergy"
    else:
        S = np.asarray(getattr(matrix, "values", matrix), dtype=float)
    if ax is None:
        _, ax = new_figure(
            figsize=(max(3.5, 1.5 + 0.45 * S.shape[1]), max(3.0, 1 + 0.45 * S.shape[0]))
        )
    im = ax.imshow(S, vmin=0, vmax=1, cmap="viridis", interpolation="nearest")
    if S.size <= 400:
        for (i, j), v in np.ndenumerate(S):
            ax.text(
                j,
                i,
                f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="w" if v < 0.6 else "k",
            )
    if labels is not None:
        ax.set_yticks(range(S.shape[0]), [str(x) for x in labels[0]])
        ax.set_xticks(range(S.shape[1]), [str(x) for x in labels[1]], rotation=90)
    if title:
        ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.figure.colorbar(im, ax=ax, label="cosine similarity (0–1)")
    return ax.figure
