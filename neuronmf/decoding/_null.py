"""The null distribution of decoding: the behaviour shifted against the activity.

Each repetition re-runs the whole GLM search (rank and penalty re-chosen in the
inner loop) on a behaviour circularly shifted among the scored bins (by at
least a tenth of them), or, for trials, permuted across the scored trials
(trials are exchangeable). NMF features do not depend on the behaviour, so the
null reuses them and its designs.
"""

from __future__ import annotations

import numpy as np

from neuronmf.decoding._result import _nanmean

__all__ = ["null_distribution"]


def null_distribution(search, data, opts) -> tuple[list[float], int]:
    """(mean test score of each repetition, number of undefined fold scores)."""
    rng = np.random.default_rng(opts.seed)
    null, undefined = [], 0
    repetitions = range(opts.n_null)
    if opts.progress and opts.n_null:
        from tqdm.auto import tqdm

        repetitions = tqdm(repetitions, desc="decode: null", unit="shift")
    yv, use = data.yv, data.use
    nu = use.size
    for i in repetitions:
        yy = yv.copy()
        if data.trial_mode:  # trials are exchangeable: permute the labels
            yy[use] = rng.permutation(yv[use])
        else:  # circular shift of the scored bins against the activity
            lo, hi = nu // 10 + 1, nu - nu // 10
            shift = int(rng.integers(lo, hi)) if nu > 20 else 1 + i
            yy[use] = np.roll(yv[use], shift)
        scores = search.run(yy, keep_predictions=False).scores
        undefined += int(np.sum(~np.isfinite(scores)))
        null.append(_nanmean(scores))
    return null, undefined
