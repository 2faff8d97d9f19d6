"""The commands are thin: every file they write goes through one helper."""

from __future__ import annotations

import ast
from pathlib import Path

import neuronmf.cli

CLI_DIR = Path(neuronmf.cli.__file__).resolve().parent

#: Calls that write a file by hand; the commands use io.save_netcdf / io.save_nwb
#: (``cli._common.write_results``), ``save_figure``, ``write_summary`` and
#: ``io._atomic.write_atomic``, all through the one atomic-write helper.
HAND_WRITES = {
    "to_netcdf",
    "to_csv",
    "savefig",
    "write_text",
    "write_bytes",
    "mkstemp",
    "NamedTemporaryFile",
    "replace",
    "rename",
}


def _hand_writes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else getattr(func, "id", "")
            )
            owner = func.value if isinstance(func, ast.Attribute) else None
            if name in ("replace", "rename") and not (
                isinstance(owner, ast.Name) and owner.id == "os"
            ):
                continue  # str.replace, DataArray.rename: not file operations
            if name in HAND_WRITES:
                found.append(f"{path.name}:{node.lineno} {name}")
            if name == "open" and any(
                isinstance(a, ast.Constant)
                and isinstance(a.value, str)
                and "w" in a.value
                for a in node.args[1:2]
            ):
                found.append(f"{path.name}:{node.lineno} open(..., 'w')")
    return found


def test_commands_write_only_through_the_helpers():
    modules = sorted(p for p in CLI_DIR.glob("*.py") if p.name != "_common.py")
    assert {p.stem for p in modules} >= {"demo", "synergies", "decode", "rank"}
    offenders = [hit for path in modules for hit in _hand_writes(path)]
    assert offenders == []


def test_the_check_sees_a_hand_written_netcdf(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def run(ds, p):\n    ds.to_netcdf(p)\n    open(p, 'w')\n")
    assert _hand_writes(bad) == ["bad.py:2 to_netcdf", "bad.py:3 open(..., 'w')"]
