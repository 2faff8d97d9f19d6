"""Registration of sessions for :func:`~neuronmf.imaging.match_sessions`.

Rigid shifts by phase correlation with subpixel refinement (movie
registration's arithmetic, :mod:`neuronmf.imaging._register_phase`: an
upsampled DFT around the integer peak after Guizar-Sicairos, Thurman & Fienup
2008, Opt. Lett. 33:156), with the peak's strength in robust standard
deviations of the correlation surface (the significance rule of session
matching); an optional smooth non-rigid field from piecewise phase
correlation on overlapping patches, all patches in one batch (NoRMCorre-like:
patch shifts, outliers replaced by the median of their neighbours,
interpolated and smoothed); and the transform applied to footprints with
:func:`scipy.ndimage.map_coordinates`.

Convention: a session's image ``I_s`` shows the reference's content moved by
``shift + field(q)``, ``I_s(q + shift + field(q)) ≈ I_ref(q)``; aligning a
session therefore samples it at ``q + shift + field(q)``.

"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.ndimage import gaussian_filter, map_coordinates, median_filter

from neuronmf.imaging import _register_phase as _phase

#: A patch of the non-rigid field whose phase-correlation peak is weaker than
#: this keeps the rigid shift (patches hold fewer cells than the whole image,
#: so a lower bar than the rigid registration's; 6 halved the field error of
#: 48 px patches on simulated sessions where 8 left most patches rigid).
PATCH_MIN_STRENGTH = 6.0
#: Floor of the whitening, relative to the largest magnitude of each
#: cross-power spectrum: frequencies the band-passed images leave empty are
#: damped instead of amplified to unit magnitude. Register's ``cross_power``
#: (an absolute epsilon, optional low-pass) halved the strengths on simulated
#: mean images (median 8.6 against 20.9, below ``min_registration_strength``);
#: with the floor the strengths and shifts are those of the former private
#: phase correlation (docs/imaging.md, "Across sessions").
FLOOR = 1e-3

__all__ = [
    "align_image",
    "footprint_centroids",
    "phase_correlation",
    "piecewise_field",
    "prepare_image",
    "warp_footprints",
]


def prepare_image(image: np.ndarray, radius: float) -> np.ndarray:
    """A mean image made for registration: band-passed, tapered, unit variance.

    The slow background (vignetting, neuropil) is removed by subtracting a
    Gaussian blur of ``3 × radius``; pixel noise is softened by a blur of
    0.5 px; the borders are tapered (Tukey-like cosine edges) so the FFT's
    periodic wrap does not correlate.
    """
    img = np.asarray(image, dtype=np.float64)
    img = gaussian_filter(img, 0.5) - gaussian_filter(img, 3.0 * radius)
    img = img - img.mean()
    sd = img.std()
    if sd > 0:
        img = img / sd
    return img * _taper(img.shape, 0.1)


def _taper(shape: tuple[int, int], frac: float) -> np.ndarray:
    """Raised-cosine edges ``frac`` × the shorter side wide (register's window)."""
    return _phase.taper(shape, max(1.0, float(int(frac * min(shape)))))


def _phase_surface(reference: np.ndarray, images: np.ndarray, max_shift):
    """Whitened cross-power spectra of ``images`` against ``reference``.

    :mod:`neuronmf.imaging._register_phase` gives the spectra (rfft2 of the
    mean-removed images; no window, the images are tapered already) and the
    integer peak; the whitening is ``F · conj(T) / (|F · conj(T)| + floor)``
    with the relative :data:`FLOOR`. Leading axes of ``images`` (patches) are
    kept. Returns the whitened spectra, the integer peak lags (..., 2) within
    ``max_shift`` and the correlation window around lag 0 (..., 2m+1, 2m+1).
    """
    shape = reference.shape[-2:]
    ones = np.ones(shape, np.float32)
    spectrum = _phase.template_spectrum(np.asarray(reference, np.float32), ones)
    cross = _phase.spectra(np.asarray(images, np.float32), ones) * spectrum
    mag = np.abs(cross)
    R = cross / (mag + FLOOR * mag.max(axis=(-2, -1), keepdims=True) + 1e-30)
    limit = max(shape) if max_shift is None else float(max_shift)
    lags, win = _phase.integer_peak(R, shape, (limit, limit))
    return R, lags, win


def _strength(win: np.ndarray) -> np.ndarray:
    """Peak height over the median of the surface in robust sd (1.4826 × MAD)."""
    flat = win.reshape(*win.shape[:-2], -1).astype(np.float64)
    med = np.median(flat, axis=-1, keepdims=True)
    spread = 1.4826 * np.median(np.abs(flat - med), axis=-1)
    return (flat.max(axis=-1) - med[..., 0]) / np.maximum(spread, 1e-300)


def phase_correlation(
    reference: np.ndarray,
    image: np.ndarray,
    *,
    max_shift: float | None = None,
    upsample: int = 20,
) -> tuple[np.ndarray, float]:
    """Shift ``s`` (y, x) with ``image(q) ≈ reference(q - s)``, and its strength.

    The phase correlation of :mod:`neuronmf.imaging._register_phase` (movie
    registration's): whitened cross-power spectrum, integer peak within
    ``max_shift`` px, refined to 1/``upsample`` px by an upsampled DFT
    (:func:`~neuronmf.imaging._register_phase.dft_refine`). The strength is
    the peak's height above the median of the correlation surface in robust
    standard deviations (1.4826 × MAD): the highest of many independent
    values of pure noise reaches about sqrt(2 ln N), 4–6 for images of
    64²–512² px, while images of one field give 10–50.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = gaussian_filter(rng.standard_normal((64, 64)), 2)
    >>> img = np.roll(ref, (3, -2), axis=(0, 1))
    >>> shift, peak = phase_correlation(ref, img)
    >>> np.round(shift, 2).tolist()
    [3.0, -2.0]
    """
    R, lags, win = _phase_surface(reference, image, max_shift)
    shape = np.shape(reference)
    shift = _phase.dft_refine(R, lags, shape, upsample) if upsample > 1 else lags
    return np.asarray(shift, float), float(_strength(win))


def _sample_points(shape, shift, field) -> np.ndarray:
    """Coordinates (2, ny, nx) at which a session is sampled to align it."""
    ny, nx = shape
    yy, xx = np.mgrid[:ny, :nx].astype(np.float64)
    coords = np.stack([yy + shift[0], xx + shift[1]])
    if field is not None:
        coords = coords + field
    return coords


def align_image(image: np.ndarray, shift, field=None) -> np.ndarray:
    """``image`` brought into the reference frame (linear interpolation, 0 outside)."""
    img = np.asarray(image, dtype=np.float64)
    coords = _sample_points(img.shape, shift, field)
    return map_coordinates(img, coords, order=1, mode="constant", cval=0.0)


def piecewise_field(
    reference: np.ndarray,
    image: np.ndarray,
    *,
    patch: int,
    max_shift: float,
    smooth: float,
    min_strength: float = PATCH_MIN_STRENGTH,
) -> np.ndarray:
    """A smooth displacement field (2, ny, nx) of ``image`` against ``reference``.

    Both images are prepared (:func:`prepare_image`) and ``image`` already
    rigidly aligned. Shifts of overlapping ``patch``-sized patches (stride
    ``patch // 2``) with a weak peak (strength below ``min_strength``, see
    :func:`phase_correlation`) are set to 0 (the rigid shift holds there),
    then those more than 1 px from their neighbours' median are replaced by
    that median; the patch grid
    is interpolated bilinearly to every pixel and smoothed (Gaussian,
    ``smooth`` px).
    """
    ny, nx = reference.shape
    stride = max(patch // 2, 1)
    ys = list(range(0, max(ny - patch, 0) + 1, stride)) or [0]
    xs = list(range(0, max(nx - patch, 0) + 1, stride)) or [0]
    taper = _taper((min(patch, ny), min(patch, nx)), 0.2)
    cut = [(y0, x0) for y0 in ys for x0 in xs]
    a = np.stack([reference[y : y + patch, x : x + patch] for y, x in cut]) * taper
    b = np.stack([image[y : y + patch, x : x + patch] for y, x in cut]) * taper
    R, lags, win = _phase_surface(a, b, max_shift)  # every patch at once
    est = _phase.dft_refine(R, lags, taper.shape, 10)
    shifts = np.moveaxis(est.reshape(len(ys), len(xs), 2), -1, 0)
    peaks = _strength(win).reshape(len(ys), len(xs))
    shifts[:, peaks < min_strength] = 0.0  # not significant: rigid there
    for k in range(2):
        med = median_filter(shifts[k], size=3, mode="nearest")
        shifts[k] = np.where(np.abs(shifts[k] - med) > 1.0, med, shifts[k])
    cy = np.array(ys, float) + (min(patch, ny) - 1) / 2
    cx = np.array(xs, float) + (min(patch, nx) - 1) / 2
    gy = np.interp(np.arange(ny), cy, np.arange(len(ys)))
    gx = np.interp(np.arange(nx), cx, np.arange(len(xs)))
    grid = np.stack(np.meshgrid(gy, gx, indexing="ij"))
    field = np.stack(
        [map_coordinates(shifts[k], grid, order=1, mode="nearest") for k in range(2)]
    )
    return np.stack([gaussian_filter(field[k], smooth) for k in range(2)])


def warp_footprints(footprints, shift, field=None) -> sp.csr_array:
    """Footprints (neuron, y, x) aligned to the reference, as sparse rows.

    Each footprint is sampled at ``q + shift + field(q)`` (linear
    interpolation, 0 outside the field of view) over the bounding box of its
    support grown by the largest displacement, so the cost follows the
    footprint's size, not the field of view's. Dask-backed footprints are
    read one neuron at a time.
    """
    n, ny, nx = footprints.shape
    shift = np.asarray(shift, dtype=float)
    reach = np.abs(shift).max() + (0 if field is None else np.abs(field).max()) + 2
    reach = int(np.ceil(reach))
    rows, cols, vals = [], [], []
    for i in range(n):
        a = np.asarray(footprints[i], dtype=np.float64)
        yy, xx = np.nonzero(a > 0)
        if not len(yy):
            continue
        y0 = max(int(yy.min() - shift[0]) - reach, 0)
        y1 = min(int(yy.max() - shift[0]) + reach + 1, ny)
        x0 = max(int(xx.min() - shift[1]) - reach, 0)
        x1 = min(int(xx.max() - shift[1]) + reach + 1, nx)
        if y1 <= y0 or x1 <= x0:
            continue
        qy, qx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        cy, cx = qy + shift[0], qx + shift[1]
        if field is not None:
            cy = cy + field[0, y0:y1, x0:x1]
            cx = cx + field[1, y0:y1, x0:x1]
        w = map_coordinates(a, [cy, cx], order=1, mode="constant", cval=0.0)
        keep = w > 1e-6 * max(a.max(), 1e-300)
        rows.append(np.full(int(keep.sum()), i))
        cols.append((qy[keep] * nx + qx[keep]).astype(np.int64))
        vals.append(w[keep])
    if rows:
        r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    else:
        r = c = np.zeros(0, np.int64)
        v = np.zeros(0)
    return sp.csr_array((v, (r, c)), shape=(n, ny * nx))


def footprint_centroids(A: sp.csr_array, shape: tuple[int, int]) -> np.ndarray:
    """Intensity-weighted centroids (neuron, 2) of sparse rows (NaN if empty)."""
    nx = shape[1]
    coo = A.tocoo()
    w = np.bincount(coo.row, coo.data, minlength=A.shape[0])
    y = np.bincount(coo.row, coo.data * (coo.col // nx), minlength=A.shape[0])
    x = np.bincount(coo.row, coo.data * (coo.col % nx), minlength=A.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.stack([y / w, x / w], axis=1)
    out[w <= 0] = np.nan
    return out
