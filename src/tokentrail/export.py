"""The earlier prompt logger's exports, from tokentrail's SQLite sink: models and prompts as JSONL.

Example::

    import tokentrail
    n = tokentrail.export_prompts("prompts.jsonl", database="sqlite:///calls.db", namespace="default")

Line shapes (one JSON object per line; the earlier tool's fields first, then tokentrail's):

- models: ``{"id", "namespace", "name", "provider", "created"}`` — one line per distinct
  model per namespace, in order of first use. ``name`` is the model asked for
  (``input.model``, else the model that answered); ``id`` is stable across exports
  (uuid5 of namespace and name); ``created`` is the first call's ``startTime``.
  tokentrail adds ``calls``, ``cost`` and ``usage`` (token totals).
- prompts: ``{"id", "namespace", "model", "messages", "generation_kwargs", "completions",
  "inference_on", "inference_seconds", "usage", "cost"}`` — one line per recorded
  generation, oldest first. ``id`` is the event id; ``messages`` is ``input.messages``,
  else ``[{"role": "user", "content": input.prompt}]``; ``generation_kwargs`` is
  ``input.params``; ``completions`` is ``[output.response]`` (``[]`` when there was
  none); ``inference_on`` is ``startTime``; ``inference_seconds`` is ``latency_ms / 1000``.

Only ``generation`` events are exported: embeddings have no completion, and the
``span`` event of a ``@capture`` wrapper repeats the prompt of the calls inside it.
``type="chat"`` keeps calls recorded with chat messages, ``type="text"`` the others.

An existing OUT file is replaced atomically: the lines go to a temporary file next to
it, renamed over OUT only once the export has succeeded, so a failed export leaves OUT
as it was. OUT may never be the database being exported (that would destroy it).
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import sys
import uuid
from typing import IO, Any, Iterable, Iterator

from ._sinks import SinkError, sqlite_path
from .analysis._errors import InputError
from .analysis._read import open_sqlite

_NS = uuid.UUID("6f1c2f0e-8a7b-4f57-9c1d-7a6b5e4d3c2b")   # tokentrail's uuid5 namespace for model ids
_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "cache_write_tokens",
               "reasoning_tokens")
TYPES = ("chat", "text")
_COLUMNS = ("namespace", "type", "start_time", "event")   # what _events reads from the events table
_SIDE_FILES = ("", "-wal", "-shm", "-journal")            # a SQLite database is these files together


def model_id(namespace: str, name: str) -> str:
    """The stable id of a model line: the same namespace and model always give the same id."""
    return str(uuid.uuid5(_NS, f"{namespace}\x1f{name}"))


def _db_path(database: Any) -> str:
    if database is None or str(database).strip() == "":
        raise InputError("no database given; pass database='sqlite:///calls.db' (the CLI's --database)")
    spec = os.fspath(database) if isinstance(database, os.PathLike) else str(database)
    if spec.lower().startswith("sqlite:"):
        if not spec.lower().startswith("sqlite:///"):
            raise InputError(f"{spec!r} is not a SQLite URL; write sqlite:///relative.db or sqlite:////absolute.db")
        try:
            path = sqlite_path(spec)
        except SinkError as e:
            raise InputError(str(e)) from None
    elif spec.strip().lower().startswith(("postgresql://", "postgres://")):
        from .analysis._read import resolve_sources
        resolve_sources([spec])       # connects and checks the events table, before any output is written
        return spec
    elif "://" in spec:
        raise InputError(f"{spec!r}: exports read tokentrail's SQLite or PostgreSQL sink; give "
                         "sqlite:///path/to/file.db or postgresql://user@host/db")
    else:
        path = spec
    if not os.path.exists(path):
        raise InputError(f"SQLite database {path!r} does not exist; give the database the SQLite sink wrote "
                         "(configure(sink='sqlite:///calls.db'))")
    if os.path.isdir(path):
        raise InputError(f"{path!r} is a directory, not a SQLite database file")
    conn = open_sqlite(path, spec)        # has an events table, before any output is written
    try:
        have = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
    except sqlite3.DatabaseError as e:
        raise InputError(f"{spec!r} cannot be read ({e}); give a database written by tokentrail's "
                         "SQLite sink") from None
    finally:
        conn.close()
    missing = [c for c in _COLUMNS if c not in have]
    if missing:
        # Another tool's "events" table: say so now rather than fail halfway with "no such column".
        raise InputError(f"{spec!r} has an 'events' table without the column{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(missing)}, so it was not written by tokentrail's SQLite sink; give the "
                         "database given to configure(sink='sqlite:///...')")
    return path


def _model_list(models: Any) -> list[str] | None:
    if models is None:
        return None
    if isinstance(models, str):
        models = models.split(",")
    out = [str(m).strip() for m in models if str(m).strip()]
    return out or None


def _events(path: str, label: str, namespace: str | None) -> Iterator[tuple[str, dict]]:
    if path.lower().startswith(("postgresql://", "postgres://")):
        from .sinks.postgres import pg_iter_events
        for ns, ev in pg_iter_events(path, namespace=namespace, types=("generation",), with_namespace=True):
            yield ns or ev.get("namespace") or "default", ev
        return
    conn = open_sqlite(path, label)
    sql = "SELECT namespace, event FROM events WHERE (type IS NULL OR type = 'generation')"
    args: list[Any] = []
    if namespace is not None:
        sql += " AND namespace = ?"
        args.append(namespace)
    sql += " ORDER BY start_time, rowid"
    try:
        for ns, text in conn.execute(sql, args):
            try:
                ev = json.loads(text)
            except (TypeError, ValueError):
                continue             # a damaged row is skipped, as a damaged JSONL line would be
            if isinstance(ev, dict):
                yield ns or ev.get("namespace") or "default", ev
    except sqlite3.DatabaseError as e:   # damaged, locked or rewritten under us: OUT is left as it was
        raise InputError(f"{label!r} cannot be read ({e}); check that it is a tokentrail database "
                         "and not being rewritten") from None
    finally:
        conn.close()


def _name(ev: dict) -> str:
    inp = ev.get("input") if isinstance(ev.get("input"), dict) else {}
    return str(inp.get("model") or ev.get("model") or "")


def _matches(ev: dict, wanted: list[str] | None) -> bool:
    if wanted is None:
        return True
    inp = ev.get("input") if isinstance(ev.get("input"), dict) else {}
    return inp.get("model") in wanted or ev.get("model") in wanted


def check_out(out: Any, database: str | None = None) -> str | None:
    """OUT's path when it is a file name (None for ``"-"`` or an open file), checked before
    the database is read: not a directory, its folder exists, and it is not ``database``
    (the path :func:`_db_path` returned) or one of its ``-wal``/``-shm``/``-journal`` files,
    also under another spelling of the path (replacing it would destroy the data)."""
    if out is None or hasattr(out, "write") or str(out) == "-":
        return None
    path = os.fspath(out)
    if os.path.isdir(path):
        raise InputError(f"{path!r} is a directory; give the output file name (e.g. {path}/out.jsonl)")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise InputError(f"cannot write {path!r}: the folder {parent!r} does not exist")
    if database and not database.lower().startswith(("postgresql://", "postgres://")) and os.path.exists(path):
        for side in _SIDE_FILES:
            try:
                same = os.path.samefile(path, database + side)
            except OSError:           # that file does not exist (or cannot be looked at)
                continue
            if same:
                if side:
                    what = f"the {side} file of the database {database!r}"
                elif os.path.normpath(path) == os.path.normpath(database):
                    what = "the database being exported"
                else:
                    what = f"the database being exported ({database!r})"
                raise InputError(f"{path!r} is {what}, so writing the export there would destroy it; "
                                 "give another OUT file name")
    return path


class _Out:
    """``"-"`` (stdout), an open text file, or a path (see :func:`check_out`).

    A path is written through a temporary file in the same folder, renamed over it only
    when the ``with`` block ends without an exception: a failed export leaves an existing
    OUT as it was and no temporary file behind. A path that exists and is not a regular
    file (``/dev/null``, a named pipe) cannot be replaced, so it is written in place.
    """

    def __init__(self, out: Any, path: str | None):
        self.out = out
        self.path = path
        self.f: IO[str] | None = None
        self.tmp: str | None = None
        self.target = ""

    def __enter__(self) -> IO[str]:
        if self.path is None:
            self.f = self.out if hasattr(self.out, "write") else sys.stdout
            return self.f
        path = self.path
        # Through a symlink, replace the file it points to, not the link.
        self.target = target = os.path.realpath(path)
        try:
            st = os.stat(target)
        except FileNotFoundError:
            st = None
        except OSError as e:
            raise InputError(f"cannot write {path!r} ({e.strerror or e})") from None
        try:
            if st is not None and not stat.S_ISREG(st.st_mode):
                self.f = open(target, "w", encoding="utf-8")
                return self.f
            folder, base = os.path.split(target)
            while True:
                tmp = os.path.join(folder, f".{base}.{uuid.uuid4().hex[:12]}.tmp")
                try:
                    # 0o666 less the umask, as open(path, "w") would create OUT; an existing OUT keeps its mode.
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                    break
                except FileExistsError:
                    continue
            self.tmp = tmp
            if st is not None:
                try:
                    os.chmod(tmp, stat.S_IMODE(st.st_mode))
                except OSError:
                    pass
            self.f = os.fdopen(fd, "w", encoding="utf-8")
        except OSError as e:
            self._discard()
            raise InputError(f"cannot write {path!r} ({e.strerror or e})") from None
        return self.f

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        f = self.f
        if f is None:
            return
        if self.path is None:
            try:
                f.flush()
            except (OSError, ValueError):
                pass
            return
        if self.tmp is None:        # a device or a pipe, written in place
            f.close()
            return
        if exc_type is not None:
            self._discard()
            return
        try:
            f.flush()
            os.fsync(f.fileno())    # the lines are on disk before the rename makes them OUT
            f.close()
            os.replace(self.tmp, self.target)
            self.tmp = None
        except OSError as e:
            self._discard()
            raise InputError(f"cannot write {self.path!r} ({e.strerror or e}), so it was not changed; check the "
                             "disk and the permissions of its folder") from None

    def _discard(self) -> None:
        if self.f is not None:
            try:
                self.f.close()
            except OSError:
                pass
        if self.tmp is not None:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass
            self.tmp = None


def _write(out: Any, path: str | None, lines: Iterable[dict]) -> int:
    n = 0
    with _Out(out, path) as f:
        try:
            for obj in lines:
                f.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
                n += 1
        except OSError as e:        # a full disk: the temporary file is removed, OUT is unchanged
            if path is None:
                raise
            raise InputError(f"cannot write {path!r} ({e.strerror or e}), so it was not changed; check the disk "
                             "and the permissions of its folder") from None
    return n


def export_models(out: Any, *, database: Any, namespace: str | None = None, models: Any = None) -> int:
    """Write one JSONL line per distinct model (per namespace) to ``out`` (a path, ``"-"``
    or an open file); returns the number of lines. Raises :class:`InputError` for a
    missing or foreign database, or an ``out`` that is the database itself.

    An existing ``out`` file is replaced, atomically (a temporary file renamed over it once
    every line is written), so a failed export leaves it as it was. Unlike the CLI, which
    wants ``--force`` for that, the function does not ask: callers choose ``out``."""
    path = _db_path(database)
    target = check_out(out, path)
    wanted = _model_list(models)
    seen: dict[tuple[str, str], dict] = {}
    for ns, ev in _events(path, str(database), namespace):
        if not _matches(ev, wanted):
            continue
        name = _name(ev)
        if not name:
            continue
        row = seen.get((ns, name))
        usage = ev.get("usage") if isinstance(ev.get("usage"), dict) else {}
        if row is None:
            row = seen[(ns, name)] = {
                "id": model_id(ns, name), "namespace": ns, "name": name,
                "provider": ev.get("provider") or "unknown", "created": ev.get("startTime"),
                "calls": 0, "cost": 0.0, "usage": dict.fromkeys(_USAGE_KEYS, 0)}
        row["calls"] += 1
        try:
            row["cost"] += float(ev.get("cost") or 0.0)
        except (TypeError, ValueError):
            pass
        for k in _USAGE_KEYS:
            v = usage.get(k)
            if isinstance(v, int) and not isinstance(v, bool):
                row["usage"][k] += v
    for row in seen.values():
        row["cost"] = float(f"{row['cost']:.10g}")
    return _write(out, target, seen.values())


def _prompt_line(ns: str, ev: dict) -> dict:
    inp = ev.get("input") if isinstance(ev.get("input"), dict) else {}
    messages = inp.get("messages")
    if not isinstance(messages, list):
        messages = [{"role": "user", "content": inp.get("prompt") or ""}]
    outp = ev.get("output") if isinstance(ev.get("output"), dict) else {}
    response = outp.get("response")
    latency = ev.get("latency_ms")
    return {
        "id": ev.get("id"), "namespace": ns, "model": _name(ev), "messages": messages,
        "generation_kwargs": inp.get("params") if isinstance(inp.get("params"), dict) else {},
        "completions": [] if response is None else [response],
        "inference_on": ev.get("startTime"),
        "inference_seconds": round(latency / 1000.0, 3) if isinstance(latency, (int, float)) else None,
        "usage": ev.get("usage") if isinstance(ev.get("usage"), dict) else {},
        "cost": ev.get("cost", 0.0),
    }


def export_prompts(out: Any, *, database: Any, namespace: str | None = None, models: Any = None,
                   type: str | None = None) -> int:
    """Write one JSONL line per recorded generation to ``out`` (a path, ``"-"`` or an open
    file); ``type`` is ``"chat"`` (recorded with messages), ``"text"`` (a plain prompt) or
    None (both). Returns the number of lines. An existing ``out`` file is replaced
    atomically and ``out`` may not be the database, as for :func:`export_models`."""
    if type is not None and type not in TYPES:
        raise InputError(f"unknown --type {type!r}; use chat or text")
    path = _db_path(database)
    target = check_out(out, path)
    wanted = _model_list(models)

    def lines() -> Iterator[dict]:
        for ns, ev in _events(path, str(database), namespace):
            if not _matches(ev, wanted):
                continue
            if type is not None:
                inp = ev.get("input") if isinstance(ev.get("input"), dict) else {}
                is_chat = isinstance(inp.get("messages"), list)
                if is_chat != (type == "chat"):
                    continue
            yield _prompt_line(ns, ev)
    return _write(out, target, lines())


__all__ = ["export_models", "export_prompts", "model_id"]
