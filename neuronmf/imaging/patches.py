"""Overlapping patches over the field of view and their core regions."""

from __future__ import annotations


def _starts(n: int, size: int, overlap: int) -> list[int]:
    if size >= n:
        return [0]
    stride = max(size - overlap, 1)
    s = [*list(range(0, n - size, stride)), n - size]
    return sorted(set(s))


def make_patches(shape, size: int, overlap: int):
    """Tile ``shape`` (ny, nx) with overlapping square patches.

    Each patch is ``(ys, xs, core)``: slices of the patch and of its *core*
    (the part of the field of view it owns; cores tile the field of view
    without overlap, cut in the middle of each overlap). A component found in
    a patch is kept only if its centroid lies in that patch's core, so a
    neuron in an overlap is reported once.

    Examples
    --------
    >>> [p[0] for p in make_patches((100, 50), 60, 20)][:2]
    [slice(0, 60, None), slice(40, 100, None)]
    """
    out = []
    for axis_starts_y in [_starts(shape[0], size, overlap)]:
        sy = axis_starts_y
    sx = _starts(shape[1], size, overlap)

    def cores(starts, n):
        ends = [min(s + size, n) for s in starts]
        lo = [0] + [(starts[i + 1] + ends[i]) // 2 for i in range(len(starts) - 1)]
        hi = [*lo[1:], n]
        return list(zip(starts, ends, lo, hi, strict=False))

    for y0, y1, cy0, cy1 in cores(sy, shape[0]):
        for x0, x1, cx0, cx1 in cores(sx, shape[1]):
            out.append(
                (slice(y0, y1), slice(x0, x1), (slice(cy0, cy1), slice(cx0, cx1)))
            )
    return out
