"""OpenTelemetry export: one span per event, token and cost metrics.

Spans follow the OpenTelemetry GenAI semantic conventions (``gen_ai.*`` attributes,
span name ``"{operation} {model}"``, kind ``CLIENT``) and carry tokentrail's own
``tokentrail.*`` attributes (cost, trace id, retry and fallback). Each span has the
call's real start and end time, taken from the event.

Spans and metrics go to the providers given, or else to the global ones the application
set up (``opentelemetry.trace.set_tracer_provider``...), so they land in whatever backend
the application already exports to. A call made while an OpenTelemetry span is open
becomes a child of that span; otherwise the calls of one tokentrail trace share one
OpenTelemetry trace whose id is the tokentrail ``traceId``.

Example::

    from opentelemetry.sdk.trace import TracerProvider
    import tokentrail
    from tokentrail.sinks.otel import OTelSink

    tokentrail.configure(sink=OTelSink(tracer_provider=TracerProvider()))
    # or: tokentrail.configure(sink="otel")  (the global providers)
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import sys
import threading
import weakref
from typing import Any, Iterable

from opentelemetry import metrics as metrics_api
from opentelemetry import trace as trace_api
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from .. import _hooks
from .._time import parse_ts

logger = logging.getLogger("tokentrail")

SCOPE = "tokentrail"
PARENT_KEY = "_otel_parent"
"""Private event key: the caller's open span (W3C trace context), captured when the call started."""

CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_CONTENT_ON = ("1", "true", "yes", "on", "span_only", "span_and_event")

# Bucket boundaries the GenAI conventions advise for these two histograms.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)

# Sampling parameters (input.params) -> GenAI request attributes.
_PARAM_ATTRS = {
    "temperature": ("gen_ai.request.temperature", float),
    "top_p": ("gen_ai.request.top_p", float),
    "top_k": ("gen_ai.request.top_k", float),
    "max_tokens": ("gen_ai.request.max_tokens", int),
    "max_completion_tokens": ("gen_ai.request.max_tokens", int),
    "max_output_tokens": ("gen_ai.request.max_tokens", int),
    "presence_penalty": ("gen_ai.request.presence_penalty", float),
    "frequency_penalty": ("gen_ai.request.frequency_penalty", float),
    "seed": ("gen_ai.request.seed", int),
    "n": ("gen_ai.request.choice.count", int),
}


# --------------------------------------------------------------------------- call-time capture

def capture_parent() -> dict | None:
    """The caller's open span as W3C trace context, ``{"traceparent": ..., "tracestate"?: ...}``,
    or None. Run on the caller's thread when a call starts (see :mod:`tokentrail._hooks`);
    plain strings, so an event that carries it still serializes."""
    sc = trace_api.get_current_span().get_span_context()
    if not sc.is_valid:
        return None
    out = {"traceparent": f"00-{sc.trace_id:032x}-{sc.span_id:016x}-{int(sc.trace_flags):02x}"}
    if sc.trace_state:
        out["tracestate"] = sc.trace_state.to_header()
    return out


def parent_span_context(captured: Any) -> SpanContext | None:
    """The span context :func:`capture_parent` captured, or None if ``captured`` is not one."""
    if isinstance(captured, SpanContext):
        return captured if captured.is_valid else None
    if not isinstance(captured, dict):
        return None
    parts = str(captured.get("traceparent") or "").split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None
    state = None
    if captured.get("tracestate"):
        try:
            state = TraceState.from_header([str(captured["tracestate"])])
        except Exception:
            state = None
    sc = SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(flags & 0xFF), trace_state=state)
    return sc if sc.is_valid else None


_open_sinks: "weakref.WeakSet[OTelSink]" = weakref.WeakSet()
_open_lock = threading.Lock()


def _register(sink: "OTelSink") -> None:
    with _open_lock:
        _open_sinks.add(sink)
        _hooks.register_context_capturer(PARENT_KEY, capture_parent)


def _unregister(sink: "OTelSink") -> None:
    with _open_lock:
        _open_sinks.discard(sink)
        if not len(_open_sinks):
            _hooks.unregister_context_capturer(PARENT_KEY)


# --------------------------------------------------------------------------- event -> span

