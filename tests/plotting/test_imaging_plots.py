"""Imaging plots return figures with the expected content."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import neuronmf as nm
from neuronmf.plotting.imaging import plot_contours, plot_footprints, plot_traces


def test_imaging_plots():
    sim = nm.datasets.simulate_movie((40, 40), 120, 5, 3.0, seed=2)
    seg = nm.imaging.segment(sim.data, neuron_radius=3.0)
    n = seg.sizes["neuron"]
    assert n >= 3
    fig = plot_contours(seg, sim.data)
    assert f"{n} neurons" in fig.axes[0].get_title()
    fig = plot_traces(seg, n=3)
    assert len(fig.axes[0].lines) == 3
    fig = plot_footprints(seg, n=4)
    assert sum(len(ax.images) for ax in fig.axes) == min(4, n)


def _many_footprints(n: int, side: int = 512):
    """(n, side, side) Gaussian footprints, lazy (dask): one built at a time."""
    import dask.array as da
    import numpy as np
    import xarray as xr

    centres = np.random.default_rng(0).uniform(8, side - 8, (n, 2))

    def block(block_info=None):
        i = block_info[None]["chunk-location"][0]
        cy, cx = centres[i]
        yy, xx = np.mgrid[:side, :side]
        a = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 18.0).astype(np.float32)
        a[a < 1e-3] = 0
        return a[None]

    A = da.map_blocks(block, chunks=((1,) * n, (side,), (side,)), dtype=np.float32)
    base = np.ones((side, side), np.float32)
    return xr.Dataset(
        {"footprints": (("neuron", "y", "x"), A), "baseline": (("y", "x"), base)}
    ), centres


def test_contour_memory_does_not_scale_with_neurons_times_frame():
    """Issue 21, 11(b): contouring each footprint over the whole frame kept
    ~6 MB per neuron (3 GB for the neurofinder movie); now each is contoured
    inside its box and all outlines are one artist."""
    import tracemalloc

    import matplotlib.pyplot as plt

    seg, centres = _many_footprints(300)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fig = plot_contours(seg)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    try:
        # 300 frames of 512 x 512 float64 would be 600 MB; the old code held ~1.9 GB
        assert peak < 40 * 2**20, f"plot_contours peak {peak / 2**20:.0f} MB"
        ax = fig.axes[0]
        (outlines,) = ax.collections  # one artist for every outline
        paths = outlines.get_paths()
        assert len(paths) == 300
        # each outline surrounds its footprint's centre (offset back to the frame)
        for path, (cy, cx) in zip(paths, centres, strict=True):
            xy = path.vertices
            assert abs(xy[:, 0].mean() - cx) < 1.5 and abs(xy[:, 1].mean() - cy) < 1.5
        assert ax.get_xlim() == (-0.5, 511.5)
    finally:
        plt.close(fig)


def test_contours_match_matplotlib_contour():
    """The outlines are the lines ``ax.contour`` draws on the whole frame."""
    import matplotlib.pyplot as plt
    import numpy as np

    from neuronmf.plotting.imaging import footprint_outlines

    rng = np.random.default_rng(1)
    A = np.zeros((3, 40, 50))
    A[0, 5:12, 7:15] = rng.random((7, 8))  # irregular, several pieces possible
    A[1, 0:4, 46:50] = 1.0  # touches two frame edges
    A[2, 20, 20] = 2.0  # a single pixel
    fig, ax = plt.subplots()
    try:
        for i, a in enumerate(A):
            ours = footprint_outlines(A[i : i + 1])
            ref = ax.contour(a, levels=[0.3 * a.max()])
            theirs = ref.get_paths()[0].to_polygons(closed_only=False)
            mine = [p.vertices for p in ours]
            assert len(mine) == len(theirs)
            key = sorted(np.round(np.concatenate(theirs), 9).tolist())
            assert sorted(np.round(np.concatenate(mine), 9).tolist()) == key
    finally:
        plt.close(fig)


def test_contours_are_drawn_on_the_segmentation_summary_images():
    """segment keeps mean_image and correlation_image: no movie needed."""
    import numpy as np
    import pytest
    import xarray as xr

    from neuronmf.errors import InputError

    rng = np.random.default_rng(0)
    A = np.zeros((2, 24, 24), np.float32)
    A[0, 4:8, 4:8] = A[1, 14:19, 10:15] = 1.0
    mean, corr, base = (rng.random((24, 24)).astype(np.float32) for _ in range(3))
    dims = ("y", "x")
    seg = xr.Dataset(
        {
            "footprints": (("neuron", *dims), A),
            "mean_image": (dims, mean),
            "correlation_image": (dims, corr),
            "baseline": (dims, base),
        }
    )
    for image, expected in (("mean", mean), ("correlation", corr)):
        fig = plot_contours(seg, image=image)
        ax = fig.axes[0]
        np.testing.assert_array_equal(ax.images[0].get_array(), expected)
        assert ax.get_title() == f"2 neurons over the {image} image"
    # a result saved before mean_image existed: the baseline, as the title says
    old = seg.drop_vars(["mean_image", "correlation_image"])
    fig = plot_contours(old)
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), base)
    assert "baseline image" in fig.axes[0].get_title()
    with pytest.raises(InputError, match="no 'correlation_image' variable"):
        plot_contours(old, image="correlation")
    with pytest.raises(InputError, match="image must be 'mean' or 'max' or"):
        plot_contours(seg, image="median")
