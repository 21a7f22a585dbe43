"""``tokentrail pricing list | show MODEL | init [FILE]``."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import tempfile
import time
from decimal import Decimal
from typing import Any

from ._common import use_pricing
from ._errors import CliError, UsageError
from ._output import rate, table, to_csv, to_json

RATE_NOTE = "USD per 1M tokens; '-' = no separate rate (billed at the input rate)."


def _table_now(args: argparse.Namespace) -> Any:
    from .._config import price_table
    use_pricing(getattr(args, "pricing", None), "--pricing")
    return price_table()


def _f(d: Decimal | None) -> float | None:
    return None if d is None else float(d)


def _rates_dict(r: Any) -> dict:
    return {"input": _f(r.input), "output": _f(r.output), "cached_input": _f(r.cached_input),
            "cache_write_5m": _f(r.cache_write), "cache_write_1h": _f(r.cache_write_1h)}


def entry_dict(e: Any) -> dict:
    d: dict = {"model": e.key, "provider": e.provider, **_rates_dict(e.rates)}
    d["long_context"] = ({"threshold": e.long_context_threshold, **_rates_dict(e.long_context)}
                         if e.long_context is not None and e.long_context_threshold else None)
    d["batch"] = _rates_dict(e.batch) if e.batch is not None else None
    d["tiers"] = {name: _tier_dict(t) for name, t in e.tiers} or None
    d["geo"] = {region: float(m) for region, m in e.geo} or None
    d["aliases"] = list(e.aliases)
    d["checked"] = e.checked or None
    d["source"] = "builtin" if e.origin == "builtin" else e.origin
    return d


def _tier_dict(t: Any) -> dict:
    """A service tier's rates; its long-context threshold None = the model's."""
    d = _rates_dict(t.rates)
    if t.long_context is not None:
        d["long_context"] = {"threshold": t.long_context_threshold, **_rates_dict(t.long_context)}
    if t.multiplier is not None:
        d["multiplier"] = float(t.multiplier)
    return d


def _tier(e: Any) -> str:
    if e.long_context is None or not e.long_context_threshold:
        return "-"
    t = e.long_context_threshold
    size = f"{t // 1000}k" if t % 1000 == 0 else str(t)
    return f">{size}: {rate(e.long_context.input)}/{rate(e.long_context.output)}"


def _batch(e: Any) -> str:
    return "-" if e.batch is None else f"{rate(e.batch.input)}/{rate(e.batch.output)}"


# --------------------------------------------------------------------------- list

def run_list(args: argparse.Namespace) -> int:
    entries = _table_now(args).entries()
    if args.provider:
        providers = sorted({e.provider for e in entries})
        wanted = args.provider.strip().lower()
        if wanted not in {p.lower() for p in providers}:
            raise UsageError(f"--provider: no provider {args.provider!r} in the price tables; "
                             f"choose one of {', '.join(providers)}")
        entries = [e for e in entries if e.provider.lower() == wanted]
    if args.pattern:
        pat = args.pattern.lower()
        entries = [e for e in entries if pat in e.key.lower() or any(pat in a.lower() for a in e.aliases)]
        if not entries:
            raise CliError(f"no priced model id contains {args.pattern!r}; "
                           "`tokentrail pricing list` shows them all")
    if args.format == "json":
        print(to_json([entry_dict(e) for e in entries]))
        return 0
    if args.format == "csv":
        headers = ["model", "provider", "input", "output", "cached_input", "cache_write_5m", "cache_write_1h",
                   "long_context_threshold", "long_context_input", "long_context_output", "batch_input",
                   "batch_output", "tiers", "aliases", "checked", "source"]
        rows = []
        for e in entries:
            r, lc, b = e.rates, e.long_context, e.batch
            rows.append([e.key, e.provider, rate(r.input), rate(r.output), _opt(r.cached_input),
                         _opt(r.cache_write), _opt(r.cache_write_1h),
                         e.long_context_threshold if lc is not None else "",
                         rate(lc.input) if lc is not None else "", rate(lc.output) if lc is not None else "",
                         rate(b.input) if b is not None else "", rate(b.output) if b is not None else "",
                         " ".join(name for name, _ in e.tiers), " ".join(e.aliases), e.checked,
                         "builtin" if e.origin == "builtin" else e.origin])
        print(to_csv(headers, rows))
        return 0
    rows = [[e.key, e.provider, rate(e.rates.input), rate(e.rates.output), rate(e.rates.cached_input),
             rate(e.rates.cache_write), rate(e.rates.cache_write_1h), _tier(e), _batch(e),
             " ".join(name for name, _ in e.tiers) or "-"] for e in entries]
    print(table(["MODEL", "PROVIDER", "INPUT", "OUTPUT", "CACHED IN", "WRITE 5M", "WRITE 1H",
                 "LONG CONTEXT in/out", "BATCH in/out", "TIERS"], rows, right=(2, 3, 4, 5, 6)))
    print(f"\n{len(entries)} models. {RATE_NOTE}")
    return 0


def _opt(d: Decimal | None) -> str:
    return "" if d is None else rate(d)


# --------------------------------------------------------------------------- show

def resolution_steps(t: Any, model: str) -> list[dict]:
    """Each id tried for ``model``, how it was derived, and what (if anything) it matched."""
    return t.resolution_steps(model)


def run_show(args: argparse.Namespace) -> int:
    t = _table_now(args)
    model = args.model.strip()
    entry, how = t.resolve(model)
    steps = resolution_steps(t, model)
    if entry is None:
        tried = ", ".join(dict.fromkeys(s["id"] for s in steps))
        ids = [e.key for e in t.entries()] + [a for e in t.entries() for a in e.aliases]
        close = difflib.get_close_matches(model.lower(), ids, n=3, cutoff=0.6)
        if args.format == "json":
            print(to_json({"model": model, "resolved": None, "rule": "unknown", "tried": steps,
                           "similar": close}))
        d = t.default
        hint = f"; similar ids: {', '.join(close)}" if close else ""
        raise CliError(f"no price for model {model!r} (tried {tried}): it is priced at the default rate "
                       f"(input {rate(d.input)}, output {rate(d.output)} per 1M) and marked pricing: unknown"
                       f"{hint}; add it to an override file (`tokentrail pricing init`)")
    if args.format == "json":
        print(to_json({"model": model, "resolved": entry.label, "rule": how, "tried": steps,
                       "entry": entry_dict(entry)}))
        return 0
    out = [f"{model}", f"  resolves to  {entry.label}  (rule: {how})"]
    if how == "fine-tune base":
        out.append("  no fine-tuned rate in the price tables: priced at the base model's rates, but OpenAI bills "
                   "fine-tuned models higher; add its rate to a price file keyed by its ft: id")
    out += ["", "  tried:"]
    w = max(len(s["id"]) for s in steps)
    for n, s in enumerate(steps, 1):
        result = f"matched {s['matched']}" if s["matched"] else "no entry"
        out.append(f"    {n}. {s['id'].ljust(w)}  {s['rule']:<18} {result}")
    r = entry.rates
    out += ["", "  rates (USD per 1M tokens):"]
    out += _rate_lines(r, "    ")
    if entry.long_context is not None and entry.long_context_threshold:
        out.append(f"    long context   prompts over {entry.long_context_threshold:,} tokens "
                   "price the whole request at:")
        out += _rate_lines(entry.long_context, "      ")
    else:
        out.append("    long context   -")
    if entry.batch is not None:
        out.append("    batch API:")
        out += _rate_lines(entry.batch, "      ")
    else:
        out.append("    batch API      -")
    for name, tier in entry.tiers:
        times = f" ({rate(tier.multiplier)} x the standard rates)" if tier.multiplier is not None else ""
        out.append(f"    {name} tier{times}:")
        out += _rate_lines(tier.rates, "      ")
        if tier.long_context is not None:
            threshold = tier.long_context_threshold or entry.long_context_threshold
            out.append(f"      long context   prompts over {threshold:,} tokens:")
            out += _rate_lines(tier.long_context, "        ")
    if entry.geo:
        out.append("    regional       " + ", ".join(f"{r}: x{rate(m)}" for r, m in entry.geo) + " (every rate)")
    out.append("")
    out.append(f"  aliases   {', '.join(entry.aliases) if entry.aliases else '-'}")
    out.append(f"  checked   {entry.checked or '-'}")
    src = "built-in price tables" if entry.origin == "builtin" else f"override file {entry.origin}"
    out.append(f"  source    {src}")
    print("\n".join(out))
    return 0


def _rate_lines(r: Any, indent: str) -> list[str]:
    inherited = " (= input)"
    return [
        f"{indent}{'input':<22}{rate(r.input)}",
        f"{indent}{'output':<22}{rate(r.output)}",
        f"{indent}{'cached input':<22}" + (rate(r.cached_input) if r.cached_input is not None
                                            else rate(r.input) + inherited),
        f"{indent}{'cache write 5m':<22}" + (rate(r.cache_write) if r.cache_write is not None
                                              else rate(r.input) + inherited),
        f"{indent}{'cache write 1h':<22}" + (rate(r.cache_write_1h) if r.cache_write_1h is not None
                                              else (rate(r.cache_write) + " (= 5m)" if r.cache_write is not None
                                                    else rate(r.input) + inherited)),
    ]


# --------------------------------------------------------------------------- init

TEMPLATE = """\
# tokentrail price overrides, in USD per 1M tokens.
#
# Load this file with any of:
#   tokentrail.configure(pricing="{name}")
#   TOKENTRAIL_PRICING={name}                      (environment variable)
#   tokentrail report --reprice --pricing {name}
#   tokentrail log --config {name} ...
# Check the result with `tokentrail pricing show MODEL --pricing {name}`.
#
# Entries are merged over the built-in tables (`tokentrail pricing list`): an entry for a
# known model, or for one of its snapshots or aliases (gpt-4o-2024-08-06), changes only the
# fields it names and keeps the rest; a new id adds a model. Fields:
#   input, output     input (prompt) and output (completion) tokens; required for a new model
#   cached_input      cache reads (OpenAI cached_tokens, Anthropic cache_read_input_tokens)
#   cache_write_5m    cache writes (Anthropic 5-minute TTL; OpenAI cache writes)
#   cache_write_1h    Anthropic 1-hour cache writes
#   long_context      {{threshold: N, input: .., output: ..}}: rates for the whole request when
#                     its prompt has more than N tokens
#   batch             {{input: .., output: ..}}: Batch API rates
#   flex, priority,   rates for the service tier the provider reports (OpenAI service_tier;
#   fast, ultrafast,  Anthropic speed: fast), shaped like batch, plus the tier's own
#   scale             long_context: {{input: .., output: ..}} above the model's threshold; or
#                     {{multiplier: 2}}: every standard rate times 2. A rate left out is the standard one
#   geo               {{us: 1.1}}: per region (Anthropic inference_geo; OpenAI data residency),
#                     a multiplier of every rate
#   aliases           other ids priced as this model (deployment names): a list, or one id
#   provider          openai, anthropic, or your own label
#   checked           the date you checked the price
# In a new model, a rate that is left out falls back to the input rate (cached_input,
# cache_write_5m) or to the 5m rate (cache_write_1h). A misspelled field is an error.
#
# The earlier tools' formats load too (use one format per file):
#   pricing:
#     gpt-4: {{input_rate_per_1m: 30.0, output_rate_per_1m: 60.0}}      # cost logger, per 1M
#     gpt-4: {{input_price_per_1k: 0.03, output_price_per_1k: 0.06}}    # prompt logger, per 1K

