"""Anatomical candidates: somata in the contrast-normalised mean image.

GCaMP is excluded from the nucleus, so in the temporal mean image a labelled soma
is usually a thin bright rim around a dark centre, and many annotated neurons that
barely fire in a short movie are visible only that way; others (a bright,
filled cell) are a filled blob. This module finds both:

1. :func:`normalise_contrast`: the mean image minus its local mean (Gaussian
   σ = 4·radius), divided by the local RMS of that difference (same σ), so that
   dim and bright parts of the field of view count alike; then clipped to ±2;
2. :func:`ring_template`: a matched filter, positive on the rim (0.7–1.2 radii),
   negative on the centre (0–0.5 radii) and on the surround (1.3–2 radii);
   :func:`disc_template`: positive on the disc (0–0.9 radii), negative on the
   same surround;
3. :func:`soma_response`: the larger of the ring response and the disc
   response minus 1 (a filled blob must stand out more than a ring: with no
   offset, texture in the neuropil passes too; measured on neurofinder_subset,
   docs/benchmarks.md);
4. :func:`soma_candidates`: local maxima of the soma response (window
   1.6 radii) — the response at each is the anatomical evidence;
5. :func:`activity_evidence`: peak-to-noise of each candidate's neuropil-corrected
   disc trace, computed from one patch of the movie at a time;
6. :func:`disc_footprints`: footprints, discs of one radius at the candidates.

Every length is a multiple of the neuron radius.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# ring template geometry, in neuron radii (measured on neurofinder_subset, see
# docs/imaging.md): centre disc, rim annulus, surround annulus
_CENTRE = 0.5
_RIM = (0.7, 1.2)
_SURROUND = (1.3, 2.0)
_CENTRE_WEIGHT = 0.6  # share of the negative weight on the centre (rest: surround)
# disc template (filled somata): the disc, in radii; the surround is the ring's
_DISC = 0.9
# a filled blob counts as a soma when its disc response exceeds the ring
# threshold by this much (neurofinder_subset, both halves: docs/benchmarks.md)
_DISC_OFFSET = 1.0
# the normalised image is clipped to ±_CLIP before filtering, so that a few very
# bright pixels (a speck, a bright filled cell) cannot make rings around them
_CLIP = 2.0
# candidates closer than this (radii) to a stronger one are dropped
_MIN_SEPARATION = 1.5
# activity evidence: neuropil annulus (radii) and its subtraction factor
_NEUROPIL = (1.5, 3.0)
_NEUROPIL_FACTOR = 0.7


def _check_radius(neuron_radius: float) -> float:
    from neuronmf.errors import input_error

    try:
        r = float(neuron_radius)
    except (TypeError, ValueError):
        raise input_error(
            "neuron_radius", "a positive number of pixels", neuron_radius
        ) from None
    if not np.isfinite(r) or r <= 0:
        raise input_error("neuron_radius", "a positive number of pixels", neuron_radius)
    return r


def _check_image(image) -> np.ndarray:
    from neuronmf.errors import input_error

    img = np.asarray(getattr(image, "values", image), dtype=np.float64)
    if img.ndim != 2:
        raise input_error("image", "a 2-D (y, x) array", f"shape {img.shape}")
    if not np.isfinite(img).all():
        raise input_error("image", "finite", "NaN or Inf values")
    return img


def normalise_contrast(image, neuron_radius: float) -> np.ndarray:
    """Local contrast normalisation of a summary image.

    ``hp = image − G(image)`` and ``hp / sqrt(G(hp²))``, where ``G`` is a Gaussian
    filter of σ = 4 × ``neuron_radius`` (reflecting borders).

    Parameters
    ----------
    image : array (y, x)
        Typically the temporal mean of the movie.
    neuron_radius : float
        Soma radius in pixels.

    Returns
    -------
    ndarray (y, x)
        Unit local RMS; zero where the image is locally constant.

    Examples
    --------
    >>> import numpy as np
    >>> z = normalise_contrast(np.random.default_rng(0).normal(size=(40, 40)), 3.0)
    >>> bool(0.5 < z.std() < 1.5)
    True
    """
    img = _check_image(image)
    s = 4.0 * _check_radius(neuron_radius)
    hp = img - ndimage.gaussian_filter(img, s)
    rms = np.sqrt(ndimage.gaussian_filter(hp * hp, s))
    floor = 1e-12 * max(float(np.abs(img).max()), 1e-300)
    return np.where(rms > floor, hp / np.maximum(rms, floor), 0.0)


def _annulus(d: np.ndarray, lo: float, hi: float) -> np.ndarray:
    m = (d >= lo) & (d <= hi)
    return m / max(int(m.sum()), 1)


def _template_distances(neuron_radius: float) -> tuple[float, np.ndarray]:
    """The radius and each template pixel's distance from the centre."""
    r = _check_radius(neuron_radius)
    h = int(np.ceil(_SURROUND[1] * r))
    y, x = np.mgrid[-h : h + 1, -h : h + 1]
    return r, np.hypot(y, x)


