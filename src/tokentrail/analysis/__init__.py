"""Where did the money go, and which calls were waste: the engine behind ``tokentrail report``.

Example::

    from tokentrail.analysis import build_report, render_report

    report = build_report(["tokentrail.jsonl"], by=["model", "metadata.team"], since="7d")
    print(render_report(report))               # tables for people
    print(report["waste_total_usd"])           # or read the dict

Inputs are JSONL files (plain or gzip), globs, ``"-"`` (standard input) or
``"sqlite:///calls.db"``, read as a stream (:mod:`._read`, :mod:`._aggregate`); large
files are split across processes (:mod:`._parallel`). Besides tokentrail's own events,
lines in the earlier CrashLens / cost-logger shape (``traceId``, ``startTime``,
``input.model``, ``input.prompt``, ``usage.prompt_tokens``, ``usage.completion_tokens``,
``cost``, ``metadata``) are read; a missing ``cost`` is computed from the price tables.
Events of ``type`` other than ``generation``/``embedding`` (``span`` events of
``@capture`` wrappers, whose calls are recorded by the attached client) are counted
in ``other_events`` only, never as calls. Waste rules: :mod:`._waste`.

The report is a plain, JSON-serializable dict (``render_report(r, "json")`` is
``json.dumps(r, indent=2)``; an HTML page can chart the same numbers). USD amounts are
floats rounded to 10 significant digits; times are UTC ``YYYY-MM-DDTHH:MM:SS.mmmZ``::

    {
      "sources":  ["tokentrail.jsonl", ...],          # as resolved (globs expanded)
      "filters":  {"model", "trace_id", "since", "until", "namespace", "by", "reprice", "pricing"},
      "totals":   {"calls", "errors", "error_rate", "cost", "prompt_tokens", "completion_tokens",
                   "cached_tokens", "cache_write_tokens", "reasoning_tokens", "total_tokens",
                   "traces", "first", "last"},
      "by":       {"model": [{"key", "calls", "errors", "cost", "tokens", "share"}, ...], ...},
                  # one list per --by key, most expensive first; at most ``by_limit`` rows, the
                  # rest summed in a last row {"key": "(N others)", ..., "others": N}
      "top_traces": [{"traceId", "calls", "cost", "models", "errors", "start", "names"}, ...],
      "top_trace_calls": {traceId: [{"id", "startTime", "model", "cost", "failed"}, ...]},
                  # the first 50 calls (by start time) of each of the top traces
      "latency":  {"p50_ms", "p95_ms", "count", "exact", "by_model": {model: {"count", "p50_ms", "p95_ms"}}},
      "timeline": {"bucket": "hour", "models": [model, ..., "(others)"],
                   "rows": [{"t": "2026-11-23T10", "cost": {model: usd}, "total", "calls"}, ...],
                   "untimed": {"calls", "cost"}},
                  # spend over time stacked by model (:mod:`._timeline`): bucket hour (data within
                  # 3 days), day (400 days), month or year; the 8 most expensive models, the rest in
                  # "(others)"; every bucket from first to last (empty ones too); rows + untimed
                  # add up to totals.cost / totals.calls
      "findings": [{"kind", "severity", "traceId"?, "model"?, "calls": [{"id", "startTime", "model",
                    "cost", "failed"}, ...], "call_count", "waste_usd", "cost_usd", "detail", ...}, ...],
                  # kind: retry_loop | fallback_storm | fallback_chain | overkill | unpriced_model |
                  #       failed_spend | missed_cache | cache_savings (informational)
                  # severity: high | medium | low | info; waste first, most money at stake first;
                  # "calls" lists at most 50 calls, "call_count" is the full number;
                  # "waste_usd" is the money the finding calls waste, "cost_usd" what its calls cost.
                  # Extra fields per kind: retry_loop "span_s"; fallback_storm "models", "span_s";
                  # fallback_chain "models", "direction"; overkill "cheaper_model", "price_ratio";
                  # unpriced_model "tokens"; failed_spend "errors" {type: count}; missed_cache
                  # "prompt_tokens", "cacheable_repeats"; cache_savings "savings_usd",
                  # "cached_tokens", "cache_write_tokens".
      "findings_summary": {kind: {"count", "waste_usd", "calls"}},   # over all findings
      "findings_truncated": 0,          # findings left out of the list (``max_findings``)
      "waste_total_usd": 0.0,           # each call counted once (see _waste)
      "waste_share": 0.0,               # waste_total_usd / totals.cost
      "skipped_lines": 0,               # malformed lines (each reported through ``warn``)
      "other_events": 0,                # spans and other non-call events
      "filtered_out": 0,                # calls dropped by the filters
      "computed_costs": 0,              # events without a usable cost, priced from the tables
      "repriced": false
    }

``totals.traces`` counts traces as analysed; a trace whose calls are more than
20,000 lines *and* 10 minutes apart in one log is counted (and analysed) as two.
Latency percentiles are exact (nearest rank) up to 4,096 calls per series, then come
from a histogram of 1%-wide log-spaced buckets (error ≤ 0.5%).
"""

