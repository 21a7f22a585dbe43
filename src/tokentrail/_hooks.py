"""Call-time hooks: values a sink needs from the caller's thread.

Sinks run on tokentrail's writer thread, where the caller's context (an open
OpenTelemetry span, for one) is gone. A sink registers a *context capturer* here; the
recorder calls every capturer when a call starts, on the caller's thread, and stores
each non-None result in the event under the capturer's key. Keys start with ``"_"``:
they are private to the process, and sinks that serialize events (JSONL, SQLite,
PostgreSQL) leave them out (see :func:`public`).

Example::

    from tokentrail import _hooks
    _hooks.register_context_capturer("_otel_parent", capture_current_otel_context)
"""

from __future__ import annotations

import logging
from typing import Any, Callable

logger = logging.getLogger("tokentrail")

# key -> capturer; read lock-free on every call, replaced (never mutated) on change.
CAPTURERS: dict[str, Callable[[], Any]] = {}
# True once any capturer was registered (never reset: events queued before an
# unregister still carry private keys). Serializing sinks skip `public()` while False.
USED = False
_failed: set[str] = set()


def register_context_capturer(key: str, fn: Callable[[], Any]) -> None:
    """Call ``fn()`` on the caller's thread at the start of every recorded call and keep
    a non-None result in the event as ``event[key]``. ``key`` must start with ``"_"``.
    Registering the same key again replaces the capturer."""
    global CAPTURERS, USED
    if not isinstance(key, str) or not key.startswith("_"):
        raise ValueError(f"context capturer key {key!r} must start with '_' (private event keys are never "
                         "written by serializing sinks)")
    new = dict(CAPTURERS)
    new[key] = fn
    USED = True
    CAPTURERS = new


def unregister_context_capturer(key: str) -> None:
    """Stop capturing ``key`` (no error if it was not registered)."""
    global CAPTURERS
    if key in CAPTURERS:
        new = dict(CAPTURERS)
        del new[key]
        CAPTURERS = new


def capture_context() -> dict | None:
    """Run every capturer; ``{key: value}`` for the non-None results, or None. Never raises."""
    caps = CAPTURERS
    if not caps:
        return None
    out: dict | None = None
    for key, fn in caps.items():
        try:
            value = fn()
        except Exception:
            if key not in _failed:   # once per key: this runs on every call
                _failed.add(key)
                logger.exception("tokentrail: context capturer %r failed (the call goes on)", key)
            continue
        if value is not None:
            if out is None:
                out = {}
            out[key] = value
    return out


def public(event: dict) -> dict:
    """``event`` without its private (``"_"``-prefixed) keys; the same object when it has none."""
    for k in event:
        if k[:1] == "_":
            return {k: v for k, v in event.items() if k[:1] != "_"}
    return event


__all__ = ["register_context_capturer", "unregister_context_capturer", "capture_context", "public", "CAPTURERS",
           "USED"]
