"""Real data (santuz_gait_emg): the raw trial end to end, and the 15 people.

The data are read from $NEURONMF_DATA_DIR (default ../shared/data); the tests
are skipped when the CSV copies are not there.
"""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import neuronmf as nm
from tests.conftest import data_dir

CSV = data_dir() / "santuz_gait_emg" / "csv"
PEOPLE = [f"ID{i:04d}_TW_01" for i in range(1, 16)]
needs_data = pytest.mark.skipif(
    not (CSV / "ID0012_TW_01_raw_emg.csv").exists(),
    reason=f"santuz_gait_emg CSVs not found under {CSV}",
)


def _person(pid):
    V = pd.read_csv(CSV / f"{pid}_V.csv")
    M = pd.read_csv(CSV / f"{pid}_reference_modules.csv", index_col=0)
    env = xr.DataArray(
        V.to_numpy(float), dims=("time", "channel"), coords={"channel": V.columns}
    )
    return env, M


@needs_data
def test_raw_trial_end_to_end(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from neuronmf.plotting.synergies import (
        plot_activations,
        plot_rank_curve,
        plot_synergies,
    )

    raw = nm.io.load_emg(CSV / "ID0012_TW_01_raw_emg.csv")
    events = pd.read_csv(CSV / "ID0012_TW_01_gait_cycles.csv")
    env = nm.synergies.envelope(raw, cycles=events[["touchdown_s", "liftoff_s"]])
    assert env.shape == (5 * 200, 13) and env.attrs["n_cycles"] == 5
    assert list(env.channel.values)[:3] == ["ME", "MA", "FL"]
    # our envelope follows the reference's filtered, time-normalised EMG
    filt = pd.read_csv(CSV / "ID0012_TW_01_filtered_emg.csv").drop(columns="time")
    r = [np.corrcoef(filt[c][:600], env.sel(channel=c)[:600])[0, 1] for c in filt]
    assert np.median(r) > 0.8
    ds = nm.synergies.extract(env, rank="auto", n_restarts=5)
    assert 3 <= ds.attrs["rank"] <= 6 and float(ds.vaf) > 0.9
    ref = pd.read_csv(CSV / "ID0012_TW_01_reference_modules.csv", index_col=0)
    m = nm.synergies.match(ds, ref.to_numpy(), n_shuffles=200)
    assert m.attrs["mean"] > m.attrs["chance"]
    avg = nm.synergies.cycle_average(ds)
    assert avg["mean"].shape == (ds.attrs["rank"], 200)
    for name, fig in {
        "w.png": plot_synergies(ds),
        "h.png": plot_activations(ds),
        "r.png": plot_rank_curve(ds),
    }.items():
        fig.savefig(tmp_path / name)
        matplotlib.pyplot.close(fig)
    ds.to_netcdf(tmp_path / "syn.nc")
    back = xr.load_dataset(tmp_path / "syn.nc")
    assert back.attrs["rank"] == ds.attrs["rank"]
    assert back.attrs["envelope_source"].endswith("ID0012_TW_01_raw_emg.csv")


@needs_data
def test_fifteen_people_match_reference_modules():
    """At the reference rank: median of per-person mean cosine >= 0.99, all >= 0.97."""
    means = {}
    for pid in PEOPLE:
        env, M = _person(pid)
        ds = nm.synergies.extract(env, rank=M.shape[1], n_restarts=10, seed=0)
        ref = M.loc[list(ds.muscle.values)].to_numpy()
        means[pid] = nm.synergies.match(ref, ds, n_shuffles=0).attrs["mean"]
    values = np.array(list(means.values()))
    assert np.median(values) >= 0.99, means
    assert values.min() >= 0.97, means


@needs_data
def test_fifteen_people_curvefit_rank():
    hits = {}
    for pid in PEOPLE:
        env, M = _person(pid)
        ds = nm.synergies.extract(env, rank="auto", criterion="curvefit", seed=0)
        hits[pid] = (ds.attrs["rank"], M.shape[1])
    assert sum(a == b for a, b in hits.values()) >= 14, hits
