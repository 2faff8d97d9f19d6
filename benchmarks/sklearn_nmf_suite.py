"""scikit-learn's own ``NMF`` tests, run against ``neuronmf.NMF`` (issue 25, item 1).

Runs ``sklearn/decomposition/tests/test_nmf.py`` of the *installed* scikit-learn
with pytest, with the name ``NMF`` bound to ``neuronmf.NMF``, and prints how many
of its public-``NMF`` tests pass. The test file is read where scikit-learn is
installed and is never copied: its code is not ours to commit.

How the name is rebound
-----------------------
A small pytest plugin, written to a temporary directory at run time, wraps the
collection of that one module: while pytest imports it, the attribute
``sklearn.decomposition.NMF`` is ``neuronmf.NMF`` (restored right after), so the
module's ``from sklearn.decomposition import NMF`` and every
``@pytest.mark.parametrize([... NMF ...])`` list evaluated at import hold
``neuronmf.NMF``. ``MiniBatchNMF``, ``non_negative_factorization`` and the private
module ``sklearn.decomposition._nmf`` (whose functions build *its own* ``NMF``)
stay scikit-learn's. The plugin then checks, per collected test, that the
module's ``NMF`` is ``neuronmf.NMF`` and fails the run otherwise.

Which tests are counted (selection rule)
----------------------------------------
Decided from the test file's syntax tree (read at run time), per test function:

1. *Run*: the function's body uses the name ``NMF``, or the function is
   parametrized over ``Estimator`` with ``NMF`` among the values. Of an
   ``Estimator``-parametrized function only the cases with ``Estimator=NMF`` run
   (the ``MiniBatchNMF`` cases are deselected). Every other test
   (``MiniBatchNMF``-only, ``non_negative_factorization``-only, the private
   helpers ``_initialize_nmf``, ``_beta_divergence``, ``_special_sparse_dot``)
   is deselected: it does not touch the public estimator.
2. *Counted*: a run test whose name does not name another entry point
   (``non_negative_factorization``, ``minibatch``). A test *named* for another
   entry point is that entry point's test: with scikit-learn 1.9 these are
   ``test_non_negative_factorization_consistency`` (24 cases; asserts that
   ``NMF`` reproduces ``non_negative_factorization``'s numbers to rtol 1e-7) and
   ``test_nmf_minibatchnmf_equivalence`` (7 cases; ``NMF(solver="mu")`` equal to
   ``MiniBatchNMF`` with a full batch). With ``NMF`` rebound they only measure
   whether neuronmf reproduces scikit-learn's own solver trajectories digit for
   digit; they are run and reported apart ("not counted"), never in the count.
   Tests named for ``NMF`` that also call scikit-learn's other entry points
   (``test_parameter_checking``, ``test_nmf_true_reconstruction``,
   ``test_nmf_custom_init_dtype_error``) are counted: their other calls run
   scikit-learn's own code, which passes, so their outcome is decided by
   ``neuronmf.NMF``.

With scikit-learn 1.9.1 the rule counts 161 cases from 19 functions (listed in
the JSON under ``selection``); the script recomputes it for whatever version is
installed. ``--reference`` checks the harness itself: it binds scikit-learn's own
``NMF`` instead, and then all 161 counted and all 31 uncounted cases pass (1.9.1).

Output
------
Prints the counted tests, passed, failed, the failures grouped by cause (the
first line of the error) and the uncounted tests' outcome; writes a JSON summary
(per-test outcome, error's first lines and where it was raised) to
``benchmarks/results/sklearn_nmf_suite.json``. Pytest runs in one process.

Usage::

    python benchmarks/sklearn_nmf_suite.py [--list-failures]
        [--pythonpath OTHER_TREE] [--label TEXT] [--reference]
        [--out benchmarks/results/sklearn_nmf_suite.json]

``--list-failures`` lists every failing test under its cause. ``--pythonpath``
puts another source tree first on the path (e.g. a ``git archive <commit>``
export) to measure that instead of the installed ``neuronmf``; ``--label`` records
what it is (an export has no git metadata).
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "sklearn_nmf_suite.json"
OTHER_ENTRY_POINTS = ("non_negative_factorization", "minibatch")
PLUGIN_NAME = "_sksuite_plugin"

PLUGIN = r'''
"""Run-time pytest plugin of benchmarks/sklearn_nmf_suite.py (not committed)."""
import json
import os
import sys

import pytest

_SEL = json.loads(open(os.environ["SKSUITE_SELECTION"], encoding="utf-8").read())
_TARGET = os.path.realpath(_SEL["test_file"])
_ROLES = {}
_RECORDS = {}
_INFO = {"deselected": 0}


def _is_target(path):
    return os.path.realpath(str(path)) == _TARGET


def _candidate():
    """The class bound to NMF: neuronmf's (scikit-learn's own with --reference)."""
    if os.environ.get("SKSUITE_REFERENCE"):
        import sklearn.decomposition._nmf as sk_nmf

        return sk_nmf.NMF
    import neuronmf

    return neuronmf.NMF


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    if not (isinstance(collector, pytest.Module) and _is_target(collector.path)):
        return (yield)
    import sklearn.decomposition as decomposition

    original = decomposition.NMF
    decomposition.NMF = _candidate()
    try:
        return (yield)
    finally:
        decomposition.NMF = original


def pytest_collection_modifyitems(session, config, items):
    import sklearn.decomposition._nmf as sk_nmf

    candidate = _candidate()
    keep, drop = [], []
    for item in items:
        module = getattr(item, "module", None)
        if module is None or not _is_target(module.__file__):
            drop.append(item)
            continue
        if module.NMF is not candidate:
            raise pytest.UsageError(f"NMF was not rebound to {candidate}")
        if module.MiniBatchNMF is not sk_nmf.MiniBatchNMF:
            raise pytest.UsageError("MiniBatchNMF is not scikit-learn's")
        role = _SEL["functions"].get(item.originalname)
        callspec = getattr(item, "callspec", None)
        estimator = callspec.params.get("Estimator") if callspec else None
        if role is None or (estimator is not None and estimator is not candidate):
            drop.append(item)
            continue
        _ROLES[item.nodeid] = role
        keep.append(item)
    items[:] = keep
    _INFO["deselected"] = len(drop)
    if drop:
        config.hook.pytest_deselected(items=drop)


def _crash(report):
    longrepr = report.longrepr
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message, f"{crash.path}:{crash.lineno}"
    if isinstance(longrepr, tuple):  # skip: (path, lineno, reason)
        return str(longrepr[2]), f"{longrepr[0]}:{longrepr[1]}"
    return str(longrepr), ""


def pytest_runtest_logreport(report):
    if report.nodeid not in _ROLES:
        return
    record = _RECORDS.setdefault(
        report.nodeid, {"role": _ROLES[report.nodeid], "outcome": None}
    )
    if report.when == "call":
        record["outcome"] = report.outcome
        record["duration"] = round(report.duration, 3)
    elif report.failed:  # setup/teardown error
        record["outcome"] = "error"
    elif report.skipped and report.when == "setup":
        record["outcome"] = "skipped"
    if report.failed or report.skipped:
        message, where = _crash(report)
        record.setdefault("message", message)
        record.setdefault("where", where)


def pytest_sessionfinish(session, exitstatus):
    import neuronmf

    out = {
        "records": _RECORDS,
        "deselected": _INFO["deselected"],
        "neuronmf_file": neuronmf.__file__,
        "neuronmf_version": getattr(neuronmf, "__version__", "unknown"),
        "exitstatus": int(exitstatus),
    }
    with open(os.environ["SKSUITE_OUTCOMES"], "w", encoding="utf-8") as f:
        json.dump(out, f)
'''


def sklearn_test_file() -> Path:
    import sklearn

    path = Path(sklearn.__file__).parent / "decomposition" / "tests" / "test_nmf.py"
    if not path.is_file():
        sys.exit(f"scikit-learn's test file is not installed: {path}")
    return path


def _names(nodes) -> set[str]:
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name)}


def _estimator_parametrized(func: ast.FunctionDef) -> bool:
    """True when a parametrize decorator lists ``Estimator`` with ``NMF``."""
    for deco in func.decorator_list:
        if not (isinstance(deco, ast.Call) and deco.args):
            continue
        argnames = ast.unparse(deco.args[0])
        if "Estimator" in argnames and "NMF" in _names(deco.args[1:]):
            return True
    return False


def select(test_file: Path) -> dict:
    """The selection rule of the module docstring, applied to ``test_file``."""
    tree = ast.parse(test_file.read_text(encoding="utf-8"))
    functions, skipped = {}, {}
    for func in tree.body:
        if not (isinstance(func, ast.FunctionDef) and func.name.startswith("test")):
            continue
        body = _names(func.body)
        uses = sorted(
            body & {"NMF", "MiniBatchNMF", "non_negative_factorization", "nmf"}
        )
        if "NMF" not in body and not _estimator_parametrized(func):
            skipped[func.name] = uses
            continue
        lowered = func.name.lower()
        named_other = any(word in lowered for word in OTHER_ENTRY_POINTS)
        functions[func.name] = "uncounted" if named_other else "counted"
    return {"functions": functions, "not_run": skipped}


def git_info(neuronmf_file: str) -> dict:
    root = Path(neuronmf_file).resolve().parent.parent
    info = {"source": str(root)}
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "neuronmf"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        info.update(commit=commit, neuronmf_dirty=bool(dirty))
    except (OSError, subprocess.CalledProcessError):
        info.update(commit=None, neuronmf_dirty=None)
    return info


def first_line(message: str) -> str:
    """The error's first line (``"AssertionError:"`` alone: with the next line)."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[0]
    if line.endswith(":") and len(lines) > 1:  # e.g. assert_allclose's message
        line = f"{line} {lines[1]}"
    return re.sub(r" at 0x[0-9a-f]+", "", line)


