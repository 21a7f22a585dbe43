"""The report page: one HTML document with inline CSS and inline SVG charts.

Sections (ids are stable, for tests and for people who link to them): ``headline``,
``timeline``, ``breakdown`` (one chart and table per ``--by`` key), ``waste-section``
(with ``<table id="waste">``), ``latency``, ``traces`` (``<table id="top-traces">``);
``empty`` replaces all of them when the report has no calls.

Every number shown that comes from the report carries it raw: ``data-key`` is the JSON
path of the number in the report dict (a JSON list, e.g. ``["totals", "cost"]``) and
``data-value`` its JSON value, so a test (or a script) can check the page against
``tokentrail report --format json``. Everything taken from the events (model names,
trace ids, metadata values, details) is HTML-escaped.
"""

from __future__ import annotations

import json
import time
from html import escape
from typing import Any, Iterable, Sequence

from . import _charts
from ._format import count, money, ms, percent

MAX_CALL_ROWS = 5_000        # call rows listed under findings in all; beyond, a few per finding
CALLS_WHEN_MANY = 5
TABLE_OPEN_ROWS = 12         # tables of at most this many rows are shown open

SEVERITY_CLASS = {"high": "sev-high", "medium": "sev-medium", "low": "sev-low", "info": "sev-info"}
KIND_TITLE = {
    "retry_loop": "Retry loop", "fallback_storm": "Fallback storm", "fallback_chain": "Fallback chain",
    "overkill": "Overkill", "unpriced_model": "Unpriced model", "failed_spend": "Failed calls",
    "missed_cache": "Missed cache", "cache_savings": "Cache savings",
}

CSS = """
:root { --fg:#1d2329; --muted:#5f6b76; --line:#dde2e7; --bg:#f6f8fa; --card:#ffffff; --accent:#3b6ea5;
        --bad:#b03a2e; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
       font: 14px/1.45 "DejaVu Sans", "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 12px; }
h3 { font-size: 15px; margin: 18px 0 8px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:18px 20px;
          margin: 18px 0; }
.meta, .note, .muted { color: var(--muted); }
.meta { margin: 2px 0; word-break: break-all; }
.note { margin: 8px 0 0; font-size: 13px; }
.cards { display:grid; grid-template-columns: repeat(auto-fit, minmax(165px, 1fr)); gap: 12px; }
.card { border:1px solid var(--line); border-radius:6px; padding:10px 12px; background:#fbfcfd; }
.card .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card .value { font-size:24px; font-weight:600; margin:2px 0; font-variant-numeric: tabular-nums; }
.card .sub { color:var(--muted); font-size:12.5px; }
.card.waste .value { color: var(--bad); }
.tokens { width:100%; margin-top:4px; font-size:12.5px; }
.tokens td { padding:0 2px; border:0; }
svg.chart { display:block; max-width:100%; height:auto; margin: 4px 0 8px; }
tr.calls-row > td { border-bottom: 1px solid var(--line); padding-top: 0; }
tr.finding > td, tr.trace > td { border-bottom: 0; }
table.calls { width: auto; min-width: 60%; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align:left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background:#f0f3f6; font-weight:600; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.id { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; word-break: break-all; }
div.detail { margin: 0 0 2px; }
td.kind, td.ts, table.calls td { white-space: nowrap; }
tr.failed td { color: var(--bad); }
.scroll { overflow-x: auto; }
details > summary { cursor: pointer; color: var(--accent); margin: 4px 0; }
table.calls { margin: 4px 0 6px; font-size: 12px; background: #fbfcfd; }
table.calls td, table.calls th { padding: 2px 6px; }
.badge { display:inline-block; padding:1px 7px; border-radius:10px; font-size:12px; font-weight:600;
         color:#fff; white-space:nowrap; }
.sev-high { background:#b03a2e; } .sev-medium { background:#d35400; } .sev-low { background:#7f8c8d; }
.sev-info { background:#2e86c1; }
.empty { font-size: 16px; padding: 12px 0; }
footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
"""


# --------------------------------------------------------------------------- helpers

def esc(x: Any) -> str:
    return escape("" if x is None else str(x), quote=True)


def _attr_json(x: Any) -> str:
    return esc(json.dumps(x, ensure_ascii=False))


