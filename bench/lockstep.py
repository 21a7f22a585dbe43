"""tokentrail's cost per call where it runs: between real SDK calls, in one process.

``python bench/lockstep.py [--calls N]`` makes bare and attached calls of each non-streamed
row alternately in one process (bench/_worker.py's "mixed" mode) and times each call, so
neighbouring calls see the same machine: the trimmed mean of (attached - bare) is the
wall time tokentrail adds per call, cold caches included, to a few µs; an A/A row (two
bare clients) shows what the method reads when nothing differs. The writer's batches
land on either side of a pair, so this reads tokentrail's share on the caller's thread
plus about half of the writer's. It also counts garbage collections per 1,000 calls:
everything a queued call keeps alive until the writer runs makes collections come sooner.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _worker  # noqa: E402

ROWS = ("chat", "chat_tools", "responses", "messages")     # chat_tools: the same chat with ten tools
STREAM_ROWS = ("chat_stream", "messages_stream")          # --streams: whole 50-chunk streams


def lockstep(first, second, n: int) -> float:
    """Trimmed mean of (second - first) per call, µs; the order alternates every pair."""
    clock = time.perf_counter
    diffs = []
    for k in range(n):
        if k % 2:
            t0 = clock(); second(); t1 = clock(); first(); t2 = clock()          # noqa: E702
            diffs.append((t1 - t0) - (t2 - t1))
        else:
            t0 = clock(); first(); t1 = clock(); second(); t2 = clock()          # noqa: E702
            diffs.append((t2 - t1) - (t1 - t0))
    diffs.sort()
    cut = len(diffs) // 10
    kept = diffs[cut:len(diffs) - cut]
    return sum(kept) / len(kept) * 1e6


def collections(fn, n: int, flush) -> list[int]:
    """Garbage collections of each generation during n calls (and the flush after them)."""
    counts = [0, 0, 0]

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            counts[info["generation"]] += 1
    gc.collect()
    gc.callbacks.append(seen)
    try:
        for _ in range(n):
            fn()
        flush()
    finally:
        gc.callbacks.remove(seen)
    return counts


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=4000, help="calls per row and side (default 4,000)")
    p.add_argument("--streams", action="store_true",
                   help="also whole 50-chunk streams (a twentieth as many pairs): what a stream adds, start to end")
    args = p.parse_args()
    w = _worker.Worker("mixed")
    try:
        gc.collect()
        gc.freeze()
        print(f"Added wall time per call, bare and attached calls in lockstep ({args.calls:,} pairs, "
              "trimmed mean)")
        print(f"  {'call':<16}{'added µs':>10}{'A/A µs':>9}   GC runs per 1,000 calls, bare -> attached "
              "(gen0/gen1/gen2)")
        rows = [(row, args.calls) for row in ROWS]
        if args.streams:
            rows += [(row, max(10, args.calls // 20)) for row in STREAM_ROWS]
        for row, n in rows:
            bare, attached = w.bare_rows[row], w.rows[row]
            added = lockstep(bare, attached, n)
            w.flush()
            aa = lockstep(bare, bare, n)
            gb = collections(bare, n, w.flush)
            ga = collections(attached, n, w.flush)
            per = lambda c: "/".join(f"{x * 1000 / n:.1f}" for x in c)   # noqa: E731
            print(f"  {row:<16}{added:>10.1f}{aa:>9.1f}   {per(gb)} -> {per(ga)}")
    finally:
        w.flush()
        shutil.rmtree(w.tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
