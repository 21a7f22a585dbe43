"""Latency percentiles in bounded memory.

Up to :data:`EXACT_LIMIT` values are kept as they are (exact nearest-rank percentiles,
which is what small logs and tests see). Past that the values move into a histogram
of log-spaced buckets, each 1% wider than the previous one, so a percentile is off by
at most 0.5% and memory stays at a few hundred counters whatever the number of calls.
Both forms merge (the parallel reader combines one per worker).
"""

from __future__ import annotations

import math

EXACT_LIMIT = 4096
_STEP = math.log(1.01)


class Quantiles:
    __slots__ = ("values", "hist", "n")

    def __init__(self) -> None:
        self.values: list[float] | None = []
        self.hist: dict[int, int] | None = None
        self.n = 0

    def add(self, v: float) -> None:
        self.n += 1
        vals = self.values
        if vals is not None:
            vals.append(v)
            if len(vals) > EXACT_LIMIT:
                self._to_hist()
        else:
            b = int(math.log1p(v) / _STEP + 0.5)
            h = self.hist
            h[b] = h.get(b, 0) + 1

    def extend(self, vals: list[float]) -> None:
        """Add many values at once (the analyzer buffers them)."""
        self.n += len(vals)
        if self.values is not None:
            self.values.extend(vals)
            if len(self.values) > EXACT_LIMIT:
                self._to_hist()
            return
        h = self.hist
        log1p, step = math.log1p, _STEP
        for v in vals:
            b = int(log1p(v) / step + 0.5)
            h[b] = h.get(b, 0) + 1

    def _to_hist(self) -> None:
        h: dict[int, int] = self.hist or {}
        for v in self.values or ():
            b = int(math.log1p(v) / _STEP + 0.5)
            h[b] = h.get(b, 0) + 1
        self.values, self.hist = None, h

    def merge(self, other: "Quantiles") -> None:
        if other.values is not None:
            for v in other.values:
                self.add(v)
            return
        if self.values is not None:
            self._to_hist()
        h = self.hist
        for b, c in (other.hist or {}).items():
            h[b] = h.get(b, 0) + c
        self.n += other.n

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile (``p`` in 0..100); None when empty."""
        if self.n == 0:
            return None
        rank = max(1, math.ceil(p / 100.0 * self.n))
        if self.values is not None:
            return sorted(self.values)[rank - 1]
        seen = 0
        for b in sorted(self.hist):
            seen += self.hist[b]
            if seen >= rank:
                return math.expm1(b * _STEP)
        return math.expm1(max(self.hist) * _STEP)

    @property
    def exact(self) -> bool:
        return self.values is not None


__all__ = ["Quantiles", "EXACT_LIMIT"]
