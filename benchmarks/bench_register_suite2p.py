"""suite2p 1.1.0's registration on the movies of ``bench_register.py prepare``.

Usage (suite2p lives only in its own virtual environment)::

    python3.11 -m venv /work/bench-venv-s2p
    /work/bench-venv-s2p/bin/pip install suite2p==1.1.0 tifffile
    python benchmarks/bench_register.py prepare /tmp/regbench
    /work/bench-venv-s2p/bin/python benchmarks/bench_register_suite2p.py /tmp/regbench

Each case runs ``suite2p.registration.register.registration_wrapper``
(reference from ``nimg_init`` = 300 frames with suite2p's 8 rigid iterations,
then rigid and, for ``nonrigid``, block-wise phase correlation with its
subpixel kriging, default settings otherwise, CPU) in a fresh child process on
the same uint16 frames converted to int16 (suite2p's binary format), in
memory, timed from the call to its return (registered in place: suite2p's
``f_raw`` must be one of its BinaryFile objects, an array is refused); peak
RSS is ``getrusage`` of that child (the RSS after importing suite2p and torch
is reported beside it). The error is computed exactly as in
``bench_register.py`` (a constant offset removed). suite2p's ``yoff``/``xoff``
(rigid) turned out to have neuronmf's sign (the error with the sign flipped is
reported beside it: 7.9 px against 0.29 px on the rigid movie), and they are
integers (0.29 px is the error of rounding, sqrt(1/12) per axis). Nonrigid:
``yoff + yoff1`` per block against the true displacement at each block centre
(``nonrigid.make_blocks``).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "register.jsonl"


def _rmse(est, true) -> float:
    d = np.asarray(est, float) - np.asarray(true, float)
    d -= d.reshape(-1, 2).mean(axis=0)
    return float(np.sqrt((d**2).mean()))


def case(folder: Path, name: str, nonrigid: bool) -> dict:
    import torch
    from suite2p.parameters import default_settings
    from suite2p.registration import nonrigid as nr
    from suite2p.registration.register import registration_wrapper

    torch.set_num_threads(2)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mov = np.load(folder / f"{name}.npy").astype(np.int16)
    field = np.load(folder / f"{name}_field.npy", mmap_mode="r")
    settings = default_settings()
    reg = dict(settings["registration"])
    reg["nonrigid"] = nonrigid
    t0 = time.perf_counter()  # registered in place (f_raw=None)
    res = registration_wrapper(mov, settings=reg, device=torch.device("cpu"))
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    T = mov.shape[0]
    rigid = np.stack([res["yoff"], res["xoff"]], axis=-1)
    row = {
        "tool": "suite2p 1.1.0",
        "movie": name,
        "method": "nonrigid" if nonrigid else "rigid",
        "shape": list(mov.shape),
        "wall_s": round(wall, 2),
        "fps": round(T / wall, 1),
        "peak_rss_mb": round(rss),
        "rss_after_import_mb": round(rss0),
    }
    if not nonrigid:
        if name == "rigid":
            true = np.load(folder / f"{name}_shifts.npy")
            row["rmse_px"] = round(_rmse(rigid, true), 4)
            row["rmse_px_sign_flipped"] = round(_rmse(-rigid, true), 4)
        else:
            full = np.broadcast_to(rigid[:, None, None], field.shape)
            row["rmse_field_px"] = round(
                _rmse(full[:, 10:-10, 10:-10], field[:, 10:-10, 10:-10]), 4
            )
        return row
    yb, xb, nb = nr.make_blocks(mov.shape[1], mov.shape[2], reg["block_size"])[:3]
    cy = np.array([int(np.mean(b)) for b in yb])
    cx = np.array([int(np.mean(b)) for b in xb])
    local = rigid[:, None, :] + np.stack([res["yoff1"], res["xoff1"]], axis=-1)
    true = np.stack(
        [np.asarray(field[:, y, x]) for y, x in zip(cy, cx, strict=True)], 1
    )
    row["n_blocks"] = list(nb)
    row["rmse_centres_px"] = round(_rmse(local, true), 4)
    row["rmse_centres_px_sign_flipped"] = round(_rmse(-local, true), 4)
    return row


def main(folder: Path) -> None:
    import suite2p  # noqa: F401

    cases = [("rigid", False), ("nonrigid", False), ("nonrigid", True)]
    if len(sys.argv) > 2:  # a subset, e.g. "nonrigid:1"
        cases = [(c.split(":")[0], bool(int(c.split(":")[1]))) for c in sys.argv[2:]]
    for name, nonrigid in cases:
        cmd = [sys.executable, __file__, "_case", str(folder), name, str(int(nonrigid))]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            print(proc.stderr[-3000:], file=sys.stderr)
            continue
        row = json.loads(proc.stdout.splitlines()[-1])
        print(json.dumps(row), flush=True)
        RESULTS.parent.mkdir(exist_ok=True)
        with open(RESULTS, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "_case":
        print(json.dumps(case(Path(sys.argv[2]), sys.argv[3], bool(int(sys.argv[4])))))
    else:
        main(Path(sys.argv[1]))
