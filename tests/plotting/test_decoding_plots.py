import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import neuronmf as nm
from neuronmf.plotting.decoding import plot_predictions, plot_rank_scores


def test_decoding_plots():
    rng = np.random.default_rng(0)
    X = rng.poisson(2.0, (300, 6)).astype(float)
    y = X[:, 0] + rng.random(300)
    res = nm.decoding.decode(X, y, ranks=[1, 2], cv=3, inner_cv=2, n_null=3)
    fig, ax = plt.subplots()
    assert plot_predictions(res, ax=ax) is fig
    assert len(ax.lines) == 2
    fig2, ax2 = plt.subplots()
    assert plot_rank_scores(res, ax=ax2) is fig2
    assert (ax2.get_xlabel() == "rank" and ax2.patches) or ax2.collections
    plt.close("all")
