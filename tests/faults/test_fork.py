"""os.fork() with events pending: parent and child each write their own, none twice."""

from __future__ import annotations

import os
import sqlite3
import sys
import time

import pytest

import tokentrail
from tokentrail._sinks import JsonlSink, SqliteSink

from .conftest import Gate, read_jsonl, record

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "win32", reason="needs os.fork")


def _fork(child) -> int:
    """Run ``child()`` in a forked child that always leaves through os._exit."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # 3.12+: fork() of a threaded process
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            child()
            code = 0
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def _wait(pid: int, timeout: float = 30) -> int:
    """waitpid with a deadline: a hung child fails the test instead of hanging the suite."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError(f"forked child still running after {timeout}s (deadlocked?)")


def test_fork_with_pending_events(writer, tmp_path):
    path, db = tmp_path / "calls.jsonl", tmp_path / "calls.db"
    gate = Gate(tokentrail.FanoutSink(JsonlSink(path), SqliteSink(f"sqlite:///{db}")))
    record(0, sink=gate, metadata={"who": "parent", "i": 0})
    writer._notify()
    assert gate.entered.wait(5)             # the writer thread holds event 0 at the gate...
    for i in range(1, 200):
        record(i, sink=gate, metadata={"who": "parent", "i": i})
    assert tokentrail.stats()["queued"] == 199    # ...and 199 more wait in the queue

    def child():
        gate.open()                          # the child's own copy of the gate
        assert tokentrail.stats()["queued"] == 0  # the parent's queue is the parent's
        for i in range(50):
            record(i, sink=gate, metadata={"who": "child", "i": i})
        assert tokentrail.flush(timeout=20)

    pid = _fork(child)
    for i in range(200, 250):
        record(i, sink=gate, metadata={"who": "parent", "i": i})
    status = _wait(pid)
    gate.open()
    assert tokentrail.flush(timeout=20)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0

    events, tail = read_jsonl(path)
    assert tail == b""
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids)) == 300
    parent = sorted(e["metadata"]["i"] for e in events if e["metadata"]["who"] == "parent")
    child_ = sorted(e["metadata"]["i"] for e in events if e["metadata"]["who"] == "child")
    assert parent == list(range(250)) and child_ == list(range(50))
    rows = sqlite3.connect(db).execute("SELECT id FROM events").fetchall()
    assert sorted(r[0] for r in rows) == sorted(ids)


def test_fork_while_the_writer_loads_the_price_table(writer, tmp_path, monkeypatch):
    # The first event makes the writer thread load the price tables under a lock; a fork
    # in that moment must not leave the child with that lock held forever.
    from tokentrail import _config
    real_load = _config.load_table
    loading = __import__("threading").Event()

    def slow_load(*args, **kwargs):          # hold the window open for the test
        loading.set()
        time.sleep(0.3)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(_config, "load_table", slow_load)
    path = tmp_path / "calls.jsonl"
    sink = JsonlSink(path)
    writer.linger = 0
    for attempt in range(2):
        _config._table = None                # force a reload on the writer thread
        loading.clear()
        record(attempt, sink=sink, metadata={"who": "parent", "i": attempt})
        assert loading.wait(5)
        assert _config._table_lock.locked()  # the writer thread holds it right now

        def child():
            record(100 + attempt, sink=sink, metadata={"who": "child", "i": attempt})
            tokentrail.log_event(input={"model": "gpt-4o-mini", "prompt": "x"}, usage={"prompt_tokens": 1},
                                 sink=sink, metadata={"who": "child-sync", "i": attempt})
            assert tokentrail.flush(timeout=20)

        pid = _fork(child)
        status = _wait(pid)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert tokentrail.flush()
    events, _ = read_jsonl(path)
    assert len(events) == 6 and len({e["id"] for e in events}) == 6
