"""``tokentrail demo``: run :func:`tokentrail.demo.run_demo`, then print the report of what it wrote
(``--html [FILE]``: and end by writing that report as a page, :mod:`tokentrail.html`, and printing its path)."""

from __future__ import annotations

import argparse
import os
import sys

from ._common import check_writable_sink, chosen_sink, require, resolve_sink_spec, use_pricing
from ._errors import CliError, UsageError

NAMESPACE = "demo"


def run(args: argparse.Namespace) -> int:
    import tokentrail
    from .._time import format_ts

    spec, origin = chosen_sink(args.sink, "--sink")      # errors name --sink or TOKENTRAIL_SINK
    sink = resolve_sink_spec(spec, origin)
    source = check_writable_sink(sink, origin)
    use_pricing(None, "")                                   # a broken TOKENTRAIL_PRICING fails now
    require("openai", "the demo")
    require("anthropic", "the demo")
    html = getattr(args, "html", None)
    if html is not None:
        if source is None:
            raise UsageError(f"--html needs a sink the report can be read back from (a .jsonl file or "
                             f"sqlite:///file.db), not {spec!r}")
        from ..html._cli import check_output
        check_output(html)
    render = None
    if source is not None and (not args.quiet or html is not None):
        render = require("tokentrail.analysis", "the report engine", "build_report", "render_report")

    path = getattr(sink, "path", None)
    had_events = bool(path) and os.path.isfile(path) and os.path.getsize(path) > 0
    tokentrail.configure(sink=spec, namespace=NAMESPACE, enabled=True)
    from ..demo import SCENARIOS, run_demo
    from ..testing import capture_events

    lost_before = tokentrail.stats()["lost"]
    try:
        with capture_events() as events:
            run = run_demo(namespace=NAMESPACE)
    except NotImplementedError as e:
        raise CliError(f"the demo needs tokentrail.attach, which this installation does not provide ({e})") from None
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("tokentrail"):
            raise CliError(f"the demo needs {e.name}, which is not part of this tokentrail installation; "
                           "reinstall tokentrail") from None
        raise
    if not tokentrail.flush(timeout=30):
        raise CliError(f"the demo's events could not all be written to {spec!r} within 30 s")
    lost = tokentrail.stats()["lost"] - lost_before
    if lost:
        raise CliError(f"{lost} of the demo's {len(events)} events could not be written to {spec!r} "
                       "(see the message above)")
    if not events:
        raise CliError("the demo ran but recorded no events: tokentrail.attach did not instrument the clients")

    where = source or spec
    shown = ["model", "metadata.team"]                       # printed; the page also shows cost by provider
    by = ["model"] + (["provider"] if html is not None else []) + ["metadata.team"]
    if args.quiet:
        if source is not None:
            sys.stdout.write(source + "\n")
        if html is not None and render is not None:          # --quiet --html: and the page's path
            from ..html._cli import write_page
            report = render[0]([source], by=by, namespace=NAMESPACE, since=format_ts(run.started - 0.001), top=5)
            sys.stdout.write(write_page(report, html) + "\n")
        return 0
    # In json/csv mode stdout carries only the report; the summary goes to stderr.
    info = sys.stdout if args.format == "table" and render is not None else sys.stderr
    errors = sum(1 for e in events if e.get("status") == "error")
    cost = sum(float(e.get("cost") or 0) for e in events)
    info.write(f"Ran {len(SCENARIOS)} scenarios, {len(events)} calls ({errors} failed, ${cost:.6f}) in "
               f"{run.seconds:.2f} s against the in-process fake API: no key, no network.\n"
               f"Wrote {len(events)} events (namespace {NAMESPACE!r}) to {where}"
               + (" after the events already there" if had_events else "") + ".\n"
               + (f"Skipped {'; '.join(run.skipped)}.\n" if run.skipped else ""))
    if render is None:
        return 0
    build_report, render_report = render
    report = build_report([source], by=by, namespace=NAMESPACE, since=format_ts(run.started - 0.001), top=5)
    from ._report import only_by
    text = render_report(only_by(report, shown), fmt=args.format)  # the same with or without --html
    if args.format == "table":
        info.write(f"\nReport of this run (`tokentrail report {source} --namespace {NAMESPACE} --by metadata.team` "
                   "shows every run):\n\n")
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if html is not None:
        from ..html._cli import write_page
        info.write(f"\nReport page: {write_page(report, html)}\n")
    return 0