from __future__ import annotations

import gc
import re
import sys
import time
from typing import Callable

from .. import _config
from .._pricing import PricingError, load_table
from .._time import format_ts, parse_ts
from ._aggregate import BY_FIXED, Analyzer, Options
from ._errors import InputError
from ._parallel import consume_parallel, worth_parallel
from ._prices import Prices
from ._read import DEFAULT_SOURCE, iter_raw, resolve_sources
from ._render import render_report

_REL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$", re.I)
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_when(value: str | None, flag: str, *, end: bool = False) -> float | None:
    """``--since``/``--until``: an ISO date or time (UTC unless it says otherwise) or an age
    such as ``30m``, ``12h``, ``7d``, ``2w``. A bare date given to ``--until`` includes that day."""
    if value is None or str(value).strip() == "":
        return None
    v = str(value).strip()
    m = _REL.match(v)
    if m:
        return time.time() - float(m.group(1)) * _UNITS[m.group(2).lower()]
    if _DATE.match(v):
        t = parse_ts(v + "T00:00:00Z")
        if t is not None:
            return t + 86400 if end else t
    elif "-" in v[1:]:
        t = parse_ts(v)
        if t is not None:
            return t
    raise InputError(f"{flag} {value!r} is not a date; use a date like 2026-11-01, a time like "
                     f"2026-11-01T10:00:00Z, or an age like 12h or 7d")


def check_by(by: list[str] | tuple[str, ...] | str | None) -> list[str]:
    if by is None:
        return ["model"]
    if isinstance(by, str):
        by = [by]
    keys: list[str] = []
    for raw in by:
        for k in str(raw).split(","):
            k = k.strip()
            if not k:
                continue
            if k == "trace_id" or k == "traceId":
                k = "trace"
            if k not in BY_FIXED and not (k.startswith("metadata.") and len(k) > len("metadata.")):
                raise InputError(f"unknown --by key {k!r}; use {', '.join(BY_FIXED)} or metadata.KEY "
                                 "(e.g. metadata.team)")
            if k not in keys:
                keys.append(k)
    return keys or ["model"]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


