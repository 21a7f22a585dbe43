"""The argument parser: every command, flag, help text and example.

Parse errors raise :class:`UsageError` (one line, exit 2) instead of argparse's
usage-and-exit. Each command is bound to ``run`` in its own module, imported lazily.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any, Callable

from ._errors import EXIT_CODES_HELP, UsageError

FORMATS = ("table", "json", "csv")


_PROG = "_tokentrail_prog"   # the namespace attribute naming the (sub)command that was chosen


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The innermost (sub)command that parses the line leaves its name here, for parse_args.
        self.set_defaults(**{_PROG: self.prog})

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see {self.prog} --help)")

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        # argparse reports a subcommand's unknown flag from the top-level parser, so the hint
        # would say `tokentrail --help`; point at the help of the command that was typed.
        ns, extras = self.parse_known_args(args, namespace)
        prog = getattr(ns, _PROG, None) or self.prog
        if hasattr(ns, _PROG):
            delattr(ns, _PROG)
        if extras:
            raise UsageError(f"unrecognized arguments: {' '.join(extras)} (see {prog} --help)")
        return ns


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30, width=100)


def _lazy(module: str, func: str = "run") -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(f"tokentrail.cli.{module}"), func)(args)
    return run


def _epilog(example: str, extra: str = "") -> str:
    parts = ["Example:\n" + "\n".join("  " + line for line in example.strip("\n").splitlines())]
    if extra:
        parts.append(extra.strip("\n"))
    parts.append(EXIT_CODES_HELP)
    return "\n\n".join(parts)


# --------------------------------------------------------------------------- value checkers

def positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def count_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {n}")
    return n


def retries_int(text: str) -> int:
    n = positive_int(text)
    if n > 50:
        raise argparse.ArgumentTypeError(f"{n} is too many; simulate at most 50 retries")
    return n


_AGE = r"(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)"


def when_epoch(text: str) -> float | None:
    """--since/--until as epoch seconds: an ISO date or time (UTC unless it says otherwise) or
    an age back from now (30m, 12h, 7d, 2w); None if it is neither."""
    import re
    import time

    from .._time import parse_ts
    s = text.strip()
    m = re.fullmatch(_AGE, s, re.I)
    if m:
        return time.time() - float(m.group(1)) * {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400,
                                                   "w": 604800}[m.group(2).lower()]
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        return parse_ts(s + "T00:00:00Z")
    if re.match(r"^\d{4}-\d{2}-\d{2}[T ]", s):
        return parse_ts(s)
    return None


def time_bound(text: str) -> str:
    """Check a --since/--until value at parse time (exit 2 if it is not a time); the report
    engine interprets it (a bare date given to --until includes that day)."""
    if when_epoch(text) is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time; use a date (2026-11-23), a UTC time (2026-11-23T10:00:00Z) "
            "or an age back from now (30m, 12h, 7d, 2w)")
    return text.strip()


def key_list(text: str) -> list[str]:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    if not keys:
        raise argparse.ArgumentTypeError("give a key such as model, trace, name, provider or a metadata key")
    return keys


def metadata_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (for example team=search)")
    return key.strip(), value


def non_blank(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


# --------------------------------------------------------------------------- the commands

DESCRIPTION = """\
Record what every OpenAI and Anthropic call costs, and find where the money is wasted.

Commands:
  demo       run the real openai and anthropic clients against a fake API and report
  report     cost totals, breakdowns and waste findings (alias: analyze)
  log        write one event by hand, or simulate retries / fallbacks / overkill
  export     the prompt logger's exports (models, prompts) from a SQLite database
  pricing    list, show or init the price tables

Run `tokentrail COMMAND --help` for a command's flags and an example."""


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    p = _Parser(prog="tokentrail", description=DESCRIPTION, formatter_class=_Formatter,
                epilog=_epilog("tokentrail demo\ntokentrail report tokentrail.jsonl --by model --by metadata.team"))
    p.add_argument("--version", action="version", version=f"tokentrail {__version__}")
    sub = p.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    _add_demo(sub)
    _add_report(sub)
    _add_log(sub)
    _add_export(sub)
    _add_pricing(sub)
    _add_db(sub)
    return p


def _cmd(sub: Any, name: str, help: str, description: str, example: str, extra: str = "",
         aliases: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=description, aliases=list(aliases),
                          epilog=_epilog(example, extra), formatter_class=_Formatter)