def ring_template(neuron_radius: float) -> np.ndarray:
    """Zero-sum ring matched filter (a square kernel of side 2·⌈2r⌉ + 1).

    +1 spread evenly over the rim (0.7–1.2 radii from the centre), −0.6 over the
    centre disc (≤ 0.5 radii) and −0.4 over the surround (1.3–2 radii).

    Examples
    --------
    >>> t = ring_template(4.0)
    >>> t.shape, abs(float(t.sum())) < 1e-12
    ((17, 17), True)
    """
    r, d = _template_distances(neuron_radius)
    rim = _annulus(d, _RIM[0] * r, _RIM[1] * r)
    centre = _annulus(d, 0.0, _CENTRE * r)
    surround = _annulus(d, _SURROUND[0] * r, _SURROUND[1] * r)
    if not (rim.any() and centre.any() and surround.any()):
        from neuronmf.errors import input_error

        raise input_error(
            "neuron_radius", "at least 1 px for the ring template", neuron_radius
        )
    return rim - _CENTRE_WEIGHT * centre - (1 - _CENTRE_WEIGHT) * surround


def disc_template(neuron_radius: float) -> np.ndarray:
    """Zero-sum filled-disc matched filter (the ring template's shape).

    +1 spread evenly over the disc (≤ 0.9 radii), −1 over the surround
    (1.3–2 radii).

    Examples
    --------
    >>> t = disc_template(4.0)
    >>> t.shape, abs(float(t.sum())) < 1e-12
    ((17, 17), True)
    """
    r, d = _template_distances(neuron_radius)
    return _annulus(d, 0.0, _DISC * r) - _annulus(d, _SURROUND[0] * r, _SURROUND[1] * r)


def _clipped_contrast(image, r: float) -> np.ndarray:
    return np.clip(normalise_contrast(image, r), -_CLIP, _CLIP)


def ring_response(image, neuron_radius: float) -> np.ndarray:
    """The ring filter applied to the contrast-normalised image (same shape).

    The normalised image (:func:`normalise_contrast`) is clipped to ±2 first:
    a ring is an extended structure, and without the clip a single bright pixel
    gives a ring response of about its contrast / (number of rim pixels) at the
    positions where it falls on the rim. Units: local contrast; at most 4 (a
    rim at +2 around a centre and surround at −2).
    """
    Mn = _clipped_contrast(image, neuron_radius)
    return ndimage.correlate(Mn, ring_template(neuron_radius), mode="reflect")


def _soma_responses(image, r: float) -> tuple[np.ndarray, np.ndarray]:
    Mn = _clipped_contrast(image, r)
    ring = ndimage.correlate(Mn, ring_template(r), mode="reflect")
    disc = ndimage.correlate(Mn, disc_template(r), mode="reflect")
    return ring, disc - _DISC_OFFSET


def soma_response(image, neuron_radius: float) -> np.ndarray:
    """Evidence of a soma at each pixel: ``max(ring, disc − 1)`` (same shape).

    ``ring`` and ``disc`` are the ring and disc templates (:func:`ring_template`,
    :func:`disc_template`) applied to the contrast-normalised image clipped to
    ±2. A ring (a nucleus-excluded soma) scores by its ring response; a filled
    blob by its disc response, less 1. Units: local contrast, at most 4.

    Examples
    --------
    >>> import numpy as np
    >>> y, x = np.mgrid[:48, :48]
    >>> blob = 1.0 + (np.hypot(y - 20, x - 27) < 3.5) + 0.01 * np.sin(x * 1.3)
    >>> resp = soma_response(blob, 4.0)
    >>> bool(resp[20, 27] > 0.55 > ring_response(blob, 4.0)[20, 27])
    True
    """
    return np.maximum(*_soma_responses(image, _check_radius(neuron_radius)))


