"""The result of a fit: :class:`NMFResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuronmf.engine import losses
from neuronmf.errors import input_error


@dataclass
class NMFResult:
    """The outcome of :func:`nmf`.

    Attributes
    ----------
    W : ndarray of shape (m, rank), or DataArray (feature dims..., "component")
        The parts, with unit-ℓ2 columns (zero columns stay zero).
    H : ndarray of shape (rank, n), or DataArray ("component", sample_dim)
        The activations, carrying the scale; components are sorted by the
        energy |w_k|²·|h_k|² they explain, largest first.
    loss_history : list of float
        The objective after each outer iteration of the kept restart:
        ½|V − WH|²_F + penalties for ``loss="frobenius"``. It includes escape
        rounds (see ``escape`` in :func:`nmf`), where it jumps up as locked
        components are re-seeded.
    n_iter : int
        Outer iterations run by the kept restart.
    converged : bool
        Whether the stopping rule was met (rather than ``max_iter`` or a callback).
    loss : float
        The best objective reached: the minimum of ``loss_history``, its last
        entry unless an escape round ended higher and was dropped.
    relative_error : float
        |V − WH|_F / |V|_F of the returned factors.
    vaf : float
        Variance accounted for, uncentred: 1 − |V − WH|²_F / |V|²_F.
    restart_losses : list of float
        Final objective of each restart; the best one was kept.
    params : dict
        The options used (loss, solver, init, rank, penalties, seed, ...), for
        provenance.
    """

    W: Any
    H: Any
    loss_history: list[float]
    n_iter: int
    converged: bool
    loss: float
    relative_error: float
    vaf: float
    restart_losses: list[float] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def heldout_loss(self, V, entries) -> float:
        """Mean loss of the fit on chosen entries of V, e.g. held-out ones.

        For cross-validation: fit with ``mask=train``, then score
        ``heldout_loss(V, ~train)``. Frobenius: mean squared error; KL: mean
        Poisson deviance 2·(v log(v/μ) − v + μ) of the prediction shrunk
        towards each row's mean rate on the other entries,
        μ = 0.7·(WH)_ij + 0.3·r_i (:func:`neuronmf.engine.losses.heldout_deviance`,
        the one held-out score of ``select_rank`` and ``assemblies.detect``).
        KL fits set many entries of W and H exactly to zero, and a held-out
        count v > 0 where the model predicts 0 has infinite deviance; the
        shrinkage keeps every prediction positive on the row's own scale.

        Parameters
        ----------
        V : array-like of shape (m, n)
            The data in the matrix orientation (features × samples).
        entries : bool array of shape (m, n)
            True where the loss is evaluated.

        Examples
        --------
        >>> import numpy as np, neuronmf as nm
        >>> rng = np.random.default_rng(0)
        >>> V = rng.random((10, 3)) @ rng.random((3, 60))
        >>> train = rng.random(V.shape) > 0.1
        >>> res = nm.nmf(V, 3, mask=train, seed=0, tol=1e-8)
        >>> bool(res.heldout_loss(V, ~train) < 1e-4)
        True
        """
        V = np.asarray(V, dtype=np.float64)
        entries = np.asarray(entries, dtype=bool)
        fitted = self.reconstruct()
        if entries.shape != V.shape or V.shape != fitted.shape:
            raise input_error(
                "V and entries",
                f"both of shape {fitted.shape}",
                f"{V.shape} and {entries.shape}",
            )
        if not entries.any():
            raise input_error("entries", "True on at least one entry", "none")
        spec = losses.get(self.params.get("loss", "frobenius"))
        return spec.heldout(V, fitted, ~entries)

    def reconstruct(self):
        """W·H (as an ndarray, in the matrix orientation features × samples)."""
        return np.asarray(self._matrix(self.W, "W")) @ np.asarray(
            self._matrix(self.H, "H")
        )

    def _matrix(self, F, which):
        if hasattr(F, "dims"):
            if which == "W":
                dims = [d for d in F.dims if d != "component"]
                return F.transpose(*dims, "component").values.reshape(
                    -1, F.sizes["component"]
                )
            return F.transpose("component", ...).values
        return F

    def __repr__(self) -> str:
        shape_W = getattr(self.W, "shape", None)
        shape_H = getattr(self.H, "shape", None)
        return (
            f"NMFResult(W{shape_W}, H{shape_H}, loss={self.loss:.6g}, "
            f"relative_error={self.relative_error:.4g}, vaf={self.vaf:.4f}, "
            f"n_iter={self.n_iter}, converged={self.converged})"
        )
