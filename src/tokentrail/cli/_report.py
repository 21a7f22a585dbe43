"""``tokentrail report`` (alias ``analyze``): argument handling around the report engine.

The engine (:mod:`tokentrail.analysis`) reads the inputs, checks them and raises
``InputError`` with one sentence for a bad one (exit 1); malformed lines are passed to
``warn`` with their line number and skipped. This module only maps flags to
:func:`build_report`, prints :func:`render_report` and decides the exit code.
``--html FILE`` also writes the page of :mod:`tokentrail.html` (the printed report and
the exit codes are unchanged; the page's path is printed after a table, on standard
error after JSON/CSV). Without ``--by`` the page adds cost by provider; that table is
kept off standard output, which must not depend on whether a page is written too.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import default_sink_spec, require, use_pricing
from ._errors import EXIT_INPUT, CliError, UsageError
from ._output import usd

MAX_WARNINGS = 20


class Warnings:
    """The engine's warnings, as ``tokentrail: warning:`` lines; after MAX_WARNINGS only counted."""

    def __init__(self, limit: int = MAX_WARNINGS):
        self.limit = limit
        self.count = 0

    def __call__(self, message: Any, *args: Any, **kwargs: Any) -> None:
        self.count += 1
        if self.count <= self.limit:
            text = " ".join(str(message).split())
            if text.startswith("tokentrail: "):
                text = text[len("tokentrail: "):]
            sys.stderr.write(f"tokentrail: warning: {text}\n")

    def summary(self) -> None:
        if self.count > self.limit:
            sys.stderr.write(f"tokentrail: warning: {self.count - self.limit} more warnings not shown "
                             f"({self.count} in total)\n")


_DB_SCHEMES = ("sqlite:", "postgresql://", "postgres://")


def default_inputs() -> list[str]:
    """No INPUT given: read the sink events go to by default, if it is a file or a database."""
    spec = default_sink_spec()
    low = spec.strip().lower()
    if low in ("stdout", "-", "memory", "otel") or ("://" in low and not low.startswith(_DB_SCHEMES)):
        raise UsageError(f"no INPUT given and the default sink ({spec!r}, from TOKENTRAIL_SINK) cannot be "
                         "read back; give a JSONL file or sqlite:///file.db")
    return [spec]


def run(args: argparse.Namespace) -> int:
    from ._parser import when_epoch
    analysis = require("tokentrail.analysis", "the report engine")
    build_report, render_report = require("tokentrail.analysis", "the report engine", "build_report",
                                          "render_report")
    html = getattr(args, "html", None)
    by = [k for group in (args.by or [["model"]]) for k in group]
    check_by = getattr(analysis, "check_by", None)
    if check_by is not None:
        try:
            by = check_by(by)
        except ValueError as e:          # InputError: a wrong --by key is a command-line mistake
            raise UsageError(str(e)) from None
    # --html FILE without --by: the page also shows cost by provider. The report is built
    # once with that key, and printed without it: stdout is the same with or without --html.
    page_by = by + ["provider"] if html is not None and not args.by and "provider" not in by else by
    if args.since and args.until:
        since, until = when_epoch(args.since), when_epoch(args.until)
        if since is not None and until is not None and since >= until:
            raise UsageError(f"--since {args.since!r} is not before --until {args.until!r}; swap or widen them")
    pricing = use_pricing(args.pricing, "--pricing") if args.pricing else None
    if args.pricing is None:
        use_pricing(None, "")            # a broken TOKENTRAIL_PRICING fails now, not halfway through
    inputs = list(args.inputs) or default_inputs()
    for spec in inputs:
        low = spec.strip().lower()
        if "://" in low and not low.startswith(_DB_SCHEMES):
            raise UsageError(f"INPUT {spec!r} has an unknown scheme {spec.split('://', 1)[0] + '://'!r}; give a "
                             "JSONL file, a glob, '-' for standard input, sqlite:///file.db or postgresql://...")
    if html is not None:                 # matplotlib present and FILE writable, before reading
        from ..html._cli import check_output
        check_output(html)
    warn = Warnings()
    report = build_report(inputs, by=page_by, model=args.model, trace_id=args.trace_id,
                          since=args.since, until=args.until, namespace=args.namespace, reprice=args.reprice,
                          pricing=pricing, top=args.top, warn=warn)
    warn.summary()
    filtered = any((args.model, args.trace_id, args.since, args.until, args.namespace))
    if not filtered:
        _check_not_empty(report)
    text = render_report(only_by(report, by), fmt=args.format)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if html is not None:
        from ..html._cli import write_page
        page = write_page(report, html)
        (sys.stdout if args.format == "table" else sys.stderr).write(f"Report page: {page}\n")
    if args.fail_on == "waste":
        waste = _waste(report)
        if waste > 0:
            raise CliError(f"--fail-on waste: the report found {usd(waste)} of waste "
                           f"({_finding_count(report)} findings)", EXIT_INPUT)
    return 0


def only_by(report: dict, by: list[str]) -> dict:
    """The report as if it had been built with ``--by`` keys ``by`` only: a shallow copy
    without the cost-by tables of the other keys (added for the HTML page)."""
    tables = report.get("by")
    if not isinstance(tables, dict) or set(tables) <= set(by):
        return report
    out = dict(report, by={k: v for k, v in tables.items() if k in by})
    if isinstance(report.get("filters"), dict):
        out["filters"] = dict(report["filters"], by=list(by))
    return out


def _check_not_empty(report: dict) -> None:
    """Unfiltered inputs without a single event are bad input (exit 1), like a missing file."""
    totals = report.get("totals") or {}
    if totals.get("calls") or report.get("other_events") or report.get("filtered_out"):
        return
    names = ", ".join(repr(s) for s in report.get("sources") or []) or "the input"
    skipped = int(report.get("skipped_lines") or 0)
    if skipped:
        raise CliError(f"{names} holds no valid events: all {skipped:,} non-blank lines are malformed (see the "
                       "warnings above); give the .jsonl file tokentrail wrote")
    raise CliError(f"{names} holds no events; record some calls first (or run `tokentrail demo`), or give "
                   "another file")


def _waste(report: dict) -> float:
    try:
        return float(report.get("waste_total_usd") or 0)
    except (TypeError, ValueError):
        return 0.0


def _finding_count(report: dict) -> int:
    f = report.get("findings") or []
    if isinstance(f, dict):
        return sum(len(v) if isinstance(v, (list, tuple)) else 1 for v in f.values())
    return len(f)
