"""Numba kernels of OASIS spike deconvolution (Friedrich, Zhou & Paninski 2017).

Pure functions on arrays and scalars: no validation, no exceptions, no printing;
they import nothing from neuronmf but the guarded ``njit`` (numba + stdlib
only). The plain-NumPy reference they are tested against is
:mod:`neuronmf.imaging._oasis_reference` (NNLS on the convolution matrix).
Written from the paper's equations; no code was taken from the GPL-licensed
OASIS package.

Problem
-------
Calcium ``c`` follows AR(p) dynamics driven by non-negative spikes,

    s_t = c_t - g1 c_{t-1} - g2 c_{t-2} >= 0   (c_{-1} = c_{-2} = 0; g2 = 0: AR(1)),

and the trace is ``y = b + c + noise``. For a fixed sparsity ``lam``

    min_c 1/2 ||y - b - c||^2 + lam sum_t s_t.

Since ``sum_t s_t = mu . c`` with ``mu_t = 1 - g1 - g2`` except
``mu_{T-2} = 1 - g1`` and ``mu_{T-1} = 1``, the penalty is a shift of the
data: ``x = y - b - lam mu`` is fitted by least squares under the constraints.

Pools
-----
A pool is a run of frames with no spike after its first frame: with value
``v = c_t`` at its start ``t`` and ``z = c_{t-1}`` (the previous pool's last
value), ``c_{t+k} = h_k v + g2 h_{k-1} z`` (``h`` the impulse response,
``h_{-1} = 0``). The pass adds one frame at a time as a new pool and merges it
backwards while the spike at a pool's start would be below ``s_min`` (pool
adjacent violators). For AR(1) ``h_k = g^k`` and a merge is O(1):
``v = (w1 v1 + g^l1 w2 v2) / (w1 + g^{2 l1} w2)``, ``w`` the sum of ``g^{2k}``.
For AR(2) a merged pool's value is recomputed from its frames (up to the
length ``K`` after which ``h`` is negligible) with earlier pools held fixed, the
greedy variant of the paper. The first pool's value is held at ``>= 0``.

Noise constraint
----------------
With ``sparsity="auto"``, ``lam`` (and the baseline ``b``) are chosen so that
``||y - b - c||^2 = sn^2 T``. On fixed pools the fit is linear in the data,
``c = L x``; so the residual ``r = (y - Ly) - b (1 - L1) + lam L mu`` is affine
in ``(b, lam)``; ``b`` minimising the penalised objective for a given ``lam``
(its penalty ``lam mu.c`` depends on ``b`` too) is affine in ``lam``, and the
quadratic ``||r(lam)||^2 = sn^2 T`` gives ``lam`` in closed form. The pass is
then run again with the new ``lam`` (pools only merge further) until ``lam``
and ``b`` settle (Friedrich et al. 2017, Algorithm 2's idea).
"""

from __future__ import annotations

import math

import numpy as np

# numba.njit with a cache that falls back instead of failing (numba + stdlib only)
from neuronmf.engine.solvers._numba_cache import njit


@njit(cache=True)
def impulse(g1, g2, T):
    """Impulse response ``h`` (T,) and its length ``K`` beyond which ``|h| < 1e-12``."""
    h = np.zeros(T)
    h[0] = 1.0
    if T > 1:
        h[1] = g1
    for k in range(2, T):
        h[k] = g1 * h[k - 1] + g2 * h[k - 2]
    peak = 0.0
    for k in range(T):
        peak = max(peak, abs(h[k]))
    K = T
    for k in range(T - 1, -1, -1):
        if abs(h[k]) > 1e-12 * peak:
            K = k + 1
            break
    return h, K


@njit(cache=True)
def shift_vector(g1, g2, T):
    """``mu`` with ``sum_t s_t = mu . c`` (the data shift per unit of ``lam``)."""
    mu = np.full(T, 1.0 - g1 - g2)
    if T >= 2:
        mu[T - 2] = 1.0 - g1
    mu[T - 1] = 1.0
    return mu