def template_snr(image, noise_image, neuron_radius: float) -> np.ndarray:
    """Signal-to-noise ratio of the soma templates at each pixel (same shape).

    For the ring and the disc template ``t`` (:func:`ring_template`,
    :func:`disc_template`), ``(t ⋆ image) / sqrt(G(( t ⋆ noise_image)²))``:
    the template's response on the raw image over the local RMS of its
    response on ``noise_image``, a pure-noise image with the image's noise
    (``G``: Gaussian, σ = 4 radii, as in :func:`normalise_contrast`; spatially
    correlated noise is accounted for, since the same template filters it).
    At each pixel the template that wins :func:`soma_response` is used.

    Parameters
    ----------
    image : array (y, x)
        The temporal mean image.
    noise_image : array (y, x)
        An image of its noise, e.g. (sum of even frames − sum of odd frames) / T.
    neuron_radius : float

    Returns
    -------
    ndarray (y, x)
        A standard normal deviate where the image is pure noise; ``inf`` where
        the noise image is zero and the response is not.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> snr = template_snr(rng.normal(size=(64, 64)), rng.normal(size=(64, 64)), 4.0)
    >>> bool(0.7 < snr.std() < 1.3)
    True
    """
    r = _check_radius(neuron_radius)
    img = _check_image(image)
    ring, disc = _soma_responses(img, r)
    return _template_snr(img, noise_image, r, ring >= disc)


