import numpy as np

from neuronmf.cli.main import EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE, main


def test_demo_writes_figures_and_recovers_the_planted_synergies(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo")]) == EXIT_OK
    out = capsys.readouterr().out
    for name in ("synergies.png", "convergence.png", "summary.txt"):
        assert (tmp_path / "demo" / name).stat().st_size > 0
    summary = (tmp_path / "demo" / "summary.txt").read_text()
    mean_cos = float(summary.split("(mean ")[1].split(")")[0])
    assert mean_cos >= 0.95
    assert "VAF" in out


def test_no_command_prints_help_and_returns_usage(capsys):
    assert main([]) == EXIT_USAGE
    assert "demo" in capsys.readouterr().out


def test_bad_input_exits_3_with_one_line(monkeypatch, capsys):
    import neuronmf as nm
    from neuronmf.cli import demo

    def bad(*a, **k):
        return nm.nmf(-np.ones((3, 3)), 1)

    monkeypatch.setattr(demo, "simulate_synergy_envelopes", lambda seed: bad())
    assert main(["demo"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "V must be non-negative" in err[0]
