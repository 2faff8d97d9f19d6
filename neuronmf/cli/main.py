"""Entry point of the ``neuronmf`` command.

Each command lives in its own module of :mod:`neuronmf.cli` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the
parsed arguments, returning an exit code).

Exit codes
----------
0 success · 1 unexpected error (a bug: please report it) · 2 usage error ·
3 bad input (data, file or argument values) · 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence

from neuronmf.cli._common import flag_names, name_flags
from neuronmf.errors import InputError

EXIT_OK = 0
EXIT_BUG = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_INTERRUPTED = 130

# Command modules, in the order `neuronmf --help` lists them.
COMMANDS = ("demo", "info", "synergies", "rank", "assemblies", "decode", "segment")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the commands' hand-wrapped descriptions and example epilogs."""


# a help text that already states its default, e.g. "(default 20 450)"
_STATES_DEFAULT = re.compile(r"\(default[:\s]+[^)\s]|%\(default\)")


def _shown_default(value) -> str:
    if isinstance(value, list | tuple):
        return " ".join(_shown_default(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Every option's help ends with its default, and keeps the raw layout.

    Options whose default is None (nothing set) and flags (``store_true`` and
    other zero-argument actions: off unless given) are left as they are, and so
    is help that already states it ("(default 20 450)"); a bare "(10)" at the end
    becomes "(default: 10)".
    """
    parser.formatter_class = HelpFormatter
    for action in parser._actions:
        if (
            action.nargs == 0
            or action.default is None
            or action.default is argparse.SUPPRESS
            or action.help is argparse.SUPPRESS
            or isinstance(action, argparse._SubParsersAction)
        ):
            continue
        shown = _shown_default(action.default).replace("%", "%%")
        text = action.help or ""
        if _STATES_DEFAULT.search(text):
            continue  # already says it, e.g. "band-pass in Hz (default 20 450)"
        if text.endswith(f"({shown})"):  # "NMF restarts (10)"
            text = text[: -len(shown) - 2].rstrip()
        action.help = f"{text} (default: {shown})".lstrip()


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available command."""
    from neuronmf import __version__

    parser = argparse.ArgumentParser(
        prog="neuronmf",
        description="Non-negative matrix factorisation for neural and biosignal data.",
        epilog="Exit codes: 0 ok, 2 usage, 3 bad input, 1 unexpected error, "
        "130 interrupted. Add --debug for a full traceback.",
    )
    parser.add_argument(
        "--version", action="version", version=f"neuronmf {__version__}"
    )
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks on errors"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"neuronmf.cli.{name}")
        except ModuleNotFoundError as exc:  # a command whose module is not there yet
            if exc.name != f"neuronmf.cli.{name}":
                raise
            continue
        module.register(subparsers)
    # one place for every command: defaults in --help, flags in error messages
    _show_defaults(parser)
    for sub in subparsers.choices.values():
        _show_defaults(sub)
        sub.set_defaults(option_flags=flag_names(sub))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or EXIT_OK)
    except InputError as exc:
        if args.debug:
            raise
        message = name_flags(str(exc), getattr(args, "option_flags", {}))
        print(f"neuronmf {args.command}: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"neuronmf {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"neuronmf {args.command}: unexpected error: {type(exc).__name__}: {exc} "
            "(run again with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_BUG


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
