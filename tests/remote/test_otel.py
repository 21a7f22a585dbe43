"""OTelSink with the OpenTelemetry SDK's in-memory span exporter and metric reader."""

from __future__ import annotations

import inspect
import json
import logging

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace as trace_api  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased  # noqa: E402
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402

import tokentrail  # noqa: E402
from tokentrail import _hooks, _recorder  # noqa: E402
from tokentrail._sinks import resolve_sink  # noqa: E402
from tokentrail.sinks import otel as otel_mod  # noqa: E402
from tokentrail.sinks.otel import PARENT_KEY, OTelSink, otel_trace_id  # noqa: E402


def ns(ts: str) -> int:
    from tokentrail._time import parse_ts
    return int(round(parse_ts(ts) * 1000)) * 1_000_000


def one_call(**kw):
    fields = dict(traceId="3f0c5f64-7b1a-4c55-9a31-2f7f3c1b9e01", startTime="2026-11-23T10:00:00.123Z",
                  endTime="2026-11-23T10:00:00.812Z", name="openai.chat.completions.create", provider="openai",
                  input={"model": "gpt-4o", "prompt": "Hello", "params": {"temperature": 0.2, "max_tokens": 50,
                                                                          "stop": ["\n"]}},
                  model="gpt-4o-2024-08-06", output={"response": "Hi there", "finish_reason": "stop"},
                  usage={"prompt_tokens": 1200, "completion_tokens": 155, "cached_tokens": 1024,
                         "reasoning_tokens": 64},
                  metadata={"team": "search", "user": "u1"})
    fields.update(kw)
    return tokentrail.log_event(**fields)


def test_span_follows_the_genai_conventions(otel):
    tokentrail.configure(sink=otel.sink())
    ev = one_call()
    tokentrail.flush()
    (span,) = otel.spans()
    assert span.name == "chat gpt-4o" and span.kind is SpanKind.CLIENT
    assert span.start_time == ns("2026-11-23T10:00:00.123Z") and span.end_time == ns("2026-11-23T10:00:00.812Z")
    a = dict(span.attributes)
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == a["gen_ai.system"] == "openai"
    assert a["gen_ai.request.model"] == "gpt-4o" and a["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert a["gen_ai.usage.input_tokens"] == 1200 and a["gen_ai.usage.output_tokens"] == 155
    assert a["gen_ai.usage.cache_read.input_tokens"] == 1024
    assert a["gen_ai.usage.reasoning.output_tokens"] == 64
    assert "gen_ai.usage.cache_creation.input_tokens" not in a
    assert a["gen_ai.request.temperature"] == 0.2 and a["gen_ai.request.max_tokens"] == 50
    assert tuple(a["gen_ai.request.stop_sequences"]) == ("\n",)
    assert tuple(a["gen_ai.response.finish_reasons"]) == ("stop",)
    assert a["tokentrail.cost_usd"] == pytest.approx(ev["cost"]) and ev["cost"] > 0
    assert a["tokentrail.trace_id"] == ev["traceId"] and a["tokentrail.event_id"] == ev["id"]
    assert a["tokentrail.retry_attempt"] == 0 and a["tokentrail.fallback_attempted"] is False
    assert a["tokentrail.metadata.team"] == "search"
    assert a["tokentrail.pricing"] == ev["pricing"]
    assert "error.type" not in a and span.status.status_code is StatusCode.UNSET
    # content is opt-in (the conventions' rule), even though tokentrail captured it
    assert not any(k.startswith(("gen_ai.input", "gen_ai.output")) for k in a)


def test_error_span(otel):
    tokentrail.configure(sink=otel.sink())
    one_call(status="error", usage={}, error={"type": "RateLimitError", "message": "slow down", "status_code": 429})
    tokentrail.flush()
    (span,) = otel.spans()
    assert span.status.status_code is StatusCode.ERROR and span.status.description == "slow down"
    assert span.attributes["error.type"] == "RateLimitError"
    assert span.attributes["http.response.status_code"] == 429


def test_anthropic_cache_write_and_embeddings(otel):
    sink = otel.sink()
    tokentrail.configure(sink=sink)
    one_call(provider="anthropic", name="anthropic.messages.create", input={"model": "claude-sonnet-4-5"},
             model="claude-sonnet-4-5-20250929",
             usage={"prompt_tokens": 3000, "completion_tokens": 10, "cache_write_tokens": 2048})
    one_call(type="embedding", name="openai.embeddings.create", input={"model": "text-embedding-3-small"},
             model="text-embedding-3-small", usage={"prompt_tokens": 8})
    tokentrail.flush()
    chat, emb = otel.spans()
    assert chat.attributes["gen_ai.provider.name"] == "anthropic"
    assert chat.attributes["gen_ai.usage.cache_creation.input_tokens"] == 2048
    assert emb.name == "embeddings text-embedding-3-small"
    assert emb.attributes["gen_ai.operation.name"] == "embeddings"


def test_capture_span_without_model_is_internal(otel):
    tokentrail.configure(sink=otel.sink())
    one_call(type="span", name="answer_question", input={"model": ""}, model="", usage={})
    tokentrail.flush()
    (span,) = otel.spans()
    assert span.name == "answer_question" and span.kind is SpanKind.INTERNAL
    assert "gen_ai.operation.name" not in span.attributes
    assert "gen_ai.client.token.usage" not in otel.metrics()


def test_content_attributes_only_when_opted_in(otel, monkeypatch):
    tokentrail.configure(sink=otel.sink(capture_content=True))
    one_call(input={"model": "gpt-4o", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "image_url", "image_url": {}}]}]})
    tokentrail.flush()
    a = otel.spans()[-1].attributes
    assert json.loads(a["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Hello"}, {"type": "image_url"}]}]
    assert json.loads(a["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Hi there"}], "finish_reason": "stop"}]

    # The conventions' environment switch turns it on too...
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    assert otel.sink().capture_content is True
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
    # ...but nothing appears when tokentrail itself kept no content.
    tokentrail.configure(capture_content=False, sink=otel.sink(capture_content=True))
    one_call()
    tokentrail.flush()
    a = otel.spans()[-1].attributes
    assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a


