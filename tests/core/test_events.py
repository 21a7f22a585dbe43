"""The event shape (DESIGN.md) through log_event, and the built-in sinks."""

from __future__ import annotations

import json
import re
import sqlite3
import sys

import pytest

import tokentrail
from tokentrail._sinks import JsonlSink, SinkError, SqliteSink, resolve_sink

TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
REQUIRED = ("traceId", "id", "type", "name", "startTime", "endTime", "level", "status", "provider", "input",
            "model", "usage", "cost", "latency_ms", "retry_attempt", "fallback_model", "metadata")


def test_log_event_earlier_cost_logger_shape(events):
    ev = tokentrail.log_event(traceId="trace-1", startTime="2026-11-23T10:00:00Z",
                              endTime="2026-11-23T10:00:00.812Z", name="chat", level="info",
                              input={"model": "gpt-3.5-turbo", "prompt": "Hello"},
                              usage={"prompt_tokens": 10, "completion_tokens": 155},
                              metadata={"team": "eng", "route": "/api/chat"})
    assert events == [ev]
    for k in REQUIRED:
        assert k in ev, k
    assert ev["traceId"] == "trace-1" and ev["type"] == "generation" and ev["name"] == "chat"
    assert ev["startTime"] == "2026-11-23T10:00:00.000Z" and ev["endTime"] == "2026-11-23T10:00:00.812Z"
    assert ev["latency_ms"] == 812
    assert ev["usage"] == {"prompt_tokens": 10, "completion_tokens": 155, "total_tokens": 165,
                           "cached_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": 0}
    assert ev["cost"] == 0.0002375 and ev["pricing"] == "openai/gpt-3.5-turbo"
    assert ev["cost_details"]["input"] == pytest.approx(0.000005)
    assert ev["cost_details"]["output"] == pytest.approx(0.0002325)
    assert ev["metadata"] == {"source": "tokentrail", "fallback_attempted": False, "team": "eng",
                              "route": "/api/chat"}
    assert ev["status"] == "success" and ev["level"] == "info" and ev["provider"] == "openai"
    assert ev["retry_attempt"] == 0 and ev["fallback_model"] is None
    assert ev["schema_version"] == 1 and ev["namespace"] == "default"
    json.dumps(ev)  # serializable as is


def test_missing_counts_are_zero_and_timestamps_fixed_width(events):
    ev = tokentrail.log_event(input={"model": "gpt-4o"}, usage={"prompt_tokens": None, "completion_tokens": "x"})
    assert ev["usage"]["prompt_tokens"] == 0 and ev["usage"]["completion_tokens"] == 0
    assert ev["input"]["prompt"] == "" and ev["cost"] == 0
    assert TS.match(ev["startTime"]) and TS.match(ev["endTime"])
    assert len(ev["traceId"]) == 36   # a fresh uuid4 when no trace is open


def test_explicit_cost_kept_but_flagged(events):
    ok = tokentrail.log_event(input={"model": "gpt-3.5-turbo"}, usage={"prompt_tokens": 10, "completion_tokens": 155},
                              cost=0.0002375)
    assert "cost_mismatch" not in ok
    bad = tokentrail.log_event(input={"model": "gpt-3.5-turbo"}, usage={"prompt_tokens": 10, "completion_tokens": 155},
                               cost=0.5)
    assert bad["cost"] == 0.5
    assert bad["cost_mismatch"] == {"logged": 0.5, "computed": 0.0002375}


def test_metadata_layers_later_wins(events):
    tokentrail.configure(metadata={"team": "platform", "env": "prod", "route": "cfg"})
    with tokentrail.trace("t", metadata={"route": "trace", "user": "u1"}):
        ev = tokentrail.log_event(input={"model": "gpt-4o"}, metadata={"user": "call"})
    assert ev["metadata"]["team"] == "platform" and ev["metadata"]["env"] == "prod"
    assert ev["metadata"]["route"] == "trace" and ev["metadata"]["user"] == "call"


def test_error_event(events):
    ev = tokentrail.log_event(input={"model": "gpt-4", "prompt": "x"}, level="error",
                              error={"type": "RateLimitError", "message": "slow down", "status_code": 429})
    assert ev["status"] == "error" and ev["level"] == "error"
    assert ev["error"] == {"type": "RateLimitError", "message": "slow down", "status_code": 429}


