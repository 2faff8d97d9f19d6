"""``neuronmf sequences``: planted sequences in, files and a readable summary out."""

from __future__ import annotations

import re

import numpy as np
import pytest

import neuronmf as nm
from neuronmf.cli.main import main


def test_sequences_command_writes_results_and_summary(tmp_path, capsys):
    sim = nm.datasets.simulate_sequences(n_frames=900, seed=0)
    src = tmp_path / "activity.npy"
    np.save(src, sim.data.T)  # (time, neuron): the longer axis is time
    out = tmp_path / "seq"
    args = ["--rank", "3", "--lags", "35", "--x-ortho", "0.005", "--kind", "dff"]
    assert main(["sequences", str(src), *args, "--rate", "30", "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"sequences.nc", "sequences.nwb", "sequences.png", "summary.txt"} <= names
    assert "x_ortho.png" not in names  # λ was given: no scan to draw
    summary = (out / "summary.txt").read_text()
    assert "significant sequences:" in summary
    assert "members in firing order" in summary
    back = nm.io.load_result(out / "sequences.nc")
    assert back.attrs["neuronmf_kind"] == "sequences"
    assert int(back.attrs["n_significant"]) >= 1
    assert "significant of 3" in capsys.readouterr().out


def test_sequences_command_refuses_bad_options(tmp_path, capsys):
    src = tmp_path / "a.npy"
    np.save(src, np.random.default_rng(0).random((300, 4)))
    # lags longer than half the training part: bad input (exit 3), no files
    code = main(["sequences", str(src), "--lags", "200", "--out", str(tmp_path / "o")])
    assert code == 3
    assert "lags must be at most half the training frames" in capsys.readouterr().err
    assert not (tmp_path / "o" / "sequences.nc").exists()
    with pytest.raises(SystemExit):
        main(["sequences", str(src), "--x-ortho", "big"])


def test_summary_lists_a_pattern_seen_once_as_not_significant(tmp_path):
    # seed 1: planted sequence 0 starts once; its pattern passes the held-out
    # test but must be listed as not significant, with the reason, and counts
    # must be singular when they are 1
    sim = nm.datasets.simulate_sequences(n_frames=900, seed=1)
    src = tmp_path / "activity.npy"
    np.save(src, sim.data.T)
    out = tmp_path / "seq"
    args = ["--rank", "4", "--lags", "35", "--x-ortho", "0.005", "--kind", "dff"]
    assert main(["sequences", str(src), *args, "--rate", "30", "--out", str(out)]) == 0
    summary = (out / "summary.txt").read_text()
    assert "significant sequences: 2 of 4" in summary
    assert "passed the held-out test but not significant: 1 of 4" in summary
    rejected = next(line for line in summary.splitlines() if "not significant," in line)
    assert "1 occurrence (0 in the held-out part)" in rejected
    assert "seen only once (a sequence must recur)" in rejected
    assert "none of its occurrences is in the held-out part" in rejected
    assert not re.search(r"\b1 (occurrences|members|bins)\b", summary), summary


@pytest.mark.parametrize(
    ("n", "word", "expected"),
    [
        (0, "occurrence", "0 occurrences"),
        (1, "occurrence", "1 occurrence"),
        (2, "member", "2 members"),
        (1, "bin", "1 bin"),
    ],
)
def test_counts_are_singular_or_plural(n, word, expected):
    from neuronmf.cli.sequences import _count

    assert _count(n, word) == expected


def test_kind_warning_names_the_cli_flag(tmp_path):
    # the package warns in Python spelling; the command shows its own flags
    import io
    import warnings

    from neuronmf.cli.main import _show_warning, build_parser

    rng = np.random.default_rng(0)
    X = rng.random((300, 6))  # non-integer, non-negative: the kind is inferred
    with pytest.warns(UserWarning) as caught:
        warnings.simplefilter("ignore", RuntimeWarning)
        nm.assemblies.sequences(X, rank=1, lags=5, x_ortho=0.0, max_iter=5)
    said = next(str(w.message) for w in caught if "Pass" in str(w.message))
    assert "kind='counts', 'fluorescence', 'dff' or 'deconvolved'" in said
    args = build_parser().parse_args(["sequences", str(tmp_path / "a.npy")])
    stream = io.StringIO()
    _show_warning({"args": args})(said, UserWarning, "f.py", 1, file=stream)
    shown = stream.getvalue()
    assert "--kind counts, fluorescence, dff or deconvolved" in shown, shown
    assert "'fluorescence'" not in shown and "kind=" not in shown, shown
