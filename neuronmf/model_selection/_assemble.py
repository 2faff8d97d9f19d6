"""Gathering the per-rank results of a scan into its scores and choices.

:func:`_assemble` turns what :func:`neuronmf.model_selection._fits._scan_rank`
returned at each rank into the scan's ``scores`` Dataset and the rank each
criterion chooses; the rules themselves live in
:mod:`neuronmf.model_selection.criteria`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuronmf.model_selection import criteria as crit

# Brunet et al. take the rank after which the cophenetic correlation falls; on
# clean data several ranks tie at ~1, so the largest rank within this of the top.
COPHENETIC_TOLERANCE = 1e-3


def _data_sums(V) -> tuple[np.ndarray, float]:
    """Σ_j V²_ij per row and Σ V (one pass for a dask V)."""
    import scipy.sparse as sp

    from neuronmf.engine.chunked import is_dask

    if sp.issparse(V):
        V = sp.csr_array(V)
        return np.asarray(V.multiply(V).sum(axis=1)).ravel(), float(V.sum())
    if is_dask(V):
        import dask

        row_norm2, total = dask.compute((V**2).sum(axis=1), V.sum())
        return np.asarray(row_norm2), float(total)
    return np.sum(V**2, axis=1), float(V.sum())


@dataclass
class _Assembled:
    scores: Any
    choices: dict[str, int]


def _assemble(results, ranks, V, wanted, labels, settings) -> _Assembled:
    import xarray as xr

    m, n = V.shape
    rss = np.array([res["rss"] for res in results])
    row_rss = np.array([res["row_rss"] for res in results])
    row_norm2, total = _data_sums(V)
    vaf, r2, vaf_local = crit.vaf_curves(rss, row_rss, row_norm2, total, m * n)
    aic, bic = crit.gaussian_information_criteria(rss, ranks, m, n)
    feature = np.arange(m)
    if labels is not None and len(labels.feature_dims) == 1:
        feature = labels.stacked[labels.feature_dims[0]].values
    data: dict[str, Any] = {
        "rss": ("rank", rss),
        "vaf": ("rank", vaf),
        "r2": ("rank", r2),
        "vaf_local": (("rank", "feature"), vaf_local),
        "aic": ("rank", aic),
        "bic": ("rank", bic),
    }
    choices = {
        "vaf": crit.vaf_rank(
            vaf,
            vaf_local,
            ranks,
            settings["vaf_threshold"],
            settings["local_vaf_threshold"],
        ),
        "curvefit": crit.curvefit_rank(r2, ranks),
        "aic": int(ranks[np.argmin(aic)]),
        "bic": int(ranks[np.argmin(bic)]),
    }
    for name in ("cv", "bicv"):
        if name in wanted:
            err = np.array([res[name] for res in results])
            count = err.shape[1]
            se = (
                err.std(axis=1, ddof=1) / np.sqrt(count)
                if count > 1
                else np.zeros(len(ranks))
            )
            data[f"{name}_error"] = (("rank", "repeat"), err)
            data[f"{name}_mean"] = ("rank", np.nanmean(err, axis=1))
            data[f"{name}_se"] = ("rank", se)
            choices[name] = crit.one_se_rank(err, ranks)
    for name in ("aic", "bic", "cv", "bicv"):  # minimum-based rules
        if name in choices and len(ranks) > 1 and choices[name] == int(ranks[-1]):
            crit._ceiling_warning(  # the score may fall further above the scan
                name, ranks, f"a minimum inside the scan (lowest {name} at its top)"
            )
    multi = ranks >= 2 if np.any(ranks >= 2) else np.ones(len(ranks), bool)
    if "consensus" in wanted:
        coph = np.array([res["cophenetic"] for res in results])
        data["cophenetic"] = ("rank", coph)
        data["dispersion"] = ("rank", np.array([res["dispersion"] for res in results]))
        scored = np.where(multi & np.isfinite(coph), coph, -np.inf)
        near_top = scored >= scored.max() - COPHENETIC_TOLERANCE
        choices["consensus"] = int(ranks[np.flatnonzero(near_top)[-1]])
    if "stability" in wanted:
        inst = np.array([res["instability"] for res in results])
        data["instability"] = ("rank", inst)
        data["restart_cosine"] = (
            ("rank", "repeat"),
            np.array([res["restart_cosine"] for res in results]),
        )
        data["bootstrap_cosine"] = (
            ("rank", "repeat"),
            np.array([res["bootstrap_cosine"] for res in results]),
        )
        r_max = int(ranks.max())
        for key in ("W_unit", "W_low", "W_high"):
            padded = np.full((len(ranks), m, r_max), np.nan)
            for a, res in enumerate(results):
                padded[a, :, : res[key].shape[1]] = res[key]
            data[key] = (("rank", "feature", "component"), padded)
        scored = np.where(multi & np.isfinite(inst), inst, np.inf)
        choices["stability"] = int(ranks[np.argmin(scored)])
    coords: dict[str, Any] = {"rank": ranks, "feature": feature}
    n_rep = settings["n_repeats"]
    if any(v[0] == ("rank", "repeat") for v in data.values()):
        coords["repeat"] = np.arange(n_rep)
    if "stability" in wanted:
        coords["component"] = np.arange(int(ranks.max()))
    scores = xr.Dataset(
        data,
        coords=coords,
        attrs={
            "holdout": float(settings["holdout"]),
            "block": int(settings["block"]),
            "n_repeats": int(n_rep),
            "criteria": json.dumps(list(wanted)),
            "vaf_kind": "uncentred VAF for the vaf rule; centred R² for curvefit",
        },
    )
    return _Assembled(scores=scores, choices=choices)
