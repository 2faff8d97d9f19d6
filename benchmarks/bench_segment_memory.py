"""Peak memory of ``neuronmf segment`` against ``segment()`` alone (issue 21, 11(b)).

Runs, each in a fresh subprocess, (1) ``load_movie`` + ``nm.imaging.segment`` and
(2) the whole command line ``neuronmf segment`` (segmentation, NetCDF + NWB
output, three figures, summary), and reads each subprocess's peak RSS
(``ru_maxrss``). Target: the command within 1.2× of ``segment()`` alone.

Usage::

    python benchmarks/bench_segment_memory.py [--movie DIR] [--radius 5] [--rate 7]
        [--out benchmarks/results/segment_memory.json]

The movie defaults to ``$NEURONMF_DATA_DIR/neurofinder_subset/images`` (200 frames
of 512 × 512 uint16, 105 MB). Each run takes minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ALONE = r"""
import json, resource, sys
import neuronmf as nm
movie = nm.io.load_movie(sys.argv[1], rate=float(sys.argv[3]))
seg = nm.imaging.segment(movie, neuron_radius=float(sys.argv[2]), progress=False)
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                  / 1024, "n_neurons": int(seg.sizes["neuron"])}))
"""

CLI = r"""
import json, resource, sys
from neuronmf.cli.main import main
rc = main(["segment", sys.argv[1], "--radius", sys.argv[2], "--rate", sys.argv[3],
           "--out", sys.argv[4], "--no-progress"])
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                  / 1024, "exit": rc}))
"""


def _run(code: str, *args: str) -> dict:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["wall_s"] = round(time.perf_counter() - t, 1)
    return res


def main() -> None:
    data = Path(os.environ.get("NEURONMF_DATA_DIR", "../shared/data"))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--movie", type=Path, default=data / "neurofinder_subset/images")
    p.add_argument("--radius", default="5")
    p.add_argument("--rate", default="7")
    p.add_argument("--out", type=Path, default=None, help="JSON results file")
    a = p.parse_args()
    import neuronmf

    alone = _run(ALONE, str(a.movie), a.radius, a.rate)
    print(f"segment() alone: {alone}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        cli = _run(CLI, str(a.movie), a.radius, a.rate, str(Path(tmp) / "seg"))
    print(f"neuronmf segment: {cli}", flush=True)
    ratio = cli["peak_rss_mb"] / alone["peak_rss_mb"]
    print(
        f"peak RSS: segment() {alone['peak_rss_mb']:.0f} MB, CLI "
        f"{cli['peak_rss_mb']:.0f} MB, ratio {ratio:.2f} (target <= 1.2)"
    )
    result = {
        "movie": str(a.movie),
        "radius": a.radius,
        "rate": a.rate,
        "segment_alone": alone,
        "cli": cli,
        "ratio": round(ratio, 3),
        "python": platform.python_version(),
        "neuronmf": neuronmf.__version__,
        "cpus": os.cpu_count(),
    }
    if a.out:
        a.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
