"""MATLAB ``.mat`` files: v4/v5/v7 (through :mod:`scipy.io`) and v7.3 (HDF5, h5py).

A v7.3 file is an HDF5 file with a 512-byte user block that starts with the text
``"MATLAB 7.3 MAT-file"``. MATLAB stores arrays column-major, so h5py sees every
array with its axes reversed; :func:`read_mat_variable` transposes them back, so
both versions give the shape MATLAB shows (``size(x)``).

Values come back as NumPy arrays with MATLAB's shape:

- numeric and logical arrays as numeric/bool arrays (a scalar is ``(1, 1)``);
- ``char`` arrays as an array of ``str``, one per row;
- cell arrays as object arrays (elements converted the same way);
- struct arrays as object arrays of ``dict`` (field name → value).

A dotted name reaches a field of a scalar struct: ``"session.spikes"``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from neuronmf.errors import input_error
from neuronmf.io._formats import is_matlab_v73, mat_version  # below io._common

__all__ = [
    "SPIKE_TIME_FIELDS",
    "is_matlab_v73",
    "mat_variables",
    "mat_version",
    "read_mat_variable",
    "spike_trains",
]

#: Struct fields taken as a unit's spike times (case-insensitive), first match wins.
SPIKE_TIME_FIELDS = ("spike_times", "spiketimes", "times", "time", "ts", "spikes", "t")

_HIDDEN = ("#refs#", "#subsystem#")
_NUMERIC = {
    "double": "float64",
    "single": "float32",
    "int8": "int8",
    "uint8": "uint8",
    "int16": "int16",
    "uint16": "uint16",
    "int32": "int32",
    "uint32": "uint32",
    "int64": "int64",
    "uint64": "uint64",
    "logical": "bool",
}


def _check(path: str | os.PathLike) -> tuple[Path, str]:
    from neuronmf.io._common import as_path

    p = as_path(path)
    version = mat_version(p) if p.is_file() else None
    if version is None:
        raise input_error(
            f"file '{p}'",
            "a MATLAB MAT-file (v4, v5/v7 or v7.3)",
            "content without a MAT-file header",
            "Save it in MATLAB with save(..., '-v7') or '-v7.3'.",
        )
    return p, version


# ------------------------------------------------------------------ listing
def mat_variables(path: str | os.PathLike) -> list[tuple[str, tuple[int, ...], str]]:
    """List the variables of a MAT-file without reading their data.

    Parameters
    ----------
    path : str or path-like
        A MATLAB v4, v5/v7 or v7.3 file.

    Returns
    -------
    list of (name, shape, dtype)
        ``shape`` as MATLAB shows it (``size(x)``); ``dtype`` is the NumPy dtype
        name for numeric/logical arrays and ``"char"``, ``"cell"``, ``"struct"``
        (or another MATLAB class name) otherwise.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, scipy.io
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.mat"
    >>> scipy.io.savemat(p, {"rates": np.ones((3, 100)), "fs": 30.0})
    >>> mat_variables(p)
    [('rates', (3, 100), 'float64'), ('fs', (1, 1), 'float64')]
    """
    p, version = _check(path)
    if version == "7.3":
        out = []
        with _open_v73(p) as f:
            for name, obj in f.items():
                if name in _HIDDEN:
                    continue
                mclass = _mclass(obj) or ("struct" if _is_group(obj) else "")
                out.append((name, _v73_shape(obj), _NUMERIC.get(mclass, mclass)))
        return out
    from scipy.io import whosmat

    try:
        found = whosmat(p)
    except Exception as exc:
        raise _unreadable(p, exc) from None
    return [
        (name, tuple(int(s) for s in shape), _NUMERIC.get(mclass, mclass))
        for name, shape, mclass in found
    ]


def _unreadable(p: Path, exc: Exception):
    return input_error(
        f"file '{p}'",
        "a readable MATLAB MAT-file",
        f"an error while reading it ({type(exc).__name__}: {exc})",
        "The file may be truncated or corrupt; copy it again.",
    )


# ------------------------------------------------------------------ reading
def read_mat_variable(path: str | os.PathLike, variable: str) -> np.ndarray:
    """Read one variable of a MAT-file (v4, v5/v7 or v7.3) as a NumPy array.

    Parameters
    ----------
    path : str or path-like
        The MAT-file (opened read-only).
    variable : str
        The variable's name, or ``"struct.field"`` (any depth) for a field of a
        scalar struct.

    Returns
    -------
    numpy.ndarray
        MATLAB's shape and values: numeric/bool arrays, ``str`` arrays for
        ``char``, object arrays for cells and object arrays of ``dict`` for
        structs. v7.3 arrays are transposed back from HDF5's reversed order.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, scipy.io
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.mat"
    >>> scipy.io.savemat(p, {"s": {"rate": 30.0, "x": np.arange(3.0)}})
    >>> read_mat_variable(p, "s.x")
    array([[0., 1., 2.]])
    """
    p, version = _check(path)
    if not isinstance(variable, str) or not variable:
        raise input_error("variable", "the name of a MATLAB variable (str)", variable)
    top, *fields = variable.split(".")
    names = [name for name, _, _ in mat_variables(p)]
    if top not in names:
        raise input_error(
            f"variable={variable!r}",
            f"a variable of '{p}'",
            f"no such variable; the file holds: {', '.join(names) or 'nothing'}",
            "Run `neuronmf info FILE` to list them.",
        )
    if version == "7.3":
        with _open_v73(p) as f:
            value = _from_h5(f, f[top])
    else:
        from scipy.io import loadmat

        try:
            raw = loadmat(
                p,
                variable_names=[top],
                struct_as_record=True,
                squeeze_me=False,
                chars_as_strings=True,
            )[top]
        except Exception as exc:
            raise _unreadable(p, exc) from None
        value = _from_v5(raw, p)
    reached = top
    for field in fields:
        value = _field(value, field, reached, p)
        reached += "." + field
    return value


def _field(value: Any, field: str, reached: str, p: Path) -> Any:
    if not (
        isinstance(value, np.ndarray) and value.dtype == object and value.size == 1
    ) or not isinstance(value.flat[0], dict):
        raise input_error(
            f"'{reached}' in '{p}'",
            f"a scalar struct to take the field '{field}' from",
            _describe(value),
            f"Pass variable={reached!r} alone.",
        )
    record = value.flat[0]
    if field not in record:
        raise input_error(
            f"field '{field}' of '{reached}' in '{p}'",
            "one of the struct's fields",
            f"no such field; it has: {', '.join(record)}",
        )
    return record[field]


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        kind = "struct" if value.dtype == object and _all_dicts(value) else None
        if kind is None:
            kind = "cell" if value.dtype == object else str(value.dtype)
        return f"a {'×'.join(map(str, value.shape))} {kind} array"
    return type(value).__name__


def _all_dicts(value: np.ndarray) -> bool:
    return value.size > 0 and all(isinstance(v, dict) for v in value.flat)


def _from_v5(raw: Any, p: Path) -> Any:
    """scipy.io.loadmat output → plain arrays, object arrays, dicts."""
    import scipy.sparse

    if scipy.sparse.issparse(raw):
        return raw.toarray()
    if not isinstance(raw, np.ndarray):
        name = type(raw).__name__
        raise input_error(
            f"a value in '{p}'",
            "a numeric, logical, char, cell or struct array",
            f"a MATLAB object of type {name}",
            "Convert it to plain arrays in MATLAB before saving.",
        )
    if raw.dtype.names:
        out = np.empty(raw.shape, dtype=object)
        for idx in np.ndindex(raw.shape):
            rec = raw[idx]
            out[idx] = {n: _from_v5(rec[n], p) for n in raw.dtype.names}
        return out
    if raw.dtype == object:
        out = np.empty(raw.shape, dtype=object)
        for idx in np.ndindex(raw.shape):
            out[idx] = _from_v5(raw[idx], p)
        return out
    return raw


# v7.3 -----------------------------------------------------------------------
def _open_v73(p: Path):
    from neuronmf.io._open import open_hdf5

    return open_hdf5(p)


def _is_group(obj: Any) -> bool:
    import h5py

    return isinstance(obj, h5py.Group)


def _mclass(obj: Any) -> str:
    c = obj.attrs.get("MATLAB_class")
    if c is None:
        return ""
    return c.decode() if isinstance(c, bytes) else str(c)


def _v73_shape(obj: Any) -> tuple[int, ...]:
    if _is_group(obj):
        if "MATLAB_sparse" in obj.attrs:
            ncols = obj["jc"].shape[0] - 1 if "jc" in obj else 0
            return (int(obj.attrs["MATLAB_sparse"]), int(ncols))
        fields = [k for k in obj if k not in _HIDDEN]
        if fields and _is_struct_array_field(obj[fields[0]]):
            return tuple(int(s) for s in obj[fields[0]].shape[::-1])
        return (1, 1)
    if obj.attrs.get("MATLAB_empty", 0):
        dims = np.asarray(obj[()]).ravel()
        return tuple(int(d) for d in dims) if dims.size else (0, 0)
    return tuple(int(s) for s in obj.shape[::-1])


def _is_struct_array_field(obj: Any) -> bool:
    import h5py

    return (
        isinstance(obj, h5py.Dataset)
        and obj.dtype == h5py.ref_dtype
        and not _mclass(obj)
    )


def _from_h5(f: Any, obj: Any) -> Any:
    mclass = _mclass(obj)
    if _is_group(obj):
        if "MATLAB_sparse" in obj.attrs:
            import scipy.sparse

            shape = _v73_shape(obj)
            data = obj["data"][()] if "data" in obj else np.zeros(0)
            ir = obj["ir"][()] if "ir" in obj else np.zeros(0, np.int64)
            jc = obj["jc"][()]
            m = scipy.sparse.csc_matrix((data, ir, jc), shape=shape)
            return m.toarray()
        if mclass not in ("", "struct"):
            raise input_error(
                f"variable '{obj.name.strip('/')}' in '{f.filename}'",
                "a numeric, logical, char, cell or struct array",
                f"a MATLAB object of class '{mclass}'",
                "Convert it to plain arrays in MATLAB (e.g. table2struct) first.",
            )
        fields = [k for k in obj if k not in _HIDDEN]
        if fields and _is_struct_array_field(obj[fields[0]]):
            shape = _v73_shape(obj)
            out = np.empty(shape, dtype=object)
            refs = {k: obj[k][()].T for k in fields}
            for idx in np.ndindex(shape):
                out[idx] = {k: _from_h5(f, f[refs[k][idx]]) for k in fields}
            return out
        out = np.empty((1, 1), dtype=object)
        out[0, 0] = {k: _from_h5(f, obj[k]) for k in fields}
        return out
    if obj.attrs.get("MATLAB_empty", 0):
        shape = _v73_shape(obj)
        if mclass == "cell":
            return np.empty(shape, dtype=object)
        if mclass == "char":
            return np.array([""] * shape[0] if shape and shape[0] else [""])
        return np.zeros(shape, dtype=_NUMERIC.get(mclass, "float64"))
    raw = obj[()]
    if mclass == "cell" or (obj.dtype == object and mclass == ""):
        refs = np.asarray(raw).T
        out = np.empty(refs.shape, dtype=object)
        for idx in np.ndindex(refs.shape):
            out[idx] = _from_h5(f, f[refs[idx]])
        return out
    if mclass in ("function_handle",) or (
        mclass and mclass not in _NUMERIC and mclass != "char"
    ):
        raise input_error(
            f"variable '{obj.name.strip('/')}' in '{f.filename}'",
            "a numeric, logical, char, cell or struct array",
            f"a MATLAB value of class '{mclass}'",
            "Convert it to plain arrays in MATLAB first.",
        )
    arr = np.asarray(raw)
    if arr.dtype.names and {"real", "imag"} <= set(arr.dtype.names):
        arr = arr["real"] + 1j * arr["imag"]
    arr = arr.T
    if mclass == "char":
        codes = np.atleast_2d(arr).astype(np.uint32)
        return np.array(["".join(map(chr, row)) for row in codes])
    if mclass == "logical":
        return arr.astype(bool)
    if mclass in _NUMERIC:
        return arr.astype(_NUMERIC[mclass], copy=False)
    return arr


# ------------------------------------------------------------ spike trains
def spike_trains(
    value: Any, *, what: str = "variable"
) -> tuple[list[str], list[np.ndarray], int]:
    """Collect one spike-time vector per unit from a cell/struct value.

    Walks nested cells (in MATLAB's column-major order) and structs: a struct
    contributes the first of its fields named in :data:`SPIKE_TIME_FIELDS`; a
    numeric vector (or scalar) is one unit. Empty vectors (placeholders such as
    an empty tetrode, or a unit without spikes) are skipped and counted.

    Returns
    -------
    labels : list of str
        1-based cell indices of each unit, joined by ``"."`` over the levels that
        have more than one element (e.g. ``"3.2"``: cell 3, element 2).
    trains : list of ndarray
        Sorted spike times, as stored (seconds are assumed).
    n_empty : int
        How many empty vectors were skipped.

    Examples
    --------
    >>> cell = np.empty((1, 3), dtype=object)
    >>> cell[0, 0], cell[0, 1] = np.array([[0.1, 0.5]]), np.zeros((1, 0))
    >>> cell[0, 2] = np.array([[2.0]])
    >>> labels, trains, n_empty = spike_trains(cell)
    >>> labels, [t.tolist() for t in trains], n_empty
    (['1', '3'], [[0.1, 0.5], [2.0]], 1)
    """
    labels: list[str] = []
    trains: list[np.ndarray] = []
    empty = [0]
    for label, times in _walk(value, (), what):
        if times.size == 0:
            empty[0] += 1
            continue
        labels.append(label)
        trains.append(times)
    return labels, trains, empty[0]


def _walk(value: Any, path: tuple[str, ...], what: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        keys = {k.lower(): k for k in value}
        for name in SPIKE_TIME_FIELDS:
            if name in keys:
                yield from _walk(value[keys[name]], path, what)
                return
        raise input_error(
            f"a struct in {what}",
            f"a field of spike times (one of {', '.join(SPIKE_TIME_FIELDS)})",
            f"fields {', '.join(value)}",
            "Pass variable='<struct>.<field>' to name the field holding the times.",
        )
    if not isinstance(value, np.ndarray):
        raise input_error(f"an element of {what}", "numeric spike times", value)
    if value.dtype == object:
        flat = value.ravel(order="F")
        many = flat.size > 1
        for i, item in enumerate(flat):
            sub = (*path, str(i + 1)) if many else path
            yield from _walk(item, sub, what)
        return
    if not np.issubdtype(value.dtype, np.number) or value.dtype == bool:
        raise input_error(
            f"element {'.'.join(path) or '1'} of {what}",
            "numeric spike times",
            f"a {value.dtype} array",
        )
    if value.size and sum(s > 1 for s in value.shape) > 1:
        raise input_error(
            f"element {'.'.join(path) or '1'} of {what}",
            "a vector of spike times (one per unit)",
            f"a {'×'.join(map(str, value.shape))} matrix",
            "Pass a (neuron, time) or (time, neuron) matrix as its own variable.",
        )
    times = np.sort(np.asarray(value, dtype=float).ravel())
    if not np.all(np.isfinite(times)):
        raise input_error(
            f"spike times of unit {'.'.join(path) or '1'} in {what}",
            "finite numbers (seconds)",
            "NaN or Inf values",
            "Remove NaN padding before saving, or store one vector per unit in a cell.",
        )
    yield ".".join(path) or "1", times


# ------------------------------------------------------- loader helpers
def pick_variable(
    p: Path,
    variable: str | None,
    *,
    what: str,
    fits: Any,
) -> str:
    """The variable to load: ``variable`` if given (checked), else the only one
    whose ``(name, shape, dtype)`` ``fits``; raises listing the variables."""
    listed = mat_variables(p)
    shown = ", ".join(f"{n} ({'×'.join(map(str, s))} {d})" for n, s, d in listed)
    if variable is not None:
        if not isinstance(variable, str) or variable.split(".")[0] not in {
            n for n, _, _ in listed
        }:
            raise input_error(
                f"variable={variable!r}",
                f"a variable of '{p}'",
                f"no such variable; the file holds: {shown or 'nothing'}",
                "Pass one of those names (or 'struct.field').",
            )
        return variable
    cands = [n for n, s, d in listed if fits(n, s, d)]
    if len(cands) == 1:
        return cands[0]
    raise input_error(
        "variable",
        f"given when '{p}' does not hold exactly one {what}",
        f"variable=None; the file holds: {shown or 'nothing'}",
        "Pass variable=<name>, e.g. variable="
        f"{(cands or [n for n, _, _ in listed] or ['x'])[0]!r}.",
    )


def oriented(
    data: np.ndarray, *, time_axis: int | None, what: str
) -> tuple[np.ndarray, int]:
    """A 2-D (or 1-D) MATLAB array as (time, other), and the MATLAB time axis.

    The time axis is ``time_axis`` when given (0 = rows, 1 = columns), else the
    longer axis (recordings have more samples than neurons/channels); a square
    matrix without ``time_axis`` is refused.
    """
    data = np.asarray(data)
    if data.dtype == object or not (
        np.issubdtype(data.dtype, np.number) or data.dtype == bool
    ):
        raise input_error(
            what,
            "a numeric matrix",
            f"a {'×'.join(map(str, data.shape))} {_describe(data)}",
            "Pass the name of a numeric variable (see `neuronmf info FILE`).",
        )
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2:
        raise input_error(
            what, "a 1-D or 2-D numeric array", f"shape {tuple(data.shape)}"
        )
    if time_axis is not None and time_axis not in (0, 1):
        raise input_error("time_axis", "0 (rows) or 1 (columns)", time_axis)
    if time_axis is None:
        rows, cols = data.shape
        if rows == cols and rows > 1:
            raise input_error(
                what,
                "a matrix whose time axis can be told from its shape",
                f"a square {rows}×{cols} matrix",
                "Pass time_axis=0 if rows are time points, time_axis=1 if columns.",
            )
        time_axis = 0 if rows >= cols else 1
    return (data if time_axis == 0 else data.T), time_axis


def mat_series(
    path: str | os.PathLike,
    variable: str | None,
    *,
    rate: float | None,
    dim: str = "channel",
    time_axis: int | None = None,
):
    """A numeric MATLAB variable as a regularly sampled ``(time, dim)`` DataArray.

    The longer axis is time unless ``time_axis`` says otherwise (see
    :func:`oriented`); MAT-files store no sampling rate, so ``rate`` (Hz) is
    required. Used by :func:`neuronmf.io.load_emg` for ``.mat`` files.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, scipy.io
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "emg.mat"
    >>> scipy.io.savemat(p, {"emg": np.ones((4, 1000))})  # 4 muscles × 1000 samples
    >>> da = mat_series(p, "emg", rate=1000.0)
    >>> da.dims, da.shape, da.attrs["time_axis"]
    (('time', 'channel'), (1000, 4), 1)
    """
    import xarray as xr

    from neuronmf.io._common import base_attrs, check_rate, time_coord

    p, _ = _check(path)
    rate = check_rate(rate)

    def fits(name, shape, dtype):
        return dtype not in ("cell", "struct", "char") and max(shape, default=0) > 1

    var = pick_variable(p, variable, what="numeric vector or matrix", fits=fits)
    if rate is None:
        raise input_error(
            "rate",
            "given for a MATLAB variable (MAT-files store no sampling rate)",
            None,
            "Pass rate=<Hz>, e.g. rate=1000.",
        )
    data, axis = oriented(
        read_mat_variable(p, var),
        time_axis=time_axis,
        what=f"variable '{var}' in '{p}'",
    )
    return xr.DataArray(
        data,
        dims=("time", dim),
        coords={
            "time": time_coord(data.shape[0], rate=rate),
            dim: [f"ch{i}" for i in range(data.shape[1])]
            if dim == "channel"
            else np.arange(data.shape[1]),
        },
        name=var,
        attrs=base_attrs(p, var, rate=rate, units="unknown", time_axis=int(axis)),
    )
