"""Patches, shift fields and warping for :func:`neuronmf.imaging.register`.

No validation here. A shift ``s`` at pixel ``p`` means the corrected frame is
``frame(p + s)`` (see :mod:`neuronmf.imaging._register_phase`).
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from neuronmf.imaging import _register_kernels as _k

#: Interpolation kernels of the warps (the ``kind`` of
#: :mod:`neuronmf.imaging._register_kernels`: 1 bilinear, 3 Keys cubic,
#: 6 Lanczos-3); "fourier" resamples rigid shifts by a phase ramp
#: (:func:`shift_fourier`) and a piecewise field's residual with the cubic
#: kernel, "fourier-lanczos" the residual with the Lanczos one.
ORDERS = {
    "bilinear": 1,
    "cubic": 3,
    "lanczos": 6,
    "fourier": 3,
    "fourier-lanczos": 6,
}
#: Pixels of edge padding beyond the largest shift in :func:`shift_fourier`.
FOURIER_MARGIN = 8


def patch_starts(n: int, size: int, overlap: int) -> np.ndarray:
    """Start indices of overlapping patches of ``size`` covering ``0..n``."""
    if size >= n:
        return np.array([0])
    step = max(1, size - overlap)
    count = int(np.ceil((n - size) / step)) + 1
    return np.round(np.linspace(0, n - size, count)).astype(int)


class PatchGrid:
    """Patch layout and the separable interpolation of a patch-shift grid.

    ``By`` (ny, npy) and ``Bx`` (nx, npx) are the cubic-spline (or linear for
    fewer than 4 patches per axis) interpolation weights from the patch
    centres to every pixel, constant beyond the outermost centres; a field is
    ``By @ S @ Bx.T`` for a (npy, npx) grid of shifts ``S``.
    """

    def __init__(self, shape, size: int, overlap: int):
        ny, nx = shape
        self.shape = (ny, nx)
        self.size = (min(size, ny), min(size, nx))
        self.ys = patch_starts(ny, size, overlap)
        self.xs = patch_starts(nx, size, overlap)
        self.cy = self.ys + (self.size[0] - 1) / 2.0
        self.cx = self.xs + (self.size[1] - 1) / 2.0
        self.By = _weights(self.cy, ny)
        self.Bx = _weights(self.cx, nx)

    @property
    def grid(self) -> tuple[int, int]:
        return len(self.ys), len(self.xs)

    def cut(self, images: np.ndarray, offsets=None, origin: int = 0):
        """(n, npy, npx, h, w) patches of (n, H, W) images, and the offsets used.

        ``images`` may be padded by ``origin`` px on every side; the patch of
        frame ``i`` starts at the template patch's start plus ``offsets[i]``
        (padded coordinates), kept inside the image. The offsets used are
        returned in unpadded pixels, (n, npy, npx, 2).
        """
        n, H, W = images.shape
        h, w = self.size
        npy, npx = self.grid
        out = np.empty((n, npy, npx, h, w), np.float32)
        used = np.zeros((n, npy, npx, 2))
        for i in range(n):
            oy, ox = (0, 0) if offsets is None else offsets[i]
            for a, y0 in enumerate(self.ys):
                y = int(np.clip(y0 + oy, 0, H - h))
                for b, x0 in enumerate(self.xs):
                    x = int(np.clip(x0 + ox, 0, W - w))
                    out[i, a, b] = images[i, y : y + h, x : x + w]
                    used[i, a, b] = (y - y0 - origin, x - x0 - origin)
        return out, used

    def field(self, shifts: np.ndarray) -> np.ndarray:
        """(2, ny, nx) displacement of one frame from its (npy, npx, 2) grid."""
        return np.stack(
            [self.By @ shifts[..., k] @ self.Bx.T for k in range(2)]
        ).astype(np.float32)


def _weights(centres: np.ndarray, n: int) -> np.ndarray:
    """(n, len(centres)) interpolation weights, constant beyond the end centres."""
    k = len(centres)
    if k == 1:
        return np.ones((n, 1))
    u = np.interp(np.arange(n), centres, np.arange(k))  # clamps at the ends
    order = 3 if k >= 4 else 1
    B = np.empty((n, k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = 1.0
        B[:, j] = ndimage.map_coordinates(e, [u], order=order, mode="nearest")
    return B


def shift_rigid(frame: np.ndarray, s, order: int, out=None) -> np.ndarray:
    """``frame(p + s)`` for a rigid shift ``s`` (edges: nearest pixel)."""
    if out is None:
        out = np.empty(frame.shape, np.float32)
    _k.shift_frame(frame, float(s[0]), float(s[1]), int(order), out)
    return out


def shift_fourier(frames: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """``frame(p + s)`` for each frame and rigid shift, the fraction by a phase ramp.

    The shift of a band-limited signal is a unitary operator: white noise stays
    white (interpolation kernels average neighbouring pixels and correlate it).
    The fractional part of ``s`` (|f| <= 0.5) is applied in the Fourier domain
    to the frame padded by at least ``FOURIER_MARGIN`` px so that its periodic
    extension is continuous (:func:`_smooth_pad`; no seam for the ramp to ring
    on); the integer part moves whole pixels, and what comes in from beyond an
    edge is the edge pixel, as with the kernels' clamped edges. The Nyquist bin
    of an even length keeps its real part (``cos(pi f)``), the one departure
    from a unitary shift.
    """
    n, ny, nx = frames.shape
    shifts = np.asarray(shifts, np.float64).reshape(n, 2)
    whole = np.rint(shifts).astype(int)
    frac = shifts - whole
    pad = FOURIER_MARGIN
    Ly = sfft.next_fast_len(ny + 2 * pad, real=True)
    Lx = sfft.next_fast_len(nx + 2 * pad, real=True)
    widths = ((0, 0), (pad, Ly - ny - pad), (pad, Lx - nx - pad))
    padded = _smooth_pad(frames.astype(np.float32, copy=False), widths)
    F = sfft.rfft2(padded, axes=(-2, -1), workers=2)
    fy, fx = sfft.fftfreq(Ly), sfft.rfftfreq(Lx)
    F *= np.exp(2j * np.pi * frac[:, 0, None] * fy).astype(np.complex64)[:, :, None]
    F *= np.exp(2j * np.pi * frac[:, 1, None] * fx).astype(np.complex64)[:, None, :]
    moved = sfft.irfft2(F, s=(Ly, Lx), axes=(-2, -1), workers=2)
    out = np.empty((n, ny, nx), np.float32)
    for i, (ky, kx) in enumerate(whole):
        out[i] = _whole_shift(moved[i], ky, kx, pad, ny, nx)
    return out


def _smooth_pad(frames: np.ndarray, widths) -> np.ndarray:
    """Frames padded so that their periodic extension is continuous.

    Along each axis the gap between the last and (periodically) the first
    row or column goes from the one edge's values to the other's by a raised
    cosine, flat at both ends: next to an edge the pad is that edge's pixel,
    and there is no jump for the phase ramp to ring on.
    """
    out = np.pad(frames, widths, mode="edge")
    n = frames.shape[1:]
    for axis, (lo, hi) in zip((1, 2), widths[1:], strict=True):
        gap = lo + hi
        if gap == 0:
            continue
        t = np.arange(1, gap + 1) / (gap + 1)
        w = (0.5 - 0.5 * np.cos(np.pi * t)).astype(np.float32)
        first = np.take(out, [lo], axis=axis)
        last = np.take(out, [lo + n[axis - 1] - 1], axis=axis)
        shape = [1, 1, 1]
        shape[axis] = gap
        blend = last + (first - last) * w.reshape(shape)
        idx = (np.arange(lo + n[axis - 1], lo + n[axis - 1] + gap)) % out.shape[axis]
        if axis == 1:
            out[:, idx] = blend
        else:
            out[:, :, idx] = blend
    return out


def _whole_shift(img: np.ndarray, ky: int, kx: int, pad: int, ny: int, nx: int):
    """``img[pad + p + k]`` of a padded image, edges clamped to the frame's."""
    if abs(ky) > pad or abs(kx) > pad:
        iy = np.clip(np.arange(ny) + ky, 0, ny - 1) + pad
        ix = np.clip(np.arange(nx) + kx, 0, nx - 1) + pad
        return np.take(np.take(img, iy, axis=0), ix, axis=1)
    out = img[pad + ky : pad + ky + ny, pad + kx : pad + kx + nx].copy()
    if ky > 0:
        out[ny - ky :] = out[ny - ky - 1]
    elif ky < 0:
        out[:-ky] = out[-ky]
    if kx > 0:
        out[:, nx - kx :] = out[:, nx - kx - 1 : nx - kx]
    elif kx < 0:
        out[:, :-kx] = out[:, -kx : -kx + 1]
    return out


