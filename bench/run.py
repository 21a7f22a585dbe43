"""tokentrail benchmarks: per-call overhead, caller-thread cost, sink and report throughput, memory.

Usage::

    python bench/run.py            # the full run (~20 minutes: 1,000,000 attached calls for memory)
    python bench/run.py --quick    # about 30 seconds, smaller counts, same table
    python bench/run.py --compare  # also time other instrumentation packages that are installed
    python bench/run.py --split    # also the caller thread's share alone (attached, writer idle)
    python bench/run.py --json out.json --only overhead,sinks

Everything is measured in one run on this machine and printed as one table; the same
numbers go to ``bench-results.json`` (or ``--json PATH``). The SDK calls are the real
``openai`` / ``anthropic`` clients on an in-process transport (bench/_fake.py), so the
network is out of the picture: "bare" runs in a process that never imports tokentrail,
"attached" in one where every client is ``tokentrail.attach``-ed and writes JSONL;
four processes of each kind (two with ``--quick``) take turns round by round (so drift
on a busy machine touches them all alike) and the ratio is that of the medians of all
their rounds. Attached rounds end with ``tokentrail.flush()`` inside
the timing: the work the writer thread does for those calls is paid for in the row.
The "instructions" section runs the same calls under valgrind's callgrind
(bench/_instructions.py) for a count that does not move with the machine's load.

These are measurements, not tests: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

ROWS = [
    ("chat", "openai chat.completions.create"),
    ("chat_stream", "openai chat stream, 50 chunks"),
    ("responses", "openai responses.create"),
    ("messages", "anthropic messages.create"),
    ("messages_stream", "anthropic messages.stream, 50 events"),
]
SECTIONS = ("overhead", "instructions", "caller", "sinks", "report", "memory")

TARGETS = {"ratio": 1.05, "per_chunk_us": 2.0, "jsonl": 100_000, "sqlite": 50_000}


# --------------------------------------------------------------------------- helpers

def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENTRAIL_")}
    src = str(ROOT / "src")
    if (ROOT / "src" / "tokentrail").is_dir():     # a checkout: use it even if not installed
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


class WorkerProc:
    """A bench/_worker.py child speaking one JSON line per command."""

    def __init__(self, mode: str, prefix: list[str] | None = None, env: dict | None = None):
        self.mode = mode
        self.proc = subprocess.Popen([*(prefix or []), sys.executable, str(HERE / "_worker.py"), mode],
                                     env={**_env(), **(env or {})},
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.ready: dict | None = None

    def wait_ready(self) -> dict:
        if self.ready is None:
            line = self.proc.stdout.readline()
            if not line:
                err = self.proc.stderr.read()
                self.ready = {"ready": False, "error": (err.strip().splitlines() or ["exited"])[-1]}
            else:
                self.ready = json.loads(line)
        return self.ready

    def ask(self, **cmd: Any) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.mode} worker died: {self.proc.stderr.read()[-2000:]}")
        return json.loads(line)

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(10)
        except Exception:
            self.proc.kill()


def _us(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.1f}"


def _rate(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.0f}/s"


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


# --------------------------------------------------------------------------- overhead

def bench_overhead(quick: bool, compare: bool, out: dict, split: bool = False) -> list[str]:
    from _compare import PACKAGES
    cmp_modes = [f"compare:{n}" for n in PACKAGES] if compare else []
    # --split: attached processes whose writer does nothing, for the caller thread's share
    # measured on its own rather than as the row's difference minus the writer's.
    modes = ["bare", "attached"] + (["no-writer"] if split else []) + cmp_modes
    # Several processes per mode: one process's speed depends on where its heap and code
    # landed (measured here: the same bare call 0.40-0.47 ms from one fresh process to the
    # next, steady within each), so one process per mode compares two draws of that luck.
    # "control": more bare processes in the same rounds. Their ratio to "bare" is what the
    # method reads when nothing differs (an A/A run): the noise floor of the ratio column.
    procs = 2 if quick else 4
    workers = {(m, i): WorkerProc(m) for m in modes + ["control"] for i in range(procs)}
    mw = WorkerProc("mixed")                          # starts alongside (start-up is ~3 s of imports)
    try:
        status = {}
        for (m, i), w in workers.items():
            got = w.wait_ready()
            if i == 0 or not got.get("ready"):
                status[m] = got
        live = [m for m in modes + ["control"] if status[m].get("ready")]
        if "bare" not in live:
            raise RuntimeError(f"the bare worker could not start: {status['bare'].get('error')}")
        if status["bare"].get("tokentrail_loaded"):
            raise RuntimeError("the bare worker imported tokentrail; its numbers would not be bare")
        slots = [(m, i) for i in range(procs) for m in live]
        row_ids = [r for r, _ in ROWS]
        rounds = 6 if quick else 12
        per_mode_seconds = 0.3 if quick else 4.0
        n: dict[str, int] = {}
        for row in row_ids:                           # calibrate on the bare client
            workers[("bare", 0)].ask(cmd="round", row=row, n=2)
            est = min(workers[("bare", 0)].ask(cmd="round", row=row, n=3)["seconds"] / 3 for _ in range(3))
            n[row] = max(3, min(5000, int(per_mode_seconds / rounds / procs / est)))
        samples: dict[tuple[str, str], list[float]] = {(m, r): [] for m in live for r in row_ids}
        cpu: dict[tuple[str, str], list[float]] = {(m, r): [] for m in live for r in row_ids}
        calls_only: dict[tuple[str, str], list[float]] = {(m, r): [] for m in live for r in row_ids}
        gc_n: dict[tuple[str, str], list[float]] = {(m, r): [] for m in live for r in row_ids}
        gc_us: dict[tuple[str, str], list[float]] = {(m, r): [] for m in live for r in row_ids}
        by_proc: dict[tuple[str, int, str], list[float]] = {(m, i, r): [] for m, i in slots for r in row_ids}
        for k in range(rounds):
            for row in row_ids:
                order = slots if k % 2 == 0 else list(reversed(slots))   # ABBA: cancel drift
                for m, i in order:
                    got = workers[(m, i)].ask(cmd="round", row=row, n=n[row])
                    us = got["seconds"] / n[row] * 1e6
                    samples[(m, row)].append(us)
                    by_proc[(m, i, row)].append(us)
                    cpu[(m, row)].append(got["cpu"] / n[row] * 1e6)
                    calls_only[(m, row)].append(got.get("calls_seconds", got["seconds"]) / n[row] * 1e6)
                    gc_n[(m, row)].append(got.get("gc_collections", 0) / n[row] * 1000)
                    gc_us[(m, row)].append(got.get("gc_seconds", 0.0) / n[row] * 1e6)
        # Per-chunk cost: a bare and an attached stream read in lockstep in one process.
        per_chunk: dict[str, dict] = {}
        if "attached" in live and mw.wait_ready().get("ready"):
            for sdk in ("openai", "anthropic"):
                per_chunk[sdk] = mw.ask(cmd="chunk_pairs", sdk=sdk, streams=2 if quick else 10)
                per_chunk[sdk]["aa"] = mw.ask(cmd="chunk_pairs", sdk=sdk, streams=2 if quick else 5, aa=True)
    finally:
        mw.close()
        for w in workers.values():
            w.close()

    med = statistics.median

    def vs_bare(mode: str, row: str, src: dict) -> tuple[float | None, float | None]:
        """Added µs and ratio of ``mode`` to bare: medians of every round of every process."""
        if mode not in live:
            return None, None
        b, a = med(src[("bare", row)]), med(src[(mode, row)])
        return a - b, a / b

    res: dict = {"rounds": rounds, "processes_per_mode": procs, "calls_per_round": n, "modes": status,
                 "rows": {}, "samples_us": {f"{m}/{r}": v for (m, r), v in samples.items()},
                 "cpu_samples_us": {f"{m}/{r}": v for (m, r), v in cpu.items()},
                 "process_medians_us": {f"{m}#{i}/{r}": med(v) for (m, i, r), v in by_proc.items()}}
    lines = ["Per-call overhead (real SDK calls, in-process transport; wall time per call: median of %d rounds in each"
             % rounds,
             "  of %d processes per mode, rounds interleaved; ratio = attached median / bare median;" % procs,
             "  'cpu ratio': the same with process CPU time (writer thread included);",
             "  'A/A': %d more bare processes measured the same way, the ratio's noise floor on this machine)" % procs,
             f"  {'call':<40}{'bare µs':>11}{'attached µs':>13}{'diff µs':>10}{'ratio':>8}{'cpu ratio':>11}{'A/A':>8}"
             + "".join(f"{m.split(':')[1]:>14}" for m in cmp_modes)]
    for row, label in ROWS:
        bare = med(samples[("bare", row)])
        att = med(samples[("attached", row)]) if "attached" in live else None
        diff, ratio = vs_bare("attached", row, samples)
        cpu_diff, cpu_ratio = vs_bare("attached", row, cpu)
        entry = {"label": label, "bare_us": bare, "attached_us": att, "diff_us": diff, "ratio": ratio,
                 "cpu_bare_us": med(cpu[("bare", row)]), "cpu_diff_us": cpu_diff,
                 "cpu_ratio": cpu_ratio, "compare": {}}
        _aa_diff, aa = vs_bare("control", row, samples)
        entry["aa_ratio"] = aa
        cmp_cols = f"{('%.3f' % aa) if aa else 'n/a':>8}"
        for m in cmp_modes:
            d, r = vs_bare(m, row, samples)
            entry["compare"][m.split(":")[1]] = {"diff_us": d, "ratio": r}
            cmp_cols += f"{('x%.3f' % r) if r else 'n/a':>14}"
        res["rows"][row] = entry
        lines.append(f"  {label:<40}{_us(bare):>11}{_us(att):>13}{_us(diff):>10}"
                     f"{('%.3f' % ratio) if ratio else 'n/a':>8}{('%.3f' % cpu_ratio) if cpu_ratio else 'n/a':>11}"
                     f"{cmp_cols}")
    if "attached" in live:
        lines += _where_it_goes(res, samples, calls_only, gc_n, gc_us,
                                {row: vs_bare("no-writer", row, samples) for row, _ in ROWS})
    for row, sdk in (("chat_stream", "openai"), ("messages_stream", "anthropic")):
        pc = per_chunk.get(sdk)
        res["rows"][row]["per_chunk"] = pc
        label = dict(ROWS)[row].split(",")[0] + ": added µs per streamed chunk"
        detail = (f"  (median of {pc['chunks']:,} chunk pairs read in lockstep; the same method reads "
                  f"{pc['aa']['median_us']:+.2f} for two bare streams)") if pc else ""
        lines.append(f"  {label:<74}{_us(pc['median_us'] if pc else None):>10}{detail}")
    for m in modes[1:]:
        if not status[m].get("ready"):
            what = m.split(":")[-1]
            hint = f" (pip install {PACKAGES[what]})" if what in PACKAGES else ""
            lines.append(f"  {m}: n/a ({status[m].get('error', 'not available')}){hint}")
    out["overhead"] = res
    return lines


def _where_it_goes(res: dict, samples: dict, calls_only: dict, gc_n: dict, gc_us: dict,
                   no_writer: dict[str, tuple[float | None, float | None]]) -> list[str]:
    """The attached row's added time split by where it is spent.

    A round is shorter than the writer's linger, so the writer drains the round's events
    at the closing ``flush()``: the flush per event, median over the attached rounds, is
    the writer's work (build, price, JSON, write, and the flush's two thread wake-ups);
    the rest of the row's difference is the caller's thread (and carries the
    process-to-process noise the A/A column shows). Garbage collections: a bare SDK call
    frees what it makes, so a bare round runs none; queued calls stay alive until the
    writer takes them, so some fall due. With ``--split``, the caller thread's share is also
    measured on its own: attached processes whose writer does nothing ("no writer": their
    queued calls are kept until the round's flush, then dropped), against the bare ones.
    """
    med = statistics.median
    measured = any(r is not None for _d, r in no_writer.values())
    lines = ["  where the added µs go: writer = the round's closing flush per event (the writer drains then: a "
             "round is",
             "  shorter than its linger), caller thread = diff - writer (with the noise of the A/A column); "
             "GC = collections run in a round",
             f"  {'call':<40}{'caller µs':>11}{'writer µs':>11}{'GC per 1k calls':>17}{'GC µs/call':>12}"
             + (f"{'no writer µs':>14}{'ratio':>8}" if measured else "")]
    for row, label in ROWS:
        writer = med([a - c for a, c in zip(samples[("attached", row)], calls_only[("attached", row)])])
        caller = med(samples[("attached", row)]) - med(samples[("bare", row)]) - writer
        entry = {"caller_us": caller, "writer_us": writer,
                 "gc_per_1000_calls": {m: med(gc_n[(m, row)]) for m in ("bare", "attached")},
                 "gc_us_per_call": {m: med(gc_us[(m, row)]) for m in ("bare", "attached")}}
        nw_diff, nw_ratio = no_writer.get(row, (None, None))
        if measured:
            entry["no_writer"] = {"diff_us": nw_diff, "ratio": nw_ratio}
        res["rows"][row]["split"] = entry
        g, gu = entry["gc_per_1000_calls"], entry["gc_us_per_call"]
        lines.append(f"  {label:<40}{_us(caller):>11}{_us(writer):>11}"
                     f"{'%.1f -> %.1f' % (g['bare'], g['attached']):>17}{gu['attached']:>12.1f}"
                     + (f"{_us(nw_diff):>14}{('%.3f' % nw_ratio) if nw_ratio else 'n/a':>8}" if measured else ""))
    if measured:
        lines.append("  no writer: attached processes whose writer does nothing (--split), vs bare: the caller "
                     "thread's share measured on its own")
    return lines


# --------------------------------------------------------------------------- instructions

def bench_instructions(quick: bool, out: dict, split: bool = False) -> list[str]:
    import _instructions
    why = _instructions.available()
    if why is None and quick:
        why = "skipped with --quick; python bench/run.py --only instructions takes about 2 minutes"
    if why is not None:
        out["instructions"] = {"skipped": why}
        return [f"Per-call overhead in CPU instructions: n/a ({why})"]
    from _worker import LONG_STREAM
    long_rows = [("chat_stream_long", "chat_stream", "openai chat stream"),
                 ("messages_stream_long", "messages_stream", "anthropic messages.stream")]
    calls = {row: (30 if "stream" in row else 100) for row, _ in ROWS}
    calls.update({row: 2 for row, _, _ in long_rows})
    modes = ("bare", "attached", "no-writer") if split else ("bare", "attached")
    counts = _instructions.count(WorkerProc, ROWS + [(r, r) for r, _, _ in long_rows], calls, modes)
    res: dict = {"calls": calls, "rows": {}, "per_chunk": {}}
    lines = ["Per-call overhead in CPU instructions (callgrind; bare vs attached, writer-thread work and "
             "flush included;",
             "  deterministic, so unlike the wall-clock table above it does not move with the machine's load)",
             f"  {'call':<40}{'bare':>14}{'attached':>14}{'added':>12}{'ratio':>8}"
             + (f"{'caller':>12}{'ratio':>8}{'writer':>10}" if split else "")]
    for row, label in ROWS:
        b, a = counts[row]["bare"], counts[row]["attached"]
        res["rows"][row] = entry = {"bare": b, "attached": a, "added": a - b, "ratio": a / b}
        cols = ""
        if split:       # the caller thread's share: attached with a writer that does nothing
            c = counts[row]["no-writer"]
            entry.update(caller_added=c - b, caller_ratio=c / b, writer_added=a - c)
            cols = f"{c - b:>12,.0f}{c / b:>8.3f}{a - c:>10,.0f}"
        lines.append(f"  {label:<40}{b:>14,.0f}{a:>14,.0f}{a - b:>12,.0f}{a / b:>8.3f}{cols}")
    if split:
        lines.append("  caller: added by attached processes whose writer does nothing (--split); writer: the rest")
    # Per streamed chunk: the same stream LONG_STREAM and 50 chunks long; what the longer
    # one adds, over the extra chunks, is the per-chunk cost alone (start and end cancel).
    # In µs at the rate the bare stream runs in the wall-clock table, when it ran.
    wall = (out.get("overhead") or {}).get("rows", {})
    for long_row, row, label in long_rows:
        extra = LONG_STREAM - 50
        bare = (counts[long_row]["bare"] - counts[row]["bare"]) / extra
        added = (counts[long_row]["attached"] - counts[row]["attached"]) / extra - bare
        entry = {"bare_per_chunk": bare, "added_per_chunk": added}
        us = ""
        bare_us = (wall.get(row) or {}).get("bare_us")
        if bare_us:
            entry["added_us"] = added * bare_us / counts[row]["bare"]
            us = f"  (~{entry['added_us']:.2f} µs at the bare stream's rate in the table above)"
        res["per_chunk"][row] = entry
        lines.append(f"  {label}: added per streamed chunk {added:>10,.0f} of {bare:,.0f}{us}")
    out["instructions"] = res
    return lines


# --------------------------------------------------------------------------- caller thread

def _sample_call(start_call: Any, i: int = 0) -> Any:
    c = start_call("openai", "openai.chat.completions.create", request_model="gpt-4o-mini",
                   messages=[{"role": "system", "content": "You answer billing questions."},
                             {"role": "user", "content": "How does prompt caching work? Keep it short."}],
                   params={"temperature": 0.2, "max_tokens": 256})
    c.model = "gpt-4o-mini-2024-07-18"
    c.usage = {"prompt_tokens": 2048, "completion_tokens": 64, "total_tokens": 2112,
               "prompt_tokens_details": {"cached_tokens": 1792, "audio_tokens": 0},
               "completion_tokens_details": {"reasoning_tokens": 0}}
    c.response_text = "Prompt caching reuses the longest previously seen prefix of your prompt."
    c.finish_reason = "stop"
    return c


def _replayed_chat(tokentrail: Any) -> Callable[[], Any]:
    """One attached chat call through tokentrail's real hook, with the SDK's own request
    replaced by its recorded response: what tokentrail does on the caller's thread for
    a plain (deferred) call, without the SDK around it."""
    import _fake
    import openai._base_client as ob
    from tokentrail.instrument import _core
    client = tokentrail.attach(_fake.openai_client(5))
    hook = ob.SyncAPIClient.__dict__["request"]
    got: dict = {}

    def spy(self: Any, *a: Any, **k: Any) -> Any:
        got["args"], got["result"] = (a, k), hook.__wrapped__(self, *a, **k)
        return got["result"]
    ob.SyncAPIClient.request = spy
    try:
        client.chat.completions.create(model="gpt-4o-mini", temperature=0.2, max_tokens=256, messages=[
            {"role": "system", "content": "You answer billing questions."},
            {"role": "user", "content": "How does prompt caching work? Keep it short."}])
    finally:
        ob.SyncAPIClient.request = hook
    (args, kwargs), result = got["args"], got["result"]
    sdk = lambda *a, **k: result                   # noqa: E731
    return lambda: _core.sync_request(sdk, client, args, kwargs)


def bench_caller(quick: bool, out: dict) -> list[str]:
    import tokentrail
    from tokentrail import _recorder, _sinks, _writer
    from tokentrail._recorder import start_call
    W = _writer.WRITER
    tmp = tempfile.mkdtemp(prefix="tokentrail-bench-")
    tokentrail.configure(sink=os.path.join(tmp, "caller.jsonl"))
    sink = _recorder._config.current_sink()
    chunk, chunks = (1000, 10) if quick else (1000, 60)   # 1,000: what the queue holds before the writer wakes
    saved = W.wake_at, W.linger, W.maxsize, W.assist_at

    def timed(body) -> float:
        """µs per iteration, median over chunks; the writer does not run inside a chunk.

        The queue is made large enough that the chunk never counts as "the writer is
        behind" (which would move the build onto this thread, see Writer._behind): this
        row is the cost when the writer keeps up, as it does at any real call rate.
        """
        per = []
        for _ in range(chunks):
            pause_writer()
            t0 = time.perf_counter()
            for i in range(chunk):
                body(i)
            per.append((time.perf_counter() - t0) / chunk * 1e6)
            resume_writer()
            tokentrail.flush(timeout=120)
        return statistics.median(per)

    def pause_writer() -> None:
        W.wake_at, W.linger, W.maxsize, W.assist_at = 10**9, 3600.0, max(W.maxsize, chunk * 3), 10**9

    def resume_writer() -> None:
        W.wake_at, W.linger, W.assist_at = saved[0], saved[1], saved[3]

    def deferred(i):
        _sample_call(start_call, i).finish()

    def synchronous(i):
        _sample_call(start_call, i).finish(sync=True)

    def in_trace(i):
        with tokentrail.trace("bench"):
            _sample_call(start_call, i).finish()

    ev = _sample_call(start_call).finish(sync=True)
    res: dict = {}
    try:
        for _ in range(2000):                      # warm-up (price-table caches, id generator)
            deferred(0)
        tokentrail.flush()
        res["finish_deferred_us"] = timed(deferred)
        res["finish_sync_us"] = timed(synchronous)
        res["finish_in_trace_us"] = timed(in_trace)
        res["put_us"] = timed(lambda i: W.put(sink, ev))
        replay = _replayed_chat(tokentrail)
        for _ in range(2000):
            replay()
        tokentrail.flush()
        res["plain_call_caller_us"] = timed(lambda i: replay())
        pause_writer()
        for _ in range(chunk):
            replay()
        resume_writer()
        t0 = time.perf_counter()
        tokentrail.flush()
        res["plain_call_writer_us"] = (time.perf_counter() - t0) / chunk * 1e6
        calls = []
        for i in range(chunk):
            c = _sample_call(start_call, i)
            c.end_perf, c.end_wall, c.err = time.perf_counter(), time.time(), None
            calls.append(c)
        t0 = time.perf_counter()
        for c in calls:
            c.to_event()
        res["build_on_writer_us"] = (time.perf_counter() - t0) / len(calls) * 1e6
        t0 = time.perf_counter()
        for _ in range(chunk):
            _sinks.dumps(ev)
        res["serialize_us"] = (time.perf_counter() - t0) / chunk * 1e6
        res["event_bytes"] = len(_sinks.dumps(ev).encode())
    finally:
        W.wake_at, W.linger, W.maxsize, W.assist_at = saved
        tokentrail.flush()
        tokentrail.configure(sink=os.devnull)      # later sections must not recreate the directory
        shutil.rmtree(tmp, ignore_errors=True)
    out["caller"] = res
    return [
        "Cost of one event (a chat call with 2 messages, usage with cached tokens, capture on)",
        f"  attached SDK call, not streamed: caller thread (times, body snapshot, queue)"
        f"{_us(res['plain_call_caller_us']):>8} µs",
        f"  ... its event on the writer (plan, price, build, serialize, write)      "
        f"{_us(res['plain_call_writer_us']):>11} µs",
        "  (both in a tight loop; run once between two SDK calls, code is cold and costs ~3x: see the first table)",
        "  streams in a trace, @capture and log_event go through start_call + finish:",
        f"  caller thread: start_call + finish (build deferred to the writer)   {_us(res['finish_deferred_us']):>8} µs",
        f"  caller thread: build + price + enqueue (finish(sync=True))          {_us(res['finish_sync_us']):>8} µs",
        f"  caller thread: inside a trace (prices now for live totals)          {_us(res['finish_in_trace_us']):>8} µs",
        f"  caller thread: WRITER.put alone                                      {_us(res['put_us']):>8} µs",
        f"  writer thread: build + price one event (Call.to_event)              {_us(res['build_on_writer_us']):>8} µs",
        f"  writer thread: serialize one event ({res['event_bytes']} bytes of JSON)               "
        f"{_us(res['serialize_us']):>8} µs",
    ]


# --------------------------------------------------------------------------- sinks

def bench_sinks(quick: bool, out: dict) -> list[str]:
    import tokentrail
    from tokentrail import _writer
    from tokentrail._ids import new_event_id, new_id
    from tokentrail._recorder import start_call
    from tokentrail._sinks import JsonlSink, SqliteSink, StdoutSink
    W = _writer.WRITER
    n = 20_000 if quick else 200_000
    tmp = tempfile.mkdtemp(prefix="tokentrail-bench-")
    base = _sample_call(start_call).finish(sync=True)
    now = time.time()
    events = [{**base, "id": new_event_id(now + i / 1e5), "traceId": new_id()} for i in range(n)]
    saved = W.maxsize, W.assist_at
    W.maxsize, W.assist_at = 2 * n + 10, 10**9   # measure the sink draining, not callers pacing themselves
    res: dict = {"events": n, "event_bytes": len(json.dumps(base))}
    devnull = open(os.devnull, "w")
    try:
        for name, make in [("jsonl", lambda k: JsonlSink(os.path.join(tmp, f"t{k}.jsonl"))),
                           ("sqlite", lambda k: SqliteSink(f"sqlite:///{os.path.join(tmp, f't{k}.db')}")),
                           ("stdout", lambda k: StdoutSink())]:
            best = best_cpu = 0.0
            for k in range(2 if quick else 3):
                sink = make(k)
                tokentrail.flush()
                before = (W.written, W.dropped, _writer.lost())
                real_stdout, sys.stdout = sys.stdout, devnull
                try:
                    c0, t0 = time.process_time(), time.perf_counter()
                    for ev in events:
                        W.put(sink, ev)
                    tokentrail.flush(timeout=600)
                    dt = time.perf_counter() - t0
                    dcpu = time.process_time() - c0
                finally:
                    sys.stdout = real_stdout
                ok = (W.written - before[0], W.dropped - before[1], _writer.lost() - before[2])
                if ok != (n, 0, 0):
                    raise RuntimeError(f"{name}: written/dropped/lost = {ok}, expected ({n}, 0, 0)")
                best, best_cpu = max(best, n / dt), max(best_cpu, n / dcpu)
                if hasattr(sink, "close"):
                    sink.close()
                for f in os.listdir(tmp):       # one run's files on disk at a time (~700 MB each)
                    os.unlink(os.path.join(tmp, f))
            res[name], res[name + "_per_cpu_second"] = best, best_cpu
    finally:
        W.maxsize, W.assist_at = saved
        devnull.close()
        shutil.rmtree(tmp, ignore_errors=True)
    out["sinks"] = res
    def row(label: str, key: str, target: str = "") -> str:
        return (f"  {label:<27}{_rate(res[key]):>12}   {_rate(res[key + '_per_cpu_second']):>12} per CPU-second"
                f"{target}")
    from tokentrail import _sinks
    encoder = ("JSON by orjson" if _sinks.ENCODER == "orjson" else
               "JSON by the stdlib, as TOKENTRAIL_JSON=stdlib asks" if _sinks._orjson is not None else
               "JSON by the stdlib (orjson is not installed: it is a dependency on CPython; pip install orjson)")
    return [f"Sink throughput ({n:,} events of {res['event_bytes']} bytes through the writer; best of runs; "
            f"{encoder})",
            row("JSONL file", "jsonl", f"   (target >= {TARGETS['jsonl']:,}/s)"),
            row("SQLite (WAL)", "sqlite", f"   (target >= {TARGETS['sqlite']:,}/s)"),
            row("stdout (to /dev/null)", "stdout")]


# --------------------------------------------------------------------------- report

def bench_report(quick: bool, out: dict) -> list[str]:
    n = 20_000 if quick else 1_000_000
    try:
        from tokentrail.analysis import build_report, write_events
    except ImportError as e:
        out["report"] = {"error": str(e)}
        return [f"report throughput: n/a (not available: {e})"]
    tmp = tempfile.mkdtemp(prefix="tokentrail-bench-")
    path = os.path.join(tmp, "events.jsonl")
    try:
        t0 = time.perf_counter()
        write_events(path, n, 1)
        gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = build_report([path], warn=lambda msg: None)
        dt = time.perf_counter() - t0
        size = os.path.getsize(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)      # 1.8 GB in the full run
    calls = report.get("totals", {}).get("calls")
    out["report"] = {"events": n, "seconds": dt, "rate": n / dt, "generate_seconds": gen,
                     "file_bytes": size, "calls_in_report": calls,
                     "findings": len(report.get("findings", []))}
    return [f"tokentrail report on a generated {n:,}-event file ({out['report']['file_bytes'] / 1e6:,.0f} MB)",
            f"  build_report               {_rate(n / dt):>14}   ({dt:.1f} s; {calls:,} calls, "
            f"{out['report']['findings']} findings)"]


# --------------------------------------------------------------------------- memory

def bench_memory(quick: bool, calls: int | None, out: dict) -> list[str]:
    n = calls or (2_000 if quick else 1_000_000)
    w = WorkerProc("attached")
    try:
        st = w.wait_ready()
        if not st.get("ready"):
            out["memory"] = {"error": st.get("error")}
            return [f"Memory: n/a (attach not available: {st.get('error')})"]
        res = w.ask(cmd="memory", row="messages", n=n, warmup=500 if quick else 2000)
    finally:
        w.close()
    base = res["baseline_rss"]
    cps = res["checkpoints"]
    first, last = cps[0], cps[-1]
    res["growth_bytes"] = last["rss"] - base
    res["growth_after_first_checkpoint_bytes"] = last["rss"] - first["rss"]
    out["memory"] = res
    mb = 1 / 2**20
    lines = [f"Memory: RSS of a process making {n:,} attached anthropic messages.create calls "
             f"({res['seconds']:.0f} s; events to JSONL)",
             f"  baseline after warm-up     {base * mb:>10.1f} MB"]
    for cp in cps:
        lines.append(f"  after {cp['calls']:>10,} calls   {cp['rss'] * mb:>10.1f} MB   "
                     f"(+{(cp['rss'] - base) * mb:.1f} MB)")
    lines.append(f"  growth from {first['calls']:,} to {last['calls']:,} calls: "
                 f"{res['growth_after_first_checkpoint_bytes'] * mb:+.1f} MB "
                 f"({res['growth_after_first_checkpoint_bytes'] / max(1, last['calls'] - first['calls']):+.2f} "
                 f"bytes/call); dropped {res.get('stats', {}).get('dropped', 'n/a')}, "
                 f"lost {res.get('stats', {}).get('lost', 'n/a')}")
    return lines


# --------------------------------------------------------------------------- main

def machine() -> dict:
    info: dict = {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
                  "load_before": _load()}
    for mod in ("openai", "anthropic", "tokentrail"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:
            info[mod] = None
    from tokentrail import _sinks
    info["json_encoder"] = _sinks.ENCODER
    try:
        cpu = [ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")]
        info["cpu"] = cpu[0].split(":", 1)[1].strip() if cpu else None
    except OSError:
        info["cpu"] = None
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="about 30 seconds, smaller counts")
    p.add_argument("--compare", action="store_true",
                   help="also time other instrumentation packages, when installed")
    p.add_argument("--split", action="store_true",
                   help="also run attached processes whose writer does nothing: the caller thread's share "
                        "of the overhead, measured on its own")
    p.add_argument("--json", default="bench-results.json", metavar="PATH", help="where to write the numbers")
    p.add_argument("--only", default=",".join(SECTIONS), metavar="LIST",
                   help=f"comma-separated sections: {', '.join(SECTIONS)}")
    p.add_argument("--memory-calls", type=int, default=None, metavar="N",
                   help="attached calls for the memory row (default 1,000,000; 2,000 with --quick)")
    args = p.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")

    t_start = time.perf_counter()
    out: dict = {"machine": machine(), "quick": args.quick, "targets": TARGETS}
    m = out["machine"]
    print(f"tokentrail {m['tokentrail']} benchmark{' (--quick)' if args.quick else ''}: Python {m['python']}, "
          f"{m['cpus']} CPUs ({m['cpu']}), openai {m['openai']}, anthropic {m['anthropic']}, "
          f"JSON encoder {m['json_encoder']}, load average {m['load_before']}", flush=True)
    lines_all: list[str] = []
    from _worker import missing_rows
    missing = missing_rows()
    if missing:
        ROWS[:] = [(row, label) for row, label in ROWS if row not in missing]
        out["rows_left_out"] = missing
        print("".join(f"row {row} left out: {why}\n" for row, why in missing.items()), end="", flush=True)
    for section in SECTIONS:
        if section not in only:
            continue
        t0 = time.perf_counter()
        try:
            if section == "overhead":
                lines = bench_overhead(args.quick, args.compare, out, args.split)
            elif section == "instructions":
                lines = bench_instructions(args.quick, out, args.split)
            elif section == "caller":
                lines = bench_caller(args.quick, out)
            elif section == "sinks":
                lines = bench_sinks(args.quick, out)
            elif section == "report":
                lines = bench_report(args.quick, out)
            else:
                lines = bench_memory(args.quick, args.memory_calls, out)
        except Exception as e:   # one broken section must not hide the others
            out[section] = {"error": f"{type(e).__name__}: {e}"}
            lines = [f"{section}: n/a ({type(e).__name__}: {e})"]
        out.setdefault("seconds", {})[section] = round(time.perf_counter() - t0, 1)
        print("\n".join([""] + lines), flush=True)
        lines_all += [""] + lines
    out["machine"]["load_after"] = _load()
    out["total_seconds"] = round(time.perf_counter() - t_start, 1)
    out["table"] = "\n".join(lines_all).strip("\n")
    Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(f"\n{out['total_seconds']:.0f} s in all; load average now {out['machine']['load_after']}; "
          f"numbers in {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
