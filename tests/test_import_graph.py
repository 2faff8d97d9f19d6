"""The import graph of ``neuronmf/``: no cycle, and no import against the flow.

The flow (DESIGN.md) runs one way: the base (``errors``, ``_threads``) → io →
engine → model_selection → the domains (synergies, imaging, assemblies,
decoding) → plotting and the CLI; ``datasets`` sits beside model_selection (it
may use io and the engine). The package's own ``__init__`` (the public API)
sits with the CLI, which calls it. The graph is read from the source with
:mod:`ast` (nothing is imported), counting module-level and function-level
imports alike, so a lazy import inside a function cannot hide a cycle or a
backwards edge.

Known violations are listed by name in :data:`KNOWN_CYCLES` and
:data:`KNOWN_BACKWARD`, each with the issue-22 item that removes it; the test
fails on any new one, and on a listed one that has gone (so the list shrinks).
One rule allows an upward edge: a result's ``plot``/``plot_*`` method may
import ``neuronmf.plotting`` inside the method and delegate to it, as xarray's
``.plot`` does (:func:`plot_delegations`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import neuronmf

PACKAGE_DIR = Path(neuronmf.__file__).resolve().parent
ROOT = "neuronmf"

#: Layer of each top-level part of the package; an import may go to the same
#: layer or a lower one, never a higher one.
LAYERS: dict[str, int] = {
    "errors": 0,
    "_threads": 0,
    "_provenance": 0,
    "io": 1,
    "engine": 2,
    "model_selection": 3,
    "datasets": 3,
    "synergies": 4,
    "imaging": 4,
    "assemblies": 4,
    "decoding": 4,
    "plotting": 5,
    "cli": 5,
    # neuronmf/__init__.py, the public API: the CLI calls it (issue 22 item 7)
    "": 5,
}

#: Cycles known today (as sorted tuples of module names), with what removes them.
KNOWN_CYCLES: dict[tuple[str, ...], str] = {}

#: Imports from a lower layer to a higher one known today, with what removes them.
KNOWN_BACKWARD: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of a dotted name that is one of the package's modules."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _plot_method_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes inside a class's ``plot``/``plot_*`` methods."""
    inside: set[int] = set()
    for cls in ast.walk(tree):
        if not isinstance(cls, ast.ClassDef):
            continue
        for method in cls.body:
            if isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef) and (
                method.name == "plot" or method.name.startswith("plot_")
            ):
                inside.update(id(n) for n in ast.walk(method))
    return inside


