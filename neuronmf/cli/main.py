"""Entry point of the ``neuronmf`` command.

Each command lives in its own module of :mod:`neuronmf.cli` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the
parsed arguments, returning an exit code).

Exit codes
----------
0 success · 1 unexpected error (a bug: please report it) · 2 usage error ·
3 bad input or environment (data, file or argument values; a missing, unreadable
or read-only path, a full disk, not enough memory) · 130 interrupted (Ctrl-C).
Documented in docs/cli.md; :func:`main` is the one place that maps them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

from neuronmf.cli._common import RESULT_FILES, check_outputs, flag_names, name_flags
from neuronmf.errors import InputError

EXIT_OK = 0
EXIT_BUG = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_INTERRUPTED = 130

# Command modules, in the order `neuronmf --help` lists them.
COMMANDS = (
    "demo",
    "info",
    "synergies",
    "rank",
    "assemblies",
    "sequences",
    "decode",
    "segment",
    "imaging",
)


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
        epilog="Exit codes: 0 ok, 2 usage, 3 bad input or environment (file, "
        "disk, memory), 1 unexpected error, 130 interrupted. Add --debug for a "
        "full traceback.",
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


#: Seconds a held Ctrl-C (Python inside llvmlite, see :func:`_in_numba`) may wait
#: for Python to come out before the ``neuronmf`` program ends itself
#: (:func:`_exit_now`). A single LLVM call can last tens of seconds on a cold cache.
_HARD_EXIT_AFTER = 0.5


def _interrupt_handler(state: dict):
    """SIGINT handler: remember the interrupt, then raise KeyboardInterrupt.

    Remembering it makes the exit code 130 even when a library swallows the
    KeyboardInterrupt (a finalizer or callback reports it as "Exception
    ignored" and carries on). Where raising is unsafe (:func:`_in_numba`) the
    interrupt is held and re-delivered (:func:`_redeliver_later`); the
    ``neuronmf`` program ends itself if that takes longer than
    :data:`_HARD_EXIT_AFTER`, and after an interrupt it skips the interpreter's
    teardown (:func:`_exit_after_interrupt`).
    """
    if state.get("program"):
        import atexit

        atexit.register(_exit_after_interrupt, state)  # before the libraries'

    def handler(signum, frame):
        import time

        state["interrupted"] = True
        if state.get("outcome") == "exit" and not state.get("done"):
            _park(state)  # the helper thread is ending the process
        if state.get("done") or state.get("in_hook"):
            return  # remembered: the exit code is 130, or redelivered later
        if _in_numba(frame):  # llvmlite keeping its books: not here
            state["delivered"] = False
            state.setdefault("held_since", time.monotonic())
            _redeliver_later(state)
            return
        if state.setdefault("outcome", "raise") == "exit":  # lost the race
            _park(state)
        state["delivered"] = True
        state.pop("held_since", None)
        raise KeyboardInterrupt

    return handler


def _exit_after_interrupt(state: dict) -> None:
    """At exit of an interrupted ``neuronmf`` program: flush, ``os._exit(130)``.

    Registered before the libraries are imported, it runs after their atexit
    handlers and skips only the interpreter's teardown (freeing every module
    and object: 1-2 s after a compilation, on a loaded machine). Every result
    is written atomically and its temporary file removed while unwinding, so
    nothing is left half-written.
    """
    if not state.get("interrupted"):
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(EXIT_INTERRUPTED)


def _in_numba(frame) -> bool:
    """Whether an exception raised in ``frame`` could corrupt llvmlite's state.

    True inside llvmlite's bindings (``llvmlite/binding/``: its C calls, the
    LLVM lock and its callbacks, ownership bookkeeping), Numba's compiler lock
    being taken or released, and Numba's cache files being written. The crash
    this prevents: a Ctrl-C during ``LLVMPY_LinkModules`` (which destroys its
    source module) was raised in the LLVM lock's release callback, so
    ``link_modules`` skipped ``src.detach()``; the garbage collector later
    disposed of the destroyed module and the process died with SIGSEGV.
    Elsewhere in Numba (type inference, lowering: Python objects only) the
    interrupt is raised at once.
    """
    binding = f"{os.sep}llvmlite{os.sep}binding{os.sep}"
    numba_core = f"{os.sep}numba{os.sep}core{os.sep}"
    while frame is not None:
        name = frame.f_code.co_filename
        if binding in name or name.endswith(f"{numba_core}caching.py"):
            return True
        if name.endswith(f"{numba_core}compiler_lock.py") and (
            frame.f_code.co_name != "_acquire_compile_lock"  # the locked body
        ):
            return True
        frame = frame.f_back
    return False


def _redeliver_later(state: dict) -> None:
    """Raise the remembered interrupt in the main thread at the next safe point.

    A daemon thread asks for the interrupt again every 20 ms until the
    handler has raised it (outside llvmlite) or the command has finished. In
    the ``neuronmf`` program (``state["program"]``), an interrupt still held
    after :data:`_HARD_EXIT_AFTER` seconds (one long LLVM call: Python cannot
    raise anything until it returns) ends the process (:func:`_exit_now`).
    """
    if state.get("redelivering"):
        return
    state["redelivering"] = True

    def redeliver():
        import _thread
        import time

        try:
            while not (state["delivered"] or state["done"]):
                since = state.get("held_since")
                late = since is not None and time.monotonic() - since
                if state.get("program") and late and late >= _HARD_EXIT_AFTER:
                    if state.setdefault("outcome", "exit") == "exit":
                        _exit_now(state)  # returns only if the command ended
                        break
                _thread.interrupt_main()  # the handler raises it in the main thread
                time.sleep(0.02)
        finally:
            state["redelivering"] = False

    threading.Thread(target=redeliver, daemon=True).start()


def _park(state: dict) -> None:
    """Keep the main thread still while the helper thread ends the process."""
    import time

    state["parked"] = True
    while True:
        time.sleep(1.0)


def _own_temp_files(state: dict) -> list[Path]:
    """This process's unfinished atomic writes (temporary files) in ``--out``."""
    atomic = sys.modules.get("neuronmf.io._atomic")
    out = getattr(state.get("args"), "out", None)
    if atomic is None or not isinstance(out, Path):  # nothing written yet
        return []
    me = str(os.getpid())
    found = []
    if out.is_dir():
        walk = os.walk(out)
    else:
        walk = [(out.parent, [], [p.name for p in out.parent.glob(".*")])]
    for folder, _, names in walk:
        for name in names:
            match = atomic._TEMP_RE.match(name)
            if match is not None and match["pid"] == me:
                found.append(Path(folder) / name)
    return found