def val(path: Sequence[Any], value: Any, text: str, tag: str = "span", cls: str = "") -> str:
    """An element showing ``text`` for the report number at ``path`` (raw value attached)."""
    c = f' class="{cls}"' if cls else ""
    return (f'<{tag}{c} data-key="{_attr_json(list(path))}" data-value="{_attr_json(value)}">'
            f"{esc(text)}</{tag}>")


def td_num(path: Sequence[Any], value: Any, text: str) -> str:
    return val(path, value, text, "td", "num")


def _table(head: Iterable[tuple[str, bool]], rows: Iterable[str], *, id: str = "", cls: str = "") -> str:
    h = "".join(f'<th class="num">{esc(t)}</th>' if num else f"<th>{esc(t)}</th>" for t, num in head)
    i = f' id="{id}"' if id else ""
    c = f' class="{cls}"' if cls else ""
    return f'<div class="scroll"><table{i}{c}><thead><tr>{h}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _calls(n: int) -> str:
    return f"{count(n)} call{'' if n == 1 else 's'}"


def _details(summary: str, body: str, open_: bool) -> str:
    return f"<details{' open' if open_ else ''}><summary>{summary}</summary>{body}</details>"


def _sources(report: dict) -> str:
    src = report.get("sources") or []
    if not src:
        return "(no input)"
    return ", ".join(src[:3]) + (f" (+{len(src) - 3} more)" if len(src) > 3 else "")


def _filters(f: dict) -> str:
    parts = []
    for k in ("model", "trace_id", "namespace", "since", "until"):
        if f.get(k):
            parts.append(f"{k.replace('_', '-')} = {f[k]}")
    return " · ".join(parts)


def _model_colors(report: dict) -> dict[str, str]:
    """One color per model, the same in the timeline and the by-model chart."""
    models = [m for m in (report.get("timeline") or {}).get("models", []) if m != "(others)"]
    colors = {m: _charts.PALETTE[i % len(_charts.PALETTE)] for i, m in enumerate(models)}
    colors["(others)"] = _charts.OTHERS_COLOR
    return colors


# --------------------------------------------------------------------------- the page

def render(report: dict, *, title: str | None = None, version: str = "", mpl_version: str = "") -> str:
    t = report.get("totals") or {}
    title = title or "tokentrail report"
    parts = [_header(report, title)]
    if not t.get("calls"):
        parts.append(_empty(report))
    else:
        colors = _model_colors(report)
        parts += [_headline(report), _timeline(report, colors), _breakdown(report, colors), _waste(report),
                  _latency(report), _traces(report)]
    made = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    parts.append(f"<footer>Made {esc(made)} by tokentrail {esc(version)} (charts: matplotlib "
                 f"{esc(mpl_version)}). Every number here is the one of <code>tokentrail report --format json"
                 "</code> with the same inputs and filters; money in US dollars, times in UTC.</footer>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<meta name=\"generator\" content=\"tokentrail {esc(version)}\">\n"
            f"<title>{esc(title)} · {esc(_sources(report))}</title>\n<style>{CSS}</style>\n</head>\n"
            "<body>\n<main>\n" + "\n".join(parts) + "\n</main>\n</body>\n</html>\n")


def _header(report: dict, title: str) -> str:
    t = report.get("totals") or {}
    f = report.get("filters") or {}
    lines = [f"<h1>{esc(title)}</h1>", f'<p class="meta">Input: {esc(_sources(report))}</p>']
    if t.get("first"):
        lines.append(f'<p class="meta">Period: {esc(t["first"])} → {esc(t["last"])}</p>')
    if _filters(f):
        lines.append(f'<p class="meta">Filters: {esc(_filters(f))}</p>')
    notes = []                               # HTML pieces
    if report.get("repriced"):
        notes.append(esc("costs recomputed from the current price tables"
                         + (f" with {f['pricing']}" if f.get("pricing") else "") + " (--reprice)"))
    for key, what in (("skipped_lines", "malformed line(s) skipped"),
                      ("computed_costs", "event(s) had no cost and were priced from the tables"),
                      ("other_events", "span/other event(s), not counted as calls"),
                      ("filtered_out", "call(s) left out by the filters")):
        if report.get(key):
            notes.append(f"{val([key], report[key], count(report[key]))} {esc(what)}")
    if notes:
        lines.append(f'<p class="note">Note: {"; ".join(notes)}.</p>')
    return '<header id="top">' + "".join(lines) + "</header>"


