"""The parameters of :func:`neuronmf.imaging.segment`, with their checks declared once.

Every parameter has a default derived from the neuron radius
(:meth:`SegmentParameters.from_radius`); each field's check is declared beside
it (``metadata["check"]``) and applied when the dataclass is built, so a value is
refused, never coerced, before any work (issue 21, defect 7: ``"no"`` is
truthy, ``int(64.5)`` is 64, ``float("0.1")`` parses).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuronmf.engine._validation import check_int, check_real
from neuronmf.errors import input_error

__all__ = ["BACKGROUNDS", "SEEDS", "SegmentParameters", "default_parameters"]

#: Where neurons come from (``segment``'s ``seeds``).
SEEDS = ("activity", "anatomy+activity", "anatomy")

#: The background models (``background``): a rank-``background_rank`` NMF per
#: patch, or CNMF-E's ring model for one-photon movies (:mod:`._ring`).
BACKGROUNDS = ("low-rank", "ring")

Check = Callable[[str, Any], Any]


def _real(low: float | None = None, high: float | None = None) -> Check:
    """A finite real number, ``>= low`` (and ``<= high``: "a number in [low, high]")."""

    def check(name: str, value: Any) -> float:
        x = check_real(name, value, low)
        if high is not None and x > high:
            raise input_error(name, f"a number in [{low:g}, {high:g}]", repr(value))
        return x

    return check


def _int(low: int) -> Check:
    """An integer ``>= low`` (numpy integers too; floats, strings and bools refused)."""

    def check(name: str, value: Any) -> int:
        return check_int(name, value, low)

    return check


def _whole(low: int, expected: str) -> Check:
    """An integer ``>= low``, refused with the field's own ``expected`` wording."""

    def check(name: str, value: Any) -> int:
        if (
            not isinstance(value, int | np.integer)
            or isinstance(value, bool)
            or value < low
        ):
            raise input_error(name, expected, value)
        return int(value)

    return check


def _weight(name: str, value: Any) -> float:
    x = check_real(name, value)
    if x < 0:
        raise input_error(
            name, "≥ 0", x, "Transient evidence can only add to the anatomical score."
        )
    return x


def _background(name: str, value: Any) -> str:
    if not isinstance(value, str) or value not in BACKGROUNDS:
        raise input_error(
            name,
            " or ".join(repr(b) for b in BACKGROUNDS),
            repr(value),
            "'ring' is CNMF-E's background for one-photon (endoscope) movies.",
        )
    return value


def _field(check: Check, default: Any = dataclasses.MISSING) -> Any:
    return field(default=default, metadata={"check": check})


