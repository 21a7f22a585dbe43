"""The background writer: a bounded queue drained to sinks on one daemon thread.

The caller's thread only appends to a deque (no I/O, no locks on the fast path).
The writer wakes when events arrive (or every ``FLUSH_INTERVAL`` seconds), hands each
sink its events in batches, and is drained by :func:`flush`, :func:`shutdown` and at
interpreter exit. When the queue is full new events are dropped, counted and warned
about once — the caller is never blocked. After ``os.fork()`` the child starts with an
empty queue and its own thread, so no event is written twice.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import deque
from typing import Any

logger = logging.getLogger("tokentrail")

FLUSH_INTERVAL = 0.5
BATCH_MAX = 5000

_FLUSH = object()   # queue marker: flush sinks, then set the paired Event


class Writer:
    def __init__(self, maxsize: int = 100_000):
        self.maxsize = maxsize
        self._reset()

    def _reset(self) -> None:
        self._queue: deque = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._sleeping = True
        self._stopped = False
        self.dropped = 0
        self.written = 0
        self._warned_drop = False
        self._sinks_seen: dict[int, Any] = {}
        self._sink_errors: set[tuple[int, str]] = set()

    # ------------------------------------------------------------------ caller side

    def put(self, sink: Any, event: dict) -> None:
        q = self._queue
        if len(q) >= self.maxsize:
            self.dropped += 1
            if not self._warned_drop:
                self._warned_drop = True
                logger.warning("tokentrail: event queue full (%d events); dropping new events until the "
                               "writer catches up. Dropped events are counted in tokentrail.stats().",
                               self.maxsize)
            return
        q.append((sink, event))
        if self._thread is None:
            self._start()
        if self._sleeping:
            self._wake.set()

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Block until every event queued before the call is written; True if it was."""
        if self._thread is None or not self._thread.is_alive():
            if not self._queue:
                self._flush_sinks()
                return True
            if self._stopped or not _can_start_threads():
                self._drain(final=True)
                return True
            self._start()
        done = threading.Event()
        self._queue.append((_FLUSH, done))
        self._wake.set()
        ok = done.wait(timeout)
        if not ok:
            logger.warning("tokentrail: flush timed out after %ss with %d events still queued",
                           timeout, len(self._queue))
        return ok

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            if not _can_start_threads():
                return
            t = threading.Thread(target=self._run, name="tokentrail-writer", daemon=True)
            self._thread = t
            t.start()

    # ------------------------------------------------------------------ writer side

    def _run(self) -> None:
        while True:
            self._sleeping = True
            if not self._queue:
                self._wake.wait(FLUSH_INTERVAL)
            self._sleeping = False
            self._wake.clear()
            try:
                self._drain()
            except Exception:  # never let the writer thread die
                logger.exception("tokentrail: writer error")

    def _drain(self, final: bool = False) -> None:
        q = self._queue
        while q:
            batches: dict[int, tuple[Any, list]] = {}
            flushes: list[threading.Event] = []
            n = 0
            while q and n < BATCH_MAX:
                sink, item = q.popleft()
                if sink is _FLUSH:
                    flushes.append(item)
                    break   # everything before the marker is in this batch
                if type(item) is not dict:
                    # A finished call whose event is built here, off the caller's thread.
                    item = materialize(item)
                    if item is None:
                        continue
                b = batches.get(id(sink))
                if b is None:
                    batches[id(sink)] = b = (sink, [])
                b[1].append(item)
                n += 1
            for sink, events in batches.values():
                self._sinks_seen[id(sink)] = sink
                if write_to_sink(sink, events, self._sink_errors):
                    self.written += len(events)
            if flushes:
                self._flush_sinks()
                for ev in flushes:
                    ev.set()

    def _flush_sinks(self) -> None:
        for sink in list(self._sinks_seen.values()):
            call_quietly(sink, "flush", self._sink_errors)

    def close_sinks(self) -> None:
        for sink in list(self._sinks_seen.values()):
            call_quietly(sink, "close", self._sink_errors)
        self._sinks_seen.clear()

    def after_fork_in_child(self) -> None:
        sinks = list(self._sinks_seen.values())
        self._reset()   # the parent's queued events are the parent's to write
        for s in sinks:
            if hasattr(s, "after_fork"):
                try:
                    s.after_fork()
                except Exception:
                    pass


def materialize(item: Any) -> dict | None:
    """Turn a queued call into its event dict (None if that fails; the failure is logged)."""
    try:
        return item.to_event()
    except Exception:
        logger.exception("tokentrail: could not build an event (the call itself was not affected)")
        return None


def _can_start_threads() -> bool:
    # During interpreter shutdown new threads cannot start; drain on the caller's thread then.
    import sys
    return not sys.is_finalizing()


def _report_sink_error(sink: Any, what: str, exc: BaseException, seen: set | None) -> None:
    key = (id(sink), f"{what}:{type(exc).__name__}")
    if seen is not None:
        if key in seen:
            return
        seen.add(key)
    logger.error("tokentrail: sink %r failed to %s: %s: %s (further errors of this kind from this sink "
                 "are not repeated)", sink, what, type(exc).__name__, exc)


def write_to_sink(sink: Any, events: list, seen: set | None = None) -> bool:
    """Write a batch to one sink; a failure is logged once and the batch is counted as lost."""
    try:
        wb = getattr(sink, "write_batch", None)
        if wb is not None:
            wb(events)
        else:
            w = sink.write
            for e in events:
                w(e)
        return True
    except Exception as e:
        stats_lost(len(events))
        _report_sink_error(sink, "write", e, seen)
        return False


def call_quietly(sink: Any, method: str, seen: set | None = None) -> None:
    fn = getattr(sink, method, None)
    if fn is None:
        return
    try:
        fn()
    except Exception as e:
        _report_sink_error(sink, method, e, seen)


_lost = 0


def stats_lost(n: int) -> None:
    global _lost
    _lost += n


def lost() -> int:
    return _lost


WRITER = Writer()


def _at_exit() -> None:
    try:
        WRITER.flush(timeout=10.0)
        WRITER.close_sinks()
    except Exception:
        logger.exception("tokentrail: error while draining events at exit")


atexit.register(_at_exit)


def _after_fork_child() -> None:
    global _lost
    _lost = 0
    WRITER.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_child)

