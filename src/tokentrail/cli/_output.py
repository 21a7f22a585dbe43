"""Small output helpers shared by the commands: plain-text tables, CSV, JSON, money."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any, Iterable, Sequence


def usd(value: Any) -> str:
    """Dollars with 6 decimals, more for amounts that would otherwise print as zero."""
    v = float(value or 0)
    if v == 0:
        return "$0.000000"
    if abs(v) >= 0.000001:
        return f"${v:.6f}"
    return f"${v:.12f}".rstrip("0")


def rate(value: Decimal | None) -> str:
    """A per-1M rate as written in the tables (no float noise), or '-' when absent."""
    if value is None:
        return "-"
    s = format(value.normalize(), "f")
    return s


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, right: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell; ``right`` lists the right-aligned column indexes."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        parts = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def to_csv(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(headers)
    for r in rows:
        w.writerow(["" if c is None else c for c in r])
    return buf.getvalue().rstrip("\n")


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=_default)


def _default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return float(o)
    return str(o)