def run_pytest(
    test_file: Path, selection: dict, pythonpath: str | None, reference: bool = False
) -> dict:
    site = test_file.parents[3]  # .../site-packages (parent of sklearn/)
    with tempfile.TemporaryDirectory(prefix="sksuite_") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / f"{PLUGIN_NAME}.py").write_text(PLUGIN, encoding="utf-8")
        (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        sel_file = tmp_path / "selection.json"
        sel_file.write_text(
            json.dumps({"test_file": str(test_file), **selection}), encoding="utf-8"
        )
        out_file = tmp_path / "outcomes.json"
        env = dict(os.environ)
        paths = [tmp] + ([pythonpath] if pythonpath else [])
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        env.update(
            PYTHONPATH=os.pathsep.join(paths),
            SKSUITE_SELECTION=str(sel_file),
            SKSUITE_OUTCOMES=str(out_file),
            PYTHONDONTWRITEBYTECODE="1",
        )
        if reference:
            env["SKSUITE_REFERENCE"] = "1"
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            str(test_file),
            "-p",
            PLUGIN_NAME,
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-c",
            str(tmp_path / "pytest.ini"),
            f"--rootdir={site}",
            f"--confcutdir={site}",
            "-q",
            "--tb=line",
            "-o",
            "console_output_style=count",
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True)
        elapsed = time.perf_counter() - t0
        if not out_file.exists() or proc.returncode not in (0, 1):
            sys.stdout.write(proc.stdout[-4000:])
            sys.stderr.write(proc.stderr[-4000:])
            sys.exit(f"pytest did not complete (exit code {proc.returncode})")
        outcomes = json.loads(out_file.read_text(encoding="utf-8"))
    outcomes["seconds"] = round(elapsed, 1)
    outcomes["command"] = " ".join(cmd[1:]).replace(tmp, "<tmp>")
    return outcomes


