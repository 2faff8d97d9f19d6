"""The :class:`Simulation` every simulator returns, and their shared checks."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neuronmf.errors import input_error

_SIM_SUBJECT = (
    "Simulated data (neuronmf.datasets); no real subject. Sex and age are unknown "
    "by construction."
)


@dataclass
class Simulation:
    """A simulated recording with its ground truth.

    Attributes
    ----------
    data : xarray.DataArray
        The recording, labelled as the matching loader returns it.
    truth : xarray.Dataset
        The planted structure (synergies and activations, footprints and
        spikes, assembly membership and behaviour, ...).
    params : dict
        The simulator's arguments.
    behavior : xarray.DataArray or None
        A behavioural variable (assemblies only), as ``load_behavior`` returns it.
    """

    data: xr.DataArray
    truth: xr.Dataset
    params: dict[str, Any] = field(default_factory=dict)
    behavior: xr.DataArray | None = None
    _writer: Callable[[Any], None] | None = field(default=None, repr=False)

    def to_nwb(
        self, path: str | os.PathLike, *, overwrite: bool = False, **nwbfile_kwargs
    ) -> Path:
        """Write the simulation to a new NWB file (atomically).

        Parameters
        ----------
        path : path-like
            Destination ``.nwb`` file.
        overwrite : bool
            Replace ``path`` if it exists (otherwise an existing file is an error).
        **nwbfile_kwargs
            Extra ``pynwb.NWBFile`` fields (``session_start_time``,
            ``identifier``, ``experimenter``, ...).

        Returns
        -------
        pathlib.Path
        """
        from neuronmf.io.writers import unknown_subject, write_nwb_atomic

        path = Path(path)
        if path.exists() and not overwrite:
            raise input_error(
                "path",
                "a file that does not exist yet",
                str(path),
                "Choose another path or pass overwrite=True.",
            )
        kind = self.params.get("simulator", "simulation")
        nwbfile_kwargs.setdefault("subject", unknown_subject(_SIM_SUBJECT))
        nwbfile_kwargs.setdefault("keywords", ["neuronmf", "simulation"])
        nwbfile_kwargs.setdefault(
            "experiment_description",
            f"Synthetic data from neuronmf.datasets.{kind} with parameters "
            f"{self.params}.",
        )
        return write_nwb_atomic(
            path,
            self._writer,
            session_description=f"Simulated recording ({kind}, seed "
            f"{self.params.get('seed')}) with known ground truth.",
            overwrite=True,
            **nwbfile_kwargs,
        )


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise input_error(name, f"an integer >= {low}", value)
    if value < low:
        raise input_error(name, f"an integer >= {low}", value)
    return int(value)


def _check_pos(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise input_error(name, "a positive number", value) from None
    if not np.isfinite(v) or v <= 0:
        raise input_error(name, "a positive number", value)
    return v


def _names(base: list[str], n: int) -> list[str]:
    return base[:n] + [f"m{i + 1}" for i in range(len(base), n)]


def movie_array(Y: np.ndarray, dtype: str, rate: float, **attrs: Any) -> xr.DataArray:
    """Simulated frames as a labelled (time, y, x) movie.

    ``dtype="uint16"`` rounds and clips photon counts like a microscope (units
    ``"counts"``); ``"float32"`` keeps them (units ``"photons"``). ``attrs`` are
    added to ``rate`` and ``units``.

    Examples
    --------
    >>> m = movie_array(np.full((2, 3, 4), 7.4), "uint16", 10.0)
    >>> m.dims, str(m.dtype), int(m[0, 0, 0]), m.attrs["units"]
    (('time', 'y', 'x'), 'uint16', 7, 'counts')
    """
    if dtype == "uint16":
        Y = np.clip(np.rint(Y), 0, 65535).astype(np.uint16)
        units = "counts"
    else:
        Y = Y.astype(np.float32)
        units = "photons"
    T, ny, nx = Y.shape
    return xr.DataArray(
        Y,
        dims=("time", "y", "x"),
        coords={
            "time": np.arange(T, dtype=float) / rate,
            "y": np.arange(ny),
            "x": np.arange(nx),
        },
        name="movie",
        attrs={"rate": rate, "units": units, **attrs},
    )
