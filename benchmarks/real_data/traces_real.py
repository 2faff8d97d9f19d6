"""``imaging.traces`` and ``imaging.deconvolve`` on the real data sets.

Usage::

    python benchmarks/real_data/traces_real.py neurofinder   # segment + traces
    python benchmarks/real_data/traces_real.py nwb           # the endoscope NWB

``neurofinder``: ``segment`` (defaults, radius 5 px) on neurofinder_subset
(200 frames, 512 x 512; frame rate unknown, 7 Hz assumed as in
bench_suite2p.py), then ``traces`` with each neuropil mode; reports the
coefficient, the annulus sizes, how many neurons have a defined ΔF/F, the spike
statistics, and for neurons matched to the 330 annotated ROIs vs the others.

``nwb``: the CNMF-E-style endoscope file (15 ROIs x 250 frames at 10 Hz) has
``RoiResponseSeries`` (F), ``Deconvolved`` and ``Neuropil`` from another
pipeline; ``deconvolve`` runs on F and on F − 0.7·Neuropil (as suite2p
deconvolves) and its spikes are compared with the file's.

One JSON line per run is appended to ``benchmarks/results/traces_real.jsonl``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

DATA = Path(os.environ.get("NEURONMF_DATA_DIR", "/work/shared/data"))
OUT = Path(__file__).resolve().parents[1] / "results" / "traces_real.jsonl"


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def neurofinder() -> list[dict]:
    import neuronmf as nm

    mov = nm.io.load_movie(DATA / "neurofinder_subset" / "images")
    truth = nm.io.load_regions(DATA / "neurofinder_subset", mov.shape[1:])
    cache = os.environ.get("TRACES_REAL_SEG")  # a NetCDF of the segmentation, reused
    t0 = time.perf_counter()
    cached = bool(cache) and Path(cache).exists()
    if cached:
        seg = nm.io.load_result(cache)
    else:
        seg = nm.imaging.segment(mov, neuron_radius=5.0)
        if cache:
            nm.io.save_netcdf(seg, cache)
    t_seg = time.perf_counter() - t0
    sc = nm.imaging.score(seg, truth)
    matched = np.zeros(seg.sizes["neuron"], bool)
    pairs = sc.get("matches", sc.get("pairs"))
    if pairs is not None:
        matched[np.asarray(pairs)[:, 0].astype(int)] = True
    rows = []
    for mode in ("fixed", "estimate", "none"):
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = nm.imaging.traces(seg, mov, neuropil=mode, rate=7.0)
        dt = time.perf_counter() - t0
        ok = out["dff_valid"].values
        s = out["spikes"].values
        rate = np.where(ok, (s > 0).sum(1) / out.sizes["time"], np.nan)
        amp = np.nanmax(np.where(ok[:, None], s, np.nan), axis=1)
        corr_nmf = [
            _corr(out["fluorescence"].values[i], seg["traces"].values[i])
            for i in range(len(ok))
        ]
        # neuropil contamination shows as correlation between nearby neurons
        R = np.corrcoef(out["fluorescence"].values[ok])
        cen = seg["centroid"].values[ok]
        dist = np.hypot(*(cen[:, None, :] - cen[None, :, :]).transpose(2, 0, 1))
        iu = np.triu_indices(len(R), 1)
        near = dist[iu] < 30
        rows.append(
            {
                "data": "neurofinder_subset",
                "neuropil": mode,
                "seconds_segment": None if cached else round(t_seg, 1),
                "seconds_traces": round(dt, 2),
                "n_neurons": len(ok),
                "f1_iou": float(sc["f1"]),
                "n_matched": int(matched.sum()),
                "dff_valid": int(ok.sum()),
                "warnings": [str(w.message)[:120] for w in caught],
                "alpha_median": float(np.median(out["neuropil_coefficient"])),
                "alpha_q10_q90": np.percentile(
                    out["neuropil_coefficient"], [10, 90]
                ).tolist(),
                "neuropil_pixels_median": float(np.median(out["neuropil_pixels"])),
                "spike_frame_fraction_median_matched": float(
                    np.nanmedian(rate[matched & ok])
                )
                if (matched & ok).any()
                else None,
                "spike_frame_fraction_median_unmatched": float(
                    np.nanmedian(rate[~matched & ok])
                )
                if (~matched & ok).any()
                else None,
                "max_spike_over_noise_median": float(
                    np.nanmedian(amp / out["spike_noise"].values)
                ),
                "decay_g_median": float(np.nanmedian(out["spike_g1"])),
                "corr_corrected_vs_nmf_trace_median": float(np.nanmedian(corr_nmf)),
                "pairwise_corr_median_near_30px": float(np.nanmedian(R[iu][near])),
                "pairwise_corr_median_far": float(np.nanmedian(R[iu][~near])),
                "dff_median_peak": float(
                    np.nanmedian(np.nanmax(out["dff"].values, axis=1))
                ),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def nwb() -> list[dict]:
    import pynwb

    from neuronmf.imaging.deconvolve import deconvolve

    path = DATA / "endoscope_ophys_nwb" / "nwb_test.nwb"
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        ophys = io.read().processing["ophys"]
        fl = ophys["Fluorescence"]
        F = np.asarray(fl["RoiResponseSeries"].data[:], float).T
        theirs = np.asarray(fl["Deconvolved"].data[:], float).T
        neuropil = np.asarray(fl["Neuropil"].data[:], float).T
        accepted = np.asarray(
            ophys["ImageSegmentation"]["PlaneSegmentation"]["Accepted"][:]
        )
    rows = []
    inputs = {"F": F, "F-0.7N": F - 0.7 * neuropil}
    for (label, Y), model in [(i, m) for i in inputs.items() for m in ("ar1", "ar2")]:
        t0 = time.perf_counter()
        res = deconvolve(Y, model=model)
        dt = time.perf_counter() - t0
        s = res["spikes"].values
        corr = [_corr(s[i], theirs[i]) for i in range(len(F))]
        rows.append(
            {
                "data": "endoscope_ophys_nwb",
                "model": model,
                "input": label,
                "seconds": round(dt, 3),
                "shape": list(F.shape),
                "accepted": accepted.tolist(),
                "F_min_max": [float(F.min()), float(F.max())],
                "their_deconvolved_nonzero_fraction": float((theirs > 0).mean()),
                "our_spike_frame_fraction": float((s > 0).mean()),
                "corr_with_their_deconvolved": [round(c, 3) for c in corr],
                "corr_median": float(np.nanmedian(corr)),
                "g": np.round(res["g"].values, 3).tolist(),
                "noise": np.round(res["noise"].values, 4).tolist(),
                "neuropil_is_zero": bool(np.all(neuropil == 0)),
                "corr_F_vs_their_deconvolved_median": float(
                    np.nanmedian([_corr(F[i], theirs[i]) for i in range(len(F))])
                ),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "nwb"
    rows = neurofinder() if which == "neurofinder" else nwb()
    OUT.parent.mkdir(exist_ok=True)
    with OUT.open("a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
