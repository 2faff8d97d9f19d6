"""Phase correlation with subpixel refinement, batched over frames (and patches).

The arithmetic of :func:`neuronmf.imaging.register`; no validation here. Every
function takes float32 stacks whose last two axes are (y, x) and any leading
axes (frames, patches), so the rigid and the piecewise paths share one code.

Convention: a shift ``s = (sy, sx)`` says that the content of the template at
pixel ``p`` appears at ``p + s`` in the frame (the motion of the sample), so
the corrected frame is ``frame(p + s)``. The cross-power spectrum
``F · conj(T)`` has its inverse transform peak at ``+s``.

Subpixel refinement (measured in ``docs/benchmarks.md``):

- ``"dft"``: the correlation surface is evaluated on a grid ``1/upsample`` px
  fine around the integer peak by matrix-multiply DFTs (Guizar-Sicairos,
  Thurman & Fienup 2008, "Efficient subpixel image registration algorithms"),
  then a 3-point parabola on that fine grid;
- ``"parabola"``: a 3-point parabola per axis through the integer peak.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft

_EPS = np.float32(1e-6)


def taper(shape: tuple[int, int], width: float) -> np.ndarray:
    """(y, x) float32 window: 1 inside, a raised-cosine ramp ``width`` px at edges."""
    out = []
    for n in shape:
        w = min(float(width), n / 4.0)
        d = np.minimum(np.arange(n), np.arange(n)[::-1]).astype(float)
        ramp = np.where(d < w, 0.5 - 0.5 * np.cos(np.pi * (d + 0.5) / max(w, 1)), 1.0)
        out.append(ramp)
    return np.outer(out[0], out[1]).astype(np.float32)


def lowpass(shape: tuple[int, int], sigma: float) -> np.ndarray:
    """rfft2-shaped Gaussian low-pass (a spatial Gaussian of ``sigma`` px)."""
    fy = sfft.fftfreq(shape[0])[:, None]
    fx = sfft.rfftfreq(shape[1])[None, :]
    g = np.exp(-2.0 * (np.pi * sigma) ** 2 * (fy**2 + fx**2))
    return g.astype(np.float32)


def spectra(images: np.ndarray, window: np.ndarray) -> np.ndarray:
    """rfft2 of mean-removed, windowed images (leading axes kept)."""
    x = images - images.mean(axis=(-2, -1), keepdims=True, dtype=np.float32)
    x *= window
    return sfft.rfft2(x, axes=(-2, -1), workers=2)


def cross_power(F: np.ndarray, Tconj: np.ndarray, whiten: float, lp: np.ndarray):
    """``F · conj(T) / |F · conj(T)|^whiten``, low-passed.

    ``whiten`` = 1 is phase correlation, 0 plain cross-correlation; 0.5 (the
    default of ``register``) was the most accurate on simulated movies.
    """
    R = F * Tconj
    if whiten == 1:
        R /= np.abs(R) + _EPS
    elif whiten == 0.5:
        R /= np.sqrt(np.abs(R) + _EPS)
    elif whiten:
        R /= (np.abs(R) + _EPS) ** np.float32(whiten)
    R *= lp
    return R


def _window_indices(n: int, m: int) -> np.ndarray:
    """Indices of the lags ``-m..m`` in a length-``n`` circular axis."""
    return np.arange(-m, m + 1) % n


def integer_peak(R: np.ndarray, shape, max_shift) -> tuple[np.ndarray, np.ndarray]:
    """Integer peak lag (..., 2) within ``±max_shift`` and the correlation surface.

    Returns the lags and the (..., 2my+1, 2mx+1) window of the surface.
    """
    ny, nx = shape
    cc = sfft.irfft2(R, s=(ny, nx), axes=(-2, -1), workers=2)
    my, mx = (min(int(m), (n - 1) // 2) for m, n in zip(max_shift, shape, strict=True))
    iy, ix = _window_indices(ny, my), _window_indices(nx, mx)
    win = cc[..., iy, :][..., ix]
    flat = win.reshape(*win.shape[:-2], -1).argmax(axis=-1)
    py, px = np.divmod(flat, win.shape[-1])
    lags = np.stack([py - my, px - mx], axis=-1).astype(np.float64)
    return lags, win


def _parabola(c_minus, c0, c_plus) -> np.ndarray:
    den = c_minus - 2.0 * c0 + c_plus
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(den < 0, 0.5 * (c_minus - c_plus) / den, 0.0)
    return np.clip(d, -0.5, 0.5)


def parabola_refine(win: np.ndarray, lags: np.ndarray, max_shift) -> np.ndarray:
    """3-point parabola per axis around the integer peak of the window."""
    my, mx = (win.shape[-2] - 1) // 2, (win.shape[-1] - 1) // 2
    py = (lags[..., 0] + my).astype(int)
    px = (lags[..., 1] + mx).astype(int)
    lead = np.indices(py.shape)
    flat = tuple(lead)

    def at(dy, dx):
        yy = np.clip(py + dy, 0, win.shape[-2] - 1)
        xx = np.clip(px + dx, 0, win.shape[-1] - 1)
        return win[(*flat, yy, xx)].astype(np.float64)

    c0 = at(0, 0)
    dy = _parabola(at(-1, 0), c0, at(1, 0))
    dx = _parabola(at(0, -1), c0, at(0, 1))
    return lags + np.stack([dy, dx], axis=-1)


def dft_refine(R: np.ndarray, lags: np.ndarray, shape, upsample: int) -> np.ndarray:
    """Guizar-Sicairos upsampled DFT around ``lags``, then a parabola on it.

    The correlation surface of a real image pair is real, so it is evaluated
    from the half spectrum ``R`` (rfft2 layout) with weight 2 on the columns
    that stand for a conjugate pair.
    """
    ny, nx = shape
    up = int(upsample)
    m = int(np.ceil(1.5 * up)) | 1  # odd: the integer peak sits in the middle
    half = m // 2
    lead = R.shape[:-2]
    Rf = R.reshape(-1, *R.shape[-2:])
    L = lags.reshape(-1, 2)
    w = np.full(Rf.shape[-1], 2.0, np.float32)
    w[0] = 1.0
    if nx % 2 == 0:
        w[-1] = 1.0
    fy = sfft.fftfreq(ny)
    fx = sfft.rfftfreq(nx)
    # The surface around lag L is that of the spectrum moved to lag 0 (one
    # phase ramp per frame), sampled on one fixed grid: two large GEMMs.
    ramp_y = np.exp(2j * np.pi * L[:, 0, None] * fy[None, :]).astype(np.complex64)
    ramp_x = np.exp(2j * np.pi * L[:, 1, None] * fx[None, :]).astype(np.complex64)
    Rs = Rf * ramp_y[:, :, None]
    Rs *= (ramp_x * w)[:, None, :]
    grid = (np.arange(m) - half) / up
    Gy = np.exp(2j * np.pi * grid[:, None] * fy[None, :]).astype(np.complex64)
    Gx = np.exp(2j * np.pi * fx[:, None] * grid[None, :]).astype(np.complex64)
    b, _, nh = Rs.shape
    B = (Rs.reshape(b * ny, nh) @ Gx).reshape(b, ny, m)  # one GEMM, no copy
    B = B.transpose(1, 0, 2).reshape(ny, b * m)  # small: m columns per frame
    surf = (Gy @ B).real.reshape(m, b, m).transpose(1, 0, 2)
    flat = surf.reshape(len(surf), -1).argmax(axis=-1)
    iy, ix = np.divmod(flat, m)
    b = np.arange(len(surf))

    def at(dy, dx):
        yy = np.clip(iy + dy, 0, m - 1)
        xx = np.clip(ix + dx, 0, m - 1)
        return surf[b, yy, xx].astype(np.float64)

    c0 = at(0, 0)
    ry = iy + _parabola(at(-1, 0), c0, at(1, 0))
    rx = ix + _parabola(at(0, -1), c0, at(0, 1))
    out = L + (np.stack([ry, rx], axis=-1) - half) / up
    return out.reshape(*lead, 2)


def peak_ratio(win: np.ndarray) -> np.ndarray:
    """Peak of the correlation window over its standard deviation (reliability)."""
    flat = win.reshape(*win.shape[:-2], -1)
    sd = flat.std(axis=-1)
    return (flat.max(axis=-1) - flat.mean(axis=-1)) / np.maximum(sd, 1e-12)


def estimate(
    images: np.ndarray,
    Tconj: np.ndarray,
    window: np.ndarray,
    lp: np.ndarray,
    max_shift,
    *,
    whiten: float,
    subpixel: str,
    upsample: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Shifts (..., 2) of ``images`` against the template spectrum, and peak ratios."""
    shape = images.shape[-2:]
    R = cross_power(spectra(images, window), Tconj, whiten, lp)
    lags, win = integer_peak(R, shape, max_shift)
    if subpixel == "dft":
        shifts = dft_refine(R, lags, shape, upsample)
    elif subpixel == "parabola":
        shifts = parabola_refine(win, lags, max_shift)
    else:
        shifts = lags
    return shifts, peak_ratio(win)


def at_limit(shifts: np.ndarray, shape, max_shift) -> np.ndarray:
    """True where a shift's integer peak lay on the border of the search window.

    There the correlation still rose towards the border: the true shift may be
    larger than the window, or the peak is a spurious one (frames with little
    structure); the estimate is not to be trusted either way.
    """
    lim = np.array(
        [min(int(m), (n - 1) // 2) for m, n in zip(max_shift, shape, strict=True)]
    )
    return (np.abs(np.rint(shifts)) >= lim).any(axis=-1)


def template_spectrum(template: np.ndarray, window: np.ndarray) -> np.ndarray:
    """``conj(rfft2)`` of a template (or a stack of patch templates)."""
    return np.conj(spectra(template.astype(np.float32), window))
