"""The ``tokentrail`` command line (also ``python -m tokentrail``).

Commands: ``demo``, ``report`` (alias ``analyze``), ``log``, ``export`` and ``pricing``;
see ``tokentrail --help``. Each command lives in its own module and is imported only
when it runs, so ``tokentrail --help`` never imports the SDKs or the report engine.

Exit codes (also in every ``--help``):

- 0: done (waste findings never change it, unless ``report --fail-on waste``);
- 1: the input or the environment is wrong: an input file is missing, empty,
  unreadable or not an event log, a price file is broken, an output cannot be written,
  a needed part of tokentrail is not installed; or waste was found with ``--fail-on waste``;
- 2: the command line is wrong: unknown command or flag, invalid option value,
  unknown sink scheme.

A user's mistake prints exactly one line, ``tokentrail: error: <sentence>``, on
standard error and never a traceback; ``TOKENTRAIL_DEBUG=1`` shows the traceback of
an unexpected error.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable, Sequence

from ._errors import EXIT_INPUT, EXIT_OK, EXIT_USAGE, CliError, UsageError, one_line

__all__ = ["main", "CliError", "UsageError", "EXIT_OK", "EXIT_INPUT", "EXIT_USAGE"]

_DEBUG_VAR = "TOKENTRAIL_DEBUG"


class _WarningHandler(logging.Handler):
    """tokentrail's own log warnings, as ``tokentrail: warning: ...`` lines on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
        except Exception:
            msg = str(record.msg)
        if msg.startswith("tokentrail: "):
            msg = msg[len("tokentrail: "):]
        level = "error" if record.levelno >= logging.ERROR else "warning"
        if record.exc_info and _debug():
            import traceback
            msg += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        sys.stderr.write(f"tokentrail: {level}: {msg if _debug() else one_line(msg)}\n")


def _debug() -> bool:
    return os.environ.get(_DEBUG_VAR, "").strip().lower() not in ("", "0", "false", "no", "off")


def _setup_logging() -> Callable[[], None]:
    """Send tokentrail's log records to stderr as one-line warnings; returns the undo
    (``main`` may be called in-process, e.g. by tests, and must leave logging as it was)."""
    log = logging.getLogger("tokentrail")
    saved = (log.level, log.propagate)
    handler = _WarningHandler(logging.WARNING)
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if _debug() else logging.WARNING)
    log.propagate = False

    def undo() -> None:
        log.removeHandler(handler)
        log.setLevel(saved[0])
        log.propagate = saved[1]
    return undo


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    from ._parser import build_parser

    undo_logging = _setup_logging()
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
        if getattr(args, "run", None) is None:
            raise UsageError("choose a command: demo, report, log, export, pricing or db "
                             "(see tokentrail --help)")
        return int(args.run(args) or EXIT_OK)
    except CliError as e:
        _error(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("tokentrail: interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `tokentrail report | head`): stop quietly.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return EXIT_INPUT
    except Exception as e:   # anything else is a bug in tokentrail, not the user's mistake
        known = translate(e)
        if known is not None:
            _error(str(known))
            return known.exit_code
        if _debug():
            raise
        _error(f"unexpected {type(e).__name__}: {one_line(str(e)) or 'no message'}; "
               f"run with {_DEBUG_VAR}=1 for the traceback")
        return EXIT_INPUT
    finally:
        _flush_streams()
        undo_logging()


def translate(e: BaseException) -> CliError | None:
    """The user-facing error for an exception raised by tokentrail's own API, if it is one."""
    from .._pricing import PricingError
    from .._sinks import SinkError
    if isinstance(e, CliError):
        return e
    if isinstance(e, SinkError):
        return UsageError(str(e))
    if isinstance(e, PricingError):
        return CliError(str(e))
    if type(e).__name__ == "InputError" and isinstance(e, ValueError):
        # tokentrail.analysis.InputError; an engine may mark usage problems with exit_code=2.
        return CliError(str(e), exit_code=getattr(e, "exit_code", EXIT_INPUT))
    if isinstance(e, OSError) and (e.filename or e.strerror):
        where = f"{e.filename!r}: " if e.filename else ""
        return CliError(f"{where}{e.strerror or e}")
    return None


def _error(msg: str) -> None:
    sys.stderr.write(f"tokentrail: error: {one_line(msg)}\n")


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