def _ns(ts: Any) -> int | None:
    epoch = parse_ts(ts)
    if epoch is None:
        return None
    return int(round(epoch * 1000)) * 1_000_000   # events carry milliseconds; keep them exact


def operation_name(event: dict) -> str | None:
    """The GenAI ``gen_ai.operation.name`` of an event (None for a ``@capture`` span without a model)."""
    typ = event.get("type")
    if typ == "embedding":
        return "embeddings"
    name = str(event.get("name") or "")
    if name.endswith("completions.create") and ".chat." not in name:
        return "text_completion"
    if typ == "span" and not (event.get("model") or _request_model(event)):
        return None
    return "chat"


def _request_model(event: dict) -> str:
    inp = event.get("input")
    return str(inp.get("model") or "") if isinstance(inp, dict) else ""


def _int(v: Any) -> int:
    return v if type(v) is int else 0


def span_attributes(event: dict, *, content: bool = False) -> dict:
    """The span attributes for one event: GenAI conventions plus ``tokentrail.*``."""
    a: dict[str, Any] = {}
    op = operation_name(event)
    provider = str(event.get("provider") or "")
    req_model = _request_model(event)
    model = str(event.get("model") or "")
    if op:
        a["gen_ai.operation.name"] = op
    if provider:
        a["gen_ai.provider.name"] = provider
        a["gen_ai.system"] = provider   # the older name, still read by many backends
    if req_model:
        a["gen_ai.request.model"] = req_model
    if model:
        a["gen_ai.response.model"] = model
    usage = event.get("usage") if isinstance(event.get("usage"), dict) else {}
    if op or usage.get("total_tokens"):
        a["gen_ai.usage.input_tokens"] = _int(usage.get("prompt_tokens"))
        a["gen_ai.usage.output_tokens"] = _int(usage.get("completion_tokens"))
        if usage.get("cached_tokens"):
            a["gen_ai.usage.cache_read.input_tokens"] = _int(usage["cached_tokens"])
        if usage.get("cache_write_tokens"):
            a["gen_ai.usage.cache_creation.input_tokens"] = _int(usage["cache_write_tokens"])
        if usage.get("reasoning_tokens"):
            a["gen_ai.usage.reasoning.output_tokens"] = _int(usage["reasoning_tokens"])
        if usage.get("estimated"):
            a["tokentrail.usage.estimated"] = True
    inp = event.get("input") if isinstance(event.get("input"), dict) else {}
    params = inp.get("params")
    if isinstance(params, dict):
        for k, (attr, typ) in _PARAM_ATTRS.items():
            v = params.get(k)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and attr not in a:
                a[attr] = typ(v)
        stop = params.get("stop", params.get("stop_sequences"))
        if isinstance(stop, str):
            a["gen_ai.request.stop_sequences"] = [stop]
        elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
            a["gen_ai.request.stop_sequences"] = stop
    out = event.get("output") if isinstance(event.get("output"), dict) else {}
    if out.get("finish_reason"):
        a["gen_ai.response.finish_reasons"] = [str(out["finish_reason"])]
    if event.get("stream"):
        a["gen_ai.request.stream"] = True
        if isinstance(event.get("ttft_ms"), (int, float)):
            a["gen_ai.response.time_to_first_chunk"] = event["ttft_ms"] / 1000.0
    err = event.get("error")
    if event.get("status") == "error" or err:
        etype = err.get("type") if isinstance(err, dict) else None
        a["error.type"] = str(etype or "_OTHER")
        if isinstance(err, dict) and isinstance(err.get("status_code"), int):
            a["http.response.status_code"] = err["status_code"]

    # tokentrail's own
    a["tokentrail.cost_usd"] = float(event.get("cost") or 0.0)
    a["tokentrail.trace_id"] = str(event.get("traceId") or "")
    a["tokentrail.event_id"] = str(event.get("id") or "")
    if event.get("parentId"):
        a["tokentrail.parent_id"] = str(event["parentId"])
    a["tokentrail.name"] = str(event.get("name") or "")
    a["tokentrail.type"] = str(event.get("type") or "")
    if event.get("namespace"):
        a["tokentrail.namespace"] = str(event["namespace"])
    a["tokentrail.retry_attempt"] = _int(event.get("retry_attempt"))
    meta = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
    if event.get("fallback_model"):
        a["tokentrail.fallback_model"] = str(event["fallback_model"])
    a["tokentrail.fallback_attempted"] = bool(meta.get("fallback_attempted") or event.get("fallback_model"))
    if meta.get("fallback_reason"):
        a["tokentrail.fallback_reason"] = str(meta["fallback_reason"])
    if meta.get("budget_exceeded"):
        a["tokentrail.budget_exceeded"] = True
    if event.get("pricing"):
        a["tokentrail.pricing"] = str(event["pricing"])
    if event.get("pricing_tier"):
        a["tokentrail.pricing_tier"] = str(event["pricing_tier"])
    if isinstance(event.get("latency_ms"), (int, float)):
        a["tokentrail.latency_ms"] = event["latency_ms"]
    if event.get("partial"):
        a["tokentrail.partial"] = True
    for k, v in meta.items():
        if k in ("source", "fallback_attempted", "fallback_reason", "budget_exceeded"):
            continue
        if isinstance(v, (str, bool, int, float)):
            a[f"tokentrail.metadata.{k}"] = v

    if content:
        msgs = input_messages(event)
        if msgs:
            a["gen_ai.input.messages"] = json.dumps(msgs, ensure_ascii=False, default=str)
        outs = output_messages(event)
        if outs:
            a["gen_ai.output.messages"] = json.dumps(outs, ensure_ascii=False, default=str)
    return a