def _empty(report: dict) -> str:
    if report.get("filtered_out"):
        n = report["filtered_out"]
        filters = _filters(report.get("filters") or {})
        msg = (f"No events match the filters{f' ({filters})' if filters else ''}: all {count(n)} "
               f"call{'' if n == 1 else 's'} in {_sources(report)} {'was' if n == 1 else 'were'} left out. "
               "Nothing to chart.")
    elif report.get("other_events"):
        msg = (f"No calls in {_sources(report)}: it holds {count(report['other_events'])} span/other "
               "event(s) only. Nothing to chart.")
    else:
        msg = f"No events found in {_sources(report)}. Nothing to chart."
    return f'<section id="empty"><h2>No events</h2><p class="empty">{esc(msg)}</p></section>'


def _headline(report: dict) -> str:
    t = report["totals"]
    n_find = sum(v.get("count", 0) for k, v in (report.get("findings_summary") or {}).items()
                 if k != "cache_savings")
    cards = [
        ("Spend", val(["totals", "cost"], t["cost"], money(t["cost"]), "div", "value"),
         f"{count(t['traces'])} traces" if t.get("traces") is not None else "", ""),
        ("Calls", val(["totals", "calls"], t["calls"], count(t["calls"]), "div", "value"),
         val(["totals", "errors"], t["errors"], count(t["errors"])) + " errors", ""),
        ("Error rate", val(["totals", "error_rate"], t["error_rate"], percent(t["error_rate"]), "div", "value"),
         "of calls failed", ""),
        ("Waste", val(["waste_total_usd"], report.get("waste_total_usd", 0.0),
                      money(report.get("waste_total_usd", 0.0)), "div", "value"),
         val(["waste_share"], report.get("waste_share", 0.0), percent(report.get("waste_share", 0.0)))
         + f" of spend · {count(n_find)} finding{'s' if n_find != 1 else ''}", "waste"),
    ]
    html = []
    for label, value, sub, cls in cards:
        html.append(f'<div class="card {cls}"><div class="label">{esc(label)}</div>{value}'
                    f'<div class="sub">{sub}</div></div>')
    kinds = [("prompt", "prompt_tokens"), ("completion", "completion_tokens"), ("cached", "cached_tokens"),
             ("cache writes", "cache_write_tokens"), ("reasoning", "reasoning_tokens")]
    rows = "".join(f"<tr><td>{esc(k)}</td>{td_num(['totals', f], t.get(f, 0), count(t.get(f, 0)))}</tr>"
                   for k, f in kinds)
    html.append(f'<div class="card"><div class="label">Tokens</div>'
                f'{val(["totals", "total_tokens"], t["total_tokens"], count(t["total_tokens"]), "div", "value")}'
                f'<table class="tokens">{rows}</table></div>')
    return f'<section id="headline"><h2>Headline</h2><div class="cards">{"".join(html)}</div></section>'


def _timeline(report: dict, colors: dict[str, str]) -> str:
    tl = report.get("timeline") or {}
    rows = tl.get("rows") or []
    out = ['<section id="timeline"><h2>Spend over time</h2>']
    if not rows:
        out.append('<p class="muted">None of the calls has a start time, so there is no time axis.</p>')
    else:
        out.append(_charts.timeline("timeline", tl, colors))
        models = tl.get("models") or []
        head = [(tl.get("bucket", "bucket") + " (UTC)", False), ("calls", True), ("spend", True)] + \
            [(m, True) for m in models]
        body = []
        for i, r in enumerate(rows):
            cells = [f"<td>{esc(r['t'])}</td>", td_num(["timeline", "rows", i, "calls"], r["calls"], count(r["calls"])),
                     td_num(["timeline", "rows", i, "total"], r["total"], money(r["total"]))]
            for m in models:
                if m in r["cost"]:
                    cells.append(td_num(["timeline", "rows", i, "cost", m], r["cost"][m], money(r["cost"][m])))
                else:
                    cells.append('<td class="num muted">–</td>')
            body.append("<tr>" + "".join(cells) + "</tr>")
        out.append(_details(f"Table: spend per {esc(tl.get('bucket', 'bucket'))} and model ({len(rows):,} rows)",
                            _table(head, body, id="timeline-table"), False))
    un = tl.get("untimed") or {}
    if un.get("calls"):
        out.append(f'<p class="note">{val(["timeline", "untimed", "calls"], un["calls"], count(un["calls"]))} '
                   f'call(s) without a start time ({val(["timeline", "untimed", "cost"], un["cost"], money(un["cost"]))})'
                   " are in no bucket.</p>")
    out.append("</section>")
    return "".join(out)


