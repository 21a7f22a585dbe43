"""From a call to an event: timing, usage, price, trace bookkeeping, hand-off to the writer.

Instrumentation (attach, capture) and :func:`log_event` all go through :class:`Call`:
``start_call`` when the call begins (checks budgets, numbers retries), then
``call.finish()`` once, which builds the event (see DESIGN.md for its fields) and queues
it for the sink. Everything here is guarded: tokentrail's own failures are logged and
swallowed; only :class:`BudgetExceeded` is meant to reach the caller.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from typing import Any, Callable

from . import _config, _hooks
from ._config import SETTINGS
from ._content import CONTENT_PARAMS, flatten_messages, jsonable, pick_params
from ._ids import new_event_id, new_id
from ._time import format_ts, parse_ts
from ._trace import BudgetExceeded, check_budgets, classify_attempt, current_trace, record_outcome
from ._usage import count, normalize_usage, served_at
from ._writer import WRITER

logger = logging.getLogger("tokentrail")

SCHEMA_VERSION = 1

# Synchronous taps (tokentrail.testing.capture_events): lists that see every event at once.
_taps: list[Callable[[dict], None]] = []
_taps_lock = threading.Lock()


def add_tap(fn: Callable[[dict], None]) -> None:
    with _taps_lock:
        _taps.append(fn)


def remove_tap(fn: Callable[[dict], None]) -> None:
    with _taps_lock:
        if fn in _taps:
            _taps.remove(fn)


def emit(event: dict, sink: Any = None) -> None:
    """Queue an event for its sink (the configured one unless given)."""
    for tap in _taps:
        try:
            tap(event)
        except Exception:
            logger.exception("tokentrail: event tap failed")
    WRITER.put(sink if sink is not None else _config.current_sink(), event)


def hand_off(item: Any, sink: Any = None) -> dict | None:
    """Queue a finished call (anything with ``to_event()``) for its sink, to be built on
    the writer thread; with a synchronous tap (``testing.capture_events``) it is built
    now and returned. Inside :func:`hold` it waits for :func:`release` instead."""
    if _holding:
        held = HELD.get()
        if held is not None:
            held.append((item, sink))
            return None
    if _taps:
        ev = item.to_event()
        if ev is not None:
            emit(ev, sink)
        return ev
    WRITER.put(sink if sink is not None else _config.current_sink(), item)
    return None


# A helper that checks a response after its request was recorded (openai < 1.5x's
# ``beta.chat.completions.parse`` raises LengthFinishReasonError once ``create()`` has
# returned) holds the calls finished inside it, and queues them when it is done: as
# errors when it raised, as newer SDKs, which parse inside the request, record them.
HELD: contextvars.ContextVar[list | None] = contextvars.ContextVar("tokentrail_held", default=None)
_holding = False    # set once the first hold starts: until then hand_off does not look


def hold() -> tuple[list, Any]:
    """Hold the calls this context finishes until :func:`release`; (the list, the token)."""
    global _holding
    _holding = True
    held: list = []
    return held, HELD.set(held)


def release(held: list, token: Any, exc: BaseException | None) -> None:
    """Queue the held calls. If the helper raised an error (``exc``) after its last call
    succeeded, that call is recorded as failed with it (the tokens stay: they were billed)."""
    try:
        try:
            HELD.reset(token)
        except ValueError:          # reset from another context: leave that context alone
            pass
        if held and isinstance(exc, Exception):
            last = held[-1][0]
            if isinstance(last, Call) and last.err is None:
                last.err = _error_info(exc)
        for item, sink in held:
            if isinstance(item, Call) and item._live_totals():
                item._price()
                item._record_outcome()      # held back by finish(): the outcome may have changed
            hand_off(item, sink)
    except Exception:
        logger.exception("tokentrail: could not record the calls of a helper (the call itself was not affected)")


def _error_info(error: BaseException | dict | None) -> dict | None:
    if error is None:
        return None
    if isinstance(error, dict):
        return {"type": str(error.get("type") or "Error"), "message": str(error.get("message") or ""),
                "status_code": error.get("status_code")}
    status = getattr(error, "status_code", None)
    if status is None:
        resp = getattr(error, "response", None)
        status = getattr(resp, "status_code", None)
    msg = getattr(error, "message", None)
    if not isinstance(msg, str):
        msg = str(error)
    return {"type": type(error).__name__, "message": msg[:2000],
            "status_code": status if isinstance(status, int) else None}


def fallback_reason(err: dict | None) -> str | None:
    if not err:
        return None
    code = err.get("status_code")
    return f"{err['type']} ({code})" if code else err["type"]


class Call:
    """One LLM call in flight. Adapters set ``model``, ``usage``, ``response_text``,
    ``finish_reason``, ``stream``, ``partial`` and call :meth:`finish` exactly once
    (later calls are ignored).

    Made only by :func:`start_call`, which sets every slot.

    ``finish`` does the minimum on the caller's thread (end time, error info, and the
    price when a trace or budget needs live totals); the event itself is built on the
    writer thread, unless a synchronous tap (``testing.capture_events``) or the caller
    wants it now.
    """

    __slots__ = ("provider", "name", "type", "request_model", "prompt", "messages", "system", "params",
                 "metadata", "sink", "namespace", "trace", "trace_id", "parent_id", "id", "retry_attempt",
                 "fallback_model", "fallback_reason", "budget_crossed", "start_wall", "start_perf",
                 "first_token_perf", "model", "usage", "response_text", "finish_reason", "stream", "partial",
                 "extra", "done", "event", "batch", "count_cost", "end_wall", "end_perf", "latency_ms",
                 "explicit_cost", "level", "capture", "base_metadata", "default_namespace", "err",
                 "norm_usage", "cost", "captured", "messages_json", "service_tier", "inference_geo")

    def mark_first_token(self) -> None:
        if self.first_token_perf is None:
            self.first_token_perf = time.perf_counter()

    def finish(self, error: BaseException | dict | None = None, *, sync: bool = False) -> dict | None:
        """Record the call; never raises. Returns the event when built synchronously."""
        if self.done:
            return self.event
        self.done = True
        try:
            self.end_perf = time.perf_counter()
            if self.end_wall is None:
                self.end_wall = time.time()
            self.err = _error_info(error)
            if self._live_totals():
                self._price()
                if not (_holding and HELD.get() is not None):   # else release() records it
                    self._record_outcome()
            if sync:
                ev = self.to_event()
                emit(ev, self.sink)
                return ev
            return hand_off(self, self.sink)
        except Exception:
            logger.exception("tokentrail: could not record the call %s (the call itself was not affected)",
                             getattr(self, "name", "?"))
            return None

    def _live_totals(self) -> bool:
        """Whether a trace or a budget keeps live totals of this call."""
        return self.trace is not None or SETTINGS.budget_usd is not None or SETTINGS.max_calls is not None

    def _price(self) -> None:
        if self.norm_usage is None:
            self.norm_usage = normalize_usage(self.usage, self.provider)
            self.service_tier, self.inference_geo = served_at(self.usage, self.provider, self.service_tier)
            self.cost = price(self.model or self.request_model or "", self.norm_usage, self.batch, self.service_tier,
                              self.inference_geo)

    def final_cost(self) -> float:
        return self.explicit_cost if self.explicit_cost is not None else self.cost.total_usd

    def _record_outcome(self) -> None:
        if self.count_cost or self.err:
            record_outcome(self.trace, self.request_model or self.model or "",
                           self.final_cost() if self.count_cost else 0.0,
                           self.norm_usage["total_tokens"] if self.count_cost else 0, fallback_reason(self.err),
                           count_cost=self.count_cost)

    def to_event(self) -> dict:
        """The event dict (DESIGN.md); built once."""
        if self.event is not None:
            return self.event
        self._price()
        cost, err, capture = self.cost, self.err, self.capture
        model = self.model or self.request_model or ""
        latency = self.latency_ms
        if latency is None:
            latency = int(round((self.end_perf - self.start_perf) * 1000))

        metadata: dict = {"source": "tokentrail", "fallback_attempted": False}
        if self.base_metadata:
            metadata.update(self.base_metadata)
        if self.trace is not None and self.trace.metadata:
            metadata.update(self.trace.metadata)
        if self.metadata:
            metadata.update(self.metadata)
        if self.fallback_model is not None:
            metadata["fallback_attempted"] = True
            metadata["fallback_reason"] = self.fallback_reason or "previous call failed"
        if self.budget_crossed:
            metadata["budget_exceeded"] = True

        prompt, messages = self.prompt, self.messages
        if capture:
            if prompt is None:
                prompt = flatten_messages(messages, self.system)
            if messages is not None and not self.messages_json:
                messages = jsonable(messages)
        inp, out = event_io(capture, self.request_model or model, prompt, messages, self.params, self.response_text,
                            self.finish_reason)

        # One literal in the written order; the optional fields it holds are removed
        # below when absent (cheaper than adding the rest one key at a time).
        ev: dict = {
            "traceId": self.trace_id, "id": self.id, "parentId": self.parent_id, "type": self.type,
            "name": self.name, "startTime": format_ts(self.start_wall), "endTime": format_ts(self.end_wall),
            "level": self.level or ("error" if err else "info"), "status": "error" if err else "success",
            "provider": self.provider, "namespace": self.namespace or self.default_namespace, "input": inp,
            "model": model, "output": out,
            "usage": self.norm_usage,   # normalize_usage's fresh dict is the usage block as written
        }
        if not self.parent_id:
            del ev["parentId"]
        if not out:
            del ev["output"]
        if self.explicit_cost is not None:
            computed = cost.total_usd
            if not _close(self.explicit_cost, computed) and cost.known:
                ev["cost_mismatch"] = {"logged": self.explicit_cost, "computed": computed}
            ev["cost"] = self.explicit_cost
        else:
            ev["cost"] = cost.total_usd
        ev["cost_details"] = cost.details()
        ev["pricing"] = cost.pricing
        tier = pricing_tier(cost)
        if tier:
            ev["pricing_tier"] = tier
        if self.service_tier:
            ev["service_tier"] = self.service_tier
        if self.inference_geo:
            ev["inference_geo"] = self.inference_geo
        ev["latency_ms"] = latency
        if self.stream:
            ev["stream"] = True
            if self.first_token_perf is not None:
                ev["ttft_ms"] = int(round((self.first_token_perf - self.start_perf) * 1000))
        if self.partial:
            ev["partial"] = True
        ev["retry_attempt"] = self.retry_attempt
        ev["fallback_model"] = self.fallback_model
        if err:
            ev["error"] = err
        ev["metadata"] = metadata
        if self.extra:
            ev.update(self.extra)
        if self.captured:
            ev.update(self.captured)
        ev["schema_version"] = SCHEMA_VERSION
        self.event = ev
        return ev


def price(model: str, usage: dict, batch: bool, tier: str | None, geo: str | None) -> Any:
    """The :class:`~tokentrail._pricing.Cost` of a call's normalized usage, at the rates of
    the service tier and region the provider reported (see ``PriceTable.cost``)."""
    table = _config.price_table()
    if tier is None and geo is None:
        return table.cost(model, usage, batch=batch, normalized=True)
    return table.cost(model, usage, batch=batch, normalized=True, tier=tier, geo=geo)


def pricing_tier(cost: Any) -> str | None:
    """An event's ``pricing_tier``: the rates a call was priced at when not the standard
    ones ("flex", "priority", "fast"... and/or "long_context", joined by "+")."""
    tier = cost.tier
    if cost.long_context:
        return f"{tier}+long_context" if tier else "long_context"
    return tier


def event_io(capture: bool, model: str, prompt: str | None, messages: list | None, params: dict | None,
             response_text: str | None, finish_reason: str | None) -> tuple[dict, dict]:
    """An event's ``input`` and ``output`` blocks (``messages`` JSON-safe already). Without
    content capture they hold no prompt or completion text (``prompt`` and ``messages``
    are not read), nor a predicted output, which is user text too."""
    if capture:
        inp: dict = {"model": model, "prompt": prompt}
        if messages is not None:
            inp["messages"] = messages
        out: dict = {} if response_text is None else {"response": response_text}
    else:
        inp = {"model": model, "prompt": ""}
        if params and not CONTENT_PARAMS.isdisjoint(params):
            params = {k: v for k, v in params.items() if k not in CONTENT_PARAMS}
        out = {}
    if params:
        inp["params"] = params
    if finish_reason is not None:
        out["finish_reason"] = finish_reason
    return inp, out


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= max(1e-9, 1e-6 * max(abs(a), abs(b)))


def prompt_key(prompt: str | None) -> Any:
    # Hash, not the text: keeps retry bookkeeping small for long prompts.
    return hash(prompt) if prompt else None


def start_call(provider: str, name: str, *, type: str = "generation", request_model: str | None = None,
               prompt: str | None = None, messages: Any = None, system: Any = None, params: dict | None = None,
               metadata: dict | None = None, sink: Any = None, namespace: str | None = None,
               trace_id: str | None = None, parent_id: str | None = None, start_wall: float | None = None,
               batch: bool = False, messages_json: bool = False, ctx: tuple | None = None) -> Call:
    """Begin recording a call. Raises :class:`BudgetExceeded` (only that) when a budget says stop.

    ``prompt`` defaults to the flattened ``messages`` (and Anthropic ``system``); the
    flattening happens off the caller's thread unless a trace needs it for retry
    detection. ``messages`` is copied (shallowly) now, because callers keep appending
    to their message lists after the call; ``messages_json=True`` says it already is a
    private JSON-safe copy (an instrumented request's snapshot), used as it is.

    ``ctx``: for a call already made and recorded later (on the writer thread), what the
    caller's thread saw when it was made, ``(capture_content, metadata, namespace,
    captured_context)``; such a call is never in a trace and checks no budget.
    """
    c = Call()                    # no Python __init__: every slot is set here
    c.done = False
    c.event = None
    c.start_perf = time.perf_counter()
    c.start_wall = start_wall if start_wall is not None else time.time()
    c.provider, c.name, c.type = provider, name, type
    c.request_model = request_model or ""
    c.metadata, c.sink, c.namespace, c.params, c.batch = metadata, sink, namespace, params, batch
    settings = SETTINGS
    if ctx is None:
        c.capture = settings.capture_content
        c.base_metadata = settings.metadata
        c.default_namespace = settings.namespace
        c.captured = _hooks.capture_context() if _hooks.CAPTURERS else None
        tr = current_trace()
    else:
        c.capture, c.base_metadata, c.default_namespace, c.captured = ctx
        tr = None
    c.model = c.usage = c.response_text = c.finish_reason = c.first_token_perf = None
    c.service_tier = c.inference_geo = None     # what the reader kept; resolved by _price
    c.stream = c.partial = False
    c.extra = c.err = c.norm_usage = c.cost = None
    c.count_cost = True
    c.end_wall = c.end_perf = c.latency_ms = c.explicit_cost = c.level = None
    c.id = new_event_id(c.start_wall)
    c.prompt = prompt
    c.system = system
    c.messages = None
    c.messages_json = False
    c.trace = tr
    c.retry_attempt, c.fallback_model, c.fallback_reason, c.budget_crossed = 0, None, None, False
    try:
        if messages is not None and c.capture or (tr is not None and prompt is None):
            if messages_json and isinstance(messages, list):
                c.messages, c.messages_json = messages, True
            else:
                c.messages = list(messages) if isinstance(messages, (list, tuple)) else messages
        if tr is not None:
            c.trace_id = trace_id or tr.trace_id
            c.parent_id = parent_id or (tr.span_id if (tr.parent is not None or getattr(tr, "_is_span", False))
                                        else None)
            if c.prompt is None:
                c.prompt = flatten_messages(c.messages, system) if (c.messages is not None or system) else ""
        else:
            c.trace_id = trace_id or new_id()
            c.parent_id = parent_id
        if ctx is None and (tr is not None or settings.budget_usd is not None or settings.max_calls is not None):
            c.budget_crossed = bool(check_budgets(tr, settings))
        if tr is not None:
            c.retry_attempt, c.fallback_model, c.fallback_reason = classify_attempt(
                tr, c.request_model, prompt_key(c.prompt))
    except BudgetExceeded:
        raise
    except Exception:
        logger.exception("tokentrail: error while starting to record %s (the call goes on)", name)
        if not hasattr(c, "trace_id"):
            c.trace_id, c.parent_id = new_id(), None
    return c


# --------------------------------------------------------------------------- log_event

_LOG_EVENT_KEYS = {"traceId", "trace_id", "startTime", "endTime", "input", "usage", "metadata", "name", "level",
                   "cost", "model", "provider", "type", "output", "id", "parentId", "latency_ms", "status",
                   "error", "namespace", "sink", "prompt", "response", "retry_attempt", "fallback_model"}


def _log_params(params: Any) -> dict | None:
    """Only the sampling parameters of a logged call: never keys, headers or other request options."""
    if not isinstance(params, dict) or not params:
        return None
    return pick_params(params) or None


def log_event(**fields: Any) -> dict | None:
    """Record one event by hand, in the earlier cost logger's call shape; returns the event.

    Example::

        tokentrail.log_event(traceId="t-1", startTime="2026-11-23T10:00:00.000Z",
                             endTime="2026-11-23T10:00:00.800Z",
                             input={"model": "gpt-3.5-turbo", "prompt": "Hello"},
                             usage={"prompt_tokens": 10, "completion_tokens": 155})

    ``cost`` is computed from the price tables; an explicit ``cost`` is kept but flagged
    (``cost_mismatch``) when it disagrees with them. Unknown keyword arguments raise
    ``TypeError`` (a typo must not silently drop data).
    """
    unknown = set(fields) - _LOG_EVENT_KEYS
    if unknown:
        raise TypeError(f"log_event() got unexpected field(s) {', '.join(sorted(unknown))}; "
                        f"known fields are {', '.join(sorted(_LOG_EVENT_KEYS))}")
    inp = fields.get("input") or {}
    if not isinstance(inp, dict):
        raise TypeError("log_event(input=...) must be a dict like {'model': 'gpt-4o', 'prompt': '...'}")
    model = inp.get("model") or fields.get("model") or ""
    prompt = inp.get("prompt", fields.get("prompt"))
    messages = inp.get("messages")
    provider = fields.get("provider") or _guess_provider(model)
    start = parse_ts(fields.get("startTime"))
    end = parse_ts(fields.get("endTime"))
    now = time.time()
    c = start_call(provider, fields.get("name") or "log_event", type=fields.get("type") or "generation",
                   request_model=model, prompt=prompt if prompt is not None else None, messages=messages,
                   params=_log_params(inp.get("params")), metadata=fields.get("metadata"), sink=fields.get("sink"),
                   namespace=fields.get("namespace"), trace_id=fields.get("traceId") or fields.get("trace_id"),
                   parent_id=fields.get("parentId"), start_wall=start if start is not None else (end or now))
    if fields.get("id"):
        c.id = str(fields["id"])
    c.model = fields.get("model") or model
    c.usage = fields.get("usage")
    c.end_wall = end if end is not None else (c.start_wall if start is not None else now)
    lat = fields.get("latency_ms")
    c.latency_ms = count(lat) if lat is not None else int(round(max(c.end_wall - c.start_wall, 0) * 1000))
    out = fields.get("output")
    if isinstance(out, dict):
        c.response_text = out.get("response")
        c.finish_reason = out.get("finish_reason")
    elif fields.get("response") is not None:
        c.response_text = str(fields["response"])
    if fields.get("cost") is not None:
        try:
            c.explicit_cost = float(fields["cost"])
        except (TypeError, ValueError):
            raise TypeError(f"log_event(cost=...) must be a number, not {fields['cost']!r}") from None
    c.level = fields.get("level")
    if fields.get("retry_attempt") is not None:
        c.retry_attempt = count(fields["retry_attempt"])
    if fields.get("fallback_model") is not None:
        c.fallback_model = str(fields["fallback_model"])
    err = fields.get("error")
    if err is None and (fields.get("status") == "error" or fields.get("level") == "error"):
        err = {"type": "Error", "message": ""}
    return c.finish(err if isinstance(err, dict) or err is None else {"type": "Error", "message": str(err)},
                    sync=True)


def _guess_provider(model: str) -> str:
    entry, _ = _config.price_table().resolve(model)
    if entry is not None and entry.provider in ("openai", "anthropic"):
        return entry.provider
    m = (model or "").lower()
    if "claude" in m:
        return "anthropic"
    if m.startswith(("gpt", "o1", "o3", "o4", "text-embedding", "chatgpt", "davinci", "babbage")):
        return "openai"
    return "unknown"


__all__ = ["Call", "start_call", "log_event", "emit", "event_io"]