def _add_demo(sub: Any) -> None:
    c = _cmd(sub, "demo", "run the real SDK clients against a fake API and print the report",
             "Run the real `openai` and `anthropic` clients, attached, against an in-process fake API\n"
             "(no key, no network): plain calls, an OpenAI stream without include_usage, Anthropic streams\n"
             "with prompt caching, a Responses API call, an embedding, a retry loop, a 429 followed by a\n"
             "fallback, an expensive model asked \"hi\" and a @capture function, under traces with\n"
             "team/route metadata. The events go to the sink (namespace \"demo\"), then the report of\n"
             "this run is printed.",
             "tokentrail demo\ntokentrail demo --sink sqlite:///demo.db --format json\n"
             "tokentrail report tokentrail.jsonl --namespace demo --by metadata.team")
    c.add_argument("--sink", metavar="SINK",
                   help="where the events go: a .jsonl path, sqlite:///file.db or stdout "
                        "(default: TOKENTRAIL_SINK or tokentrail.jsonl)")
    c.add_argument("--format", choices=FORMATS, default="table", help="format of the report (default: table)")
    c.add_argument("-q", "--quiet", action="store_true", help="print only the path of what was written")
    c.add_argument("--html", nargs="?", const="tokentrail-report.html", metavar="FILE",
                   help="also write the run's report as a self-contained HTML page with charts and print its "
                        "path (default FILE: tokentrail-report.html; needs tokentrail[html])")
    c.set_defaults(run=_lazy("_demo"))


def _add_report(sub: Any) -> None:
    c = _cmd(sub, "report", "cost totals, breakdowns and waste findings (alias: analyze)",
             "Totals, cost by model / trace / name / any metadata key, latency, and waste findings\n"
             "(retry loops, fallback storms, overkill, unpriced models, cache savings) of event logs.\n"
             "Malformed lines are reported with their line number and skipped.",
             "tokentrail report tokentrail.jsonl --by model --by metadata.team --since 7d\n"
             "tokentrail report sqlite:///calls.db --format json --fail-on waste\n"
             "tokentrail report tokentrail.jsonl --by model,metadata.team --html report.html",
             "INPUT is a JSONL file written by tokentrail (a glob such as 'logs/*.jsonl', a .gz file,\n"
             "'-' for standard input) or sqlite:///file.db; the default is TOKENTRAIL_SINK or\n"
             "tokentrail.jsonl. --since/--until take a date (2026-11-23), a UTC time\n"
             "(2026-11-23T10:00:00Z) or a duration back from now (30m, 24h, 7d).",
             aliases=("analyze",))
    c.add_argument("inputs", nargs="*", metavar="INPUT", help="event logs (default: tokentrail.jsonl)")
    c.add_argument("--by", action="append", type=key_list, metavar="KEY",
                   help="group costs by KEY: model, provider, trace, name, day, hour, month, namespace, "
                        "status or metadata.KEY (repeatable or comma-separated; default: model)")
    c.add_argument("--model", type=non_blank, help="only calls to this model (comma-separated for several)")
    c.add_argument("--trace-id", type=non_blank, metavar="ID", help="only the calls of this trace")
    c.add_argument("--since", type=time_bound, metavar="TIME", help="only calls that started at or after TIME")
    c.add_argument("--until", type=time_bound, metavar="TIME",
                   help="only calls that started before TIME (a bare date includes that day)")
    c.add_argument("--namespace", type=non_blank, metavar="NS", help="only events of this namespace")
    c.add_argument("--reprice", action="store_true",
                   help="recompute every cost from the current price tables instead of the logged cost")
    c.add_argument("--pricing", metavar="FILE", help="a price override file (YAML) to price with (see --reprice)")
    c.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    c.add_argument("--html", metavar="FILE",
                   help="also write a self-contained HTML page with charts (works offline) to FILE; the report "
                        "is still printed; without --by the page shows model and provider (needs "
                        "tokentrail[html])")
    c.add_argument("--top", type=count_int, default=10, metavar="N",
                   help="how many of the most expensive traces to list (default: 10)")
    c.add_argument("--fail-on", choices=("waste",), metavar="waste",
                   help="exit 1 when waste is found (for CI); findings never change the exit code otherwise")
    c.set_defaults(run=_lazy("_report"))