def _breakdown(report: dict, colors: dict[str, str]) -> str:
    out = ['<section id="breakdown"><h2>Where the money went</h2>']
    used: set[str] = set()
    for key, table in (report.get("by") or {}).items():
        sid = "by-" + "".join(ch if ch.isalnum() else "-" for ch in key)
        while sid in used:                   # metadata.a-b and metadata.a.b
            sid += "-"
        used.add(sid)
        out.append(f'<div id="{esc(sid)}-block"><h3>Spend by {esc(key)}</h3>')
        shown = table[:_charts.MAX_BARS]
        rest = table[_charts.MAX_BARS:]
        labels = [r["key"] for r in shown]
        values = [r["cost"] for r in shown]
        texts = [f"{money(r['cost'])}  ({percent(r['share'])} · {_calls(r['calls'])})" for r in shown]
        if rest:
            n_rest = sum(r.get("others", 1) for r in rest)
            rc = sum(r["cost"] for r in rest)
            labels.append(f"({n_rest:,} more)")
            values.append(rc)
            texts.append(f"{money(rc)}  ({percent(sum(r['share'] for r in rest))} · "
                         f"{_calls(sum(r['calls'] for r in rest))})")
        if key == "model":
            bar_colors = [colors.get(k, _charts.OTHERS_COLOR) for k in labels]
        else:
            bar_colors = [_charts.BAR_COLOR] * len(shown) + [_charts.OTHERS_COLOR] * (1 if rest else 0)
        out.append(_charts.hbars(sid, f"Spend by {key}", labels, values, texts, bar_colors))
        body = []
        for i, r in enumerate(table):
            p = ["by", key, i]
            body.append(f"<tr><td>{esc(r['key'])}</td>{td_num(p + ['calls'], r['calls'], count(r['calls']))}"
                        f"{td_num(p + ['errors'], r['errors'], count(r['errors']))}"
                        f"{td_num(p + ['cost'], r['cost'], money(r['cost']))}"
                        f"{td_num(p + ['share'], r['share'], percent(r['share']))}"
                        f"{td_num(p + ['tokens'], r['tokens'], count(r['tokens']))}</tr>")
        tbl = _table([(key, False), ("calls", True), ("errors", True), ("spend", True), ("share", True),
                      ("tokens", True)], body, id=sid, cls="by")
        out.append(_details(f"Table ({len(table):,} rows)", tbl, len(table) <= TABLE_OPEN_ROWS))
        out.append("</div>")
    out.append("</section>")
    return "".join(out)


