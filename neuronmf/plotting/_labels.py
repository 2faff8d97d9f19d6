"""Axis labels with units, subset notes and figures that do not clip their text.

Shared by every plotting module so that each figure says what its axes measure
(``"time (s)"``, ``"x (px)"``, ``"weight (a.u.)"``) and when it shows only part of
the data ("showing 10 of 330 neurons").
"""

from __future__ import annotations

import numpy as np

__all__ = ["new_figure", "subset_note", "time_label", "value_label"]


def new_figure(*args, **kwargs):
    """``plt.subplots`` with constrained layout, so labels are never clipped."""
    import matplotlib.pyplot as plt

    kwargs.setdefault("layout", "constrained")
    return plt.subplots(*args, **kwargs)


def time_label(time=None) -> str:
    """``"time (<units>)"``: the coordinate's ``units`` attribute, else seconds.

    neuronmf's time coordinates are in seconds; an integer coordinate with no
    units is a bin index (data given without times).

    Examples
    --------
    >>> time_label(), time_label(np.arange(3))
    ('time (s)', 'time (bin)')
    """
    if time is None:
        return "time (s)"
    units = getattr(time, "attrs", {}).get("units")
    if units:
        return f"time ({units})"
    if np.issubdtype(np.asarray(time).dtype, np.integer):
        return "time (bin)"
    return "time (s)"


def value_label(name: str | None, obj=None, default: str = "a.u.") -> str:
    """``"<name> (<units>)"`` with the ``units`` attribute of ``obj`` if it has one.

    Examples
    --------
    >>> value_label("position"), value_label(None)
    ('position (a.u.)', 'value (a.u.)')
    """
    units = getattr(obj, "attrs", {}).get("units") if obj is not None else None
    if units in (None, "", "unknown"):
        units = default
    return f"{name or 'value'} ({units})"


def subset_note(ax, shown: int, total: int, what: str) -> bool:
    """Write "showing <shown> of <total> <what>" in the corner of ``ax``.

    Nothing is written (and False returned) when everything is shown.
    """
    if shown >= total:
        return False
    ax.text(
        1.0,
        1.0,
        f"showing {shown} of {total} {what}",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=8,
        color="0.3",
    )
    return True
