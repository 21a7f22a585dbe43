"""The background writer: a bounded queue drained to sinks on one daemon thread.

The caller's thread only appends to a deque: no I/O, no lock, and usually no wake-up
either. The writer sleeps until the first event of a batch arrives, then lets events
collect for up to ``LINGER`` seconds (or until ``WAKE_AT`` are waiting, or a flush
is asked for) and hands each sink its events in batches. Waking the writer for every
event would make the caller pay a thread switch per call.

:func:`flush`, :func:`shutdown` and interpreter exit drain the queue, so a normal exit
loses nothing (a ``multiprocessing`` child forked from this process drains at its exit
too). When the writer falls behind (``ASSIST_AT`` events waiting) callers build their
own events and now and then yield the GIL to it (see ``Writer._behind``); when the queue
is full anyway new events are dropped, counted (``tokentrail.stats()``) and reported
once; the caller is never blocked. A sink that fails is reported once per kind of
failure, with what to do about it; its events are counted as lost and later batches are
tried again. After ``os.fork()`` the child starts with an empty queue and
its own thread, so no event is written twice.
"""

from __future__ import annotations

import atexit
import errno
import logging
import os
import sys
import threading
import time
from collections import deque
from typing import Any, Callable

logger = logging.getLogger("tokentrail")

LINGER = 0.25          # seconds an event may wait for company before it is written
FLUSH_INTERVAL = LINGER  # the earlier name
WAKE_AT = 1000         # queued events that wake the writer at once
ASSIST_AT = 2000       # queued events past which callers build their own events (writer behind)
YIELD_EVERY = 100      # ...and, every this many events, yield the GIL to the writer for a moment
QUEUE_SIZE = 100_000   # events that may wait (configure(queue_size=...))
BATCH_MAX = 5000       # events handed to one sink in one write_batch call...
BATCH_LIMIT = 50_000   # ...unless the sink's ``batch_max`` asks for more (never past this)
IDLE_WAIT = 5.0        # an idle writer re-checks the queue this often (belt and braces)
HANDOFF = 0.0002       # seconds a caller sleeps, once per batch, to let a waiting writer have the GIL
_NEVER = float("inf")
_monotonic = time.monotonic

_FLUSH = object()      # queue marker: flush sinks, then set the paired Event


