"""Crashes and exits: a killed writer costs at most its last line; a normal exit costs nothing."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tokentrail
from tokentrail import _sinks
from tokentrail._sinks import JsonlSink

from .conftest import assert_no_credentials, read_jsonl, record, run_python

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and O_APPEND semantics")

# A child that records events through the call path as fast as it can, in big
# batches of big events (so a kill is likely to land inside a write).
WRITER_CHILD = """
import sys, tokentrail
from tokentrail._recorder import start_call
tokentrail.configure(sink=sys.argv[1])
big = "x" * 20000
i = 0
while True:
    c = start_call("openai", "openai.chat.completions.create", request_model="gpt-4o-mini",
                   messages=[{"role": "user", "content": big}], metadata={"i": i})
    c.usage = {"prompt_tokens": 5000, "completion_tokens": 10}
    c.finish()
    i += 1
    if i % 200 == 0:
        tokentrail.flush()
        print(i, flush=True)
"""


def _start_writer_child(path: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENTRAIL_")}
    env["PYTHONPATH"] = str(Path(tokentrail.__file__).resolve().parent.parent)
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER_CHILD), str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_while_writing_loses_at_most_the_last_line(tmp_path):
    path = tmp_path / "calls.jsonl"
    child = _start_writer_child(path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:      # wait until several batches are on disk
            if path.exists() and path.stat().st_size > 15_000_000:
                break
            if child.poll() is not None:
                raise AssertionError(f"writer child died: {child.stderr.read()}")
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    events, tail = read_jsonl(path)              # every complete line is a whole event
    assert len(events) >= 300                    # ~40 KB each: over 15 MB were on disk
    assert b"\n" not in tail                     # at most one partial line, at the end
    ids = [e["metadata"]["i"] for e in events]
    assert ids == list(range(len(ids)))          # in order, none missing, none twice

    # The next writer of the file starts on a fresh line, so the damage stays in that one line.
    sink = JsonlSink(path)
    record(10**6, sink=sink)
    assert tokentrail.flush()
    after, tail2 = read_jsonl(path, damaged_ok=1 if tail else 0)
    assert tail2 == b""
    assert len(after) == len(events) + 1 and after[-1]["metadata"]["i"] == 10**6


def test_file_left_mid_line_gets_a_newline_before_new_events(tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_bytes(b'{"id":"a","cost":1}\n{"id":"b","co')      # a writer died here
    sink = JsonlSink(path)
    for i in range(3):
        record(i, sink=sink)
    assert tokentrail.flush()
    events, tail = read_jsonl(path, damaged_ok=1)
    assert tail == b"" and len(events) == 4
    assert path.read_bytes().split(b"\n")[1] == b'{"id":"b","co'   # the damaged line is left alone


def test_write_cut_short_by_a_full_disk_does_not_glue_lines(tmp_path, monkeypatch, writer):
    path = tmp_path / "calls.jsonl"
    sink = JsonlSink(path)
    real_write = os.write
    calls = {"n": 0}

    def flaky_write(fd, data):
        calls["n"] += 1
        if calls["n"] == 1:                  # half a write, then the disk is full
            return real_write(fd, bytes(data[: len(data) // 2]))
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(_sinks.os, "write", flaky_write)
    record(1, sink=sink, prompt="a" * 100)
    record(2, sink=sink, prompt="b" * 3000)
    assert tokentrail.flush()               # line 1 made it, line 2 is half on disk (reported, lost)
    record(3, sink=sink)
    assert tokentrail.flush()
    events, tail = read_jsonl(path, damaged_ok=1)
    assert tail == b""
    assert [e["metadata"]["i"] for e in events] == [1, 3]   # 3 did not glue onto the half line
    assert tokentrail.stats()["lost"] == 1


EXIT_MODES = {
    "return": "",
    "sys.exit": "sys.exit(3)",
    "exception": "raise SystemError('app crashed on purpose')",
    "main thread ends while a worker thread records": """
        import threading
        def late():
            for i in range(N, N + 100):
                call(i)
        t = threading.Thread(target=late)
        t.start(); t.join()
    """,
    "recorded from an atexit handler that runs after tokentrail's": """
        import atexit
        # Registered after tokentrail's own handler, so it runs *before* it (LIFO);
        # the one registered first (at the top) runs after tokentrail's drain.
    """,
}


@pytest.mark.parametrize("mode", list(EXIT_MODES))
def test_normal_exit_writes_everything_without_flush(mode, tmp_path):
    path = tmp_path / "calls.jsonl"
    extra = textwrap.dedent(EXIT_MODES[mode])
    expected = 2000 + (100 if "worker" in mode else 0) + (1 if "atexit" in mode else 0)
    code = f"""
import atexit, sys
def after_drain():
    call(10**6)          # runs after tokentrail's exit drain: written at once
if {"atexit" in mode!r}:
    atexit.register(after_drain)
import tokentrail
from tokentrail._recorder import start_call
tokentrail.configure(sink={str(path)!r})
N = 2000
def call(i):
    c = start_call("openai", "openai.chat.completions.create", request_model="gpt-4o-mini",
                   messages=[{{"role": "user", "content": "q"}}], metadata={{"i": i}})
    c.usage = {{"prompt_tokens": 10, "completion_tokens": 2}}
    c.finish()
for i in range(N):
    call(i)
{extra}
"""
    proc = run_python(code, check=False)
    assert proc.returncode in (0, 1, 3), proc.stderr
    events, tail = read_jsonl(path)
    assert tail == b""
    assert len(events) == expected, proc.stderr
    assert len({e["id"] for e in events}) == expected
    assert "tokentrail" not in proc.stderr.replace("tokentrail/", ""), proc.stderr   # nothing to complain about


def test_multiprocessing_fork_child_drains_at_exit(tmp_path):
    if "fork" not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip("no fork start method here")
    path = tmp_path / "calls.jsonl"
    code = f"""
import multiprocessing as mp
import tokentrail
from tokentrail._recorder import start_call
tokentrail.configure(sink={str(path)!r})

def call(i, who):
    c = start_call("openai", "openai.chat.completions.create", request_model="gpt-4o-mini",
                   messages=[{{"role": "user", "content": "q"}}], metadata={{"i": i, "who": who}})
    c.usage = {{"prompt_tokens": 10, "completion_tokens": 2}}
    c.finish()

def work(k):
    for i in range(300):
        call(i, f"child{{k}}")       # no flush: the child leaves through os._exit()

if __name__ == "__main__":
    for i in range(100):
        call(i, "parent")          # pending in the parent's queue when it forks
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=work, args=(k,)) for k in range(2)]
    for p in procs: p.start()
    for p in procs: p.join()
    pool = ctx.Pool(2)
    pool.map(work, [2, 3])
    pool.close()                   # workers leave normally (terminate() would SIGTERM them)
    pool.join()
    assert all(p.exitcode == 0 for p in procs)
"""
    run_python(code)
    events, tail = read_jsonl(path)
    assert tail == b""
    by_who: dict[str, int] = {}
    for e in events:
        by_who[e["metadata"]["who"]] = by_who.get(e["metadata"]["who"], 0) + 1
    assert len({e["id"] for e in events}) == len(events)
    assert by_who["parent"] == 100 and by_who["child0"] == 300 and by_who["child1"] == 300
    # Pool workers leave when the pool is closed: the map's events must be there too.
    assert by_who.get("child2", 0) + by_who.get("child3", 0) == 600, by_who
    assert_no_credentials(path.read_text())
