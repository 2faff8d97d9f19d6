"""Joint NMF: several matrices that share one factor.

``shared="W"``: matrices with the same features (e.g. the same muscles recorded in
several sessions or people) share the parts W and keep their own activations.
``shared="H"``: matrices recorded together over the same samples (e.g. EMG and
kinematics, imaging and behaviour) share the activations H and keep their own
parts.

With weights ω_b the objective is Σ_b ω_b · loss(V_b, W_b H_b) + penalties. It is
solved exactly as one NMF of the concatenated, rescaled matrix: for Frobenius,
ω‖V − WH‖² = ‖√ω V − W (√ω H)‖²; for KL, ω D(V‖WH) = D(ωV ‖ W (ωH)), since the
generalised KL divergence is homogeneous of degree one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuronmf.engine import _validation as check
from neuronmf.engine import losses
from neuronmf.engine.api import nmf
from neuronmf.engine.result import NMFResult
from neuronmf.errors import InputError, input_error


@dataclass
class JointNMFResult:
    """Outcome of :func:`joint_nmf`.

    Attributes
    ----------
    W : list of ndarray
        Parts per matrix (all the same array when ``shared="W"``).
    H : list of ndarray
        Activations per matrix (all the same array when ``shared="H"``).
    shared : {"W", "H"}
    weights : ndarray
    result : NMFResult
        The fit of the concatenated problem (loss history, convergence, ...).
    loss : float
        The weighted objective.
    block_losses : list of float
        Each matrix's own unweighted data loss at the solution.
    """

    W: list[np.ndarray]
    H: list[np.ndarray]
    shared: str
    weights: np.ndarray
    result: NMFResult
    loss: float
    block_losses: list[float] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)


def joint_nmf(
    matrices: Sequence,
    rank: int,
    *,
    shared: str = "W",
    weights: Sequence[float] | None = None,
    masks: Sequence | None = None,
    loss: str = "frobenius",
    **options,
) -> JointNMFResult:
    """Factorise several matrices with a shared W (or a shared H).

    Parameters
    ----------
    matrices : sequence of array-like, each (m_b, n_b)
        With ``shared="W"`` all must have the same number of rows (features);
        with ``shared="H"`` the same number of columns (samples).
    rank : int
    shared : {"W", "H"}
    weights : sequence of float > 0, optional
        Weight of each matrix's loss (default: all 1).
    masks : sequence of bool arrays or None, optional
        Observation masks per matrix (None for fully observed ones).
    loss : {"frobenius", "kl"}
    **options
        Passed to :func:`neuronmf.nmf` (solver, init, penalties, seed, ...).

    Returns
    -------
    JointNMFResult

    Examples
    --------
    >>> import numpy as np, neuronmf as nm
    >>> rng = np.random.default_rng(0)
    >>> W = rng.random((8, 2))
    >>> Vs = [W @ rng.random((2, 50)) for _ in range(3)]
    >>> res = nm.joint_nmf(Vs, 2, shared="W", seed=0)
    >>> len(res.H), res.W[0].shape, [h.shape for h in res.H]
    (3, (8, 2), [(2, 50), (2, 50), (2, 50)])
    """
    if shared not in ("W", "H"):
        raise input_error("shared", "'W' or 'H'", repr(shared))
    spec = losses.get(loss)
    if spec.beta <= 0:
        raise input_error(
            "loss",
            "a loss that scaling weighs (β > 0)",
            repr(loss),
            "A β ≤ 0 divergence (Itakura–Saito) ignores a block's scale, so "
            "weights cannot enter by scaling; use loss='kl' or 'frobenius'.",
        )
    if isinstance(matrices, np.ndarray) or len(matrices) < 1:
        raise input_error("matrices", "a list of 2-D arrays", type(matrices).__name__)
    arrays = [np.asarray(V) for V in matrices]
    for b, V in enumerate(arrays):
        if V.ndim != 2:
            raise input_error(f"matrices[{b}].ndim", "2", V.ndim)
    axis = 1 if shared == "W" else 0
    common = 0 if shared == "W" else 1
    sizes = [V.shape[common] for V in arrays]
    if len(set(sizes)) != 1:
        what = "rows (features)" if shared == "W" else "columns (samples)"
        raise input_error(
            f"the matrices' {what}", f"equal when shared={shared!r}", f"{sizes}"
        )
    if weights is None:
        w = np.ones(len(arrays))
    else:
        wa = np.asarray(weights, dtype=object)
        if wa.shape != (len(arrays),):
            raise input_error(
                "weights", f"{len(arrays)} finite numbers > 0", repr(weights)
            )
        try:  # numbers only: "2" or True are refused, not cast
            w = np.array([check.check_real("w", x, 0.0, strict=True) for x in wa])
        except InputError:
            raise input_error(
                "weights", f"{len(arrays)} finite numbers > 0", repr(list(wa))
            ) from None
    if masks is not None and len(masks) != len(arrays):
        raise input_error("masks", f"a list of {len(arrays)} masks or None", len(masks))
    # scale of each block in the concatenation (see the module docstring)
    # D(cV‖cWH) = c^β D(V‖WH): a block weighted by ω is scaled by ω^(1/β)
    scale = {1.0: w, 2.0: np.sqrt(w)}.get(spec.beta, w ** (1.0 / spec.beta))
    blocks = []
    mask_blocks = []
    for b, V in enumerate(arrays):
        mb = None if masks is None or masks[b] is None else np.asarray(masks[b])
        if mb is not None and mb.shape != V.shape:
            raise input_error(f"masks[{b}].shape", f"{V.shape}", f"{mb.shape}")
        if mb is not None and mb.dtype != np.bool_:
            # never cast: a float mask of 0.5s or NaNs would silently read as True
            raise input_error(
                f"masks[{b}].dtype",
                "bool (True = observed)",
                str(mb.dtype),
                "Build it with a comparison, e.g. ~np.isnan(V) or m > 0.5, "
                "or convert an exact 0/1 array with m.astype(bool).",
            )
        check.data_matrix(V, f"matrices[{b}]", mask=mb)
        Vb = np.asarray(V, dtype=np.result_type(V.dtype, np.float32))
        if mb is not None:
            Vb = np.where(mb, Vb, 0)
        blocks.append(Vb * Vb.dtype.type(scale[b]))
        mask_blocks.append(np.ones(V.shape, bool) if mb is None else mb)
    V_all = np.concatenate(blocks, axis=axis)
    mask_all = None
    if masks is not None and any(m is not None for m in masks):
        mask_all = np.concatenate(mask_blocks, axis=axis)
    result = nmf(V_all, rank, loss=spec.name, mask=mask_all, **options)
    edges = np.cumsum([0] + [V.shape[axis] for V in arrays])
    Ws, Hs = [], []
    for b in range(len(arrays)):
        part = slice(edges[b], edges[b + 1])
        if shared == "W":
            Ws.append(result.W)
            Hs.append(result.H[:, part] / result.H.dtype.type(scale[b]))
        else:
            Ws.append(result.W[part] / result.W.dtype.type(scale[b]))
            Hs.append(result.H)
    block_losses = [
        spec.divergence(np.asarray(V, np.float64), Wb @ Hb, mask_blocks[b])
        for b, (V, Wb, Hb) in enumerate(zip(arrays, Ws, Hs, strict=True))
    ]
    return JointNMFResult(
        W=Ws,
        H=Hs,
        shared=shared,
        weights=w,
        result=result,
        loss=result.loss,
        block_losses=block_losses,
        params={**result.params, "shared": shared, "weights": w.tolist()},
    )
