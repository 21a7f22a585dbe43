"""One benchmark process: real SDK clients on the in-process transport, bare or instrumented.

``python bench/_worker.py MODE`` where MODE is ``bare`` (tokentrail is never imported),
``attached`` (``tokentrail.attach`` on every client, events to a JSONL file in a temp
dir), ``no-writer`` (attached, but the writer's work is not done: the caller thread's
share alone), ``mixed`` (bare and attached clients in one process, for the per-chunk cost) or
``compare:NAME`` (another instrumentation package, see ``_compare.py``). It reads
one JSON command per line on stdin and answers one JSON line on stdout:

- ``{"cmd": "round", "row": ROW, "n": N[, "gc": false]}`` -> ``{"seconds": s, "cpu": s, "calls_seconds":
  s, "gc_collections": k, "gc_seconds": s}``: N calls of ROW (wall time, and CPU time of the
  whole process, writer thread included); for an instrumented mode the time includes
  draining what the calls queued (``flush``), so work deferred to a background thread is
  paid inside the measurement. ``calls_seconds``: the N calls alone, before the flush (a
  round is shorter than the writer's linger, so the writer drains at the flush: the rest is
  its work); ``gc_*``: the garbage collections that ran during the round and their time.
- ``{"cmd": "chunk_pairs", "sdk": "openai"|"anthropic", "streams": N[, "aa": true]}`` (mode ``mixed``) ->
  the added cost per streamed chunk, from bare and attached streams read in lockstep
  (``aa``: two bare streams, the method's own reading of no difference).
- ``{"cmd": "memory", "row": ROW, "n": N}`` -> RSS after warm-up and at checkpoints.
- ``{"cmd": "gc"}`` -> collect garbage now and freeze the survivors (before a counted round).
- ``{"cmd": "quit"}``.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import sys
import tempfile
import time
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _fake  # noqa: E402

MESSAGES = [{"role": "user", "content": "How does prompt caching work? Keep it short."}]
# An agent's request: ten tools with small JSON schemas (bench/lockstep.py's "chat_tools").
TOOLS = [{"type": "function", "function": {
    "name": f"tool_{i}", "description": "Look something up.",
    "parameters": {"type": "object", "required": ["query"], "properties": {
        "query": {"type": "string", "description": "What to look up."},
        "limit": {"type": "integer", "minimum": 1, "maximum": 50},
        "scope": {"type": "string", "enum": ["docs", "tickets", "billing"]}}}}} for i in range(10)]
LONG_STREAM = 1050  # chunks per stream in the per-chunk measurement


def missing_rows() -> dict[str, str]:
    """The rows whose API the installed SDKs lack, and why (every other row still runs)."""
    import openai
    if hasattr(openai.OpenAI, "responses"):
        return {}
    return {"responses": f"openai {openai.__version__} has no Responses API (openai >= 1.66 has)"}


def make_rows(oc: Any, ac: Any, oc_long: Any = None, ac_long: Any = None) -> dict[str, Callable[[], Any]]:
    def chat():
        return oc.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    def chat_stream(client=oc):
        n = 0
        for _chunk in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
            n += 1
        return n

    def chat_tools():
        return oc.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=TOOLS)

    def responses():
        return oc.responses.create(model="gpt-4o-mini", input="How does prompt caching work?")

    def messages():
        return ac.messages.create(model="claude-haiku-4-5", max_tokens=256, messages=MESSAGES)

    def messages_stream(client=ac):
        with client.messages.stream(model="claude-haiku-4-5", max_tokens=256, messages=MESSAGES) as s:
            for _text in s.text_stream:
                pass
            return s.get_final_message()

    rows = {
        "chat": chat,
        "chat_tools": chat_tools,
        "chat_stream": chat_stream,
        "responses": responses,
        "messages": messages,
        "messages_stream": messages_stream,
    }
    for row in missing_rows():
        del rows[row]
    # The same streams LONG_STREAM chunks long: per-chunk cost = (long - short) / extra chunks.
    if oc_long is not None:
        rows["chat_stream_long"] = lambda: chat_stream(oc_long)
    if ac_long is not None:
        rows["messages_stream_long"] = lambda: messages_stream(ac_long)
    return rows


def rss_bytes() -> int:
    """Resident set size now (Linux /proc), else the peak from getrusage."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


