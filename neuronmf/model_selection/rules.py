"""How each rank-selection method chooses, in words: one wording per rule.

Used by :func:`neuronmf.model_selection.select_rank` and by the domains that
choose a rank with the same criteria (``synergies.extract``).
"""

from __future__ import annotations

RULES = {
    "cv": "smallest rank within one standard error of the minimum mean held-out "
    "error ({holdout:.0%} speckled hold-out in runs of {block}, {n_repeats} repeats)",
    "bicv": "smallest rank within one standard error of the minimum mean bi-cross-"
    "validation error (half the rows x half the columns held out, {n_repeats} "
    "repeats)",
    "vaf": "smallest rank with VAF >= {vaf_threshold} and every {feature}'s VAF >= "
    "{local_vaf_threshold} (uncentred VAF)",
    "curvefit": "smallest N whose R²(N..N_max) curve is fitted by a line with "
    "MSE < 1e-4 (centred R²)",
    "aic": "minimum Gaussian AIC (assumes independent residuals)",
    "bic": "minimum Gaussian BIC (assumes independent residuals)",
    "consensus": "largest rank whose cophenetic correlation of the consensus "
    "matrix over {n_repeats} random restarts is within 0.001 of the highest "
    "(ranks >= 2)",
    "stability": "lowest staNMF instability over {n_repeats} restarts and "
    "{n_repeats} block-bootstrap resamples (ranks >= 2)",
}


def rule_text(
    method: str,
    *,
    loss: str = "frobenius",
    feature: str = "feature",
    holdout: float = 0.1,
    block: int = 1,
    n_repeats: int = 5,
    vaf_threshold: float = 0.90,
    local_vaf_threshold: float = 0.75,
) -> str:
    """In words, how ``method`` chooses the rank with these settings.

    The one wording of each rule (:data:`RULES`), used by :func:`select_rank`
    and by the domains that choose a rank with the same criteria
    (``synergies.extract`` says ``feature="muscle"``).

    Examples
    --------
    >>> rule_text("vaf", feature="muscle")
    "smallest rank with VAF >= 0.9 and every muscle's VAF >= 0.75 (uncentred VAF)"
    """
    rule = RULES[method].format(
        feature=feature,
        holdout=holdout,
        block=block,
        n_repeats=n_repeats,
        vaf_threshold=vaf_threshold,
        local_vaf_threshold=local_vaf_threshold,
    )
    if method == "cv":  # name the score (issue 20): what "error" means for counts
        from neuronmf.engine.losses import get as loss_spec

        score = loss_spec(loss).score_name
        rule = rule.replace("held-out error", f"held-out {score} per entry")
    return rule