def test_metrics_tokens_duration_cost(otel):
    tokentrail.configure(sink=otel.sink(metric_metadata=("team",)))
    evs = [one_call(), one_call(), one_call(model="gpt-4o-mini", input={"model": "gpt-4o-mini"})]
    tokentrail.flush()
    m = otel.metrics()
    tokens = {(a["gen_ai.request.model"], a["gen_ai.token.type"]): p for a, p in m["gen_ai.client.token.usage"]}
    assert tokens[("gpt-4o", "input")].sum == 2400 and tokens[("gpt-4o", "input")].count == 2
    assert tokens[("gpt-4o", "output")].sum == 310
    assert tokens[("gpt-4o-mini", "output")].sum == 155
    ((a, p),) = [x for x in m["gen_ai.client.token.usage"] if x[0]["gen_ai.request.model"] == "gpt-4o-mini"][:1]
    assert a["gen_ai.provider.name"] == "openai" and a["gen_ai.operation.name"] == "chat"
    assert a["tokentrail.metadata.team"] == "search"
    cost = sum(p.value for _, p in m["tokentrail.cost"])
    assert cost == pytest.approx(sum(e["cost"] for e in evs))
    by_model = {a["gen_ai.response.model"]: p.value for a, p in m["tokentrail.cost"]}
    assert by_model["gpt-4o-mini"] == pytest.approx(evs[2]["cost"])
    dur = m["gen_ai.client.operation.duration"]
    assert sum(p.count for _, p in dur) == 3 and sum(p.sum for _, p in dur) == pytest.approx(3 * 0.689)


def test_calls_of_one_trace_share_an_otel_trace(otel):
    tokentrail.configure(sink=otel.sink())
    with tokentrail.trace("ask") as t:
        one_call(traceId=None)
        one_call(traceId=None)      # same model and prompt: a retry
    one_call(traceId=None)          # no trace: a trace of its own
    tokentrail.flush()
    a, b, c = otel.spans()
    assert a.context.trace_id == b.context.trace_id == otel_trace_id(t.trace_id)
    assert f"{a.context.trace_id:032x}" == t.trace_id.replace("-", "")
    assert c.context.trace_id != a.context.trace_id
    assert b.attributes["tokentrail.retry_attempt"] == 1


def test_group_traces_off_makes_roots(otel):
    tokentrail.configure(sink=otel.sink(group_traces=False))
    one_call()
    one_call()
    tokentrail.flush()
    a, b = otel.spans()
    assert a.parent is None and b.parent is None and a.context.trace_id != b.context.trace_id


def test_ratio_sampler_still_decides(otel):
    # The tokentrail trace is offered to the application's sampler as a new trace.
    tp = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.0)), shutdown_on_exit=False)
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    tp.add_span_processor(SimpleSpanProcessor(otel.exporter))
    sink = OTelSink(tp, otel.meter_provider)
    otel.sinks.append(sink)
    tokentrail.configure(sink=sink)
    one_call()
    tokentrail.flush()
    assert otel.spans() == []
    assert "tokentrail.cost" in otel.metrics()     # metrics are not sampled