class Worker:
    last_tmp = ""       # the scratch directory of the Worker being made (removed if making it fails)

    def __init__(self, mode: str):
        self.mode = mode
        self.flush: Callable[[], Any] = lambda: None
        self.tmp = Worker.last_tmp = tempfile.mkdtemp(prefix="tokentrail-bench-")
        clients = [_fake.openai_client(50), _fake.anthropic_client(50),
                   _fake.openai_client(LONG_STREAM), _fake.anthropic_client(LONG_STREAM)]
        self.bare_rows: dict[str, Callable[[], Any]] = {}
        self.bare_clients = clients
        if mode == "mixed":      # bare and attached clients side by side, for call-by-call alternation
            self.bare_rows = make_rows(*clients)
            clients = [_fake.openai_client(50), _fake.anthropic_client(50),
                       _fake.openai_client(LONG_STREAM), _fake.anthropic_client(LONG_STREAM)]
        self.clients = clients
        if mode in ("attached", "mixed", "no-writer"):
            import tokentrail
            tokentrail.configure(sink=os.path.join(self.tmp, "calls.jsonl"))
            clients = [tokentrail.attach(c) for c in clients]
            self.flush = tokentrail.flush
            if mode == "no-writer":
                # Attached, but nothing the writer thread would do is done: queued calls are
                # kept until the round's flush (as the real queue keeps them), then dropped.
                from tokentrail import _writer
                queued: list = []
                _writer.WRITER.put = lambda sink, item: queued.append(item)   # type: ignore[method-assign]
                self.flush = queued.clear
        elif mode.startswith("compare:"):
            import _compare
            self.flush = _compare.setup(mode.split(":", 1)[1], clients)
        self.rows = make_rows(*clients)
        self.gc_seen: list = [0, 0.0]
        self._gc_t0 = 0.0
        gc.callbacks.append(self._gc_callback)
        for fn in list(self.rows.values()) + list(self.bare_rows.values()):
            for _ in range(3):                  # warm up: imports, caches, first-call costs
                fn()
        self.flush()

    def round(self, row: str, n: int, gc_first: bool = True) -> dict:
        fn = self.rows[row]
        flush = self.flush
        if gc_first:
            gc.collect()
        gcs = self.gc_seen
        gcs[:] = [0, 0.0]
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            fn()
        t1 = time.perf_counter()
        flush()
        t2 = time.perf_counter()
        return {"seconds": t2 - t0, "cpu": time.process_time() - c0, "calls_seconds": t1 - t0,
                "gc_collections": gcs[0], "gc_seconds": gcs[1]}

    def _gc_callback(self, phase: str, info: dict) -> None:
        """Counts the collections of a round and their time (every mode alike: a bare
        worker's SDK calls free what they make, an instrumented one keeps queued calls
        alive until the writer takes them, so collections fall due)."""
        if phase == "start":
            self._gc_t0 = time.perf_counter()
        else:
            self.gc_seen[0] += 1
            self.gc_seen[1] += time.perf_counter() - self._gc_t0

    def chunk_pairs(self, sdk: str, streams: int, aa: bool = False) -> dict:
        """Per-chunk cost of the stream wrapper: a bare and an attached stream read side by
        side, one chunk from each in turn, each ``next()`` timed. Neighbouring chunks see the
        same machine, so the difference survives a busy one. ``aa``: both streams bare (an
        A/A run: what the method reads when there is no difference)."""
        i = 2 if sdk == "openai" else 3
        diffs: list[float] = []
        clock = time.perf_counter
        for _ in range(streams):
            its, ctxs = [], []
            for client in (self.bare_clients[i], self.bare_clients[i] if aa else self.clients[i]):
                if sdk == "openai":
                    its.append(iter(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES,
                                                                   stream=True)))
                else:
                    cm = client.messages.stream(model="claude-haiku-4-5", max_tokens=256, messages=MESSAGES)
                    ctxs.append(cm)
                    its.append(iter(cm.__enter__().text_stream))
            bare_it, att_it = its
            next(bare_it), next(att_it)          # the first chunk carries the response start-up
            for k in range(LONG_STREAM - 10):     # stay clear of the end-of-stream bookkeeping
                if k % 2:
                    t0 = clock(); next(att_it); t1 = clock(); next(bare_it); t2 = clock()
                    diffs.append((t1 - t0) - (t2 - t1))
                else:
                    t0 = clock(); next(bare_it); t1 = clock(); next(att_it); t2 = clock()
                    diffs.append((t2 - t1) - (t1 - t0))
            for it in its:
                for _ in it:
                    pass
            for cm in ctxs:
                cm.__exit__(None, None, None)
        self.flush()
        diffs.sort()
        trimmed = diffs[len(diffs) // 10: len(diffs) - len(diffs) // 10] or diffs
        return {"chunks": len(diffs), "median_us": diffs[len(diffs) // 2] * 1e6,
                "trimmed_mean_us": sum(trimmed) / len(trimmed) * 1e6}

    def memory(self, row: str, n: int, warmup: int = 2000) -> dict:
        fn = self.rows[row]
        for _ in range(warmup):                 # settle allocator pools before the baseline
            fn()
        self.flush()
        gc.collect()
        base = rss_bytes()
        checkpoints = []
        marks = sorted({max(1, n // 10), max(1, n // 2), n})
        done = 0
        t0 = time.perf_counter()
        for mark in marks:
            while done < mark:
                fn()
                done += 1
            self.flush()
            gc.collect()
            checkpoints.append({"calls": done, "rss": rss_bytes()})
        out: dict = {"baseline_rss": base, "checkpoints": checkpoints, "seconds": time.perf_counter() - t0}
        if self.mode == "attached":
            import tokentrail
            out["stats"] = tokentrail.stats()
        return out


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "bare"
    try:
        w = Worker(mode)
    except Exception as e:                      # e.g. a --compare package that is not installed
        shutil.rmtree(Worker.last_tmp, ignore_errors=True)
        print(json.dumps({"ready": False, "error": f"{type(e).__name__}: {e}"}), flush=True)
        return 0
    # The start-up heap (two SDKs, pydantic: hundreds of thousands of objects) goes to the
    # permanent generation: the collection before every counted round then walks only
    # what was made since (~100 ms less per round), and no full collection that falls due
    # inside a round walks it either. Bare and instrumented workers alike.
    gc.collect()
    gc.freeze()
    print(json.dumps({"ready": True, "tokentrail_loaded": "tokentrail" in sys.modules}), flush=True)
    try:
        serve(w)
    finally:
        w.flush()
        shutil.rmtree(w.tmp, ignore_errors=True)    # the memory run leaves ~1 GB of events there
    return 0


def serve(w: Worker) -> None:
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            break
        if cmd["cmd"] == "round":
            res = w.round(cmd["row"], cmd["n"], cmd.get("gc", True))
        elif cmd["cmd"] == "gc":
            # Collect, then move every survivor to the permanent generation: a full
            # collection that falls due inside a short counted round then walks only the
            # objects made since, instead of the whole heap of two SDKs.
            gc.collect()
            gc.freeze()
            res = {"ok": True}
        elif cmd["cmd"] == "chunk_pairs":
            res = w.chunk_pairs(cmd["sdk"], cmd["streams"], bool(cmd.get("aa")))
        elif cmd["cmd"] == "memory":
            res = w.memory(cmd["row"], cmd["n"], cmd.get("warmup", 2000))
        else:
            res = {"error": f"unknown command {cmd['cmd']!r}"}
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
