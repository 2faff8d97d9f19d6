"""``neuronmf demo``: the whole package on one simulated session, or on real data.

The default simulates one session with known ground truth — 16-muscle EMG with 5
planted synergies, a two-photon movie with planted neurons, and spiking activity
with assemblies that drive a behavioural variable — writes it as NWB, then reads
those files back with :mod:`neuronmf.io` and runs synergy extraction,
segmentation, assembly detection and decoding on them. The output folder gets the
results (NetCDF and NWB), PNG figures, ``summary.txt`` and ``report.html``, which
shows the figures with the numbers measured against the truth.

``--real`` does the same on the real recordings of the data mirror
(``NEURONMF_DATA_DIR``): the santuz raw EMG trial, a crop of the neurofinder
movie with its 330 annotated neurons, and the hippocampal tetrode units with the
animal's position.
"""

from __future__ import annotations

import argparse
import html
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def __getattr__(name: str):
    """``simulate_synergy_envelopes`` moved to :mod:`neuronmf.datasets` (deprecated)."""
    if name == "simulate_synergy_envelopes":
        warnings.warn(
            "neuronmf.cli.demo.simulate_synergy_envelopes is deprecated; import it "
            "from neuronmf.datasets (the same function).",
            DeprecationWarning,
            stacklevel=2,
        )
        from neuronmf.datasets import simulate_synergy_envelopes

        return simulate_synergy_envelopes
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


