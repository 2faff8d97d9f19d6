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
