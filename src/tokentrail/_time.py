"""UTC timestamps in the one fixed-width format every event uses: 2026-11-23T10:00:00.123Z."""

from __future__ import annotations

import time
from datetime import datetime, timezone

_last: tuple[int, str] = (-1, "")        # (second, its formatted date part): one object, so
                                          # threads never see a second with another's prefix
_MS = tuple(f".{i:03d}Z" for i in range(1000))   # the tail of every timestamp, formatted once


def format_ts(epoch: float) -> str:
    """Format a Unix time as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC, milliseconds, always 24 chars)."""
    global _last
    sec, ms = divmod(int(epoch * 1000), 1000)
    last = _last
    if sec != last[0]:
        # Formatting the date part is the slow bit; consecutive events share it.
        last = _last = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)))
    return last[1] + _MS[ms]


def parse_ts(value: object) -> float | None:
    """Read a timestamp given as epoch seconds, a datetime, or an ISO 8601 string; None if unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        # Epoch milliseconds are common in logs; anything past year 5000 in seconds is ms.
        v = float(value)
        return v / 1000.0 if v > 1e11 else v
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    if isinstance(value, str):
        s = value.strip()
        if not s:
            return None
        if s.endswith(("Z", "z")):
            s = s[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            try:
                return float(s)
            except ValueError:
                return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    return None


def normalize_ts(value: object, default: float | None = None) -> str | None:
    """Any readable timestamp -> the canonical string; ``default`` (epoch) when unreadable."""
    epoch = parse_ts(value)
    if epoch is None:
        if default is None:
            return None
        epoch = default
    return format_ts(epoch)