EXAMPLE = """examples:
  neuronmf demo                       # simulated session into ./neuronmf-demo
  neuronmf demo --out /tmp/demo --seed 1
  NEURONMF_DATA_DIR=../shared/data neuronmf demo --real"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run every part of neuronmf on a simulated session and write a report",
        description="Simulate a session with known ground truth (EMG, a calcium "
        "movie, spikes with behaviour), write it as NWB, run synergies, "
        "segmentation, assemblies and decoding on the files, and write results, "
        "figures and report.html into the output folder.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out",
        default="neuronmf-demo",
        type=Path,
        help="output folder (default: ./neuronmf-demo)",
    )
    parser.add_argument("--seed", default=0, type=int, help="random seed (default 0)")
    parser.add_argument(
        "--real",
        action="store_true",
        help="use the real recordings found through NEURONMF_DATA_DIR",
    )
    parser.set_defaults(func=run)


@dataclass
class Metric:
    """One reported number, with the target it is judged against."""

    label: str
    value: float
    target: str = ""
    ok: bool | None = None

    def text(self) -> str:
        value = f"{self.value:.3f}" if isinstance(self.value, float) else self.value
        mark = "" if self.ok is None else (" ✓" if self.ok else " ✗")
        target = f" (target {self.target})" if self.target else ""
        return f"{self.label}: {value}{target}{mark}"


@dataclass
class Stage:
    """What one part of the demo produced."""

    title: str
    metrics: list[Metric] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def _save(fig, path: Path, stage: Stage) -> None:
    from neuronmf.cli._common import save_figure  # atomic; closes the figure

    stage.figures.append(save_figure(fig, path))


def _write_results(ds, out: Path, name: str, stage: Stage, nwb: bool = True) -> None:
    from neuronmf.cli._common import write_results  # io.save_netcdf / io.save_nwb

    stage.files.extend(write_results(ds, out, name, nwb=nwb))


def _synergy_outputs(syn, ctx: dict, stage: Stage) -> Stage:
    from neuronmf.plotting import synergies as plots

    out = ctx["out"]
    _write_results(syn, out, "synergies", stage)
    _save(plots.plot_synergies(syn), out / "synergy_weights.png", stage)
    _save(plots.plot_activations(syn), out / "synergy_activations.png", stage)
    _save(plots.plot_rank_curve(syn), out / "synergy_rank_curve.png", stage)
    return stage


def _segmentation_outputs(seg, movie, ctx: dict, stage: Stage) -> Stage:
    from neuronmf.plotting import imaging as plots

    out = ctx["out"]
    _write_results(seg, out, "segmentation", stage)
    _save(plots.plot_contours(seg, movie), out / "segmentation_contours.png", stage)
    _save(plots.plot_traces(seg), out / "segmentation_traces.png", stage)
    return stage


def _assembly_outputs(asm, behavior, ctx: dict, stage: Stage) -> Stage:
    from neuronmf.plotting import assemblies as plots

    out = ctx["out"]
    _write_results(asm, out, "assemblies", stage)
    _save(plots.plot_membership(asm), out / "assembly_membership.png", stage)
    _save(
        plots.plot_activations(asm, behavior), out / "assembly_activations.png", stage
    )
    return stage


# --------------------------------------------------------------------- simulated


def synergies_stage(ctx: dict) -> Stage:
    import neuronmf as nm

    stage = Stage("Muscle synergies from raw EMG")
    sim = nm.datasets.simulate_emg(n_muscles=16, n_synergies=5, seed=ctx["seed"])
    path = sim.to_nwb(ctx["session"] / "emg.nwb", overwrite=True)
    raw = nm.io.load_emg(path)
    env = nm.synergies.envelope(raw, cycles=sim.truth["cycle_start"].values)
    syn = nm.synergies.extract(env, rank="auto", seed=ctx["seed"])
    # the envelope divides each muscle by its own scale: compare in those units
    scale = env["scale"].rename(channel="muscle").drop_vars("channel", errors="ignore")
    truth = sim.truth["synergies"] / scale
    match = nm.synergies.match(syn, truth, n_shuffles=200)
    rank = int(syn.attrs["rank"])
    stage.metrics += [
        Metric("automatic rank (curve-fit rule)", rank, "5", rank == 5),
        Metric("VAF", float(syn["vaf"]), ">= 0.90", float(syn["vaf"]) >= 0.90),
        Metric(
            "mean cosine to the planted synergies",
            float(match.attrs["mean"]),
            ">= 0.95",
            float(match.attrs["mean"]) >= 0.95,
        ),
        Metric("chance level of that cosine", float(match.attrs["chance"])),
    ]
    return _synergy_outputs(syn, ctx, stage)


def segmentation_stage(ctx: dict) -> Stage:
    import neuronmf as nm

    stage = Stage("Neurons from a two-photon movie")
    radius = 4.0
    sim = nm.datasets.simulate_movie(
        shape=(64, 64),
        n_frames=300,
        n_neurons=20,
        neuron_radius=radius,
        seed=ctx["seed"],
    )
    path = sim.to_nwb(ctx["session"] / "movie.nwb", overwrite=True)
    movie = nm.io.load_movie(path)
    seg = nm.imaging.segment(movie, neuron_radius=radius)
    score = nm.imaging.score(seg, sim.truth["masks"])
    stage.metrics += [
        Metric("neurons found / planted", f"{seg.sizes['neuron']} / 20"),
        Metric("precision", float(score["precision"])),
        Metric("recall", float(score["recall"])),
        Metric(
            "F1 (IoU matching)", float(score["f1"]), ">= 0.9", float(score["f1"]) >= 0.9
        ),
    ]
    return _segmentation_outputs(seg, movie, ctx, stage)


def assemblies_stage(ctx: dict) -> Stage:
    import neuronmf as nm
    from neuronmf.model_selection import match_components

    stage = Stage("Neural assemblies in spiking activity")
    sim = nm.datasets.simulate_assemblies(seed=ctx["seed"])
    path = sim.to_nwb(ctx["session"] / "spikes.nwb", overwrite=True)
    bin_width = float(sim.data.attrs["bin_width"])
    activity = nm.io.load_activity(path, bin_width=bin_width)
    behavior = nm.io.load_behavior(path, times=activity["time"].values)
    ctx["activity"], ctx["behavior"] = activity, behavior
    # 50 surrogates (each an NMF refit): p resolves to 1/51 < 0.05, in half the time
    asm = nm.assemblies.detect(activity, n_surrogates=50, seed=ctx["seed"])
    planted = sim.truth["membership"].values
    found = asm["membership"].values
    k = planted.shape[1]
    similarity = np.nan
    if found.shape[1] >= k:
        similarity = match_components(planted, found).mean
    n_sig = int(asm["significant"].sum())
    stage.metrics += [
        Metric("significant assemblies / planted", f"{n_sig} / {k}"),
        Metric(
            "mean cosine of memberships to the planted ones",
            float(similarity),
            ">= 0.9",
            bool(similarity >= 0.9),
        ),
    ]
    return _assembly_outputs(asm, behavior, ctx, stage)


def decoding_stage(ctx: dict) -> Stage:
    import neuronmf as nm
    from neuronmf.plotting import decoding as plots

    stage = Stage("Decoding behaviour from NMF activations")
    dec = nm.decoding.decode(
        ctx["activity"],
        ctx["behavior"],
        ranks=range(1, 9),
        lags=2,
        seed=ctx["seed"],
    )
    null95 = float(np.percentile(dec.null_scores, 95))
    stage.metrics += [
        Metric("chosen rank (inner CV)", str(dec.rank)),
        Metric(
            "decoding R² (outer folds)",
            float(dec.score),
            f"> null 95th percentile {null95:.3f}",
            float(dec.score) > null95,
        ),
    ]
    out = ctx["out"]
    _write_results(dec.to_dataset(), out, "decoding", stage, nwb=False)
    _save(plots.plot_predictions(dec), out / "decoding_predictions.png", stage)
    _save(plots.plot_rank_scores(dec), out / "decoding_rank_scores.png", stage)
    return stage


# -------------------------------------------------------------------------- real


REAL_DATASETS = ("santuz_gait_emg", "neurofinder_subset", "hc_linear_track")


def _data_dir() -> Path:
    """The offline mirror of the registry (``NEURONMF_DATA_DIR``), checked first."""
    from neuronmf.datasets.registry import mirror_dir
    from neuronmf.errors import input_error

    root = mirror_dir()
    if root is None or not all((root / name).is_dir() for name in REAL_DATASETS):
        raise input_error(
            "NEURONMF_DATA_DIR",
            f"a folder holding the real recordings ({', '.join(REAL_DATASETS)})",
            "unset" if root is None else str(root),
            "Point NEURONMF_DATA_DIR at the data mirror, or run the demo without "
            "--real.",
        )
    return root


def real_synergies_stage(ctx: dict) -> Stage:
    import neuronmf as nm

    stage = Stage("Muscle synergies: santuz treadmill walking, trial ID0012_TW_01")
    folder = nm.datasets.fetch("santuz_gait_emg", data_dir=ctx["data"]) / "csv"
    raw = nm.io.load_emg(folder / "ID0012_TW_01_raw_emg.csv")
    from neuronmf.cli.synergies import _read_cycles  # what --cycles reads

    cycles = _read_cycles(folder / "ID0012_TW_01_gait_cycles.csv")[:, 0]
    env = nm.synergies.envelope(raw, cycles=cycles)
    syn = nm.synergies.extract(env, rank="auto", seed=ctx["seed"])
    stage.metrics += [
        Metric("muscles × cycles", f"{raw.sizes['channel']} × {len(cycles) - 1}"),
        Metric("automatic rank (curve-fit rule)", int(syn.attrs["rank"])),
        Metric("VAF", float(syn["vaf"]), ">= 0.90", float(syn["vaf"]) >= 0.90),
    ]
    return _synergy_outputs(syn, ctx, stage)


def real_segmentation_stage(ctx: dict) -> Stage:
    import neuronmf as nm

    stage = Stage("Neurons: neurofinder two-photon movie, 256 × 256 crop")
    folder = nm.datasets.fetch("neurofinder_subset", data_dir=ctx["data"])
    movie = nm.io.load_movie(folder / "images", lazy=True)[:, :256, :256]
    truth = nm.io.load_regions(folder / "regions" / "regions.json", (512, 512)).values
    truth = truth[:, :256, :256]
    truth = truth[truth.sum(axis=(1, 2)) >= 20]
    seg = nm.imaging.segment(movie, neuron_radius=5)
    score = nm.imaging.score(seg, truth)
    stage.metrics += [
        Metric("neurons found / annotated", f"{seg.sizes['neuron']} / {len(truth)}"),
        Metric("precision", float(score["precision"])),
        Metric("recall", float(score["recall"])),
        Metric("F1 (IoU matching)", float(score["f1"])),
    ]
    return _segmentation_outputs(seg, movie, ctx, stage)


def real_assemblies_stage(ctx: dict) -> Stage:
    import neuronmf as nm

    stage = Stage("Assemblies: hippocampal tetrode units on a linear track")
    folder = nm.datasets.fetch("hc_linear_track", data_dir=ctx["data"])
    path = folder / "spikes_flat_and_position.npz"
    activity = nm.io.load_activity(path, bin_width=0.1)
    behavior = nm.io.load_behavior(
        path, series="position", times=activity["time"].values
    ).sel(axis="x", drop=True)
    # decode position while the animal runs (0.5 s-smoothed speed >= 15 px/s), in
    # the run session (the recording ends with rest), as in docs/decoding.md
    running = nm.decoding.min_speed(behavior, 15.0).values
    run_session = slice(0, int(np.flatnonzero(running)[-1]) + 1)
    activity = activity.isel(time=run_session)
    behavior = behavior.isel(time=run_session).where(running[run_session])
    ctx["activity"], ctx["behavior"] = activity, behavior
    asm = nm.assemblies.detect(activity, seed=ctx["seed"])
    stage.metrics += [
        Metric(
            "units × bins", f"{activity.sizes['neuron']} × {activity.sizes['time']}"
        ),
        Metric(
            "components / significant assemblies",
            f"{asm.attrs['rank']} / {int(asm['significant'].sum())}",
        ),
    ]
    return _assembly_outputs(asm, behavior, ctx, stage)


# ------------------------------------------------------------------------ report


def write_report(out: Path, stages: list[Stage], title: str) -> Path:
    """``report.html``: every stage's numbers and figures (written atomically)."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "td,th{padding:2px 10px;text-align:left}img{max-width:100%}"
        ".ok{color:#070}.bad{color:#b00}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for stage in stages:
        parts.append(f"<h2>{html.escape(stage.title)}</h2>")
        parts.append("<table><tr><th>measure</th><th>value</th><th>target</th></tr>")
        for m in stage.metrics:
            value = f"{m.value:.3f}" if isinstance(m.value, float) else str(m.value)
            css = "" if m.ok is None else (" class='ok'" if m.ok else " class='bad'")
            mark = "" if m.ok is None else (" ✓" if m.ok else " ✗")
            parts.append(
                f"<tr><td>{html.escape(m.label)}</td><td{css}>{html.escape(value)}"
                f"{mark}</td><td>{html.escape(m.target)}</td></tr>"
            )
        parts.append("</table>")
        files = ", ".join(f"<a href='{f.name}'>{f.name}</a>" for f in stage.files)
        if files:
            parts.append(f"<p>results: {files} ({stage.seconds:.1f} s)</p>")
        for fig in stage.figures:
            parts.append(f"<p><img src='{fig.name}' alt='{fig.stem}'></p>")
    parts.append("</body></html>")
    from neuronmf.io._atomic import write_atomic  # unique temp: no race

    return write_atomic(out / "report.html", "\n".join(parts))


