"""Helpers shared by the domain commands: reading input, writing the output folder.

Every domain command reads its input through :mod:`neuronmf.io` and writes into
``--out DIR``: the result as NetCDF (:func:`neuronmf.io.save_netcdf`) and NWB,
PNG figures and a plain-text ``summary.txt``.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path


def __getattr__(name: str):
    """``TABLE_SUFFIXES``, ``NETCDF_SUFFIXES``: io's one format table (``_formats``).

    Looked up lazily so that ``neuronmf --help`` does not import xarray.
    """
    if name in ("TABLE_SUFFIXES", "NETCDF_SUFFIXES"):
        from neuronmf.io import _formats

        return getattr(_formats, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Python keywords the commands pass under another option name (keyword -> dest).
#: Only used when the command has that dest; everything else is read off argparse.
KEYWORD_ALIASES = {
    "neuron_radius": "radius",
    "n_restarts": "restarts",
    "n_repeats": "repeats",
    "n_jobs": "jobs",
    "n_surrogates": "surrogates",
}


def flag_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Python keyword -> command-line flag for every option of ``parser``.

    The keyword is the option's ``dest`` (plus :data:`KEYWORD_ALIASES` where a
    command passes it to Python under another name); the flag is its longest
    ``--`` option string. Positional arguments and ``--help`` are left out.

    Examples
    --------
    >>> import argparse
    >>> p = argparse.ArgumentParser()
    >>> _ = p.add_argument("--bin-width", type=float)
    >>> flag_names(p)
    {'bin_width': '--bin-width'}
    """
    flags: dict[str, str] = {}
    for action in parser._actions:
        long = [o for o in action.option_strings if o.startswith("--")]
        if not long or isinstance(action, argparse._HelpAction):
            continue
        flags[action.dest] = max(long, key=len)
    for keyword, dest in KEYWORD_ALIASES.items():
        if dest in flags and keyword not in flags:
            flags[keyword] = flags[dest]
    return flags


_VALUE = r"""(?:'([^']*)'|"([^"]*)"|([^\s,;:)]*[^\s,;:).]))"""


def _with_value(flag: str):
    def replace(match: re.Match) -> str:
        groups = match.groups()
        value = next(g for g in groups[:3] if g is not None)
        # further choices ("kind='a', 'b' or 'c'") lose their quotes too
        choices = (groups[3] or "") if len(groups) > 3 else ""
        return f"{flag} {value}{choices.replace(chr(39), '')}"

    return replace


#: the choices after a first value: ", 'b', 'c'" then ", or 'd'" / " or 'd'"
_CHOICES = r"""((?:, '[^'\s]*')*,? or '[^'\s]*')"""


def name_flags(message: str, flags: dict[str, str]) -> str:
    """Rewrite mentions of Python keywords in an error ``message`` as flags.

    ``rate=None`` becomes ``--rate unset``, ``rank=3`` becomes ``--rank 3``,
    ``resample=True`` becomes ``--resample`` (an on/off flag), ``channels=[...]``
    becomes ``--channels NAME ...``, ``kind='a', 'b' or 'c'`` becomes
    ``--kind a, b or c``, `` `rate` `` becomes ``--rate``; a keyword that
    starts the message (the house pattern "<what> must be ...") or contains an
    underscore (``bin_width``) is replaced wherever it stands as a word. Plain
    words elsewhere are left alone.

    Examples
    --------
    >>> flags = {"rate": "--rate", "bin_width": "--bin-width"}
    >>> name_flags("rate must be > 0; got 0. Leave rate=None or pass rate=1000.", flags)
    '--rate must be > 0; got 0. Leave --rate unset or pass --rate 1000.'
    >>> name_flags("bin_width must be a number; got 'a'. The rate is fine.", flags)
    "--bin-width must be a number; got 'a'. The rate is fine."
    >>> name_flags("Pass kind='counts', 'dff' or 'deconvolved'.", {"kind": "--kind"})
    'Pass --kind counts, dff or deconvolved.'
    """
    for keyword in sorted(flags, key=len, reverse=True):
        flag = flags[keyword]
        word = rf"(?<![\w.\-'\"/\\]){re.escape(keyword)}"
        message = re.sub(rf"{word}=None\b", f"{flag} unset", message)
        message = re.sub(rf"{word}=True\b", flag, message)
        message = re.sub(rf"{word}=\[\.\.\.\]", f"{flag} NAME ...", message)
        message = re.sub(rf"{word}={_VALUE}{_CHOICES}", _with_value(flag), message)
        message = re.sub(rf"{word}={_VALUE}", _with_value(flag), message)
        message = re.sub(rf"`{re.escape(keyword)}`", flag, message)
        if "_" in keyword:
            message = re.sub(rf"{word}(?![\w\-(=/\\]|\.\w)", flag, message)
        else:
            message = re.sub(rf"^{re.escape(keyword)}(?= must\b| \()", flag, message)
    return message


