import matplotlib

matplotlib.use("Agg")

import numpy as np
import xarray as xr

import neuronmf as nm
from neuronmf.plotting import plot_components, plot_loss


def test_plots_return_figures_with_one_row_per_component():
    V = np.random.default_rng(0).random((6, 3)) @ np.random.default_rng(1).random(
        (3, 200)
    )
    data = xr.DataArray(
        V.T,
        dims=("time", "muscle"),
        coords={"muscle": list("abcdef"), "time": np.arange(200) / 100},
    )
    res = nm.nmf(data, 3, seed=0)
    fig = plot_components(res)
    assert len(fig.axes) == 6
    labels = [t.get_text() for t in fig.axes[4].get_xticklabels()]
    assert labels == list("abcdef")
    fig2 = plot_loss(res)
    assert len(fig2.axes[0].lines[0].get_xdata()) == res.n_iter


def test_rank_scan_error_axis_is_log_when_values_span_decades_and_has_units():
    import xarray as xr

    from neuronmf.model_selection import RankScan
    from neuronmf.plotting.rank import plot_rank_scan

    ranks = np.arange(1, 5)
    scores = xr.Dataset(
        {
            "cv_mean": ("rank", [0.4, 0.5, 8.7, 536.0]),
            "cv_se": ("rank", [0.01, 0.02, 0.3, 525.0]),
            "vaf": ("rank", [0.5, 0.6, 0.7, 0.8]),
            "r2": ("rank", [0.1, 0.2, 0.3, 0.4]),
        },
        coords={"rank": ranks},
        attrs={"loss": "kl"},
    )
    scan = RankScan(scores, 1, "cv", "rule", {"cv": 1})
    fig = plot_rank_scan(scan)
    assert fig.axes[0].get_yscale() == "log"
    assert "Poisson deviance" in fig.axes[0].get_ylabel()
    flat = scores.assign(cv_mean=("rank", [0.4, 0.41, 0.42, 0.43]))
    flat = flat.assign(cv_se=("rank", [0.01] * 4))
    fig2 = plot_rank_scan(RankScan(flat, 1, "cv", "rule", {"cv": 1}))
    assert fig2.axes[0].get_yscale() == "linear"