def _add_log(sub: Any) -> None:
    c = _cmd(sub, "log", "write one event by hand, or simulate retries / fallbacks / overkill",
             "Write one event (the earlier cost logger's interface), priced from the tables. Without\n"
             "--prompt-tokens/--completion-tokens the usage is estimated from the text (about 4\n"
             "characters per token; exact with tiktoken installed) and marked usage.estimated.\n"
             "Simulations write realistic sequences under one trace, seconds apart, that both\n"
             "`tokentrail report` and `crashlens scan` recognise:\n"
             "  --simulate-retries N  N failed attempts (RateLimitError 429) with exponential backoff\n"
             "                        (2, 4, 8 s...), then a success: N+1 events (N >= 3 for a loop)\n"
             "  --simulate-fallback   gpt-3.5-turbo fails, gpt-4 fails, then --model (or gpt-4o) answers\n"
             "  --simulate-overkill   an expensive model (--model if it is one, else gpt-4) asked \"Hi\"\n"
             "  --demo                a small canned mix of the three",
             'tokentrail log --model gpt-4o --prompt "Summarize the Q3 report" --response "Revenue grew 8%"\n'
             'tokentrail log --model gpt-4 --prompt "Summarize the Q3 report" --simulate-retries 3\n'
             "tokentrail log --demo --output simulated.jsonl && tokentrail report simulated.jsonl")
    c.add_argument("--model", type=non_blank, help="the model asked (required unless --demo or --simulate-overkill)")
    c.add_argument("--prompt", help="the prompt text (required unless --demo or --simulate-overkill)")
    c.add_argument("--response", help="the response text (sets the completion token estimate)")
    c.add_argument("--trace-id", type=non_blank, metavar="ID", help="traceId to use (default: a new uuid4)")
    c.add_argument("--output", metavar="FILE",
                   help="where to append: a .jsonl path or sqlite:///file.db "
                        "(default: TOKENTRAIL_SINK or tokentrail.jsonl)")
    c.add_argument("--config", metavar="FILE", help="price override file (tokentrail YAML or the earlier formats)")
    c.add_argument("--prompt-tokens", type=count_int, metavar="N", help="exact prompt tokens instead of an estimate")
    c.add_argument("--completion-tokens", type=count_int, metavar="N",
                   help="exact completion tokens instead of an estimate")
    c.add_argument("--metadata", action="append", type=metadata_pair, metavar="KEY=VALUE",
                   help="metadata on every event written (repeatable), e.g. team=search")
    sim = c.add_mutually_exclusive_group()
    sim.add_argument("--simulate-retries", type=retries_int, metavar="N",
                     help="simulate N failed attempts, then success")
    sim.add_argument("--simulate-fallback", action="store_true", help="simulate a fallback chain across models")
    sim.add_argument("--simulate-overkill", action="store_true", help="simulate an expensive model on a tiny prompt")
    sim.add_argument("--demo", action="store_true", help="write a canned mix of retry, fallback and overkill traces")
    c.add_argument("--dev-mode", action="store_true", help="print readable lines instead of writing anything")
    c.set_defaults(run=_lazy("_log"))


def _add_export(sub: Any) -> None:
    c = _cmd(sub, "export", "export models or prompts from a SQLite or PostgreSQL database as JSONL",
             "The earlier prompt logger's exports, from a database written by the SQLite sink:\n"
             "  models   one line per model seen (calls, tokens, cost)\n"
             "  prompts  one line per prompt/completion pair (for fine-tuning or review)",
             "tokentrail export prompts prompts.jsonl --database sqlite:///calls.db --namespace support\n"
             "tokentrail export models models.jsonl --database sqlite:///calls.db --models gpt-4o,gpt-4o-mini")
    c.add_argument("what", choices=("models", "prompts"), metavar="{models,prompts}", help="what to export")
    c.add_argument("out", metavar="OUT", help="the JSONL file to write ('-' for standard output)")
    c.add_argument("--database", required=True, metavar="URL",
                   help="the database to read: sqlite:///file.db or postgresql://user@host/db")
    c.add_argument("--namespace", type=non_blank, metavar="NS", help="only this namespace")
    c.add_argument("--models", type=key_list, metavar="A,B", help="only these models (comma-separated)")
    c.add_argument("--type", choices=("chat", "text"), help="prompts only: chat messages or plain text prompts")
    c.add_argument("--force", action="store_true",
                   help="replace OUT if it exists and is not empty (never the database itself)")
    c.set_defaults(run=_lazy("_export"))