@dataclass(frozen=True, kw_only=True)
class SegmentParameters:
    """Every tuning parameter of :func:`~neuronmf.imaging.segment`.

    Build it with :meth:`from_radius` (the defaults follow from the neuron
    radius ``r``, in pixels); the fields are checked when it is built.
    :func:`~neuronmf.imaging.segment` accepts it as ``parameters=`` and also
    every field as a keyword (``segment(movie, min_snr=2)``).

    Attributes
    ----------
    patch : int
        Patch side in pixels (default ``max(64, ceil(12 r))``); must exceed 4 r.
    overlap : int
        Overlap of neighbouring patches in pixels (default ``ceil(4 r)``), in
        ``[0, patch)``.
    min_area, max_area : int
        Area limits of a footprint in pixels (defaults ``ceil(π (0.7 r)²)``,
        half a soma's disc, and ``ceil(π (2.5 r)²)``); seeds smaller than
        ``min_area`` are not kept. (``min_area`` was ``ceil(π (0.4 r)²)``
        before session 13: on neurofinder_subset the components it let
        through were small activity fragments, 49 of the 80 activity
        components unmatched, median area 25 px at r = 5, against 89 px for
        the matched ones; docs/imaging.md.)
    merge_dilation : int
        Supports dilated by this many pixels touch for merging (default
        ``max(1, round(r / 2))``).
    min_corr : float
        Seed local correlation (0.2).
    min_pnr : float
        Seed peak-to-noise ratio (5; 8 with ``background="ring"``, stricter
        as CNMF-E's).
    min_snr : float
        Trace SNR below which a component is rejected (3).
    min_trace_corr : float
        Correlation of the trace with the movie under the mask below which a
        component is rejected (0.5).
    merge_threshold : float
        Trace correlation above which overlapping or touching components
        merge (0.6; 0.8 before session 14). Residual motion after non-rigid
        registration splits a bright neuron into components whose traces
        correlate 0.6–0.76, often stronger than the neuron's own; at 0.6 the
        nonrigid3 benchmark's F1 after registration is within 0.013 of the
        still movie on all 8 seeds (0.035 and 0.038 below on two at 0.8),
        neurofinder_subset's is unchanged (0.508), and independent
        neighbours there correlate below it (docs/imaging.md, step 4).
    fragment_overlap : float
        A component with more than this fraction of its mask inside a
        stronger component's support, active only while that one is (less
        than half the chance share of its activity in the stronger one's
        quiet frames), is rejected as its fragment, in [0, 1] (0.5; 1 turns
        the test off). Residual motion after registration leaves such
        fragments at the edges of bright neurons (docs/imaging.md).
    smoothness : float
        Graph-Laplacian weight λ on the footprints, ≥ 0 (0.1; ``refine="full"``),
        unit-free: relative to each neuron's trace energy ‖c_k‖².
    sparsity : float
        L1 weight on the footprints, ≥ 0 (0; ``refine="full"``), unit-free: a
        pixel is zeroed when its unpenalised value is below ``sparsity`` × the
        value of a flat unit-norm footprint on the support.
    baseline_percentile : float
        Per-pixel percentile over time taken as the baseline, in [0, 100] (10).
    support_dilation : int
        Pixels by which a refined footprint may grow beyond its seed (1).
    refine_iter : int
        HALS sweeps per footprint or trace update of the refinement, ≥ 1 (5;
        two alternations of footprints and traces).
    refine_prior : float
        κ ≥ 0 (5): a refined footprint is pulled towards its seed with weight
        κ / SNR² against its trace energy (SNR: of one pixel of the footprint
        estimated from the trace), so a quiet neuron keeps its seed (e.g. an
        anatomical disc) and an active one follows the data; 0 for none.
    footprint_threshold : float
        Footprints keep their connected part ≥ this × max, in [0, 1] (0.3).
    seed_frames : int
        At most this many frames are used to find neurons, ≥ 2 (1000): in
        longer movies every detection step (seeds, footprints, merging,
        quality, anatomy) runs on frames averaged in bins of
        ⌈T / seed_frames⌉, so its cost no longer grows with the length; the
        traces are then fitted at the full frame rate (exact NNLS of the
        baseline-subtracted, high-passed frames on the footprints and
        background), and the activity components kept are judged again on
        those traces (``snr``, ``trace_correlation`` and the fragment test,
        reported at the full rate).
    anatomy_threshold : float
        Minimum anatomical score (0.55, in units of the local contrast of the
        mean image; a sharp ring scores up to ≈ 2–4).
    anatomy_min_snr : float
        An anatomical candidate's template response must exceed this many
        times its noise, the local RMS of the same template applied to the
        half-difference image (even minus odd frames, /T) (6: on white-noise
        movies, where the contrast threshold alone passes hundreds of
        candidates, no candidate's ratio exceeded 5.4 over 14 fields of
        96² and 256² px; on neurofinder_subset's 200 frames every
        candidate's exceeds 7.7; see docs/imaging.md).
    anatomy_activity_weight : float
        Weight of the transient evidence in the anatomical score, ≥ 0 (0: on
        neurofinder_subset it did not help on held-out halves of the field of
        view, see docs/imaging.md).
    patch_memory : int
        Bytes, ≥ 1 (1 GiB = ``1 << 30``): the largest patch, counted as
        T × h × w × 4 bytes, processed in memory. Larger patches are processed
        out of core: they stay dask arrays chunked along time; only their
        frames binned to at most ``seed_frames`` are held in memory, and
        traces come from block-by-block products at the full frame rate (see
        docs/imaging.md, "Out of core").
    background : {"low-rank", "ring"}
        The background model (``"low-rank"``: an unpenalised
        rank-``background_rank`` NMF per patch; ``"ring"``: CNMF-E's ring
        model for one-photon movies, each pixel's background a least-squares
        combination of the pixels on a ring of ``ring_radius`` around it, see
        docs/imaging.md, "One-photon movies").
    ring_radius : float
        Radius of the ring in pixels (default ``3 r``, 1.5 neuron diameters);
        must exceed the neuron radius. Used with ``background="ring"``.
    ring_iter : int
        Rounds of ring background → traces → footprints, ≥ 1 (2).

    Examples
    --------
    >>> p = SegmentParameters.from_radius(5.0, min_snr=2.0)
    >>> p.patch, p.min_snr
    (64, 2.0)
    >>> p.as_dict()["overlap"]
    20
    """

    patch: int = _field(_int(1))
    overlap: int = _field(_int(0))
    min_corr: float = _field(_real(), 0.2)
    min_pnr: float = _field(_real(), 5.0)
    min_snr: float = _field(_real(), 3.0)
    min_trace_corr: float = _field(_real(), 0.5)
    min_area: int = _field(_int(0))
    max_area: int = _field(_int(0))
    merge_threshold: float = _field(_real(), 0.6)
    fragment_overlap: float = _field(_real(0.0, 1.0), 0.5)
    merge_dilation: int = _field(_int(0))
    smoothness: float = _field(_real(0.0), 0.1)
    sparsity: float = _field(_real(0.0), 0.0)
    baseline_percentile: float = _field(_real(0.0, 100.0), 10.0)
    support_dilation: int = _field(_int(0), 1)
    refine_iter: int = _field(_int(1), 5)
    refine_prior: float = _field(_real(0.0), 5.0)
    footprint_threshold: float = _field(_real(0.0, 1.0), 0.3)
    seed_frames: int = _field(
        _whole(
            2, "an integer ≥ 2 (frames the seeding looks at; longer movies are binned)"
        ),
        1000,
    )
    anatomy_threshold: float = _field(_real(), 0.55)
    anatomy_min_snr: float = _field(_real(0.0), 6.0)
    anatomy_activity_weight: float = _field(_weight, 0.0)
    patch_memory: int = _field(
        _whole(
            1,
            "a positive integer (bytes: the largest patch, time × y × x × 4, "
            "processed in memory)",
        ),
        1 << 30,
    )
    background: str = _field(_background, "low-rank")
    ring_radius: float = _field(_real(0.0))
    ring_iter: int = _field(_int(1), 2)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(
                self, f.name, f.metadata["check"](f.name, getattr(self, f.name))
            )
        if not 0 <= self.overlap < self.patch:
            raise input_error("overlap", f"in [0, patch={self.patch})", self.overlap)

    @classmethod
    def names(cls) -> list[str]:
        """The field names, sorted (the keywords ``segment`` accepts for them)."""
        return sorted(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_radius(cls, neuron_radius: float, **overrides: Any) -> SegmentParameters:
        """The defaults for ``neuron_radius`` (pixels), with ``overrides`` applied.

        Raises
        ------
        InputError
            For a keyword that is not a field (naming the valid ones), or a
            value that fails its field's check.

        Examples
        --------
        >>> SegmentParameters.from_radius(4.0).overlap
        16
        """
        unknown = set(overrides) - set(cls.names())
        if unknown:
            raise input_error(
                "options",
                f"among {cls.names()}",
                sorted(unknown),
                "Pass only fields of SegmentParameters as keywords.",
            )
        r = float(neuron_radius)
        values: dict[str, Any] = {
            "patch": int(max(64, np.ceil(12 * r))),
            "overlap": int(np.ceil(4 * r)),
            # half a soma's disc (π (0.7 r)² ≈ π r² / 2): smaller components
            # are fragments, dendrites or boutons (docs/imaging.md)
            "min_area": int(np.ceil(np.pi * (0.7 * r) ** 2)),
            "max_area": int(np.ceil(np.pi * (2.5 * r) ** 2)),
            "merge_dilation": int(max(1, round(r / 2))),
            "ring_radius": 3.0 * r,
        }
        if overrides.get("background") == "ring":
            # stricter seeding, as CNMF-E's (min_pnr 10–20): on simulated
            # one-photon movies minus their ring background, the field's edge
            # and the rims of bright neurons reach a peak-to-noise of 4–6,
            # neurons 8.5 and more
            values["min_pnr"] = 8.0
        values.update(overrides)
        if "patch" in overrides:  # its own limit is the likelier error: first
            (patch_field,) = (f for f in dataclasses.fields(cls) if f.name == "patch")
            _check_patch(patch_field.metadata["check"]("patch", values["patch"]), r)
        return cls(**values)

    def replace(self, **changes: Any) -> SegmentParameters:
        """A copy with ``changes`` applied (and checked); unknown keywords refused.

        Examples
        --------
        >>> SegmentParameters.from_radius(4.0).replace(min_snr=1.0).min_snr
        1.0
        """
        unknown = set(changes) - set(self.names())
        if unknown:
            raise input_error(
                "options",
                f"among {self.names()}",
                sorted(unknown),
                "Pass only fields of SegmentParameters as keywords.",
            )
        return dataclasses.replace(self, **changes)

    def check_radius(self, neuron_radius: float) -> None:
        """Refuse a ``patch`` too small for ``neuron_radius`` (≤ 4 radii)."""
        _check_patch(self.patch, float(neuron_radius))
        if self.ring_radius <= neuron_radius:
            raise input_error(
                "ring_radius",
                f"larger than neuron_radius ({float(neuron_radius):g} px)",
                self.ring_radius,
                "The ring must lie outside the neuron (default 3 × neuron_radius).",
            )

    def as_dict(self) -> dict[str, int | float | str]:
        """The fields as a plain dict (the keys of :func:`default_parameters`)."""
        return dataclasses.asdict(self)


def default_parameters(neuron_radius: float) -> dict:
    """Every parameter of :func:`segment` derived from the neuron radius (pixels).

    The same values as :meth:`SegmentParameters.from_radius`, as a dict.

    Examples
    --------
    >>> default_parameters(5.0)["patch"]
    64
    """
    return SegmentParameters.from_radius(neuron_radius).as_dict()


def _check_patch(patch: int, r: float) -> None:
    if patch <= 4 * r:
        raise input_error(
            "patch", f"larger than 4 × neuron_radius ({4 * r:g} px)", patch
        )
