"""`import neuronmf` sets GOMP_SPINCOUNT=0 unless the user set it (docs/engine.md)."""

import os
import subprocess
import sys


def _spincount(env: dict) -> str:
    code = "import os, neuronmf; print(os.environ['GOMP_SPINCOUNT'])"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_sets_spin_count_zero():
    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    assert _spincount(env) == "0"


def test_import_keeps_the_users_spin_count():
    env = {**os.environ, "GOMP_SPINCOUNT": "5000"}
    assert _spincount(env) == "5000"
