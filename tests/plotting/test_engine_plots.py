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
