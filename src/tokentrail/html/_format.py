"""Numbers for people in the page: dollars, counts, percentages, milliseconds.

Dollars use the terminal report's digits (:func:`tokentrail.analysis._format.usd`:
cents from $1, four decimals from 1¢, six below), except that amounts under a
millionth of a dollar keep three significant digits instead of an exponent
(``$0.000000780``), so a tiny demo cost never reads as zero.
"""

from __future__ import annotations

import math

from ..analysis._format import pct, rnd, usd


def money(x: float | None) -> str:
    if x is None:
        return "-"
    x = rnd(float(x))
    a = abs(x)
    if a == 0 or a >= 0.000001:
        return usd(x)
    digits = min(15, -math.floor(math.log10(a)) + 2)
    return f"{'-' if x < 0 else ''}${a:.{digits}f}"


def short_money(x: float) -> str:
    """Three significant digits for chart labels: $1,234 · $51.3 · $0.00468."""
    a = abs(x)
    if a >= 100:
        return f"{'-' if x < 0 else ''}${a:,.0f}"
    if a == 0:
        return "$0"
    digits = max(0, -math.floor(math.log10(a)) + 2)
    return f"{'-' if x < 0 else ''}${a:.{digits}f}"


def count(n: int | float | None) -> str:
    if n is None:
        return "-"
    return f"{int(n):,}"


def ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f} ms" if v >= 10 else f"{v:,.1f} ms"


def percent(x: float | None) -> str:
    return "-" if x is None else pct(float(x))


__all__ = ["money", "short_money", "count", "ms", "percent"]
