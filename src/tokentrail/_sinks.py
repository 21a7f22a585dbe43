"""Built-in sinks. A sink is anything with ``write(event: dict)``; ``write_batch``,
``flush`` and ``close`` are optional. Sinks run on tokentrail's writer thread, never on
the caller's.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

SINK_SCHEMES = ('"stdout"', '"memory"', '"path/to/file.jsonl"', '"sqlite:///path/to/file.db"')


class SinkError(ValueError):
    """A sink specification could not be understood; the message lists the valid forms."""


def dumps(event: dict) -> str:
    """One event as one compact JSON line (no newline)."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)


class JsonlSink:
    """Append events as NDJSON lines to a file.

    The file is opened with ``O_APPEND`` and every ``write`` call carries whole lines
    only, so several processes can share one file and a crash loses at most the last,
    partial line (which readers skip).
    """

    def __init__(self, path: str | os.PathLike = "tokentrail.jsonl"):
        self.path = os.fspath(path)
        self._fd: int | None = None
        self._pid = os.getpid()

    def _open(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            parent = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(parent, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._pid = os.getpid()
        return self._fd

    def write(self, event: dict) -> None:
        self._write_bytes((dumps(event) + "\n").encode("utf-8"))

    def write_batch(self, events: list[dict]) -> None:
        # Whole lines per write(2), in chunks of ~256 KiB.
        buf: list[str] = []
        size = 0
        for ev in events:
            line = dumps(ev) + "\n"
            buf.append(line)
            size += len(line)
            if size >= 262_144:
                self._write_bytes("".join(buf).encode("utf-8"))
                buf, size = [], 0
        if buf:
            self._write_bytes("".join(buf).encode("utf-8"))

    def _write_bytes(self, data: bytes) -> None:
        fd = self._open()
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]

    def flush(self) -> None:
        pass  # os.write is unbuffered

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            try:
                os.close(self._fd)
            finally:
                self._fd = None

    def after_fork(self) -> None:
        self._fd = None  # the child opens its own descriptor

    def __repr__(self) -> str:
        return f"JsonlSink({self.path!r})"


class StdoutSink:
    """Print each event as one JSON line on standard output (looked up at write time)."""

    def write(self, event: dict) -> None:
        sys.stdout.write(dumps(event) + "\n")

    def write_batch(self, events: list[dict]) -> None:
        sys.stdout.write("".join(dumps(e) + "\n" for e in events))

    def flush(self) -> None:
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass

    def __repr__(self) -> str:
        return "StdoutSink()"


class MemorySink:
    """Keep events in a list (``.events``); for tests and notebooks."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def write(self, event: dict) -> None:
        self.events.append(event)

    def write_batch(self, events: list[dict]) -> None:
        self.events.extend(events)

    def __repr__(self) -> str:
        return f"MemorySink({len(self.events)} events)"


class CallableSink:
    """Hand each event to a function."""

    def __init__(self, fn: Callable[[dict], Any]):
        self.fn = fn

    def write(self, event: dict) -> None:
        self.fn(event)

    def __repr__(self) -> str:
        return f"CallableSink({getattr(self.fn, '__name__', self.fn)!r})"


class FanoutSink:
    """Write every event to several sinks; one failing sink does not stop the others."""

    def __init__(self, *sinks: Any):
        self.sinks = [resolve_sink(s) for s in sinks]

    def write(self, event: dict) -> None:
        self.write_batch([event])

    def write_batch(self, events: list[dict]) -> None:
        from ._writer import write_to_sink
        for s in self.sinks:
            write_to_sink(s, events)

    def flush(self) -> None:
        from ._writer import call_quietly
        for s in self.sinks:
            call_quietly(s, "flush")

    def close(self) -> None:
        from ._writer import call_quietly
        for s in self.sinks:
            call_quietly(s, "close")

    def after_fork(self) -> None:
        for s in self.sinks:
            if hasattr(s, "after_fork"):
                s.after_fork()

    def __repr__(self) -> str:
        return f"FanoutSink({', '.join(map(repr, self.sinks))})"


# --------------------------------------------------------------------------- SQLite

SQLITE_COLUMNS = (
    "id", "trace_id", "parent_id", "namespace", "type", "name", "provider", "request_model", "model",
    "start_time", "end_time", "status", "prompt_tokens", "completion_tokens", "total_tokens",
    "cached_tokens", "cache_write_tokens", "reasoning_tokens", "cost", "latency_ms", "event",
)

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    trace_id TEXT NOT NULL,
    parent_id TEXT,
    namespace TEXT NOT NULL DEFAULT 'default',
    type TEXT,
    name TEXT,
    provider TEXT,
    request_model TEXT,
    model TEXT,
    start_time TEXT,
    end_time TEXT,
    status TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    total_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    latency_ms INTEGER,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_trace ON events(trace_id);
CREATE INDEX IF NOT EXISTS events_model ON events(model);
CREATE INDEX IF NOT EXISTS events_time ON events(start_time);
CREATE INDEX IF NOT EXISTS events_namespace ON events(namespace, start_time);
"""


def sqlite_row(event: dict, namespace: str | None = None) -> tuple:
    inp = event.get("input") or {}
    usage = event.get("usage") or {}
    return (
        str(event.get("id")), str(event.get("traceId")), event.get("parentId"),
        namespace or event.get("namespace") or "default", event.get("type"), event.get("name"),
        event.get("provider"), inp.get("model") if isinstance(inp, dict) else None, event.get("model"),
        event.get("startTime"), event.get("endTime"), event.get("status"),
        usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0), usage.get("total_tokens", 0),
        usage.get("cached_tokens", 0), usage.get("cache_write_tokens", 0), usage.get("reasoning_tokens", 0),
        event.get("cost") or 0, event.get("latency_ms"), dumps(event),
    )


