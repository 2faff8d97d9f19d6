"""What every NWB result writer shares: the atomic NWB file, names, time, provenance.

:func:`write_nwb_atomic` creates or extends an NWB file atomically (the one
atomic-write helper, :func:`neuronmf.io._atomic.atomic_path`, under
:func:`~neuronmf.io._atomic.file_lock`); the per-kind writers
(``_nwb_segmentation``, ``_nwb_factors``, ``_nwb_tables``) only add their
containers to the ``NWBFile`` it hands them.

Each neuronmf object's description ends with ``Provenance (JSON): {...}``
(:func:`provenance_text`) holding the neuronmf version, the result's kind and
attributes and the coordinates NWB has no place for; the readers rebuild the
Dataset from it (:func:`parse_provenance`).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neuronmf._provenance import version
from neuronmf.errors import input_error
from neuronmf.io._atomic import atomic_path, file_lock
from neuronmf.io._netcdf import _jsonable

__all__ = ["unknown_subject", "write_nwb_atomic"]

_PROV = "Provenance (JSON): "
_WRITER = "neuronmf.io.save_nwb"


def unknown_subject(description: str | None = None):
    """A pynwb ``Subject`` that says honestly that the subject is not known.

    DANDI and nwbinspector require a subject with sex and age; neuronmf does not
    invent them: ``subject_id="unknown"``, ``sex="U"`` (unknown) and the open age
    range ``"P0D/"`` (any age). Pass ``subject=`` to the writers to record the
    real one.
    """
    from pynwb.file import Subject

    return Subject(
        subject_id="unknown",
        sex="U",
        age="P0D/",
        description=description
        or "Subject not recorded by neuronmf; pass subject= to record it.",
    )


def _new_nwbfile(
    *,
    session_description: str,
    identifier: str | None,
    session_start_time: datetime | None,
    **kwargs: Any,
):
    from pynwb import NWBFile

    start = session_start_time or datetime.now(UTC)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    subject = kwargs.pop("subject", None)
    if subject is None:
        subject = unknown_subject()
    elif isinstance(subject, dict):
        from pynwb.file import Subject

        subject = Subject(**subject)
    kwargs.setdefault("keywords", ["neuronmf"])
    return NWBFile(
        subject=subject,
        session_description=session_description,
        identifier=identifier or str(uuid.uuid4()),
        session_start_time=start,
        **kwargs,
    )


def write_nwb_atomic(
    path: str | os.PathLike,
    add: Callable[[Any], Callable[[Any], None] | None],
    *,
    session_description: str = "Results computed with neuronmf.",
    identifier: str | None = None,
    session_start_time: datetime | None = None,
    overwrite: bool = False,
    size_hint: int | None = None,
    **nwbfile_kwargs: Any,
) -> Path:
    """Create or extend an NWB file atomically; ``add(nwbfile)`` adds the content.

    A new file gets ``session_description``, a random UUID ``identifier`` (unless
    given) and a timezone-aware ``session_start_time`` (now, UTC, unless given).
    An existing file is copied beside itself, opened in mode ``"a"``, extended and
    moved back over the original; with ``overwrite=True`` it is replaced by a new
    file instead. If anything fails the original is untouched.

    ``add`` may return a callable ``finish(h5file)``: it is called once pynwb has
    written and closed the file, with the (still temporary) file open in h5py
    mode ``"r+"``, to fill datasets too large to build in memory (the pixel masks
    of a large segmentation are streamed this way).

    The whole update (existence check, copy, extension, rename) holds an
    exclusive lock on ``path`` (:func:`neuronmf.io._atomic.file_lock`): a second
    process adding to the same file waits, then extends the first one's result,
    so neither is lost. ``size_hint`` (bytes about to be added) is checked
    against the free space before anything is written.
    """
    path = Path(path)
    with file_lock(path):  # held from the existence check to the rename
        return _write_nwb_locked(
            path,
            add,
            session_description=session_description,
            identifier=identifier,
            session_start_time=session_start_time,
            overwrite=overwrite,
            size_hint=size_hint,
            **nwbfile_kwargs,
        )


def _write_nwb_locked(
    path: Path,
    add: Callable[[Any], Callable[[Any], None] | None],
    *,
    session_description: str,
    identifier: str | None,
    session_start_time: datetime | None,
    overwrite: bool,
    size_hint: int | None,
    **nwbfile_kwargs: Any,
) -> Path:
    from pynwb import NWBHDF5IO

    append = path.exists() and not overwrite
    if append:
        import h5py

        if not h5py.is_hdf5(path):
            raise input_error(
                f"existing file {path}",
                "an NWB (HDF5) file to add results to",
                "a file that is not HDF5",
                "Choose another path, or pass overwrite=True to replace it.",
            )
    with atomic_path(path, copy_existing=append, size_hint=size_hint) as tmp:
        if append:
            with NWBHDF5IO(str(tmp), mode="a") as io:
                nwbfile = io.read()
                finish = add(nwbfile)
                io.write(nwbfile)
        else:
            nwbfile = _new_nwbfile(
                session_description=session_description,
                identifier=identifier,
                session_start_time=session_start_time,
                **nwbfile_kwargs,
            )
            finish = add(nwbfile)
            with NWBHDF5IO(str(tmp), mode="w") as io:
                io.write(nwbfile)
        if callable(finish):
            import h5py

            with h5py.File(tmp, "r+") as f:
                finish(f)
    return path


def free_name(container, base: str, explicit: bool, where: str) -> str:
    taken = set(container) if container is not None else set()
    if base not in taken:
        return base
    if explicit:
        raise input_error(
            f"name {base!r}",
            f"not yet used in {where}",
            f"existing names {sorted(taken)}",
            "Pass another name=.",
        )
    i = 2
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"


def time_axis(ds: xr.Dataset, var: str) -> dict[str, Any]:
    """rate/starting_time when the time coordinate is regular, else timestamps."""
    n = ds[var].sizes["time"]
    if "time" in ds.coords:
        t = np.asarray(ds["time"].values, dtype=float)
    else:
        rate = float(ds.attrs.get("rate", 1.0))
        return {"starting_time": 0.0, "rate": rate}
    if n >= 2:
        dt = np.diff(t)
        if np.all(dt > 0) and np.allclose(dt, dt.mean(), rtol=1e-9, atol=0):
            return {"starting_time": float(t[0]), "rate": float(1.0 / dt.mean())}
        return {"timestamps": t}
    rate = float(ds.attrs.get("rate", 1.0))
    return {"starting_time": float(t[0]) if n else 0.0, "rate": rate}


def provenance_text(
    ds: xr.Dataset, kind: str, extra: dict[str, Any], exclude: tuple[str, ...] = ()
) -> str:
    """``Provenance (JSON): {...}``; ``exclude``: coordinates stored elsewhere."""
    coords = {
        str(k): _jsonable(ds[k].values)
        for k in ds.coords
        if k != "time" and k not in exclude and ds[k].ndim == 1
    }
    info = {
        "writer": _WRITER,
        "neuronmf_version": version(),
        "kind": kind,
        "attrs": _jsonable(ds.attrs),
        "coords": coords,
        "dims": {str(k): list(map(str, ds[k].dims)) for k in ds.data_vars},
        **extra,
    }
    return _PROV + json.dumps(info, allow_nan=True)


def parse_provenance(description: str) -> dict[str, Any] | None:
    if not isinstance(description, str) or _PROV not in description:
        return None
    try:
        info = json.loads(description.split(_PROV, 1)[1])
    except json.JSONDecodeError:
        return None
    return info if info.get("writer") == _WRITER else None


def series_time(series) -> np.ndarray:
    n = series.data.shape[0]
    if series.timestamps is not None:
        return np.asarray(series.timestamps[:], dtype=float)
    return float(series.starting_time or 0.0) + np.arange(n) / float(series.rate)


def saved_coord(info: dict, dim: str, n: int) -> np.ndarray:
    values = info["coords"].get(dim)
    return np.asarray(values) if values is not None else np.arange(n)
