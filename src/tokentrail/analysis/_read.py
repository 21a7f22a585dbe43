"""Where events come from: JSONL files (plain or ``.gz``), globs, standard input, SQLite.

:func:`resolve_sources` checks every input before anything is read, so a typo fails
at once with one :class:`InputError` sentence instead of half a report. That check
refuses only files that are clearly not an event log (see :func:`_check_text`): a bad
line in a good log is the analyzer's business, which warns with its line number and
skips it wherever it is in the file.
:func:`iter_raw` then gives the ``(line_number, raw_line)`` pairs; the analyzer parses
them (parsing is the hot loop, so it stays in one place). Files are read in binary
mode line by line: memory does not grow with the file. A file that breaks off while
it is read (a truncated or corrupt ``.gz``, a read error) ends the lines early and
says why in :attr:`RawLines.stopped`; the analyzer warns and reports what was read.
"""

from __future__ import annotations

import codecs
import glob
import gzip
import json
import os
import sqlite3
import sys
import zlib
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import quote

from .._sinks import SinkError, sqlite_path
from ._errors import InputError

DEFAULT_SOURCE = "tokentrail.jsonl"
_GLOB_CHARS = frozenset("*?[")
_SNIFF = 65536


@dataclass(frozen=True)
class Source:
    """One input: ``kind`` is ``"file"``, ``"gzip"``, ``"stdin"``, ``"sqlite"`` or ``"postgres"``."""

    kind: str
    path: str     # file or database path ("-" for stdin)
    label: str    # how messages name it (what the user wrote, or the matched file)


def _hint() -> str:
    return ("give a JSONL file written by tokentrail (default tokentrail.jsonl), a glob such as "
            "'logs/*.jsonl', '-' for standard input, or sqlite:///file.db")


def resolve_sources(sources: list[str] | tuple[str, ...] | None) -> list[Source]:
    """Expand globs and check every input; raise :class:`InputError` for the first bad one."""
    specs = [str(s) for s in (sources or ())] or [DEFAULT_SOURCE]
    out: list[Source] = []
    seen: set[str] = set()
    stdin_used = False
    for spec in specs:
        if spec == "-":
            if stdin_used:
                raise InputError("standard input ('-') is given twice; give it once")
            stdin_used = True
            out.append(Source("stdin", "-", "<stdin>"))
        elif spec.lower().startswith("sqlite:"):
            out.append(_sqlite_source(spec))
        elif spec.strip().lower().startswith(("postgresql://", "postgres://")):
            out.append(_postgres_source(spec))
        elif any(c in spec for c in _GLOB_CHARS) and not os.path.exists(spec):
            matches = sorted(p for p in glob.glob(os.path.expanduser(spec), recursive=True) if os.path.isfile(p))
            if not matches:
                raise InputError(f"no file matches {spec!r}; check the pattern (quote it so the shell does "
                                 "not expand it) or " + _hint())
            out.extend(_file_source(p, p) for p in matches)
        else:
            out.append(_file_source(os.path.expanduser(spec), spec))
    unique = []
    for src in out:      # a file named twice (or by a glob and by name) is read once
        key = src.kind + ":" + (os.path.realpath(src.path) if src.kind in ("file", "gzip", "sqlite") else src.path)
        if key not in seen:
            seen.add(key)
            unique.append(src)
    return unique


def _file_source(path: str, label: str) -> Source:
    if not os.path.exists(path):
        if label == DEFAULT_SOURCE:
            raise InputError(f"{label!r} does not exist in {os.getcwd()}; record some calls first "
                             "(or run `tokentrail demo`), or " + _hint())
        raise InputError(f"{label!r} does not exist; " + _hint())
    if os.path.isdir(path):
        raise InputError(f"{label!r} is a directory; give the JSONL file inside it, or a glob such as "
                         f"'{label.rstrip('/')}/*.jsonl'")
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF)
    except OSError as e:
        raise InputError(f"{label!r} cannot be read ({e.strerror or e}); check its permissions") from None
    kind = "file"
    if head[:2] == b"\x1f\x8b":
        kind = "gzip"
        head = _gunzip_head(head, label)
    _check_text(head, label)
    return Source(kind, path, label)


def _gunzip_head(raw: bytes, label: str) -> bytes:
    """The start of a gzip file's text, for :func:`_check_text`. Data that breaks off early
    (a truncated or damaged file) gives what came before the break, as the reader does;
    only a file of which nothing at all decompresses is refused here."""
    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = b""
    try:
        for i in range(0, len(raw), 4096):     # in steps: a break keeps what came before it
            out += d.decompress(raw[i:i + 4096], _SNIFF - len(out))
            if d.eof or len(out) >= _SNIFF:
                break
    except zlib.error as e:
        if not out:
            raise InputError(f"{label!r} looks gzip-compressed but cannot be decompressed ({e}); "
                             "give an intact .gz file or the plain JSONL file") from None
    if not out and not d.eof:
        raise InputError(f"{label!r} looks gzip-compressed but ends before any of its data; give an "
                         "intact .gz file or the plain JSONL file")
    return out


