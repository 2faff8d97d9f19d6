"""Labelled data (xarray.DataArray) in and out of the engine's matrix orientation."""

from __future__ import annotations

import numpy as np

from neuronmf.engine.chunked import is_dask
from neuronmf.errors import input_error


def is_dataarray(obj) -> bool:
    """True for an xarray.DataArray (checked without importing xarray)."""
    return type(obj).__name__ == "DataArray" and hasattr(obj, "dims")


class Labels:
    """Stacking of a labelled DataArray into a matrix, and unstacking of results.

    The one helper behind every function that accepts a DataArray of any dims
    with one sample dim (:func:`neuronmf.nmf`, :func:`neuronmf.project`,
    :func:`neuronmf.select_rank`): :meth:`from_data` stacks the other dims into
    features; :meth:`wrap_W` and :meth:`wrap_H` label the factors again.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.ones((2, 3, 5)), dims=("y", "x", "time"))
    >>> labels = Labels.from_data(da, "time")
    >>> labels.matrix.shape, labels.wrap_W(np.ones((6, 2))).dims
    ((6, 5), ('y', 'x', 'component'))
    """

    def __init__(self, data, sample_dim, feature_dims, stacked):
        self.data = data
        self.sample_dim = sample_dim
        self.feature_dims = feature_dims
        self.stacked = stacked  # (feature, sample) view of the data
        # a dask-backed DataArray stays lazy: the chunked path reads it block by block
        self.matrix = stacked.data if is_dask(stacked.data) else stacked.values

    @classmethod
    def from_data(cls, data, sample_dim: str) -> Labels:
        if sample_dim not in data.dims:
            raise input_error(
                "sample_dim",
                f"one of the data's dims {tuple(data.dims)}",
                sample_dim,
                "Pass sample_dim= naming the time/sample axis.",
            )
        feature_dims = [d for d in data.dims if d != sample_dim]
        if not feature_dims:
            raise input_error(
                "V.dims",
                f"at least one feature dim besides {sample_dim!r}",
                f"{tuple(data.dims)}",
            )
        if len(feature_dims) > 1:
            stacked = data.stack(feature=feature_dims).transpose("feature", sample_dim)
        else:
            stacked = data.transpose(feature_dims[0], sample_dim)
        return cls(data, sample_dim, feature_dims, stacked)

    def _feature_coords(self):
        return (
            self.stacked.drop_vars(
                [k for k, v in self.stacked.coords.items() if self.sample_dim in v.dims]
            )
            .isel({self.sample_dim: 0}, drop=True)
            .coords
        )

    def wrap_W(self, W):
        import xarray as xr

        fdim = self.stacked.dims[0]
        out = xr.DataArray(W, dims=(fdim, "component"), coords=self._feature_coords())
        out = out.assign_coords(component=np.arange(W.shape[1]))
        if len(self.feature_dims) > 1:
            out = out.unstack("feature").transpose(*self.feature_dims, "component")
        out.name = "W"
        return out

    def wrap_H(self, H):
        import xarray as xr

        coords = {
            k: v
            for k, v in self.stacked.coords.items()
            if self.sample_dim in v.dims and set(v.dims) == {self.sample_dim}
        }
        out = xr.DataArray(H, dims=("component", self.sample_dim), coords=coords)
        out = out.assign_coords(component=np.arange(H.shape[0]))
        out.name = "H"
        out.attrs = dict(self.data.attrs)
        return out

    def matrix_of_mask(self, mask):
        """A mask shaped like the labelled data, in the matrix orientation."""
        import xarray as xr

        if not is_dataarray(mask):
            arr = np.asarray(mask)
            if arr.shape != self.data.shape:
                raise input_error(
                    "mask.shape", f"the data's shape {self.data.shape}", f"{arr.shape}"
                )
            mask = xr.DataArray(arr, dims=self.data.dims)
        if set(mask.dims) != set(self.data.dims):
            raise input_error(
                "mask.dims", f"the data's dims {tuple(self.data.dims)}", f"{mask.dims}"
            )
        mask = mask.transpose(*self.data.dims)
        stacked = (
            mask.stack(feature=self.feature_dims)
            if len(self.feature_dims) > 1
            else mask
        )
        return stacked.transpose(self.stacked.dims[0], self.sample_dim).values

    def matrix_of_W(self, W):
        missing = [d for d in self.feature_dims if d not in W.dims]
        if missing or "component" not in W.dims:
            raise input_error(
                "W.dims",
                f"the data's feature dims {tuple(self.feature_dims)} plus 'component'",
                f"{tuple(W.dims)}",
            )
        W = W.transpose(*self.feature_dims, "component")
        if len(self.feature_dims) > 1:
            W = W.stack(feature=self.feature_dims).transpose("feature", "component")
        return W.values