def test_unknown_field_is_a_clear_type_error():
    with pytest.raises(TypeError, match="traceid"):
        tokentrail.log_event(traceid="oops")


def test_capture_content_off_stores_no_text(events):
    tokentrail.configure(capture_content=False)
    ev = tokentrail.log_event(input={"model": "gpt-4o", "prompt": "secret prompt",
                                     "messages": [{"role": "user", "content": "secret prompt"}]},
                              output={"response": "secret answer"}, usage={"prompt_tokens": 3})
    s = json.dumps(ev)
    assert "secret" not in s and ev["input"]["prompt"] == ""


# ----------------------------------------------------------------- sinks

def _lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_default_sink_is_tokentrail_jsonl_in_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from tokentrail import _config
    _config.reset()
    tokentrail.log_event(input={"model": "gpt-4o", "prompt": "p"}, usage={"prompt_tokens": 1})
    tokentrail.flush()
    assert _lines(tmp_path / "tokentrail.jsonl")[0]["input"]["prompt"] == "p"


def test_jsonl_sink_via_configure(tmp_path):
    path = tmp_path / "sub" / "calls.jsonl"
    tokentrail.configure(sink=str(path))
    for i in range(5):
        tokentrail.log_event(input={"model": "gpt-4o-mini", "prompt": f"p{i}"}, usage={"prompt_tokens": i})
    tokentrail.flush()
    got = _lines(path)
    assert [e["input"]["prompt"] for e in got] == [f"p{i}" for i in range(5)]


def test_env_sink(tmp_path, monkeypatch):
    path = tmp_path / "env.jsonl"
    monkeypatch.setenv("TOKENTRAIL_SINK", str(path))
    from tokentrail import _config
    _config.reset()
    tokentrail.log_event(input={"model": "gpt-4o"})
    tokentrail.flush()
    assert len(_lines(path)) == 1


def test_stdout_sink(capsys):
    tokentrail.configure(sink="stdout")
    tokentrail.log_event(input={"model": "gpt-4o", "prompt": "to stdout"})
    tokentrail.flush()
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1])["input"]["prompt"] == "to stdout"


def test_sqlite_sink_namespace_and_indexes(tmp_path):
    db = tmp_path / "calls.db"
    tokentrail.configure(sink=f"sqlite:///{db}", namespace="search")
    ev = tokentrail.log_event(traceId="tr", input={"model": "gpt-4o", "prompt": "q"},
                              usage={"prompt_tokens": 100, "completion_tokens": 10})
    tokentrail.flush()
    con = sqlite3.connect(db)
    row = con.execute("SELECT id, trace_id, namespace, model, prompt_tokens, cost, event FROM events").fetchone()
    assert row[0] == ev["id"] and row[1] == "tr" and row[2] == "search" and row[3] == "gpt-4o"
    assert row[4] == 100 and row[5] == pytest.approx(ev["cost"])
    assert json.loads(row[6]) == ev
    idx = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"events_trace", "events_model", "events_time", "events_namespace"} <= idx
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_callable_memory_and_fanout(tmp_path):
    got = []
    mem = tokentrail.MemorySink()
    path = tmp_path / "f.jsonl"

    def boom(ev):
        raise RuntimeError("sink down")

    tokentrail.configure(sink=[got.append, mem, boom, str(path)])
    tokentrail.log_event(input={"model": "gpt-4o"})
    tokentrail.flush()
    assert len(got) == 1 and len(mem.events) == 1 and len(_lines(path)) == 1   # boom did not stop the others


def test_unknown_scheme_lists_valid_ones():
    with pytest.raises(SinkError) as ei:
        tokentrail.configure(sink="kafka://broker/topic")
    msg = str(ei.value)
    assert "kafka://" in msg and "sqlite:///" in msg and "stdout" in msg


def test_same_string_same_sink():
    assert resolve_sink("x.jsonl") is resolve_sink("x.jsonl")
    assert isinstance(resolve_sink("sqlite:///a.db"), SqliteSink) and isinstance(resolve_sink("a.log"), JsonlSink)


def test_per_call_sink(tmp_path):
    mem = tokentrail.MemorySink()
    tokentrail.log_event(input={"model": "gpt-4o"}, sink=mem)
    tokentrail.flush()
    assert len(mem.events) == 1


