"""CPU instructions the writer thread spends on one event, for A/B tests of its code.

``python bench/writer_instructions.py [ROW ...]`` (rows: chat, responses, messages,
chat_tools, chat_stream, messages_stream; default: messages) makes a few real SDK calls on an attached client with the
writer's queue replaced by a list, then builds and serializes their events 2,000 times
(``Deferred.to_event()`` and the JSON encoder) under valgrind's callgrind, counting
only that loop: the loop runs as the key function of a ``sorted()`` call and callgrind
collects inside ``builtin_sorted`` alone, so start-up, imports and the SDK calls are
left out. One row takes ~90 s. Counts repeat to about 1% (``PYTHONHASHSEED=0``; object
addresses still differ between runs: 139,592 / 139,728 / 141,466 for the same code), so
a change of a few percent shows, where bench/run.py's wall-clock table moves by ±5%
between hours. ``--py PATH`` runs another interpreter (a second virtual environment with
other code installed, say).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _instructions  # noqa: E402

EVENTS = 2000
ROWS = ("chat", "chat_tools", "responses", "messages", "chat_stream", "messages_stream")


def child(row: str, n: int) -> None:
    """Run inside valgrind: queue events of ``row``, then build ``n`` of them in ``sorted``."""
    import _fake
    import _worker
    import tokentrail
    from tokentrail import _writer
    from tokentrail._sinks import dumps_bytes

    items: list = []
    _writer.WRITER.put = lambda sink, item: items.append(item)
    tmp = tempfile.mkdtemp(prefix="tokentrail-bench-")
    try:
        tokentrail.configure(sink=os.path.join(tmp, "events.jsonl"))
        oc, ac = tokentrail.attach(_fake.openai_client()), tokentrail.attach(_fake.anthropic_client())
        call = _worker.make_rows(oc, ac)[row]
        for _ in range(60):
            call()
        if len(items) < 60 or type(items[0]) is dict:
            raise SystemExit(f"{row}: its calls were not queued for the writer to build ({len(items)} items)")
        for d in items[:50]:                    # warm: price tables, caches
            dumps_bytes(d.to_event())
        queued = items[50:60]
        sorted(range(n), key=lambda i: len(dumps_bytes(queued[i % 10].to_event())))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def count(row: str, python: str) -> int:
    with tempfile.TemporaryDirectory(prefix="tokentrail-callgrind-") as tmp:
        out = os.path.join(tmp, "callgrind.out")
        proc = subprocess.run(
            ["valgrind", "-q", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=builtin_sorted",
             f"--callgrind-out-file={out}", python, os.path.abspath(__file__), "--child", row],
            env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{row}: the counted run failed:\n{proc.stderr.strip()[-2000:]}")
        return _instructions._totals(out)


def main() -> int:
    p = argparse.ArgumentParser(prog="python bench/writer_instructions.py", description=__doc__.split("\n\n")[0])
    p.add_argument("rows", nargs="*", metavar="ROW", help=", ".join(ROWS) + " (default: messages)")
    p.add_argument("--py", default=sys.executable, metavar="PATH", help="the Python to count (default: this one)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.rows = args.rows or ["messages"]
    unknown = [r for r in args.rows if r not in ROWS]
    if unknown:
        p.error(f"unknown row {unknown[0]!r}: choose from {', '.join(ROWS)}")
    if args.child:
        child(args.rows[0], EVENTS)
        return 0
    why = _instructions.available()
    if why is not None:
        print(why, file=sys.stderr)
        return 1
    for row in args.rows:
        total = count(row, args.py)
        print(f"{row:<12} {total / EVENTS:>10,.0f} instructions per event (build + JSON, writer thread)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