def _parts(content: Any) -> list[dict]:
    """Message content (a string, or OpenAI / Anthropic content blocks) as GenAI message parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, (list, tuple)):
        return [{"type": "text", "content": str(content)}]
    parts: list[dict] = []
    for block in content:
        if isinstance(block, str):
            parts.append({"type": "text", "content": block})
        elif isinstance(block, dict):
            t = block.get("type")
            if t in ("text", "input_text", "output_text") or (t is None and "text" in block):
                parts.append({"type": "text", "content": block.get("text", "")})
            elif t == "tool_use":
                parts.append({"type": "tool_call", "id": block.get("id"), "name": block.get("name"),
                              "arguments": block.get("input")})
            elif t == "tool_result":
                parts.append({"type": "tool_call_response", "id": block.get("tool_use_id"),
                              "response": block.get("content")})
            else:
                parts.append({"type": str(t or "unknown")})   # images, files: the kind, not the bytes
    return parts


def input_messages(event: dict) -> list[dict]:
    """``gen_ai.input.messages`` for an event that kept its content (empty when it did not)."""
    inp = event.get("input") if isinstance(event.get("input"), dict) else {}
    msgs = inp.get("messages")
    out: list[dict] = []
    if isinstance(msgs, str):
        msgs = [{"role": "user", "content": msgs}]
    if isinstance(msgs, (list, tuple)):
        for m in msgs:
            if not isinstance(m, dict):
                continue
            msg: dict = {"role": str(m.get("role") or "user"), "parts": _parts(m.get("content"))}
            calls = m.get("tool_calls")
            if isinstance(calls, list):   # OpenAI assistant tool calls
                for c in calls:
                    if isinstance(c, dict):
                        fn = c.get("function") or {}
                        msg["parts"].append({"type": "tool_call", "id": c.get("id"), "name": fn.get("name"),
                                             "arguments": fn.get("arguments")})
            out.append(msg)
    if not out and inp.get("prompt"):
        out.append({"role": "user", "parts": [{"type": "text", "content": str(inp["prompt"])}]})
    return out


def output_messages(event: dict) -> list[dict]:
    """``gen_ai.output.messages`` for an event that kept its content (empty when it did not)."""
    out = event.get("output") if isinstance(event.get("output"), dict) else {}
    text = out.get("response")
    if text is None:
        return []
    msg: dict = {"role": "assistant", "parts": _parts(text if isinstance(text, (str, list)) else str(text))}
    if out.get("finish_reason"):
        msg["finish_reason"] = str(out["finish_reason"])
    return [msg]


def otel_trace_id(trace_id: str) -> int:
    """The OpenTelemetry trace id for a tokentrail ``traceId``: the uuid's 128 bits, or a hash."""
    h = trace_id.replace("-", "")
    if len(h) == 32:
        try:
            n = int(h, 16)
            if n:
                return n
        except ValueError:
            pass
    return int.from_bytes(hashlib.sha256(trace_id.encode("utf-8", "replace")).digest()[:16], "big") or 1


