"""PostgresSink against a real PostgreSQL server (the session's own, see conftest)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

psycopg = pytest.importorskip("psycopg")

import tokentrail  # noqa: E402
from tokentrail import _writer  # noqa: E402
from tokentrail._sinks import SQLITE_COLUMNS, SqliteSink, resolve_sink  # noqa: E402
from tokentrail.sinks.postgres import (PostgresSink, db_init, pg_aggregate, pg_iter_events,  # noqa: E402
                                       safe_url)

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")


@pytest.fixture
def sinks():
    """PostgresSinks made by a test are closed after it (their threads and connections)."""
    made: list = []

    def make(url, **kw):
        s = PostgresSink(url, **kw)
        made.append(s)
        return s
    yield make
    tokentrail.flush()
    for s in made:
        s.close()


def rows(url, sql="SELECT * FROM events ORDER BY id", args=()):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def count(url) -> int:
    return rows(url, "SELECT count(*) FROM events")[0][0]


def sample_events():
    """A few varied events built by tokentrail itself (log_event returns the event)."""
    evs = []
    with tokentrail.trace("t", metadata={"team": "search"}):
        evs.append(tokentrail.log_event(input={"model": "gpt-4o", "prompt": "hi"}, startTime="2026-11-23T10:00:00.000Z",
                                        endTime="2026-11-23T10:00:01.250Z",
                                        usage={"prompt_tokens": 1200, "completion_tokens": 80, "cached_tokens": 1024}))
        evs.append(tokentrail.log_event(input={"model": "claude-haiku-4-5", "prompt": "hi"}, provider="anthropic",
                                        model="claude-haiku-4-5-20251001", startTime="2026-11-23T10:00:02.000Z",
                                        endTime="2026-11-23T10:00:02.500Z",
                                        usage={"prompt_tokens": 300, "completion_tokens": 20,
                                               "cache_write_tokens": 200}))
    evs.append(tokentrail.log_event(input={"model": "gpt-4o-mini", "prompt": "x"}, status="error",
                                    error={"type": "RateLimitError", "message": "slow down", "status_code": 429},
                                    startTime="2026-11-24T09:00:00.000Z", endTime="2026-11-24T09:00:00.100Z",
                                    metadata={"team": "ads"}, namespace="other"))
    evs.append(tokentrail.log_event(input={"model": "text-embedding-3-small", "prompt": "e"}, type="embedding",
                                    startTime="2026-11-24T09:00:01.000Z", endTime="2026-11-24T09:00:01.010Z",
                                    usage={"prompt_tokens": 8}, metadata={"team": ""}))
    evs.append(tokentrail.log_event(name="my_tool", type="span", input={"model": ""},
                                    startTime="2026-11-24T09:00:02.000Z", endTime="2026-11-24T09:00:02.010Z"))
    return evs


def test_db_init_creates_the_sqlite_schema(pg_url):
    assert "created table 'events'" in db_init(pg_url)
    assert "already exists" in db_init(pg_url)
    cols = rows(pg_url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'events' "
                        "ORDER BY ordinal_position")
    assert tuple(c for (c,) in cols) == SQLITE_COLUMNS
    idx = {r[0] for r in rows(pg_url, "SELECT indexname FROM pg_indexes WHERE tablename = 'events'")}
    assert {"events_trace", "events_model", "events_time", "events_namespace"} <= idx


def test_rows_equal_the_sqlite_sinks_rows(pg_url, sinks, tmp_path):
    evs = sample_events()
    lite = SqliteSink(str(tmp_path / "e.db"))
    lite.write_batch(evs)
    lite.close()
    pg = sinks(pg_url)
    pg.write_batch(evs)          # the table does not exist yet: created on first use
    assert pg.flush(timeout=20)
    with sqlite3.connect(tmp_path / "e.db") as conn:
        expect = conn.execute("SELECT * FROM events ORDER BY id").fetchall()
    got = rows(pg_url)
    assert [tuple(r) for r in got] == expect
    assert pg.written == len(evs) and pg.dropped == 0


def test_string_sink_through_tokentrail_and_private_keys_dropped(pg_url):
    url = pg_url.replace("postgresql://", "postgres://")   # both spellings
    sink = resolve_sink(url)
    assert isinstance(sink, PostgresSink)
    try:
        tokentrail.configure(sink=url)
        ev = tokentrail.log_event(input={"model": "gpt-4o", "prompt": "p"}, usage={"prompt_tokens": 5})
        assert tokentrail.flush(timeout=20)
        ((text,),) = rows(pg_url, "SELECT event FROM events")
        assert json.loads(text) == ev
        # A private key (a call-time capture for another sink) never reaches the row.
        sink.write_batch([dict(ev, id="x2", _otel_parent=object())])
        assert sink.flush(timeout=20)
        ((text2,),) = rows(pg_url, "SELECT event FROM events WHERE id = 'x2'")
        assert "_otel_parent" not in json.loads(text2)
    finally:
        sink.close()


def test_odd_values_are_stored_not_dropped(pg_url, sinks):
    pg = sinks(pg_url)
    ev = tokentrail.log_event(input={"model": "gpt-4o", "prompt": "nul \x00 and \ud800 lone surrogate"},
                              name="bad\x00name", usage={"prompt_tokens": "7"})
    pg.write_batch([ev, ev])     # the same event twice: stored once
    assert pg.flush(timeout=20)
    ((name, pt),) = rows(pg_url, "SELECT name, prompt_tokens FROM events")
    assert name.startswith("bad") and pt == 7
    assert pg.dropped == 0


def test_server_restart_while_writing_loses_nothing(pg_server, pg_url, sinks):
    if not pg_server.controllable:
        pytest.skip("the PostgreSQL server is external (TOKENTRAIL_TEST_PG_URL): cannot restart it")
    pg = sinks(pg_url, backoff=(0.05, 0.5), flush_timeout=30)
    tokentrail.configure(sink=pg)
    ids: list[str] = []
    stop = threading.Event()

    def app():   # the application keeps making calls through the outage
        i = 0
        while not stop.is_set():
            ev = tokentrail.log_event(input={"model": "gpt-4o-mini", "prompt": f"q{i}"},
                                      usage={"prompt_tokens": 10, "completion_tokens": 2})
            ids.append(ev["id"])
            i += 1
            time.sleep(0.001)

    t = threading.Thread(target=app)
    t.start()
    try:
        time.sleep(0.4)
        pg_server.stop("fast")
        time.sleep(0.8)
        down_buffered = pg.buffered
        pg_server.start()
        time.sleep(0.6)
    finally:
        stop.set()
        t.join()
    assert tokentrail.flush(timeout=40)
    assert down_buffered > 0                     # events did wait in the buffer
    got = [r[0] for r in rows(pg_url, "SELECT id FROM events")]
    assert len(got) == len(set(got)) == len(ids) > 100
    assert set(got) == set(ids)
    assert pg.dropped == 0 and pg.reconnects >= 1


def test_drops_are_counted_when_the_buffer_is_full(monkeypatch, pg_server, pg_url, sinks):
    monkeypatch.setattr(_writer, "_lost", _writer.lost())   # put the process-wide counter back afterwards
    if not pg_server.controllable:
        pytest.skip("the PostgreSQL server is external (TOKENTRAIL_TEST_PG_URL): cannot stop it")
    pg = sinks(pg_url, max_buffer=50, backoff=(0.05, 0.2), flush_timeout=30)
    pg.write_batch(sample_events())
    assert pg.flush(timeout=20)
    lost_before = _writer.lost()
    pg_server.stop("fast")
    try:
        evs = [dict(e, id=f"down-{i}") for i, e in enumerate(sample_events() * 16)]   # 80 events
        pg.write_batch(evs)
        assert pg.dropped == 30 and pg.buffered == 50
        assert _writer.lost() - lost_before == 30
        assert not pg.flush(timeout=0.3)        # the server is down: not written yet
    finally:
        pg_server.start()
    assert pg.flush(timeout=30)
    assert count(pg_url) == 5 + 50
    assert tokentrail.stats()["lost"] >= 30


def test_many_writer_processes_each_event_once(pg_url, tmp_path):
    # Four processes start together on a database without the table (schema creation
    # races too), each records 1500 calls and exits: atexit drains everything.
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.path.abspath(SRC)!r})
        import tokentrail
        tokentrail.configure(sink={pg_url!r})
        n = int(sys.argv[1])
        for i in range(1500):
            tokentrail.log_event(id=f"p{{n}}-{{i}}", input={{"model": "gpt-4o-mini", "prompt": "hi"}},
                                 usage={{"prompt_tokens": 10, "completion_tokens": 3}})
    """)
    path = tmp_path / "writer.py"
    path.write_text(script)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENTRAIL_")}
    procs = [subprocess.Popen([sys.executable, str(path), str(n)], cwd=tmp_path, env=env,
                              stderr=subprocess.PIPE, text=True) for n in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    got = rows(pg_url, "SELECT id, count(*) OVER (PARTITION BY id) FROM events")
    assert len(got) == 6000 and all(c == 1 for _, c in got)
    assert {i for i, _ in got} == {f"p{n}-{i}" for n in range(4) for i in range(1500)}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_writes_its_own_events_and_leaves_the_parents_connection(pg_url, sinks):
    pg = sinks(pg_url)
    tokentrail.configure(sink=pg)
    call = {"input": {"model": "gpt-4o-mini", "prompt": "hi"}, "usage": {"prompt_tokens": 3}}
    tokentrail.log_event(id="parent-1", **call)
    assert tokentrail.flush(timeout=20)          # the parent holds a live connection now
    pid = os.fork()
    if pid == 0:                                 # the child: its own connection, its own events
        code = 1
        try:
            tokentrail.log_event(id="child-1", **call)
            code = 0 if tokentrail.flush(timeout=20) else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    tokentrail.log_event(id="parent-2", **call)
    assert tokentrail.flush(timeout=20)
    assert sorted(r[0] for r in rows(pg_url, "SELECT id FROM events")) == ["child-1", "parent-1", "parent-2"]
    assert pg.reconnects == 0 and pg.written == 2     # the parent's session survived the child


def test_aggregate_matches_the_report_engine(pg_url, sinks, tmp_path):
    analysis = pytest.importorskip("tokentrail.analysis")
    evs = sample_events()
    pg = sinks(pg_url)
    pg.write_batch(evs)
    assert pg.flush(timeout=20)
    path = tmp_path / "e.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in evs))
    by = ["model", "metadata.team", "day", "status", "provider", "namespace", "name", "trace"]
    for filters in ({}, {"namespace": "default"}, {"since": "2026-11-24"}, {"until": "2026-11-23"},
                    {"model": "gpt-4o"}, {"trace_id": evs[0]["traceId"]}):
        agg = pg_aggregate(pg_url, by=by, **filters)
        rep = analysis.build_report([str(path)], by=by, **filters)
        assert agg["totals"] == {k: rep["totals"][k] for k in agg["totals"]}, filters
        for key in by:
            assert agg["by"][key] == [{k: r[k] for k in ("key", "calls", "errors", "cost", "tokens", "share")}
                                      for r in rep["by"][key]], (filters, key)
    agg = pg_aggregate(pg_url, by="model")
    assert agg["totals"]["calls"] == 4 and agg["totals"]["errors"] == 1 and agg["other_events"] == 1
    assert agg["totals"]["cached_tokens"] == 1024 and agg["totals"]["first"] == "2026-11-23T10:00:00.000Z"


def test_iter_events_streams_with_filters(pg_url, sinks):
    evs = sample_events()
    pg = sinks(pg_url)
    pg.write_batch(evs)
    assert pg.flush(timeout=20)
    all_ = list(pg_iter_events(pg_url, itersize=2))
    assert [e["id"] for e in all_] == [e["id"] for e in sorted(evs, key=lambda e: (e["startTime"], e["id"]))]
    assert all_[0] == evs[0]
    assert [e["id"] for e in pg_iter_events(pg_url, namespace="other")] == [evs[2]["id"]]
    assert {e["id"] for e in pg_iter_events(pg_url, trace_id=evs[0]["traceId"])} == {evs[0]["id"], evs[1]["id"]}
    assert len(list(pg_iter_events(pg_url, since="2026-11-24T00:00:00Z"))) == 3
    assert len(list(pg_iter_events(pg_url, until="2026-11-23"))) == 2        # a bare date includes that day
    # --model matches the requested id, the answered snapshot, or the price-table entry
    assert [e["id"] for e in pg_iter_events(pg_url, model="claude-haiku-4-5-20251001")] == [evs[1]["id"]]
    assert [e["id"] for e in pg_iter_events(pg_url, model="claude-haiku-4-5")] == [evs[1]["id"]]
    n, text = next(pg_iter_events(pg_url, raw=True))
    assert n == 1 and json.loads(text) == all_[0]
    # the exports' shape: (namespace column, event), calls of one type
    got = list(pg_iter_events(pg_url, types=("generation",), with_namespace=True))
    assert [(ns, e["id"]) for ns, e in got] == [(e["namespace"], e["id"]) for e in all_ if e["type"] == "generation"]
    assert [e["id"] for e in pg_iter_events(pg_url, types=("embedding",))] == [evs[3]["id"]]


def test_no_thread_at_interpreter_exit_writes_on_the_flushing_thread(pg_url, sinks, monkeypatch):
    # Python >= 3.12 refuses new threads in atexit handlers, where tokentrail drains last events.
    def refuse(self):
        raise RuntimeError("can't create new thread at interpreter shutdown")
    pg = sinks(pg_url)
    evs = sample_events()
    monkeypatch.setattr(threading.Thread, "start", refuse)
    pg.write_batch(evs)
    assert pg.buffered == 5
    assert pg.flush(timeout=20)
    monkeypatch.undo()
    assert count(pg_url) == 5


def test_password_never_printed():
    url = "postgresql://app:s3cret@127.0.0.1:1/db"
    assert "s3cret" not in repr(PostgresSink(url)) and "s3cret" not in safe_url(url)
    assert safe_url(url) == "postgresql://app:***@127.0.0.1:1/db"


def test_unreachable_server_does_not_block_the_caller(monkeypatch, sinks):
    monkeypatch.setattr(_writer, "_lost", _writer.lost())   # close() counts the 5 unwritten events
    # Nothing listens on this port: writes return at once, flush gives up after its timeout.
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pg = sinks(f"postgresql://nobody@127.0.0.1:{port}/db", backoff=(0.05, 0.1), flush_timeout=0.3)
    evs = sample_events()
    t0 = time.perf_counter()
    pg.write_batch(evs)
    assert time.perf_counter() - t0 < 0.1
    assert not pg.flush()
    assert pg.buffered == 5 and "OperationalError" in (pg.last_error or "")


def test_report_and_export_read_postgres_like_jsonl(pg_url, sinks, tmp_path):
    analysis = pytest.importorskip("tokentrail.analysis")
    from tokentrail.export import export_models, export_prompts
    evs = sample_events()
    pg = sinks(pg_url)
    pg.write_batch(evs)
    assert pg.flush(timeout=20)
    path = tmp_path / "e.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in evs))
    from_pg = analysis.build_report([pg_url], by=["model", "metadata.team"])
    from_file = analysis.build_report([str(path)], by=["model", "metadata.team"])
    for key in ("totals", "by", "findings", "waste_total_usd", "latency"):
        assert from_pg[key] == from_file[key], key
    assert from_pg["aggregated_in"] == "postgresql"
    sqlite_db = tmp_path / "e.db"
    import tokentrail as tt
    tt.SqliteSink(f"sqlite:///{sqlite_db}").write_batch(evs)
    for fn in (export_models, export_prompts):
        a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
        assert fn(str(a), database=pg_url) == fn(str(b), database=f"sqlite:///{sqlite_db}") > 0
        assert a.read_text() == b.read_text()


def test_report_on_unreachable_postgres_is_one_clear_error():
    analysis = pytest.importorskip("tokentrail.analysis")
    with pytest.raises(analysis.InputError, match="cannot connect to postgresql://u:\\*\\*\\*@127.0.0.1:1/db"):
        analysis.build_report(["postgresql://u:secret@127.0.0.1:1/db"])


def test_cli_db_init_then_report_and_export_from_postgres(pg_url, sinks, tmp_path):
    import subprocess
    import sys as _sys

    def cli(*args):
        return subprocess.run([_sys.executable, "-m", "tokentrail", *args], capture_output=True, text=True,
                              cwd=tmp_path, timeout=120)

    r = cli("db", "init", pg_url)
    assert r.returncode == 0, r.stderr
    pg = sinks(pg_url)
    pg.write_batch(sample_events())
    assert pg.flush(timeout=20)
    r = cli("report", pg_url, "--format", "json", "--by", "model")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["totals"]["calls"] == 4 and rep["aggregated_in"] == "postgresql"
    r = cli("export", "prompts", "p.jsonl", "--database", pg_url)
    assert r.returncode == 0, r.stderr
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) >= 1
