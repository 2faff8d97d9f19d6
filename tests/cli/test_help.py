"""What people read on the command line: defaults in --help, flags in errors."""

from __future__ import annotations

import argparse
import re

import numpy as np
import pandas as pd
import pytest

from neuronmf.cli._common import flag_names, name_flags
from neuronmf.cli.main import _shown_default, build_parser, main


def _subparsers(parser):
    action = next(
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    )
    return action.choices


def _option_block(text: str, option: str) -> str:
    """The lines of ``--help`` output that describe ``option`` (one line here)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"\s+(-\w, )?{re.escape(option)}\b", line):
            block = [line]
            for nxt in lines[i + 1 :]:
                if re.match(r"\s{2}-", nxt) or not nxt.startswith("   "):
                    break
                block.append(nxt)
            return " ".join(block)
    raise AssertionError(f"{option} not in help:\n{text}")


def _commands():
    parser = build_parser()
    return [("neuronmf", parser), *sorted(_subparsers(parser).items())]


@pytest.mark.parametrize(
    ("name", "parser"), _commands(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_help_shows_every_default(monkeypatch, name, parser):
    monkeypatch.setenv("COLUMNS", "2000")  # no wrapping inside a value
    text = parser.format_help()
    checked = 0
    for action in parser._actions:
        if (
            not action.option_strings
            or action.nargs == 0  # flags: off unless given
            or action.default in (None, argparse.SUPPRESS)
        ):
            continue
        block = _option_block(text, max(action.option_strings, key=len))
        after = block.split("default", 1)
        assert len(after) == 2, f"{name} {action.option_strings}: {block}"
        for part in _shown_default(action.default).split():
            assert part in after[1] or f"({part})" in block, (name, block)
        checked += 1
    if name in ("synergies", "rank", "decode", "segment"):
        assert checked >= 4  # the test looked at something


def test_hand_written_default_is_not_repeated(monkeypatch):
    monkeypatch.setenv("COLUMNS", "2000")
    text = _subparsers(build_parser())["synergies"].format_help()
    assert "(default: 20 450)" not in text and "(default 20 450)" in text
    assert _option_block(text, "--restarts").endswith("NMF restarts (default: 10)")


# ------------------------------------------------------------ errors name flags
def test_flag_names_come_from_the_parser():
    flags = flag_names(_subparsers(build_parser())["segment"])
    assert flags["radius"] == "--radius"
    assert flags["neuron_radius"] == "--radius"  # the keyword segment passes it as
    assert "input" not in flags and "help" not in flags


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "rate must be consistent with the file's sampling rate (1000 Hz); got "
            "500.0. Leave rate=None to use the file's times.",
            "--rate must be consistent with the file's sampling rate (1000 Hz); got "
            "500.0. Leave --rate unset to use the file's times.",
        ),
        ("Pass rank=3 or rank='auto'.", "Pass --rank 3 or --rank auto."),
        ("bin_width must be > 0; got -1.", "--bin-width must be > 0; got -1."),
        ("use `rate` instead", "use --rate instead"),
        # a path, a column name and plain words are not flags
        (
            "file /data/bin_width.csv has column 'bin_width'; the rate is 5.",
            "file /data/bin_width.csv has column 'bin_width'; the rate is 5.",
        ),
        # an on/off flag, and a list of names (load_emg's messages)
        ("Pass resample=True to fill gaps.", "Pass --resample to fill gaps."),
        ("or pass channels=[...] to keep", "or pass --channels NAME ... to keep"),
    ],
)
def test_name_flags(message, expected):
    flags = {"rate": "--rate", "rank": "--rank", "bin_width": "--bin-width"}
    flags |= {"resample": "--resample", "channels": "--channels"}
    assert name_flags(message, flags) == expected


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    import neuronmf as nm

    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    emg = d / "emg.csv"
    pd.DataFrame(
        {"time": np.arange(50) / 100, "a": rng.random(50), "b": rng.random(50)}
    ).to_csv(emg, index=False)
    sim = nm.datasets.simulate_assemblies(
        n_neurons=8, n_assemblies=2, n_bins=200, seed=0
    )
    spikes = sim.to_nwb(d / "spikes.nwb", overwrite=True)
    movie = nm.datasets.simulate_movie((24, 24), 20, 2, 3.0, seed=0)
    return {"emg": emg, "spikes": spikes, "movie": movie.to_nwb(d / "movie.nwb")}


# one per command that takes options; each message came out with Python keywords
@pytest.mark.parametrize(
    ("argv", "flag", "keyword"),
    [
        (["synergies", "emg", "--rate", "0"], "--rate must be", "rate must"),
        (
            ["decode", "spikes", "--bin-width", "-1", "--behavior", "position"],
            "--bin-width must be",
            "bin_width",
        ),
        (["assemblies", "spikes", "--bin-width", "0"], "--bin-width", "bin_width"),
        (
            ["rank", "spikes", "--kind", "activity", "--bin-width", "0"],
            "--bin-width",
            "bin_width",
        ),
        (["segment", "movie", "--radius", "-3"], "--radius must be", "neuron_radius"),
        (["segment", "movie", "--patch", "2"], "4 × --radius", "neuron_radius"),
    ],
    ids=lambda v: v[0] if isinstance(v, list) else None,
)
def test_cli_errors_name_flags(inputs, tmp_path, capsys, argv, flag, keyword):
    argv = [str(inputs.get(a, a)) for a in argv] + ["--out", str(tmp_path / "o")]
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert flag in err, err
    assert keyword not in err.replace(flag, ""), err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_cli_uses_io_suffix_table():
    """One format table: the CLI's suffixes are io's, without importing xarray early."""
    import neuronmf.cli._common as cli_common
    from neuronmf.io import _common as io_common

    assert cli_common.TABLE_SUFFIXES is io_common.TABLE_SUFFIXES
    assert cli_common.NETCDF_SUFFIXES is io_common.NETCDF_SUFFIXES
    assert set(io_common.TABLE_SUFFIXES) == set(io_common._TABLE_SUFFIXES)
    assert {".csv", ".tsv", ".txt"} <= set(cli_common.TABLE_SUFFIXES)


def test_the_program_shows_a_warning_as_one_line_with_flags():
    """`neuronmf CMD: warning: ...`, the command's flags for Python keywords,
    no source path; other categories keep their name."""
    import argparse
    import io

    from neuronmf.cli.main import _show_warning

    args = argparse.Namespace(
        command="imaging", option_flags={"neuropil": "--neuropil"}
    )
    show = _show_warning({"args": args})
    out = io.StringIO()
    show(UserWarning("F0 <= 0. Use neuropil='estimate'."), UserWarning, "x.py", 3, out)
    show(RuntimeWarning("overflow"), RuntimeWarning, "x.py", 4, out)
    assert out.getvalue().splitlines() == [
        "neuronmf imaging: warning: F0 <= 0. Use --neuropil estimate.",
        "neuronmf imaging: warning (RuntimeWarning): overflow",
    ]
