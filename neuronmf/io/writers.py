"""Write result Datasets to NetCDF and NWB, and read them back.

Every write is atomic: the output is built in a temporary file in the destination
folder and moved over the destination with :func:`os.replace` only once complete
(the one helper, :func:`neuronmf.io._atomic.atomic_path`), so a crash never
leaves a half-written file where a good one was. Adding a result to an existing
NWB file works on a copy of it; the original is replaced only when the copy has
been written successfully, and survives any failure untouched.

NetCDF (:mod:`neuronmf.io._netcdf`) is the full-fidelity format: every variable,
coordinate and attribute of a result round-trips. Attribute values NetCDF
cannot hold (``dict``, ``list``, ``tuple``, ``bool``, ``None``) are stored as
JSON strings and decoded on reading; the names of those attributes are recorded
in the attribute ``_neuronmf_json``.

NWB: :func:`save_nwb` hands the result to the writer of its kind, chosen in
:data:`NWB_KINDS` by the result's ``neuronmf_kind`` attribute (written by
:func:`neuronmf._provenance.result_attrs`); :func:`load_result` reads it back with
the reader beside that writer. One module per kind holds both, with the layout
it writes:

- ``"segmentation"``: :mod:`neuronmf.io._nwb_segmentation` (``ophys``
  ``PlaneSegmentation`` with image or pixel masks, ``RoiResponseSeries``);
- ``"synergies"``, ``"assemblies"``: :mod:`neuronmf.io._nwb_factors` (a
  ``"loadings"`` table and an ``"activations"`` ``TimeSeries``);
- ``"decoding"``: :mod:`neuronmf.io._nwb_decoding` (``DecodedBehavior`` series,
  one table per other dimension);
- every other kind (``"rank_scan"``, ``"nmf"``, ...):
  :mod:`neuronmf.io._nwb_tables` (per-time variables as ``TimeSeries``, the
  others as one table per dimension; every variable, dtype and attribute
  round-trips).

A Dataset without ``neuronmf_kind`` (written before the attribute existed, or
built by hand) falls back to a guess from its variable names (:func:`_kind`:
``footprints`` + ``traces``, ``synergies`` + ``activations``, ``membership`` +
``activations``, ``predictions`` + ``behavior``); the guess is used only then.

Each neuronmf object's description ends with ``Provenance (JSON): {...}`` holding
the neuronmf version, the result's kind and attributes and the coordinates NWB
has no place for; :func:`load_result` uses it to rebuild the Dataset.

To add an NWB layout for a new kind: write ``add_<kind>`` and ``read_<kind>`` in
a module ``_nwb_<kind>.py`` and add a row to :data:`NWB_KINDS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import xarray as xr

from neuronmf.errors import input_error
from neuronmf.io._netcdf import (  # noqa: F401  (re-exported: the public paths)
    _DATAARRAY_FLAG,
    _JSON_ATTRS,
    NETCDF_IN_MEMORY_MAX_BYTES,
    _check_result,
    _decode_attrs,
    _encode_attrs,
    _jsonable,
    _load_netcdf,
    _netcdf_encoding,
    save_netcdf,
)
from neuronmf.io._nwb_decoding import add_decoding, read_decoding
from neuronmf.io._nwb_factors import LOADINGS, add_factors, read_factors
from neuronmf.io._nwb_file import (  # noqa: F401  (re-exported)
    _PROV,
    parse_provenance,
    unknown_subject,
    write_nwb_atomic,
)
from neuronmf.io._nwb_registration import add_registration, read_registration
from neuronmf.io._nwb_segmentation import (  # noqa: F401  (re-exported)
    _PIXEL_CHUNK_ROWS,
    _PIXEL_FLUSH_BYTES,
    DENSE_FOOTPRINTS_READ_MAX_BYTES,
    DENSE_IMAGE_MASK_MAX_BYTES,
    _pixel_mask_dtype,
    _PixelMaskSink,
    add_segmentation,
    read_segmentation,
    segmentation_size_hint,
)
from neuronmf.io._nwb_tables import add_tables_result, read_tables

__all__ = [
    "NWB_KINDS",
    "load_result",
    "result_kind",
    "save_netcdf",
    "save_nwb",
    "unknown_subject",
    "write_nwb_atomic",
]


@dataclass(frozen=True)
class NwbKind:
    """How one kind of result is written to and read from NWB.

    ``add(nwbfile, ds, kind, name, source)`` adds the result (and may return a
    ``finish(h5file)``, see :func:`write_nwb_atomic`); ``read(container, module,
    provenance)`` rebuilds it; ``required``: the variables the writer needs.
    """

    required: tuple[str, ...]
    add: Callable[..., Callable[[Any], None] | None]
    read: Callable[[Any, Any, dict], xr.Dataset]


def _segmentation_add(nwbfile, ds, kind, name, source):
    return add_segmentation(nwbfile, ds, name, source)


def _decoding_add(nwbfile, ds, kind, name, source):
    return add_decoding(nwbfile, ds, name, source)


#: ``neuronmf_kind`` → its NWB writer and reader. Kinds not listed here are
#: written by :data:`NWB_OTHER_KIND` (tables and series).
NWB_KINDS: dict[str, NwbKind] = {
    "segmentation": NwbKind(
        ("footprints", "traces"),
        _segmentation_add,
        lambda container, module, info: read_segmentation(container, module, info),
    ),
    **{
        kind: NwbKind(
            (loading, "activations"),
            add_factors,
            lambda container, module, info: read_factors(module, info),
        )
        for kind, (loading, _) in LOADINGS.items()
    },
    "decoding": NwbKind(
        ("predictions", "behavior"),
        _decoding_add,
        lambda container, module, info: read_decoding(module, info),
    ),
    "registration": NwbKind(
        ("corrected", "shifts"),
        add_registration,
        lambda container, module, info: read_registration(module, info),
    ),
}
#: Writer and reader of every kind without its own NWB layout.
NWB_OTHER_KIND = NwbKind(
    (), add_tables_result, lambda container, module, info: read_tables(module, info)
)


def _kind(ds: xr.Dataset) -> str:
    v = set(ds.data_vars)
    if {"footprints", "traces"} <= v:
        return "segmentation"
    if {"synergies", "activations"} <= v:
        return "synergies"
    if {"membership", "activations"} <= v:
        return "assemblies"
    if {"predictions", "behavior"} <= v:
        return "decoding"
    raise input_error(
        "result",
        "a segmentation (footprints, traces), synergy (synergies, activations), "
        "assembly (membership, activations) or decoding (predictions, behavior) "
        "Dataset",
        f"variables {sorted(v)}",
        "Pass a Dataset returned by imaging.segment, synergies.extract, "
        "assemblies.detect or decoding.decode(...).to_dataset(), or save it with "
        "save_netcdf instead.",
    )


def result_kind(ds: xr.Dataset) -> str:
    """The kind of result ``ds`` is: its ``neuronmf_kind`` attribute.

    Datasets without it (files written before it existed, Datasets built by
    hand) fall back to a guess from the variable names (:func:`_kind`), which
    raises :class:`~neuronmf.errors.InputError` when nothing fits.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"rss": ("rank", np.ones(3))},
    ...                 attrs={"neuronmf_kind": "rank_scan"})
    >>> result_kind(ds)
    'rank_scan'
    """
    kind = ds.attrs.get("neuronmf_kind")
    if isinstance(kind, str) and kind:
        return kind
    return _kind(ds)


def _nwb_kind(ds: xr.Dataset) -> tuple[str, NwbKind]:
    """The kind of ``ds`` and its NWB writer, its variables checked."""
    kind = result_kind(ds)
    spec = NWB_KINDS.get(kind, NWB_OTHER_KIND)
    missing = [v for v in spec.required if v not in ds.data_vars]
    if missing:
        raise input_error(
            f"result of kind {kind!r} (attribute neuronmf_kind)",
            f"a Dataset with the variables {', '.join(spec.required)}",
            f"variables {sorted(map(str, ds.data_vars))}",
            "Pass the Dataset the neuronmf function returned, unchanged, or "
            "save it with save_netcdf instead.",
        )
    return kind, spec


def save_nwb(
    result: xr.Dataset,
    path: str | os.PathLike,
    *,
    source: str | os.PathLike | None = None,
    name: str | None = None,
    session_description: str = "Results computed with neuronmf.",
    identifier: str | None = None,
    session_start_time: datetime | None = None,
    subject: Any = None,
    overwrite: bool = False,
    **nwbfile_kwargs: Any,
) -> Path:
    """Write a neuronmf result (segmentation, synergies, decoding, ...) into NWB.

    Parameters
    ----------
    result : xarray.Dataset
        A result Dataset. Its kind is its ``neuronmf_kind`` attribute (every
        neuronmf result carries it), which picks the writer in
        :data:`NWB_KINDS`: ``"segmentation"`` (``footprints`` + ``traces``),
        ``"synergies"`` (``synergies`` + ``activations``), ``"assemblies"``
        (``membership`` + ``activations``), ``"decoding"`` (``predictions`` +
        ``behavior``, from ``DecodingResult.to_dataset()``); any other kind
        (``"rank_scan"``, ``"nmf"``, ...) is written as tables and series. A
        Dataset without ``neuronmf_kind`` falls back to a guess from those
        variable names. The layout of each kind is described in the module
        docstring of :mod:`neuronmf.io.writers`; decoding results and the
        tables-and-series kinds round-trip exactly (every variable,
        coordinate, dtype and attribute). Segmentation footprints larger than
        :data:`DENSE_IMAGE_MASK_MAX_BYTES` as dense float64, or given as a dask
        array (as :func:`neuronmf.imaging.segment` returns them above 1 GiB),
        are written as NWB pixel masks one neuron (or dask chunk) at a time,
        never all dense in memory.
    path : path-like
        NWB file. A new file is created; an existing one is extended (on a copy
        that replaces it only once written, so a failure leaves it intact).
    source : path-like, optional
        The input file the result was computed from, recorded as provenance.
    name : str, optional
        Name of the PlaneSegmentation (imaging) or processing module (every
        other kind). Defaults to ``"PlaneSegmentation"`` or the kind
        (``"synergies"``, ``"decoding"``, ``"rank_scan"``, ...), suffixed
        ``_2``, ``_3`` ... when taken. An explicit name that is taken is an
        error.
    session_description, identifier, session_start_time
        Used when a new file is created (identifier: a random UUID;
        start time: now, UTC; a naive datetime is taken as UTC).
    subject : pynwb.file.Subject or dict, optional
        Subject of a new file. Default: a subject marked unknown (id
        ``"unknown"``, sex ``"U"``, age ``"P0D/"``), never invented values.
    overwrite : bool
        Replace an existing file instead of adding to it.
    **nwbfile_kwargs
        Further ``pynwb.NWBFile`` fields for a new file (``experimenter``,
        ``institution``, ``lab``, ``keywords``, ...).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray as xr
    >>> ds = xr.Dataset(
    ...     {"synergies": (("muscle", "synergy"), np.random.rand(4, 2)),
    ...      "activations": (("synergy", "time"), np.random.rand(2, 50))},
    ...     coords={"muscle": ["TA", "SO", "GM", "VL"], "time": np.arange(50) / 100})
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "res.nwb"
    >>> _ = save_nwb(ds, p)
    >>> back = load_result(p)
    >>> back["muscle"].values.tolist(), back["activations"].shape
    (['TA', 'SO', 'GM', 'VL'], (2, 50))
    """
    ds = _check_result(result)
    kind, spec = _nwb_kind(ds)

    def add(nwbfile) -> Callable[[Any], None] | None:
        return spec.add(nwbfile, ds, kind, name, source)

    return write_nwb_atomic(
        path,
        add,
        session_description=session_description,
        identifier=identifier,
        session_start_time=session_start_time,
        overwrite=overwrite,
        size_hint=_nwb_size_hint(ds, kind),
        subject=subject,
        **nwbfile_kwargs,
    )


def _nwb_size_hint(ds: xr.Dataset, kind: str) -> int:
    """Bytes an NWB write of ``ds`` needs at least (its data as stored)."""
    if kind == "segmentation":
        return segmentation_size_hint(ds)
    return sum(int(v.nbytes) for v in ds.data_vars.values())


def _nwb_results(nwbfile) -> dict[str, tuple[Any, Any, dict]]:
    """neuronmf results in an NWB file: name → (container, module, provenance)."""
    from pynwb.ophys import ImageSegmentation

    found: dict[str, tuple[Any, Any, dict]] = {}
    for mname, module in nwbfile.processing.items():
        info = parse_provenance(module.description)
        if info is not None:
            found[mname] = (module, module, info)
            continue
        for c in module.data_interfaces.values():
            if isinstance(c, ImageSegmentation):
                for pname, ps in c.plane_segmentations.items():
                    pinfo = parse_provenance(ps.description)
                    if pinfo is not None:
                        found[pname] = (ps, module, pinfo)
    return found


def _load_nwb(path: Path, name: str | None) -> xr.Dataset:
    from pynwb import NWBHDF5IO

    try:
        io = NWBHDF5IO(str(path), mode="r")
        nwbfile = io.read()
    except Exception as exc:
        raise input_error(
            f"file {path}",
            "a readable NWB file",
            f"unreadable content ({type(exc).__name__}: {exc})",
            "Check the path; the file may be truncated or not NWB.",
        ) from exc
    try:
        found = _nwb_results(nwbfile)
        if not found:
            raise input_error(
                f"NWB file {path}",
                "a file holding a result written by neuronmf.io.save_nwb",
                "no neuronmf result",
                "Use neuronmf.io.load_activity/load_emg to read other content.",
            )
        if name is None:
            if len(found) > 1:
                raise input_error(
                    f"the result to read from {path}",
                    "chosen with name= when the file holds several",
                    f"candidates {sorted(found)}",
                    "Pass name=<one of them>.",
                )
            name = next(iter(found))
        if name not in found:
            raise input_error(
                f"name for {path}",
                "one of " + ", ".join(sorted(found)),
                name,
                "Pass one of the listed names.",
            )
        container, module, info = found[name]
        return NWB_KINDS.get(info["kind"], NWB_OTHER_KIND).read(container, module, info)
    finally:
        io.close()


def load_result(path: str | os.PathLike, *, name: str | None = None) -> xr.Dataset:
    """Read a result written by :func:`save_netcdf` or :func:`save_nwb`.

    Parameters
    ----------
    path : path-like
        A ``.nc`` file (NetCDF; every variable, coordinate and attribute comes
        back as written) or an NWB file (the variables :func:`save_nwb` stores:
        footprints, traces, per-neuron columns, ΔF/F and background images for
        imaging (footprints from pixel masks come back as NumPy up to
        :data:`DENSE_FOOTPRINTS_READ_MAX_BYTES`, 1 GiB, else as a dask array
        with one chunk per neuron); loadings and activations for
        synergies/assemblies; every variable of a decoding result; with the
        original coordinates and attributes from the provenance).
    name : str, optional
        For NWB files holding several neuronmf results: the PlaneSegmentation
        or processing-module name to read.

    Returns
    -------
    xarray.Dataset
        (an ``xarray.DataArray`` if a DataArray was saved with save_netcdf).

    Examples
    --------
    See :func:`save_netcdf` and :func:`save_nwb`.
    """
    path = Path(path)
    if not path.is_file():
        raise input_error(
            "path", "an existing file", str(path), "Check the file name and folder."
        )
    import h5py

    if not h5py.is_hdf5(path):
        raise input_error(
            f"file {path}",
            "a NetCDF-4 or NWB (HDF5) file",
            "a file that is not HDF5",
            "Pass a file written by save_netcdf or save_nwb.",
        )
    from neuronmf.io._common import open_hdf5  # refuses links/storage outside

    with open_hdf5(path) as f:
        is_nwb = "nwb_version" in f.attrs or "general" in f
    from neuronmf.errors import InputError as _InputError

    try:
        if path.suffix.lower() == ".nc" or not is_nwb:
            return _load_netcdf(path)
        return _load_nwb(path, name)
    except _InputError:
        raise
    except (
        KeyError,
        ValueError,  # json.JSONDecodeError, conflicting sizes
        TypeError,
        AttributeError,
        IndexError,
        RecursionError,  # deeply nested JSON in an attribute
    ) as exc:  # a crafted or altered file: its metadata do not decode
        raise input_error(
            f"file {path}",
            "a result written by neuronmf.io.save_netcdf or save_nwb",
            f"malformed neuronmf metadata or a missing variable "
            f"({type(exc).__name__}: {str(exc)[:200]})",
            "The file was altered or not written by neuronmf; write it again.",
        ) from None
