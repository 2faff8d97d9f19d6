"""Neural sequences in songbird HVC, and how they line up with the song.

The seqNMF paper's data set (Mackevicius et al. 2019): calcium activity of 75
HVC neurons in a singing zebra finch, 666 frames at 30 Hz, with the song's
spectrogram at 200 Hz (``$NEURONMF_DATA_DIR/songbird_hvc_seqnmf``). As in
seqNMF's demo, the first 75 % of the frames are fitted (K = 10 patterns of
L = 20 frames, L1 on W 0.1) and each pattern is tested on the last 25 %.

Then the song: syllable onsets are the rising crossings of the spectrogram's
power envelope over a threshold halfway (in log power) between silence and song.
For every significant sequence, each occurrence's lag to the nearest syllable
onset is compared with the same lags for the occurrences circularly shifted at
random (1,000 draws): a sequence locked to the song has its occurrences closer
to onsets than chance.

    python examples/songbird_sequences.py --out results/songbird
    python examples/songbird_sequences.py --x-ortho 0.005   # seqNMF demo's λ
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import xarray as xr

import neuronmf as nm
from neuronmf.plotting.sequences import plot_sequences

DATA = Path(os.environ.get("NEURONMF_DATA_DIR", "../shared/data"))


def load(data_dir: Path = DATA):
    """(time, neuron) activity at 30 Hz and the song spectrogram at 200 Hz."""
    d = np.load(data_dir / "songbird_hvc_seqnmf" / "hvc_neural_song.npz")
    rate, song_rate = float(d["video_fs"]), float(d["song_fs"])
    neural = d["neural"]  # (neuron, time)
    A = xr.DataArray(
        neural.T,
        dims=("time", "neuron"),
        coords={"time": np.arange(neural.shape[1]) / rate},
        attrs={"rate": rate, "activity_kind": "dff"},
        name="activity",
    )
    return A, d["song"], song_rate


def syllable_onsets(song: np.ndarray, song_rate: float, min_gap: float = 0.02):
    """Onset times (s): rising crossings of the log power envelope's midpoint."""
    env = np.log1p(song.sum(axis=0))
    quiet, loud = np.percentile(env, 10), np.percentile(env, 90)
    on = env > (quiet + loud) / 2
    rises = np.flatnonzero(on[1:] & ~on[:-1]) + 1
    gap = round(min_gap * song_rate)
    keep = [r for r in rises if not on[max(0, r - gap) : r].any()]
    return np.asarray(keep) / song_rate


def alignment(events, onsets, duration, n_null=1000, seed=0):
    """Median |lag| to the nearest onset, and its p against shifted events."""

    def stat(t):
        return np.median(np.min(np.abs(t[:, None] - onsets[None, :]), axis=1))

    observed = stat(events)
    rng = np.random.default_rng(seed)
    null = np.array(
        [stat((events + rng.uniform(0, duration)) % duration) for _ in range(n_null)]
    )
    return observed, (1 + np.sum(null <= observed)) / (1 + n_null), np.median(null)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--x-ortho", default="auto")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    x_ortho = args.x_ortho if args.x_ortho == "auto" else float(args.x_ortho)
    A, song, song_rate = load()
    ds = nm.assemblies.sequences(
        A, rank=10, lags=20, l1_W=0.1, x_ortho=x_ortho, kind="dff", seed=0
    )
    onsets = syllable_onsets(song, song_rate)
    duration = A.sizes["time"] / A.attrs["rate"]
    print(
        f"{A.sizes['neuron']} neurons x {A.sizes['time']} frames; λ = "
        f"{ds.attrs['x_ortho']:.3g} ({ds.attrs['x_ortho_rule']}); "
        f"{ds.attrs['n_significant']} significant of 10 patterns; "
        f"{onsets.size} syllable onsets in {duration:.1f} s"
    )
    print(f"p-values: {np.round(ds.p_value.values, 3).tolist()}")
    for k in np.flatnonzero(ds.significant.values):
        members = sorted(
            (int(i) for i in np.flatnonzero(ds.members.values[:, k])),
            key=lambda i: ds.peak_lag.values[i, k],
        )
        events = ds.event_time.values[ds.event_sequence.values == k]
        # the pattern is centred in its window: its content starts at H's peak
        obs, p, chance = alignment(events, onsets, duration)
        print(
            f"sequence {k}: {len(members)} neurons in firing order {members}; "
            f"{events.size} occurrences; median |lag| to a syllable onset "
            f"{1000 * obs:.0f} ms (chance {1000 * chance:.0f} ms, p = {p:.3f})"
        )
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        nm.io.save_netcdf(ds, args.out / "sequences.nc")
        fig = plot_sequences(ds, A)
        fig.savefig(args.out / "sequences.png", dpi=120)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