def add_movie_arguments(parser: argparse.ArgumentParser) -> None:
    """MOVIE, ``--series`` and ``--rate``: how the movie commands name their input."""
    parser.add_argument(
        "movie", type=Path, help="movie file or TIFF folder (NWB/HDF5/TIFF/Zarr/npy)"
    )
    parser.add_argument(
        "--series", default=None, help="NWB series / HDF5 or Zarr dataset to read"
    )
    parser.add_argument(
        "--rate", type=float, default=None, help="frame rate (Hz) if the file has none"
    )


def check_input(path: Path, flag: str = "INPUT") -> Path:
    """An existing file or folder, else a clear error (exit code 3)."""
    from neuronmf.errors import input_error

    if not Path(path).exists():
        raise input_error(
            flag, "an existing file or folder", str(path), "Check the path."
        )
    if not os.access(path, os.R_OK):
        raise input_error(
            flag,
            "a readable file or folder",
            f"'{path}' (permission denied)",
            "Check its permissions (ls -l) or copy it somewhere you can read.",
        )
    return Path(path)


#: The result files each command writes into ``--out`` (replaced on a re-run).
RESULT_FILES = {
    "synergies": ("synergies.nc", "synergies.nwb"),
    "segment": ("segmentation.nc", "segmentation.nwb"),
    "assemblies": ("assemblies.nc", "assemblies.nwb"),
    "sequences": ("sequences.nc", "sequences.nwb"),
    "decode": ("decoding.nc", "decoding.nwb"),
    "rank": ("rank_scan.nc",),
    "imaging": ("imaging.nwb", "registration.nc", "segmentation.nc", "registered.h5"),
    "demo": (
        "synergies.nc",
        "synergies.nwb",
        "segmentation.nc",
        "segmentation.nwb",
        "assemblies.nc",
        "assemblies.nwb",
        "decoding.nc",
    ),
}

#: First bytes of the files a result may be replaced over: HDF5 (NWB, NetCDF-4)
#: and NetCDF classic/64-bit offset.
_RESULT_SIGNATURES = (b"\x89HDF\r\n\x1a\n", b"CDF\x01", b"CDF\x02")