@njit(cache=True)
def ar1_pass(x, g, s_min, vals, weights, gls, starts, lengths):
    """Pool adjacent violators for AR(1); returns the number of pools.

    ``vals`` hold each pool's unconstrained least-squares value (the first
    pool is used as ``max(v, 0)``), ``weights`` the sums of ``g^{2k}`` and
    ``gls`` ``g^length``.
    """
    n = 0
    for t in range(x.shape[0]):
        vals[n] = x[t]
        weights[n] = 1.0
        gls[n] = g
        starts[n] = t
        lengths[n] = 1
        n += 1
        while n > 1:
            p = n - 2
            vp = vals[p]
            if p == 0 and vp < 0.0:
                vp = 0.0
            gl = gls[p]
            if vals[n - 1] >= gl * vp + s_min:
                break
            w = weights[p] + gl * gl * weights[n - 1]
            vals[p] = (weights[p] * vals[p] + gl * weights[n - 1] * vals[n - 1]) / w
            weights[p] = w
            gls[p] = gl * gls[n - 1]
            lengths[p] += lengths[n - 1]
            n -= 1
    return n


@njit(cache=True)
def ar1_eval(x, g, starts, lengths, n, clamp0, c):
    """``c = L x`` on fixed AR(1) pools (pool 0 held at zero if ``clamp0``)."""
    for p in range(n):
        t, l = starts[p], lengths[p]
        num = 0.0
        w = 0.0
        gk = 1.0
        for k in range(l):
            num += gk * x[t + k]
            w += gk * gk
            gk *= g
        v = num / w
        if p == 0 and clamp0:
            v = 0.0
        for k in range(l):
            c[t + k] = v
            v *= g


@njit(cache=True)
def _ar2_value(x, t, l, z, g2, h, K, h2c, hhc):
    """Least-squares start value of an AR(2) pool given ``z = c_{t-1}``."""
    L = min(l, K)
    num = 0.0
    for k in range(L):
        num += h[k] * x[t + k]
    return (num - g2 * z * hhc[L]) / h2c[L]


@njit(cache=True)
def _ar2_tail(v, z, l, g2, h):
    """Last and second-last calcium of an AR(2) pool of length ``l``."""
    last = h[l - 1] * v + (g2 * h[l - 2] * z if l >= 2 else 0.0)
    if l >= 2:
        second = h[l - 2] * v + (g2 * h[l - 3] * z if l >= 3 else 0.0)
    else:
        second = z
    return last, second


@njit(cache=True)
def ar2_pass(x, g1, g2, s_min, h, K, h2c, hhc, vals, zs, starts, lengths):
    """Greedy pool adjacent violators for AR(2); returns the number of pools.

    ``zs[p]`` is ``c`` just before pool ``p``; the first pool's value is
    stored as ``max(v, 0)``. ``h2c``/``hhc`` are prefix sums of ``h_k^2`` and
    ``h_k h_{k-1}``.
    """
    n = 0
    for t in range(x.shape[0]):
        z = 0.0
        if n > 0:
            z = _ar2_tail(vals[n - 1], zs[n - 1], lengths[n - 1], g2, h)[0]
        vals[n] = x[t]
        zs[n] = z
        starts[n] = t
        lengths[n] = 1
        if n == 0 and vals[0] < 0.0:
            vals[0] = 0.0
        n += 1
        while n > 1:
            p = n - 1
            q = p - 1
            zq, zzq = _ar2_tail(vals[q], zs[q], lengths[q], g2, h)
            if vals[p] - g1 * zq - g2 * zzq >= s_min:
                break
            lengths[q] += lengths[p]
            n -= 1
            v = _ar2_value(x, starts[q], lengths[q], zs[q], g2, h, K, h2c, hhc)
            if q == 0 and v < 0.0:
                v = 0.0
            vals[q] = v
    return n


@njit(cache=True)
def ar2_eval(x, g2, h, K, h2c, hhc, starts, lengths, n, clamp0, c):
    """``c = L x`` on fixed AR(2) pools (pool 0 held at zero if ``clamp0``)."""
    z = 0.0
    for p in range(n):
        t, l = starts[p], lengths[p]
        v = _ar2_value(x, t, l, z, g2, h, K, h2c, hhc)
        if p == 0 and clamp0:
            v = 0.0
        for k in range(l):
            c[t + k] = h[k] * v + (g2 * h[k - 1] * z if k >= 1 else 0.0)
        z = c[t + l - 1]


