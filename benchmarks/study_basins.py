"""Which solver ends lower on the large shape's generator, over several seeds?

The large shape of ``bench_engine.py`` (uniform random W and H, 10 % noise) has
many local minima. This one-off study fits smaller copies of it (default
8,000 × 4,000, rank 20, float32) from the same NNDSVDa init with neuronmf's
HALS (to its stopping rule, tol 1e-10) twice: as it runs (H updated first) and
after one W update from the init (W first, the order of scikit-learn's ``cd``
and of Gillis & Glineur's A-HALS), and with scikit-learn's ``cd`` (a fixed
number of iterations; ``--cd-iter 0`` skips it). It prints each final relative
error next to the error of the planted factors.

Run:  python benchmarks/study_basins.py [--shape 8000 4000] [--seeds 4] [--cd-iter 3000]
      python benchmarks/study_basins.py --large   (the benchmark's own large matrix)
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


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
    for seed in range(args.seeds):
        yield (f"seed {seed}", *planted(m, n, r, np.random.default_rng(seed)))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--shape", type=int, nargs=2, default=(8000, 4000))
    p.add_argument("--rank", type=int, default=20)
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--cd-iter", type=int, default=3000)
    p.add_argument(
        "--large",
        action="store_true",
        help="the benchmark's 20,000 × 10,000 rank-20 matrix instead of seeds",
    )
    args = p.parse_args()
    from bench_engine import residual_norm
    from sklearn.decomposition import NMF

    import neuronmf as nm
    from neuronmf.engine.init import initialize

    warnings.simplefilter("ignore")
    for label, V, W, H in cases(args):
        r = W.shape[1]
        norm = np.linalg.norm(V.astype(np.float64))
        err_planted = residual_norm(V, W @ H) / norm
        W0, H0 = initialize(V, r, "nndsvda", np.random.default_rng(0))
        t = time.perf_counter()
        ours = nm.nmf(V, r, W=W0, H=H0, max_iter=3000, tol=1e-10)
        t_ours = time.perf_counter() - t
        t = time.perf_counter()
        first = nm.nmf(V, r, W=W0, H=H0, update_H=False, max_iter=1)
        w_first = nm.nmf(V, r, W=first.W, H=first.H, max_iter=3000, tol=1e-10)
        t_w_first = time.perf_counter() - t
        line = (
            f"{label}: planted {err_planted:.6f} | neuronmf {ours.relative_error:.6f} "
            f"({ours.n_iter} iterations, {t_ours:.1f} s) | W first "
            f"{w_first.relative_error:.6f} ({w_first.n_iter + 1} iterations, "
            f"{t_w_first:.1f} s)"
        )
        if not args.cd_iter:
            print(line, flush=True)
            continue
        cd = NMF(r, solver="cd", init="custom", max_iter=args.cd_iter, tol=0.0)
        t = time.perf_counter()
        Wt = cd.fit_transform(
            V.T, W=np.ascontiguousarray(H0.T), H=np.ascontiguousarray(W0.T)
        )
        t_cd = time.perf_counter() - t
        err_cd = residual_norm(V, (Wt @ cd.components_).T) / norm
        print(
            f"{line} | cd {err_cd:.6f} ({args.cd_iter} iterations, {t_cd:.1f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
