"""The result of a fit: :class:`NMFResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuronmf.engine import losses
from neuronmf.engine._heldout import HeldOut, heldout_loss
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
        V : array-like of shape (m, n), or scipy.sparse
            The data in the matrix orientation (features × samples). Sparse V
            is scored without densifying it or W·H.
        entries : bool array of shape (m, n), or HeldOut
            True where the loss is evaluated; for sparse V also a
            :class:`neuronmf.engine.HeldOut` (the entries it lists).

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
        import scipy.sparse as sp

        if sp.issparse(V):  # scored at the listed entries only (engine/_heldout)
            return self._sparse_heldout_loss(V, entries)
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

    def _sparse_heldout_loss(self, V, entries) -> float:
        """:meth:`heldout_loss` for ``scipy.sparse`` V (entries: HeldOut or bool)."""
        W, H = np.asarray(self.W), np.asarray(self.H)
        shape = (W.shape[0], H.shape[1])
        held = entries if isinstance(entries, HeldOut) else None
        if held is None:
            held = HeldOut.from_array(np.asarray(entries, dtype=bool))
        if held.shape != shape or V.shape != shape:
            raise input_error(
                "V and entries", f"both of shape {shape}", f"{V.shape} and {held.shape}"
            )
        if held.n_held == 0:
            raise input_error("entries", "True on at least one entry", "none")
        return heldout_loss(V, held, W, H, self.params.get("loss", "frobenius"))

    def to_dataset(self):
        """The result as one :class:`xarray.Dataset` (for ``nm.io.save_nwb``, ...).

        Variables:

        - ``W`` (feature dims..., ``"component"``) and ``H`` (``"component"``,
          sample dim): the factors as :func:`nmf` returned them. A fit on a
          DataArray keeps its labels (its feature dims, already unstacked back
          by the fit, their coordinates, the sample dim and its coordinates); a
          fit on an ndarray gets the dims ``("feature", "component")`` and
          ``("component", "sample")``.
        - ``loss_history`` (``"iteration"``, numbered from 1) and
          ``restart_losses`` (``"restart"``).
        - 0-D: ``loss`` (the objective value), ``relative_error``, ``vaf``,
          ``n_iter`` and ``converged``.

        Attributes: the ones every result carries
        (:func:`neuronmf._provenance.result_attrs`): ``neuronmf_kind="nmf"``,
        ``neuronmf_version``, ``params`` (JSON), ``seed`` (``"none"`` when no
        seed was given, ``"generator"`` for a numpy Generator), and ``loss`` and
        ``solver`` naming the loss function and the solver (the objective
        *value* is the variable ``loss``). :meth:`from_dataset` reads it back.

        Examples
        --------
        >>> import numpy as np, neuronmf as nm
        >>> rng = np.random.default_rng(0)
        >>> V = rng.random((10, 3)) @ rng.random((3, 60))
        >>> res = nm.nmf(V, 3, seed=0)
        >>> ds = res.to_dataset()
        >>> ds["W"].dims, ds["H"].dims, ds.attrs["neuronmf_kind"], ds.attrs["seed"]
        (('feature', 'component'), ('component', 'sample'), 'nmf', 0)
        >>> back = nm.NMFResult.from_dataset(ds)
        >>> bool(np.array_equal(back.W, res.W)), back.n_iter == res.n_iter
        (True, True)
        """
        import xarray as xr

        from neuronmf._provenance import result_attrs

        def labelled(F, dims, name):
            if hasattr(F, "dims"):
                return F.rename(name)
            F = np.asarray(F)
            k = F.shape[dims.index("component")]
            return xr.DataArray(
                F, dims=dims, coords={"component": np.arange(k)}, name=name
            )

        history = np.asarray(self.loss_history, dtype=np.float64)
        restarts = np.asarray(self.restart_losses, dtype=np.float64)
        ds = xr.Dataset(
            {
                "W": labelled(self.W, ("feature", "component"), "W"),
                "H": labelled(self.H, ("component", "sample"), "H"),
                "loss_history": xr.DataArray(
                    history,
                    dims="iteration",
                    coords={"iteration": np.arange(1, history.size + 1)},
                ),
                "restart_losses": xr.DataArray(restarts, dims="restart"),
                "loss": float(self.loss),
                "relative_error": float(self.relative_error),
                "vaf": float(self.vaf),
                "n_iter": int(self.n_iter),
                "converged": bool(self.converged),
            }
        )
        params = dict(self.params)
        seed = params.get("seed")
        if seed is not None and not isinstance(seed, int | np.integer):
            seed = "generator"  # the fit recorded a Generator's repr
        ds.attrs = result_attrs(
            "nmf",
            params=params,
            seed=seed,
            loss=params.get("loss"),
            solver=params.get("solver"),
        )
        return ds

    @classmethod
    def from_dataset(cls, ds) -> NMFResult:
        """The :class:`NMFResult` a :meth:`to_dataset` Dataset holds.

        ``W`` and ``H`` come back as ndarrays when their dims are the unlabelled
        ones (``("feature", "component")``, ``("component", "sample")``) and
        the feature/sample dims carry no coordinates, as DataArrays otherwise.
        ``params`` is parsed back from its JSON.
        """
        from neuronmf._provenance import params_of

        need = ("W", "H", "loss_history", "loss", "relative_error", "vaf")
        missing = [k for k in need if k not in ds.variables]
        kind = ds.attrs.get("neuronmf_kind", "nmf")
        if missing or kind != "nmf":
            raise input_error(
                "ds",
                "an NMF result Dataset (from NMFResult.to_dataset())",
                f"a Dataset without {missing}" if missing else f"kind {kind!r}",
            )

        def factor(name, plain):
            F = ds[name]
            extra = [d for d in F.dims if d != "component" and d in F.coords]
            if tuple(F.dims) == plain and not extra:
                return F.values
            return F

        restarts = ds["restart_losses"].values if "restart_losses" in ds else []
        return cls(
            W=factor("W", ("feature", "component")),
            H=factor("H", ("component", "sample")),
            loss_history=[float(x) for x in ds["loss_history"].values],
            n_iter=int(ds["n_iter"]) if "n_iter" in ds else ds.sizes["iteration"],
            converged=bool(ds["converged"]) if "converged" in ds else False,
            loss=float(ds["loss"]),
            relative_error=float(ds["relative_error"]),
            vaf=float(ds["vaf"]),
            restart_losses=[float(x) for x in restarts],
            params=params_of(ds.attrs),
        )

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
