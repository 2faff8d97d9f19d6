"""The estimator, the template and the pass of :func:`neuronmf.imaging.register`.

No validation here (the public function did it). :class:`Aligner` estimates
the shifts of a batch of frames against a template and applies them;
:func:`build_template` refines a template on a sample of frames held in memory;
:func:`run_pass` reads the movie once, chunk by chunk, and writes the corrected
frames into a sink (a NumPy array or an HDF5 dataset).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuronmf.errors import input_error
from neuronmf.imaging import _register_phase as ph
from neuronmf.imaging import _register_warp as wp

#: Piecewise: width of the patches' edge taper, as a fraction of the patch side
#: (1/8 before issue 23's accuracy pass; 1/4 lowered the frame-to-frame jitter
#: of the patch shifts 0.237 -> 0.212 px; docs/benchmarks.md).
PATCH_TAPER = 1 / 4


@dataclass(frozen=True)
class Options:
    """Everything the arithmetic needs (checked by ``register``)."""

    method: str
    max_shift: int
    patch: int
    overlap: int
    max_deviation: int
    subpixel: str
    upsample: int
    whiten: float
    smooth: float
    order: int
    min_peak_ratio: float
    fourier: bool = False


class Aligner:
    """Shifts of frames against one template, and the corrected frames."""

    def __init__(self, template: np.ndarray, opts: Options, identity: bool = False):
        self.opts = opts
        # identity: every shift 0 (a movie with no structure to register to)
        self.identity = identity
        ny, nx = template.shape
        self.shape = (ny, nx)
        taper_px = max(4.0, min(ny, nx) / 16.0)
        self.window = ph.taper((ny, nx), taper_px)
        self.lp = ph.lowpass((ny, nx), opts.smooth)
        self.T = ph.template_spectrum(template, self.window)
        self.grid = None
        if opts.method == "piecewise":
            g = wp.PatchGrid((ny, nx), opts.patch, opts.overlap)
            self.grid = g
            self.pwindow = ph.taper(g.size, max(2.0, min(g.size) * PATCH_TAPER))
            self.plp = ph.lowpass(g.size, opts.smooth)
            tp, _ = g.cut(template[None].astype(np.float32))
            self.pT = ph.template_spectrum(tp[0], self.pwindow)

    def estimate(self, frames: np.ndarray):
        """Rigid shifts (n, 2), patch shifts (n, npy, npx, 2) or None, peak ratios."""
        o = self.opts
        if self.identity:
            n = len(frames)
            rigid = np.zeros((n, 2))
            local = None
            if self.grid is not None:
                local = np.zeros((n, len(self.grid.cy), len(self.grid.cx), 2))
            return rigid, local, np.full(n, np.nan)
        rigid, ratio = ph.estimate(
            frames,
            self.T,
            self.window,
            self.lp,
            (o.max_shift, o.max_shift),
            whiten=o.whiten,
            subpixel=o.subpixel,
            upsample=o.upsample,
        )
        if self.grid is None:
            return rigid, None, ratio
        offs = np.rint(rigid).astype(int)
        pad = int(np.abs(offs).max()) if offs.size else 0
        padded = np.pad(frames, ((0, 0), (pad, pad), (pad, pad)), mode="edge")
        local, pratio = self._patch_shifts(padded, offs, pad, o.max_deviation)
        weak = pratio < o.min_peak_ratio
        if weak.any():
            local[weak] = np.broadcast_to(rigid[:, None, None, :], local.shape)[weak]
        return rigid, local, ratio

    def _patch_shifts(self, padded, offsets, pad: int, limit: int):
        """Patch shifts (n, npy, npx, 2) of frames padded by ``pad``, cut at
        ``offsets`` and searched within ``±limit`` px, and their peak ratios."""
        o = self.opts
        patches, used = self.grid.cut(padded, offsets + pad, origin=pad)
        res, pratio = ph.estimate(
            patches,
            self.pT,
            self.pwindow,
            self.plp,
            (limit, limit),
            whiten=o.whiten,
            subpixel=o.subpixel,
            upsample=o.upsample,
        )
        return used + res, pratio

    def correct(self, frames: np.ndarray, rigid, local) -> np.ndarray:
        """Corrected frames; with ``fourier`` the rigid part is a phase ramp and a
        piecewise field's residual (patch shifts minus the rigid one) is warped
        with the kernel of ``order`` (cubic, or Lanczos for "fourier-lanczos");
        with ``identity``, the frames as they are (float32)."""
        o = self.opts
        if self.identity:  # every shift is 0: nothing to resample
            return np.array(frames, dtype=np.float32)
        if o.fourier:
            frames = wp.shift_fourier(frames, rigid)
            if local is None:
                return frames
            local = local - rigid[:, None, None, :]
        out = np.empty(frames.shape, np.float32)
        for i in range(len(frames)):
            if local is None:
                wp.shift_rigid(frames[i], rigid[i], o.order, out[i])
            else:
                wp.warp(frames[i], self.grid.field(local[i]), o.order, out[i])
        return out


def correlations(frames: np.ndarray, template: np.ndarray, border: int) -> np.ndarray:
    """Pearson correlation of each frame with the template, inside ``border``."""
    b = int(border)
    sl = (slice(b, -b or None), slice(b, -b or None))
    t = template[sl].astype(np.float64).ravel()
    t = t - t.mean()
    f = frames[(slice(None), *sl)].reshape(len(frames), -1)
    n = f.shape[1]
    ft = f @ t.astype(np.float32)
    s1 = f.sum(axis=1, dtype=np.float64)
    s2 = np.einsum("ij,ij->i", f, f, dtype=np.float64)
    var = s2 - s1 * s1 / n
    den = np.sqrt(np.maximum(var, 0)) * np.linalg.norm(t)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, ft / den, np.nan)


def crispness(image: np.ndarray, border: int) -> float:
    """Frobenius norm of the gradient magnitude of an image (NoRMCorre's measure)."""
    b = int(border)
    img = image[b : -b or None, b : -b or None].astype(np.float64)
    gy, gx = np.gradient(img)
    return float(np.sqrt((gy**2 + gx**2).sum()))


def initial_template(sample: np.ndarray) -> np.ndarray:
    """Mean of the most mutually correlated frames of the sample.

    Frames are 2 × 2 binned and z-scored; the frame whose ``k`` best
    correlations (k = 20, or a fifth of the sample) are highest on average is
    averaged with those ``k`` frames.
    """
    n, ny, nx = sample.shape
    if n == 1:
        return sample[0].astype(np.float32)
    b = sample[:, : ny - ny % 2, : nx - nx % 2]
    b = b.reshape(n, ny // 2, 2, nx // 2, 2).mean(axis=(2, 4), dtype=np.float64)
    b = b.reshape(n, -1)
    b -= b.mean(axis=1, keepdims=True)
    b /= np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    C = b @ b.T
    np.fill_diagonal(C, -np.inf)
    k = int(min(20, max(1, n // 5)))
    top = np.sort(C, axis=1)[:, -k:]
    best = int(np.argmax(top.mean(axis=1)))
    members = np.r_[best, np.argsort(C[best])[-k:]]
    return sample[members].mean(axis=0, dtype=np.float64).astype(np.float32)


def build_template(
    sample: np.ndarray, opts: Options, rounds: int, chunk: int
) -> np.ndarray:
    """Iteratively refined template: register the sample, average its best half.

    The sample is registered ``chunk`` frames at a time (the working set of
    the FFTs is several times the frames'); piecewise registration is used
    in the last round only.
    """
    template = initial_template(sample)
    border = opts.max_shift
    fixed = np.empty_like(sample)
    for r in range(rounds):
        last = r == rounds - 1
        o = opts if last or opts.method == "rigid" else _rigid(opts)
        al = Aligner(template, o)
        for i in range(0, len(sample), chunk):
            part = sample[i : i + chunk]
            rigid, local, _ = al.estimate(part)
            fixed[i : i + chunk] = al.correct(part, rigid, local)
        c = correlations(fixed, template, border)
        keep = c >= np.nanmedian(c) if len(c) > 3 else np.ones(len(c), bool)
        template = fixed[keep].mean(axis=0, dtype=np.float64).astype(np.float32)
    return template


def split_agreement(
    sample: np.ndarray, opts: Options, rounds: int, chunk: int
) -> float:
    """Correlation of templates built independently from the sample's halves.

    A template refined by registering frames to it finds structure even in
    pure noise (each frame is moved to where its noise best matches the
    average, and the average becomes what the frames were moved to match).
    Templates built from the first and from the second half of the sample
    (the sample is spread over the movie: its first and second halves), each
    on its own (rigid), share only what the movie holds: the Pearson
    correlation of the second one, aligned to the first, with it (inside a
    border of ``max_shift``) is near 1 for a real field of view and near 0
    for noise, also for noise correlated in time (even and odd frames would
    share it). ``nan`` with fewer than 4 frames.
    """
    if len(sample) < 4:
        return float("nan")
    o = _rigid(opts)
    half = len(sample) // 2
    first = build_template(sample[:half], o, rounds, chunk)
    second = build_template(sample[half:], o, rounds, chunk)
    al = Aligner(first, o)
    rigid, _, _ = al.estimate(second[None])
    moved = al.correct(second[None], rigid, None)
    return float(correlations(moved, first, o.max_shift)[0])


def _rigid(opts: Options) -> Options:
    from dataclasses import replace

    return replace(opts, method="rigid")


def read_frames(data, t0: int, t1: int) -> np.ndarray:
    """Frames ``t0:t1`` of an in-memory or dask movie as float32 (never a view)."""
    block = data[t0:t1]
    if hasattr(block, "compute"):
        block = block.compute()
    block = np.array(block, dtype=np.float32)
    bad = ~np.isfinite(block).all(axis=(1, 2))
    if bad.any():
        i = t0 + int(np.nonzero(bad)[0][0])
        raise input_error(
            f"frame {i} of the movie",
            "finite",
            "NaN or Inf",
            "Drop or interpolate non-finite frames before registering.",
        )
    return block


def read_sample(data, n: int) -> np.ndarray:
    """``n`` frames spread evenly over the movie (float32)."""
    T = data.shape[0]
    idx = np.unique(np.linspace(0, T - 1, min(n, T)).round().astype(int))
    return np.concatenate([read_frames(data, i, i + 1) for i in idx])


def _align_chunk(aligner: Aligner, template, raw: np.ndarray, bidi) -> dict:
    """Shifts, corrected frames and their statistics for one chunk of raw frames."""
    o = aligner.opts
    ny, nx = aligner.shape
    frames = wp.fix_bidi(raw, bidi, o.order) if bidi else raw
    rigid, local, ratio = aligner.estimate(frames)
    fixed = aligner.correct(frames, rigid, local)
    return {
        "rigid": rigid,
        "local": local,
        "ratio": ratio,
        "fixed": fixed,
        "at_limit": ph.at_limit(rigid, (ny, nx), (o.max_shift, o.max_shift)),
        "before": correlations(frames, template, o.max_shift),
        "after": correlations(fixed, template, o.max_shift),
        "raw_sum": raw.sum(axis=0, dtype=np.float64),
        "fix_sum": fixed.sum(axis=0, dtype=np.float64),
    }


def _aligned_chunks(data, aligner, template, chunk: int, bidi, n_jobs: int):
    """``(t0, t1, _align_chunk(...))`` in order, ``n_jobs`` chunks at a time.

    The movie is read in the calling thread, one chunk ahead of each worker
    (at most ``n_jobs + 1`` chunks in memory); the FFTs, NumPy and the warp
    kernels release the GIL, so the workers run in parallel.
    """
    T = data.shape[0]
    starts = range(0, T, chunk)
    if n_jobs <= 1:
        for t0 in starts:
            t1 = min(T, t0 + chunk)
            raw = read_frames(data, t0, t1)
            yield t0, t1, _align_chunk(aligner, template, raw, bidi)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    pending: deque = deque()
    with ThreadPoolExecutor(max_workers=n_jobs) as ex:
        for t0 in starts:
            t1 = min(T, t0 + chunk)
            raw = read_frames(data, t0, t1)
            pending.append(
                (t0, t1, ex.submit(_align_chunk, aligner, template, raw, bidi))
            )
            if len(pending) > n_jobs:
                a, b, fut = pending.popleft()
                yield a, b, fut.result()
        while pending:
            a, b, fut = pending.popleft()
            yield a, b, fut.result()


def run_pass(
    data, aligner: Aligner, template, sink, chunk: int, bidi, bar, n_jobs: int = 1
) -> dict:
    """One read of the movie: shifts, correlations, means; corrected into ``sink``."""
    T, ny, nx = data.shape
    rigid = np.zeros((T, 2))
    local = None
    if aligner.grid is not None:
        local = np.zeros((T, *aligner.grid.grid, 2))
    corr = np.zeros(T)
    limit = np.zeros(T, bool)
    before = np.zeros(T)
    ratio = np.zeros(T)
    raw_sum = np.zeros((ny, nx))
    fix_sum = np.zeros((ny, nx))
    for t0, t1, part in _aligned_chunks(data, aligner, template, chunk, bidi, n_jobs):
        rigid[t0:t1] = part["rigid"]
        ratio[t0:t1] = part["ratio"]
        limit[t0:t1] = part["at_limit"]
        if local is not None:
            local[t0:t1] = part["local"]
        before[t0:t1] = part["before"]
        corr[t0:t1] = part["after"]
        raw_sum += part["raw_sum"]
        fix_sum += part["fix_sum"]
        if sink is not None:
            sink[t0:t1] = part["fixed"]
        bar.update(t1 - t0)
    return {
        "rigid": rigid,
        "local": local,
        "correlation": corr,
        "correlation_before": before,
        "peak_ratio": ratio,
        "at_limit": limit,
        "mean_before": raw_sum / T,
        "mean_after": fix_sum / T,
    }