def _add_pricing(sub: Any) -> None:
    c = _cmd(sub, "pricing", "list, show or init the price tables",
             "Inspect the price tables (USD per 1M tokens) or write an override file.",
             "tokentrail pricing list --provider anthropic\ntokentrail pricing show gpt-4o-2024-08-06\n"
             "tokentrail pricing init my-prices.yaml")
    psub = c.add_subparsers(title="pricing commands", metavar="{list,show,init}", parser_class=_Parser)
    c.set_defaults(run=_no_pricing_command)

    ls = psub.add_parser("list", help="every priced model and its rates", formatter_class=_Formatter,
                         description="Every model of the price tables (built-in plus overrides) with its rates in "
                                     "USD per 1M tokens.",
                         epilog=_epilog("tokentrail pricing list --provider openai\n"
                                        "tokentrail pricing list claude --format csv > claude-prices.csv"))
    ls.add_argument("pattern", nargs="?", metavar="PATTERN", help="only models whose id contains PATTERN")
    ls.add_argument("--provider", type=non_blank, help="only this provider (openai, anthropic, ...)")
    ls.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    ls.add_argument("--pricing", metavar="FILE", help="include this override file (default: TOKENTRAIL_PRICING)")
    ls.set_defaults(run=_lazy("_pricing", "run_list"))

    sh = psub.add_parser("show", help="how a model id resolves, and its rates", formatter_class=_Formatter,
                         description="How a model id resolves to a price entry (exact, alias, snapshot, prefix, "
                                     "bedrock, vertex, fine-tune) and every rate of that entry.",
                         epilog=_epilog("tokentrail pricing show gpt-4o-2024-08-06\n"
                                        "tokentrail pricing show us.anthropic.claude-sonnet-4-5-20250929-v1:0"))
    sh.add_argument("model", type=non_blank, metavar="MODEL", help="a model id as a call or a log names it")
    sh.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    sh.add_argument("--pricing", metavar="FILE", help="include this override file (default: TOKENTRAIL_PRICING)")
    sh.set_defaults(run=_lazy("_pricing", "run_show"))

    it = psub.add_parser("init", help="write a commented price override file", formatter_class=_Formatter,
                         description="Write a commented price override file in tokentrail's YAML format (the "
                                     "earlier `init-config`). Load it with configure(pricing=FILE), "
                                     "TOKENTRAIL_PRICING=FILE, `report --pricing FILE` or `log --config FILE`.",
                         epilog=_epilog("tokentrail pricing init\n"
                                        "tokentrail pricing init prices/overrides.yaml --force\n"
                                        "tokentrail pricing init - | less"))
    it.add_argument("file", nargs="?", default="tokentrail-pricing.yaml", metavar="FILE",
                    help="the file to write, '-' for standard output (default: tokentrail-pricing.yaml)")
    it.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    it.set_defaults(run=_lazy("_pricing", "run_init"))


def _add_db(sub: Any) -> None:
    c = _cmd(sub, "db", "create the events table in a PostgreSQL database",
             "Database commands for the PostgreSQL sink (tokentrail[postgres]).",
             "tokentrail db init postgresql://app@127.0.0.1:5432/llm")
    dsub = c.add_subparsers(title="db commands", metavar="{init}", parser_class=_Parser)
    c.set_defaults(run=_no_db_command)
    it = dsub.add_parser("init", help="create the events table and its indexes", formatter_class=_Formatter,
                         description="Create tokentrail's events table (the SQLite sink's columns) and its "
                                     "indexes in a PostgreSQL database; the sink also does this on first use.",
                         epilog=_epilog("tokentrail db init postgresql://app@127.0.0.1:5432/llm"))
    it.add_argument("url", type=non_blank, metavar="URL", help="postgresql://user@host[:port]/database")
    it.set_defaults(run=_lazy("_db"))


def _no_db_command(args: argparse.Namespace) -> int:
    raise UsageError("choose a db command: init (see tokentrail db --help)")


def _no_pricing_command(args: argparse.Namespace) -> int:
    raise UsageError("choose a pricing command: list, show or init (see tokentrail pricing --help)")
