"""Every plotting function's figure is readable as saved.

Checked on each figure: every axes that shows data has an x and a y label; a label
of a quantity carries a unit in parentheses or brackets; several labelled series on
the same axes get a legend; nothing drawn lies outside the figure (no clipped
text); a figure that shows a subset says so.

Documented exceptions (see docs/assumptions.md, section "What people read"):
- categorical or counting axes (muscle, neuron, assembly, synergy, feature,
  component, rank, number of ..., iteration) name what they index, without unit;
- image axes are labelled in pixels, "x (px)" and "y (px)"; a gallery of image
  crops hides the panels' axes and labels the figure instead (``supxlabel``);
- a twin axis shares its partner's x label.
"""

from __future__ import annotations

import io
import re
import warnings

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import neuronmf as nm
from neuronmf.plotting import (
    assemblies,
    decoding,
    engine,
    imaging,
    rank,
    sequences,
    synergies,
)

UNIT = re.compile(r"[(\[][^)\]]+[)\]]")
CATEGORICAL = re.compile(
    r"^(muscle|neuron|assembly|synergy|feature|component|comp\.|rank|number of|"
    r"outer iteration|first set|second set|syn \d)",
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    syn = nm.synergies.extract(
        rng.random((400, 6)), ranks=range(1, 4), n_restarts=1, seed=0
    )
    sim_m = nm.datasets.simulate_movie((40, 40), 60, 5, 3.0, seed=0)
    seg = nm.imaging.segment(sim_m.data, neuron_radius=3.0)
    sim_a = nm.datasets.simulate_assemblies(
        n_neurons=12, n_assemblies=2, n_bins=400, seed=0
    )
    asm = nm.assemblies.detect(sim_a.data, rank=2, n_surrogates=0)
    X = rng.poisson(2.0, (300, 6)).astype(float)
    dec = nm.decoding.decode(
        X, X[:, 0] + rng.random(300), ranks=[1, 2], cv=3, inner_cv=2, n_null=3
    )
    res = nm.nmf(rng.random((8, 300)), 2, seed=0)
    V = rng.random((20, 2)) @ rng.random((2, 60))
    scan = nm.select_rank(V, [1, 2, 3], n_repeats=2, criteria=["stability"])
    sim_q = nm.datasets.simulate_sequences(n_frames=600, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        seq = nm.assemblies.sequences(
            sim_q.data.T, rank=3, lags=35, kind="dff", max_iter=30, seed=0
        )
    return {
        "seq": seq,
        "seq_activity": sim_q.data.T,
        "syn": syn,
        "seg": seg,
        "movie": sim_m.data,
        "asm": asm,
        "behavior": sim_a.behavior,
        "dec": dec,
        "res": res,
        "scan": scan,
    }


FIGURES = {
    "synergies.plot_synergies": lambda d: synergies.plot_synergies(d["syn"]),
    "synergies.plot_activations (cycles)": lambda d: synergies.plot_activations(
        d["syn"], points_per_cycle=100
    ),
    "synergies.plot_activations (time)": lambda d: synergies.plot_activations(d["syn"]),
    "synergies.plot_rank_curve": lambda d: synergies.plot_rank_curve(d["syn"]),
    "synergies.plot_similarity": lambda d: synergies.plot_similarity(
        nm.synergies.match(d["syn"], d["syn"], n_shuffles=0)
    ),
    "engine.plot_loss": lambda d: engine.plot_loss(d["res"]),
    "engine.plot_components": lambda d: engine.plot_components(
        d["res"], max_samples=100
    ),
    "imaging.plot_contours": lambda d: imaging.plot_contours(d["seg"], d["movie"]),
    "imaging.plot_traces": lambda d: imaging.plot_traces(d["seg"], n=2),
    "imaging.plot_footprints": lambda d: imaging.plot_footprints(d["seg"], n=2),
    "assemblies.plot_membership": lambda d: assemblies.plot_membership(d["asm"]),
    "assemblies.plot_activations": lambda d: assemblies.plot_activations(
        d["asm"], d["behavior"]
    ),
    "decoding.plot_predictions": lambda d: decoding.plot_predictions(d["dec"]),
    "decoding.plot_rank_scores": lambda d: decoding.plot_rank_scores(d["dec"]),
    "sequences.plot_sequences": lambda d: sequences.plot_sequences(
        d["seq"], d["seq_activity"]
    ),
    "sequences.plot_x_ortho": lambda d: sequences.plot_x_ortho(d["seq"]),
    "rank.plot_rank_scan": lambda d: rank.plot_rank_scan(d["scan"]),
    "rank.plot_component_intervals": lambda d: rank.plot_component_intervals(
        d["scan"], 2
    ),
}
# plotting/rank.py belongs to the rank-selection work (issue 20, item 3): its
# labels without units are reported there, not fixed here.
NOT_YET: set[str] = set()
# figures that show part of the data, and the note they must carry
SUBSETS = {
    "engine.plot_components": "showing 100 of 300 samples",
    "imaging.plot_traces": "showing 2 of",
    "imaging.plot_footprints": "showing 2 of",
}


def _has_data(ax) -> bool:
    return bool(ax.lines or ax.images or ax.collections or ax.patches)


def _siblings(ax):
    return [
        a
        for a in ax.figure.axes
        if a is not ax
        and (a.get_shared_x_axes().joined(a, ax) or a.bbox.bounds == ax.bbox.bounds)
    ]


def _labelled(ax) -> list[str]:
    _, labels = ax.get_legend_handles_labels()
    return [lab for lab in labels if not lab.startswith("_")]


def _problems(fig) -> list[str]:
    found = []
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            label = ax.get_ylabel() or ax.get_xlabel()
            if not UNIT.search(label):
                found.append(f"colorbar label {label!r} has no unit")
            continue
        if not _has_data(ax):
            continue
        title = ax.get_title() or "axes"
        if not ax.axison:
            sup = [getattr(fig, f"_sup{k}label", None) for k in "xy"]
            if not all(s is not None and UNIT.search(s.get_text()) for s in sup):
                found.append(f"{title}: hidden axes and no figure labels with units")
            continue
        twins = [a for a in _siblings(ax) if a.bbox.bounds == ax.bbox.bounds]
        for which, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())):
            if which == "x" and not label and any(t.get_xlabel() for t in twins):
                continue
            if not label:
                found.append(f"{title}: no {which} label")
            elif not (UNIT.search(label) or CATEGORICAL.match(label)):
                found.append(f"{title}: {which} label {label!r} has no unit")
        labelled = _labelled(ax) + [lab for t in twins for lab in _labelled(t)]
        has_legend = ax.get_legend() or any(t.get_legend() for t in twins)
        if len(labelled) > 1 and not (has_legend or fig.legends):
            found.append(f"{title}: {len(labelled)} labelled series, no legend")
    renderer = fig.canvas.get_renderer()
    tight = fig.get_tightbbox(renderer)
    w, h = fig.get_size_inches()
    tol = 0.02
    if tight.x0 < -tol or tight.y0 < -tol or tight.x1 > w + tol or tight.y1 > h + tol:
        found.append(f"drawn outside the figure: {tight.bounds} vs {(w, h)}")
    return found


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_is_readable(data, name):
    if name in NOT_YET:
        pytest.xfail("plotting/rank.py: labels without units (owned elsewhere)")
    fig = FIGURES[name](data)
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=60)  # as saved, no bbox_inches rescue
        assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
        assert _problems(fig) == []
        texts = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
        if name in SUBSETS:
            assert any(SUBSETS[name] in t for t in texts), texts
        else:
            assert not any(t.startswith("showing ") for t in texts)
    finally:
        plt.close(fig)


def test_the_checks_catch_an_unreadable_figure():
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, 1], label="a")
    ax.plot([0, 1], [1, 0], label="b")
    ax.set_xlabel("time")
    ax.set_ylabel("a very long label that cannot fit " * 3)
    problems = _problems(fig)
    plt.close(fig)
    assert any("x label 'time' has no unit" in p for p in problems)
    assert any("no legend" in p for p in problems)
    assert any("outside the figure" in p for p in problems)