@njit(cache=True)
def _fit_pools(y, b, lam, g1, g2, s_min, mu, h, K, h2c, hhc, work, c):
    """One pass on ``x = y - b - lam mu``; fills ``c``; returns the pools."""
    vals, weights, zs, x, gls = work[0], work[1], work[2], work[3], work[4]
    starts, lengths = np.empty(y.shape[0], np.int64), np.empty(y.shape[0], np.int64)
    for t in range(y.shape[0]):
        x[t] = y[t] - b - lam * mu[t]
    if g2 == 0.0:
        n = ar1_pass(x, g1, s_min, vals, weights, gls, starts, lengths)
        clamp0 = vals[0] < 0.0
        ar1_eval(x, g1, starts, lengths, n, clamp0, c)
    else:
        n = ar2_pass(x, g1, g2, s_min, h, K, h2c, hhc, vals, zs, starts, lengths)
        clamp0 = _ar2_value(x, 0, lengths[0], 0.0, g2, h, K, h2c, hhc) < 0.0
        ar2_eval(x, g2, h, K, h2c, hhc, starts, lengths, n, clamp0, c)
    return n, clamp0, starts, lengths


@njit(cache=True)
def _ar1_products(y, mu, g, starts, lengths, n, clamp0, out):
    """The dot products of the residual's pieces on fixed AR(1) pools.

    With ``u = y - Ly``, ``e = 1 - L1``, ``q = L mu`` (``L`` the fit on the
    pools), ``out`` gets ``uu, uq, qq, ee, eu, eq, mu.L1`` in one pass per pool.
    """
    for j in range(7):
        out[j] = 0.0
    for p in range(n):
        t, l = starts[p], lengths[p]
        sy = s1 = sm = w = 0.0
        gk = 1.0
        for k in range(l):
            sy += gk * y[t + k]
            s1 += gk
            sm += gk * mu[t + k]
            w += gk * gk
            gk *= g
        if p == 0 and clamp0:
            vy = v1 = vm = 0.0
        else:
            vy, v1, vm = sy / w, s1 / w, sm / w
        for k in range(l):
            u = y[t + k] - vy
            e = 1.0 - v1
            q = vm
            out[0] += u * u
            out[1] += u * q
            out[2] += q * q
            out[3] += e * e
            out[4] += e * u
            out[5] += e * q
            out[6] += mu[t + k] * v1
            vy *= g
            v1 *= g
            vm *= g


@njit(cache=True)
def _ar2_products(y, mu, g2, h, K, h2c, hhc, starts, lengths, n, clamp0, tmp, out):
    """As :func:`_ar1_products` on AR(2) pools (three fits, then one pass)."""
    ly, l1, lmu, ones = tmp[0], tmp[1], tmp[2], tmp[3]
    ar2_eval(y, g2, h, K, h2c, hhc, starts, lengths, n, clamp0, ly)
    ar2_eval(ones, g2, h, K, h2c, hhc, starts, lengths, n, clamp0, l1)
    ar2_eval(mu, g2, h, K, h2c, hhc, starts, lengths, n, clamp0, lmu)
    for j in range(7):
        out[j] = 0.0
    for t in range(y.shape[0]):
        u = y[t] - ly[t]
        e = 1.0 - l1[t]
        q = lmu[t]
        out[0] += u * u
        out[1] += u * q
        out[2] += q * q
        out[3] += e * e
        out[4] += e * u
        out[5] += e * q
        out[6] += mu[t] * l1[t]


@njit(cache=True)
def _update(dots, lam, b, thresh, auto_lam, fit_b):
    """New ``(lam, b)`` from the residual ``r = u - b e + lam q`` on fixed pools.

    ``b`` minimises the penalised objective for a given ``lam``:
    ``b(lam) = (e.u + lam (e.q + mu.L1)) / e.e``; then ``||r(lam)||^2 =
    thresh`` is a quadratic in ``lam``, solved for its larger root.
    """
    uu, uq, qq, ee, eu, eq, ml1 = (
        dots[0],
        dots[1],
        dots[2],
        dots[3],
        dots[4],
        dots[5],
        dots[6],
    )
    if fit_b and ee > 1e-12:
        nu = eu / ee
        ka = (eq + ml1) / ee
        C = uu - 2.0 * nu * eu + nu * nu * ee
        B = uq - ka * eu - nu * eq + nu * ka * ee
        A = qq - 2.0 * ka * eq + ka * ka * ee
    else:
        nu = b
        ka = 0.0
        C = uu - 2.0 * b * eu + b * b * ee
        B = uq - b * eq
        A = qq
    lam_new = lam
    if auto_lam:
        if C >= thresh:
            lam_new = 0.0
        elif A > 1e-12 * max(C, 1.0):
            lam_new = (-B + math.sqrt(max(B * B - A * (C - thresh), 0.0))) / A
            lam_new = max(lam_new, 0.0)
    b_new = nu + lam_new * ka if (fit_b and ee > 1e-12) else b
    return lam_new, b_new


