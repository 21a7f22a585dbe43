"""Faults: whatever breaks inside tokentrail or its sink, the user's call returns normally
and tokentrail says what happened once, clearly (which sink, what failed, what to do)."""

from __future__ import annotations

import logging
import math
import os
import sqlite3
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

import tokentrail
from tokentrail import _config, _writer
from tokentrail._sinks import JsonlSink, SqliteSink

from .conftest import CountingEvent, Gate, read_jsonl, record


def tt_errors(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "tokentrail" and r.levelno >= logging.WARNING]


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.INFO, logger="tokentrail")
    return caplog


def record_batches(sink, batches: int = 3, per_batch: int = 4) -> None:
    """Several batches, each flushed on its own, so a sink fails several times."""
    for b in range(batches):
        for i in range(per_batch):
            record(b * per_batch + i, sink=sink)
        tokentrail.log_event(input={"model": "gpt-4o-mini", "prompt": "hello"},
                             usage={"prompt_tokens": 3, "completion_tokens": 1}, sink=sink)
        assert tokentrail.flush(timeout=10)


# --------------------------------------------------------------------------- failing sinks

class Raising:
    def __init__(self, exc: Exception):
        self.exc = exc
        self.calls = 0

    def write(self, event):
        self.calls += 1
        raise self.exc

    def __repr__(self):
        return "Raising()"


def test_sink_that_raises_is_reported_once_and_calls_go_on(writer, log):
    sink = Raising(ValueError("boom"))
    # A writer that has just drained lingers for more events before it sleeps; a linger
    # ending between two of the calls below would split a batch. A long one does not end.
    writer.linger = 60
    assert tokentrail.flush()                # the linger under way starts again, 60 s long
    record_batches(sink)                     # every call above returned normally
    assert sink.calls == 3                   # one failed batch per flush, nothing retried forever
    errs = tt_errors(log)
    assert len(errs) == 1, [r.getMessage() for r in errs]
    msg = errs[0].getMessage()
    assert "Raising()" in msg and "could not write" in msg and "ValueError: boom" in msg
    assert "the sink raised an exception" in msg and "To fix:" in msg
    assert tokentrail.stats()["lost"] == 15


def test_sink_failing_in_flush_and_close_is_reported_once(writer, log):
    class BadFlush:
        def __init__(self):
            self.events = []

        def write(self, e):
            self.events.append(e)

        def flush(self):
            raise RuntimeError("flush broke")

        def close(self):
            raise RuntimeError("close broke")

    sink = BadFlush()
    record_batches(sink, batches=3, per_batch=1)
    writer.close_sinks()
    writer.close_sinks()
    assert len(sink.events) == 6             # writing worked; only flush/close failed
    msgs = [r.getMessage() for r in tt_errors(log)]
    assert sum("failed to flush" in m for m in msgs) == 1, msgs
    assert tokentrail.stats()["lost"] == 0


def test_disk_full(writer, log):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    sink = JsonlSink("/dev/full")
    record_batches(sink)
    errs = tt_errors(log)
    assert len(errs) == 1, [r.getMessage() for r in errs]
    msg = errs[0].getMessage()
    assert "JsonlSink('/dev/full')" in msg and "the disk is full" in msg and "free some disk space" in msg
    assert tokentrail.stats()["lost"] == 15


def _unwritable_dir(tmp_path: Path) -> Path:
    """A directory this process cannot create files in (root ignores permission bits,
    so root gets sysfs, which refuses new files to everyone)."""
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o555)
        return d
    probe = Path("/sys/tokentrail-probe.jsonl")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT, 0o644))
    except OSError:
        return Path("/sys")
    probe.unlink()
    pytest.skip("no read-only directory available to this user")


@pytest.mark.parametrize("kind", ["jsonl", "sqlite"])
def test_read_only_directory(kind, writer, log, tmp_path):
    d = _unwritable_dir(tmp_path)
    try:
        sink = JsonlSink(d / "calls.jsonl") if kind == "jsonl" else SqliteSink(f"sqlite:///{d}/calls.db", timeout=0.2)
        record_batches(sink)
    finally:
        if d.parent == tmp_path:
            d.chmod(0o755)
    errs = tt_errors(log)
    assert len(errs) == 1, [r.getMessage() for r in errs]
    msg = errs[0].getMessage()
    assert repr(sink) in msg and "could not write" in msg
    assert any(w in msg for w in ("permission denied", "read-only", "cannot be opened")), msg
    assert "TOKENTRAIL_SINK" in msg          # says how to point the sink elsewhere
    assert tokentrail.stats()["lost"] == 15


