"""Synergy extraction: NMF of an envelope, with an automatic number of synergies."""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from neuronmf.errors import ConvergenceWarning, input_error
from neuronmf.model_selection import criteria
from neuronmf.synergies._envelope import as_emg

__all__ = ["extract", "vaf_scores"]

# criteria computed from one (best-of-restarts) fit per rank, here
OWN_CRITERIA = ("curvefit", "vaf")
# select_rank's own options; any other is an engine option (a different model)
_SELECT_RANK_OWN = frozenset(
    {"criteria", "loss", "n_repeats", "holdout", "block", "seed", "n_jobs"}
    | {"vaf_threshold", "local_vaf_threshold", "sample_dim"}
)


def vaf_scores(V, W, H, mask=None) -> tuple[float, float, np.ndarray]:
    """Uncentred VAF, centred R² (grand mean) and per-muscle VAF of V ≈ W·H.

    Only observed entries count when a ``mask`` (True = observed) is given.

    Examples
    --------
    >>> import numpy as np
    >>> W = np.eye(2); H = np.arange(10.0).reshape(2, 5)
    >>> vaf, r2, local = vaf_scores(W @ H, W, 0.5 * H)
    >>> round(vaf, 2), round(r2, 2), local.round(2).tolist()
    (0.75, 0.14, [0.75, 0.75])
    """
    V = np.asarray(V, dtype=np.float64)
    obs = np.ones(V.shape, bool) if mask is None else np.asarray(mask, bool)
    Vz = np.where(obs, V, 0.0)
    R = np.where(obs, Vz - np.asarray(W) @ np.asarray(H), 0.0)
    rss = float(np.sum(R**2))
    vaf = 1.0 - rss / max(float(np.sum(Vz**2)), 1e-300)
    mean = Vz.sum() / obs.sum()
    r2 = 1.0 - rss / max(float(np.sum(np.where(obs, Vz - mean, 0.0) ** 2)), 1e-300)
    local = 1.0 - np.sum(R**2, axis=1) / np.maximum(np.sum(Vz**2, axis=1), 1e-300)
    return vaf, r2, local


def _as_envelope(env, time_dim: str) -> xr.DataArray:
    if isinstance(env, xr.DataArray):
        other = [d for d in env.dims if d != time_dim]
        if env.ndim == 2 and other and other[0] == "muscle":
            env = env.rename({"muscle": "channel"})
    da = as_emg(env, time_dim=time_dim, what="envelope")
    if da.sizes["channel"] < 2:
        raise input_error(
            "envelope",
            "at least 2 channels (muscles)",
            f"{da.sizes['channel']}",
        )
    x = da.values
    if np.isinf(x).any():
        raise input_error("envelope", "finite (NaN is masked)", "Inf values")
    if np.nanmin(x) < 0:
        raise input_error(
            "envelope",
            "non-negative",
            f"minimum {float(np.nanmin(x)):.3g}",
            "Compute it with neuronmf.synergies.envelope (which clips at 0).",
        )
    return da


def _fit(V, rank, mask, options):
    from neuronmf.engine.api import nmf

    with warnings.catch_warnings():  # the engine picks threads by size
        warnings.simplefilter("ignore", ConvergenceWarning)
        return nmf(
            np.where(mask, V, 0.0) if mask is not None else V,
            rank,
            mask=mask,
            **options,
        )


