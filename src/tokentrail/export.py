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
"""

from __future__ import annotations

import json
import os
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
    open_sqlite(path, spec).close()       # has an events table, before any output is written
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


class _Out:
    """A file path, ``"-"`` (stdout) or an open text file."""

    def __init__(self, out: Any):
        self.out = out
        self.f: IO[str] | None = None
        self.close = False

    def __enter__(self) -> IO[str]:
        out = self.out
        if hasattr(out, "write"):
            self.f = out
        elif out is None or str(out) == "-":
            self.f = sys.stdout
        else:
            path = os.fspath(out)
            if os.path.isdir(path):
                raise InputError(f"{path!r} is a directory; give the output file name (e.g. {path}/out.jsonl)")
            parent = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(parent):
                raise InputError(f"cannot write {path!r}: the folder {parent!r} does not exist")
            try:
                self.f = open(path, "w", encoding="utf-8")
            except OSError as e:
                raise InputError(f"cannot write {path!r} ({e.strerror or e})") from None
            self.close = True
        return self.f

    def __exit__(self, *exc: Any) -> None:
        if self.f is not None:
            if self.close:
                self.f.close()
            else:
                try:
                    self.f.flush()
                except (OSError, ValueError):
                    pass


def _write(out: Any, lines: Iterable[dict]) -> int:
    n = 0
    with _Out(out) as f:
        for obj in lines:
            f.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
            n += 1
    return n


def export_models(out: Any, *, database: Any, namespace: str | None = None, models: Any = None) -> int:
    """Write one JSONL line per distinct model (per namespace) to ``out`` (a path, ``"-"``
    or an open file); returns the number of lines. Raises :class:`InputError` for a
    missing or foreign database."""
    path = _db_path(database)
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
    return _write(out, seen.values())


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
    None (both). Returns the number of lines."""
    if type is not None and type not in TYPES:
        raise InputError(f"unknown --type {type!r}; use chat or text")
    path = _db_path(database)
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
    return _write(out, lines())


__all__ = ["export_models", "export_prompts", "model_id"]
