"""Neural sequences as in seqNMF's demo (``generate_data.m``), with known W and H.

:func:`simulate_sequences` draws ``n_sequences`` sequences of
``neurons_per_sequence`` neurons each, a neuron every ``step`` frames; the
sequences occur at random, non-overlapping times (gaps of 1–100 frames after
each sequence's length, as seqNMF's generator), each occurrence with every
neuron taking part with probability ``participation`` and shifted by
round(N(0, ``jitter``)) frames. Background: an extra event in any bin with
probability ``noise``. ``kind="calcium"`` convolves the events with seqNMF's
calcium kernel exp(−t/10) (100 frames); ``kind="poisson"`` draws spike counts
with mean ``rate`` at each event (and ``noise`` elsewhere).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from neuronmf.errors import input_error

__all__ = ["SequenceSimulation", "simulate_sequences"]


class SequenceSimulation(NamedTuple):
    """The data (neuron, time) and the ground truth W (neuron, sequence, lag), H."""

    data: np.ndarray
    W: np.ndarray
    H: np.ndarray


def _kernel() -> np.ndarray:
    return np.exp(-np.arange(100) / 10.0)


def simulate_sequences(
    n_sequences: int = 3,
    neurons_per_sequence: int = 10,
    step: int = 3,
    n_frames: int = 3000,
    *,
    noise: float = 0.001,
    participation: float = 1.0,
    jitter: float = 0.0,
    kind: str = "calcium",
    rate: float = 3.0,
    seed=None,
) -> SequenceSimulation:
    """Simulated sequences (seqNMF demo) with the true factors.

    Examples
    --------
    >>> from neuronmf.datasets._neural_sequences import simulate_sequences
    >>> sim = simulate_sequences(seed=0)
    >>> sim.data.shape, sim.W.shape[:2], sim.H.shape
    ((30, 3000), (30, 3), (3, 3000))
    """
    if kind not in ("calcium", "poisson"):
        raise input_error("kind", "'calcium' or 'poisson'", repr(kind))
    for name, v in (("participation", participation), ("noise", noise)):
        if not 0 <= v <= 1:
            raise input_error(name, "a probability in [0, 1]", v)
    rng = np.random.default_rng(seed)
    S, n, T = n_sequences, neurons_per_sequence, n_frames
    N = S * n
    length = step * n
    # onsets: cumulative gaps (1..100 frames after a sequence's length)
    gaps = rng.integers(1, 101, size=S * 1000) + length
    onsets = np.cumsum(gaps)
    onsets = onsets[onsets < T - 2 * length]
    which = rng.integers(0, S, size=onsets.size)
    H = np.zeros((S, T))
    H[which, onsets] = 1.0
    events = np.zeros((N, T))
    for t0, s in zip(onsets, which, strict=True):
        members = np.arange(s * n, (s + 1) * n)
        times = t0 + step * np.arange(n)
        if jitter > 0:
            times = times + np.round(rng.normal(0, jitter, n)).astype(int)
        keep = rng.random(n) < participation
        times = np.clip(times, 0, T - 1)
        events[members[keep], times[keep]] += 1.0
    L = length + (100 if kind == "calcium" else 0)
    W = np.zeros((N, S, max(L, 1)))
    for s in range(S):
        for i in range(n):
            W[s * n + i, s, step * i] = 1.0
    if kind == "calcium":
        events = events + (rng.random((N, T)) < noise)
        kern = _kernel()
        data = np.zeros((N, T))
        for i in range(N):
            data[i] = np.convolve(events[i], kern)[:T]
        Wk = np.zeros_like(W)
        for s in range(S):
            for i in range(N):
                Wk[i, s] = np.convolve(W[i, s], kern)[:L]
        W = Wk
    else:
        data = rng.poisson(rate * events + noise).astype(np.float64)
        W = W * rate
    return SequenceSimulation(data=data, W=W, H=H)