def extract(
    envelope,
    *,
    rank="auto",
    criterion: str = "curvefit",
    ranks=range(1, 11),
    n_restarts: int = 10,
    scan_restarts: int | None = None,
    seed: int | None = 0,
    max_iter: int = 2000,
    tol: float = 1e-6,
    solver: str = "auto",
    init: str = "nndsvda",
    vaf_threshold: float = 0.90,
    local_vaf_threshold: float = 0.75,
    max_scan_samples: int | None = 20_000,
    progress: bool = False,
    time_dim: str = "time",
    **select_options,
) -> xr.Dataset:
    """Muscle synergies of an envelope by NMF: V (muscle × time) ≈ W·H.

    Parameters
    ----------
    envelope : xarray.DataArray (time, channel) or ndarray (time, channel)
        Non-negative envelope, e.g. from :func:`neuronmf.synergies.envelope`.
        NaN entries (dropouts) are masked: they do not influence the fit and
        are left out of every VAF.
    rank : "auto" or int, default "auto"
        Number of synergies, or "auto" to choose it by ``criterion``.
    criterion : str, default "curvefit"
        Rule for ``rank="auto"``. ``"curvefit"``: smallest N whose centred
        R²(N … N_max) curve is fitted by a line with MSE < 1e-4 (Cheung et al.
        2005; musclesyneRgies' rule). ``"vaf"``: smallest N with global VAF ≥
        ``vaf_threshold`` and every muscle's VAF ≥ ``local_vaf_threshold``.
        Both use one best-of-``scan_restarts`` fit per rank. Any other method
        of :func:`neuronmf.select_rank` (``"cv"``, ``"aic"``, ``"bic"`` ...) is
        delegated to it (with ``**select_options``); its scores are stored too.
    ranks : iterable of int, default range(1, 11)
        Ranks scanned by ``rank="auto"`` (clipped to the number of muscles).
    n_restarts : int, default 10
        Fits at the chosen rank (NNDSVDa first, then random inits); the lowest
        loss is kept.
    scan_restarts : int, optional
        Restarts per rank of the scan (default ``min(n_restarts, 3)``); the
        chosen rank is then refitted with ``n_restarts`` unless the scan
        already used as many.
    seed : int, optional
    max_iter, tol, solver, init
        Passed to :func:`neuronmf.nmf`.
    vaf_threshold, local_vaf_threshold : float
    max_scan_samples : int or None, default 20000
        Long recordings are scanned (and restarted) on every *s*-th sample,
        ``s = ceil(samples / max_scan_samples)``; the chosen rank is then fitted
        on all samples, starting from the best subsampled synergies. An envelope
        low-passed at 6 Hz loses nothing when sampled at 100 Hz or more, and VAF
        and R² are ratios of sums over samples, estimated well by 20,000 of them.
        None always uses every sample. ``attrs["scan_step"]`` records *s*.
    progress : bool
    time_dim : str
    **select_options
        Passed to :func:`neuronmf.select_rank` for delegated criteria.

    Returns
    -------
    xarray.Dataset
        A SynergySet: ``synergies`` (muscle, synergy), unit-norm columns sorted
        by explained energy; ``activations`` (synergy, time), carrying the scale
        and the envelope's time coords (``cycle``/``phase`` when
        time-normalised); ``reconstruction_error``; ``vaf`` and ``r2`` (scalars)
        and ``vaf_muscle`` (muscle); with ``rank="auto"`` the scan:
        ``scan_vaf``, ``scan_r2``, ``scan_loss`` (rank) and ``scan_vaf_muscle``
        (rank, muscle) (plus the delegated criterion's scores). ``attrs``: rank,
        criterion, rank_rule, rank_choices, loss, solver, init, n_restarts,
        seed, neuronmf_version and the envelope's processing attributes
        (prefixed ``envelope_``); all str/int/float, so NetCDF keeps them.

    Examples
    --------
    >>> import numpy as np
    >>> from neuronmf.synergies import extract
    >>> rng = np.random.default_rng(0)
    >>> W = rng.random((8, 3)); H = rng.random((3, 400))
    >>> ds = extract((W @ H).T, rank="auto", ranks=range(1, 7), n_restarts=2)
    >>> ds.attrs["rank"], ds.synergies.dims, bool(ds.vaf > 0.999)
    (3, ('muscle', 'synergy'), True)
    """
    import neuronmf
    from neuronmf.engine import _validation as check

    # plain options first, refused rather than coerced (issue 21 defect 7)
    time_dim = check.check_str("time_dim", time_dim)
    progress = check.check_bool("progress", progress)
    seed = check.check_seed("seed", seed)
    if not isinstance(criterion, str):
        raise input_error("criterion", "a method name (a string)", repr(criterion))
    for name, value in (
        ("vaf_threshold", vaf_threshold),
        ("local_vaf_threshold", local_vaf_threshold),
    ):
        if not 0 < check.check_real(name, value) <= 1:
            raise input_error(name, "a fraction in (0, 1]", repr(value))
    da = _as_envelope(envelope, time_dim)
    V = np.ascontiguousarray(da.values.T)  # (muscle, time)
    m, n = V.shape
    mask = ~np.isnan(V)
    if mask.all():
        mask = None
    elif not mask.any(axis=1).all() or not mask.any(axis=0).any():
        raise input_error("envelope", "observed (not NaN) in every muscle", "all NaN")
    n_restarts = _integer("n_restarts", n_restarts)
    if scan_restarts is None:
        scan_restarts = min(n_restarts, 3)
    scan_restarts = _integer("scan_restarts", scan_restarts)
    step = 1
    if max_scan_samples is not None:
        step = max(1, -(-n // _integer("max_scan_samples", max_scan_samples, 2)))
    Vs = V[:, ::step] if step > 1 else V
    mask_s = mask[:, ::step] if (mask is not None and step > 1) else mask
    options = {
        "solver": solver,
        "init": init,
        "max_iter": max_iter,
        "tol": tol,
        "seed": seed,
    }
    scan_vars: dict = {}
    fits: dict = {}
    choices: dict[str, int] = {}
    rule = "given"
    if isinstance(rank, str):
        if rank != "auto":
            raise input_error("rank", "'auto' or an integer >= 1", repr(rank))
        rank, rule, choices, scan_vars, fits = _scan(
            Vs,
            mask_s,
            ranks,
            criterion,
            options,
            scan_restarts,
            vaf_threshold,
            local_vaf_threshold,
            progress,
            select_options,
        )
    elif isinstance(rank, bool) or not isinstance(rank, (int, np.integer)):
        raise input_error("rank", "'auto' or an integer >= 1", repr(rank))
    elif not 1 <= rank <= min(m, n):
        raise input_error(
            "rank",
            f"an integer in [1, min(muscles, samples)] = [1, {min(m, n)}]",
            int(rank),
        )
    rank = int(rank)
    if rank in fits and scan_restarts >= n_restarts:
        res = fits[rank]
    else:
        res = _fit(Vs, rank, mask_s, {**options, "n_restarts": n_restarts})
    if step > 1:  # refine on every sample, from the best subsampled synergies
        res = _fit(V, rank, mask, {**options, "n_restarts": 1, "W": res.W})
    W, H = np.asarray(res.W), np.asarray(res.H)
    vaf, r2, local = vaf_scores(V, W, H, mask)
    muscles = [str(c) for c in da["channel"].values]
    time_coords = {
        k: v.variable for k, v in da.coords.items() if set(v.dims) == {"time"}
    }
    data = {
        "synergies": (("muscle", "synergy"), W),
        "activations": (("synergy", "time"), H),
        "vaf": ((), vaf),
        "r2": ((), r2),
        "vaf_muscle": (("muscle",), local),
        "reconstruction_error": ((), float(res.relative_error)),
    }
    data.update(scan_vars)
    coords = {"muscle": muscles, "synergy": np.arange(rank), **time_coords}
    if "scale" in da.coords:
        coords["envelope_scale"] = ("muscle", da["scale"].values)
    if scan_vars:
        coords["rank"] = np.asarray(sorted(fits), dtype=int)
    attrs = {
        "kind": "SynergySet",
        "rank": rank,
        "criterion": criterion if rule != "given" else "given",
        "rank_rule": rule,
        "rank_choices": ", ".join(f"{k}={v}" for k, v in choices.items()),
        "loss": str(res.params.get("loss", "frobenius")),
        "solver": str(res.params.get("solver", solver)),
        "init": str(init),
        "n_restarts": int(n_restarts),
        "max_iter": int(max_iter),
        "tol": float(tol),
        "seed": "none" if seed is None else int(seed),
        "masked_entries": 0 if mask is None else int((~mask).sum()),
        "scan_step": int(step),
        "orientation": "V (muscle, time) = synergies @ activations",
        "neuronmf_version": neuronmf.__version__,
    }
    for k, v in da.attrs.items():
        if isinstance(v, (str, int, float, np.integer, np.floating)):
            attrs[f"envelope_{k}"] = v.item() if isinstance(v, np.generic) else v
    if mask is not None:
        warnings.warn(
            f"{attrs['masked_entries']} missing (NaN) envelope entries were masked "
            "out of the fit and the VAF.",
            UserWarning,
            stacklevel=2,
        )
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _integer(name, value, low=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise input_error(name, f"an integer >= {low}", repr(value))
    if value < low:
        raise input_error(name, f"an integer >= {low}", int(value))
    return int(value)


def _scan(
    V,
    mask,
    ranks,
    criterion,
    options,
    restarts,
    vaf_threshold,
    local_vaf_threshold,
    progress,
    select_options,
):
    from neuronmf.model_selection.scan import METHODS

    m, n = V.shape
    known = tuple(dict.fromkeys((*OWN_CRITERIA, *METHODS)))
    if not isinstance(criterion, str) or criterion not in known:
        raise input_error(
            "criterion", f"one of {', '.join(map(repr, known))}", repr(criterion)
        )
    try:
        ranks = np.array(sorted({int(r) for r in ranks}), dtype=int)
    except (TypeError, ValueError):
        raise input_error("ranks", "an iterable of integers", repr(ranks)) from None
    ranks = ranks[(ranks >= 1) & (ranks <= min(m, n))]
    if ranks.size < 2:
        raise input_error(
            "ranks",
            f"at least 2 integers in [1, {min(m, n)}] for rank='auto'",
            "fewer",
            "Scan more ranks, or give rank= as an integer.",
        )
    if criterion not in OWN_CRITERIA and mask is not None:
        raise input_error(
            "criterion",
            "'curvefit' or 'vaf' when the envelope has NaN dropouts",
            repr(criterion),
            "Masked fits are supported by those rules; or give rank= as an integer.",
        )
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(ranks), desc="synergy rank scan", leave=False)
    fits = {}
    vaf = np.zeros(len(ranks))
    r2 = np.zeros(len(ranks))
    local = np.zeros((len(ranks), m))
    loss = np.zeros(len(ranks))
    for i, r in enumerate(ranks):
        res = _fit(V, int(r), mask, {**options, "n_restarts": restarts})
        fits[int(r)] = res
        vaf[i], r2[i], local[i] = vaf_scores(V, res.W, res.H, mask)
        loss[i] = res.loss
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    choices = {
        "curvefit": criteria.curvefit_rank(r2, ranks),
        "vaf": criteria.vaf_rank(vaf, local, ranks, vaf_threshold, local_vaf_threshold),
    }
    rules = {
        "curvefit": "smallest N whose R²(N..N_max) curve is fitted by a line with "
        "MSE < 1e-4 (centred R²)",
        "vaf": f"smallest N with VAF >= {vaf_threshold} and every muscle's VAF >= "
        f"{local_vaf_threshold} (uncentred)",
    }
    scan_vars = {
        "scan_vaf": (("rank",), vaf),
        "scan_r2": (("rank",), r2),
        "scan_loss": (("rank",), loss),
        "scan_vaf_muscle": (("rank", "muscle"), local),
    }
    if criterion in OWN_CRITERIA:
        return choices[criterion], rules[criterion], choices, scan_vars, fits
    from neuronmf.model_selection.scan import select_rank

    select_options.setdefault("seed", options["seed"])
    # The scan's fits above are select_rank's full fits when the model is the same
    # (Frobenius, no extra engine options): hand them over, so no rank is fitted
    # twice (issue 22); its cheap criteria (aic, bic ...) then use these fits.
    if select_options.get("loss", "frobenius") == "frobenius" and not (
        set(select_options) - _SELECT_RANK_OWN
    ):
        select_options["_fits"] = {r: (f.W, f.H) for r, f in fits.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scan = select_rank(
            V,
            ranks,
            method=criterion,
            progress=progress,
            **select_options,
        )
    for k, v in scan.choices.items():
        choices.setdefault(k, int(v))
    choices[criterion] = int(scan.best_rank)
    s = scan.scores.sel(rank=ranks)
    for name, var in s.data_vars.items():
        dims = tuple(
            {"feature": "muscle", "repeat": "scan_repeat"}.get(d, d) for d in var.dims
        )
        if set(dims) <= {"rank", "muscle", "scan_repeat"} and f"scan_{name}" not in (
            scan_vars
        ):
            scan_vars[f"scan_{name}"] = (dims, var.values)
    return int(scan.best_rank), scan.rule, choices, scan_vars, fits