def check_outputs(out: Path, files: tuple[str, ...] = (), flag: str = "--out") -> Path:
    """Refuse an output folder that cannot take the results, before any work.

    Called by :func:`neuronmf.cli.main.main` right after parsing, for every
    command with ``--out``: ``out`` must be a folder (or not exist yet, under a
    folder), writable, and each of the command's result ``files`` already in it
    must be a file neuronmf can replace (an HDF5/NetCDF file, e.g. an earlier
    run's result), never a folder or a foreign file. Nothing is created.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> check_outputs(d / "new" / "out", ("result.nc",)) == d / "new" / "out"
    True
    >>> (d / "file").write_text("x")
    1
    >>> check_outputs(d / "file")
    Traceback (most recent call last):
    ...
    neuronmf.errors.InputError: --out must be a folder (created if missing); got ...
    """
    from neuronmf.errors import input_error

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise input_error(
            flag,
            "a folder (created if missing)",
            f"'{out}', an existing file",
            f"Choose a folder for the results, e.g. {flag} {out.with_suffix('')}-out.",
        )
    base = out
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise input_error(
            flag,
            "a path whose existing part is a folder",
            f"'{out}' under the file '{base}'",
            "Choose another output folder.",
        )
    try:  # a real probe: permissions, read-only mounts, /proc-like folders
        import tempfile

        fd, probe = tempfile.mkstemp(dir=base, prefix=".neuronmf-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        where = "" if base == out else f" (its folder '{base}' exists)"
        raise input_error(
            flag,
            "a folder you can write to",
            f"'{out}'{where}: {exc.strerror or exc}",
            "Choose another output folder, or change its permissions.",
        ) from None
    for name in files if out.is_dir() else ():
        target = out / name
        if not (target.exists() or target.is_symlink()):
            continue
        head = b""
        if target.is_file():
            try:
                with open(target, "rb") as fh:
                    head = fh.read(8)
            except OSError:
                head = b""
        if not head.startswith(_RESULT_SIGNATURES):
            kind = "a folder" if target.is_dir() else "a file that is not NWB/NetCDF"
            raise input_error(
                f"'{target}'",
                "absent or an earlier neuronmf result (it is replaced)",
                kind,
                f"Move it away or choose another {flag}; neuronmf replaces only "
                "its own results.",
            )
    return out


def parse_rank(value: str):
    """``"auto"`` or a positive integer from a command-line string."""
    from neuronmf.errors import input_error

    if value == "auto":
        return value
    try:
        rank = int(value)
    except ValueError:
        raise input_error("--rank", "an integer or 'auto'", value) from None
    if rank < 1:
        raise input_error("--rank", "a positive integer or 'auto'", value)
    return rank


def load_activity(
    path: Path,
    *,
    series: str | None = None,
    bin_width: float | None = None,
    rate: float | None = None,
):
    """(time, neuron) activity from any file :func:`neuronmf.io.load_activity` reads.

    NWB (Units binned at ``bin_width``, or a RoiResponseSeries), NPZ (spike
    times + units, or a 2-D array), MATLAB, HDF5, ``.npy``, CSV/TSV tables (a
    time column and one column per neuron) and NetCDF written by
    :func:`neuronmf.io.save_netcdf` (a DataArray or a Dataset variable): io
    reads them all; this only checks the path (``INPUT``) and passes
    ``--series`` as ``variable=`` for MATLAB files.
    """
    import neuronmf.io as nio

    path = check_input(path)
    return nio.load_activity(
        path, **series_or_variable(path, series), bin_width=bin_width, rate=rate
    )


def series_or_variable(path: Path, series: str | None) -> dict:
    """``--series`` as the loaders' keyword: ``variable=`` for MATLAB files.

    ``--series`` names the NWB series, the HDF5/NPZ array, the NetCDF variable or
    the MATLAB variable; the Python loaders take MATLAB variables as
    ``variable=``.
    """
    from neuronmf.io._formats import data_format

    if series is not None and data_format(Path(path)) == "matlab":
        return {"variable": series}
    return {"series": series}


def write_results(ds, out: Path, stem: str, *, source=None, nwb=True) -> list[Path]:
    """``ds`` as ``out/stem.nc`` (NetCDF) and ``out/stem.nwb`` (NWB), atomically."""
    import neuronmf.io as nio

    out.mkdir(parents=True, exist_ok=True)
    written = [nio.save_netcdf(ds, out / f"{stem}.nc")]
    if nwb:
        written.append(
            nio.save_nwb(
                ds,
                out / f"{stem}.nwb",
                source=None if source is None else str(source),
                overwrite=True,
            )
        )
    return written


def save_figure(fig, path: Path) -> Path:
    """Write a PNG atomically (mode ``0o666 & ~umask``) and close the figure."""
    import matplotlib.pyplot as plt

    from neuronmf.io._atomic import atomic_path

    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, format=path.suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
    return path


def write_summary(out: Path, lines: list[str], *, sep: str = "\n") -> Path:
    """``out/summary.txt``, one finding per line (``sep`` between entries).

    Written through a uniquely named temporary file (the one atomic helper,
    :func:`neuronmf.io._atomic.write_atomic`): concurrent runs into the same
    folder never collide, and a reader always sees one complete summary.
    """
    from neuronmf.io._atomic import write_atomic

    return write_atomic(Path(out) / "summary.txt", sep.join(lines) + "\n")
