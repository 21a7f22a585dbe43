"""The charts of the report page: matplotlib figures saved as inline SVG strings.

Every chart is drawn from numbers already aggregated in the report dict (a few dozen
bars at most), so its size does not depend on the number of events. Text stays text
(``svg.fonttype = "none"``), so labels can be searched in the page and are sharp at any
zoom; mathtext is off so ``$`` in labels and model names is printed as it is.

Figures are made with :class:`matplotlib.figure.Figure` directly, never through
``pyplot``: no GUI backend is chosen, nothing global is switched (``matplotlib.use`` is
not called, so an application that calls :func:`tokentrail.html.render_html` keeps its
own backend), and figures are freed with their last reference.
"""

from __future__ import annotations

import io
import math
import re
from typing import Any, Sequence

from ._format import money, ms, short_money

WIDTH = 9.0                      # inches (648 pt): drawn at this size, shrunk to fit narrow windows
MAX_BARS = 12                    # bars per breakdown chart; the rest summed in one bar
LABEL_CHARS = 42
OTHERS_COLOR = "#a0a4aa"
BAR_COLOR = "#3b6ea5"
WASTE_COLOR = "#c0392b"
P50_COLOR = "#8fb3d9"
P95_COLOR = "#2f5f8f"
# tab10 without its gray (kept for "(others)").
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
           "#17becf"]

_RC = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888888",
    "axes.labelcolor": "#333333",
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "axes.titlesize": 11,
    "figure.dpi": 72,
}


def _mpl() -> Any:
    import matplotlib
    return matplotlib


def _figure(height: float) -> Any:
    from matplotlib.figure import Figure
    return Figure(figsize=(WIDTH, height))


def _svg(fig: Any, name: str, label: str) -> str:
    """Save ``fig`` as an SVG element for inline use: no XML prolog, ids unique in the page."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", pad_inches=0.08,
                metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)
    svg = re.sub(r"<[^>]+>", lambda m: _prefix_ids(m.group(0), name), svg)
    from html import escape
    svg = svg.replace("<svg ", f'<svg class="chart" id="chart-{name}" role="img" '
                               f'aria-label="{escape(label)}" ', 1)
    return svg.strip()


def _prefix_ids(tag: str, name: str) -> str:
    # Several SVGs share one document: give every id (and every reference to one) a prefix.
    tag = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{name}-{m.group(1)}"', tag)
    tag = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{name}-{m.group(1)})", tag)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{name}-{m.group(1)}"', tag)


def _cut(s: Any, n: int = LABEL_CHARS) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _dollar_axis(axis: Any, vmax: float) -> None:
    """Tick labels in dollars with as many decimals as the tick step needs ($0.0005, $2.50, $1,200)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator
    locator = MaxNLocator(nbins=6, min_n_ticks=3)
    axis.set_major_locator(locator)
    ticks = [t for t in locator.tick_values(0.0, vmax) if t >= 0]
    step = (ticks[1] - ticks[0]) if len(ticks) > 1 else (vmax or 1.0)
    if step >= 1:
        decimals = 0 if all(float(t).is_integer() for t in ticks) else 2
    else:
        decimals = min(12, -math.floor(math.log10(step) + 1e-9))
        if step * 10 ** decimals % 1 > 1e-6:      # a step such as 0.25 needs one more digit
            decimals += 1
        decimals = max(decimals, 2)               # cents at least: $0.20, not $0.2

    def fmt(x: float, _pos: Any = None) -> str:
        if abs(x) < step / 1e6:
            return "$0"
        return f"${x:,.{decimals}f}"
    axis.set_major_formatter(FuncFormatter(fmt))


def _bar_chart_base(n: int) -> tuple[Any, Any]:
    fig = _figure(0.9 + 0.34 * max(n, 1))
    ax = fig.add_subplot()
    ax.spines["bottom"].set_visible(False)
    ax.tick_params(axis="x", bottom=False, labelbottom=False)
    ax.tick_params(axis="y", left=False)
    return fig, ax


def hbars(name: str, title: str, labels: Sequence[str], values: Sequence[float], texts: Sequence[str],
          colors: Sequence[str] | str = BAR_COLOR) -> str:
    """Horizontal bars, largest on top, each labelled with its text (values are readable
    without hovering); the x axis is left out because every bar carries its number."""
    mpl = _mpl()
    with mpl.rc_context({**_RC, "svg.hashsalt": name}):
        n = len(values)
        fig, ax = _bar_chart_base(n)
        y = list(range(n))[::-1]
        bars = ax.barh(y, values, height=0.66, color=colors)
        ax.set_yticks(y, [_cut(x) for x in labels])
        vmax = max((v for v in values if v > 0), default=0.0)
        ax.set_xlim(0, vmax * 1.32 if vmax > 0 else 1.0)
        ax.set_ylim(-0.6, n - 0.4)
        ax.bar_label(bars, labels=list(texts), padding=4, fontsize=9, color="#222222")
        return _svg(fig, name, title)