def _template_snr(img, noise_image, r: float, use_ring: np.ndarray) -> np.ndarray:
    """:func:`template_snr` given where the ring template wins (``use_ring``)."""
    noise = _check_image(noise_image)
    if noise.shape != img.shape:
        from neuronmf.errors import input_error

        raise input_error("noise_image", f"of shape {img.shape}", noise.shape)
    out = np.empty_like(img)
    s = 4.0 * r
    for template, where in (
        (ring_template(r), use_ring),
        (disc_template(r), ~use_ring),
    ):
        signal = ndimage.correlate(img, template, mode="reflect")
        rms = np.sqrt(
            ndimage.gaussian_filter(
                ndimage.correlate(noise, template, mode="reflect") ** 2, s
            )
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(rms > 0, signal / rms, np.where(signal > 0, np.inf, 0.0))
        out[where] = ratio[where]
    return out


def soma_candidates(
    image,
    neuron_radius: float,
    *,
    min_response: float = 0.0,
    noise_image=None,
    min_snr: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local maxima of the soma response of a summary image.

    A pixel is a candidate when it is the maximum of the soma response
    (:func:`soma_response`: ring-shaped or filled somata) in the
    square window of side ``int(1.6 · neuron_radius) | 1`` around it, its
    response exceeds ``min_response``, and no stronger candidate lies within
    1.5 radii (two somata are not closer; this drops the side lobes of a strong
    ring). With ``noise_image``, a candidate must also stand out of the noise:
    its :func:`template_snr` must reach ``min_snr`` (the contrast
    normalisation makes pure noise look like texture of unit contrast).

    Parameters
    ----------
    image : array (y, x)
        Temporal mean image of the movie.
    neuron_radius : float
        Soma radius in pixels.
    min_response : float
        Candidates must respond more than this.
    noise_image : array (y, x), optional
        An image of the noise of ``image`` (see :func:`template_snr`).
    min_snr : float
        With ``noise_image``: the least template SNR of a candidate.

    Returns
    -------
    peaks : ndarray (K, 2) of int
        (y, x) of each candidate, strongest first.
    response : ndarray (K,)
        Soma response at each peak.
    response_image : ndarray (y, x)
        The whole soma response (:func:`soma_response`).

    Examples
    --------
    >>> import numpy as np
    >>> y, x = np.mgrid[:48, :48]
    >>> d = np.hypot(y - 20, x - 27)
    >>> img = 1.0 + ((d > 2.5) & (d < 5)) + 0.01 * np.sin(x * 1.3)
    >>> peaks, resp, _ = soma_candidates(img, 4.0, min_response=0.5)
    >>> peaks[0].tolist()
    [20, 27]
    """
    r = _check_radius(neuron_radius)
    img = _check_image(image)
    ring, disc = _soma_responses(img, r)
    resp = np.maximum(ring, disc)
    size = int(1.6 * r) | 1
    is_peak = resp == ndimage.maximum_filter(resp, size=size, mode="nearest")
    is_peak &= resp > float(min_response)
    peaks = np.argwhere(is_peak)
    val = resp[peaks[:, 0], peaks[:, 1]] if len(peaks) else np.zeros(0)
    order = np.argsort(-val, kind="stable")
    peaks, val = peaks[order], val[order]
    keep = np.ones(len(peaks), bool)
    if noise_image is not None and len(peaks):  # standing out of the noise
        snr = _template_snr(img, noise_image, r, ring >= disc)
        keep &= snr[peaks[:, 0], peaks[:, 1]] >= float(min_snr)
    # non-maximum suppression: two somata are not closer than 1.5 radii
    for i in range(len(peaks)):
        if keep[i]:
            d2 = ((peaks[i + 1 :] - peaks[i]) ** 2).sum(1)
            keep[i + 1 :] &= d2 >= (_MIN_SEPARATION * r) ** 2
    return peaks[keep].astype(int), val[keep], resp


def _disc_and_annulus(shape, y: float, x: float, r: float):
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    d2 = (yy - y) ** 2 + (xx - x) ** 2
    disc = d2 <= r * r
    ring = (d2 > (_NEUROPIL[0] * r) ** 2) & (d2 <= (_NEUROPIL[1] * r) ** 2)
    return disc, ring


def activity_evidence(R: np.ndarray, peaks, neuron_radius: float) -> np.ndarray:
    """Peak-to-noise of the neuropil-corrected trace of a disc at each peak.

    For a peak, ``f(t)`` = mean of ``R`` over the disc of one radius minus 0.7 ×
    its mean over the annulus 1.5–3 radii (neuropil); the score is
    ``(max − median)`` of its 3-frame running mean over its noise, the robust SD
    (1.4826 × MAD) of ``f`` minus its 9-frame running median, divided by √3.

    Parameters
    ----------
    R : ndarray (time, y, x)
        The movie, or one patch of it (a constant per pixel, e.g. a baseline,
        does not change the score).
    peaks : array (K, 2)
        (y, x) in ``R``'s pixel coordinates.
    neuron_radius : float

    Returns
    -------
    ndarray (K,)
        0 for a peak whose noise is 0 (e.g. a constant trace).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> R = rng.normal(size=(100, 30, 30))
    >>> R[50:53, 13:18, 13:18] += 3.0
    >>> ev = activity_evidence(R, [[15, 15], [5, 5]], 3.0)
    >>> bool(ev[0] > 3 * ev[1])
    True
    """
    r = _check_radius(neuron_radius)
    R = np.asarray(R)
    if R.ndim != 3:
        from neuronmf.errors import input_error

        raise input_error("R", "a 3-D (time, y, x) array", f"shape {R.shape}")
    P = np.asarray(peaks, dtype=float).reshape(-1, 2)
    T = R.shape[0]
    out = np.zeros(len(P))
    for k, (y, x) in enumerate(P):
        h = int(np.ceil(_NEUROPIL[1] * r)) + 1
        y0, y1 = max(int(y) - h, 0), min(int(y) + h + 1, R.shape[1])
        x0, x1 = max(int(x) - h, 0), min(int(x) + h + 1, R.shape[2])
        disc, ring = _disc_and_annulus((y1 - y0, x1 - x0), y - y0, x - x0, r)
        if not disc.any():
            continue
        win = R[:, y0:y1, x0:x1]
        f = win[:, disc].mean(1, dtype=np.float64)
        if ring.any():
            f = f - _NEUROPIL_FACTOR * win[:, ring].mean(1, dtype=np.float64)
        fs = ndimage.uniform_filter1d(f, min(3, T))
        noise = 1.4826 * np.median(np.abs(f - ndimage.median_filter(f, min(9, T))))
        spread = fs.max() - np.median(fs)
        if noise > 0:
            out[k] = spread / (noise / np.sqrt(3.0))
    return out


def disc_footprints(peaks, shape, radius: float) -> np.ndarray:
    """Unit-ℓ2-norm disc footprints of ``radius`` px at ``peaks`` in a (y, x) frame.

    Discs are clipped at the frame's border.

    Examples
    --------
    >>> disc_footprints([[5, 5]], (11, 11), 2.0)[0].astype(bool).sum()
    np.int64(13)
    """
    r = _check_radius(radius)
    P = np.asarray(peaks, dtype=float).reshape(-1, 2)
    ny, nx = int(shape[0]), int(shape[1])
    A = np.zeros((len(P), ny, nx))
    yy, xx = np.ogrid[:ny, :nx]
    for k, (y, x) in enumerate(P):
        m = (yy - y) ** 2 + (xx - x) ** 2 <= r * r
        n = int(m.sum())
        if n:
            A[k][m] = 1.0 / np.sqrt(n)
    return A


def anatomy_score(ring: np.ndarray, activity: np.ndarray, weight: float) -> np.ndarray:
    """Combined anatomical score: ``ring + weight × activity`` (see ``segment``)."""
    return np.asarray(ring, dtype=float) + float(weight) * np.asarray(activity, float)
