"""Neural sequences in songbird HVC, and how they line up with the song.

The seqNMF paper's data set (Mackevicius et al. 2019): calcium activity of 75
HVC neurons in a singing zebra finch, 666 frames at 30 Hz, with the song's
spectrogram at 200 Hz (``$NEURONMF_DATA_DIR/songbird_hvc_seqnmf``). As in
seqNMF's demo, the first 75 % of the frames are fitted (K = 10 patterns of
L = 20 frames, L1 on W 0.1) and each pattern is tested on the last 25 %.

Then the song: for every significant sequence, the song (log spectrogram) in
the pattern's window after each occurrence is correlated between occurrences
and compared with random times (500 draws). A sequence locked to the song sees
the same stretch of song each time it occurs.

    python examples/songbird_sequences.py --out results/songbird  # seqNMF's λ 0.005
    python examples/songbird_sequences.py --x-ortho auto    # λ by the cost crossover
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import xarray as xr

import neuronmf as nm
from neuronmf.plotting.sequences import plot_sequences

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("NEURONMF_DATA_DIR", REPO.parent / "shared" / "data"))


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


def song_consistency(events, song, song_rate, window, n_null=500, seed=0):
    """How alike the song is after each occurrence, against random times.

    The log spectrogram in ``window`` seconds after each occurrence, centred and
    scaled, correlated between every pair of occurrences; the mean correlation
    against the same for as many random times (``n_null`` draws). A sequence
    locked to the song sees the same song segment every time it occurs.
    Returns (mean correlation, chance median, p, occurrences used).
    """
    logs = np.log1p(song)
    n = round(window * song_rate)

    def stat(times):
        idx = (np.asarray(times) * song_rate).astype(int)
        idx = idx[(idx >= 0) & (idx + n <= logs.shape[1])]
        if idx.size < 2:
            return np.nan, idx.size
        X = np.stack([logs[:, i : i + n].ravel() for i in idx])
        X = X - X.mean(axis=1, keepdims=True)
        X /= np.linalg.norm(X, axis=1, keepdims=True) + 1e-12
        C = X @ X.T
        return float(C[np.triu_indices(idx.size, 1)].mean()), idx.size

    observed, used = stat(events)
    if used < 2:
        return np.nan, np.nan, np.nan, used
    rng = np.random.default_rng(seed)
    end = logs.shape[1] / song_rate - window
    null = np.array([stat(rng.uniform(0, end, used))[0] for _ in range(n_null)])
    return (
        observed,
        float(np.median(null)),
        (1 + np.sum(null >= observed)) / (1 + n_null),
        used,
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--x-ortho", default="0.005")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    x_ortho = args.x_ortho if args.x_ortho == "auto" else float(args.x_ortho)
    A, song, song_rate = load()
    ds = nm.assemblies.sequences(
        A, rank=10, lags=20, l1_W=0.1, x_ortho=x_ortho, kind="dff", seed=0
    )
    duration = A.sizes["time"] / A.attrs["rate"]
    print(
        f"{A.sizes['neuron']} neurons x {A.sizes['time']} frames; λ = "
        f"{ds.attrs['x_ortho']:.3g} ({ds.attrs['x_ortho_rule']}); "
        f"{ds.attrs['n_significant']} significant of 10 patterns; "
        f"{duration:.1f} s of song"
    )
    print(f"p-values: {np.round(ds.p_value.values, 3).tolist()}")
    for k in np.flatnonzero(ds.significant.values):
        members = sorted(
            (int(i) for i in np.flatnonzero(ds.members.values[:, k])),
            key=lambda i: ds.peak_lag.values[i, k],
        )
        events = ds.event_time.values[ds.event_sequence.values == k]
        r, chance, p, used = song_consistency(
            events, song, song_rate, ds.sizes["lag"] / A.attrs["rate"]
        )
        print(
            f"sequence {k}: {len(members)} neurons in firing order {members}; "
            f"{events.size} occurrences; song after them alike: r = {r:.2f} "
            f"(random times {chance:.2f}, p = {p:.3f}, {used} occurrences)"
        )
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        nm.io.save_netcdf(ds, args.out / "sequences.nc")
        fig = plot_sequences(ds, A)
        fig.savefig(args.out / "sequences.png", dpi=120)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
