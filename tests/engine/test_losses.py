import numpy as np

from neuronmf.engine.losses import frobenius_objective, squared_residual


def test_gram_trick_equals_explicit_residual():
    rng = np.random.default_rng(0)
    for _ in range(50):
        m, n, r = rng.integers(2, 40, size=3)
        V, W, H = rng.random((m, n)), rng.random((m, r)), rng.random((r, n))
        direct = np.sum((V - W @ H) ** 2)
        gram = squared_residual(np.sum(V**2), W, V @ H.T, W.T @ W, H @ H.T)
        assert abs(gram - direct) <= 1e-10 * max(direct, 1.0)


def test_gram_trick_never_negative_at_exact_fit():
    rng = np.random.default_rng(1)
    for _ in range(50):
        W, H = rng.random((20, 3)), rng.random((3, 30))
        V = W @ H
        assert squared_residual(np.sum(V**2), W, V @ H.T, W.T @ W, H @ H.T) >= 0.0


def test_objective():
    V = np.array([[1.0, 2.0], [3.0, 4.0]])
    W = np.array([[1.0], [1.0]])
    H = np.array([[1.0, 2.0]])
    assert frobenius_objective(V, W, H) == 0.5 * (0 + 0 + 4 + 4)
    assert frobenius_objective(V, W, H, l1_W=1.0, l2_H=2.0) == 4.0 + 2.0 + 5.0


# --- the loss registry (issue 22 item 1) ---------------------------------------

import pytest  # noqa: E402

import neuronmf as nm  # noqa: E402
from neuronmf.engine import losses  # noqa: E402
from neuronmf.engine.losses import LossSpec  # noqa: E402


@pytest.mark.parametrize(
    "spelling, name",
    [
        ("frobenius", "frobenius"),
        ("kl", "kl"),
        ("kullback-leibler", "kl"),
        ("KL", "kl"),
        (2, "frobenius"),
        (1.0, "kl"),
    ],
)
def test_every_accepted_spelling_resolves_to_one_spec(spelling, name):
    spec = losses.get(spelling)
    assert isinstance(spec, LossSpec) and spec.name == name
    assert losses.get(spec) is spec


def test_spec_holds_what_the_engine_reads():
    frob, kl = losses.get("frobenius"), losses.get("kl")
    assert (frob.scale_power, kl.scale_power) == (2.0, 1.0)
    assert (frob.default_solver, kl.default_solver) == ("hals", "ccd")
    assert (frob.chunked_solvers, kl.chunked_solvers) == (("hals",), ("mu",))
    assert kl.positive_start and not frob.positive_start
    assert frob.exact_projection and not kl.exact_projection
    from neuronmf.engine.solvers import SOLVERS

    assert SOLVERS["kl"] is kl.solvers


def test_unknown_loss_is_refused_with_the_accepted_spellings():
    with pytest.raises(nm.InputError, match=r"loss must be one of 'frobenius', 'kl'"):
        losses.get("poisson")
    with pytest.raises(nm.InputError, match="kullback-leibler"):
        nm.nmf(np.ones((3, 4)), 1, loss="poisson")


def test_nmf_accepts_aliases_and_numbers_and_stores_the_canonical_name():
    rng = np.random.default_rng(0)
    V = rng.random((6, 2)) @ rng.random((2, 30))
    a = nm.nmf(V, 2, loss="kl", seed=0, max_iter=30, tol=0)
    b = nm.nmf(V, 2, loss="kullback-leibler", seed=0, max_iter=30, tol=0)
    c = nm.nmf(V, 2, loss=1, seed=0, max_iter=30, tol=0)
    assert a.loss_history == b.loss_history == c.loss_history
    assert c.params["loss"] == "kl"


def test_spec_gradient_matches_finite_differences():
    rng = np.random.default_rng(2)
    V, WH = rng.random((4, 5)) + 0.1, rng.random((4, 5)) + 0.5
    mask = rng.random((4, 5)) > 0.3
    for name in losses.names():
        spec = losses.get(name)
        D = spec.gradient(V, WH, mask)
        E = np.zeros_like(WH)
        E[1, 2] = 1e-6
        numeric = (
            spec.divergence(V, WH + E, mask) - spec.divergence(V, WH - E, mask)
        ) / 2e-6
        assert D[1, 2] == pytest.approx(numeric, rel=1e-5, abs=1e-9), name


def test_no_branch_on_a_loss_name_outside_the_loss_modules():
    """The engine reads what it needs from the spec (issue 22 item 1)."""
    import ast
    from pathlib import Path

    import neuronmf.engine

    root = Path(neuronmf.engine.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        if "losses" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare) and any(
                isinstance(c, ast.Constant) and c.value in ("kl", "frobenius")
                for c in [node.left, *node.comparators]
            ):
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders


def test_the_dask_path_imports_losses_never_solver_drivers():
    import ast
    from pathlib import Path

    import neuronmf.engine.chunked as chunked

    tree = ast.parse(Path(chunked.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
    solver_imports = {m for m in imported if m.startswith("neuronmf.engine.solvers")}
    # only compiled kernels (modules named _*_kernels), never a driver
    assert all(m.rsplit(".", 1)[-1].endswith("_kernels") for m in solver_imports)
    assert any(m.startswith("neuronmf.engine.losses") for m in imported)