def _trace_parent_span_id(trace_id: str) -> int:
    return int.from_bytes(hashlib.sha256(b"tokentrail.trace:" + trace_id.encode("utf-8", "replace")).digest()[:8],
                          "big") or 1


# --------------------------------------------------------------------------- Anthropic's own spans

def anthropic_sdk_spans_active() -> bool:
    """Whether the ``anthropic`` SDK (>= 2.12) in this process emits its own OpenTelemetry spans.

    True when it is imported, has tracing (``anthropic._tracing``), is not turned off by
    ``ANTHROPIC_OPEN_TELEMETRY=false``, and a real (SDK) global tracer provider is set. A
    client built with ``open_telemetry=False`` is not seen from here.
    """
    if "anthropic" not in sys.modules:
        return False
    try:
        from anthropic import _tracing  # noqa: F401  (>= 2.12)
    except Exception:
        return False
    try:
        enabled = bool(_tracing.resolve_open_telemetry(None)["traces"]["enabled"])
    except Exception:
        enabled = os.environ.get("ANTHROPIC_OPEN_TELEMETRY", "").lower() != "false"
    if not enabled:
        return False
    provider = trace_api.get_tracer_provider()
    return not isinstance(provider, (trace_api.ProxyTracerProvider, trace_api.NoOpTracerProvider))


# --------------------------------------------------------------------------- the sink