class Writer:
    def __init__(self, maxsize: int = QUEUE_SIZE):
        self.maxsize = maxsize
        self.linger = LINGER
        self.wake_at = WAKE_AT
        self.assist_at = ASSIST_AT
        self._observers: list[Callable[[dict], None]] = []
        self._reset()

    def _reset(self) -> None:
        self._queue: deque = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._idle = True        # True: the next put must wake the writer
        self._urgent = False     # a flush is waiting: do not linger
        # When the writer wants the GIL (see _let_writer_run): woken and not yet running,
        # lingering until _due (monotonic), or interrupted in the middle of a drain.
        self._kicked = False
        self._due = _NEVER
        self._draining = False
        self._stopped = False    # after exit: write on the caller's thread
        self._busy_with: Any = None
        self.dropped = 0
        self.written = 0
        self.assisted = 0        # events built on the caller's thread because the writer was behind
        self._warned_drop = False
        self._sinks_seen: dict[int, Any] = {}
        self.health = SinkHealth()

    def reset_stats(self) -> None:
        """Zero the counters and forget which problems were already reported (for tests)."""
        global _lost
        self.dropped = self.written = self.assisted = 0
        self._warned_drop = False
        self.health = SinkHealth()
        _lost = 0

    # ------------------------------------------------------------------ caller side

    def put(self, sink: Any, item: Any) -> None:
        """Queue an event (a dict, or a finished call whose event is built here later)."""
        q = self._queue
        n = len(q)
        if n >= self.maxsize:
            self._drop()
            return
        if n >= self.assist_at or n + n >= self.maxsize:
            item = self._behind(item)
            if item is None:
                return
        q.append((sink, item))
        if self._idle:
            self._notify()
        elif self._kicked or not n & 31 and (self._draining or n >= self.wake_at or _monotonic() >= self._due):
            # The writer wants the GIL (woken, past its linger, or in a drain), or enough
            # is queued to cut its linger short (woken, then it has to get the GIL too).
            if n >= self.wake_at and not self._draining and not self._kicked:
                self._notify()
            self._let_writer_run()

    def _let_writer_run(self) -> None:
        """The writer thread is waiting for the GIL: let it have it now.

        A caller making call after call never waits, so CPython's switch interval never
        forces the GIL over to the writer: every time the caller drops it for an instant
        (the SDKs read os.urandom, say) the writer is woken, loses the race and sleeps
        again. It would wait like that until the application pauses, and every wake-up
        is a futex call and a thread switch (once per call in bench/run.py's loop). A
        sleep of a fraction of a millisecond, once per batch, ends it.
        """
        if threading.current_thread() is not self._thread:
            time.sleep(HANDOFF)

    def _behind(self, item: Any) -> Any:
        """The writer is behind: typically starved of the GIL by a busy caller thread.

        A thread that releases the GIL for an instant on every call (the SDKs' os.urandom,
        say) wins it back before the sleeping writer wakes, so CPython never forces a
        switch and the writer can fall behind forever. So: build this event here (the
        writer is left with the writing), and every ``YIELD_EVERY`` events sleep a
        fraction of a millisecond, which hands the writer the GIL for a switch interval.
        """
        self.assisted += 1
        if self.assisted % YIELD_EVERY == 0 and threading.current_thread() is not self._thread:
            if not self._wake.is_set():
                self._wake.set()
            time.sleep(0.0005)
        if type(item) is not dict:
            return materialize(item, self.health)
        return item

    def _drop(self) -> None:
        self.dropped += 1
        if not self._warned_drop:
            self._warned_drop = True
            logger.warning(
                "tokentrail: the event queue is full (%d events waiting for the writer), so new events are "
                "being dropped until the sink catches up; the calls themselves are not affected. "
                "tokentrail.stats()['dropped'] counts them. Use a faster sink or a larger queue "
                "(tokentrail.configure(queue_size=...)). This message is not repeated.", self.maxsize)

    def _notify(self) -> None:
        if self._stopped:                       # after exit: nobody else will write it
            self._drain()
            return
        t = self._thread
        if t is None or not t.is_alive():
            if not self._start():
                return                          # flush() or exit drains it
        self._idle = False
        if not self._wake.is_set():
            self._kicked = True
            self._wake.set()

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Block until every event queued before the call is written; True if it was."""
        t = self._thread
        if self._stopped or (t is not None and t is threading.current_thread()):
            # After exit (the writer thread is gone), or a sink flushing from the writer thread.
            self._drain()
            self._flush_sinks()
            return True
        if t is None or not t.is_alive():
            if not self._queue or self._stopped or not self._start():
                self._drain()
                self._flush_sinks()
                return True
        done = threading.Event()
        self._queue.append((_FLUSH, done))
        self._urgent = True
        self._idle = False
        self._wake.set()
        ok = done.wait(timeout)
        if not ok:
            busy = self._busy_with
            logger.warning("tokentrail: flush() gave up after %ss with %d events still queued%s; they stay queued "
                           "and are written when the sink catches up.", timeout, len(self._queue),
                           f" (the writer is still busy with {busy!r}: a slow or locked sink?)" if busy is not None
                           else "")
        return ok

    def _start(self) -> bool:
        with self._start_lock:
            if self._thread is not None and self._thread.is_alive():
                return True
            if not _can_start_threads():
                return False
            t = threading.Thread(target=self._run, name="tokentrail-writer", daemon=True)
            try:
                t.start()
            except RuntimeError:                # "can't create new thread at interpreter shutdown"
                return False
            self._thread = t
            return True

    def stop(self) -> None:
        """From now on write on the caller's thread (used at interpreter exit)."""
        self._stopped = True
        self._idle = True
        self._wake.set()

    # ------------------------------------------------------------------ writer side

    def _run(self) -> None:
        """Sleep until woken, then linger and drain; after a drain, linger again without
        waiting to be woken, and sleep only after a linger that collected nothing. While
        calls keep coming, callers never wake this thread (a wake-up costs the caller a
        futex call, and a caller that holds the GIL a wait for this thread to take it:
        ``_let_writer_run``); an application that goes quiet costs one more wake-up."""
        q, wake = self._queue, self._wake
        busy = False                            # the last linger collected events
        while not self._stopped:
            try:
                if not busy:
                    self._idle = True
                    self._due = _NEVER
                    if not q:
                        wake.wait(IDLE_WAIT)
                        self._kicked = False
                        if not q:
                            # Woken with nothing to do (a flush whose marker the last drain
                            # already took): consume the wake-up, or the next wait returns at
                            # once and this thread spins until the application's next call.
                            wake.clear()
                            continue
                self._kicked = False
                self._idle = False
                wake.clear()
                if not self._urgent and len(q) < self.wake_at:
                    self._due = _monotonic() + self.linger
                    wake.wait(self.linger)      # let a batch collect
                    wake.clear()
                self._urgent = False
                busy = bool(q)
                if not busy:                    # a linger with nothing to write: sleep
                    continue
                self._draining = True
                try:
                    self._drain()
                finally:
                    self._draining = False
            except Exception:                   # never let the writer thread die
                busy = False
                logger.exception("tokentrail: internal error in the writer thread (events may be lost)")

    def _drain(self) -> None:
        q = self._queue
        health = self.health
        observers = self._observers
        while q:
            batches: dict[int, tuple[Any, list]] = {}
            flushes: list[threading.Event] = []
            n = 0
            limit = BATCH_MAX
            while q and n < limit:
                try:
                    sink, item = q.popleft()
                except IndexError:              # another thread drained it (exit races)
                    break
                if sink is _FLUSH:
                    flushes.append(item)
                    break   # everything before the marker is in this batch
                if type(item) is not dict:
                    # A finished call whose event is built here, off the caller's thread.
                    item = materialize(item, health)
                    if item is None:
                        continue
                if observers:
                    _observe(observers, item, health)
                b = batches.get(id(sink))
                if b is None:
                    batches[id(sink)] = b = (sink, [])
                    # A sink may ask for bigger batches (SQLite: fewer, larger transactions).
                    try:
                        bm = getattr(sink, "batch_max", None)
                    except Exception:
                        bm = None
                    if type(bm) is int and bm > limit:
                        limit = min(bm, BATCH_LIMIT)
                b[1].append(item)
                n += 1
            for sink, events in batches.values():
                self._sinks_seen[id(sink)] = sink
                self._busy_with = sink
                try:
                    if write_to_sink(sink, events, health):
                        self.written += len(events)
                finally:
                    self._busy_with = None
            if flushes:
                self._flush_sinks()
                for ev in flushes:
                    ev.set()

    def _flush_sinks(self) -> None:
        for sink in list(self._sinks_seen.values()):
            call_quietly(sink, "flush", self.health)

    def close_sinks(self) -> None:
        for sink in list(self._sinks_seen.values()):
            call_quietly(sink, "close", self.health)
        self._sinks_seen.clear()

    # ------------------------------------------------------------------ observers

    def add_observer(self, fn: Callable[[dict], None]) -> None:
        """Call ``fn(event)`` on the writer thread for every event, just before its sink gets it."""
        self._observers = self._observers + [fn]

    def remove_observer(self, fn: Callable[[dict], None]) -> None:
        self._observers = [o for o in self._observers if o is not fn]

    # ------------------------------------------------------------------ fork

    def after_fork_in_child(self) -> None:
        sinks = list(self._sinks_seen.values())
        self._reset()   # the parent's queued events are the parent's to write
        for s in sinks:
            if hasattr(s, "after_fork"):
                try:
                    s.after_fork()
                except Exception:
                    pass


