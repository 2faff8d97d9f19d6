"""Exceptions and warnings shared by every part of neuronmf.

Every error raised for bad input is an :class:`InputError` (a ``ValueError``), so
scripts and the command line can tell "your data or arguments are wrong" from a bug.
Messages follow one pattern: ``"<what> must be <expectation>; got <value>. <fix>"``.
"""

from __future__ import annotations

__all__ = ["ConvergenceWarning", "InputError", "input_error"]


class InputError(ValueError):
    """Bad input: wrong values, shapes, options, or file content.

    Raised before any work is done. The command line maps it to exit code 3.
    """


class ConvergenceWarning(UserWarning):
    """A fit stopped at its iteration budget before meeting its stopping rule."""


def input_error(what: str, expectation: str, got: object, fix: str = "") -> InputError:
    """Build an :class:`InputError` with the house wording.

    Parameters
    ----------
    what : str
        The thing that is wrong, e.g. ``"rank"``.
    expectation : str
        What it must be, e.g. ``"an integer in [1, 16]"``.
    got : object
        The offending value (shown with ``repr`` unless it is already a string).
    fix : str, optional
        One sentence on how to fix it.

    Examples
    --------
    >>> str(input_error("rank", "an integer >= 1", 0, "Pass rank=1 or more."))
    'rank must be an integer >= 1; got 0. Pass rank=1 or more.'
    """
    shown = got if isinstance(got, str) else repr(got)
    message = f"{what} must be {expectation}; got {shown}."
    if fix:
        message += f" {fix}"
    return InputError(message)