def _exit_now(state: dict) -> None:
    """End the process with exit code 130, while Python is inside llvmlite.

    Only ``os._exit`` can stop a process whose main thread is inside a long
    C call. It runs no finalizer (none of llvmlite's disposals, so no crash)
    and no atexit handler, so it first parks the main thread, removes this
    process's unfinished atomic writes from ``--out`` (the results are only
    ever renamed into place, so nothing half-written remains), flushes the
    output and prints the usual one line.
    """
    import _thread
    import time

    _thread.interrupt_main()  # the main thread parks at its next bytecode
    deadline = time.monotonic() + 0.1
    while not state.get("parked") and time.monotonic() < deadline:
        time.sleep(0.005)  # or it is inside a C call: it stays there
    if state["done"] and not state.get("parked"):
        return  # the command ended meanwhile: main() reports it
    try:
        for path in _own_temp_files(state):
            path.unlink(missing_ok=True)
    except OSError:
        pass
    command = getattr(state.get("args"), "command", None) or next(
        (a for a in sys.argv[1:] if a in COMMANDS), ""
    )
    line = f"{f'neuronmf {command}'.rstrip()}: interrupted\n"

    def flush():
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass

    flusher = threading.Thread(target=flush, daemon=True)
    flusher.start()
    flusher.join(0.5)  # never wait on a stream the parked thread may hold
    try:
        os.write(2, line.encode())
    except OSError:  # stderr closed: the code still says it
        pass
    os._exit(EXIT_INTERRUPTED)


def _unraisable_hook(state: dict, previous):
    """Re-deliver a KeyboardInterrupt that a finalizer or callback swallowed.

    A Ctrl-C that lands while Python runs a weakref callback or ``__del__``
    is only reported ("Exception ignored in ...", a traceback) and the work
    goes on. Here it is remembered, not printed, and raised again in the main
    thread at the next opportunity, so the command stops with exit code 130.
    """

    def hook(unraisable):
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            state["interrupted"] = True
            state["in_hook"] = True  # the handler must not raise in here
            try:
                state["delivered"] = False
                if state.get("outcome") == "raise":
                    del state["outcome"]  # to be delivered again
                _redeliver_later(state)
            finally:
                state["in_hook"] = False
            return
        previous(unraisable)

    return hook


