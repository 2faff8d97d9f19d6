"""Synergy extraction: NMF of an envelope, with an automatic number of synergies."""

from __future__ import annotations

import json
import warnings

import numpy as np
import xarray as xr

from neuronmf._provenance import result_attrs
from neuronmf.errors import ConvergenceWarning, input_error
from neuronmf.model_selection import criteria
from neuronmf.model_selection.criteria import vaf_scores
from neuronmf.synergies._envelope import as_emg

__all__ = ["extract", "vaf_scores"]

# criteria computed from one (best-of-restarts) fit per rank, here
OWN_CRITERIA = ("curvefit", "vaf")


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
    max_iter: int | None = None,
    tol: float | None = None,
    solver: str = "auto",
    init: str = "nndsvda",
    vaf_threshold: float = 0.90,
    local_vaf_threshold: float = 0.75,
    max_scan_samples: int | None = 20_000,
    progress: bool = False,
    time_dim: str = "time",
    kind: str = "synchronous",
    duration: float | None = None,
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
        Passed to :func:`neuronmf.nmf` (or to
        :func:`neuronmf.engine.convolutive.conv_nmf` for time-varying
        synergies; ``init`` is then unused). Defaults: 2000 and 1e-6
        (synchronous), 1000 and 1e-6 (time-varying).
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
    kind : {"synchronous", "time-varying"}, default "synchronous"
        ``"synchronous"``: the synergies above (one muscle-weight vector each,
        NMF). ``"time-varying"``: d'Avella et al. (2003) time-varying synergies,
        each a (muscle × lag) waveform ``duration`` long, played at onsets with
        amplitudes, found by convolutive NMF with sparse activations; see
        ``docs/synergies.md``. With ``rank="auto"`` only the ``"curvefit"``
        and ``"vaf"`` criteria apply.
    duration : float, optional
        Length of a time-varying synergy in units of the time coordinate
        (seconds; cycles for a time-normalised envelope). Required for, and
        only for, ``kind="time-varying"``.
    **select_options
        Passed to :func:`neuronmf.select_rank` for delegated criteria;
        ``n_jobs`` also runs the scan's fits in parallel (one per rank).
        For ``kind="time-varying"``: ``loss``, ``x_ortho``, ``l1_H``,
        ``l1_W`` (passed to ``conv_nmf``, relative to the envelope's peak;
        ``l1_H`` defaults to 0.1 to keep the activations sparse),
        ``min_amplitude`` (a peak of H is an occurrence when its amplitude
        is at least this fraction of the synergy's largest; default 0.1) and
        ``n_shuffles`` (VAF of that many fits to data whose muscles were
        circularly shifted independently: ``vaf_shuffled``, ``vaf_excess``).
        Make ``duration`` somewhat longer than the longest expected synergy
        (the fit centres each synergy in its window; see docs/synergies.md).

    Returns
    -------
    xarray.Dataset
        A SynergySet: ``synergies`` (muscle, synergy), unit-norm columns sorted
        by explained energy; ``activations`` (synergy, time), carrying the scale
        and the envelope's time coords (``cycle``/``phase`` when
        time-normalised); ``reconstruction_error``; ``vaf`` and ``r2`` (scalars)
        and ``vaf_muscle`` (muscle); with ``rank="auto"`` the scan:
        ``scan_vaf``, ``scan_r2``, ``scan_loss`` (rank) and ``scan_vaf_muscle``
        (rank, muscle) (plus the delegated criterion's scores). ``attrs``: the
        ones every result carries (``neuronmf_kind`` = ``"synergies"``,
        ``neuronmf_version``, ``params`` (JSON), ``seed``, ``loss``,
        ``solver``), rank, criterion, rank_rule, ``rank_choices`` (JSON, e.g.
        ``{"curvefit": 5, "vaf": 6}``), init, n_restarts and the envelope's
        processing attributes (prefixed ``envelope_``); all str/int/float, so
        NetCDF keeps them.

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
    from neuronmf.engine import _validation as check

    # plain options first, refused rather than coerced (issue 21 defect 7)
    time_dim = check.check_str("time_dim", time_dim)
    progress = check.check_bool("progress", progress)
    seed = check.check_seed("seed", seed)
    if kind not in ("synchronous", "time-varying"):
        raise input_error("kind", "'synchronous' or 'time-varying'", repr(kind))
    if (duration is None) == (kind == "time-varying"):
        raise input_error(
            "duration",
            "given (seconds) for kind='time-varying' and only then",
            repr(duration),
        )
    default_iter, default_tol = (2000, 1e-6) if kind == "synchronous" else (1000, 1e-6)
    max_iter = default_iter if max_iter is None else max_iter
    tol = default_tol if tol is None else tol
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
    if kind == "time-varying":
        from neuronmf.synergies._time_varying import time_varying

        if isinstance(rank, str) and rank != "auto":
            raise input_error("rank", "'auto' or an integer >= 1", repr(rank))
        if not isinstance(rank, str):
            rank = _integer("rank", rank)
        return time_varying(
            da, V, mask, rank=rank, ranks=ranks, duration=duration,
            criterion=criterion, n_restarts=n_restarts, seed=seed,
            max_iter=max_iter, tol=tol, solver=solver, vaf_threshold=vaf_threshold,
            local_vaf_threshold=local_vaf_threshold, options=select_options,
        )  # fmt: skip
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
    given_rank = rank  # as asked ("auto" or the number), for params
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
    params = {
        "rank": given_rank,
        "criterion": criterion,
        "ranks": _as_list(ranks),
        "n_restarts": n_restarts,
        "scan_restarts": scan_restarts,
        "max_iter": max_iter,
        "tol": tol,
        "solver": solver,
        "init": init,
        "vaf_threshold": vaf_threshold,
        "local_vaf_threshold": local_vaf_threshold,
        "max_scan_samples": max_scan_samples,
        "time_dim": time_dim,
        **{k: v for k, v in select_options.items() if k != "_fits"},
    }
    ds = _synergy_set(
        da, V, mask, res, params, seed, step, rank, rule, choices, scan_vars, fits
    )
    if mask is not None:
        warnings.warn(
            f"{ds.attrs['masked_entries']} missing (NaN) envelope entries were "
            "masked out of the fit and the VAF.",
            UserWarning,
            stacklevel=2,
        )
    return ds


def _synergy_set(
    da, V, mask, res, params, seed, step, rank, rule, choices, scan_vars, fits
) -> xr.Dataset:
    """The SynergySet Dataset of the fit ``res`` of ``V`` (the envelope ``da``)."""
    criterion, init = params["criterion"], params["init"]
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
    source = da.attrs.get("source")
    attrs = {
        "kind": "SynergySet",
        **result_attrs(
            "synergies",
            params=params,
            seed=seed,
            loss=str(res.params.get("loss", "frobenius")),
            solver=str(res.params.get("solver", params["solver"])),
            source=source if isinstance(source, str) else None,
        ),
        "rank": rank,
        "criterion": criterion if rule != "given" else "given",
        "rank_rule": rule,
        "rank_choices": json.dumps(choices),
        "init": str(init),
        "n_restarts": int(params["n_restarts"]),
        "max_iter": int(params["max_iter"]),
        "tol": float(params["tol"]),
        "masked_entries": 0 if mask is None else int((~mask).sum()),
        "scan_step": int(step),
        "orientation": "V (muscle, time) = synergies @ activations",
    }
    for k, v in da.attrs.items():
        if isinstance(v, (str, int, float, np.integer, np.floating)):
            attrs[f"envelope_{k}"] = v.item() if isinstance(v, np.generic) else v
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _select_rank_own() -> frozenset[str]:
    """select_rank's own keyword options, read from its signature; any other
    option is an engine option (a different model than extract's scan fits)."""
    import inspect

    from neuronmf.model_selection.scan import select_rank

    return frozenset(
        name
        for name, p in inspect.signature(select_rank).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and not name.startswith("_")
    )


def _as_list(ranks):
    """The scanned ranks as a list of int for ``params`` (as given if not ints)."""
    try:
        return [int(r) for r in ranks]
    except (TypeError, ValueError):
        return repr(ranks)


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
    from neuronmf.model_selection.runner import run_tasks
    from neuronmf.model_selection.scan import METHODS, rule_text

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
    # one best-of-restarts fit per rank, through the one runner of model_selection
    tasks = [(V, int(r), mask, {**options, "n_restarts": restarts}) for r in ranks]
    results = run_tasks(
        _fit,
        tasks,
        n_jobs=select_options.get("n_jobs", 1),
        progress=progress,
        desc="synergy rank scan",
        unit="rank",
    )
    fits = {int(r): res for r, res in zip(ranks, results, strict=True)}
    scores = [vaf_scores(V, res.W, res.H, mask) for res in results]
    vaf = np.array([sc[0] for sc in scores])
    r2 = np.array([sc[1] for sc in scores])
    local = np.array([sc[2] for sc in scores])
    loss = np.array([float(res.loss) for res in results])
    # the rules of select_rank, in its words
    choices = {
        "curvefit": criteria.curvefit_rank(r2, ranks),
        "vaf": criteria.vaf_rank(vaf, local, ranks, vaf_threshold, local_vaf_threshold),
    }
    rules = {
        name: rule_text(
            name,
            feature="muscle",
            vaf_threshold=vaf_threshold,
            local_vaf_threshold=local_vaf_threshold,
        )
        for name in OWN_CRITERIA
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

    select_options = {"seed": options["seed"], **select_options}
    # The scan's fits above are select_rank's full fits when the model is the same
    # (Frobenius, no extra engine options): hand them over, so no rank is fitted
    # twice (issue 22); its cheap criteria (aic, bic ...) then use these fits.
    if select_options.get("loss", "frobenius") == "frobenius" and not (
        set(select_options) - _select_rank_own()
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