def test_missing_directory_is_created(writer, log, tmp_path):
    path = tmp_path / "not" / "yet" / "there" / "calls.jsonl"
    record_batches(JsonlSink(path), batches=1)
    events, tail = read_jsonl(path)
    assert len(events) == 5 and tail == b""
    assert tt_errors(log) == []


@pytest.mark.parametrize("kind", ["jsonl", "sqlite"])
def test_directory_that_cannot_be_created(kind, writer, log, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    target = blocker / "sub" / ("calls.jsonl" if kind == "jsonl" else "calls.db")
    sink = JsonlSink(target) if kind == "jsonl" else SqliteSink(f"sqlite:///{target}")
    record_batches(sink)
    errs = tt_errors(log)
    assert len(errs) == 1, [r.getMessage() for r in errs]
    assert "a part of the path is a file, not a directory" in errs[0].getMessage()


def test_locked_sqlite_is_reported_once_then_recovers(writer, log, tmp_path):
    db = tmp_path / "calls.db"
    sink = SqliteSink(f"sqlite:///{db}", timeout=0.1)
    record(0, sink=sink)
    assert tokentrail.flush()
    holder = sqlite3.connect(db, isolation_level=None, timeout=5)
    holder.execute("BEGIN EXCLUSIVE")        # another process holding the write lock
    try:
        record_batches(sink)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    errs = tt_errors(log)
    assert len(errs) == 1, [r.getMessage() for r in errs]
    msg = errs[0].getMessage()
    assert "SqliteSink(" in msg and "locked" in msg and "timeout" in msg
    lost = tokentrail.stats()["lost"]
    assert lost == 15
    record(99, sink=sink)                    # the lock is gone: writing resumes, and says so
    assert tokentrail.flush()
    assert any("is writing again" in r.getMessage() and "15 events were lost" in r.getMessage()
               for r in log.records)
    rows = sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone()[0]
    assert rows == 2


def test_file_that_is_not_a_database(writer, log, tmp_path):
    db = tmp_path / "calls.db"
    db.write_bytes(b"this is not sqlite" * 100)
    sink = SqliteSink(f"sqlite:///{db}", timeout=0.1)
    record_batches(sink)
    errs = tt_errors(log)
    assert len(errs) == 1, [r.getMessage() for r in errs]
    assert "not a usable SQLite database" in errs[0].getMessage()


def test_fanout_member_failure_is_reported_once_and_others_still_write(writer, log, tmp_path):
    good = tmp_path / "good.jsonl"
    sink = tokentrail.FanoutSink(str(good), Raising(OSError(28, "No space left on device")))
    record_batches(sink)
    events, _ = read_jsonl(good)
    assert len(events) == 15
    errs = tt_errors(log)
    assert len(errs) == 1, [r.getMessage() for r in errs]
    assert "the disk is full" in errs[0].getMessage()


def test_flush_timeout_names_the_busy_sink(writer, log):
    gate = Gate(tokentrail.MemorySink())
    record(0, sink=gate)
    writer._notify()
    assert gate.entered.wait(5)
    assert tokentrail.flush(timeout=0.2) is False
    gate.open()
    assert tokentrail.flush(timeout=10)
    msgs = [r.getMessage() for r in tt_errors(log)]
    assert any("flush() gave up" in m and "Gate(MemorySink" in m for m in msgs), msgs
    assert len(gate.inner.events) == 1


# --------------------------------------------------------------------------- queue overflow

def test_queue_overflow_drops_counts_and_says_so_once(writer, log):
    tokentrail.configure(queue_size=10)
    gate = Gate(tokentrail.MemorySink())
    record(0, sink=gate)
    writer._notify()
    assert gate.entered.wait(5)              # the writer holds event 0 and waits at the gate
    for i in range(1, 101):
        record(i, sink=gate)                 # 10 fit in the queue, 90 are dropped; none blocks
    stats = tokentrail.stats()
    assert stats["dropped"] == 90 and stats["queued"] == 10
    gate.open()
    assert tokentrail.flush()
    assert len(gate.inner.events) == 11
    assert [e["metadata"]["i"] for e in gate.inner.events] == list(range(11))
    warns = [r.getMessage() for r in tt_errors(log)]
    assert len(warns) == 1 and "queue is full" in warns[0] and "stats()['dropped']" in warns[0], warns
    assert tokentrail.stats()["written"] == 11


def test_callers_build_their_own_events_when_the_writer_is_behind(writer, log):
    writer.assist_at = 5
    gate = Gate(tokentrail.MemorySink())
    record(0, sink=gate)
    writer._notify()
    assert gate.entered.wait(5)              # the writer is stuck in a slow sink
    for i in range(1, 21):
        record(i, sink=gate)
    queued = [item for _, item in list(writer._queue)]
    assert [type(x) is dict for x in queued] == [False] * 5 + [True] * 15   # built on the caller's thread
    assert writer.assisted == 15 and tokentrail.stats()["dropped"] == 0
    gate.open()
    assert tokentrail.flush()
    assert [e["metadata"]["i"] for e in gate.inner.events] == list(range(21))
    assert all(e["cost"] > 0 for e in gate.inner.events)
    assert tt_errors(log) == []


@pytest.mark.parametrize("state", ["asleep", "lingering", "lingering long"])
def test_a_caller_that_never_waits_does_not_starve_the_writer(writer, state):
    """Call after call, dropping the GIL only for an instant each time (as the SDKs do),
    never lets CPython's switch interval hand the GIL to the writer; the caller hands it
    over once per batch instead, so events are written while the caller is still busy:
    whether the writer was asleep (woken by the first call), lingering after a drain
    (past its linger), or lingering long (``WAKE_AT`` events cut it short: the queue
    grew to 50,000 here when the caller woke the writer but never yielded to it)."""
    writer.linger = {"asleep": 0.02, "lingering": 0.02, "lingering long": 60.0}[state]
    writer.assist_at = 10**9                 # no help from the callers: only the hand-off
    assert tokentrail.flush()                # the writer lingers after it, writer.linger long
    if state == "asleep":
        deadline = time.monotonic() + 5.0
        while not writer._idle and time.monotonic() < deadline:
            time.sleep(0.005)
        assert writer._idle
    sink = tokentrail.MemorySink()
    deadline = time.monotonic() + 5.0
    calls = 0
    while not sink.events and time.monotonic() < deadline:
        record(calls, sink=sink)
        calls += 1
        os.urandom(16)                       # the GIL dropped for an instant (getrandom)
        sum(range(3000))                     # the rest of the "call" holds it
    assert sink.events, f"the writer wrote nothing during {calls} calls"
    assert writer.assisted == 0


def test_a_writer_that_just_wrote_lingers_for_more_then_sleeps():
    """After a drain the writer waits one more linger for events by itself, so callers that
    keep calling never wake it (a futex call each, and a caller holding the GIL then
    waits for the writer to take it); a linger that finds nothing puts it to sleep, and
    an idle application's writer stays asleep until the next event wakes it."""

    got: list[dict] = []
    w = _writer.Writer()
    w.linger = 0.5
    w._wake = CountingEvent()
    woken: list[int] = []
    notify = w._notify
    w._notify = lambda: (woken.append(1), notify())[1]     # type: ignore[method-assign]
    try:
        w.put(got.append, {"n": 0})          # asleep (not even started): woken
        assert w.flush(timeout=10) and woken == [1]
        for n in (1, 2):                     # it just wrote: lingering, not woken
            w.put(got.append, {"n": n})
            deadline = time.monotonic() + 10
            while len(got) <= n and time.monotonic() < deadline:
                time.sleep(0.005)
        assert got == [{"n": 0}, {"n": 1}, {"n": 2}] and woken == [1]   # written without a flush
        deadline = time.monotonic() + 10
        while not w._idle and time.monotonic() < deadline:
            time.sleep(0.005)
        assert w._idle                       # a linger with nothing: asleep
        before = w._wake.waits
        threading.Event().wait(1.0)
        assert w._wake.waits == before, "an idle writer kept waking up"
        w.put(got.append, {"n": 3})          # and the next event wakes it
        assert w.flush(timeout=10) and woken == [1, 1] and got[-1] == {"n": 3}
    finally:
        w.stop()


# --------------------------------------------------------------------------- pricing

BROKEN_YAML = "models:\n  my-model:\n    input: [unclosed\n"


def test_broken_pricing_file_from_environment(writer, log, tmp_path, monkeypatch):
    bad = tmp_path / "prices.yaml"
    bad.write_text(BROKEN_YAML)
    monkeypatch.setenv("TOKENTRAIL_PRICING", str(bad))
    _config.reset()
    tokentrail.configure(sink="memory")
    evs = [tokentrail.log_event(input={"model": "gpt-4o-mini", "prompt": "hi"},
                                usage={"prompt_tokens": 1000, "completion_tokens": 100}) for _ in range(3)]
    record(1)
    assert tokentrail.flush()
    assert all(e is not None and e["cost"] > 0 and e["pricing"] != "unknown" for e in evs)   # built-in prices
    errs = [r.getMessage() for r in tt_errors(log)]
    assert len(errs) == 1, errs
    assert str(bad) in errs[0] and "built-in price tables" in errs[0]


def test_broken_pricing_file_given_to_configure_names_file_and_line(tmp_path):
    bad = tmp_path / "prices.yaml"
    bad.write_text(BROKEN_YAML)
    with pytest.raises(tokentrail.PricingError) as ei:
        tokentrail.configure(pricing=str(bad))
    msg = str(ei.value)
    assert str(bad) in msg and "line" in msg
    assert tokentrail.log_event(input={"model": "gpt-4o-mini", "prompt": "hi"},
                                usage={"prompt_tokens": 10, "completion_tokens": 1})["cost"] > 0


def test_missing_pricing_file(tmp_path):
    with pytest.raises(tokentrail.PricingError, match="does not exist"):
        tokentrail.configure(pricing=str(tmp_path / "nope.yaml"))


# --------------------------------------------------------------------------- usage blocks

class Exploding:
    """A usage object whose attributes raise when read."""

    @property
    def prompt_tokens(self):
        raise RuntimeError("property exploded")

    completion_tokens = 5


BAD_USAGES = [
    pytest.param({"prompt_tokens": None, "completion_tokens": None, "total_tokens": None}, id="none"),
    pytest.param({"prompt_tokens": -5, "completion_tokens": -1, "total_tokens": -6}, id="negative"),
    pytest.param({"prompt_tokens": "12", "completion_tokens": "abc", "total_tokens": "x"}, id="strings"),
    pytest.param({}, id="missing"),
    pytest.param({"completion_tokens": 7}, id="only-completion"),
    pytest.param({"prompt_tokens": float("nan"), "completion_tokens": float("inf")}, id="nan-inf"),
    pytest.param({"prompt_tokens": 10**30, "completion_tokens": True}, id="huge-and-bool"),
    pytest.param({"prompt_tokens": 10, "completion_tokens": 5,
                  "prompt_tokens_details": {"cached_tokens": 99}, "completion_tokens_details": "junk"},
                 id="cached-exceeds-prompt"),
    pytest.param({"input_tokens": -3, "cache_read_input_tokens": "7", "cache_creation": {"ephemeral_1h_input_tokens": None},
                  "output_tokens": None}, id="anthropic-junk"),
    pytest.param({"input_tokens": 5, "input_tokens_details": None, "output_tokens": 2,
                  "output_tokens_details": {"reasoning_tokens": 50}}, id="responses-junk"),
    pytest.param(["not", "a", "dict"], id="list"),
    pytest.param("42 tokens", id="string"),
    pytest.param(Exploding(), id="raising-property"),
]


def _check_usage(ev: dict) -> None:
    u = ev["usage"]
    for k in ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "cache_write_tokens",
              "reasoning_tokens"):
        assert isinstance(u[k], int) and not isinstance(u[k], bool) and u[k] >= 0, (k, u)
    assert u["total_tokens"] >= u["prompt_tokens"] + u["completion_tokens"]
    assert u["cached_tokens"] <= u["prompt_tokens"]
    assert isinstance(ev["cost"], float) and math.isfinite(ev["cost"]) and ev["cost"] >= 0
    assert all(math.isfinite(v) and v >= 0 for v in ev["cost_details"].values())