def _observe(observers: list, event: dict, health: "SinkHealth") -> None:
    for fn in observers:
        try:
            fn(event)
        except Exception as e:
            if health.first(("observer", id(fn), type(e).__name__)):
                logger.exception("tokentrail: event observer %r failed (%s); this message is not repeated", fn, e)


def materialize(item: Any, health: "SinkHealth | None" = None) -> dict | None:
    """Turn a queued call into its event dict (None if that fails; reported once per kind)."""
    try:
        return item.to_event()
    except Exception as e:
        stats_lost(1)
        where = e.__traceback__
        while where is not None and where.tb_next is not None:
            where = where.tb_next
        loc = (where.tb_frame.f_code.co_filename, where.tb_lineno) if where is not None else None
        if health is None or health.first(("build", type(e).__name__, loc)):
            logger.error("tokentrail: could not build the event of a %s call (%s: %s); the call itself was not "
                         "affected, the event is lost (tokentrail.stats()['lost']). This is a bug in tokentrail: "
                         "please report it with the traceback below. Not repeated for this error.",
                         getattr(item, "name", "?"), type(e).__name__, e, exc_info=True)
        return None


def _can_start_threads() -> bool:
    # During interpreter shutdown new threads cannot start; drain on the caller's thread then.
    return not sys.is_finalizing()


# --------------------------------------------------------------------------- sink errors