@njit(cache=True)
def deconvolve_trace(y, g1, g2, sn, b0, lam0, s_min, auto_lam, fit_b, max_iter, c):
    """OASIS on one trace; fills ``c``. Returns ``(lam, b, iterations)``.

    ``auto_lam``: ``lam`` from the noise constraint ``||y - b - c||^2 =
    sn^2 T`` (else ``lam0`` is kept); ``fit_b``: the baseline is fitted (else
    ``b0`` is kept).
    """
    T = y.shape[0]
    if g2 == 0.0:  # AR(1) needs no impulse-response tables
        h = np.empty(1)
        K = 1
        h2c = hhc = h
    else:
        h, K = impulse(g1, g2, T)
        h2c = np.zeros(T + 1)
        hhc = np.zeros(T + 1)
        for k in range(T):
            h2c[k + 1] = h2c[k] + h[k] * h[k]
            hhc[k + 1] = hhc[k] + (h[k] * h[k - 1] if k >= 1 else 0.0)
    mu = shift_vector(g1, g2, T)
    work = np.empty((5, T))
    tmp = np.empty((4, T)) if g2 != 0.0 else np.empty((4, 1))
    if g2 != 0.0:
        tmp[3, :] = 1.0
    dots = np.empty(7)
    thresh = sn * sn * T
    lam, b = lam0, b0
    it = 0
    current = False  # c is the fit of the current (lam, b)
    for _ in range(max_iter):
        it += 1
        n, clamp0, starts, lengths = _fit_pools(
            y, b, lam, g1, g2, s_min, mu, h, K, h2c, hhc, work, c
        )
        current = True
        if not (auto_lam or fit_b):
            break
        if g2 == 0.0:
            _ar1_products(y, mu, g1, starts, lengths, n, clamp0, dots)
        else:
            _ar2_products(
                y, mu, g2, h, K, h2c, hhc, starts, lengths, n, clamp0, tmp, dots
            )
        lam_new, b_new = _update(dots, lam, b, thresh, auto_lam, fit_b)
        scale = max(sn, 1e-12)
        done = (
            abs(lam_new - lam) <= 1e-6 * max(lam_new, scale)
            and abs(b_new - b) <= 1e-6 * scale
        )
        current = lam_new == lam and b_new == b
        lam, b = lam_new, b_new
        if done:
            break
    if not current:
        _fit_pools(y, b, lam, g1, g2, s_min, mu, h, K, h2c, hhc, work, c)
    return lam, b, it


@njit(cache=True)
def spikes_of(c, g1, g2, s):
    """``s_t = c_t - g1 c_{t-1} - g2 c_{t-2}`` (``c`` before the trace is 0), >= 0."""
    for t in range(c.shape[0]):
        v = c[t]
        if t >= 1:
            v -= g1 * c[t - 1]
        if t >= 2:
            v -= g2 * c[t - 2]
        s[t] = v if v > 1e-9 * abs(c[t]) else 0.0


@njit(cache=True)
def deconvolve_batch(Y, G, sn, b0, lam0, s_min, auto_lam, fit_b, max_iter, C, S, out):
    """Every row of ``Y`` (neuron, time); ``out`` (neuron, 3): lam, b, iterations."""
    for i in range(Y.shape[0]):
        lam, b, it = deconvolve_trace(
            Y[i],
            G[i, 0],
            G[i, 1],
            sn[i],
            b0[i],
            lam0[i],
            s_min[i],
            auto_lam,
            fit_b,
            max_iter,
            C[i],
        )
        spikes_of(C[i], G[i, 0], G[i, 1], S[i])
        out[i, 0] = lam
        out[i, 1] = b
        out[i, 2] = it