def test_fallback_and_retry_attributes(otel):
    tokentrail.configure(sink=otel.sink())
    with tokentrail.trace("ask"):
        one_call(traceId=None, status="error", usage={}, error={"type": "APIError", "message": "x",
                                                               "status_code": 500})
        ev = one_call(traceId=None, input={"model": "gpt-4o-mini", "prompt": "Hello"}, model="gpt-4o-mini")
    tokentrail.flush()
    _, fb = otel.spans()
    assert ev["fallback_model"]
    assert fb.attributes["tokentrail.fallback_attempted"] is True
    assert fb.attributes["tokentrail.fallback_model"] == ev["fallback_model"]
    assert "APIError" in fb.attributes["tokentrail.fallback_reason"]


def test_parent_context_captured_at_call_time(otel):
    # The event carries the caller's span context under a private key: the span is its child.
    tracer = otel.tracer_provider.get_tracer("app")
    sink = otel.sink()
    with tracer.start_as_current_span("handle-request") as req:
        ev = dict(one_call(), **{PARENT_KEY: otel_mod.capture_parent()})
    sink.write(ev)
    (span,) = otel.spans()
    assert span.parent.span_id == req.get_span_context().span_id
    assert span.context.trace_id == req.get_span_context().trace_id
    json.dumps(ev)      # the capture is plain W3C trace context: the event still serializes


def test_parent_keeps_tracestate():
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
    sc = SpanContext(0x1234, 0x99, is_remote=False, trace_flags=TraceFlags(1),
                     trace_state=TraceState([("vendor", "abc")]))
    with trace_api.use_span(NonRecordingSpan(sc)):
        cap = otel_mod.capture_parent()
    assert cap == {"traceparent": f"00-{0x1234:032x}-{0x99:016x}-01", "tracestate": "vendor=abc"}
    back = otel_mod.parent_span_context(cap)
    assert (back.trace_id, back.span_id, back.trace_state.get("vendor")) == (0x1234, 0x99, "abc")
    assert otel_mod.parent_span_context({"traceparent": "garbage"}) is None


def test_active_otel_span_becomes_the_parent_through_the_recorder(otel):
    if "capture_context" not in inspect.getsource(_recorder):
        pytest.skip("core hook not wired yet: _recorder.start_call must call _hooks.capture_context()")
    tracer = otel.tracer_provider.get_tracer("app")
    tokentrail.configure(sink=otel.sink())
    with tracer.start_as_current_span("handle-request") as req:
        one_call()
    one_call()
    tokentrail.flush()
    inner, outer = otel.spans()
    assert inner.parent.span_id == req.get_span_context().span_id
    assert inner.context.trace_id == req.get_span_context().trace_id
    assert outer.parent is None or outer.parent.span_id != req.get_span_context().span_id


def test_capturer_registered_while_a_sink_is_open(otel):
    sink = otel.sink()
    assert PARENT_KEY in _hooks.CAPTURERS
    tracer = otel.tracer_provider.get_tracer("app")
    assert _hooks.capture_context() is None                 # no open span: nothing stored
    with tracer.start_as_current_span("x"):
        assert PARENT_KEY in _hooks.capture_context()
    for s in otel.sinks:
        s.close()
    assert PARENT_KEY not in _hooks.CAPTURERS
    sink.write(one_call())                                  # written again after close: back on
    assert PARENT_KEY in _hooks.CAPTURERS
    sink.close()


def test_serializing_sinks_leave_private_keys_out(otel, tmp_path):
    from tokentrail import _sinks
    if "_hooks" not in inspect.getsource(_sinks):
        pytest.skip("core hook not wired yet: _sinks.dumps / JsonlSink must drop '_' keys (_hooks.public)")
    otel.sink()                                   # a capturer is registered
    ev = dict(one_call(), _otel_parent={"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"})
    jsonl = _sinks.JsonlSink(tmp_path / "e.jsonl")
    jsonl.write_batch([ev])
    jsonl.close()
    lite = _sinks.SqliteSink(str(tmp_path / "e.db"))
    lite.write_batch([ev])
    lite.close()
    import sqlite3
    (text,) = sqlite3.connect(tmp_path / "e.db").execute("SELECT event FROM events").fetchone()
    for line in ((tmp_path / "e.jsonl").read_text().strip(), text, _sinks.dumps(ev)):
        assert "_otel_parent" not in json.loads(line) and json.loads(line)["id"] == ev["id"]


def test_public_drops_private_keys():
    ev = {"a": 1, "_otel_parent": object()}
    assert _hooks.public(ev) == {"a": 1}
    same = {"a": 1}
    assert _hooks.public(same) is same
    with pytest.raises(ValueError):
        _hooks.register_context_capturer("no_underscore", lambda: 1)


