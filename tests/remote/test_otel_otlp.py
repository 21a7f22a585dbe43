"""End to end: an application process exports through OTLP/HTTP to a receiver on
127.0.0.1 that this test runs and that decodes the protobuf payloads.

The application sets up the OpenTelemetry SDK the usual way (global providers, batch
span processor, periodic metric reader, OTLP/HTTP exporters), names the sink by string
(``sink="otel"``), records calls inside one of its own spans and exits without flushing:
tokentrail's spans and metrics must still arrive, with the application's resource.
"""

from __future__ import annotations

import gzip
import inspect
import json
import os
import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2  # noqa: E402
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: E402

from tokentrail import _recorder  # noqa: E402
from tokentrail.sinks.otel import otel_trace_id  # noqa: E402

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "src"))

APP = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[2])
    from opentelemetry import metrics, trace
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    import tokentrail

    endpoint = sys.argv[1]
    resource = Resource.create({"service.name": "checkout-api"})
    tp = TracerProvider(resource=resource)
    tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint + "/v1/traces")))
    trace.set_tracer_provider(tp)
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint + "/v1/metrics"),
                                           export_interval_millis=600_000)
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))

    tokentrail.configure(sink="otel")
    tracer = trace.get_tracer("checkout")
    events = []
    with tracer.start_as_current_span("POST /checkout") as req:
        with tokentrail.trace("answer", metadata={"team": "payments"}):
            events.append(tokentrail.log_event(
                input={"model": "gpt-4o", "prompt": "hi"}, startTime="2026-11-23T10:00:00.100Z",
                endTime="2026-11-23T10:00:01.350Z", usage={"prompt_tokens": 1500, "completion_tokens": 90,
                                                           "cached_tokens": 1024}))
            events.append(tokentrail.log_event(
                input={"model": "claude-haiku-4-5", "prompt": "hi"}, provider="anthropic",
                model="claude-haiku-4-5-20251001", status="error",
                error={"type": "OverloadedError", "message": "overloaded", "status_code": 529},
                startTime="2026-11-23T10:00:01.400Z", endTime="2026-11-23T10:00:01.900Z"))
        ctx = req.get_span_context()
    events.append(tokentrail.log_event(input={"model": "gpt-4o-mini", "prompt": "later"},
                                       usage={"prompt_tokens": 20, "completion_tokens": 5}))
    print(json.dumps({"events": events, "trace_id": format(ctx.trace_id, "032x"),
                      "span_id": format(ctx.span_id, "016x")}))
    # no flush, no shutdown: exiting must be enough
""")


class Receiver:
    """A minimal OTLP/HTTP receiver: decodes /v1/traces and /v1/metrics requests."""

    def __init__(self):
        self.traces: list = []
        self.metrics: list = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path == "/v1/traces":
                    req = trace_service_pb2.ExportTraceServiceRequest()
                    req.ParseFromString(body)
                    receiver.traces.append(req)
                    out = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                elif self.path == "/v1/metrics":
                    req = metrics_service_pb2.ExportMetricsServiceRequest()
                    req.ParseFromString(body)
                    receiver.metrics.append(req)
                    out = metrics_service_pb2.ExportMetricsServiceResponse().SerializeToString()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


def attrs(kvs) -> dict:
    return {kv.key: value(kv.value) for kv in kvs}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_otlp_http_export_end_to_end(receiver, tmp_path):
    app = tmp_path / "app.py"
    app.write_text(APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENTRAIL_"))}
    proc = subprocess.run([sys.executable, str(app), receiver.url, SRC], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    events = out["events"]

    spans = []   # (resource attrs, scope name, span)
    for req in receiver.traces:
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                spans.extend((attrs(rs.resource.attributes), ss.scope.name, s) for s in ss.spans)
    ours = [(r, s) for r, scope, s in spans if scope == "tokentrail"]
    assert len(ours) == 3, [s.name for _, _, s in spans]
    by_id = {attrs(s.attributes)["tokentrail.event_id"]: (r, s) for r, s in ours}
    assert set(by_id) == {e["id"] for e in events}

    for ev in events:
        res, span = by_id[ev["id"]]
        a = attrs(span.attributes)
        assert res["service.name"] == "checkout-api"            # the application's own provider
        assert span.kind == 3                                    # SPAN_KIND_CLIENT
        assert span.name == f"chat {ev['input']['model']}"
        assert a["gen_ai.provider.name"] == ev["provider"]
        assert a["gen_ai.usage.input_tokens"] == ev["usage"]["prompt_tokens"]
        assert a["gen_ai.usage.output_tokens"] == ev["usage"]["completion_tokens"]
        assert a["tokentrail.cost_usd"] == pytest.approx(ev["cost"])
        assert a["tokentrail.trace_id"] == ev["traceId"]
        from tokentrail._time import parse_ts
        assert span.start_time_unix_nano == round(parse_ts(ev["startTime"]) * 1000) * 1_000_000
        assert span.end_time_unix_nano == round(parse_ts(ev["endTime"]) * 1000) * 1_000_000

    gpt, claude, later = (by_id[e["id"]][1] for e in events)
    assert attrs(gpt.attributes)["gen_ai.usage.cache_read.input_tokens"] == 1024
    assert attrs(gpt.attributes)["tokentrail.metadata.team"] == "payments"
    assert attrs(claude.attributes)["error.type"] == "OverloadedError" and claude.status.code == 2
    assert gpt.trace_id == claude.trace_id != later.trace_id
    if "capture_context" in inspect.getsource(_recorder):
        # Inside the application's span: children of it, in its trace.
        assert gpt.trace_id.hex() == out["trace_id"] and gpt.parent_span_id.hex() == out["span_id"]
        assert claude.parent_span_id.hex() == out["span_id"]
    else:   # core hook not wired: grouped by the tokentrail trace instead
        assert int.from_bytes(gpt.trace_id, "big") == otel_trace_id(events[0]["traceId"])

    # Cumulative temporality (the SDK default): the last export of each series holds the totals.
    latest: dict = {}
    for req in receiver.metrics:
        for rm in req.resource_metrics:
            for sm in rm.scope_metrics:
                if sm.scope.name != "tokentrail":
                    continue
                for m in sm.metrics:
                    data = m.histogram if m.HasField("histogram") else m.sum
                    for p in data.data_points:
                        a = attrs(p.attributes)
                        latest[(m.name, tuple(sorted(a.items())))] = (a, p)
    points: dict = {}
    for (name, _), ap in latest.items():
        points.setdefault(name, []).append(ap)
    cost = sum(p.as_double for _, p in points["tokentrail.cost"])
    assert cost == pytest.approx(sum(e["cost"] for e in events))
    assert {a["gen_ai.provider.name"] for a, _ in points["tokentrail.cost"]} == {"openai", "anthropic"}
    inp = sum(p.sum for a, p in points["gen_ai.client.token.usage"] if a["gen_ai.token.type"] == "input")
    assert inp == 1500 + 20
    assert sum(p.count for _, p in points["gen_ai.client.operation.duration"]) == 3
