"""Registered real datasets: list them, and fetch them with verified checksums.

The registry is ``data_registry.yaml``. Its canonical copy ships inside the package
(``neuronmf/datasets/data_registry.yaml``, declared as package data, so it is found
in editable and regular installs alike); the copy at the repository root is
byte-identical and kept so by a test.

:func:`fetch` first looks for the dataset in an offline mirror (the folder named by
the ``NEURONMF_DATA_DIR`` environment variable, by default ``../shared/data`` next
to the repository when that exists) and verifies the sha256 of every registered
file there. Without a mirror it downloads the files with :mod:`pooch` into pooch's
cache, checking each download against its registered hash.
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import pooch
import yaml

from neuronmf.errors import InputError, input_error

__all__ = ["fetch", "list_datasets", "mirror_dir", "registry", "registry_path"]

_REGISTRY_FILE = Path(__file__).with_name("data_registry.yaml")
# neuronmf/datasets/registry.py -> parents[2] is the repository root in a source tree
_REPO_ROOT = Path(__file__).resolve().parents[2]


def registry_path() -> Path:
    """Path of the registry file shipped with the package.

    Examples
    --------
    >>> registry_path().name
    'data_registry.yaml'
    """
    return _REGISTRY_FILE


@lru_cache(maxsize=1)
def _load_registry() -> dict[str, dict[str, Any]]:
    with open(_REGISTRY_FILE, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    return doc["datasets"]


def registry() -> dict[str, dict[str, Any]]:
    """The parsed registry: dataset name → entry (description, files, licence, ...).

    Returns a deep copy, so callers may modify it freely.

    Examples
    --------
    >>> entry = registry()["endoscope_ophys_nwb"]
    >>> entry["files"][0]["path"]
    'nwb_test.nwb'
    """
    import copy

    return copy.deepcopy(_load_registry())


def list_datasets() -> list[str]:
    """Names of the registered datasets, sorted.

    Examples
    --------
    >>> list_datasets()
    ['endoscope_ophys_nwb', 'hc_linear_track', 'neurofinder_subset', 'santuz_gait_emg']
    """
    return sorted(_load_registry())


def mirror_dir() -> Path | None:
    """The offline mirror :func:`fetch` reads first, or None when there is none.

    The folder named by ``NEURONMF_DATA_DIR`` (whether or not it exists), else
    ``../shared/data`` next to the repository when that folder exists.

    Examples
    --------
    >>> import pathlib
    >>> folder = mirror_dir()
    >>> folder is None or isinstance(folder, pathlib.Path)
    True
    """
    env = os.environ.get("NEURONMF_DATA_DIR")
    if env:
        return Path(env).expanduser()
    guess = _REPO_ROOT.parent / "shared" / "data"
    return guess if guess.is_dir() else None


def _entry(name: str) -> dict[str, Any]:
    reg = _load_registry()
    if name not in reg:
        raise input_error(
            "dataset name",
            "one of " + ", ".join(sorted(reg)),
            name,
            "Call neuronmf.datasets.list_datasets() to see the registered datasets.",
        )
    return reg[name]


def _verify_mirror(name: str, folder: Path, files: list[dict[str, Any]]) -> None:
    for f in files:
        path = folder / f["path"]
        if not path.is_file():
            raise input_error(
                f"mirror file {path}",
                "present (it is registered for dataset " + repr(name) + ")",
                "a missing file",
                "Restore the mirror copy or unset NEURONMF_DATA_DIR to download.",
            )
        digest = pooch.file_hash(str(path), alg="sha256")
        if digest != f["sha256"]:
            raise input_error(
                f"sha256 of mirror file {path}",
                f"{f['sha256']} (as registered for dataset {name!r})",
                digest,
                "The copy is corrupted or modified: replace it with the original file.",
            )


def fetch(name: str, *, data_dir: str | os.PathLike | None = None) -> Path:
    """Local folder of a registered dataset, verified file by file.

    Parameters
    ----------
    name : str
        A registered dataset, see :func:`list_datasets`.
    data_dir : path-like, optional
        Offline mirror holding one sub-folder per dataset. Defaults to the
        ``NEURONMF_DATA_DIR`` environment variable, else ``../shared/data`` next to
        the repository when that folder exists.

    Returns
    -------
    pathlib.Path
        The dataset folder: ``<mirror>/<name>`` when the dataset is mirrored,
        otherwise a folder in pooch's cache (``pooch.os_cache("neuronmf")``).

    Raises
    ------
    InputError
        Unknown name; a mirrored file missing or with a wrong sha256 (the message
        names the file); no mirror and the download fails (e.g. offline).

    Notes
    -----
    Files whose registry ``url`` is null are derived plain-format copies that only
    the mirror holds; a download skips them with a warning.

    Examples
    --------
    >>> folder = fetch("endoscope_ophys_nwb")  # doctest: +SKIP
    >>> sorted(p.name for p in folder.iterdir())  # doctest: +SKIP
    ['PROVENANCE.md', 'nwb_test.nwb']
    """
    entry = _entry(name)
    files = entry["files"]
    mirror = Path(data_dir).expanduser() if data_dir is not None else mirror_dir()
    if mirror is not None and (mirror / name).is_dir():
        folder = mirror / name
        _verify_mirror(name, folder, files)
        return folder
    return _download(name, files, mirror)


def _download(name: str, files: list[dict[str, Any]], mirror: Path | None) -> Path:
    remote = [f for f in files if f.get("url")]
    skipped = [f["path"] for f in files if not f.get("url")]
    store = pooch.create(
        path=pooch.os_cache("neuronmf") / name,
        base_url="",
        registry={f["path"]: f"sha256:{f['sha256']}" for f in remote},
        urls={f["path"]: f["url"] for f in remote},
        retry_if_failed=1,
    )
    where = f"no folder {name!r} in mirror {mirror}" if mirror else "no mirror set"
    for f in remote:
        try:
            store.fetch(f["path"])
        except ValueError as exc:  # pooch: hash mismatch after download
            raise input_error(
                f"download of {f['path']} for dataset {name!r}",
                f"a file with sha256 {f['sha256']}",
                str(exc),
                "The remote file changed or the download was corrupted; retry, or "
                "use an offline mirror through NEURONMF_DATA_DIR.",
            ) from exc
        except Exception as exc:  # network errors: requests, urllib3, OSError
            raise InputError(
                f"dataset {name!r} could not be downloaded ({where}): fetching "
                f"{f['url']} failed with {type(exc).__name__}: {exc}. Connect to the "
                "internet, or set NEURONMF_DATA_DIR to a folder that holds a copy of "
                f"the dataset in a sub-folder named {name!r}."
            ) from exc
    if skipped:
        warnings.warn(
            f"dataset {name!r}: {len(skipped)} derived file(s) exist only in the "
            f"offline mirror and were not downloaded (e.g. {skipped[0]}); set "
            "NEURONMF_DATA_DIR to a mirror to get them.",
            stacklevel=3,
        )
    return Path(store.abspath)