def sqlite_path(url: str) -> str:
    """``sqlite:///rel.db`` -> ``rel.db``; ``sqlite:////abs/x.db`` -> ``/abs/x.db``."""
    if not url.startswith("sqlite://"):
        return url
    rest = url[len("sqlite://"):]
    if rest.startswith("/"):
        rest = rest[1:]
    if not rest:
        raise SinkError(f"{url!r} names no database file; write sqlite:///path/to/file.db")
    return rest


def sqlite_connect(path: str, *, timeout: float = 30.0) -> sqlite3.Connection:
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    conn = sqlite3.connect(path, timeout=timeout, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        pass  # e.g. a read-only directory; WAL is an optimisation, not a requirement
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SQLITE_SCHEMA)
    return conn


class SqliteSink:
    """Store events in a SQLite database (WAL, busy timeout: several processes may write).

    Each row keeps the queryable columns plus the whole event as JSON; ``namespace``
    defaults to the event's own.
    """

    def __init__(self, path: str, namespace: str | None = None, timeout: float = 30.0):
        self.path = sqlite_path(path)
        self.namespace = namespace
        self.timeout = timeout
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def _connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():
            self.after_fork()
        if self._conn is None:
            self._conn = sqlite_connect(self.path, timeout=self.timeout)
        return self._conn

    def write(self, event: dict) -> None:
        self.write_batch([event])

    def write_batch(self, events: list[dict]) -> None:
        rows = [sqlite_row(e, self.namespace) for e in events]
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    f"INSERT OR IGNORE INTO events ({', '.join(SQLITE_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(SQLITE_COLUMNS))})", rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def after_fork(self) -> None:
        # A connection must not cross fork(); drop (do not close) the parent's.
        self._conn = None
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"SqliteSink({self.path!r})"


# --------------------------------------------------------------------------- resolution

_sink_cache: dict[str, Any] = {}
_sink_cache_lock = threading.Lock()


def resolve_sink(spec: Any) -> Any:
    """Turn a sink specification into a sink object.

    Accepts a sink object (anything with ``write``), a callable, a list/tuple (fan-out),
    or a string: ``"stdout"``, ``"memory"``, ``"sqlite:///file.db"`` or a file path
    (``.jsonl``/``.ndjson``/``.json``/``.log`` or any path without a scheme). The same
    string always gives the same sink object, so one file is written by one sink.
    """
    if spec is None:
        spec = "tokentrail.jsonl"
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if isinstance(spec, str):
        with _sink_cache_lock:
            sink = _sink_cache.get(spec)
            if sink is None:
                sink = _sink_from_string(spec)
                _sink_cache[spec] = sink
        return sink
    if isinstance(spec, (list, tuple)):
        return FanoutSink(*spec)
    if hasattr(spec, "write") and callable(spec.write):
        return spec
    if callable(spec):
        return CallableSink(spec)
    raise SinkError(f"cannot use {spec!r} as a sink: give an object with write(event), a function, "
                    f"a list of sinks, or one of {', '.join(SINK_SCHEMES)}")


def _sink_from_string(spec: str) -> Any:
    s = spec.strip()
    if not s:
        raise SinkError(f"empty sink name; use one of {', '.join(SINK_SCHEMES)}")
    low = s.lower()
    if low in ("stdout", "-"):
        return StdoutSink()
    if low == "memory":
        return MemorySink()
    if low.startswith("sqlite:"):
        if not low.startswith("sqlite:///"):
            raise SinkError(f"{spec!r} is not a SQLite URL; write sqlite:///relative.db or sqlite:////absolute.db")
        return SqliteSink(s)
    if low.startswith(("postgresql://", "postgres://")):
        from importlib import import_module
        try:
            mod = import_module("tokentrail.sinks.postgres")
        except ImportError:
            raise SinkError(f"{spec!r}: PostgreSQL sinks need `pip install tokentrail[postgres]`") from None
        return mod.PostgresSink(s)
    if low == "otel":
        from importlib import import_module
        try:
            mod = import_module("tokentrail.sinks.otel")
        except ImportError:
            raise SinkError("sink 'otel' needs `pip install tokentrail[otel]`") from None
        return mod.OTelSink()
    if "://" in s:
        scheme = s.split("://", 1)[0]
        raise SinkError(f"unknown sink scheme {scheme + '://'!r} in {spec!r}; valid sinks are "
                        f"{', '.join(SINK_SCHEMES)}")
    return JsonlSink(Path(s))


def iter_sinks(sink: Any) -> Iterable[Any]:
    if isinstance(sink, FanoutSink):
        for s in sink.sinks:
            yield from iter_sinks(s)
    else:
        yield sink
