"""Plot of a rank scan: held-out errors, VAF/R², and agreement across fits."""

from __future__ import annotations

import numpy as np


def plot_rank_scan(scan, *, axes=None):
    """Every computed criterion of a :class:`~neuronmf.model_selection.RankScan`.

    Panels: held-out error (mean ± SE) for ``"cv"``/``"bicv"`` when computed;
    uncentred VAF and centred R²; cophenetic correlation and 1 − instability when
    consensus/stability were computed. Dotted lines mark each criterion's choice.

    Parameters
    ----------
    scan : RankScan
    axes : sequence of matplotlib Axes, optional
        One per panel; created when omitted.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, neuronmf as nm, matplotlib
    >>> matplotlib.use("Agg")
    >>> rng = np.random.default_rng(0)
    >>> V = rng.random((20, 2)) @ rng.random((2, 100))
    >>> fig = nm.select_rank(V, [1, 2, 3], n_repeats=2).plot()
    >>> len(fig.axes)
    2
    """
    from neuronmf.plotting._labels import new_figure

    s = scan.scores
    ranks = s["rank"].values
    panels = []
    if "cv_mean" in s or "bicv_mean" in s:
        panels.append("error")
    panels.append("vaf")
    if "cophenetic" in s or "instability" in s:
        panels.append("agreement")
    if axes is None:
        fig, axes = new_figure(1, len(panels), figsize=(4 * len(panels), 3.4))
    axes = np.atleast_1d(axes)
    if len(axes) != len(panels):
        from neuronmf.errors import input_error

        raise input_error("axes", f"{len(panels)} Axes (one per panel)", len(axes))
    fig = axes[0].figure
    for ax, panel in zip(axes, panels, strict=True):
        if panel == "error":
            for name in ("cv", "bicv"):
                if f"{name}_mean" in s:
                    line = ax.errorbar(
                        ranks,
                        s[f"{name}_mean"],
                        yerr=s[f"{name}_se"],
                        marker="o",
                        capsize=3,
                        label=name,
                    )
                    ax.axvline(
                        scan.choices[name], color=line[0].get_color(), ls=":", lw=1
                    )
            ax.set_ylabel(_error_label(s.attrs.get("loss", "frobenius")))
            if _spans_decades(s):
                ax.set_yscale("log")
        elif panel == "vaf":
            ax.plot(ranks, s["vaf"], marker="o", label="VAF (uncentred)")
            ax.plot(ranks, s["r2"], marker="s", label="R² (centred)")
            ax.axhline(0.9, color="grey", ls="--", lw=0.8, label="0.9 (common cut-off)")
            ax.set_ylim(min(0.0, float(np.min(s["r2"]))), 1.02)
            ax.set_ylabel("variance accounted for (fraction)")
        else:
            if "cophenetic" in s:
                ax.plot(ranks, s["cophenetic"], marker="o", label="cophenetic")
            if "instability" in s:
                ax.plot(
                    ranks, 1 - s["instability"], marker="s", label="1 − instability"
                )
            ax.set_ylabel("agreement across fits (correlation)")
        ax.set_xlabel("rank")
        ax.legend(fontsize=8)
    fig.suptitle(f"chosen rank {scan.best_rank} ({scan.method})")
    return fig


def _error_label(loss: str) -> str:
    from neuronmf.engine.losses import get as loss_spec

    spec = loss_spec(loss)
    # the score is homogeneous of degree scale_power in the data
    unit = "data units² per entry" if spec.scale_power == 2 else "per entry"
    return f"held-out {spec.score_name}\n({unit})"


def _spans_decades(s) -> bool:
    """True when the plotted error bands span a factor of 10 or more."""
    values = []
    for name in ("cv", "bicv"):
        if f"{name}_mean" in s:
            mean = np.asarray(s[f"{name}_mean"], float)
            se = np.nan_to_num(np.asarray(s[f"{name}_se"], float))
            values += [mean - se, mean + se]
    v = np.concatenate(values) if values else np.array([])
    v = v[np.isfinite(v) & (v > 0)]
    return v.size > 1 and v.max() >= 10 * v.min()


def plot_component_intervals(scan, rank: int, *, ax=None, labels=None):
    """Per-component 95 % bootstrap intervals of W at one rank (stability scans).

    Bars are the full fit's unit-norm W; whiskers the 2.5–97.5 percentiles of
    the matched bootstrap fits.

    Parameters
    ----------
    scan : RankScan
        From ``select_rank(..., method="stability")`` or ``criteria=["stability"]``.
    rank : int
    ax : matplotlib Axes, optional
    labels : sequence of str, optional
        Feature names (default: the scan's ``feature`` coordinate).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from neuronmf.errors import input_error
    from neuronmf.plotting._labels import new_figure

    s = scan.scores
    if "W_unit" not in s:
        raise input_error(
            "scan",
            "a scan that computed stability",
            f"criteria {s.attrs.get('criteria')}",
            'Run select_rank(..., criteria=["stability"]).',
        )
    if rank not in s["rank"].values:
        raise input_error("rank", f"one of {s['rank'].values.tolist()}", rank)
    sel = s.sel(rank=rank).isel(component=slice(0, rank))
    W, lo, hi = (sel[k].values for k in ("W_unit", "W_low", "W_high"))
    m = W.shape[0]
    if ax is None:
        fig, ax = new_figure(figsize=(max(4, 0.3 * m * rank / 2), 3))
    fig = ax.figure
    width = 0.8 / rank
    x = np.arange(m)
    for k in range(rank):
        pos = x + (k - (rank - 1) / 2) * width
        ax.bar(pos, W[:, k], width=width, label=f"component {k}")
        ax.errorbar(
            pos,
            W[:, k],
            yerr=[np.maximum(W[:, k] - lo[:, k], 0), np.maximum(hi[:, k] - W[:, k], 0)],
            fmt="none",
            ecolor="k",
            lw=0.8,
        )
    names = labels if labels is not None else s["feature"].values
    if m <= 40:
        ax.set_xticks(x, [str(v) for v in names], rotation=90, fontsize=7)
        ax.set_xlabel("feature")
    else:
        ax.set_xlabel(f"feature (index; {m} features, names not shown)")
    ax.set_ylabel("weight (unit norm)")
    ax.set_title(f"rank {rank}: W with 95 % bootstrap intervals")
    ax.legend(fontsize=7)
    return fig