class SinkHealth:
    """Which sink problems were already reported, and which sinks are failing right now."""

    def __init__(self) -> None:
        self.reported: set = set()
        self.failing: dict[int, int] = {}   # id(sink) -> events lost since it started failing
        self.lock = threading.Lock()

    def first(self, key: Any) -> bool:
        """True the first time ``key`` is seen."""
        with self.lock:
            if key in self.reported:
                return False
            self.reported.add(key)
            return True

    def failed(self, sink: Any, n: int) -> None:
        with self.lock:
            self.failing[id(sink)] = self.failing.get(id(sink), 0) + n

    def succeeded(self, sink: Any) -> None:
        if not self.failing:
            return
        with self.lock:
            lost_n = self.failing.pop(id(sink), None)
            if lost_n is None:
                return
            # A new failure of this sink is a new story: report it again.
            self.reported = {k for k in self.reported if not (isinstance(k, tuple) and k[:1] == (id(sink),))}
        logger.warning("tokentrail: %r is writing again; %s lost while it was failing.", sink, _n_events(lost_n))


def _n_events(n: int) -> str:
    return "1 event was" if n == 1 else f"{n} events were"


def explain(exc: BaseException, sink: Any = None) -> tuple[str, str]:
    """(what happened, what to do) for a sink failure, in words a user can act on."""
    if isinstance(exc, OSError) and exc.errno is not None:
        e = exc.errno
        path = f" on {exc.filename}" if getattr(exc, "filename", None) else ""
        if e == errno.ENOSPC:
            return "the disk is full", "free some disk space or point the sink at another disk"
        if e == getattr(errno, "EDQUOT", -1):
            return "the disk quota is exhausted", "free some space or point the sink at another disk"
        if e == errno.EROFS:
            return f"the file system is read-only{path}", "choose a writable location"
        if e in (errno.EACCES, errno.EPERM):
            return f"permission denied{path}", "make the file and its directory writable, or choose another location"
        if e == errno.ENOENT:
            return f"the directory does not exist and could not be created{path}", \
                "create the directory or choose another location"
        if e in (errno.ENOTDIR, errno.EEXIST):
            return f"a part of the path is a file, not a directory{path}", "choose another location"
        if e == errno.EISDIR:
            return f"the path is a directory{path}", "give a file name, not a directory"
        if e == errno.EBADF:
            return "the file was closed underneath tokentrail", "do not close tokentrail's files; it will reopen it"
        return f"an I/O error{path}", "check the file and the disk"
    try:
        import sqlite3
    except ImportError:  # pragma: no cover
        sqlite3 = None  # type: ignore[assignment]
    if sqlite3 is not None and isinstance(exc, sqlite3.Error):
        msg = str(exc).lower()
        if "locked" in msg or "busy" in msg:
            t = getattr(sink, "timeout", None)
            return ("the database is locked by another connection for longer than the busy timeout"
                    + (f" ({t:g} s)" if isinstance(t, (int, float)) else ""),
                    "keep write transactions on this database short, or give SqliteSink(path, timeout=...) more "
                    "seconds")
        if "unable to open" in msg or "cannot open" in msg:
            return ("the database file cannot be opened", "check that its directory exists and is writable")
        if "readonly" in msg or "read-only" in msg:
            return "the database is read-only", "make the file and its directory writable, or choose another file"
        if "disk is full" in msg or "full" in msg:
            return "the disk is full", "free some disk space or point the sink at another disk"
        if "not a database" in msg or "malformed" in msg or "corrupt" in msg:
            return "the file is not a usable SQLite database", "point the sink at a new file"
        return "SQLite reported an error", "check the database file"
    return "the sink raised an exception", "fix the sink (it runs on tokentrail's writer thread)"


def _report_sink_error(sink: Any, what: str, exc: BaseException, health: "SinkHealth | None",
                       n_events: int = 0) -> None:
    key = (id(sink), what, type(exc).__name__, getattr(exc, "errno", None))
    if health is not None and not health.first(key):
        return
    happened, todo = explain(exc, sink)
    hint = todo
    if isinstance(exc, (OSError,)) or type(exc).__module__ == "sqlite3":
        hint += " (tokentrail.configure(sink=...) or the TOKENTRAIL_SINK variable choose the sink)"
    if what == "write":
        logger.error("tokentrail: could not write %d event%s to %r: %s (%s: %s). %s lost "
                     "(tokentrail.stats()['lost']); the calls themselves are not affected. To fix: %s. "
                     "tokentrail keeps trying with later events and does not repeat this message for this sink.",
                     n_events, "" if n_events == 1 else "s", sink, happened, type(exc).__name__, exc,
                     "It is" if n_events == 1 else "They are", hint)
    else:
        logger.error("tokentrail: %r failed to %s: %s (%s: %s). To fix: %s. Not repeated for this sink.",
                     sink, what, happened, type(exc).__name__, exc, hint)


