"""Small number formatting shared by finding sentences and the table renderer."""

from __future__ import annotations


def usd(x: float | None) -> str:
    """Dollars for people: cents for amounts from $1, more digits for small amounts."""
    if x is None:
        return "-"
    x = rnd(x)              # the same digits the JSON report carries
    a = abs(x)
    sign = "-" if x < 0 else ""
    if a == 0:
        return "$0.00"
    if a >= 1:
        return f"{sign}${a:,.2f}"
    if a >= 0.01:
        return f"{sign}${a:.4f}"
    return f"{sign}${a:.6f}" if a >= 0.000001 else f"{sign}${a:.2e}"


def num(n: int | float | None) -> str:
    if n is None:
        return "-"
    if isinstance(n, float) and not n.is_integer():
        return f"{n:,.1f}"
    return f"{int(n):,}"


def rnd(x: float) -> float:
    """Round to 10 significant digits (keeps float noise out of JSON, never rounds to 0)."""
    return float(f"{x:.10g}")


def pct(x: float) -> str:
    return f"{x * 100:.1f}%"