def _calls_table(path: list, calls: list[dict], limit: int, total: int) -> str:
    rows = []
    for j, c in enumerate(calls[:limit]):
        failed = bool(c.get("failed"))
        tr = '<tr class="failed">' if failed else "<tr>"
        rows.append(f'{tr}<td>{esc(c.get("startTime") or "-")}</td>'
                    f'<td class="id">{esc(c.get("id"))}</td><td>{esc(c.get("model"))}</td>'
                    f"{td_num(path + [j, 'cost'], c.get('cost', 0.0), money(c.get('cost', 0.0)))}"
                    f"<td>{'failed' if failed else 'ok'}</td></tr>")
    shown = min(limit, len(calls))
    more = total - shown
    if more > 0:
        rows.append(f'<tr><td colspan="5" class="muted">… and {more:,} more call(s)'
                    + (f"; <code>report --format json</code> lists {len(calls):,}" if len(calls) > shown else "")
                    + "</td></tr>")
    return (f'<table class="calls"><thead><tr><th>start</th><th>call id</th><th>model</th>'
            f'<th class="num">cost</th><th>status</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _waste(report: dict) -> str:
    findings = report.get("findings") or []
    summary = report.get("findings_summary") or {}
    waste = report.get("waste_total_usd", 0.0)
    out = ['<section id="waste-section"><h2>Waste findings</h2>']
    out.append(f'<p>{val(["waste_total_usd"], waste, money(waste))} at stake '
               f'({val(["waste_share"], report.get("waste_share", 0.0), percent(report.get("waste_share", 0.0)))}'
               " of spend; each call counted once, even when several findings name it).</p>")
    kinds = [(k, v) for k, v in summary.items()]
    charted = [(k, v) for k, v in kinds if v.get("waste_usd", 0) > 0]
    if charted:
        out.append(_charts.hbars("waste-kinds", "Waste by kind (money at stake)",
                                 [KIND_TITLE.get(k, k) for k, _ in charted], [v["waste_usd"] for _, v in charted],
                                 [f"{money(v['waste_usd'])}  ({count(v['count'])} finding"
                                  f"{'s' if v['count'] != 1 else ''}, {_calls(v['calls'])})"
                                  for _, v in charted], _charts.WASTE_COLOR))
    if kinds:
        body = [f"<tr><td>{esc(KIND_TITLE.get(k, k))} <span class=\"muted\">({esc(k)})</span></td>"
                f"{td_num(['findings_summary', k, 'count'], v['count'], count(v['count']))}"
                f"{td_num(['findings_summary', k, 'calls'], v['calls'], count(v['calls']))}"
                f"{td_num(['findings_summary', k, 'waste_usd'], v['waste_usd'], money(v['waste_usd']))}</tr>"
                for k, v in kinds]
        out.append(_table([("kind", False), ("findings", True), ("calls", True), ("at stake", True)], body,
                          id="waste-summary"))
    if not findings:
        out.append('<p class="empty">No waste found: no retry loops, fallback storms, overkill calls, unpriced '
                   "models or failed spend in these calls.</p></section>")
        return "".join(out)
    total_calls = sum(len(f.get("calls") or []) for f in findings)
    per = 50 if total_calls <= MAX_CALL_ROWS else CALLS_WHEN_MANY
    open_calls = len(findings) <= 10
    body = []
    for i, f in enumerate(findings):
        sev = f.get("severity", "")
        where = []
        if f.get("traceId"):
            where.append(f"trace {f['traceId']}")
        if f.get("model") and f.get("kind") != "fallback_storm":
            where.append(str(f["model"]))
        if f.get("models"):
            where.append(" → ".join(map(str, f["models"])))
        if f.get("kind") == "cache_savings":
            saved = f.get("savings_usd", 0.0)
            money_cell = f'<td class="num">saved {val(["findings", i, "savings_usd"], saved, money(saved))}</td>'
        else:
            money_cell = td_num(["findings", i, "waste_usd"], f.get("waste_usd", 0.0), money(f.get("waste_usd", 0.0)))
        calls = f.get("calls") or []
        n = f.get("call_count", len(calls))
        failed = sum(1 for c in calls if c.get("failed"))
        summ = f"{n:,} call{'s' if n != 1 else ''}" + (f" · {failed} failed" if failed else "")
        calls_html = _details(esc(summ), _calls_table(["findings", i, "calls"], calls, per, n), open_calls) \
            if calls else esc(summ)
        body.append(
            f'<tr class="finding" data-kind="{esc(f.get("kind"))}"><td class="num">{i + 1}</td>'
            f'<td><span class="badge {SEVERITY_CLASS.get(sev, "sev-low")}">{esc(sev)}</span></td>'
            f'<td class="kind">{esc(KIND_TITLE.get(f.get("kind"), f.get("kind")))}</td>'
            f'<td class="id">{esc(" · ".join(where))}</td>'
            f"{money_cell}{td_num(['findings', i, 'cost_usd'], f.get('cost_usd', 0.0), money(f.get('cost_usd', 0.0)))}"
            f'</tr><tr class="calls-row"><td></td><td colspan="5"><div class="detail">{esc(f.get("detail", ""))}</div>'
            f"{calls_html}</td></tr>")
    out.append("<h3>Every finding, most money at stake first</h3>")
    out.append(_table([("#", True), ("severity", False), ("kind", False), ("where", False),
                       ("at stake", True), ("cost of its calls", True)], body, id="waste"))
    if per < 50:
        out.append(f'<p class="note">The findings list {total_calls:,} calls; to keep the page small it shows the '
                   f"first {per} of each (<code>report --format json</code> has them all).</p>")
    if report.get("findings_truncated"):
        out.append(f'<p class="note">{count(report["findings_truncated"])} more finding(s) are counted in the '
                   "summary above but not listed (the report keeps the first 1,000).</p>")
    out.append("</section>")
    return "".join(out)


def _latency(report: dict) -> str:
    lat = report.get("latency") or {}
    out = ['<section id="latency"><h2>Latency</h2>']
    if not lat.get("count"):
        out.append('<p class="muted">No call carries a latency.</p></section>')
        return "".join(out)
    by_model = lat.get("by_model") or {}
    chart_rows = [(m, q.get("p50_ms"), q.get("p95_ms")) for m, q in list(by_model.items())[:_charts.MAX_BARS]]
    out.append(f'<p>All calls: p50 {val(["latency", "p50_ms"], lat.get("p50_ms"), ms(lat.get("p50_ms")))}, '
               f'p95 {val(["latency", "p95_ms"], lat.get("p95_ms"), ms(lat.get("p95_ms")))} over '
               f'{val(["latency", "count"], lat["count"], count(lat["count"]))} calls'
               f'{"" if lat.get("exact", True) else " (from a histogram, within 0.5%)"}.</p>')
    if chart_rows:
        out.append(_charts.latency("latency", chart_rows))
    body = [f"<tr><td>{esc(m)}</td>{td_num(['latency', 'by_model', m, 'count'], q.get('count'), count(q.get('count')))}"
            f"{td_num(['latency', 'by_model', m, 'p50_ms'], q.get('p50_ms'), ms(q.get('p50_ms')))}"
            f"{td_num(['latency', 'by_model', m, 'p95_ms'], q.get('p95_ms'), ms(q.get('p95_ms')))}</tr>"
            for m, q in by_model.items()]
    out.append(_details(f"Table ({len(by_model):,} models)",
                        _table([("model", False), ("calls", True), ("p50", True), ("p95", True)], body,
                               id="latency-table"), len(by_model) <= TABLE_OPEN_ROWS))
    out.append("</section>")
    return "".join(out)


def _traces(report: dict) -> str:
    traces = report.get("top_traces") or []
    calls_by = report.get("top_trace_calls") or {}
    out = ['<section id="traces"><h2>Most expensive traces</h2>']
    if not traces:
        out.append('<p class="muted">No traces listed (--top 0).</p></section>')
        return "".join(out)
    body = []
    for i, tr in enumerate(traces):
        calls = calls_by.get(tr["traceId"]) or []
        n = tr.get("calls", len(calls))
        summ = f"{n:,} call{'s' if n != 1 else ''}" + (f" · {tr['errors']} failed" if tr.get("errors") else "")
        calls_html = _details(esc(summ), _calls_table(["top_trace_calls", tr["traceId"]], calls, 50, n),
                              n <= 6) if calls else esc(summ)
        body.append(f'<tr class="trace"><td class="num">{i + 1}</td><td class="id">{esc(tr["traceId"])}</td>'
                    f'<td class="ts">{esc(tr.get("start") or "-")}</td>'
                    f"{td_num(['top_traces', i, 'cost'], tr['cost'], money(tr['cost']))}"
                    f"{td_num(['top_traces', i, 'calls'], tr['calls'], count(tr['calls']))}"
                    f"{td_num(['top_traces', i, 'errors'], tr['errors'], count(tr['errors']))}"
                    f'<td>{esc(", ".join(map(str, tr.get("models") or [])))}</td>'
                    f'<td>{esc(", ".join(map(str, tr.get("names") or [])))}</td></tr>'
                    f'<tr class="calls-row"><td></td><td colspan="7">{calls_html}</td></tr>')
    out.append(_table([("#", True), ("trace", False), ("start", False), ("spend", True), ("calls", True),
                       ("errors", True), ("models", False), ("names", False)], body,
                      id="top-traces"))
    out.append("</section>")
    return "".join(out)


__all__ = ["render", "esc", "CSS"]
