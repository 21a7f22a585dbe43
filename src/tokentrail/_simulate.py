"""Simulated call sequences for ``tokentrail log``: retry loops, fallback chains, overkill.

Each scenario is a list of attempts under one traceId, timestamped seconds apart the
way a real client would produce them (a failed attempt, a backoff sleep, the next
attempt), ending at ``end`` (default: now). :func:`record` writes them through
:func:`tokentrail.log_event` inside a :class:`tokentrail.trace`, so costs come from
the price tables and ``retry_attempt`` / ``fallback_model`` / ``metadata.fallback_*``
are set by the same bookkeeping as for real calls.

What the sequences must trigger (notes/crashlens-contract.md):

- retry loop: >= 4 identical attempts (same model and prompt) < 2 min apart, with
  exponential backoff and small/zero completions;
- fallback: >= 3 calls, >= 2 models, within 3 min, including a cheap -> expensive pair
  (gpt-3.5-turbo -> gpt-4) with the same prompt;
- overkill: an expensive model (its name contains gpt-4, claude-3-opus, ...) on a short,
  simple prompt.

Token counts not given are estimated from the text (:mod:`tokentrail._estimate`:
about 4 characters per token) and marked ``usage.estimated``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ._estimate import estimate_tokens
from ._ids import new_id

__all__ = ["Attempt", "Scenario", "single", "retries", "fallback", "overkill", "demo_mix", "record",
           "is_overkill_model", "is_short_prompt", "FALLBACK_CHAIN"]

#: Model names the crashlens overkill detector treats as expensive (substring match).
OVERKILL_NAMES = ("gpt-4", "claude-2", "claude-3-opus", "claude-3-sonnet")
#: The fallback chain: a cheap model, then an expensive one, then the model that answers.
FALLBACK_CHAIN = ("gpt-3.5-turbo", "gpt-4")
OVERKILL_MIN_PRICE = 5.0   # USD per 1M, input + output
FALLBACK_FINAL = "gpt-4o"

_FAIL_LATENCY = (0.31, 0.27, 0.35, 0.29, 0.33, 0.28)   # a 429 comes back fast
_MAX_GAP = 64.0                                        # backoff cap, seconds

RATE_LIMIT = {"type": "RateLimitError", "status_code": 429}
SERVER_ERROR = {"type": "InternalServerError", "status_code": 500}


@dataclass
class Attempt:
    """One simulated call; ``start`` is relative to the scenario's first call until placed."""

    model: str
    prompt: str
    response: str
    start: float
    latency: float
    usage: dict
    error: dict | None = None


@dataclass
class Scenario:
    kind: str                       # "single", "retry_loop", "fallback", "overkill"
    trace_id: str
    attempts: list[Attempt] = field(default_factory=list)


def usage_for(model: str, prompt: str, response: str, prompt_tokens: int | None = None,
              completion_tokens: int | None = None) -> dict:
    """The usage block of an attempt: given counts, else estimates (marked ``estimated``)."""
    p = estimate_tokens(prompt, model) if prompt_tokens is None else prompt_tokens
    c = estimate_tokens(response, model) if completion_tokens is None else completion_tokens
    u = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
    if prompt_tokens is None or (completion_tokens is None and response):
        u["estimated"] = True
    return u


def _success_latency(usage: dict) -> float:
    return round(min(0.45 + 0.015 * usage["completion_tokens"], 20.0), 3)


def _error(kind: dict, model: str) -> dict:
    if kind["status_code"] == 429:
        msg = (f"Rate limit reached for {model} in organization org-simulated on requests per min (RPM): "
               "Limit 500, Used 500, Requested 1. Please try again in 2s. (simulated by tokentrail log)")
    else:
        msg = "The server had an error while processing your request. Sorry about that! (simulated by tokentrail log)"
    return {**kind, "message": msg}


def _place(sc: Scenario, end: float | None) -> Scenario:
    """Shift relative start times so that the last attempt ends at ``end`` (default: now)."""
    end = time.time() if end is None else end
    last = max(a.start + a.latency for a in sc.attempts)
    base = end - last
    for a in sc.attempts:
        a.start = round(base + a.start, 3)
    return sc


def single(model: str, prompt: str, response: str = "", *, trace_id: str | None = None,
           prompt_tokens: int | None = None, completion_tokens: int | None = None,
           end: float | None = None) -> Scenario:
    """One successful call."""
    u = usage_for(model, prompt, response, prompt_tokens, completion_tokens)
    a = Attempt(model, prompt, response, 0.0, _success_latency(u), u)
    return _place(Scenario("single", trace_id or new_id(), [a]), end)


