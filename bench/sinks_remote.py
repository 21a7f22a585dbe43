"""Throughput of the remote sinks: PostgreSQL and OpenTelemetry, in events per second.

    python bench/sinks_remote.py                 # both; starts a throwaway PostgreSQL if needed
    python bench/sinks_remote.py --events 50000 --only postgres --pg-url postgresql://...

Each measurement takes realistic events (built once by ``tokentrail.log_event``, then
given fresh ids), and times:

- ``postgres sink``: ``write_batch`` in writer-sized batches (5,000) until every row is
  committed (``flush``): COPY into a staging table, INSERT ... ON CONFLICT, COMMIT.
- ``postgres pipeline``: ``log_event`` on the caller's thread -> tokentrail's writer ->
  the sink, until ``tokentrail.flush()`` returns (the caller-side cost included).
- ``otel sink (in-memory)``: spans + metrics into the SDK with an in-memory exporter.
- ``otel sink (OTLP/HTTP)``: the same through a BatchSpanProcessor and the OTLP/HTTP
  exporter to a receiver on 127.0.0.1 (the receiver parses every request), until
  ``force_flush`` returns.

Numbers depend on the machine; the PostgreSQL server runs on the same 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

import tokentrail  # noqa: E402
from tokentrail._ids import new_id  # noqa: E402


def sample_events(n: int) -> list[dict]:
    tokentrail.configure(sink="memory")
    base = [
        tokentrail.log_event(input={"model": "gpt-4o-mini", "prompt": "Summarize the ticket in one line."},
                             output={"response": "Customer cannot log in after reset.", "finish_reason": "stop"},
                             usage={"prompt_tokens": 420, "completion_tokens": 18, "cached_tokens": 256},
                             metadata={"team": "support", "route": "/api/summarize"}),
        tokentrail.log_event(input={"model": "claude-haiku-4-5", "prompt": "Classify: refund or not?"},
                             provider="anthropic", model="claude-haiku-4-5-20251001",
                             usage={"prompt_tokens": 1200, "completion_tokens": 5, "cache_write_tokens": 1024},
                             metadata={"team": "billing"}),
    ]
    return [dict(base[i % 2], id=new_id()) for i in range(n)]


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>10,.0f} events/s  ({n:,} in {seconds:.2f}s)"


# --------------------------------------------------------------------------- PostgreSQL

def bench_postgres(url: str, n: int) -> None:
    import psycopg
    from tokentrail.sinks.postgres import PostgresSink, db_init

    db_init(url)
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("TRUNCATE events")
    evs = sample_events(n)
    sink = PostgresSink(url, max_buffer=n + 1, flush_timeout=600)
    sink.write_batch(evs[:100])           # connect and warm up outside the timing
    sink.flush()
    evs = [dict(e, id=new_id()) for e in evs]
    t0 = time.perf_counter()
    for i in range(0, n, 5000):
        sink.write_batch(evs[i:i + 5000])
    sink.flush()
    dt = time.perf_counter() - t0
    sink.close()
    print(f"postgres sink              {rate(n, dt)}")

    sink = PostgresSink(url, max_buffer=n + 1, flush_timeout=600)
    tokentrail.configure(sink=sink, queue_size=n + 1)
    tokentrail.log_event(input={"model": "gpt-4o-mini", "prompt": "warm"}, usage={"prompt_tokens": 1})
    tokentrail.flush()
    t0 = time.perf_counter()
    for _ in range(n):
        tokentrail.log_event(input={"model": "gpt-4o-mini", "prompt": "Summarize the ticket in one line."},
                             usage={"prompt_tokens": 420, "completion_tokens": 18}, metadata={"team": "support"})
    tokentrail.flush(timeout=600)
    dt = time.perf_counter() - t0
    sink.close()
    with psycopg.connect(url) as c:
        rows = c.execute("SELECT count(*) FROM events").fetchone()[0]
    assert rows == 2 * n + 101, rows
    print(f"postgres pipeline          {rate(n, dt)}   (log_event -> writer -> sink -> commit)")


def own_postgres():
    sys.path.insert(0, ROOT)
    from tests.remote.pgserver import PgServer, find_bin
    if not (find_bin("initdb") and find_bin("pg_ctl")):
        return None, None
    root = tempfile.mkdtemp(prefix="tokentrail-pg-bench-")
    server = PgServer(root)
    server.start()
    server.create_db("bench")

    def stop():
        server.destroy()
        shutil.rmtree(root, ignore_errors=True)
    return server.url("bench"), stop


# --------------------------------------------------------------------------- OpenTelemetry

class Receiver:
    def __init__(self):
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
        self.spans = 0
        recv = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                req = trace_service_pb2.ExportTraceServiceRequest()
                req.ParseFromString(body)
                recv.spans += sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
                out = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def bench_otel(n: int) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from tokentrail.sinks.otel import OTelSink

    evs = sample_events(n)

    tp = TracerProvider(shutdown_on_exit=False)
    mem = InMemorySpanExporter()
    tp.add_span_processor(SimpleSpanProcessor(mem))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()], shutdown_on_exit=False)
    sink = OTelSink(tp, mp)
    sink.write_batch(evs[:100])
    t0 = time.perf_counter()
    for i in range(0, n, 5000):
        sink.write_batch(evs[i:i + 5000])
    dt = time.perf_counter() - t0
    assert len(mem.get_finished_spans()) == n + 100
    print(f"otel sink (in-memory)      {rate(n, dt)}   (span + 3 metric points per event)")
    sink.close()

    recv = Receiver()
    tp = TracerProvider(shutdown_on_exit=False)
    tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=recv.url), max_queue_size=n + 1000,
                                             max_export_batch_size=2048, schedule_delay_millis=200))
    sink = OTelSink(tp, mp)
    sink.write_batch(evs[:100])
    sink.flush()
    t0 = time.perf_counter()
    for i in range(0, n, 5000):
        sink.write_batch(evs[i:i + 5000])
    tp.force_flush(600_000)
    dt = time.perf_counter() - t0
    assert recv.spans == n + 100, recv.spans
    print(f"otel sink (OTLP/HTTP)      {rate(n, dt)}   (to a receiver on 127.0.0.1, until exported)")
    sink.close()
    tp.shutdown()
    recv.server.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--only", choices=("postgres", "otel"))
    ap.add_argument("--pg-url", default=os.environ.get("TOKENTRAIL_TEST_PG_URL"))
    args = ap.parse_args()
    import logging
    logging.basicConfig(level=logging.WARNING)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {args.events:,} events per run")
    if args.only in (None, "postgres"):
        url, stop = args.pg_url, None
        if not url:
            url, stop = own_postgres()
        if not url:
            print("postgres: skipped (no PostgreSQL: give --pg-url or install it)")
        else:
            try:
                bench_postgres(url, args.events)
            finally:
                if stop:
                    stop()
    if args.only in (None, "otel"):
        bench_otel(args.events)


if __name__ == "__main__":
    main()