class OTelSink:
    """Turn each event into an OpenTelemetry span and metric points.

    - ``tracer_provider`` / ``meter_provider``: the providers to use; None means the
      global ones, looked up at the first event (so configuring OpenTelemetry after
      tokentrail works).
    - ``capture_content``: put prompts and completions on spans as
      ``gen_ai.input.messages`` / ``gen_ai.output.messages``. Opt-in, as the GenAI
      conventions ask: None reads ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
      (off unless ``true``). Content is only there when tokentrail captured it.
    - ``spans`` / ``metrics``: turn either off.
    - ``skip_spans_for``: providers whose calls get metrics but no span, e.g.
      ``("anthropic",)`` when the Anthropic SDK's own spans are kept.
    - ``metric_metadata``: event metadata keys copied onto metric points (keep them
      low-cardinality, e.g. ``("team",)``).
    - ``group_traces``: when no OpenTelemetry span is open at call time, give the calls
      of one tokentrail trace one OpenTelemetry trace (id = the ``traceId``'s 128 bits).
      False makes each such call a trace of its own.
    - ``warn_duplicates``: log one warning when the ``anthropic`` SDK's own spans are on
      too (see :func:`anthropic_sdk_spans_active`).

    Metrics: ``gen_ai.client.token.usage`` (histogram, ``{token}``, by
    ``gen_ai.token.type``), ``gen_ai.client.operation.duration`` (histogram, s) and
    ``tokentrail.cost`` (counter, USD), each with the operation, provider, request and
    response model.
    """

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None, *,
                 capture_content: bool | None = None, spans: bool = True, metrics: bool = True,
                 skip_spans_for: Iterable[str] = (), metric_metadata: Iterable[str] = (),
                 group_traces: bool = True, warn_duplicates: bool = True):
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        if capture_content is None:
            capture_content = os.environ.get(CONTENT_ENV, "").strip().lower() in _CONTENT_ON
        self.capture_content = bool(capture_content)
        self.spans = spans
        self.metrics = metrics
        self.skip_spans_for = frozenset(skip_spans_for)
        self.metric_metadata = tuple(metric_metadata)
        self.group_traces = group_traces
        self.warn_duplicates = warn_duplicates
        self.exported = 0
        self.failed = 0
        self._tracer: Any = None
        self._instruments: tuple | None = None
        self._warned: set[str] = set()
        self._checked_anthropic = False
        self._closed = False
        _register(self)
        _register_exit_flush()

    # ------------------------------------------------------------------ setup

    def _get_tracer(self) -> Any:
        if self._tracer is None:
            from .. import __version__
            self._tracer = trace_api.get_tracer(SCOPE, __version__, tracer_provider=self.tracer_provider)
        return self._tracer

    def _get_instruments(self) -> tuple:
        if self._instruments is None:
            from .. import __version__
            meter = metrics_api.get_meter(SCOPE, __version__, meter_provider=self.meter_provider)
            tokens = meter.create_histogram(
                "gen_ai.client.token.usage", unit="{token}", description="Tokens used per LLM call",
                explicit_bucket_boundaries_advisory=TOKEN_BUCKETS)
            duration = meter.create_histogram(
                "gen_ai.client.operation.duration", unit="s", description="Duration of LLM calls",
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS)
            cost = meter.create_counter("tokentrail.cost", unit="USD",
                                        description="Cost of LLM calls, from tokentrail's price tables")
            self._instruments = (tokens, duration, cost)
        return self._instruments

    # ------------------------------------------------------------------ sink protocol

    def write(self, event: dict) -> None:
        self.write_batch([event])

    def write_batch(self, events: list[dict]) -> None:
        if self._closed:
            self._closed = False
            _register(self)
        # A counter is a sum: the batch's costs are added once per attribute set.
        costs: dict[tuple, float] = {}
        for ev in events:
            try:
                self._export(ev, costs)
                self.exported += 1
            except Exception as e:
                self._failed(e)
        if costs:
            try:
                counter = self._get_instruments()[2]
                for key, total in costs.items():
                    counter.add(total, dict(key))
            except Exception as e:
                self._failed(e)

    def _failed(self, e: Exception) -> None:
        self.failed += 1
        key = type(e).__name__
        if key not in self._warned:
            self._warned.add(key)
            logger.exception("tokentrail: OTelSink could not export an event (%s); further errors "
                             "of this kind are not repeated", key)

    def _export(self, ev: dict, costs: dict) -> None:
        provider = str(ev.get("provider") or "")
        if provider == "anthropic" and not self._checked_anthropic:
            self._check_anthropic()
        if self.spans and provider not in self.skip_spans_for:
            self._span(ev, span_attributes(ev, content=self.capture_content))
        if self.metrics:
            self._record_metrics(ev, costs)

    def _span(self, ev: dict, attrs: dict) -> None:
        start = _ns(ev.get("startTime"))
        end = _ns(ev.get("endTime"))
        if start is None:
            start = end
        if end is None or (start is not None and end < start):
            end = start
        op = attrs.get("gen_ai.operation.name")
        req = attrs.get("gen_ai.request.model")
        if op:
            name = f"{op} {req}" if req else op
            kind = SpanKind.CLIENT
        else:
            name = str(ev.get("name") or "tokentrail.span")
            kind = SpanKind.INTERNAL
        tracer = self._get_tracer()
        span = tracer.start_span(name, context=self._parent_context(ev, tracer), kind=kind, attributes=attrs,
                                 start_time=start, record_exception=False, set_status_on_exception=False)
        if ev.get("status") == "error" or ev.get("error"):
            err = ev.get("error") if isinstance(ev.get("error"), dict) else {}
            span.set_status(Status(StatusCode.ERROR, str(err.get("message") or err.get("type") or "error")[:1024]))
        span.end(end_time=end)

    def _parent_context(self, ev: dict, tracer: Any) -> Any:
        parent = ev.get(PARENT_KEY)
        if parent is not None:
            sc = parent_span_context(parent)
            if sc is not None:
                return trace_api.set_span_in_context(NonRecordingSpan(sc))
        tid = ev.get("traceId")
        if not self.group_traces or not tid:
            return trace_api.set_span_in_context(trace_api.INVALID_SPAN)   # a root, never the writer's context
        trace_id = otel_trace_id(str(tid))
        sampled = True
        sampler = getattr(tracer, "sampler", None)
        if sampler is not None:
            # Ask the application's sampler as if this trace were new, so ratio sampling still holds.
            try:
                sampled = sampler.should_sample(None, trace_id, "tokentrail.trace").decision.is_sampled()
            except Exception:
                sampled = True
        sc = SpanContext(trace_id, _trace_parent_span_id(str(tid)), is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT))
        return trace_api.set_span_in_context(NonRecordingSpan(sc))

    def _record_metrics(self, ev: dict, costs: dict) -> None:
        op = operation_name(ev)
        if op is None:
            return
        tokens, duration, _ = self._get_instruments()
        m: dict[str, Any] = {"gen_ai.operation.name": op}
        if ev.get("provider"):
            m["gen_ai.provider.name"] = str(ev["provider"])
        req = _request_model(ev)
        if req:
            m["gen_ai.request.model"] = req
        if ev.get("model"):
            m["gen_ai.response.model"] = str(ev["model"])
        meta = ev.get("metadata") if isinstance(ev.get("metadata"), dict) else {}
        for k in self.metric_metadata:
            v = meta.get(k)
            if isinstance(v, (str, bool, int, float)):
                m[f"tokentrail.metadata.{k}"] = v
        failed = ev.get("status") == "error" or bool(ev.get("error"))
        if failed:
            err = ev.get("error") if isinstance(ev.get("error"), dict) else {}
            m["error.type"] = str(err.get("type") or "_OTHER")
        usage = ev.get("usage") if isinstance(ev.get("usage"), dict) else {}
        if not failed or usage.get("total_tokens"):
            tokens.record(_int(usage.get("prompt_tokens")), {**m, "gen_ai.token.type": "input"})
            if op != "embeddings":
                tokens.record(_int(usage.get("completion_tokens")), {**m, "gen_ai.token.type": "output"})
        lat = ev.get("latency_ms")
        if isinstance(lat, (int, float)) and not isinstance(lat, bool):
            duration.record(lat / 1000.0, m)
        c = ev.get("cost")
        if isinstance(c, (int, float)) and not isinstance(c, bool) and c >= 0:
            key = tuple(m.items())
            costs[key] = costs.get(key, 0.0) + float(c)

    def _check_anthropic(self) -> None:
        self._checked_anthropic = True
        if not self.warn_duplicates or not self.spans or "anthropic" in self.skip_spans_for:
            return
        try:
            active = anthropic_sdk_spans_active()
        except Exception:
            active = False
        if active:
            logger.warning(
                "tokentrail: the anthropic SDK emits its own OpenTelemetry spans (with gen_ai.usage.* tokens) "
                "and OTelSink emits one per call too, so a backend that sums tokens over spans counts "
                "Anthropic calls twice. Turn one off: ANTHROPIC_OPEN_TELEMETRY=false (or "
                "Anthropic(open_telemetry=False)), or OTelSink(skip_spans_for=('anthropic',)). "
                "OTelSink(warn_duplicates=False) silences this warning.")

    def flush(self) -> None:
        """Ask the providers to export what they hold (spans and metric points)."""
        for p in (self.tracer_provider or trace_api.get_tracer_provider(),
                  self.meter_provider or metrics_api.get_meter_provider()):
            fn = getattr(p, "force_flush", None)
            if fn is not None:
                try:
                    fn(10_000)
                except Exception:
                    logger.debug("tokentrail: force_flush failed on %r", p, exc_info=True)

    def close(self) -> None:
        """Flush, and stop capturing call contexts once no OTelSink is open. The
        providers are the application's: they are not shut down."""
        self.flush()
        if not self._closed:
            self._closed = True
            _unregister(self)

    def __repr__(self) -> str:
        return "OTelSink()" if self.tracer_provider is None else f"OTelSink(tracer_provider={self.tracer_provider!r})"


_exit_flush_registered = False


def _register_exit_flush() -> None:
    # The OpenTelemetry SDK shuts its providers down in atexit handlers, and tokentrail's
    # own exit drain is an atexit handler registered earlier (at import), so it would run
    # after them and export into closed providers. threading's exit hooks run when the main
    # thread ends, before any atexit handler: flush there, while the providers still work.
    global _exit_flush_registered
    if _exit_flush_registered:
        return
    _exit_flush_registered = True
    reg = getattr(threading, "_register_atexit", None)
    try:
        if reg is None:
            raise RuntimeError
        reg(_flush_tokentrail_at_exit)
    except RuntimeError:
        atexit.register(_flush_tokentrail_at_exit)   # the best order left: before providers made later


def _flush_tokentrail_at_exit() -> None:
    try:
        from .._writer import WRITER
        WRITER.flush(timeout=10.0)
    except Exception:
        logger.debug("tokentrail: flush at exit failed", exc_info=True)


__all__ = ["OTelSink", "span_attributes", "operation_name", "otel_trace_id", "anthropic_sdk_spans_active",
           "capture_parent", "parent_span_context", "PARENT_KEY"]
