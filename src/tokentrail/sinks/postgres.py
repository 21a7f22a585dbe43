"""PostgreSQL: the SQLite sink's schema in a server, written in batches, surviving restarts.

``sink="postgresql://user@host/db"`` (or :class:`PostgresSink`) stores every event as one
row of the ``events`` table: the same columns as the SQLite sink (``SQLITE_COLUMNS``),
created on first use (or by ``tokentrail db init URL``). Rows go in by ``COPY`` on a
thread of the sink's own, so neither the caller nor tokentrail's writer waits for the
network. When the server goes away the sink keeps the events in a bounded buffer,
reconnects with exponential backoff, and writes them when the server is back; events
that do not fit in the buffer are dropped and counted (``sink.dropped`` and
``tokentrail.stats()["lost"]``). Each row is inserted once even when a batch is sent
again after a lost acknowledgement (``COPY``, and on a duplicate id a staging table
with ``ON CONFLICT (id) DO NOTHING``).

Reading: :func:`pg_aggregate` (the report's totals and cost-by-key, computed by SQL
``GROUP BY``), :func:`pg_iter_events` (a server-side cursor over the events, for the
waste detectors and exports) and :func:`db_init`.

Example::

    tokentrail.configure(sink="postgresql://app@127.0.0.1:5432/llm")
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import deque
from datetime import datetime
from typing import Any, Iterable, Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg

from .. import _hooks
from .._sinks import SQLITE_COLUMNS, dumps
from .._time import format_ts, parse_ts

logger = logging.getLogger("tokentrail")

TABLE = "events"
STAGE = "tokentrail_stage"
_LOCK_KEY = 0x746F6B656E747261   # "tokenra": serializes schema creation across processes

# PostgreSQL type of each SQLite column, in SQLITE_COLUMNS order. REAL would be float4 in
# PostgreSQL (6 digits): cost needs double precision.
PG_COLUMN_TYPES: dict[str, str] = {
    "id": "TEXT PRIMARY KEY",
    "trace_id": "TEXT NOT NULL",
    "parent_id": "TEXT",
    "namespace": "TEXT NOT NULL DEFAULT 'default'",
    "type": "TEXT",
    "name": "TEXT",
    "provider": "TEXT",
    "request_model": "TEXT",
    "model": "TEXT",
    "start_time": "TEXT",
    "end_time": "TEXT",
    "status": "TEXT",
    "prompt_tokens": "BIGINT NOT NULL DEFAULT 0",
    "completion_tokens": "BIGINT NOT NULL DEFAULT 0",
    "total_tokens": "BIGINT NOT NULL DEFAULT 0",
    "cached_tokens": "BIGINT NOT NULL DEFAULT 0",
    "cache_write_tokens": "BIGINT NOT NULL DEFAULT 0",
    "reasoning_tokens": "BIGINT NOT NULL DEFAULT 0",
    "cost": "DOUBLE PRECISION NOT NULL DEFAULT 0",
    "latency_ms": "BIGINT",
    "event": "TEXT NOT NULL",
}
if tuple(PG_COLUMN_TYPES) != tuple(SQLITE_COLUMNS):   # the two schemas must not drift apart
    raise ImportError("tokentrail.sinks.postgres: PG_COLUMN_TYPES does not match SQLITE_COLUMNS; "
                      "add the new column's PostgreSQL type")

PG_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (\n    "
    + ",\n    ".join(f"{c} {t}" for c, t in PG_COLUMN_TYPES.items())
    + "\n);\n"
    f"CREATE INDEX IF NOT EXISTS events_trace ON {TABLE}(trace_id);\n"
    f"CREATE INDEX IF NOT EXISTS events_model ON {TABLE}(model);\n"
    f"CREATE INDEX IF NOT EXISTS events_time ON {TABLE}(start_time);\n"
    f"CREATE INDEX IF NOT EXISTS events_namespace ON {TABLE}(namespace, start_time);\n"
)

_COLS = ", ".join(SQLITE_COLUMNS)
_INT_COLS = frozenset(i for i, c in enumerate(SQLITE_COLUMNS) if c.endswith("_tokens") or c == "latency_ms")
_COST_COL = SQLITE_COLUMNS.index("cost")
_CALL_TYPES = ("generation", "embedding")
_FAILED = ("error", "failed", "failure", "fatal", "critical", "err")


def safe_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages and ``repr``)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        user = parts.username or ""
        return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))
    except ValueError:
        return "postgresql://(unparsable URL)"


def connect(url: str, *, connect_timeout: float = 5.0, autocommit: bool = False) -> psycopg.Connection:
    """A psycopg connection to ``url`` (``postgres://`` is accepted as ``postgresql://``)."""
    return psycopg.connect(url, connect_timeout=max(1, int(round(connect_timeout))), autocommit=autocommit,
                           application_name="tokentrail")


def ensure_schema(conn: psycopg.Connection) -> bool:
    """Create the ``events`` table and its indexes unless they exist; True if it was created.

    Serialized by an advisory lock, so processes starting together do not race on
    ``CREATE TABLE IF NOT EXISTS`` (which PostgreSQL does not make atomic)."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (TABLE,))
        if cur.fetchone()[0]:
            conn.commit()
            return False
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (TABLE,))
        existed = cur.fetchone()[0]
        cur.execute(PG_SCHEMA)
    conn.commit()
    return not existed


def db_init(url: str) -> str:
    """Create the ``events`` table (and indexes) in the database at ``url``; returns one
    sentence saying what was done. Raises :class:`psycopg.Error` when the server cannot
    be reached or refuses (the message says why). For ``tokentrail db init URL``."""
    with connect(url) as conn:
        created = ensure_schema(conn)
    where = safe_url(url)
    if created:
        return f"created table {TABLE!r} (and its indexes) in {where}"
    return f"table {TABLE!r} already exists in {where}; nothing to do"


def pg_row(event: dict, namespace: str | None = None) -> tuple:
    """One event as a row of ``events``, in ``SQLITE_COLUMNS`` order (the SQLite sink's row)."""
    ev = _hooks.public(event)
    inp = ev.get("input") or {}
    usage = ev.get("usage") or {}
    if not isinstance(usage, dict):
        usage = {}
    row = [
        str(ev.get("id")), str(ev.get("traceId")), ev.get("parentId"),
        namespace or ev.get("namespace") or "default", ev.get("type"), ev.get("name"),
        ev.get("provider"), inp.get("model") if isinstance(inp, dict) else None, ev.get("model"),
        ev.get("startTime"), ev.get("endTime"), ev.get("status"),
        usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0), usage.get("total_tokens", 0),
        usage.get("cached_tokens", 0), usage.get("cache_write_tokens", 0), usage.get("reasoning_tokens", 0),
        ev.get("cost") or 0, ev.get("latency_ms"), dumps(ev),
    ]
    for i, v in enumerate(row):
        if v is None:
            continue
        if i in _INT_COLS:
            if type(v) is not int:
                try:
                    row[i] = int(v)
                except (TypeError, ValueError):
                    row[i] = 0
        elif i == _COST_COL:
            if type(v) is not float:
                try:
                    row[i] = float(v)
                except (TypeError, ValueError):
                    row[i] = 0.0
        elif type(v) is not str:
            row[i] = str(v)
    return tuple(row)


def _clean_row(row: tuple) -> tuple:
    # PostgreSQL text cannot hold NUL, and a lone surrogate cannot be encoded: replace both.
    out = []
    for v in row:
        if isinstance(v, str):
            v = v.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
        out.append(v)
    return tuple(out)


def _is_connection_error(e: BaseException) -> bool:
    if isinstance(e, (psycopg.OperationalError, psycopg.InterfaceError)):
        return True
    return False


class PostgresSink:
    """Store events in PostgreSQL (psycopg 3), in the SQLite sink's schema.

    - ``url``: ``postgresql://user[:password]@host[:port]/db`` (any libpq URL; ``postgres://`` too).
    - ``namespace``: stamped on every row instead of the event's own.
    - ``max_buffer``: events held while the server is unreachable; more are dropped and counted.
    - ``batch_size``: rows per ``COPY``.
    - ``backoff``: first and longest wait between reconnection attempts (seconds, doubling, ±20%).
    - ``flush_timeout``: how long :meth:`flush` (``tokentrail.flush()``) and :meth:`close`
      wait for buffered events, the server being down or not.

    Counters: ``written`` (rows committed), ``dropped`` (buffer full, or a row PostgreSQL
    refused), ``reconnects``, and ``buffered`` (waiting now).
    """

    def __init__(self, url: str, *, namespace: str | None = None, max_buffer: int = 100_000,
                 batch_size: int = 5000, backoff: tuple[float, float] = (0.1, 5.0), connect_timeout: float = 5.0,
                 flush_timeout: float = 5.0):
        self.url = url
        self.namespace = namespace
        self.max_buffer = int(max_buffer)
        self.batch_size = max(1, int(batch_size))
        self.backoff = (float(backoff[0]), float(backoff[1]))
        self.connect_timeout = connect_timeout
        self.flush_timeout = flush_timeout
        self._reset()

    def _reset(self) -> None:
        self._buf: deque = deque()
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection | None = None
        self._busy = False          # a batch is being sent
        self._stopping = False
        self._down_since: float | None = None
        self._failures = 0
        self._warned_full = False
        self.written = 0
        self.dropped = 0
        self.reconnects = 0
        self.last_error: str | None = None

    # ------------------------------------------------------------------ writer side (tokentrail's writer thread)

    def write(self, event: dict) -> None:
        self.write_batch([event])

    def write_batch(self, events: list[dict]) -> None:
        lost = 0
        with self._cond:
            room = self.max_buffer - len(self._buf)
            if room < len(events):
                keep = max(room, 0)
                lost = len(events) - keep
                events = events[:keep]
                self.dropped += lost
            if events:
                self._buf.extend(events)
                self._cond.notify_all()
            warn = lost and not self._warned_full
            if warn:
                self._warned_full = True
        if lost:
            from .._writer import stats_lost
            stats_lost(lost)
            if warn:
                logger.error("tokentrail: PostgreSQL sink %s: its buffer of %d events is full (the server is "
                             "unreachable or slower than the events arrive; last error: %s); dropping new events "
                             "until there is room. Dropped events are counted in tokentrail.stats()['lost'].",
                             safe_url(self.url), self.max_buffer, self.last_error or "none")
        if self._thread is None or not self._thread.is_alive():
            self._start()

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def _start(self) -> bool:
        """Make sure the sink's thread runs; False when no thread can be started."""
        with self._cond:        # started under the lock: two callers never start two senders
            if self._thread is not None and self._thread.is_alive():
                return True
            self._stopping = False
            t = threading.Thread(target=self._run, name="tokentrail-postgres", daemon=True)
            try:
                t.start()
            except RuntimeError:     # "can't create new thread at interpreter shutdown"
                self._thread = None
                return False
            self._thread = t
            return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every buffered event is committed (at most ``timeout``, default
        ``flush_timeout``); True if they were. While the server is down the events stay
        buffered and the sink keeps reconnecting after this returns."""
        deadline = time.monotonic() + (self.flush_timeout if timeout is None else timeout)
        if self._buf and not self._start():
            self._drain_here(deadline)
        with self._cond:
            while self._buf or self._busy:
                if self._thread is None or not self._thread.is_alive():
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.5))
            pending = len(self._buf)
        if pending:
            logger.warning("tokentrail: PostgreSQL sink %s: %d events still buffered after waiting %.1fs (%s); "
                           "still retrying", safe_url(self.url), pending,
                           self.flush_timeout if timeout is None else timeout, self.last_error or "busy")
        return pending == 0

    def close(self) -> None:
        """Flush (up to ``flush_timeout``), stop the sink's thread and close the connection.
        Events still buffered then are lost: counted and logged."""
        self.flush()
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=self.connect_timeout + 2)
        with self._cond:
            left = len(self._buf)
            self._buf.clear()
            self._thread = None
        if left:
            self.dropped += left
            from .._writer import stats_lost
            stats_lost(left)
            logger.error("tokentrail: PostgreSQL sink %s closed with %d events unwritten (%s)",
                         safe_url(self.url), left, self.last_error or "server unreachable")
        self._disconnect()

    def after_fork(self) -> None:
        # The child must neither use nor close the parent's connection (close() would end
        # the parent's session): drop it; psycopg does not close a connection from another
        # process when it is garbage-collected. The parent's buffer is the parent's to write.
        self._reset()

    def __repr__(self) -> str:
        return f"PostgresSink({safe_url(self.url)!r})"

    # ------------------------------------------------------------------ the sink's thread

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._buf and not self._stopping:
                    self._cond.wait()
                if not self._buf:
                    return          # stopping, nothing left
            ok = self._send_next()
            if not ok:
                if self._stopping:
                    return          # close() counts what is left
                self._sleep_backoff()

    def _send_next(self) -> bool:
        """Send the oldest buffered batch; True when it is done with (False: retry later)."""
        with self._cond:
            if not self._buf:
                return True
            batch = [self._buf[i] for i in range(min(self.batch_size, len(self._buf)))]
            self._busy = True
        try:
            ok = self._send(batch)
        except Exception as e:
            # Not the server: a bug, or an event that cannot be turned into a row. Retrying
            # would fail the same way, so the batch is dropped (counted), not the thread.
            logger.exception("tokentrail: PostgreSQL sink could not write %d events; they were dropped",
                             len(batch))
            self.last_error = f"{type(e).__name__}: {e}"
            self.dropped += len(batch)
            from .._writer import stats_lost
            stats_lost(len(batch))
            ok = True
        with self._cond:
            self._busy = False
            if ok:
                for _ in range(len(batch)):
                    self._buf.popleft()
            self._cond.notify_all()
        return ok

    def _drain_here(self, deadline: float) -> None:
        # No thread can be started (interpreter exit, Python >= 3.12): send on this thread.
        while self._buf and time.monotonic() < deadline:
            if not self._send_next():
                lo, hi = self.backoff
                delay = min(hi, lo * (2 ** min(self._failures - 1, 30)))
                time.sleep(max(0.0, min(delay, deadline - time.monotonic())))

    def _sleep_backoff(self) -> None:
        lo, hi = self.backoff
        delay = min(hi, lo * (2 ** min(self._failures - 1, 30))) * random.uniform(0.8, 1.2)
        with self._cond:
            if not self._stopping:
                self._cond.wait(delay)

    def _send(self, batch: list[dict]) -> bool:
        """COPY ``batch`` in one transaction; True when it is done with (committed, or the
        rows PostgreSQL refuses dropped and counted), False to retry after a backoff."""
        rows = [pg_row(e, self.namespace) for e in batch]
        try:
            conn = self._connection()
            try:
                self._copy(conn, rows)
            except psycopg.Error as e:
                if _is_connection_error(e) or isinstance(e, psycopg.errors.UndefinedTable):
                    raise           # reconnect (and re-create the table if it was dropped)
                self._rollback(conn)
                self._copy_cleaned(conn, rows, e)
        except psycopg.Error as e:
            self._on_failure(e)
            return False
        self.written += len(rows)
        if self._down_since is not None:
            logger.warning("tokentrail: PostgreSQL sink %s: reconnected after %.1fs; writing the buffered events",
                           safe_url(self.url), time.monotonic() - self._down_since)
            self._down_since = None
        self._failures = 0
        self._warned_full = False
        return True

    def _copy(self, conn: psycopg.Connection, rows: list[tuple]) -> None:
        # Straight into the table (fast). A row that is already there (a batch sent again
        # after its commit was not acknowledged, or one event written twice) fails the COPY:
        # then the batch goes through the staging table and ON CONFLICT (id) DO NOTHING.
        try:
            with conn.cursor() as cur:
                with cur.copy(f"COPY {TABLE} ({_COLS}) FROM STDIN") as cp:
                    for r in rows:
                        cp.write_row(r)
            conn.commit()
            return
        except psycopg.errors.UniqueViolation:
            conn.rollback()
        with conn.cursor() as cur:
            with cur.copy(f"COPY {STAGE} ({_COLS}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)
            cur.execute(f"INSERT INTO {TABLE} ({_COLS}) SELECT {_COLS} FROM {STAGE} ON CONFLICT (id) DO NOTHING")
        conn.commit()   # ON COMMIT DELETE ROWS empties the stage

    def _copy_cleaned(self, conn: psycopg.Connection, rows: list[tuple], first: BaseException) -> None:
        # Some row was refused (NUL byte, bad unicode...): clean every row and try again,
        # then row by row, dropping only the rows PostgreSQL still refuses.
        cleaned = [_clean_row(r) for r in rows]
        try:
            self._copy(conn, cleaned)
            return
        except psycopg.Error as e:
            if _is_connection_error(e):
                raise
            self._rollback(conn)
        bad = 0
        for r in cleaned:
            try:
                self._copy(conn, [r])
            except psycopg.Error as e:
                if _is_connection_error(e):
                    raise
                self._rollback(conn)
                bad += 1
        if bad:
            self.dropped += bad
            from .._writer import stats_lost
            stats_lost(bad)
            logger.error("tokentrail: PostgreSQL sink %s refused %d events (%s: %s); they were dropped",
                         safe_url(self.url), bad, type(first).__name__, first)

    def _rollback(self, conn: psycopg.Connection) -> None:
        try:
            conn.rollback()
        except psycopg.Error:
            self._disconnect()

    def _connection(self) -> psycopg.Connection:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        self._disconnect()
        conn = connect(self.url, connect_timeout=self.connect_timeout)
        try:
            ensure_schema(conn)
            with conn.cursor() as cur:
                cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (LIKE {TABLE} INCLUDING DEFAULTS) "
                            "ON COMMIT DELETE ROWS")
            conn.commit()
        except BaseException:
            conn.close()
            raise
        if self._failures:
            self.reconnects += 1
        self._conn = conn
        return conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def _on_failure(self, e: BaseException) -> None:
        self._failures += 1
        self.last_error = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
        self._disconnect()
        if self._down_since is None:
            self._down_since = time.monotonic()
            logger.warning("tokentrail: PostgreSQL sink %s: %s; keeping events (up to %d) and reconnecting with "
                           "backoff", safe_url(self.url), self.last_error, self.max_buffer)


# --------------------------------------------------------------------------- reading

def _when(value: Any, *, end: bool = False) -> str | None:
    """A ``since``/``until`` bound as the stored timestamp text (``YYYY-MM-DDTHH:MM:SS.mmmZ``)."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float, datetime)) and not isinstance(value, bool):
        epoch = parse_ts(value)
    else:
        try:
            from ..analysis import parse_when   # ages like "7d", bare dates
            epoch = parse_when(str(value), "--until" if end else "--since", end=end)
        except ImportError:
            epoch = parse_ts(value)
    if epoch is None:
        raise ValueError(f"{value!r} is not a date or time")
    return format_ts(epoch)


def _models_clause(conn: psycopg.Connection, model: str | Iterable[str] | None,
                   where: list, args: list) -> None:
    """``--model``: the requested or answered id, or its price-table entry (as the report
    matches); resolved over the distinct ids in the table, then filtered in SQL."""
    if not model:
        return
    names = [m.strip().lower() for m in (model.split(",") if isinstance(model, str) else model) if m.strip()]
    if not names:
        return
    wanted = frozenset(names)
    from .. import _config
    table = _config.price_table()

    def matches(m: str) -> bool:
        if not m:
            return False
        if m.lower() in wanted:
            return True
        entry, _ = table.resolve(m)
        return entry is not None and entry.key.lower() in wanted

    cond = " AND ".join(where) if where else "TRUE"
    with conn.cursor() as cur:
        cur.execute(f"SELECT DISTINCT model, request_model FROM {TABLE} WHERE {cond}", args)
        pairs = cur.fetchall()
    hits = sorted({m for pair in pairs for m in pair if m and matches(m)})
    where.append("(model = ANY(%s) OR request_model = ANY(%s))")
    args.extend([hits, hits])


def _filters(conn: psycopg.Connection, *, namespace: str | None, trace_id: str | None, since: Any, until: Any,
             model: Any) -> tuple[str, list]:
    where: list[str] = []
    args: list[Any] = []
    if namespace:
        where.append("namespace = %s")
        args.append(namespace)
    if trace_id:
        where.append("trace_id = %s")
        args.append(trace_id)
    s, u = _when(since), _when(until, end=True)
    if s is not None:
        where.append("start_time >= %s")
        args.append(s)
    if u is not None:
        where.append("start_time < %s")
        args.append(u)
    _models_clause(conn, model, where, args)
    return (" AND ".join(where) if where else "TRUE"), args


_FAILED_SQL = "lower(coalesce(status, '')) IN (" + ", ".join(f"'{s}'" for s in _FAILED) + ")"
_TOKENS_SQL = "GREATEST(total_tokens, prompt_tokens + completion_tokens)"
_TIME_KEY = "CASE WHEN start_time IS NULL OR start_time = '' THEN '(no time)' ELSE substr(start_time, 1, {n}) END"
_BY_SQL = {
    "model": "COALESCE(NULLIF(model, ''), NULLIF(request_model, ''), '(unknown)')",
    "provider": "COALESCE(NULLIF(provider, ''), 'unknown')",
    "trace": "trace_id",
    "name": "CASE WHEN name IS NULL THEN '(none)' WHEN name = '' THEN '(empty)' ELSE name END",
    "day": _TIME_KEY.format(n=10),
    "hour": _TIME_KEY.format(n=13),
    "month": _TIME_KEY.format(n=7),
    "namespace": "COALESCE(NULLIF(namespace, ''), 'default')",
    "status": f"CASE WHEN {_FAILED_SQL} THEN 'error' ELSE 'success' END",
}
# metadata.KEY as the report prints it: strings as they are, null/missing "(none)", "" "(empty)".
_META_SQL = ("CASE jsonb_typeof((event::jsonb -> 'metadata') -> %s::text) "
             "WHEN 'string' THEN COALESCE(NULLIF((event::jsonb -> 'metadata') ->> %s::text, ''), '(empty)') "
             "WHEN 'null' THEN '(none)' "
             "ELSE COALESCE(((event::jsonb -> 'metadata') -> %s::text)::text, '(none)') END")


def _by_keys(by: Any) -> list[str]:
    if by is None:
        return ["model"]
    if isinstance(by, str):
        by = [by]
    keys: list[str] = []
    for raw in by:
        for k in str(raw).split(","):
            k = k.strip()
            if not k:
                continue
            if k in ("trace_id", "traceId"):
                k = "trace"
            if k not in _BY_SQL and not (k.startswith("metadata.") and len(k) > len("metadata.")):
                raise ValueError(f"unknown by key {k!r}; use {', '.join(_BY_SQL)} or metadata.KEY")
            if k not in keys:
                keys.append(k)
    return keys or ["model"]


def _rnd(x: Any) -> float:
    return float(f"{float(x or 0):.10g}")


def pg_aggregate(url: str, *, by: Any = None, model: Any = None, trace_id: str | None = None, since: Any = None,
                 until: Any = None, namespace: str | None = None) -> dict:
    """The report's ``totals`` and ``by`` tables for the events at ``url``, summed by SQL.

    ``by``: ``model``, ``provider``, ``trace``, ``name``, ``day``, ``hour``, ``month``,
    ``namespace``, ``status`` or ``metadata.KEY`` (a list, or comma-separated). Filters
    as in ``tokentrail report``; ``since``/``until`` take epoch seconds, datetimes, ISO
    text or ages such as ``"7d"``. Only calls (``generation``/``embedding`` events) are
    counted; other events are in ``other_events``. Returns::

        {"totals": {"calls", "errors", "error_rate", "cost", "prompt_tokens", "completion_tokens",
                    "cached_tokens", "cache_write_tokens", "reasoning_tokens", "total_tokens",
                    "traces", "first", "last"},
         "by": {key: [{"key", "calls", "errors", "cost", "tokens", "share"}, ...]},  # most expensive first
         "other_events": n}
    """
    keys = _by_keys(by)
    with connect(url) as conn:
        conn.read_only = True
        cond, args = _filters(conn, namespace=namespace, trace_id=trace_id, since=since, until=until, model=model)
        calls = f"(type IS NULL OR type IN ('generation', 'embedding')) AND {cond}"
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT count(*), count(*) FILTER (WHERE {_FAILED_SQL}), COALESCE(sum(cost), 0), "
                "COALESCE(sum(prompt_tokens), 0), COALESCE(sum(completion_tokens), 0), "
                "COALESCE(sum(cached_tokens), 0), COALESCE(sum(cache_write_tokens), 0), "
                f"COALESCE(sum(reasoning_tokens), 0), COALESCE(sum({_TOKENS_SQL}), 0), "
                "count(DISTINCT trace_id), min(start_time), max(start_time) "
                f"FROM {TABLE} WHERE {calls}", args)
            t = cur.fetchone()
            cur.execute(f"SELECT count(*) FROM {TABLE} WHERE NOT (type IS NULL OR type IN "
                        f"('generation', 'embedding')) AND {cond}", args)
            other = int(cur.fetchone()[0])
            n, cost = int(t[0]), float(t[2])
            totals = {
                "calls": n, "errors": int(t[1]), "error_rate": round(int(t[1]) / n, 6) if n else 0.0,
                "cost": _rnd(cost), "prompt_tokens": int(t[3]), "completion_tokens": int(t[4]),
                "cached_tokens": int(t[5]), "cache_write_tokens": int(t[6]), "reasoning_tokens": int(t[7]),
                "total_tokens": int(t[8]), "traces": int(t[9]), "first": t[10], "last": t[11],
            }
            out_by: dict[str, list[dict]] = {}
            for key in keys:
                if key.startswith("metadata."):
                    mk = key[len("metadata."):]
                    expr, kargs = _META_SQL, [mk, mk, mk]
                else:
                    expr, kargs = _BY_SQL[key], []
                cur.execute(
                    f"SELECT {expr} AS k, count(*), count(*) FILTER (WHERE {_FAILED_SQL}), "
                    f"COALESCE(sum(cost), 0), COALESCE(sum({_TOKENS_SQL}), 0) "
                    f"FROM {TABLE} WHERE {calls} GROUP BY 1 ORDER BY 4 DESC, 2 DESC, 1", kargs + args)
                out_by[key] = [{"key": r[0], "calls": int(r[1]), "errors": int(r[2]), "cost": _rnd(r[3]),
                                "tokens": int(r[4]), "share": round(float(r[3]) / cost, 6) if cost else 0.0}
                               for r in cur]
    return {"totals": totals, "by": out_by, "other_events": other}


