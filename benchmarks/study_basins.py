"""Which solver ends lower on the large shape's generator, over several seeds?

The large shape of ``bench_engine.py`` (uniform random W and H, 10 % noise) has
many local minima. This one-off study fits smaller copies of it (default
8,000 × 4,000, rank 20, float32) from the same NNDSVDa init with neuronmf's
HALS (to its stopping rule, tol 1e-10) and scikit-learn's ``cd`` (a fixed
number of iterations), and prints each final relative error next to the error
of the planted factors.

Run:  python benchmarks/study_basins.py [--shape 8000 4000] [--seeds 4] [--cd-iter 3000]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--shape", type=int, nargs=2, default=(8000, 4000))
    p.add_argument("--rank", type=int, default=20)
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--cd-iter", type=int, default=3000)
    args = p.parse_args()
    from sklearn.decomposition import NMF

    import neuronmf as nm
    from neuronmf.engine.init import initialize

    warnings.simplefilter("ignore")
    (m, n), r = args.shape, args.rank
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        W = rng.random((m, r), dtype=np.float32)
        H = rng.random((r, n), dtype=np.float32)
        V = W @ H
        V += 0.1 * V.std() * rng.standard_normal(V.shape, dtype=np.float32)
        np.maximum(V, 0, out=V)
        norm = np.linalg.norm(V.astype(np.float64))
        planted = np.linalg.norm(V - W @ H) / norm
        W0, H0 = initialize(V, r, "nndsvda", np.random.default_rng(0))
        t = time.perf_counter()
        ours = nm.nmf(V, r, W=W0, H=H0, max_iter=3000, tol=1e-10)
        t_ours = time.perf_counter() - t
        cd = NMF(r, solver="cd", init="custom", max_iter=args.cd_iter, tol=0.0)
        t = time.perf_counter()
        Wt = cd.fit_transform(
            V.T, W=np.ascontiguousarray(H0.T), H=np.ascontiguousarray(W0.T)
        )
        t_cd = time.perf_counter() - t
        err_cd = np.linalg.norm(V - (Wt @ cd.components_).T) / norm
        print(
            f"seed {seed}: planted {planted:.6f} | neuronmf {ours.relative_error:.6f} "
            f"({ours.n_iter} iterations, {t_ours:.1f} s) | cd {err_cd:.6f} "
            f"({args.cd_iter} iterations, {t_cd:.1f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