def build_report(sources: list[str] | tuple[str, ...] | None = None, *, by: list[str] | None = None,
                 model: str | None = None, trace_id: str | None = None, since: str | None = None,
                 until: str | None = None, namespace: str | None = None, reprice: bool = False,
                 pricing: str | None = None, top: int = 10, warn: Callable[[str], None] | None = None,
                 max_findings: int = 1000, by_limit: int = 1000, overkill_ratio: float = 5.0,
                 workers: int | None = None) -> dict:
    """Read the events once and return the report dict (shape in the module docstring).

    - ``sources``: file paths, globs, ``"-"`` (stdin), ``"sqlite:///x.db"``, ``"postgresql://..."``
      (totals and by-tables then computed by the server); empty → ``tokentrail.jsonl``.
    - ``by``: ``model``, ``provider``, ``trace``, ``name``, ``day``, ``hour``, ``month``,
      ``namespace``, ``status`` or ``metadata.KEY`` (several allowed).
    - ``model`` (comma-separated allowed; matches the requested or answered id or its
      price-table entry), ``trace_id``, ``since``/``until`` (dates or ages like ``7d``;
      events without a start time are left out when either is given), ``namespace``
      (events without one are in ``"default"``): filters. The detectors see only the
      events that pass them.
    - ``reprice``: recompute every cost from the current tables plus ``pricing`` (a YAML
      override file), e.g. to ask what last month would have cost with new prices.
    - ``warn(msg)`` is called for each malformed line (the first 100, then once with the
      count); default: standard error.
    - ``workers``: processes for large files (None: automatic, 1: never split).

    Raises :class:`InputError` (one sentence) for a missing file, a directory, an empty
    glob, a binary file, an unreadable database, an unknown ``by`` key, a bad date or a
    broken pricing file.
    """
    keys = check_by(by)
    t_since = parse_when(since, "--since")
    t_until = parse_when(until, "--until", end=True)
    if t_since is not None and t_until is not None and t_until <= t_since:
        raise InputError(f"--until {until!r} is not after --since {since!r}; swap or widen them")
    models = None
    if model:
        models = frozenset(m.strip().lower() for m in str(model).split(",") if m.strip()) or None
    if pricing:
        try:
            table = load_table(pricing, default=_config._default_rates())
        except PricingError as e:
            raise InputError(str(e)) from None
    else:
        table = _config.price_table()
    srcs = resolve_sources(list(sources or ()))
    opts = Options(by=keys, models=models, trace_id=trace_id or None, since=t_since, until=t_until,
                   namespace=namespace or None, reprice=bool(reprice), top=max(0, int(top)),
                   max_findings=max(0, int(max_findings)), by_limit=max(1, int(by_limit)),
                   overkill_ratio=float(overkill_ratio))
    warn = warn or _stderr
    a = Analyzer(opts, Prices(table), warn=warn)
    chunk_base = 0
    # Every parsed line allocates a dozen short-lived containers; collecting the young
    # generation less often saves a few percent and the data holds no reference cycles.
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], 20_000), *threshold[1:])
    try:
        for src in srcs:
            procs = worth_parallel(src, workers)
            if procs > 1:
                chunk_base += consume_parallel(a, src, procs, chunk_base)
            else:
                a.consume(src.label, iter_raw(src, namespace=opts.namespace, trace_id=opts.trace_id))
    finally:
        gc.set_threshold(*threshold)
    if a.skipped > a.warned:
        warn(f"{a.skipped - a.warned:,} more malformed lines skipped (not shown)")
    filters = {"model": model or None, "trace_id": trace_id or None,
               "since": format_ts(t_since) if t_since is not None else None,
               "until": format_ts(t_until) if t_until is not None else None,
               "namespace": namespace or None, "by": keys, "reprice": bool(reprice), "pricing": pricing or None}
    report = a.report(sources=[s.label for s in srcs], filters=filters)
    if len(srcs) == 1 and srcs[0].kind == "postgres" and not reprice:
        _totals_from_sql(report, srcs[0].path, keys, model, trace_id, t_since, t_until, namespace)
    return report


def _totals_from_sql(report: dict, url: str, keys: list[str], model: str | None, trace_id: str | None,
                     t_since: float | None, t_until: float | None, namespace: str | None) -> None:
    """For a PostgreSQL input the totals and cost-by-key tables come from the server's
    GROUP BY (the streamed pass still feeds latency, top traces and waste findings)."""
    from ..sinks.postgres import pg_aggregate
    agg = pg_aggregate(url, by=keys, model=model, trace_id=trace_id, since=t_since, until=t_until,
                       namespace=namespace)
    report["totals"].update({k: v for k, v in agg["totals"].items() if k in report["totals"]})
    for key, rows in agg["by"].items():
        ours = report["by"].get(key)
        if ours is not None and len(ours) == len(rows):      # no "(N others)" row folded in
            report["by"][key] = [{**old, **new} for old, new in zip(ours, rows)]
    report["aggregated_in"] = "postgresql"


def __getattr__(name: str):
    # Imported on use, so `python -m tokentrail.analysis._generate` runs without a warning.
    if name in ("generate_events", "write_events"):
        from . import _generate
        return getattr(_generate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["InputError", "build_report", "render_report", "generate_events", "write_events", "parse_when",
           "check_by", "DEFAULT_SOURCE"]
