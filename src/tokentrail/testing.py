"""Helpers for users' own tests, in the spirit of ``structlog.testing.capture_logs``.

Example::

    from tokentrail.testing import capture_events

    def test_answer_is_cheap():
        with capture_events() as events:
            app.answer("question")
        assert sum(e["cost"] for e in events) < 0.01
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from ._recorder import add_tap, remove_tap


@contextlib.contextmanager
def capture_events() -> Iterator[list[dict]]:
    """Collect every event recorded inside the block, synchronously, in a list.

    Events still go to the configured sink as usual.
    """
    events: list[dict] = []
    add_tap(events.append)
    try:
        yield events
    finally:
        remove_tap(events.append)


__all__ = ["capture_events"]
