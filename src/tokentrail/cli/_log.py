"""``tokentrail log``: write one event by hand, or a simulated retry loop / fallback / overkill.

Events are built by :func:`tokentrail.log_event` (so the price tables set ``cost``) and
then written synchronously to ``--output``, so a write failure is reported here with
one sentence instead of by the background writer after the command has printed success.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import check_writable_sink, chosen_sink, resolve_sink_spec, use_pricing
from ._errors import CliError, UsageError
from ._output import usd

OVERKILL_DEFAULT_MODEL = "gpt-4"
OVERKILL_DEFAULT_PROMPT = "Hi"
OVERKILL_DEFAULT_RESPONSE = "Hello! How can I help you today?"
SIMULATED_RESPONSE = "This is a simulated response for: {prompt!r}"


class _Discard:
    """log_event needs a sink; the CLI writes the returned events itself."""

    def write(self, event: dict) -> None:
        pass


def run(args: argparse.Namespace) -> int:
    import tokentrail
    from .. import _simulate as sim

    if args.demo:
        if args.trace_id:
            raise UsageError("--trace-id cannot be combined with --demo (the demo writes several traces)")
    elif not args.simulate_overkill:    # overkill defaults to gpt-4 and "Hi"
        missing = [f for f, v in (("--model", args.model), ("--prompt", args.prompt)) if v is None]
        if missing:
            raise UsageError(f"log needs {' and '.join(missing)} (or --demo for a canned example)")
        if not args.prompt.strip():
            raise UsageError("--prompt is empty; give the prompt text that was sent")

    use_pricing(args.config, "--config")
    tokentrail.configure(enabled=True)      # an explicit `log` writes even if TOKENTRAIL_DISABLED is set

    sink = None
    target, where = chosen_sink(args.output, "--output")
    if not args.dev_mode:
        sink = resolve_sink_spec(target, where)
        check_writable_sink(sink, where)

    metadata = dict(args.metadata or [])
    counts = {"prompt_tokens": args.prompt_tokens, "completion_tokens": args.completion_tokens}
    if args.demo:
        scenarios = sim.demo_mix()
    elif args.simulate_retries:
        response = args.response if args.response is not None else SIMULATED_RESPONSE.format(prompt=_short(args.prompt))
        if args.simulate_retries < 3:
            _note(f"{args.simulate_retries + 1} attempts; detectors call it a retry loop from 4 attempts "
                  "(--simulate-retries 3)")
        scenarios = [sim.retries(args.model, args.prompt, response, args.simulate_retries,
                                 trace_id=args.trace_id, **counts)]
    elif args.simulate_fallback:
        response = args.response if args.response is not None else SIMULATED_RESPONSE.format(prompt=_short(args.prompt))
        scenarios = [sim.fallback(args.model, args.prompt, response, trace_id=args.trace_id, **counts)]
    elif args.simulate_overkill:
        model = args.model or OVERKILL_DEFAULT_MODEL
        prompt = args.prompt if args.prompt is not None else OVERKILL_DEFAULT_PROMPT
        if not sim.is_overkill_model(model):
            _note(f"--simulate-overkill uses {OVERKILL_DEFAULT_MODEL} instead of {model} "
                  "(both detectors must see an expensive model: gpt-4, gpt-4o, gpt-4-turbo, claude-3-opus...)")
            model = OVERKILL_DEFAULT_MODEL
        if not sim.is_short_prompt(prompt):
            _note(f"--simulate-overkill uses the prompt {OVERKILL_DEFAULT_PROMPT!r}: the given prompt is too long "
                  "for an overkill call")
            prompt = OVERKILL_DEFAULT_PROMPT
        response = args.response if args.response is not None else OVERKILL_DEFAULT_RESPONSE
        scenarios = [sim.overkill(model, prompt, response, trace_id=args.trace_id, **counts)]
    else:
        scenarios = [sim.single(args.model, args.prompt, args.response or "", trace_id=args.trace_id, **counts)]

    events: list[dict] = []
    for sc in scenarios:
        events.extend(sim.record(sc, sink=_Discard(), metadata=metadata))

    if args.dev_mode:
        _print_dev(events)
        return 0
    _write(sink, events, target)
    out = sys.stderr if _is_stdout(sink) else sys.stdout
    for ev in events:
        out.write(f"Logged: model={ev['input']['model']}, traceId={ev['traceId']}, cost={usd(ev['cost'])}\n")
    n = len(events)
    out.write(f"Wrote {n} event{'s' if n != 1 else ''} to {target}\n")
    return 0


def _write(sink: Any, events: list[dict], target: str) -> None:
    import sqlite3
    try:
        wb = getattr(sink, "write_batch", None)
        if wb is not None:
            wb(events)
        else:
            for ev in events:
                sink.write(ev)
        flush = getattr(sink, "flush", None)
        if flush is not None:
            flush()
    except OSError as e:
        raise CliError(f"cannot write to {target!r}: {e.strerror or e}") from None
    except sqlite3.Error as e:
        raise CliError(f"cannot write to {target!r}: {e}") from None
    finally:
        close = getattr(sink, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                pass


def _is_stdout(sink: Any) -> bool:
    from .._sinks import StdoutSink
    return isinstance(sink, StdoutSink)


def _short(text: str, n: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _note(msg: str) -> None:
    sys.stderr.write(f"tokentrail: note: {msg}\n")


def _print_dev(events: list[dict]) -> None:
    """--dev-mode: one readable block per event; nothing is written."""
    w = sys.stdout.write
    total = 0.0
    for n, ev in enumerate(events, 1):
        u = ev.get("usage") or {}
        est = " (estimated)" if u.get("estimated") else ""
        status = "ok"
        if ev.get("error"):
            err = ev["error"]
            status = f"ERROR {err.get('type')}" + (f" ({err['status_code']})" if err.get("status_code") else "")
        extra = []
        if ev.get("retry_attempt"):
            extra.append(f"retry #{ev['retry_attempt']}")
        if ev.get("fallback_model"):
            extra.append(f"fallback from {ev['fallback_model']}")
        w(f"[{n}] {ev['startTime']}  trace {ev['traceId']}\n")
        w(f"    model     {ev['input']['model']}  {status}" + (f"  [{', '.join(extra)}]" if extra else "") + "\n")
        w(f"    tokens    prompt {u.get('prompt_tokens', 0)}, completion {u.get('completion_tokens', 0)}{est}\n")
        w(f"    cost      {usd(ev['cost'])}   latency {ev.get('latency_ms', 0)} ms   pricing {ev.get('pricing')}\n")
        w(f"    prompt    {_short(ev['input'].get('prompt') or '', 100)}\n")
        resp = (ev.get("output") or {}).get("response")
        if resp:
            w(f"    response  {_short(resp, 100)}\n")
        total += float(ev.get("cost") or 0)
    w(f"dev mode: {len(events)} event{'s' if len(events) != 1 else ''}, {usd(total)} in total; nothing was written\n")