def _check_text(head: bytes, label: str) -> None:
    """Refuse, up front, a file that is clearly not a JSONL event log: UTF-16 text, a SQLite
    database, or a head (the first 64 KiB) in which no line is a JSON object and that holds
    NUL bytes (binary: an image, an archive, compressed data) or bytes that are not UTF-8.

    A head with at least one JSON-object line is a log, whatever else it holds: its bad
    lines (Latin-1 text, a run of NUL bytes left by a crash) are warned about with their
    line numbers and skipped by the analyzer, as they are further on in the file and on
    standard input. ``tokentrail log --output`` asks the same question before appending."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or _utf16_without_bom(head):
        raise InputError(f"{label!r} is UTF-16 text, not UTF-8 JSONL; convert it first "
                         "(e.g. `iconv -f UTF-16 -t UTF-8`)")
    if head.startswith(b"SQLite format 3\x00"):
        raise InputError(f"{label!r} is a SQLite database, not a JSONL file; write it as "
                         f"sqlite:///{label}")
    if _has_json_line(head):
        return
    if b"\x00" in head:
        raise InputError(f"{label!r} is a binary file, not JSONL text; give the .jsonl file tokentrail "
                         "wrote (one JSON object per line)")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        raise InputError(f"{label!r} is not UTF-8 text, so it is not a JSONL event log; give the .jsonl "
                         "file tokentrail wrote") from None


def _has_json_line(head: bytes) -> bool:
    """Whether a complete line of ``head`` is a JSON object (the first one found ends the search)."""
    lines = head.split(b"\n")
    lines.pop()          # after the last newline: empty, or a line the 64 KiB cut short
    for i, line in enumerate(lines):
        if i == 0 and line.startswith(codecs.BOM_UTF8):
            line = line[3:]
        line = line.strip()
        if line[:1] == b"{":
            try:
                if type(json.loads(line.decode("utf-8"))) is dict:
                    return True
            except (ValueError, RecursionError):     # UnicodeDecodeError is a ValueError
                pass
    return False


def _utf16_without_bom(head: bytes) -> bool:
    """JSON text in UTF-16 has a NUL beside every ASCII character: in every other byte."""
    sample = head[:512]
    if len(sample) < 8 or b"\x00" not in sample:
        return False
    even, odd = sample[0::2], sample[1::2]
    return (odd.count(0) >= 0.9 * len(odd) and even.count(0) <= 0.1 * len(even)) or \
        (even.count(0) >= 0.9 * len(even) and odd.count(0) <= 0.1 * len(odd))


def _sqlite_source(spec: str) -> Source:
    if not spec.lower().startswith("sqlite:///"):
        raise InputError(f"{spec!r} is not a SQLite URL; write sqlite:///relative.db or sqlite:////absolute.db")
    try:
        path = sqlite_path(spec)
    except SinkError as e:
        raise InputError(str(e)) from None
    if not os.path.exists(path):
        raise InputError(f"SQLite database {path!r} (from {spec!r}) does not exist; check the path "
                         "(sqlite:///relative.db or sqlite:////absolute.db)")
    if os.path.isdir(path):
        raise InputError(f"{path!r} (from {spec!r}) is a directory, not a SQLite database file")
    conn = open_sqlite(path, spec)
    conn.close()
    return Source("sqlite", path, spec)


def _postgres_source(spec: str) -> Source:
    try:
        from ..sinks.postgres import connect, safe_url
    except ImportError:
        raise InputError(f"reading {spec.split('://')[0]}:// needs psycopg: pip install 'tokentrail[postgres]'") \
            from None
    label = safe_url(spec)
    try:
        with connect(spec) as conn:
            row = conn.execute("SELECT to_regclass('events')").fetchone()
    except Exception as e:
        raise InputError(f"cannot connect to {label} ({type(e).__name__}: {str(e).strip().splitlines()[0]}); "
                         "check the URL and that the server is running") from None
    if not row or row[0] is None:
        raise InputError(f"{label} has no tokentrail events table; give the database the PostgreSQL sink "
                         "wrote, or create it with `tokentrail db init URL`")
    return Source("postgres", spec, label)


def open_sqlite(path: str, label: str) -> sqlite3.Connection:
    """Open a tokentrail database read-only; InputError unless it has an ``events`` table.
    The path goes into a ``file:`` URI, so it is percent-encoded: a ``#``, ``?`` or ``%`` in
    a file name would otherwise end the path early (and drop ``mode=ro``)."""
    try:
        conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True)
        row = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='events'").fetchone()
    except sqlite3.DatabaseError as e:
        raise InputError(f"{label!r} cannot be read as a SQLite database ({e}); give a database written "
                         "by tokentrail's SQLite sink") from None
    if row is None:
        conn.close()
        raise InputError(f"{label!r} has no 'events' table, so it was not written by tokentrail's SQLite sink; "
                         "give the database given to configure(sink='sqlite:///...')")
    return conn


class RawLines:
    """The ``(line_number, raw_json)`` pairs of one source; iterate once.

    A file that breaks off while it is read — a truncated ``.gz`` (``EOFError``), a
    corrupt one (CRC or deflate errors), a read error — ends the iteration instead of
    raising, and :attr:`stopped` then says what happened: everything before the break is
    analysed and the analyzer warns once, naming the line where reading stopped. (An
    exception would lose the lines already read; a wrapping generator would cost every
    line a frame switch: iterating goes straight to the inner generator.)"""

    __slots__ = ("_lines", "stopped")

    def __init__(self) -> None:
        self._lines: Iterator[tuple[int, bytes | str]] = iter(())
        self.stopped: str | None = None

    def __iter__(self) -> Iterator[tuple[int, bytes | str]]:
        return self._lines


def iter_raw(src: Source, *, namespace: str | None = None, trace_id: str | None = None,
             start: int = 0, end: int | None = None) -> RawLines:
    """The ``(line_number, raw_json)`` pairs of ``src``; for files, only the byte range
    ``[start, end)`` (``start`` must be at a line start; line numbers then count from that point)."""
    out = RawLines()
    if src.kind == "sqlite":
        out._lines = _iter_sqlite(src, namespace, trace_id)
    elif src.kind == "postgres":
        out._lines = _iter_postgres(src, namespace, trace_id)
    else:
        out._lines = _iter_file(src, start, end, out)
    return out


def _iter_postgres(src: Source, namespace: str | None, trace_id: str | None) -> Iterator[tuple[int, Any]]:
    from ..sinks.postgres import pg_iter_events
    try:
        yield from pg_iter_events(src.path, namespace=namespace, trace_id=trace_id, raw=True)
    except Exception as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"{src.label!r} cannot be read ({type(e).__name__}: {str(e).strip()}); check the "
                         "URL and that the server is running") from None


def _iter_file(src: Source, start: int, end: int | None, out: RawLines) -> Iterator[tuple[int, bytes]]:
    if src.kind == "stdin":
        f: Any = sys.stdin.buffer
        close = False
    else:
        f = gzip.open(src.path, "rb") if src.kind == "gzip" else open(src.path, "rb")
        close = True
    try:
        if start:
            f.seek(start)
        # (a buffered readline per line beats splitting big blocks here: fewer live objects)
        first = f.readline()
        if not first:
            return
        if start == 0 and first.startswith(codecs.BOM_UTF8):
            first = first[3:]
        if end is None:
            yield 1, first
            yield from enumerate(f, 2)
            return
        left = end - start - len(first)
        yield 1, first
        for n, line in enumerate(f, 2):
            if left <= 0:
                break
            yield n, line
            left -= len(line)
    except (EOFError, OSError, zlib.error) as e:
        out.stopped = _why_stopped(src, e)
    finally:
        if close:
            f.close()


def _why_stopped(src: Source, e: BaseException) -> str:
    """What the warning says after ``label:line:`` when reading breaks off at that line."""
    if src.kind == "gzip":
        if isinstance(e, EOFError):      # "Compressed file ended before the end-of-stream marker was reached"
            text = str(e)
            return (f"the gzip file is cut short here ({text[:1].lower() + text[1:]}); the report covers "
                    "the lines before it — copy the whole file again to read the rest")
        return (f"the gzip data is corrupt here ({e}); the report covers the lines before it, which "
                "may be damaged too — restore the file from a good copy")
    what = e.strerror if isinstance(e, OSError) and e.strerror else str(e) or type(e).__name__
    return (f"reading stopped here ({what}); the report covers the lines before it — check the "
            "file and run the report again")


def _iter_sqlite(src: Source, namespace: str | None, trace_id: str | None) -> Iterator[tuple[int, str]]:
    conn = open_sqlite(src.path, src.label)
    where, args = [], []
    if namespace is not None:
        where.append("namespace = ?")
        args.append(namespace)
    if trace_id is not None:
        where.append("trace_id = ?")
        args.append(trace_id)
    sql = "SELECT event FROM events" + (" WHERE " + " AND ".join(where) if where else "") + \
        " ORDER BY start_time, rowid"
    try:
        for n, (text,) in enumerate(conn.execute(sql, args), 1):
            yield n, text if text is not None else ""
    except sqlite3.DatabaseError as e:
        raise InputError(f"{src.label!r} cannot be read ({e}); check that it is a tokentrail database "
                         "and not being rewritten") from None
    finally:
        conn.close()


def split_file(path: str, parts: int) -> list[tuple[int, int]]:
    """Byte ranges ``[start, end)`` covering the file, each starting at a line start."""
    size = os.path.getsize(path)
    if parts <= 1 or size == 0:
        return [(0, size)]
    cuts = [0]
    with open(path, "rb") as f:
        for k in range(1, parts):
            pos = max(size * k // parts, cuts[-1])
            f.seek(pos)
            if pos > 0:
                f.seek(pos - 1)
                if f.read(1) != b"\n":
                    f.readline()
            cut = f.tell()
            if cuts[-1] < cut < size:
                cuts.append(cut)
    cuts.append(size)
    return [(cuts[i], cuts[i + 1]) for i in range(len(cuts) - 1)]


__all__ = ["Source", "RawLines", "resolve_sources", "iter_raw", "split_file", "open_sqlite", "DEFAULT_SOURCE"]