def _os_error_message(exc: OSError) -> str:
    """One line for an error of the environment (file system, permissions)."""
    import errno

    where = f" '{exc.filename}'" if getattr(exc, "filename", None) else ""
    what = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        fix = "Free some space or choose another --out."
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "Check the permissions, or choose files and folders you can use."
    else:
        fix = "Check the path and the file system."
    return f"{what}{where}. {fix}"


def _run(argv: Sequence[str] | None, state: dict) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    state["args"] = args
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    if isinstance(getattr(args, "out", None), Path):  # before any work
        check_outputs(args.out, RESULT_FILES.get(args.command, ()))
    return int(args.func(args) or EXIT_OK)


def _guarded(argv: list[str], state: dict, debug: bool) -> tuple[int, str]:
    """Run the command; map every outcome to (exit code, message)."""
    try:
        return _run(argv, state), ""
    except KeyboardInterrupt:
        state["interrupted"] = True
        return EXIT_INTERRUPTED, ""
    except InputError as exc:
        if debug:
            raise
        flags = getattr(state["args"], "option_flags", {})
        return EXIT_BAD_INPUT, f"error: {name_flags(str(exc), flags)}"
    except OSError as exc:
        if debug:
            raise
        return EXIT_BAD_INPUT, f"error: {_os_error_message(exc)}"
    except MemoryError as exc:
        if debug:
            raise
        return (
            EXIT_BAD_INPUT,
            f"error: not enough memory ({exc or 'MemoryError'}). Use a smaller "
            "input or options that need less memory.",
        )
    except Exception as exc:
        if debug:
            raise
        return (
            EXIT_BUG,
            f"unexpected error: {type(exc).__name__}: {exc} "
            "(run again with --debug for the traceback)",
        )


def _show_warning(state: dict):
    """``warnings.showwarning`` for the program: ``neuronmf CMD: warning: ...``.

    One line per warning, without Python's source path and code line (a
    ``UserWarning`` is the package speaking to the user; other categories
    keep their name), with the command's flags for Python keywords (as
    errors have them). ``--debug`` shows Python's own format.
    """

    def show(message, category, filename, lineno, file=None, line=None):
        args = state.get("args")
        command = getattr(args, "command", None) or ""
        kind = "" if category is UserWarning else f" ({category.__name__})"
        said = name_flags(str(message), getattr(args, "option_flags", {}))
        text = f"{f'neuronmf {command}'.rstrip()}: warning{kind}: {said}\n"
        try:
            (file or sys.stderr).write(text)
        except (OSError, ValueError, AttributeError):
            pass  # stderr closed: as Python's own showwarning

    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code.

    Exit codes: 0 success, 1 unexpected error (a bug), 2 usage error (argparse),
    3 bad input or environment (:class:`~neuronmf.errors.InputError`, an
    ``OSError`` such as a missing, unreadable or full disk, ``MemoryError``),
    130 interrupted (Ctrl-C: one line on stderr, never a traceback). Parsing,
    the checks of ``--out`` and the command's imports all run inside the
    handlers, so a Ctrl-C or bad input at start-up is reported the same way.

    Called without ``argv`` (the ``neuronmf`` program), a Ctrl-C that comes
    after the command has finished is ignored: the exit code is the finished
    command's. Called with ``argv`` (in-process), the caller's SIGINT handler
    is restored on return.
    """
    import signal

    state: dict = {"interrupted": False, "args": None, "done": False}
    state["program"] = argv is None  # may end itself on a held Ctrl-C
    previous = None
    unraisable = sys.unraisablehook
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, _interrupt_handler(state))
        sys.unraisablehook = _unraisable_hook(state, unraisable)
    argv_list = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv_list
    if argv is None and not debug:  # the program: warnings as one line each
        warnings.showwarning = _show_warning(state)
    code, message = EXIT_BUG, ""
    try:
        try:
            code, message = _guarded(argv_list, state, debug)
        finally:
            state["done"] = True  # from here a Ctrl-C is only remembered
    except KeyboardInterrupt:  # landed between two handlers
        state["interrupted"] = True
    finally:
        if previous is not None:
            done = signal.SIG_IGN if argv is None else previous
            signal.signal(signal.SIGINT, done)
            sys.unraisablehook = unraisable
    command = getattr(state["args"], "command", None)
    if command is None:  # stopped before parsing ended: the first command word
        command = next((a for a in argv_list if a in COMMANDS), "")
    prefix = f"neuronmf {command}".rstrip()
    if state["interrupted"]:
        code, message = EXIT_INTERRUPTED, "interrupted"
    if message:
        try:
            print(f"{prefix}: {message}", file=sys.stderr, flush=True)
        except (OSError, ValueError):  # stderr closed: the code still says it
            pass
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
