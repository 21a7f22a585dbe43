"""The report as one self-contained HTML page (``tokentrail report --html FILE``).

Example::

    from tokentrail.analysis import build_report
    from tokentrail.html import write_html

    report = build_report(["tokentrail.jsonl"], by=["model", "provider", "metadata.team"])
    write_html(report, "report.html")          # or render_html(report) -> str

The page is drawn from the report dict of :func:`tokentrail.analysis.build_report`
only (the events are read once, by the report engine), so its numbers are the numbers
of ``tokentrail report --format json`` on the same input and filters: headline totals
(spend, calls, tokens by kind, error rate, waste), spend over time stacked by model (the
report's ``timeline`` section), spend by each ``--by`` key, waste by kind and every waste
finding with its calls, latency p50/p95 per model, and the most expensive traces with
their calls. A report without calls (an empty input, or filters that match nothing) gives
a page that says so instead of empty charts. Layout and ids: :mod:`._page`.

Charting library: matplotlib, rendering static SVG inlined in the page
(:mod:`._charts`). Why, over plotly (the other well-kept option):

- offline by construction: no script at all in the page, nothing to fetch, no JavaScript
  that can fail in a browser; plotly would need its 3.5 MB ``plotly.min.js`` inlined in
  every page (or a CDN, which the page must not use);
- static charts are readable without hover: every bar carries its dollar label, axes are
  in dollars, and the same numbers are in tables under each chart;
- the size does not grow with the events: charts are drawn from aggregates (a few dozen
  bars, at most 72 hourly or 400 daily buckets), so a page is tens of kB for one event
  and stays well under the few-MB budget for millions (the finding and trace tables are
  capped too);
- text stays text (``svg.fonttype = "none"``), so labels are searchable and testable;
- matplotlib is a mature, widely packaged library, kept out of the core: it is the
  optional extra ``tokentrail[html]``. Figures are built with ``matplotlib.figure.Figure``
  (no pyplot, no ``matplotlib.use``), so nothing global changes in a host application.

Without matplotlib, :func:`render_html` raises :class:`HtmlUnavailable` (an
``ImportError``) whose message says to install ``tokentrail[html]``.
"""

from __future__ import annotations

import os
import uuid

INSTALL_HINT = "pip install 'tokentrail[html]'"


class HtmlUnavailable(ImportError):
    """matplotlib, which the HTML report needs, is not installed."""


def check_available() -> None:
    """Raise :class:`HtmlUnavailable` (one sentence) unless the page can be drawn."""
    from ._charts import available
    why = available()
    if why is not None:
        raise HtmlUnavailable(f"the HTML report needs matplotlib, which is not installed; install it with "
                              f"`{INSTALL_HINT}`")


def render_html(report: dict, *, title: str | None = None) -> str:
    """The page for ``report`` (a dict from :func:`tokentrail.analysis.build_report`) as a string."""
    check_available()
    import matplotlib

    from .. import __version__
    from ._page import render
    return render(report, title=title, version=__version__, mpl_version=matplotlib.__version__)


def write_html(report: dict, path: str | os.PathLike[str], *, title: str | None = None) -> str:
    """Write the page to ``path`` (atomically: a temporary file in the same folder, then
    renamed) and return its absolute path. Raises ``OSError`` if it cannot be written."""
    text = render_html(report, title=title)
    target = os.path.abspath(os.fspath(path))
    tmp = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as f:      # created with the usual permissions (umask)
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target


__all__ = ["render_html", "write_html", "check_available", "HtmlUnavailable", "INSTALL_HINT"]
