"""Summary images of a segmentation: the movie's mean and local correlation.

:func:`~neuronmf.imaging.segment` already computes both: the mean image in its
one checking pass over the movie (in memory or block by block out of core),
the correlation image per patch when it seeds components from activity
(:func:`~neuronmf.imaging.seeds.greedy_seeds`). They are kept as variables of
the result, so contours can be drawn on them
(:func:`neuronmf.plotting.imaging.plot_contours`) and
:func:`~neuronmf.imaging.match_sessions` registers sessions on the mean images.
"""

from __future__ import annotations

import numpy as np

__all__ = ["summary_images"]


def summary_images(tiles, results: list, mean: np.ndarray, dims: tuple) -> dict:
    """``mean_image`` and, when every patch has one, ``correlation_image`` (y, x).

    ``mean`` is the temporal mean of the movie as given (float32 here, before
    any offset segment adds to make it non-negative). The correlation image
    is that of the seeding (each pixel's mean correlation with its 8
    neighbours, on the patch's movie minus its baseline and local spatial
    mean, in bins of frames for long movies): each patch gives its core, so
    the image tiles the field of view. With ``seeds="anatomy"`` nothing is
    seeded from activity and there is no correlation image.
    """
    variables = {"mean_image": (dims, np.asarray(mean, dtype=np.float32))}
    cores = [out.get("correlation") for out in results]
    if cores and all(c is not None for c in cores):
        image = np.full(np.shape(mean), np.nan, np.float32)
        for (_ys, _xs, (cy, cx)), core in zip(tiles, cores, strict=True):
            image[cy, cx] = core
        variables["correlation_image"] = (dims, image)
    return variables