def test_queue_full_drops_counts_and_never_blocks(caplog):
    from tokentrail._writer import Writer
    w = Writer(maxsize=3)
    w._start = lambda: None   # no writer thread: the queue only fills
    for i in range(10):
        w.put(object(), {"i": i})
    assert len(w._queue) == 3 and w.dropped == 7


def test_exit_drains_queue_without_flush(tmp_path):
    import subprocess
    path = tmp_path / "exit.jsonl"
    code = ("import tokentrail\n"
            f"tokentrail.configure(sink={str(path)!r})\n"
            "for i in range(2000):\n"
            "    tokentrail.log_event(input={'model': 'gpt-4o', 'prompt': str(i)})\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert len(_lines(path)) == 2000


def test_event_ids_are_uuid7_in_start_order_and_trace_ids_uuid4(events):
    import uuid
    from datetime import datetime, timezone

    from tokentrail._ids import new_event_id
    starts = ["2026-11-23T10:00:00.000Z", "2026-11-23T10:00:00.001Z", "2026-11-23T10:00:05.250Z"]
    evs = [tokentrail.log_event(startTime=s, input={"model": "gpt-4o"}) for s in starts]
    for s, ev in zip(starts, evs):
        u = uuid.UUID(ev["id"])
        assert str(u) == ev["id"] and u.version == 7 and u.variant == uuid.RFC_4122
        ms = int(datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp() * 1000)
        assert int(u.hex[:12], 16) == ms           # the first 48 bits: start time in Unix ms
        t = uuid.UUID(ev["traceId"])
        assert t.version == 4 and t.variant == uuid.RFC_4122
    assert [e["id"] for e in evs] == sorted(e["id"] for e in evs)
    same_ms = {new_event_id(1795000000.123) for _ in range(1000)}
    assert len(same_ms) == 1000                      # 74 random bits keep one millisecond's ids apart
    for junk in (float("inf"), float("nan"), None):  # an unusable start time still gets a valid id
        assert uuid.UUID(new_event_id(junk)).version == 4


def test_sqlite_sink_page_size_and_big_batches_with_an_odd_event(tmp_path):
    new, old = tmp_path / "new.db", tmp_path / "old.db"
    con = sqlite3.connect(old)
    con.execute("PRAGMA page_size=4096")
    con.execute("CREATE TABLE t(x)")
    con.commit()
    con.close()
    base = tokentrail.log_event(input={"model": "gpt-4o"}, usage={"prompt_tokens": 3}, sink="memory")
    batch = [{**base, "id": f"e{i}"} for i in range(250)]
    batch[150] = "not an event"                      # stored wrapped; the rest of the batch is not lost
    for db in (new, old):
        sink = SqliteSink(f"sqlite:///{db}")
        sink.write_batch(batch)
        sink.close()
        con = sqlite3.connect(db)
        ids = [r[0] for r in con.execute("SELECT id FROM events ORDER BY rowid")]
        page = con.execute("PRAGMA page_size").fetchone()[0]
        con.close()
        assert len(ids) == 250 and ids[:150] == [f"e{i}" for i in range(150)]
        assert ids[151:] == [f"e{i}" for i in range(151, 250)]
        assert page == (16384 if db == new else 4096)  # an existing database keeps its pages


def test_timestamps_match_datetime_across_seconds_and_threads():
    import datetime as dt
    import threading

    from tokentrail._time import format_ts

    def want(t: float) -> str:
        ms = int(t * 1000)
        d = dt.datetime.fromtimestamp(ms // 1000, dt.timezone.utc)
        return d.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"

    # Neighbouring seconds interleaved from several threads: the cached date part of one
    # second must never be paired with another second's milliseconds.
    times = [1795000000 + (i % 7) + (i % 1000) / 1000 for i in range(5000)] + [0.0, -0.5, 1795000000.9995]
    bad: list = []

    def run(offset: int) -> None:
        for t in times[offset:] + times[:offset]:
            got = format_ts(t)
            if got != want(t):
                bad.append((t, got))

    threads = [threading.Thread(target=run, args=(k * 13,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert bad == []
    assert format_ts(1795000000.25) == "2026-11-18T11:06:40.250Z"