def _imports(
    name: str, modules: dict[str, Path], *, skip_plot_methods: bool = False
) -> set[str]:
    """The package modules that module ``name`` imports (anywhere in its body).

    ``skip_plot_methods``: leave out the imports inside a class's ``plot`` /
    ``plot_*`` methods (see :func:`plot_delegations`).
    """
    tree = ast.parse(modules[name].read_text(encoding="utf-8"))
    package = name if _is_package(name, modules) else name.rpartition(".")[0]
    skipped = _plot_method_nodes(tree) if skip_plot_methods else set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                base_name = ".".join(base + ([node.module] if node.module else []))
            else:
                base_name = node.module or ""
            # `from pkg import sub` imports the module pkg.sub if there is one
            targets = [f"{base_name}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] != ROOT:
                continue
            resolved = _resolve(target, modules)
            if resolved is not None and resolved != name:
                found.add(resolved)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports."""
    modules = _modules()
    return {name: _imports(name, modules) for name in modules}


def find_cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """Every elementary cycle found by depth-first search, as sorted module tuples."""
    cycles: set[tuple[str, ...]] = set()
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.add(tuple(sorted(stack[stack.index(nxt) :])))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return sorted(cycles)


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1] if len(parts) > 1 else ""]


def plot_delegations() -> set[tuple[str, str]]:
    """Upward edges allowed by the one rule for them: plot methods delegate.

    A result object's ``plot``/``plot_*`` method may import
    ``neuronmf.plotting`` inside the method and hand itself over (as xarray's
    ``DataArray.plot`` does): the result keeps its plotting API, the layer
    below never imports matplotlib, and drawing lives in ``plotting``. An edge
    is allowed only when *every* import behind it sits in such a method and
    points into ``neuronmf.plotting``; a module-level or other function-level
    import of plotting from a lower layer is still a backward edge. The edges
    stay in :func:`import_graph`, so they still count for cycles.
    """
    modules = _modules()
    allowed: set[tuple[str, str]] = set()
    for name in modules:
        lazy = _imports(name, modules) - _imports(name, modules, skip_plot_methods=True)
        allowed |= {
            (name, dst)
            for dst in lazy
            if dst == f"{ROOT}.plotting" or dst.startswith(f"{ROOT}.plotting.")
        }
    return allowed


def backward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted(
        (src, dst)
        for src, targets in graph.items()
        for dst in targets
        if layer(dst) > layer(src)
    )


def test_every_part_of_the_package_has_a_layer():
    missing = {m.split(".")[1] for m in _modules() if "." in m} - set(LAYERS)
    assert not missing, f"add these parts of neuronmf to LAYERS: {sorted(missing)}"


def test_the_graph_sees_lazy_and_relative_imports():
    graph = import_graph()
    # module level
    assert "neuronmf.engine.losses" in graph["neuronmf.engine.chunked"]
    # inside a function (the root package imports its engine lazily)
    assert "neuronmf.engine" in graph["neuronmf"]
    # the finder reports a planted cycle and a planted backward edge
    planted = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycles(planted) == [("a", "b", "c")]
    assert backward_imports(
        {"neuronmf.io.x": {"neuronmf.cli.y"}, "neuronmf.cli.y": set()}
    ) == [("neuronmf.io.x", "neuronmf.cli.y")]


def test_no_import_cycle():
    cycles = find_cycles(import_graph())
    new = [c for c in cycles if c not in KNOWN_CYCLES]
    assert not new, "import cycles: " + "; ".join(" <-> ".join(c) for c in new)
    gone = [c for c in KNOWN_CYCLES if c not in cycles]
    assert not gone, f"remove from KNOWN_CYCLES (fixed): {gone}"


def test_a_results_plot_method_may_delegate_to_plotting_and_nothing_else():
    # the rule (issue 22 item 3): RankScan.plot imports neuronmf.plotting.rank
    # inside the method; that edge is allowed, and only that kind of edge
    assert ("neuronmf.model_selection.scan", "neuronmf.plotting.rank") in (
        plot_delegations()
    )
    planted = ast.parse(
        "import neuronmf.plotting.engine\n"
        "def plot(x):\n    import neuronmf.plotting.rank\n"
        "class R:\n"
        "    def plot(self):\n        import neuronmf.plotting.imaging\n"
        "    def summary(self):\n        import neuronmf.plotting.decoding\n"
    )
    inside = _plot_method_nodes(planted)
    lazy = [
        alias.name
        for node in ast.walk(planted)
        if isinstance(node, ast.Import) and id(node) in inside
        for alias in node.names
    ]
    assert lazy == ["neuronmf.plotting.imaging"]


def test_no_import_from_a_lower_layer_to_a_higher_one():
    delegations = plot_delegations()
    edges = [e for e in backward_imports(import_graph()) if e not in delegations]
    new = [e for e in edges if e not in KNOWN_BACKWARD]
    assert not new, "imports against the flow: " + "; ".join(
        f"{a} -> {b}" for a, b in new
    )
    gone = [e for e in KNOWN_BACKWARD if e not in edges]
    assert not gone, f"remove from KNOWN_BACKWARD (fixed): {gone}"


def test_the_dask_path_imports_losses_not_solvers():
    # issue 22 item 1: the dask path (engine/chunked.py) takes its losses from
    # engine.losses; before, it imported kl_divergence from solvers/mu.py, which
    # imports chunked (the package's only engine cycle).
    uses = import_graph()["neuronmf.engine.chunked"]
    assert "neuronmf.engine.losses" in uses
    solvers = {m for m in uses if m.startswith("neuronmf.engine.solvers")}
    # the fused HALS block step is a Numba kernel (no driver, no import back)
    assert solvers <= {"neuronmf.engine.solvers._hals_kernels"}, solvers
