"""The SQLite sink's rows and its WAL checkpoints (done on a thread of their own)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import pytest

from tokentrail import _sinks
from tokentrail._sinks import SQLITE_COLUMNS, SqliteSink, sqlite_row


def _event(i: int, **extra) -> dict:
    ev = {"traceId": f"t{i % 7}", "id": f"e{i:06d}", "type": "generation", "name": "openai.chat.completions.create",
          "startTime": "2026-11-24T10:00:00.000Z", "endTime": "2026-11-24T10:00:00.500Z", "status": "success",
          "provider": "openai", "namespace": "default", "input": {"model": "gpt-4o", "prompt": "x" * 400},
          "model": "gpt-4o-2024-08-06", "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
          "cost": 0.0001, "latency_ms": 500}
    ev.update(extra)
    return ev


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tokentrail-sqlite-checkpoint"]


def _wait(cond, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def test_row_of_a_recorded_event_keeps_its_values():
    row = dict(zip(SQLITE_COLUMNS, sqlite_row(_event(3, parentId="p1"), "ns")))
    assert row == {**row, "id": "e000003", "trace_id": "t3", "parent_id": "p1", "namespace": "ns",
                   "type": "generation", "request_model": "gpt-4o", "model": "gpt-4o-2024-08-06",
                   "start_time": "2026-11-24T10:00:00.000Z", "status": "success", "prompt_tokens": 10,
                   "completion_tokens": 5, "total_tokens": 15, "cached_tokens": 0, "cache_write_tokens": 0,
                   "reasoning_tokens": 0, "cost": 0.0001, "latency_ms": 500}


def test_row_coerces_odd_values_to_the_column_types():
    ev = {"id": 7, "traceId": None, "parentId": 12, "namespace": None, "type": 1, "name": ["n"], "provider": None,
          "input": {"model": 4}, "model": None, "startTime": 5, "status": True,
          "usage": {"prompt_tokens": "12", "completion_tokens": 3.9, "total_tokens": None, "cached_tokens": True,
                    "cache_write_tokens": "junk", "reasoning_tokens": float("inf")},
          "cost": float("nan"), "latency_ms": "40"}
    row = dict(zip(SQLITE_COLUMNS, sqlite_row(ev)))
    assert row == {**row, "id": "7", "trace_id": "", "parent_id": "12", "namespace": "default", "type": "1",
                   "name": "['n']", "provider": None, "request_model": "4", "model": None, "start_time": "5",
                   "end_time": None, "status": "True", "prompt_tokens": 12, "completion_tokens": 3,
                   "total_tokens": 0, "cached_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": 0,
                   "cost": 0.0, "latency_ms": 40}
    assert sqlite_row({"cost": "0.5", "usage": "none"})[12:19] == (0, 0, 0, 0, 0, 0, 0.5)
    assert len(sqlite_row({})[0]) == 36                # no id: a fresh uuid


def test_checkpoints_run_on_their_own_thread(tmp_path, monkeypatch):
    monkeypatch.setattr(_sinks._Checkpointer, "ROWS", 200)
    db = tmp_path / "c.db"
    sink = SqliteSink(f"sqlite:///{db}")
    try:
        sink.write_batch([_event(i) for i in range(150)])
        assert not _checkpoint_threads()              # not asked yet: fewer rows than ROWS
        size0 = os.path.getsize(db)
        sink.write_batch([_event(i) for i in range(150, 300)])
        assert _checkpoint_threads()
        # The pages reach the database file although the writer's own automatic
        # checkpoint (at WAL_FRAMES frames) never ran.
        assert _wait(lambda: os.path.getsize(db) > size0 + 100_000)
        con = sqlite3.connect(db)
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 300
        con.close()
    finally:
        sink.close()
    assert not _checkpoint_threads()                  # close stops it
    assert not os.path.exists(f"{db}-wal")            # and the last connection folds the WAL in


def test_wal_stays_bounded_while_the_writer_keeps_writing(tmp_path, monkeypatch):
    # A passive checkpoint is always a transaction behind a busy writer, so the WAL
    # would never start over; after WAL_ROWS rows the writer copies the rest itself.
    monkeypatch.setattr(_sinks._Checkpointer, "ROWS", 100)
    monkeypatch.setattr(_sinks._Checkpointer, "WAL_ROWS", 1_000)
    db = tmp_path / "b.db"
    sink = SqliteSink(f"sqlite:///{db}")
    biggest = 0
    try:
        for b in range(40):
            sink.write_batch([_event(b * 200 + i) for i in range(200)])
            biggest = max(biggest, os.path.getsize(f"{db}-wal"))
        con = sqlite3.connect(db)
        assert con.execute("SELECT count(DISTINCT id) FROM events").fetchone()[0] == 8_000
        con.close()
    finally:
        sink.close()
    pages = os.path.getsize(db) // 16384
    # Never starting over, the WAL would hold every page written (more than the
    # database's 560 or so); starting over every 1,000 rows, it holds ~180.
    assert biggest // (16384 + 24) < pages / 2, (biggest, pages)
    assert pages > 8_000 * 400 / 16384                 # the rows are in the database file


def test_checkpoint_thread_ends_when_idle_and_comes_back(tmp_path, monkeypatch):
    monkeypatch.setattr(_sinks._Checkpointer, "ROWS", 10)
    monkeypatch.setattr(_sinks._Checkpointer, "IDLE_SECONDS", 0.05)
    sink = SqliteSink(f"sqlite:///{tmp_path / 'i.db'}")
    try:
        sink.write_batch([_event(i) for i in range(20)])
        first = sink._checkpointer.thread
        assert first is not None and _wait(lambda: not first.is_alive())
        sink.write_batch([_event(i) for i in range(20, 40)])
        assert sink._checkpointer.thread is not first
    finally:
        sink.close()
    assert not _checkpoint_threads()


def test_no_checkpoint_thread_without_wal(tmp_path):
    sink = SqliteSink(f"sqlite:///{tmp_path / 'd.db'}")
    # A database SQLite cannot put in WAL mode (an in-memory one here) keeps its
    # journal and gets no checkpoint thread.
    mem = SqliteSink(":memory:")
    try:
        mem.write_batch([_event(i) for i in range(10)])
        assert mem._checkpointer is None
        sink.write_batch([_event(i) for i in range(10)])
        assert sink._checkpointer is not None
    finally:
        sink.close()
        mem.close()


def test_checkpoint_thread_that_cannot_connect_hands_back_to_sqlite(tmp_path, monkeypatch):
    monkeypatch.setattr(_sinks._Checkpointer, "ROWS", 10)
    real_connect = sqlite3.connect

    def connect(path, *a, **k):
        if threading.current_thread().name == "tokentrail-sqlite-checkpoint":
            raise sqlite3.OperationalError("unable to open database file")
        return real_connect(path, *a, **k)

    monkeypatch.setattr(sqlite3, "connect", connect)
    db = tmp_path / "f.db"
    sink = SqliteSink(f"sqlite:///{db}")
    try:
        sink.write_batch([_event(i) for i in range(20)])
        assert sink._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        assert _wait(lambda: not _checkpoint_threads())   # gave up quietly
        for b in range(1, 3):
            sink.write_batch([_event(b * 20 + i) for i in range(20)])
        # The writer's connection checkpoints as SQLite does by default, no thread again.
        assert sink._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
        assert not _checkpoint_threads()
    finally:
        sink.close()
    con = real_connect(db)
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 60
    con.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_starts_its_own_checkpoint_thread(tmp_path, monkeypatch):
    monkeypatch.setattr(_sinks._Checkpointer, "ROWS", 10)
    db = tmp_path / "k.db"
    sink = SqliteSink(f"sqlite:///{db}")
    sink.write_batch([_event(i) for i in range(20)])
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:        # pragma: no cover - child
        code = 1
        try:
            sink.write_batch([_event(i) for i in range(100, 120)])
            code = 0 if sink._checkpointer is not None and _checkpoint_threads() else 2
            sink.close()
        finally:
            os.write(w, bytes([code]))
            os._exit(0)
    os.close(w)
    got = os.read(r, 1)
    os.waitpid(pid, 0)
    os.close(r)
    sink.close()
    assert got == b"\x00"
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 40
    con.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_waits_for_a_checkpoint_in_progress(tmp_path):
    # A child forked while a thread is inside SQLite could inherit one of SQLite's
    # process-wide mutexes, held forever: the fork waits for the checkpoint to end.
    sink = SqliteSink(f"sqlite:///{tmp_path / 'w.db'}")
    sink.write_batch([_event(i) for i in range(5)])
    cp = sink._checkpointer
    state = {"done": False}
    inside = threading.Event()

    def checkpoint():
        with cp.running:
            inside.set()
            time.sleep(0.2)
            state["done"] = True

    t = threading.Thread(target=checkpoint)
    t.start()
    assert inside.wait(5)
    pid = os.fork()
    if pid == 0:        # pragma: no cover - child
        os._exit(0 if state["done"] else 3)
    _, status = os.waitpid(pid, 0)
    t.join()
    assert os.waitstatus_to_exitcode(status) == 0      # the child saw the checkpoint finished
    assert cp.running.acquire(timeout=1)                # and the parent got the lock back
    cp.running.release()
    sink.close()
