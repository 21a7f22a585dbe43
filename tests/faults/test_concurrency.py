"""Load: many threads, many tasks, several processes on one file; every event exactly once."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import tokentrail
from tokentrail._recorder import start_call

from .conftest import (CountingEvent, assert_no_credentials, anthropic_client, attach_or_skip, openai_client,
                       read_jsonl, record)

MESSAGES = [{"role": "user", "content": "How does prompt caching work?"}]


def _check_threads(events: list[dict], threads: int, calls: int) -> None:
    assert len(events) == threads * calls
    assert len({e["id"] for e in events}) == threads * calls
    seen = {(e["metadata"]["t"], e["metadata"]["i"]) for e in events}
    assert seen == {(t, i) for t in range(threads) for i in range(calls)}


def test_16_threads_x_500_calls_through_the_call_path(writer, tmp_path):
    path = tmp_path / "calls.jsonl"
    tokentrail.configure(sink=str(path))
    start = threading.Barrier(16)

    def work(t: int) -> None:
        start.wait()
        for i in range(500):
            # Each line carries its own thread and index in the prompt too: a line mixing
            # two events would not match its metadata.
            record(i, prompt=f"thread {t} call {i} " + "x" * (i % 50), metadata={"t": t, "i": i})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert tokentrail.flush(timeout=60)
    events, tail = read_jsonl(path)              # every line is one valid JSON object
    assert tail == b""
    _check_threads(events, 16, 500)
    for e in events:
        assert e["input"]["prompt"].startswith(f"thread {e['metadata']['t']} call {e['metadata']['i']} ")
    assert tokentrail.stats()["dropped"] == 0 and tokentrail.stats()["lost"] == 0


def test_16_threads_x_500_calls_on_one_attached_client(writer, tmp_path, fake_api):
    path = tmp_path / "calls.jsonl"
    tokentrail.configure(sink=str(path))
    client = attach_or_skip(openai_client(fake_api))
    start = threading.Barrier(16)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        start.wait()
        try:
            for i in range(500):
                r = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
                assert r.usage.total_tokens > 0
        except BaseException as e:   # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[0]
    assert tokentrail.flush(timeout=60)
    assert fake_api.calls == 8000
    events, tail = read_jsonl(path)
    assert tail == b""
    assert len(events) == 8000 and len({e["id"] for e in events}) == 8000
    assert all(e["name"] == "openai.chat.completions.create" and e["cost"] > 0 for e in events)


def test_1000_concurrent_asyncio_calls_through_the_call_path(writer, tmp_path):
    path = tmp_path / "calls.jsonl"
    tokentrail.configure(sink=str(path))

    async def one(i: int) -> str:
        with tokentrail.trace(f"task-{i}") as t:
            c = start_call("openai", "openai.chat.completions.create", request_model="gpt-4o-mini",
                           messages=[{"role": "user", "content": f"task {i}"}], metadata={"i": i})
            await asyncio.sleep(0.001 * (i % 5))  # the tasks interleave inside their calls
            c.usage = {"prompt_tokens": 10, "completion_tokens": 5}
            c.finish()
            return t.trace_id

    async def main() -> list[str]:
        return await asyncio.gather(*(one(i) for i in range(1000)))

    trace_ids = asyncio.run(main())
    assert tokentrail.flush()
    events, _ = read_jsonl(path)
    assert len(events) == 1000 and len(set(trace_ids)) == 1000
    for e in events:                             # each event kept its own task's trace
        assert e["traceId"] == trace_ids[e["metadata"]["i"]]
        assert e["retry_attempt"] == 0 and e["fallback_model"] is None


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_1000_concurrent_asyncio_calls_on_one_attached_client(sdk, writer, tmp_path, fake_api):
    path = tmp_path / "calls.jsonl"
    tokentrail.configure(sink=str(path))
    make = openai_client if sdk == "openai" else anthropic_client
    client = attach_or_skip(make(fake_api, is_async=True))

    async def one(i: int) -> str:
        with tokentrail.trace(f"task-{i}") as t:
            if sdk == "openai":
                await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            else:
                await client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES)
            return t.trace_id

    async def main() -> list[str]:
        return await asyncio.gather(*(one(i) for i in range(1000)))

    trace_ids = asyncio.run(main())
    assert tokentrail.flush()
    events, _ = read_jsonl(path)
    assert len(events) == 1000
    assert sorted(e["traceId"] for e in events) == sorted(trace_ids)   # one event per task, in its trace
    assert all(e["retry_attempt"] == 0 for e in events)


PROCESS_CHILD = """
import sys, tokentrail
from tokentrail._recorder import start_call
who, jsonl, db = sys.argv[1], sys.argv[2], sys.argv[3]
tokentrail.configure(sink=[jsonl, "sqlite:///" + db])
big = "y" * 3000
for i in range(1000):
    c = start_call("openai", "openai.chat.completions.create", request_model="gpt-4o-mini",
                   messages=[{"role": "user", "content": big + who}], metadata={"who": who, "i": i})
    c.usage = {"prompt_tokens": 800, "completion_tokens": 10}
    c.finish()
    if i % 50 == 49:
        tokentrail.flush()     # many small appends, so the four processes interleave
"""


def test_four_processes_append_to_one_jsonl_and_one_sqlite(tmp_path):
    jsonl, db = tmp_path / "shared.jsonl", tmp_path / "shared.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENTRAIL_")}
    env["PYTHONPATH"] = str(Path(tokentrail.__file__).resolve().parent.parent)
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(PROCESS_CHILD), f"p{k}", str(jsonl), str(db)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "tokentrail" not in err, err      # no lock errors, nothing lost
    events, tail = read_jsonl(jsonl)
    assert tail == b""
    keys = [(e["metadata"]["who"], e["metadata"]["i"]) for e in events]
    assert len(keys) == 4000 and set(keys) == {(f"p{k}", i) for k in range(4) for i in range(1000)}
    for e in events:                             # no line carries another process's bytes
        assert e["input"]["prompt"] == "y" * 3000 + e["metadata"]["who"]
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT id, event FROM events").fetchall()
    assert len(rows) == 4000
    assert sorted(r[0] for r in rows) == sorted(e["id"] for e in events)
    assert_no_credentials(jsonl.read_text())


def test_an_idle_writer_sleeps_even_when_woken_with_nothing_to_do():
    """flush() sets the wake-up flag; when the writer has already taken the queue (the
    flush marker included) in the drain under way, it wakes to an empty queue. It must
    go back to sleep, not spin holding the GIL until the application's next call."""
    from tokentrail import _writer

    got: list[dict] = []
    w = _writer.Writer()
    w._wake = CountingEvent()
    try:
        w.put(got.append, {"n": 1})
        assert w.flush(timeout=10) and got == [{"n": 1}]
        w._wake.set()                    # a wake-up that finds nothing queued
        before = w._wake.waits
        threading.Event().wait(0.3)
        assert w._wake.waits - before <= 2, "the writer thread spun on an empty queue"
        w.put(got.append, {"n": 2})      # and it still wakes for real work
        assert w.flush(timeout=10) and got == [{"n": 1}, {"n": 2}]
    finally:
        w.stop()