def retries(model: str, prompt: str, response: str, n: int, *, trace_id: str | None = None,
            prompt_tokens: int | None = None, completion_tokens: int | None = None,
            end: float | None = None) -> Scenario:
    """``n`` attempts failing with 429 (backoff 2, 4, 8... s, capped at 64 s), then a success."""
    sc = Scenario("retry_loop", trace_id or new_id())
    t, gap = 0.0, 2.0
    failed_usage = usage_for(model, prompt, "", prompt_tokens, 0)
    for k in range(n):
        lat = _FAIL_LATENCY[k % len(_FAIL_LATENCY)]
        sc.attempts.append(Attempt(model, prompt, "", t, lat, dict(failed_usage), _error(RATE_LIMIT, model)))
        t += lat + gap
        gap = min(gap * 2, _MAX_GAP)
    u = usage_for(model, prompt, response, prompt_tokens, completion_tokens)
    sc.attempts.append(Attempt(model, prompt, response, t, _success_latency(u), u))
    return _place(sc, end)


def fallback_models(model: str) -> tuple[str, str, str]:
    final = model if model not in FALLBACK_CHAIN else FALLBACK_FINAL
    return FALLBACK_CHAIN[0], FALLBACK_CHAIN[1], final


def fallback(model: str, prompt: str, response: str, *, trace_id: str | None = None,
             prompt_tokens: int | None = None, completion_tokens: int | None = None,
             end: float | None = None) -> Scenario:
    """gpt-3.5-turbo is rate-limited, gpt-4 errors, then ``model`` (or gpt-4o) answers; same prompt."""
    cheap, expensive, final = fallback_models(model)
    sc = Scenario("fallback", trace_id or new_id())
    t = 0.0
    for m, err, lat, gap in ((cheap, RATE_LIMIT, 0.29, 1.0), (expensive, SERVER_ERROR, 1.84, 1.5)):
        u = usage_for(m, prompt, "", prompt_tokens, 0)
        sc.attempts.append(Attempt(m, prompt, "", t, lat, u, _error(err, m)))
        t += lat + gap
    u = usage_for(final, prompt, response, prompt_tokens, completion_tokens)
    sc.attempts.append(Attempt(final, prompt, response, t, _success_latency(u), u))
    return _place(sc, end)


def is_overkill_model(model: str) -> bool:
    """Expensive for both detectors: crashlens matches the name (so ``gpt-4o-mini`` would do
    for it), ``tokentrail report`` compares prices, so input + output must also cost at
    least $5 per 1M tokens (>= 5x the cheapest chat model of OpenAI and of Anthropic)."""
    from ._config import price_table
    m = model.lower()
    if not any(name in m for name in OVERKILL_NAMES):
        return False
    entry, _ = price_table().resolve(model)
    return entry is not None and float(entry.rates.input + entry.rates.output) >= OVERKILL_MIN_PRICE


def is_short_prompt(prompt: str) -> bool:
    """Short and simple the way the detectors see it: <= 20 tokens by words*0.75, < 150
    characters, no code fence, at most 3 newlines."""
    return (bool(prompt.strip()) and int(len(prompt.split()) * 0.75) <= 20 and len(prompt) < 150
            and "```" not in prompt and prompt.count("\n") <= 3)


def overkill(model: str, prompt: str, response: str, *, trace_id: str | None = None,
             prompt_tokens: int | None = None, completion_tokens: int | None = None,
             end: float | None = None) -> Scenario:
    """One call of an expensive model on a tiny prompt (callers pick model and prompt)."""
    u = usage_for(model, prompt, response, prompt_tokens, completion_tokens)
    a = Attempt(model, prompt, response, 0.0, _success_latency(u), u)
    return _place(Scenario("overkill", trace_id or new_id(), [a]), end)


def demo_mix(*, end: float | None = None) -> list[Scenario]:
    """The canned mix of ``tokentrail log --demo``: a retry loop, a fallback chain, an overkill call."""
    end = time.time() if end is None else end
    return [
        retries("gpt-4o-mini", "Summarize the quarterly sales report for the EMEA region in three bullet points.",
                "- Revenue up 8% QoQ\n- Germany and France lead growth\n- Margins flat at 31%", 3, end=end - 300),
        fallback("gpt-4o", "Classify this support ticket: 'My invoice shows the wrong VAT number.'",
                 "billing.invoice_correction", end=end - 120),
        overkill("gpt-4", "Hi", "Hello! How can I help you today?", end=end),
    ]


def record(sc: Scenario, *, sink: Any, metadata: dict | None = None, name: str | None = None) -> list[dict]:
    """Write a scenario's attempts as events (through ``log_event`` inside a trace); returns them."""
    from ._recorder import log_event
    from ._time import format_ts
    from ._trace import trace

    meta = dict(metadata or {})
    if sc.kind != "single":
        meta.setdefault("simulation", sc.kind)
    call_name = name or ("log" if sc.kind == "single" else f"simulated.{sc.kind}")
    events: list[dict] = []
    with trace(call_name, trace_id=sc.trace_id):
        for a in sc.attempts:
            ev = log_event(traceId=sc.trace_id, name=call_name, startTime=format_ts(a.start),
                           endTime=format_ts(a.start + a.latency), input={"model": a.model, "prompt": a.prompt},
                           usage=a.usage, response=a.response or None, error=a.error, metadata=meta or None,
                           sink=sink)
            if ev is None:
                raise RuntimeError(f"tokentrail could not build the event for {a.model!r}; "
                                   "see the log message above")
            events.append(ev)
    return events