def entry_of(record: dict, roots: list) -> dict:
    """One test's JSON entry: outcome, cause, where raised, the error's head."""
    entry = {k: v for k, v in record.items() if k not in ("message", "where")}
    message = record.get("message")
    if message:
        entry["cause"] = first_line(message)
        entry["message_head"] = "\n".join(message.splitlines()[:6])
        where = record.get("where", "")
        for root in roots:  # neuronmf's tree, then site-packages
            where = where.replace(str(root).rstrip("/") + "/", "")
        entry["where"] = where
    return entry


def summarise(records: dict, role: str) -> dict:
    mine = {k: v for k, v in records.items() if v["role"] == role}
    passed = sorted(k for k, v in mine.items() if v["outcome"] == "passed")
    skipped = sorted(k for k, v in mine.items() if v["outcome"] == "skipped")
    failed = sorted(k for k in mine if k not in passed and k not in skipped)
    groups: dict[str, list[str]] = {}
    for nodeid in failed:
        groups.setdefault(first_line(mine[nodeid].get("message", "")), []).append(
            nodeid.split("::", 1)[-1]
        )
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return {
        "tests": len(mine),
        "passed": len(passed),
        "failed": len(failed),
        "skipped": len(skipped),
        "pass_rate": round(len(passed) / len(mine), 4) if mine else None,
        "failures_by_cause": [
            {"cause": cause, "count": len(ids), "tests": ids} for cause, ids in ordered
        ],
    }


