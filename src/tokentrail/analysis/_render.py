"""Turning the report dict into text: fixed-width tables, JSON or CSV.

- ``table``: Totals, one "Cost by <key>" table per ``--by`` key, Top traces, Latency,
  and the waste findings (most money at stake first), for a terminal.
- ``json``: ``json.dumps(report, indent=2)`` — the dict as it is.
- ``csv``: one flat table of the cost breakdowns, for spreadsheets. Header
  ``by,key,calls,errors,cost_usd,tokens,share``; the first row is ``totals,(all),…``,
  then every row of every ``--by`` table with ``by`` set to its key (``model``,
  ``metadata.team``, …). Findings are in the JSON output.
"""

from __future__ import annotations

import csv
import io
import json

from ._format import num, pct, usd

TABLE_ROWS = 50        # rows per cost table in the terminal view (JSON has them all)
FINDINGS_SHOWN = 25


def render_report(report: dict, fmt: str = "table") -> str:
    """``fmt`` is ``"table"``, ``"json"`` or ``"csv"``."""
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False)
    if fmt == "csv":
        return _csv(report)
    if fmt == "table":
        return _table(report)
    raise ValueError(f"unknown report format {fmt!r}; use table, json or csv")


def _csv(report: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["by", "key", "calls", "errors", "cost_usd", "tokens", "share"])
    t = report["totals"]
    w.writerow(["totals", "(all)", t["calls"], t["errors"], t["cost"], t["total_tokens"], 1.0 if t["calls"] else 0.0])
    for key, rows in report["by"].items():
        for r in rows:
            w.writerow([key, r["key"], r["calls"], r["errors"], r["cost"], r["tokens"], r["share"]])
    return buf.getvalue()


def _cut(s: object, width: int) -> str:
    s = "" if s is None else str(s)
    s = s.replace("\n", " ")
    return s if len(s) <= width else s[: width - 1] + "…"