models:
  # A model the built-in tables do not know, e.g. one you host yourself:
  my-company/llama-3.1-70b:
    provider: self-hosted
    input: 0.6
    output: 0.8
    aliases: [llama-70b-prod]
    checked: "{today}"

  # A negotiated rate for a known model (uncomment to use; only the fields named change):
  # gpt-4o:
  #   input: 2.0
  #   output: 8.0

  # An Azure deployment name, priced like the model behind it:
  # support-gpt4o-eu:
  #   provider: openai
  #   input: 2.5
  #   output: 10
  #   cached_input: 1.25

  # A fine-tuned model (OpenAI bills fine-tunes above their base model; keyed by the ft: id,
  # or by ft:<base> for every fine-tune of that base):
  # ft:gpt-4.1-mini-2025-04-14:my-org::abc123:
  #   input: 0.8
  #   output: 3.2
  #   cached_input: 0.2

  # Negotiated service-tier rates for a known model:
  # gpt-5:
  #   flex: {{input: 0.6, output: 4.8, cached_input: 0.06}}
  #   priority: {{multiplier: 1.8}}

  # A full entry with every kind of rate:
  # claude-sonnet-4-6:
  #   input: 3
  #   output: 15
  #   cached_input: 0.3
  #   cache_write_5m: 3.75
  #   cache_write_1h: 6
  #   long_context: {{threshold: 200000, input: 6, output: 22.5, cached_input: 0.6}}
  #   batch: {{input: 1.5, output: 7.5}}
  #   fast: {{input: 6, output: 30, cached_input: 0.6}}
  #   geo: {{us: 1.1}}