STAGES: dict[bool, list[Callable[[dict], Stage]]] = {
    False: [synergies_stage, segmentation_stage, assemblies_stage, decoding_stage],
    True: [
        real_synergies_stage,
        real_segmentation_stage,
        real_assemblies_stage,
        decoding_stage,
    ],
}


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")

    from neuronmf.errors import input_error

    if args.seed < 0:  # before any work: every simulator needs a seed >= 0
        raise input_error("--seed", "an integer >= 0", args.seed, "Pass e.g. --seed 0.")
    out: Path = args.out
    ctx: dict = {"seed": args.seed, "out": out, "session": out / "session"}
    if args.real:
        ctx["data"] = _data_dir()
    out.mkdir(parents=True, exist_ok=True)
    ctx["session"].mkdir(exist_ok=True)
    kind = "the real recordings" if args.real else "a simulated session"
    print(f"neuronmf demo: {kind}; output in {out}", flush=True)
    stages = []
    start = time.perf_counter()
    plan = STAGES[bool(args.real)]
    for i, step in enumerate(plan, 1):
        t0 = time.perf_counter()
        print(
            f"[{i}/{len(plan)}] {step.__name__.replace('_stage', '')} ...", flush=True
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stage = step(ctx)
        stage.seconds = time.perf_counter() - t0
        stages.append(stage)
        print(f"      {stage.title} ({stage.seconds:.1f} s)")
        for metric in stage.metrics:
            print(f"      {metric.text()}", flush=True)
    report = write_report(out, stages, f"neuronmf demo on {kind}")
    lines = [
        f"# {stage.title}\n" + "\n".join(m.text() for m in stage.metrics)
        for stage in stages
    ]
    from neuronmf.cli._common import write_summary  # unique temp: no race

    write_summary(out, lines, sep="\n\n")
    print(f"neuronmf demo: done in {time.perf_counter() - start:.0f} s; open {report}")
    return 0
