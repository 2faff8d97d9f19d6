"""Private stand-in movie reader (until ``neuronmf.io.load_movie`` lands)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from neuronmf.errors import input_error


def load_movie(path) -> xr.DataArray:
    """(time, y, x) DataArray from a movie file (``neuronmf.io.load_movie`` first)."""
    import neuronmf.io as nio

    if hasattr(nio, "load_movie"):
        return nio.load_movie(path)
    path = Path(path)
    if not path.exists():
        raise input_error("movie path", "an existing file or folder", str(path))
    if path.is_dir():
        files = sorted(list(path.glob("*.tif")) + list(path.glob("*.tiff")))
        if not files:
            files = sorted(list((path / "images").glob("*.tif*")))
        if not files:
            raise input_error(
                f"folder {path}", "a folder of TIFF frames", "no .tif files"
            )
        import tifffile

        data = np.stack([tifffile.imread(f) for f in files])
    elif path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        data = tifffile.imread(path)
    elif path.suffix.lower() in (".h5", ".hdf5"):
        import dask.array as da
        import h5py

        f = h5py.File(path, "r")
        name = next(k for k in f if getattr(f[k], "ndim", 0) == 3)
        data = da.from_array(f[name], chunks=(f[name].shape[0], 256, 256))
    elif path.suffix.lower() == ".npy":
        data = np.load(path, mmap_mode="r")
    else:
        raise input_error("movie file", "a TIFF file/folder, HDF5 or .npy", str(path))
    return xr.DataArray(
        data, dims=("time", "y", "x"), name="movie", attrs={"source": str(path)}
    )


def load_truth_regions(folder, shape) -> np.ndarray:
    """Neurofinder ``regions/regions.json`` → (neuron, y, x) bool masks."""
    import json

    folder = Path(folder)
    regions = json.loads((folder / "regions" / "regions.json").read_text())
    masks = np.zeros((len(regions), *tuple(shape)), bool)
    for i, r in enumerate(regions):
        rc = np.asarray(r["coordinates"])
        ok = (rc[:, 0] < shape[0]) & (rc[:, 1] < shape[1])
        masks[i, rc[ok, 0], rc[ok, 1]] = True
    return masks
