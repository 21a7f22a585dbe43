"""Checks shared by several commands: price files, sinks, optional parts of tokentrail."""

from __future__ import annotations

import importlib
import os
from typing import Any

from ._errors import CliError, UsageError


def use_pricing(path: str | None, flag: str) -> str | None:
    """Load a price override file now (``path``, else ``TOKENTRAIL_PRICING``), so a broken
    file is an error here rather than a warning in the middle of the command; returns it."""
    import tokentrail
    from .._config import SETTINGS
    chosen = path or SETTINGS.pricing
    if not chosen:
        return None
    where = flag if path else "TOKENTRAIL_PRICING"
    if not os.path.exists(chosen):
        raise CliError(f"price file {chosen!r} (from {where}) does not exist; check the path, or run "
                       "`tokentrail pricing init` to write an example")
    if os.path.isdir(chosen):
        raise CliError(f"price file {chosen!r} (from {where}) is a directory; give a YAML file")
    tokentrail.configure(pricing=chosen)    # PricingError (file, line, what to fix) -> exit 1
    return chosen


def resolve_sink_spec(spec: Any, flag: str) -> Any:
    """The sink object for ``spec``; an unknown scheme is a usage error (exit 2)."""
    from .._sinks import SinkError, resolve_sink
    try:
        return resolve_sink(spec)
    except SinkError as e:
        raise UsageError(f"{flag}: {e}") from None


def default_sink_spec() -> str:
    """What events go to when no flag says: ``TOKENTRAIL_SINK`` or ``tokentrail.jsonl``."""
    from .._config import SETTINGS
    spec = SETTINGS.sink_spec
    return spec if isinstance(spec, str) and spec else "tokentrail.jsonl"


def chosen_sink(value: str | None, flag: str) -> tuple[str, str]:
    """The sink spec a command writes to and where it came from, for error messages: ``flag``
    when given, else ``TOKENTRAIL_SINK`` or ``the default`` (an error that blames a flag
    the user never typed sends them looking in the wrong place)."""
    if value:
        return value, flag
    spec = default_sink_spec()
    env = os.environ.get("TOKENTRAIL_SINK")
    return spec, "TOKENTRAIL_SINK" if env and env == spec else "the default"


def check_writable_sink(sink: Any, flag: str) -> str | None:
    """Fail before anything is written if a file/SQLite sink cannot be written; returns its
    report source (path or ``sqlite:///`` URL), or None for other sinks."""
    from .._sinks import JsonlSink, MemorySink, SqliteSink
    if isinstance(sink, MemorySink):
        raise UsageError(f"{flag}: the 'memory' sink keeps events inside this process only, so nothing would "
                         "be kept; give a .jsonl file, sqlite:///file.db or stdout")
    if isinstance(sink, JsonlSink):
        path = sink.path
        if os.path.isdir(path):
            raise CliError(f"{path!r} ({flag}) is a directory; give a file name such as "
                           f"{path.rstrip('/')}/events.jsonl")
        parent = os.path.dirname(os.path.abspath(path))
        _check_dir(parent, path, flag)
        if os.path.exists(path) and not os.access(path, os.W_OK):
            raise CliError(f"cannot write to {path!r} ({flag}): permission denied")
        _check_event_log(path, flag)
        return path
    if isinstance(sink, SqliteSink):
        path = sink.path
        if os.path.isdir(path):
            raise CliError(f"{path!r} ({flag}) is a directory, not a SQLite database file")
        _check_dir(os.path.dirname(os.path.abspath(path)), path, flag)
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path, "rb") as f:
                if f.read(16) != b"SQLite format 3\x00":
                    raise CliError(f"{path!r} ({flag}) exists and is not a SQLite database; "
                                   "give another file name")
        return "sqlite:///" + path if not os.path.isabs(path) else "sqlite:////" + path.lstrip("/")
    return None


def _check_event_log(path: str, flag: str) -> None:
    """Appending JSON lines to a file `report` refuses to read (a SQLite database given without
    sqlite:///, a gzip or other binary file) would damage it and hide the events: refuse with
    the sentence `report` gives for that file."""
    try:
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            return
        with open(path, "rb") as f:
            head = f.read(65536)
    except OSError:
        return                      # unreadable but writable: the write itself reports a real failure
    from ..analysis._errors import InputError
    from ..analysis._read import _check_text
    try:
        _check_text(head, path)
    except InputError as e:
        raise CliError(f"{flag}: {e}") from None


def _check_dir(parent: str, path: str, flag: str) -> None:
    # The sinks create missing directories; only an existing non-directory or no permission is fatal.
    p = parent
    while not os.path.exists(p):
        up = os.path.dirname(p)
        if up == p:
            break
        p = up
    if not os.path.isdir(p):
        raise CliError(f"cannot write {path!r} ({flag}): {p!r} is a file, not a directory")
    if not os.access(p, os.W_OK | os.X_OK):
        raise CliError(f"cannot write {path!r} ({flag}): no permission to write in {p!r}")


def require(module: str, what: str, *names: str) -> Any:
    """Import a part of tokentrail (or an optional dependency) a command needs; a clear
    error instead of a traceback when it is missing. Returns the module, or the named
    attributes of it."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and (e.name == "tokentrail" or e.name.startswith("tokentrail.")):
            raise CliError(f"{what} ({e.name}) is not part of this tokentrail installation; "
                           "reinstall tokentrail") from None
        raise CliError(f"{what} needs the package {e.name!r}, which is not installed; "
                       f"`pip install {e.name}`") from None
    if not names:
        return mod
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        raise CliError(f"{what} ({module}) has no {', '.join(missing)} in this tokentrail installation; "
                       "reinstall tokentrail")
    values = tuple(getattr(mod, n) for n in names)
    return values[0] if len(values) == 1 else values
