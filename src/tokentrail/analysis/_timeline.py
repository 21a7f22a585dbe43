"""Spend over time, stacked by model: the report's ``timeline`` section.

:class:`Timeline` is fed once per call from the streaming pass (``add(start, model,
cost)``, about 0.2 µs) and keeps one ``[cost, calls]`` cell per (UTC hour, model): a few
thousand cells for a year of logs, whatever the number of events. It merges like the
other aggregates (the parallel reader sums the cells of its workers).

At the end, :meth:`Timeline.section` picks the bucket from the span of the data (the
finest of ``hour`` up to 3 days, ``day`` up to :data:`MAX_DAYS` days, ``month``, then
``year``), keeps the :data:`TOP_MODELS` most expensive models and sums the rest into
``"(others)"``, and returns every bucket from the first to the last (empty ones too, so
a chart's time axis is continuous)::

    {"bucket": "hour",                     # hour | day | month | year
     "models": ["gpt-4o", ..., "(others)"],   # most expensive first; "(others)" only if needed
     "rows": [{"t": "2026-11-23T10", "cost": {"gpt-4o": 0.0123, ...}, "total": 0.0150,
               "calls": 42}, ...],
     "untimed": {"calls": 0, "cost": 0.0}}  # calls without a start time (in no row)

``t`` uses the keys of ``--by hour|day|month`` (``YYYY-MM-DDTHH``, ``YYYY-MM-DD``,
``YYYY-MM``; ``YYYY`` for years). ``cost`` lists only the models with calls in that bucket.
The rows plus ``untimed`` add up to ``totals.cost`` and ``totals.calls``.
"""

from __future__ import annotations

import time
from typing import Any

from ._format import rnd

TOP_MODELS = 8
OTHERS = "(others)"
MAX_HOURS = 3 * 24            # hourly buckets when the data spans at most 3 days
MAX_DAYS = 400                # then daily buckets up to this many days
MAX_MONTHS = 600              # then months; beyond, years


class Timeline:
    """Cost and call counts per UTC hour and model: ``hours[hour][model] = [cost, calls]``."""

    __slots__ = ("hours", "untimed_calls", "untimed_cost", "_lo", "_hi", "_row")

    def __init__(self) -> None:
        self.hours: dict[int, dict[str, list]] = {}
        self.untimed_calls = 0
        self.untimed_cost = 0.0
        self._lo, self._hi, self._row = 0.0, -1.0, {}     # the hour of the last call (logs are mostly in order)

    def add(self, start: float | None, model: str, cost: float) -> None:
        if start is None:
            self.untimed_calls += 1
            self.untimed_cost += cost
            return
        if self._lo <= start < self._hi:
            row = self._row
        else:
            h = int(start // 3600)
            row = self.hours.get(h)
            if row is None:
                row = self.hours[h] = {}
            self._row, self._lo, self._hi = row, h * 3600.0, h * 3600.0 + 3600.0
        cell = row.get(model)
        if cell is None:
            row[model] = [cost, 1]
        else:
            cell[0] += cost
            cell[1] += 1

    def merge(self, other: "Timeline") -> None:
        for h, models in other.hours.items():
            row = self.hours.get(h)
            if row is None:
                self.hours[h] = {m: list(c) for m, c in models.items()}
                continue
            for m, (cost, n) in models.items():
                cell = row.get(m)
                if cell is None:
                    row[m] = [cost, n]
                else:
                    cell[0] += cost
                    cell[1] += n
        self.untimed_calls += other.untimed_calls
        self.untimed_cost += other.untimed_cost

    def __getstate__(self) -> tuple:
        return self.hours, self.untimed_calls, self.untimed_cost

    def __setstate__(self, state: tuple) -> None:
        self.hours, self.untimed_calls, self.untimed_cost = state
        self._lo, self._hi, self._row = 0.0, -1.0, {}

    # ------------------------------------------------------------------ the section

    def section(self, top: int = TOP_MODELS) -> dict[str, Any]:
        untimed = {"calls": self.untimed_calls, "cost": rnd(self.untimed_cost)}
        if not self.hours:
            return {"bucket": "hour", "models": [], "rows": [], "untimed": untimed}
        h0, h1 = min(self.hours), max(self.hours)
        bucket, keyf, nextf = _bucketing(h0, h1)

        per_model: dict[str, float] = {}
        for models_ in self.hours.values():
            for m, (cost, _n) in models_.items():
                per_model[m] = per_model.get(m, 0.0) + cost
        order = sorted(per_model, key=lambda m: (-per_model[m], m))
        kept = order[:top] if len(order) > top + 1 else order   # never "(others)" for one model
        shown = set(kept)
        models = kept + ([OTHERS] if len(kept) < len(order) else [])

        acc: dict[str, list] = {}            # bucket key -> [{model: cost}, calls]
        for h in sorted(self.hours):
            k = keyf(h)
            row = acc.get(k)
            if row is None:
                row = acc[k] = [{}, 0]
            for m, (cost, n) in self.hours[h].items():
                name = m if m in shown else OTHERS
                row[0][name] = row[0].get(name, 0.0) + cost
                row[1] += n
        rows = []
        k, last = keyf(h0), keyf(h1)
        while True:
            costs, n = acc.get(k) or ({}, 0)
            rows.append({"t": k, "cost": {m: rnd(costs[m]) for m in models if m in costs},
                         "total": rnd(sum(costs.values())), "calls": n})
            if k == last:
                break
            k = nextf(k)
        return {"bucket": bucket, "models": models, "rows": rows, "untimed": untimed}


# --------------------------------------------------------------------------- bucket keys

def _hour_key(h: int) -> str:
    return time.strftime("%Y-%m-%dT%H", time.gmtime(h * 3600))


def _day_key(h: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(h * 3600))


def _month_key(h: int) -> str:
    return time.strftime("%Y-%m", time.gmtime(h * 3600))


def _year_key(h: int) -> str:
    return time.strftime("%Y", time.gmtime(h * 3600))


def _next_hour(k: str) -> str:
    t = time.strptime(k + ":00:00Z", "%Y-%m-%dT%H:%M:%SZ")
    return time.strftime("%Y-%m-%dT%H", time.gmtime(_timegm(t) + 3600))


def _next_day(k: str) -> str:
    t = time.strptime(k, "%Y-%m-%d")
    return time.strftime("%Y-%m-%d", time.gmtime(_timegm(t) + 86400))


def _next_month(k: str) -> str:
    y, m = int(k[:4]), int(k[5:7])
    y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return f"{y:04d}-{m:02d}"


def _next_year(k: str) -> str:
    return f"{int(k) + 1:04d}"


def _timegm(t: time.struct_time) -> int:
    import calendar
    return calendar.timegm(t)


def _bucketing(h0: int, h1: int) -> tuple:
    """The finest bucket that keeps the number of rows small, for data from hour h0 to h1."""
    if h1 - h0 < MAX_HOURS:
        return "hour", _hour_key, _next_hour
    if h1 // 24 - h0 // 24 < MAX_DAYS:
        return "day", _day_key, _next_day
    y0, m0 = (int(x) for x in _month_key(h0).split("-"))
    y1, m1 = (int(x) for x in _month_key(h1).split("-"))
    if (y1 - y0) * 12 + (m1 - m0) < MAX_MONTHS:
        return "month", _month_key, _next_month
    return "year", _year_key, _next_year


__all__ = ["Timeline", "TOP_MODELS", "OTHERS"]
