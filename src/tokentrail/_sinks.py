"""Built-in sinks. A sink is anything with ``write(event: dict)``; ``write_batch``,
``flush`` and ``close`` are optional, and so is ``batch_max`` (an int: the most events
the sink wants in one ``write_batch``; the writer's default is 5,000, and it hands out at
most 50,000). Sinks run on tokentrail's writer thread, never on the caller's.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import stat
import sys
import threading
import weakref
from itertools import chain
from pathlib import Path
from typing import Any, Callable, Iterable

from . import _hooks

SINK_SCHEMES = ('"stdout"', '"memory"', '"path/to/file.jsonl"', '"sqlite:///path/to/file.db"')


class SinkError(ValueError):
    """A sink specification could not be understood; the message lists the valid forms."""


# One event -> one compact JSON line. The C encoder is built once and reused (building
# it per call costs as much as encoding a small event); no circular-reference check and
# no NaN on the fast path: an event that needs either goes through _dumps_safe.
try:
    from json.encoder import c_encode_basestring as _c_str
    from json.encoder import c_make_encoder as _c_make
except ImportError:  # pragma: no cover - PyPy and friends
    _c_make = _c_str = None


def _default(o: Any) -> Any:
    """JSON for what json does not know: Decimal as a number, dates as ISO text, the rest as text."""
    from decimal import Decimal
    if isinstance(o, Decimal):
        f = float(o)
        return f if math.isfinite(f) else None
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    iso = getattr(o, "isoformat", None)
    if callable(iso):
        return iso()
    if isinstance(o, (bytes, bytearray)):
        return f"[{len(o)} bytes]"
    dump = getattr(o, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json")
        except Exception:
            pass
    return str(o)


if _c_make is not None and _c_str is not None:
    _fast = _c_make(None, _default, _c_str, None, ":", ",", False, False, False)

    def _encode(event: dict) -> str:
        parts = _fast(event, 0)   # a tuple or list of str, by Python version
        if type(parts) is str:
            return parts
        return parts[0] if len(parts) == 1 else "".join(parts)
else:  # pragma: no cover
    _encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_default,
                               allow_nan=False).encode


def _clean(value: Any, depth: int = 0, seen: set | None = None) -> Any:
    """A JSON-safe copy: NaN/inf become null, cycles and over-deep nesting become text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if depth > 64:
        return "[too deep]"
    seen = seen if seen is not None else set()
    if isinstance(value, (dict, list, tuple)):
        if id(value) in seen:
            return "[cycle]"
        seen.add(id(value))
        try:
            if isinstance(value, dict):
                return {k if isinstance(k, str) else str(k): _clean(v, depth + 1, seen) for k, v in value.items()}
            return [_clean(v, depth + 1, seen) for v in value]
        finally:
            seen.discard(id(value))
    try:
        return _clean(_default(value), depth + 1, seen)
    except Exception:
        return f"[unserializable {type(value).__name__}]"


