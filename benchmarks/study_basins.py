"""Which solver ends lower on the large shape's generator, over several seeds?

The large shape of ``bench_engine.py`` (uniform random W and H, 10 % noise) has
many local minima. This one-off study fits smaller copies of it (default
8,000 × 4,000, rank 20, float32) from the same NNDSVDa init, with variants of
neuronmf's HALS run to its stopping rule (tol 1e-10), and with scikit-learn's
``cd`` for a fixed number of iterations (``--cd-iter 0`` skips it). Variants
(``--variants``, comma-separated):

- ``neuronmf``: as it runs (A-HALS with extrapolation, H updated first);
- ``w-first``: one W update from the init first (the order of ``cd`` and of
  Gillis & Glineur's A-HALS), then as it runs;
- ``warm-up``: ``--warm-up`` iterations of plain HALS first, then as it runs;
- ``plain``: plain HALS (one inner sweep per block update, no extrapolation:
  ``cd``'s path), to the stopping rule or ``--plain-iter`` iterations.

It prints each final relative error next to the error of the planted factors.
Every fit here runs without escape rounds (``escape=False``): the study came
before them and asks where the solver's own path ends (``study_escape.py``
measures the escape rounds).

Run:  python benchmarks/study_basins.py [--shape 8000 4000] [--seeds 4] [--cd-iter 3000]
                                       [--variants neuronmf,w-first,warm-up,plain]
      python benchmarks/study_basins.py --large   (the benchmark's own large matrix)
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import time
import warnings

import numpy as np

VARIANTS = ("neuronmf", "w-first", "warm-up", "plain")


def planted(m, n, r, rng):
    """V, W, H drawn as ``bench_engine.large`` draws them (same calls, same order)."""
    W = rng.random((m, r), dtype=np.float32)
    H = rng.random((r, n), dtype=np.float32)
    V = W @ H
    V += 0.1 * V.std() * rng.standard_normal(V.shape, dtype=np.float32)
    np.maximum(V, 0, out=V)
    return V, W, H


def cases(args):
    """(label, V, W, H) for each problem of the study."""
    if args.large:  # the benchmark's matrix: its generator after the other shapes
        from bench_engine import counts_like, emg_like, movie_like

        rng = np.random.default_rng(0)
        emg_like(16, 200_000, 5, rng)
        movie_like(64, 6000, 31, rng)
        counts_like(500, 20000, 12, rng)
        yield ("large", *planted(20000, 10000, 20, rng))
        return
    (m, n), r = args.shape, args.rank
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        yield (f"seed {seed}", *planted(m, n, r, np.random.default_rng(seed)))


@contextlib.contextmanager
def plain_hals():
    """neuronmf's HALS with one inner sweep per block update and no extrapolation.

    For this study only: it swaps module attributes of the HALS driver.
    """
    from neuronmf.engine.solvers import hals

    alpha, solve = hals.ALPHA, hals.solve
    hals.ALPHA = 0.0  # 1 + α·ρ inner sweeps -> one
    hals.solve = functools.partial(solve, extrapolate=False)
    try:
        yield
    finally:
        hals.ALPHA, hals.solve = alpha, solve


def fit_variant(variant, V, W0, H0, args):
    """(relative error, iterations, seconds) of one variant from (W0, H0)."""
    import neuronmf as nm

    r = W0.shape[1]
    t = time.perf_counter()
    W, H, extra = W0, H0, 0
    if variant == "plain":
        with plain_hals():
            res = nm.nmf(
                V, r, W=W0, H=H0, max_iter=args.plain_iter, tol=1e-10, escape=False
            )
        return res.relative_error, res.n_iter, time.perf_counter() - t
    if variant == "w-first":
        first = nm.nmf(V, r, W=W0, H=H0, update_H=False, max_iter=1, escape=False)
        W, H, extra = first.W, first.H, 1
    elif variant == "warm-up":
        with plain_hals():
            # a tolerance no fit meets: run all --warm-up iterations
            first = nm.nmf(
                V, r, W=W0, H=H0, max_iter=args.warm_up, tol=1e-300, escape=False
            )
        W, H, extra = first.W, first.H, first.n_iter
    res = nm.nmf(V, r, W=W, H=H, max_iter=3000, tol=1e-10, escape=False)
    return res.relative_error, res.n_iter + extra, time.perf_counter() - t


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--shape", type=int, nargs=2, default=(8000, 4000))
    p.add_argument("--rank", type=int, default=20)
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--cd-iter", type=int, default=3000)
    p.add_argument("--variants", default="neuronmf,w-first")
    p.add_argument("--warm-up", type=int, default=20)
    p.add_argument("--plain-iter", type=int, default=6000)
    p.add_argument(
        "--large",
        action="store_true",
        help="the benchmark's 20,000 × 10,000 rank-20 matrix instead of seeds",
    )
    args = p.parse_args()
    variants = args.variants.split(",")
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        p.error(f"--variants must be among {', '.join(VARIANTS)}; got {unknown}.")
    from bench_engine import residual_norm
    from sklearn.decomposition import NMF

    from neuronmf.engine.init import initialize

    warnings.simplefilter("ignore")
    for label, V, W, H in cases(args):
        r = W.shape[1]
        norm = np.linalg.norm(V.astype(np.float64))
        parts = [f"{label}: planted {residual_norm(V, W @ H) / norm:.6f}"]
        W0, H0 = initialize(V, r, "nndsvda", np.random.default_rng(0))
        for variant in variants:
            err, n_iter, secs = fit_variant(variant, V, W0, H0, args)
            parts.append(f"{variant} {err:.6f} ({n_iter} iterations, {secs:.1f} s)")
        if args.cd_iter:
            cd = NMF(r, solver="cd", init="custom", max_iter=args.cd_iter, tol=0.0)
            t = time.perf_counter()
            Wt = cd.fit_transform(
                V.T, W=np.ascontiguousarray(H0.T), H=np.ascontiguousarray(W0.T)
            )
            t_cd = time.perf_counter() - t
            err_cd = residual_norm(V, (Wt @ cd.components_).T) / norm
            parts.append(f"cd {err_cd:.6f} ({args.cd_iter} iterations, {t_cd:.1f} s)")
        print(" | ".join(parts), flush=True)


if __name__ == "__main__":
    main()