@pytest.mark.parametrize("usage", BAD_USAGES)
def test_bad_usage_block_through_the_call_path(usage, writer, log, tmp_path):
    path = tmp_path / "calls.jsonl"
    tokentrail.configure(sink=str(path))
    record(1, usage=usage)                    # built on the writer thread
    assert tokentrail.flush()
    events, _ = read_jsonl(path)
    assert len(events) == 1
    _check_usage(events[0])
    assert [r for r in tt_errors(log) if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize("usage", BAD_USAGES)
def test_bad_usage_block_through_log_event(usage):
    ev = tokentrail.log_event(input={"model": "gpt-4o-mini", "prompt": "hi"}, usage=usage)
    _check_usage(ev)


def test_call_with_no_usage_at_all(writer, tmp_path):
    from tokentrail._recorder import start_call
    path = tmp_path / "calls.jsonl"
    tokentrail.configure(sink=str(path))
    c = start_call("anthropic", "anthropic.messages.create", request_model="claude-haiku-4-5",
                   messages=[{"role": "user", "content": "hi"}])
    c.model = "claude-haiku-4-5-20251001"
    c.finish()                               # usage never set
    assert tokentrail.flush()
    (ev,), _ = read_jsonl(path)
    assert ev["usage"]["prompt_tokens"] == 0 and ev["usage"]["total_tokens"] == 0 and ev["cost"] == 0
    assert ev["pricing"] != "unknown"        # the model is known, there was just nothing to price


# --------------------------------------------------------------------------- odd event values

def test_unserializable_values_do_not_cost_the_batch(writer, log, tmp_path):
    path = tmp_path / "calls.jsonl"
    db = tmp_path / "calls.db"
    sink = tokentrail.FanoutSink(str(path), f"sqlite:///{db}")
    cyclic: dict = {"name": "loop"}
    cyclic["self"] = cyclic

    class Opaque:
        def __str__(self):
            return "<opaque>"

    weird = [
        {"decimal": Decimal("0.125"), "obj": Opaque(), "set": {1}, "bytes": b"\x00\x01", "tuple_key": {(1, 2): "x"}},
        {"nan": float("nan"), "inf": float("-inf")},
        {"cycle": cyclic},
    ]
    for i, md in enumerate(weird):
        record(i, sink=sink, metadata=md)
    tokentrail.log_event(input={"model": "gpt-4o-mini", "prompt": "ok"}, usage={"prompt_tokens": 1}, sink=sink,
                         cost=float("nan"))
    record(9, sink=sink)
    assert tokentrail.flush()
    events, tail = read_jsonl(path)          # strict JSON: every line parses, no NaN literal
    assert len(events) == 5 and tail == b""
    assert "NaN" not in path.read_text() and "Infinity" not in path.read_text()
    assert events[0]["metadata"]["decimal"] == 0.125 and events[0]["metadata"]["obj"] == "<opaque>"
    assert events[1]["metadata"]["nan"] is None
    assert events[2]["metadata"]["cycle"]["self"] == "[cycle]"
    assert sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone()[0] == 5
    assert tt_errors(log) == [] and tokentrail.stats()["lost"] == 0


def test_event_that_cannot_be_built_is_reported_once(writer, log):
    class Broken:
        name = "openai.chat.completions.create"

        def to_event(self):
            raise KeyError("missing piece")

    sink = tokentrail.MemorySink()
    for _ in range(3):
        writer.put(sink, Broken())
    record(1, sink=sink)
    assert tokentrail.flush()
    assert len(sink.events) == 1             # the good event still went out
    errs = [r for r in tt_errors(log)]
    assert len(errs) == 1 and "could not build the event" in errs[0].getMessage()
    assert tokentrail.stats()["lost"] == 3


def test_observer_that_raises_is_reported_once(writer, log):
    def bad(event):
        raise RuntimeError("observer broke")

    _writer.add_observer(bad)
    try:
        sink = tokentrail.MemorySink()
        for i in range(3):
            record(i, sink=sink)
            assert tokentrail.flush()
    finally:
        _writer.remove_observer(bad)
    assert len(sink.events) == 3
    assert len([r for r in tt_errors(log) if "observer" in r.getMessage()]) == 1


def test_recording_after_exit_handlers_still_writes(writer, tmp_path):
    # After the exit drain the writer writes on the caller's thread (late atexit handlers).
    path = tmp_path / "late.jsonl"
    sink = JsonlSink(path)
    try:
        writer.stop()
        record(1, sink=sink)
        events, _ = read_jsonl(path)
        assert len(events) == 1
    finally:
        writer._stopped = False


# --------------------------------------------------------------------------- through a real client

def test_attached_call_with_no_usage_in_the_response(writer, log, tmp_path, fake_api):
    import json as _json
    from .conftest import attach_or_skip, openai_client
    body = _json.loads((Path(__file__).parent.parent / "fixtures/openai/chat_completion.json").read_text())
    del body["usage"]
    fake_api.bodies["/chat/completions"] = (_json.dumps(body).encode(), "application/json")
    path = tmp_path / "calls.jsonl"
    client = attach_or_skip(openai_client(fake_api), sink=str(path))
    r = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert r.usage is None and r.choices[0].message.content        # the caller got the response as is
    assert tokentrail.flush()
    (ev,), _ = read_jsonl(path)
    assert ev["usage"]["prompt_tokens"] == 0 and ev["usage"]["completion_tokens"] == 0 and ev["cost"] == 0
    assert [r for r in tt_errors(log) if r.levelno >= logging.ERROR] == []


def test_attached_call_whose_sink_fails(writer, log, fake_api):
    from .conftest import attach_or_skip, openai_client
    sink = Raising(OSError(28, "No space left on device"))
    client = attach_or_skip(openai_client(fake_api), sink=sink)
    for _ in range(3):
        r = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert r.usage.total_tokens > 0
        assert tokentrail.flush()
    errs = tt_errors(log)
    assert len(errs) == 1 and "the disk is full" in errs[0].getMessage()
    assert tokentrail.stats()["lost"] == 3


class _BatchSizes:
    def __init__(self, batch_max=None):
        if batch_max is not None:
            self.batch_max = batch_max
        self.sizes: list[int] = []

    def write_batch(self, events: list) -> None:
        self.sizes.append(len(events))

    def write(self, event: dict) -> None:
        self.write_batch([event])


def _queue_behind_a_gate(writer, sink, n: int) -> Gate:
    gate = Gate(tokentrail.MemorySink())
    record(0, sink=gate)
    writer._notify()
    assert gate.entered.wait(5)          # the writer is busy: everything below waits in the queue
    for i in range(n):
        writer.put(sink, {"i": i})
    return gate


@pytest.mark.parametrize("batch_max, expected", [
    (12_000, [12_000]),                   # asks for bigger batches: one write_batch
    (None, [5_000, 5_000, 2_000]),        # the writer's default
    ("lots", [5_000, 5_000, 2_000]),      # not an int: ignored
    (10**9, [12_000]),                    # capped at BATCH_LIMIT, which 12,000 is under
])
def test_the_writer_honours_a_sinks_batch_max(writer, batch_max, expected):
    assert _writer.BATCH_MAX == 5_000 and _writer.BATCH_LIMIT >= 12_000
    sink = _BatchSizes(batch_max)
    gate = _queue_behind_a_gate(writer, sink, 12_000)
    gate.open()
    assert tokentrail.flush(timeout=30)
    assert sink.sizes == expected
    assert SqliteSink.batch_max == 20_000


def test_batch_limit_caps_a_greedy_sink(writer, monkeypatch):
    monkeypatch.setattr(_writer, "BATCH_LIMIT", 7_000)
    sink = _BatchSizes(10**9)
    gate = _queue_behind_a_gate(writer, sink, 12_000)
    gate.open()
    assert tokentrail.flush(timeout=30)
    assert sink.sizes == [7_000, 5_000]


def test_a_fanout_asks_for_its_greediest_members_batches(writer):
    from tokentrail._sinks import FanoutSink
    big, plain = _BatchSizes(12_000), _BatchSizes()
    fan = FanoutSink(big, plain)
    assert fan.batch_max == 12_000 and FanoutSink(plain).batch_max is None
    gate = _queue_behind_a_gate(writer, fan, 12_000)
    gate.open()
    assert tokentrail.flush(timeout=30)
    assert big.sizes == plain.sizes == [12_000]