def _dumps_safe(event: dict) -> str:
    clean = _clean(event)
    text = json.dumps(clean, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:   # a lone surrogate (text decoded with surrogateescape, say)
            text = json.dumps(clean, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text


# The encoders of the fast path. They may raise for anything odd (a cycle, NaN with the
# stdlib encoder, a 100-bit integer, a lone surrogate); the callers then take the safe
# path. With ``orjson`` (a dependency on CPython; absent on PyPy) events are encoded by it:
# five to nine times faster than the stdlib's C encoder, same JSON (NaN as null, compact,
# UTF-8); dates and dataclasses still go through ``_default`` so the text does not
# depend on which encoder ran.
def _stdlib_str(event: dict) -> str:
    text = _encode(event)
    if not text.isascii():
        text.encode("utf-8")          # raises for lone surrogates, which no UTF-8 file can hold
    return text


def _stdlib_bytes(event: dict) -> bytes:
    return _encode(event).encode("utf-8")


try:
    import orjson as _orjson
except ImportError:  # the optional extra is not installed
    _orjson = None

if _orjson is not None:
    _OJ_OPTIONS = _orjson.OPT_PASSTHROUGH_DATETIME | _orjson.OPT_PASSTHROUGH_DATACLASS
    # Non-str dict keys (user metadata {1: "x"}): allowed on a second try only; the option
    # doubles orjson's time on every event.
    _OJ_KEYS = _OJ_OPTIONS | _orjson.OPT_NON_STR_KEYS

    def _orjson_bytes(event: dict, _dumps: Any = _orjson.dumps) -> bytes:
        try:
            return _dumps(event, default=_default, option=_OJ_OPTIONS)
        except TypeError:                   # orjson.JSONEncodeError: a non-str key, a cycle, ...
            return _dumps(event, default=_default, option=_OJ_KEYS)

    def _orjson_str(event: dict) -> str:
        return _orjson_bytes(event).decode("utf-8")


def use_encoder(name: str) -> str:
    """Choose the JSON encoder: ``"orjson"`` (when installed), ``"stdlib"`` or ``"auto"``.

    Returns the name of the one in use. ``TOKENTRAIL_JSON=stdlib`` chooses at import.
    """
    global _line_str, _line_bytes, ENCODER
    if name == "auto":
        name = "orjson" if _orjson is not None else "stdlib"
    if name == "orjson" and _orjson is not None:
        _line_str, _line_bytes = _orjson_str, _orjson_bytes
    elif name in ("stdlib", "orjson"):
        name = "stdlib"
        _line_str, _line_bytes = _stdlib_str, _stdlib_bytes
    else:
        raise ValueError(f"unknown JSON encoder {name!r}; use 'auto', 'orjson' or 'stdlib'")
    ENCODER = name
    return name


ENCODER = use_encoder("stdlib" if os.environ.get("TOKENTRAIL_JSON", "").strip().lower() == "stdlib" else "auto")


def dumps(event: dict) -> str:
    """One event as one compact JSON line (no newline); never raises for odd values.

    Non-finite floats are written as ``null`` (strict JSON readers reject ``NaN``),
    cycles as ``"[cycle]"``, unknown objects as text, lone surrogates escaped; the
    result always encodes as UTF-8.
    """
    if _hooks.USED:
        event = _hooks.public(event)   # "_" keys are call-time captures for other sinks (_hooks)
    try:
        return _line_str(event)
    except Exception:
        return _dumps_safe(event)


def dumps_bytes(event: dict) -> bytes:
    """:func:`dumps` as UTF-8 bytes (the JSONL sink's path: no str round trip with orjson)."""
    if _hooks.USED:
        event = _hooks.public(event)
    try:
        return _line_bytes(event)
    except Exception:
        return _dumps_safe(event).encode("utf-8")


class JsonlSink:
    """Append events as NDJSON lines to a file.

    The file is opened with ``O_APPEND`` and every ``write(2)`` carries whole lines
    only, so several processes can share one file and a crash loses at most the last,
    partial line (which readers skip). A file that does not end in a newline when it is
    opened (a writer was killed mid-line), or a write cut short by a full disk, gets a
    newline before the next line, so the damage stays confined to that one line.
    Missing directories are created.
    """

    CHUNK = 1 << 20   # bytes per write(2); always whole lines

    def __init__(self, path: str | os.PathLike = "tokentrail.jsonl"):
        self.path = os.fspath(path)
        self._fd: int | None = None
        self._pid = os.getpid()
        self._torn = False      # the file may end in a partial line: start the next write with "\n"
        self._lock = threading.Lock()

    def _open(self) -> int:
        if self._pid != os.getpid():
            self.after_fork()
        if self._fd is None:
            parent = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(parent, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                self._torn = self._torn or _ends_mid_line(fd, self.path)
            except OSError:
                pass
            self._fd = fd
        return self._fd

    def write(self, event: dict) -> None:
        self.write_batch([event])

    def write_batch(self, events: list[dict]) -> None:
        # Lines go into one growing buffer, written every CHUNK bytes. Each line's bytes
        # are freed as soon as they are copied, so memory stays warm in the cache: about
        # three times faster than joining a list of a whole batch's lines.
        line = dumps_bytes
        chunk = self.CHUNK
        buf = bytearray()
        written = pending = 0
        try:
            for ev in events:
                buf += line(ev)
                buf += b"\n"
                pending += 1
                if len(buf) >= chunk:
                    self._write_bytes(buf)
                    written += pending
                    pending = 0
                    del buf[:]
            if buf:
                self._write_bytes(buf)
        except OSError as e:
            e.lines_written = written + (getattr(e, "lines_written", 0) or 0)
            raise

    def _write_bytes(self, data: bytes | bytearray) -> None:
        if self._pid != os.getpid():
            self.after_fork()
        with self._lock:
            fd = self._open()
            if self._torn:
                data = b"\n" + data
            done = 0
            try:
                with memoryview(data) as view:   # released even on error: the caller reuses its buffer
                    while done < len(data):
                        done += os.write(fd, view[done:])
            except OSError as e:
                if done:
                    self._torn = True   # a partial line is on disk now
                    # The whole lines that did make it are not lost (the writer counts the rest).
                    e.lines_written = data.count(b"\n", 0, done) - (1 if data[:1] == b"\n" else 0)
                # Reopen next time: the directory may be fixed, the disk freed, the file rotated.
                self._fd = None
                try:
                    os.close(fd)
                except OSError:
                    pass
                raise
            self._torn = False

    def flush(self) -> None:
        pass  # os.write is unbuffered

    def close(self) -> None:
        with self._lock:
            if self._fd is not None and self._pid == os.getpid():
                try:
                    os.close(self._fd)
                finally:
                    self._fd = None

    def after_fork(self) -> None:
        self._fd = None  # the child opens its own descriptor
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"JsonlSink({self.path!r})"


def _ends_mid_line(fd: int, path: str) -> bool:
    """True if a regular file is non-empty and its last byte is not a newline."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
        return False
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"


class StdoutSink:
    """Print each event as one JSON line on standard output (looked up at write time)."""

    def write(self, event: dict) -> None:
        sys.stdout.write(dumps(event) + "\n")

    def write_batch(self, events: list[dict]) -> None:
        sys.stdout.write("".join([dumps(e) + "\n" for e in events]))

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
        from ._writer import SinkHealth
        self.sinks = [resolve_sink(s) for s in sinks]
        self._health = SinkHealth()   # each member's failures are reported once, like top-level sinks'
        # The biggest batch a member asks for (a SQLite member keeps its big transactions).
        asks = [getattr(s, "batch_max", None) for s in self.sinks]
        self.batch_max = max([b for b in asks if type(b) is int], default=None)

    def write(self, event: dict) -> None:
        self.write_batch([event])

    def write_batch(self, events: list[dict]) -> None:
        from ._writer import write_to_sink
        for s in self.sinks:
            write_to_sink(s, events, self._health)

    def flush(self) -> None:
        from ._writer import call_quietly
        for s in self.sinks:
            call_quietly(s, "flush", self._health)

    def close(self) -> None:
        from ._writer import call_quietly
        for s in self.sinks:
            call_quietly(s, "close", self._health)

    def after_fork(self) -> None:
        from ._writer import SinkHealth
        self._health = SinkHealth()
        for s in self.sinks:
            if hasattr(s, "after_fork"):
                try:
                    s.after_fork()
                except Exception:
                    pass

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


def _text(v: Any) -> Any:
    return v if v is None or type(v) is str else str(v)


def _int(v: Any) -> int:
    if type(v) is int:
        return v
    try:
        return int(float(v)) if v is not None and not isinstance(v, bool) else 0
    except (TypeError, ValueError, OverflowError):
        return 0


def _real(v: Any) -> float:
    try:
        f = float(v) if v is not None else 0.0
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return f if math.isfinite(f) else 0.0


def sqlite_row(event: dict, namespace: str | None = None) -> tuple:
    """The ``events`` row of one event (values coerced to their column types)."""
    g = event.get
    inp = g("input")
    usage = g("usage")
    u = usage.get if type(usage) is dict else {}.get
    eid, tid, pid, ns, typ, name, provider, model, start, end, status, lat, cost = (
        g("id"), g("traceId"), g("parentId"), g("namespace"), g("type"), g("name"), g("provider"), g("model"),
        g("startTime"), g("endTime"), g("status"), g("latency_ms"), g("cost"))
    pt, ct, tt, cached, cw, rt = (u("prompt_tokens"), u("completion_tokens"), u("total_tokens"),
                                  u("cached_tokens"), u("cache_write_tokens"), u("reasoning_tokens"))
    # A recorded event's values have their columns' types: a type test per column, and a
    # coercion call only for the others (a call per column cost ~8% of the sink's rate).
    S, I = str, int
    return (
        (eid if type(eid) is S else _text(eid)) if eid is not None else _fresh_id(),
        (tid if type(tid) is S else _text(tid)) or "", pid if pid is None or type(pid) is S else _text(pid),
        namespace or (ns if type(ns) is S else _text(ns)) or "default",
        typ if type(typ) is S else _text(typ), name if type(name) is S else _text(name),
        provider if type(provider) is S else _text(provider),
        _text(inp.get("model")) if type(inp) is dict else None, model if type(model) is S else _text(model),
        start if type(start) is S else _text(start), end if type(end) is S else _text(end),
        status if type(status) is S else _text(status),
        pt if type(pt) is I else _int(pt), ct if type(ct) is I else _int(ct), tt if type(tt) is I else _int(tt),
        cached if type(cached) is I else _int(cached), cw if type(cw) is I else _int(cw),
        rt if type(rt) is I else _int(rt), _real(cost), None if lat is None else lat if type(lat) is I else _int(lat),
        dumps(event),
    )


def _rows(events: list, ns: str | None) -> list[tuple]:
    try:
        return [sqlite_row(e, ns) for e in events]
    except Exception:   # one odd event must not cost the batch
        rows = []
        for e in events:
            try:
                rows.append(sqlite_row(e if isinstance(e, dict) else {"event": e}, ns))
            except Exception:
                pass
        return rows


def _fresh_id() -> str:
    import uuid
    return str(uuid.uuid4())


_INSERT = (f"INSERT OR IGNORE INTO events ({', '.join(SQLITE_COLUMNS)}) "
           f"VALUES ({', '.join('?' * len(SQLITE_COLUMNS))})")
_ROW = "(" + ",".join("?" * len(SQLITE_COLUMNS)) + ")"
# Rows per INSERT statement. sqlite3 releases the GIL around every statement step, and
# taking it back from a busy thread can cost a whole switch interval (5 ms): one step
# per row (executemany) crawls in a busy process, one step per ROWS_PER_INSERT rows
# does not. Older SQLite allows only 999 parameters per statement.
_chain = chain.from_iterable
ROWS_PER_INSERT = 100 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999 // len(SQLITE_COLUMNS)
_insert_sql: dict[int, str] = {}


def _insert_rows(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    """Insert up to ROWS_PER_INSERT rows with one statement."""
    if not rows:
        return
    sql = _insert_sql.get(len(rows))
    if sql is None:
        sql = _insert_sql[len(rows)] = (f"INSERT OR IGNORE INTO events ({', '.join(SQLITE_COLUMNS)}) VALUES "
                                        + ",".join([_ROW] * len(rows)))
    conn.execute(sql, list(_chain(rows)))


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
    # A new database gets 16 KiB pages (an event row is ~1.4 KiB: fewer page splits and
    # WAL frames, ~10% more rows per second); an existing one keeps its own.
    conn.execute("PRAGMA page_size=16384")
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        pass  # e.g. a read-only directory; WAL is an optimisation, not a requirement
    conn.execute("PRAGMA synchronous=NORMAL")
    # 16 MiB of page cache (SQLite's default is 2 MiB): a batch's transaction keeps its
    # index pages in memory instead of spilling them; ~15% more rows per second. Memory
    # is taken only as pages are used, up to this much per connection.
    conn.execute("PRAGMA cache_size=-16384")
    conn.executescript(SQLITE_SCHEMA)
    return conn


class _Checkpointer:
    """Copies a WAL database's committed pages into the database file on a thread of its
    own, with a connection of its own: SQLite lets go of the GIL meanwhile, so the copy
    (a fifth of the writer's time per row when SQLite does it at commit) runs beside the
    writer. The writer's connection checkpoints only through :meth:`before_write`.

    A passive checkpoint never waits for, nor blocks, a writer or a reader; but while the
    writer keeps writing it is always a transaction behind, and the WAL can only start
    over once every frame in it is copied. So after ``WAL_ROWS`` rows (~60 MB of WAL) the
    writer waits for the thread and copies the rest itself before its next transaction,
    which then starts the WAL over (unless a reader still holds an older snapshot).
    The thread ends after ``IDLE_SECONDS`` with nothing to do and starts again when asked;
    if it cannot open the database, the writer's connection checkpoints as SQLite would.
    """

    #: Rows committed between two requests (~7 MB of WAL): small batches do not each pay
    #: a checkpoint's fsync.
    ROWS = 5_000
    WAL_ROWS = 40_000
    IDLE_SECONDS = 10.0

    def __init__(self, path: str, timeout: float) -> None:
        self.path, self.timeout = path, timeout
        self.rows = 0                       # since the last request
        self.unchecked = 0                  # since the writer's last complete checkpoint
        self.wake = threading.Event()
        self.running = threading.Lock()     # held while a checkpoint runs
        self.thread: threading.Thread | None = None
        self.stopped = self.failed = False

    def before_write(self, conn: sqlite3.Connection) -> None:
        """On the writer thread, before a transaction."""
        if self.unchecked >= self.WAL_ROWS:
            with self.running:
                try:
                    busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:
                    return      # not this batch's problem: its own statements will say if it is
            if busy == 0 and log == done:
                self.unchecked = 0

    def committed(self, rows: int) -> bool:
        """On the writer thread (as is :meth:`stop`), after a commit. False once the thread
        could not open the database: the sink goes back to SQLite's own checkpoints."""
        if self.failed:
            return False
        self.rows += rows
        self.unchecked += rows
        if self.rows >= self.ROWS:
            self.rows = 0
            self.wake.set()
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="tokentrail-sqlite-checkpoint", daemon=True)
                self.thread.start()
        return True

    def _run(self) -> None:
        # Every SQLite call here holds ``running``, which a fork waits for (see
        # _hold_sqlite_for_fork): a child must not inherit SQLite's mutexes mid-call.
        conn = None
        try:
            while self.wake.wait(self.IDLE_SECONDS) and not self.stopped:
                self.wake.clear()
                with self.running:
                    if conn is None:
                        try:
                            conn = sqlite3.connect(self.path, timeout=self.timeout, check_same_thread=False,
                                                   isolation_level=None)
                        except sqlite3.Error:
                            self.failed = True
                            return
                    try:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    except sqlite3.Error:
                        pass    # the next request, or the writer's before_write, does it
        finally:
            if conn is not None:
                with self.running:
                    conn.close()

    def stop(self) -> None:
        self.stopped = True
        thread = self.thread
        self.wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.timeout + 5)


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
        self._checkpointer: _Checkpointer | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()
        _sqlite_sinks.add(self)

    def _connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():
            self.after_fork()
        if self._conn is None:
            conn = sqlite_connect(self.path, timeout=self.timeout)
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                conn.execute("PRAGMA wal_autocheckpoint=0")
                self._checkpointer = _Checkpointer(self.path, self.timeout)
            self._conn = conn
        return self._conn

    def write(self, event: dict) -> None:
        self.write_batch([event])

    # Events per write_batch (the writer honours it): one transaction per batch, and
    # SQLite updates its indexes' pages (the trace id's is random) once per transaction.
    # 20,000 rows per transaction insert ~25% faster than 5,000.
    batch_max = 20_000

    def write_batch(self, events: list[dict]) -> None:
        if self._pid != os.getpid():
            self.after_fork()
        ns = self.namespace
        k = ROWS_PER_INSERT
        with self._lock:
            conn = self._connection()
            cp = self._checkpointer
            try:
                if cp is not None:
                    cp.before_write(conn)
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error:
                self._drop_connection()   # e.g. locked, or the file went away: reconnect next time
                raise
            try:
                # Rows are made one INSERT's worth at a time: a batch's rows (the event's
                # JSON among them) never all sit in memory at once.
                for j in range(0, len(events), k):
                    _insert_rows(conn, _rows(events[j:j + k], ns))
                conn.execute("COMMIT")
                if cp is not None and not cp.committed(len(events)):
                    conn.execute("PRAGMA wal_autocheckpoint=1000")     # SQLite's default
                    self._checkpointer = None
            except BaseException:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    self._drop_connection()
                raise

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        cp, self._checkpointer = self._checkpointer, None
        if cp is not None:
            cp.stop()
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def close(self) -> None:
        if self._pid != os.getpid():
            self.after_fork()
            return
        with self._lock:
            self._drop_connection()

    def after_fork(self) -> None:
        # A connection must not cross fork(); drop (do not close) the parent's. Its
        # checkpoint thread did not cross it either.
        self._conn = self._checkpointer = None
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"SqliteSink({self.path!r})"


# A thread inside SQLite when the process forks may hold one of SQLite's process-wide
# mutexes; the child would wait for it forever on its first connection. So a fork waits
# (a little) for the sinks' writes and checkpoints in progress to end.
_sqlite_sinks: weakref.WeakSet = weakref.WeakSet()
_held_for_fork: list = []


def _hold_sqlite_for_fork() -> None:
    for sink in list(_sqlite_sinks):
        if sink._pid != os.getpid():
            continue
        cp = sink._checkpointer
        for lock in (sink._lock, cp.running if cp is not None else None):
            if lock is not None and lock.acquire(timeout=2.0):
                _held_for_fork.append(lock)


def _release_after_fork() -> None:
    while _held_for_fork:
        _held_for_fork.pop().release()


def _forget_after_fork() -> None:
    _held_for_fork.clear()      # the child's sinks make new locks (SqliteSink.after_fork)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_hold_sqlite_for_fork, after_in_parent=_release_after_fork,
                        after_in_child=_forget_after_fork)


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
