"""One convention for the attributes every result carries.

Every analysis that returns an :class:`xarray.Dataset` (or a result object with
``to_dataset()``) stamps it with :func:`result_attrs`, so a file written by any
part of the package says the same things in the same encoding:

``neuronmf_kind``
    What the result is: ``"nmf"``, ``"synergies"``, ``"segmentation"``,
    ``"assemblies"``, ``"decoding"``, ``"rank_scan"``, ... The io writers
    dispatch on it.
``neuronmf_version``
    The installed package version (one lookup, cached).
``params``
    The call's options as JSON (sorted keys; numpy values made plain).
``seed``
    The seed as given: an ``int``, or the string ``"none"`` when no seed was
    given (NetCDF attributes cannot hold ``None``; ``-1`` would be a magic
    number). A ``numpy.random.Generator`` is recorded as ``"generator"``: its
    state is not a seed and cannot reproduce the run.
``loss``, ``solver``, ``source``
    When they apply: the fit's loss and solver, and the input file.

This module sits at the bottom of the package (beside :mod:`neuronmf.errors`)
so that io, the engine and the domains can all use it without importing the
public facade.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "SEED_NONE",
    "decode_seed",
    "encode_seed",
    "jsonable",
    "params_of",
    "result_attrs",
]

#: How a missing seed is written.
SEED_NONE = "none"


@functools.lru_cache(maxsize=1)
def version() -> str:
    """The installed neuronmf version, or ``"0.0.0+unknown"`` in a bare source tree.

    Examples
    --------
    >>> isinstance(version(), str)
    True
    """
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _dist_version

    try:
        return _dist_version("neuronmf")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0+unknown"


def encode_seed(seed: Any) -> int | str:
    """The one encoding of a seed in result attributes.

    Examples
    --------
    >>> encode_seed(None), encode_seed(3), encode_seed(np.int64(4))
    ('none', 3, 4)
    >>> encode_seed(np.random.default_rng(0))
    'generator'
    """
    if seed is None:
        return SEED_NONE
    if isinstance(seed, bool | np.bool_):
        raise TypeError(f"seed must be an integer or None; got {seed!r}.")
    if isinstance(seed, int | np.integer):
        return int(seed)
    if isinstance(seed, np.random.Generator | np.random.RandomState):
        return "generator"
    return str(seed)


def decode_seed(value: Any) -> int | None:
    """Inverse of :func:`encode_seed` for integer seeds; ``None`` otherwise.

    Older files wrote a missing seed as ``-1``; that is read as ``None`` too.

    Examples
    --------
    >>> decode_seed("none"), decode_seed(np.int64(7)), decode_seed(-1)
    (None, 7, None)
    """
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return None if int(value) < 0 else int(value)
    return None


def jsonable(value: Any, *, strict: bool = False) -> Any:
    """Plain-Python copy of ``value`` for :func:`json.dumps` (numpy → lists).

    A value JSON cannot hold is written as its ``repr``, or, with ``strict=True``,
    left as it is so that :func:`json.dumps` raises (the io writers use that: an
    attribute must not come back from a file as a string silently).

    Examples
    --------
    >>> jsonable({"a": np.arange(2), "b": (np.float32(0.5), Path("x"))})
    {'a': [0, 1], 'b': [0.5, 'x']}
    >>> jsonable(object(), strict=True).__class__.__name__
    'object'
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, strict=strict) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, strict=strict) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist(), strict=strict)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if strict or value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def result_attrs(
    kind: str,
    *,
    params: Mapping[str, Any] | None = None,
    seed: Any = None,
    loss: str | None = None,
    solver: str | None = None,
    source: str | Path | None = None,
) -> dict[str, Any]:
    """The attributes every result carries, in one encoding.

    Parameters
    ----------
    kind : str
        What the result is (``"synergies"``, ``"assemblies"``, ...).
    params : mapping, optional
        The call's options; written as sorted-key JSON. Values that JSON cannot
        hold (arrays, paths, numpy scalars) are made plain; anything else is
        written as its ``repr``.
    seed : int, numpy.random.Generator or None
        Written by :func:`encode_seed`.
    loss, solver, source : str, optional
        Written when given.

    Returns
    -------
    dict
        ``neuronmf_kind``, ``neuronmf_version``, ``params``, ``seed`` and the
        optional keys: plain values that survive a NetCDF round trip.

    Examples
    --------
    >>> attrs = result_attrs("synergies", params={"rank": 4}, seed=None, loss="kl")
    >>> attrs["neuronmf_kind"], attrs["seed"], attrs["params"], attrs["loss"]
    ('synergies', 'none', '{"rank": 4}', 'kl')
    >>> params_of(attrs)
    {'rank': 4}
    """
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"kind must be a non-empty string; got {kind!r}.")
    attrs: dict[str, Any] = {
        "neuronmf_kind": kind,
        "neuronmf_version": version(),
        "params": json.dumps(jsonable(dict(params or {})), sort_keys=True),
        "seed": encode_seed(seed),
    }
    if loss is not None:
        attrs["loss"] = str(loss)
    if solver is not None:
        attrs["solver"] = str(solver)
    if source is not None:
        attrs["source"] = str(source)
    return attrs


def params_of(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``params`` attribute of a result, parsed back from JSON (``{}`` if absent).

    Examples
    --------
    >>> params_of({"params": '{"alpha": 0.05}'})
    {'alpha': 0.05}
    >>> params_of({})
    {}
    """
    raw = attrs.get("params")
    if not isinstance(raw, str):
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