def test_otel_by_name_uses_the_global_providers(otel, monkeypatch):
    # sink="otel" looks the global providers up at the first event (set them after configure).
    sink = resolve_sink("otel")
    assert isinstance(sink, OTelSink) and sink.tracer_provider is None
    sink._tracer = sink._instruments = None
    monkeypatch.setattr(trace_api, "get_tracer_provider", lambda: otel.tracer_provider)
    from opentelemetry.metrics import _internal as metrics_internal   # where get_meter() looks
    monkeypatch.setattr(metrics_internal, "get_meter_provider", lambda: otel.meter_provider)
    try:
        tokentrail.configure(sink="otel")
        one_call()
        tokentrail.flush()
        assert len(otel.spans()) == 1 and "tokentrail.cost" in otel.metrics()
    finally:
        sink._tracer = sink._instruments = None
        sink.close()


def test_a_bad_event_is_logged_not_raised(otel, caplog):
    sink = otel.sink()
    with caplog.at_level(logging.ERROR, logger="tokentrail"):
        sink.write_batch([{"usage": "nonsense", "startTime": object(), "cost": "x"}, one_call()])
    assert sink.exported == 2 or sink.failed == 1
    assert len(otel.spans()) >= 1


# --------------------------------------------------------------------------- Anthropic's own spans

def test_anthropic_sdk_spans_detected_and_warned_once(otel, monkeypatch, caplog):
    anthropic = pytest.importorskip("anthropic")
    try:
        from anthropic import _tracing  # noqa: F401
    except ImportError:
        pytest.skip(f"anthropic {anthropic.__version__} has no OpenTelemetry spans (< 2.12)")
    monkeypatch.delenv("ANTHROPIC_OPEN_TELEMETRY", raising=False)
    monkeypatch.setattr(otel_mod.trace_api, "get_tracer_provider", lambda: otel.tracer_provider)
    assert otel_mod.anthropic_sdk_spans_active()
    sink = otel.sink()
    with caplog.at_level(logging.WARNING, logger="tokentrail"):
        sink.write_batch([one_call(provider="anthropic"), one_call(provider="anthropic")])
    warnings = [r for r in caplog.records if "anthropic SDK emits its own" in r.getMessage()]
    assert len(warnings) == 1 and "ANTHROPIC_OPEN_TELEMETRY=false" in warnings[0].getMessage()

    # Either switch removes the duplicate (and the warning).
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")
    assert not otel_mod.anthropic_sdk_spans_active()
    monkeypatch.delenv("ANTHROPIC_OPEN_TELEMETRY")
    caplog.clear()
    otel.exporter.clear()
    quiet = otel.sink(skip_spans_for=("anthropic",))
    with caplog.at_level(logging.WARNING, logger="tokentrail"):
        quiet.write_batch([one_call(provider="anthropic"), one_call(provider="openai")])
    assert not [r for r in caplog.records if "anthropic SDK" in r.getMessage()]
    assert [s.attributes["gen_ai.provider.name"] for s in otel.spans()] == ["openai"]
    providers = {a["gen_ai.provider.name"] for a, _ in otel.metrics()["tokentrail.cost"]}
    assert "anthropic" in providers     # metrics still count the call (the SDK records none)


def test_anthropic_sdk_and_tokentrail_spans_count_the_same_tokens(otel, anthropic_mock):
    """The double count the README warns about, with the real SDK: both spans carry the
    call's input tokens, and the SDK's open_telemetry=False leaves only tokentrail's."""
    anthropic = pytest.importorskip("anthropic")
    try:
        from anthropic import _tracing  # noqa: F401
    except ImportError:
        pytest.skip(f"anthropic {anthropic.__version__} has no OpenTelemetry spans (< 2.12)")
    from tests.conftest import load_fixture
    body = load_fixture("anthropic/message.json")
    anthropic_mock.post("/v1/messages").respond(200, json=body)
    tokentrail.configure(sink=otel.sink())

    def call(**opts):
        client = tokentrail.attach(anthropic.Anthropic(api_key="k", **opts))
        client.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
        tokentrail.flush()

    call(open_telemetry={"tracer_provider": otel.tracer_provider})
    spans = otel.exporter.get_finished_spans()
    sdk = [s for s in spans if s.instrumentation_scope.name.startswith("com.anthropic")]
    ours = otel.spans()
    assert len(sdk) == 1 and len(ours) == 1
    assert sdk[0].attributes["gen_ai.usage.input_tokens"] == ours[0].attributes["gen_ai.usage.input_tokens"]
    otel.exporter.clear()
    call(open_telemetry=False)
    spans = otel.exporter.get_finished_spans()
    assert [s.instrumentation_scope.name for s in spans] == ["tokentrail"]
