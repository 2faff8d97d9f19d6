"""The documentation site builds with warnings as errors (``mkdocs build --strict``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mkdocs_build_strict(tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (site / "index.html").is_file()
    # the API reference was rendered from the docstrings, not left as ':::' text
    api = (site / "api" / "engine" / "index.html").read_text(encoding="utf-8")
    assert 'id="neuronmf.nmf"' in api
    assert ":::" not in api
    # the command-line page holds the live --help of every command
    cli = (site / "cli" / "index.html").read_text(encoding="utf-8")
    assert "neuronmf demo --help" in cli