"""


def _template(name: str) -> str:
    return TEMPLATE.format(name=name, today=time.strftime("%Y-%m-%d", time.gmtime()))


def run_init(args: argparse.Namespace) -> int:
    from .._pricing import PricingError, parse_price_file
    path = args.file
    if not path.strip():
        raise UsageError("give a file name to write, e.g. tokentrail-pricing.yaml")
    if path == "-":     # as everywhere in the CLI: standard output (`init - > prices.yaml`, or a pipe)
        sys.stdout.write(_template("my_prices.yaml"))
        return 0
    if os.path.isdir(path):
        raise CliError(f"{path!r} is a directory; give a file name such as "
                       f"{os.path.join(path, 'tokentrail-pricing.yaml')}")
    if os.path.exists(path) and not args.force:
        raise CliError(f"{path!r} already exists; pass --force to overwrite it, or give another file name")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise CliError(f"cannot write {path!r}: the directory {os.path.dirname(path) or parent!r} does not exist")
    text = _template(os.path.basename(path))
    fd, tmp = tempfile.mkstemp(prefix=".tokentrail-pricing-", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        parse_price_file(tmp)          # the file must load; a broken template is a bug
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except (OSError, PricingError):
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    sys.stdout.write(f"Wrote {path}. Edit it, then load it with configure(pricing={path!r}), "
                     f"TOKENTRAIL_PRICING={path} or `tokentrail report --reprice --pricing {path}`.\n")
    return 0
