"""The dataset registry: checksums, offline mirror, clear errors."""

from __future__ import annotations

import shutil

import pooch
import pytest
import yaml

from neuronmf.datasets import fetch, list_datasets
from neuronmf.datasets.registry import registry, registry_path
from neuronmf.errors import InputError
from tests.conftest import REPO, data_dir

NAMES = [
    "endoscope_ophys_nwb",
    "hc_linear_track",
    "neurofinder_subset",
    "santuz_gait_emg",
]
needs_mirror = pytest.mark.skipif(
    not data_dir().is_dir(), reason="real-data mirror (NEURONMF_DATA_DIR) not found"
)


def test_root_registry_is_identical_to_the_packaged_one():
    assert (REPO / "data_registry.yaml").read_bytes() == registry_path().read_bytes()


def test_every_index_dataset_is_registered_with_full_metadata():
    assert list_datasets() == NAMES
    for name, entry in registry().items():
        for key in ("description", "source", "licence", "citation", "loaders"):
            assert entry[key], (name, key)
        assert "ground_truth" in entry
        for f in entry["files"]:
            assert len(f["sha256"]) == 64
            if f["url"] is not None:
                assert f["url"].startswith("https://raw.githubusercontent.com/")
    assert len(registry()["neurofinder_subset"]["files"]) == 201  # 200 TIFFs + JSON


@needs_mirror
@pytest.mark.parametrize("name", NAMES)
def test_registered_sha256_matches_the_mirror(name):
    folder = data_dir() / name
    entry = registry()[name]
    listed = {f["path"] for f in entry["files"]}
    on_disk = {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != "PROVENANCE.md"
    }
    assert listed == on_disk
    for f in entry["files"]:
        assert pooch.file_hash(str(folder / f["path"]), alg="sha256") == f["sha256"]


@needs_mirror
def test_fetch_offline_from_mirror(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("fetch must not download when the mirror has the data")

    monkeypatch.setattr(pooch.Pooch, "fetch", no_network)
    monkeypatch.setenv("NEURONMF_DATA_DIR", str(data_dir()))
    folder = fetch("endoscope_ophys_nwb")
    assert folder == data_dir() / "endoscope_ophys_nwb"
    assert (folder / "nwb_test.nwb").is_file()
    assert (
        fetch("hc_linear_track", data_dir=data_dir()) == data_dir() / "hc_linear_track"
    )


@needs_mirror
def test_corrupted_mirror_copy_is_named(tmp_path):
    src = data_dir() / "hc_linear_track"
    dst = tmp_path / "hc_linear_track"
    shutil.copytree(src, dst)
    target = dst / "spikes.mat"
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"spikes\.mat") as err:
        fetch("hc_linear_track", data_dir=tmp_path)
    assert "sha256" in str(err.value)


@needs_mirror
def test_missing_mirror_file_is_named(tmp_path):
    dst = tmp_path / "hc_linear_track"
    shutil.copytree(data_dir() / "hc_linear_track", dst)
    (dst / "trajectory.videoPositionTracking").unlink()
    with pytest.raises(InputError, match=r"trajectory\.videoPositionTracking"):
        fetch("hc_linear_track", data_dir=tmp_path)


def test_unmirrored_dataset_offline_gives_clear_error(tmp_path, monkeypatch):
    def offline(self, url, output_file, pooch_obj):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", offline)
    monkeypatch.setattr(pooch, "os_cache", lambda project: tmp_path / "cache")
    empty = tmp_path / "mirror"
    empty.mkdir()
    with pytest.raises(InputError, match="NEURONMF_DATA_DIR") as err:
        fetch("endoscope_ophys_nwb", data_dir=empty)
    assert "endoscope_ophys_nwb" in str(err.value)
    assert "ConnectionError" in str(err.value)


def test_unknown_dataset_lists_the_names():
    with pytest.raises(InputError, match="santuz_gait_emg"):
        fetch("no_such_dataset")


def test_registry_yaml_parses_and_packaged_file_declared():
    text = (REPO / "pyproject.toml").read_text()
    assert "data_registry.yaml" in text
    assert yaml.safe_load(registry_path().read_text())["version"] == 1


def test_registered_loaders_exist_in_neuronmf():
    import importlib

    for name, entry in registry().items():
        for loader in entry["loaders"]:
            module, func = loader["function"].rsplit(".", 1)
            mod = importlib.import_module(module)
            if not hasattr(mod, func):
                pytest.skip(f"{loader['function']} not available yet ({name})")
            assert isinstance(loader["args"], dict)


@needs_mirror
def test_registered_loader_calls_run_on_small_datasets():
    import importlib

    for name in ("endoscope_ophys_nwb", "hc_linear_track"):
        folder = fetch(name)
        for loader in registry()[name]["loaders"]:
            module, func = loader["function"].rsplit(".", 1)
            fn = getattr(importlib.import_module(module), func, None)
            if fn is None:
                pytest.skip(f"{loader['function']} not available yet")
            out = fn(folder / loader["file"], **loader["args"])
            assert out.ndim >= 1, (name, func)


def test_mirror_dir_is_the_folder_fetch_reads(tmp_path, monkeypatch):
    from neuronmf.datasets.registry import mirror_dir

    monkeypatch.setenv("NEURONMF_DATA_DIR", str(tmp_path / "mirror"))
    assert mirror_dir() == tmp_path / "mirror"  # named, even before it exists
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NEURONMF_DATA_DIR", "~/data")
    assert mirror_dir() == tmp_path / "data"