def _grid(headers: list[str], rows: list[list[str]], right: set[int], indent: str = "  ") -> list[str]:
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))

    def line(cells: list[str]) -> str:
        out = []
        for i, c in enumerate(cells):
            out.append(c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
        return (indent + "  ".join(out)).rstrip()
    return [line(headers)] + [line(r) for r in rows]


def _sources(report: dict) -> str:
    src = report.get("sources") or []
    if not src:
        return "(no input)"
    return src[0] if len(src) == 1 else f"{src[0]} (+{len(src) - 1} more)"


def _filters(f: dict) -> str:
    parts = []
    for k in ("model", "trace_id", "namespace", "since", "until"):
        if f.get(k):
            parts.append(f"{k.replace('_', '-')}={f[k]}")
    return " · ".join(parts)


def _table(report: dict) -> str:
    out: list[str] = []
    t = report["totals"]
    f = report.get("filters") or {}
    out.append(f"tokentrail report: {_sources(report)}")
    if _filters(f):
        out.append(f"Filters: {_filters(f)}")
    if report.get("repriced"):
        out.append("Costs recomputed from the current price tables"
                   + (f" with {f['pricing']}" if f.get("pricing") else "") + " (--reprice).")
    notes = []
    if report.get("skipped_lines"):
        notes.append(f"{report['skipped_lines']:,} malformed line(s) skipped")
    if report.get("computed_costs"):
        notes.append(f"{report['computed_costs']:,} event(s) had no cost; priced from the tables")
    if notes:
        out.append("Note: " + "; ".join(notes) + ".")
    out.append("")
    if not t["calls"]:
        if report.get("filtered_out"):
            out.append(f"No events match the filters in {_sources(report)} "
                       f"({report['filtered_out']:,} calls filtered out).")
        else:
            out.append(f"No events found in {_sources(report)}.")
        return "\n".join(out) + "\n"

    # -- totals
    out.append("Totals")
    rows = [
        ("Calls", f"{t['calls']:,}  ({t['errors']:,} errors, {pct(t['error_rate'])})"),
        ("Cost", usd(t["cost"])),
        ("Tokens", f"{t['total_tokens']:,}  (prompt {t['prompt_tokens']:,} · completion {t['completion_tokens']:,}"
                   f" · cached {t['cached_tokens']:,} · cache writes {t['cache_write_tokens']:,}"
                   f" · reasoning {t['reasoning_tokens']:,})"),
        ("Traces", f"{t['traces']:,}"),
    ]
    if t.get("first"):
        rows.append(("Period", f"{t['first']} → {t['last']}"))
    n_find = sum(v["count"] for k, v in (report.get("findings_summary") or {}).items() if k != "cache_savings")
    rows.append(("Waste", f"{usd(report['waste_total_usd'])}  ({pct(report.get('waste_share', 0.0))} of cost, "
                          f"{n_find:,} finding{'s' if n_find != 1 else ''})"))
    if report.get("other_events"):
        rows.append(("Other events", f"{report['other_events']:,} (spans; not counted as calls)"))
    width = max(len(r[0]) for r in rows)
    out.extend(f"  {k.ljust(width)}  {v}" for k, v in rows)

    # -- cost by key
    for key, table in report["by"].items():
        out.append("")
        out.append(f"Cost by {key}")
        shown = table[:TABLE_ROWS]
        body = [[_cut(r["key"], 48), num(r["calls"]), num(r["errors"]), usd(r["cost"]), pct(r["share"]),
                 num(r["tokens"])] for r in shown]
        rest = table[TABLE_ROWS:]
        if rest:
            body.append([f"({sum(r.get('others', 1) for r in rest):,} more)", num(sum(r["calls"] for r in rest)),
                         num(sum(r["errors"] for r in rest)), usd(sum(r["cost"] for r in rest)),
                         pct(sum(r["share"] for r in rest)), num(sum(r["tokens"] for r in rest))])
        out.extend(_grid([key, "calls", "errors", "cost", "share", "tokens"], body, {1, 2, 3, 4, 5}))

    # -- top traces
    if report.get("top_traces"):
        out.append("")
        out.append("Top traces")
        body = [[_cut(r["traceId"], 38), num(r["calls"]), num(r["errors"]), usd(r["cost"]),
                 _cut(", ".join(r["models"]), 32), r.get("start") or "-"] for r in report["top_traces"]]
        out.extend(_grid(["trace", "calls", "errors", "cost", "models", "start"], body, {1, 2, 3}))

    # -- latency
    lat = report.get("latency") or {}
    if lat.get("count"):
        out.append("")
        out.append("Latency (ms)")
        body = [["(all)", num(lat["count"]), num(lat["p50_ms"]), num(lat["p95_ms"])]]
        for m, q in list(lat.get("by_model", {}).items())[:TABLE_ROWS]:
            body.append([_cut(m, 40), num(q["count"]), num(q["p50_ms"]), num(q["p95_ms"])])
        out.extend(_grid(["model", "calls", "p50", "p95"], body, {1, 2, 3}))

    # -- findings
    findings = report.get("findings") or []
    out.append("")
    if not findings:
        out.append("Waste findings: none.")
    else:
        out.append(f"Waste findings: {usd(report['waste_total_usd'])} at stake (each call counted once)")
        for i, fd in enumerate(findings[:FINDINGS_SHOWN], 1):
            where = []
            if fd.get("traceId"):
                where.append(f"trace {fd['traceId']}")
            if fd.get("model") and fd["kind"] != "fallback_storm":
                where.append(fd["model"])
            money = (f"{usd(fd.get('savings_usd', 0.0))} saved" if fd["kind"] == "cache_savings"
                     else f"{usd(fd['waste_usd'])} at stake")
            out.append(f"  {i:>2}. [{fd['severity']}] {fd['kind']} · {money}"
                       + (f" · {' · '.join(where)}" if where else ""))
            out.append(f"      {fd['detail']}")
            ids = [c["id"] for c in fd.get("calls", [])[:4]]
            more = fd.get("call_count", len(ids)) - len(ids)
            if ids:
                out.append(f"      calls: {', '.join(_cut(x, 40) for x in ids)}"
                           + (f" (+{more:,} more)" if more > 0 else ""))
        left = len(findings) - FINDINGS_SHOWN + report.get("findings_truncated", 0)
        if left > 0:
            out.append(f"  … {left:,} more finding(s); use --format json for all of them.")
    return "\n".join(out) + "\n"


__all__ = ["render_report"]