def warp(frame: np.ndarray, field: np.ndarray, order: int, out=None) -> np.ndarray:
    """``frame(p + field(p))`` for a (2, ny, nx) displacement (edges: nearest)."""
    if out is None:
        out = np.empty(frame.shape, np.float32)
    _k.warp_frame(frame, field[0], field[1], int(order), out)
    return out


def bidi_offset(images: np.ndarray, max_offset: int = 5, step: float = 0.05) -> float:
    """Horizontal offset of odd rows against even rows (bidirectional scanning).

    Positive: odd rows are displaced to the right (larger x). Estimated from the
    whitened cross-spectrum of odd rows against the mean of their even
    neighbours, summed over rows and images, evaluated on a ``step`` px grid.
    """
    img = np.asarray(images, np.float64).reshape(-1, *images.shape[-2:])
    ny = img.shape[1] - (img.shape[1] % 2)
    even = img[:, 0:ny:2]
    odd = img[:, 1:ny:2]
    nxt = np.concatenate([even[:, 1:], even[:, -1:]], axis=1)
    ref = 0.5 * (even + nxt)
    nx = img.shape[2]
    Fo = np.fft.rfft(odd - odd.mean(-1, keepdims=True), axis=-1)
    Fe = np.fft.rfft(ref - ref.mean(-1, keepdims=True), axis=-1)
    X = (Fo * np.conj(Fe)).sum(axis=(0, 1))
    X /= np.abs(X) + 1e-12
    X *= np.exp(-2.0 * (np.pi * 1.0) ** 2 * np.fft.rfftfreq(nx) ** 2)
    w = np.full(len(X), 2.0)
    w[0] = 1.0
    if nx % 2 == 0:
        w[-1] = 1.0
    lags = np.arange(-max_offset, max_offset + step / 2, step)
    f = np.fft.rfftfreq(nx)
    cc = (np.exp(2j * np.pi * lags[:, None] * f[None, :]) @ (X * w)).real
    return float(lags[int(np.argmax(cc))])


def fix_bidi(frames: np.ndarray, offset: float, order: int) -> np.ndarray:
    """Frames with odd rows moved back by ``offset`` px along x (a copy).

    A spline of ``order`` (at most 3: Lanczos's kind 6 takes the cubic one).
    """
    out = np.array(frames, dtype=np.float32, copy=True)
    if offset:
        out[:, 1::2] = ndimage.shift(
            out[:, 1::2], (0, 0, -offset), order=min(order, 3), mode="nearest"
        )
    return out