def timeline(name: str, section: dict, colors: dict[str, str]) -> str:
    """Spend per bucket, stacked by model (bars; a stepped area when there are very many buckets)."""
    mpl = _mpl()
    rows = section["rows"]
    models = section["models"]
    n = len(rows)
    with mpl.rc_context({**_RC, "svg.hashsalt": name}):
        fig = _figure(3.9)
        ax = fig.add_subplot()
        x = list(range(n))
        series = [[r["cost"].get(m, 0.0) for r in rows] for m in models]
        totals = [r["total"] for r in rows]
        if n <= 160:
            base = [0.0] * n
            width = 0.8 if n > 1 else 0.5
            for m, ys in zip(models, series):
                ax.bar(x, ys, width=width, bottom=base, color=colors.get(m, OTHERS_COLOR), label=_cut(m, 36),
                       linewidth=0)
                base = [b + v for b, v in zip(base, ys)]
            if n <= 36:                      # each bar's total on top of it (upright when they fit)
                upright = n <= 12
                for i, t in enumerate(totals):
                    if t > 0:
                        ax.annotate(short_money(t), (i, t), xytext=(0, 3), textcoords="offset points",
                                    ha="center", va="bottom", rotation=0 if upright else 90,
                                    fontsize=9 if upright else 8, color="#222222")
        else:
            ax.stackplot(x, *series, colors=[colors.get(m, OTHERS_COLOR) for m in models],
                         labels=[_cut(m, 36) for m in models], step="mid", linewidth=0)
        slots = max(n, 8)
        pad = (slots - n) / 2
        ax.set_xlim(-0.6 - pad, n - 0.4 + pad)
        vmax = max(totals, default=0.0)
        top = vmax * (1.15 if n <= 12 else 1.3) if vmax > 0 else 1.0
        ax.set_ylim(0, top)
        _dollar_axis(ax.yaxis, top)
        ax.grid(axis="y", color="#e3e3e3", linewidth=0.8)
        ax.set_axisbelow(True)
        every = max(1, math.ceil(n / 16))
        ticks = x[::every]
        ax.set_xticks(ticks, [_tick_label(rows[i]["t"], section["bucket"]) for i in ticks],
                      rotation=35 if len(ticks) > 6 else 0, ha="right" if len(ticks) > 6 else "center")
        ax.set_ylabel("spend (USD)")
        ax.set_xlabel({"hour": "hour (UTC)", "day": "day (UTC)", "month": "month (UTC)",
                       "year": "year (UTC)"}.get(section["bucket"], section["bucket"]))
        if models:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9,
                      title="model", title_fontsize=9, reverse=True)
        title = f"Spend per {section['bucket']}, stacked by model"
        ax.set_title(title, loc="left")
        return _svg(fig, name, title)


def _tick_label(t: str, bucket: str) -> str:
    if bucket == "hour" and len(t) == 13:
        return f"{t[5:10]} {t[11:13]}:00"
    return t


def latency(name: str, rows: Sequence[tuple[str, float | None, float | None]]) -> str:
    """p50 and p95 per model, side by side, in milliseconds."""
    mpl = _mpl()
    with mpl.rc_context({**_RC, "svg.hashsalt": name}):
        n = len(rows)
        fig = _figure(0.9 + 0.5 * max(n, 1))
        ax = fig.add_subplot()
        ax.tick_params(axis="y", left=False)
        y = [float(i) for i in range(n)][::-1]
        h = 0.36
        p50 = [r[1] or 0.0 for r in rows]
        p95 = [r[2] or 0.0 for r in rows]
        b95 = ax.barh([v - h / 2 for v in y], p95, height=h, color=P95_COLOR, label="p95")
        b50 = ax.barh([v + h / 2 for v in y], p50, height=h, color=P50_COLOR, label="p50")
        ax.bar_label(b50, labels=[f"p50 {ms(v)}" for v in (r[1] for r in rows)], padding=3, fontsize=8)
        ax.bar_label(b95, labels=[f"p95 {ms(v)}" for v in (r[2] for r in rows)], padding=3, fontsize=8)
        ax.set_yticks(y, [_cut(r[0]) for r in rows])
        vmax = max(p95 + p50, default=0.0)
        ax.set_xlim(0, vmax * 1.25 if vmax > 0 else 1.0)
        ax.set_ylim(-0.7, n - 0.3)
        ax.grid(axis="x", color="#e3e3e3", linewidth=0.8)
        ax.set_axisbelow(True)
        from matplotlib.ticker import FuncFormatter
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:,.0f}"))
        ax.set_xlabel("latency (ms)")
        return _svg(fig, name, "Latency per model (p50 and p95)")


def available() -> str | None:
    """None if matplotlib can be imported, else the reason."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError as e:
        return str(e) or "matplotlib is not installed"
    return None


__all__ = ["hbars", "timeline", "latency", "available", "PALETTE", "OTHERS_COLOR", "BAR_COLOR", "WASTE_COLOR"]
