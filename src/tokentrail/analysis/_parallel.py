"""Reading one large JSONL file with several processes.

JSON parsing is most of the cost of a report, and it is per line, so a large plain
file is cut into byte ranges at line starts (:func:`._read.split_file`) and each range
is analysed by a forked worker with its own :class:`Analyzer`. The parent merges the
worker states in file order: sums add up, heaps and groups merge, and traces still
open in a worker (or first seen at the start of its range) are concatenated by trace
id and analysed whole by the parent. Line numbers in warnings are made absolute with
the line counts of the ranges before.

Only the ``fork`` start method is used: workers inherit the options and price tables
without pickling, and ``hash()`` (the prompt fingerprint) agrees between processes.
Where ``fork`` is unavailable the file is read in one process.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import warnings
from ._aggregate import MAX_WARNINGS, Analyzer, Options
from ._prices import Prices
from ._read import Source, iter_raw, split_file

PARALLEL_MIN_BYTES = 32 * 1024 * 1024

_JOB: tuple[Options, Prices] | None = None


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def fork_available() -> bool:
    # Linux only: macOS lists "fork" but system libraries there are not fork-safe.
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def worth_parallel(src: Source, workers: int | None) -> int:
    """How many processes to use for this source (1 = read it here)."""
    if src.kind != "file" or not fork_available():
        return 1
    if workers is None:
        try:
            size = os.path.getsize(src.path)
        except OSError:
            return 1
        if size < PARALLEL_MIN_BYTES:
            return 1
        return max(1, min(cpu_count(), 8))
    return max(1, int(workers))


def _work(task: tuple[int, Source, int, int]) -> dict:
    chunk, src, start, end = task
    opts, prices = _JOB  # type: ignore[misc]
    a = Analyzer(opts, prices, warn=None, chunk=chunk, hold_head=start > 0)
    a.consume(src.label, iter_raw(src, start=start, end=end))
    a.close_idle()     # what is still open may continue in the next range: the parent merges it
    return a.state()


def consume_parallel(parent: Analyzer, src: Source, processes: int, chunk_base: int) -> int:
    """Analyse ``src`` in ``processes`` byte ranges and merge into ``parent``.
    Returns the number of chunk ids used."""
    global _JOB
    ranges = split_file(src.path, processes)
    if len(ranges) <= 1:
        parent.consume(src.label, iter_raw(src))
        return 0
    tasks = [(chunk_base + i + 1, src, s, e) for i, (s, e) in enumerate(ranges)]
    _JOB = (parent.opts, parent.prices)
    ctx = multiprocessing.get_context("fork")
    line_offset = 0
    try:
        with warnings.catch_warnings():
            # Python >= 3.12 warns about fork() next to other threads (tokentrail's writer, in an
            # app that also records). The workers only parse and count: no locks, no logging.
            warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
            pool = ctx.Pool(min(processes, len(tasks)))
        with pool:
            for state in pool.imap(_work, tasks):
                _replay_warnings(parent, state, line_offset)
                line_offset += state["lines"]
                parent.merge(state)
    finally:
        _JOB = None
    return len(tasks)


def _replay_warnings(parent: Analyzer, state: dict, line_offset: int) -> None:
    warnings: list[tuple[str, int, str, bool]] = state.pop("warnings")
    # The worker counted every bad line in ``skipped``; the parent only prints the first ones.
    # A range that broke off (a read error) says so once, whatever the count.
    state["warned"] = 0
    for label, lineno, what, skipped_line in warnings:
        if not skipped_line:
            parent._stopped(label, lineno + line_offset, what)
        elif parent.warned < MAX_WARNINGS:
            parent.warned += 1
            msg = f"{label}:{lineno + line_offset}: {what}; skipped"
            if parent.warn is not None:
                parent.warn(msg)
            else:
                parent.warnings.append((label, lineno + line_offset, what, True))


__all__ = ["consume_parallel", "worth_parallel", "cpu_count", "PARALLEL_MIN_BYTES"]