def pg_iter_events(url: str, *, namespace: str | None = None, since: Any = None, until: Any = None,
                   model: Any = None, trace_id: str | None = None, types: Iterable[str] | None = None,
                   raw: bool = False, with_namespace: bool = False, itersize: int = 2000) -> Iterator[Any]:
    """Stream the events at ``url`` (oldest first) through a server-side cursor: memory
    stays flat however many rows match.

    Yields event dicts; with ``raw=True`` ``(row_number, json_text)`` pairs (the shape the
    report's readers yield); with ``with_namespace=True`` ``(namespace_column, event)``
    pairs (the exports' shape). ``types``: only these event types (rows without a type
    count as ``"generation"``), e.g. ``("generation",)`` for the prompt exports.
    """
    with connect(url) as conn:
        conn.read_only = True
        cond, args = _filters(conn, namespace=namespace, trace_id=trace_id, since=since, until=until, model=model)
        if types is not None:
            wanted = [str(t) for t in types]
            cond += " AND (type = ANY(%s)" + (" OR type IS NULL)" if "generation" in wanted else ")")
            args.append(wanted)
        with conn.cursor(name="tokentrail_events") as cur:
            cur.itersize = max(1, int(itersize))
            cur.execute(f"SELECT namespace, event FROM {TABLE} WHERE {cond} ORDER BY start_time, id", args)
            for n, (ns, text) in enumerate(cur, 1):
                if raw:
                    yield n, text
                    continue
                try:
                    ev = json.loads(text)
                except ValueError:
                    continue      # a damaged row is skipped, as a damaged JSONL line would be
                yield (ns, ev) if with_namespace else ev


def is_postgres_url(spec: Any) -> bool:
    """Whether ``spec`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return isinstance(spec, str) and spec.strip().lower().startswith(("postgresql://", "postgres://"))


__all__ = ["PostgresSink", "PG_SCHEMA", "PG_COLUMN_TYPES", "db_init", "ensure_schema", "pg_aggregate",
           "pg_iter_events", "pg_row", "safe_url", "is_postgres_url", "connect"]