def write_to_sink(sink: Any, events: list, health: SinkHealth | None = None) -> bool:
    """Write a batch to one sink; a failure is reported once and the batch is counted as lost."""
    try:
        wb = getattr(sink, "write_batch", None)
        if wb is not None:
            wb(events)
        else:
            w = getattr(sink, "write", None)
            if w is None:
                # A sink given by name or as a function (e.g. log_event(sink="x.jsonl")).
                return write_to_sink(_resolved(sink), events, health)
            for e in events:
                w(e)
    except Exception as e:
        n = len(events) - max(0, min(len(events), getattr(e, "lines_written", 0) or 0))
        stats_lost(n)
        if health is not None:
            health.failed(sink, n)
        _report_sink_error(sink, "write", e, health, n)
        return False
    if health is not None and health.failing:
        health.succeeded(sink)
    return True


_resolved_cache: dict[int, tuple[Any, Any]] = {}


def _resolved(spec: Any) -> Any:
    hit = _resolved_cache.get(id(spec))
    if hit is None or hit[0] is not spec:
        from ._sinks import resolve_sink
        hit = _resolved_cache[id(spec)] = (spec, resolve_sink(spec))   # keeps spec alive: ids stay unique
    return hit[1]


def call_quietly(sink: Any, method: str, health: SinkHealth | None = None) -> None:
    fn = getattr(sink, method, None)
    if fn is None:
        return
    try:
        fn()
    except Exception as e:
        _report_sink_error(sink, method, e, health)


_lost = 0
_lost_lock = threading.Lock()


def stats_lost(n: int) -> None:
    global _lost
    with _lost_lock:
        _lost += n


def lost() -> int:
    return _lost


WRITER = Writer()


def add_observer(fn: Callable[[dict], None]) -> None:
    """See every event on the writer thread just before it is written (tests, debugging)."""
    WRITER.add_observer(fn)


def remove_observer(fn: Callable[[dict], None]) -> None:
    WRITER.remove_observer(fn)


def _at_exit() -> None:
    try:
        WRITER.flush(timeout=10.0)
        WRITER.stop()             # events recorded after this point are written at once
        WRITER.close_sinks()
        if WRITER.dropped or _lost:
            logger.warning("tokentrail: this process recorded events that were not written: %d dropped because "
                           "the queue was full, %d lost because a sink failed (see the earlier messages).",
                           WRITER.dropped, _lost)
    except Exception:
        logger.exception("tokentrail: error while draining events at exit")


atexit.register(_at_exit)


# --------------------------------------------------------------------------- fork

_mp_registered = False


def _before_fork() -> None:
    # multiprocessing's fork children leave through os._exit(), which skips atexit; ask
    # multiprocessing to drain the child's queue at its exit instead (registered once,
    # in the parent, so that every child runs it after multiprocessing's own reset).
    global _mp_registered
    if _mp_registered:
        return
    util = sys.modules.get("multiprocessing.util")
    if util is None:
        return
    try:
        util.register_after_fork(WRITER, _mp_child_setup)
        _mp_registered = True
    except Exception:
        pass


def _mp_child_setup(writer: Writer) -> None:
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.Finalize(writer, _at_exit, exitpriority=0)


_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


def _reinit_locks() -> None:
    """Replace every module-level ``*_lock`` of tokentrail with a fresh one.

    Only the forking thread survives in the child; a lock another thread held at that
    moment (the writer loading the price tables, say) would stay held forever and hang
    the child's first event.
    """
    for name, mod in list(sys.modules.items()):
        if mod is None or not (name == "tokentrail" or name.startswith("tokentrail.")):
            continue
        for attr, val in list(vars(mod).items()):
            if attr.endswith("_lock") and isinstance(val, _LOCK_TYPES):
                setattr(mod, attr, threading.RLock() if isinstance(val, _LOCK_TYPES[1]) else threading.Lock())
    cfg = sys.modules.get("tokentrail._config")
    table = getattr(cfg, "_table", None)
    if table is not None and isinstance(getattr(table, "_lock", None), _LOCK_TYPES):
        table._lock = threading.Lock()


def _after_fork_child() -> None:
    global _lost
    _lost = 0
    try:
        _reinit_locks()
    except Exception:
        pass
    WRITER.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_child)