def print_summary(title: str, s: dict, list_failures: bool) -> None:
    rate = f" ({100 * s['pass_rate']:.1f} %)" if s["pass_rate"] is not None else ""
    print(
        f"{title}: {s['tests']}   passed: {s['passed']}{rate}   "
        f"failed: {s['failed']}   skipped: {s['skipped']}"
    )
    if s["failures_by_cause"]:
        print("  failures by cause (first line of the error):")
    for group in s["failures_by_cause"]:
        print(f"  {group['count']:4d}  {group['cause']}")
        if list_failures:
            for test in group["tests"]:
                print(f"          - {test}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--list-failures", action="store_true", help="list each failing test"
    )
    p.add_argument("--pythonpath", default=None, help="source tree to measure")
    p.add_argument("--out", default=None, help=f"JSON summary (default {RESULTS})")
    p.add_argument(
        "--reference",
        action="store_true",
        help="check the harness: bind scikit-learn's own NMF (no JSON by default)",
    )
    p.add_argument(
        "--label", default=None, help="what was measured (e.g. the exported commit)"
    )
    args = p.parse_args()

    import numpy
    import pytest
    import scipy
    import sklearn

    test_file = sklearn_test_file()
    selection = select(test_file)
    outcomes = run_pytest(test_file, selection, args.pythonpath, args.reference)
    records = outcomes["records"]
    counted = summarise(records, "counted")
    uncounted = summarise(records, "uncounted")
    source = git_info(outcomes["neuronmf_file"])
    if args.label:
        source["label"] = args.label

    print(
        f"scikit-learn {sklearn.__version__} {test_file.name} with NMF = "
        + (
            "scikit-learn's own NMF (--reference) "
            if args.reference
            else "neuronmf.NMF "
        )
        + f"(neuronmf {outcomes['neuronmf_version']} from {source['source']}"
        + (f" @ {source['commit']}" if source.get("commit") else "")
        + (" + uncommitted changes" if source.get("neuronmf_dirty") else "")
        + (f", {args.label}" if args.label else "")
        + f"); {outcomes['seconds']} s"
    )
    print_summary("counted tests", counted, args.list_failures)
    print_summary("not counted (named for another entry point)", uncounted, True)

    summary = {
        "what": "scikit-learn's test_nmf.py against neuronmf.NMF (issue 25, item 1)",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "versions": {
            "scikit-learn": sklearn.__version__,
            "neuronmf": outcomes["neuronmf_version"],
            "numpy": numpy.__version__,
            "scipy": scipy.__version__,
            "pytest": pytest.__version__,
            "python": platform.python_version(),
        },
        "neuronmf_source": source,
        "test_file": str(test_file),
        "pytest_command": outcomes["command"],
        "seconds": outcomes["seconds"],
        "selection": {
            "rule": (
                "run: test functions whose body uses NMF or that are parametrized "
                "over Estimator with NMF (only the Estimator=NMF cases); counted: "
                "those not named for another entry point "
                f"({', '.join(OTHER_ENTRY_POINTS)}); see the script's docstring"
            ),
            "counted_functions": sorted(
                k for k, v in selection["functions"].items() if v == "counted"
            ),
            "uncounted_functions": sorted(
                k for k, v in selection["functions"].items() if v == "uncounted"
            ),
            "not_run_functions": selection["not_run"],
            "deselected_cases": outcomes["deselected"],
        },
        "counted": counted,
        "not_counted": uncounted,
        "tests": {
            nodeid.split("::", 1)[-1]: entry_of(
                rec, [source["source"], test_file.parents[3]]
            )
            for nodeid, rec in sorted(records.items())
        },
    }
    if args.reference and args.out is None:
        return
    summary["reference_run"] = args.reference
    out = Path(args.out or RESULTS)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
