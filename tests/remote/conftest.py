"""Fixtures for the sinks that talk to real components: an OpenTelemetry SDK pipeline
with in-memory exporters, and a PostgreSQL server of the session's own.

``pg_server`` starts PostgreSQL (Debian's binaries, found on PATH or in
/usr/lib/postgresql/*/bin) in a temporary directory on 127.0.0.1 and a free port, once
per session, and stops it at the end; as root the cluster belongs to the ``postgres``
user. Without the binaries it falls back to ``TOKENTRAIL_TEST_PG_URL`` (tests that
restart the server are then skipped), and without either the PostgreSQL tests are
skipped with the reason. ``pg_url`` is a fresh, empty database for each test.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile

import pytest

from .pgserver import PgServer, find_bin


@pytest.fixture(scope="session")
def pg_server():
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'tokentrail[postgres]')")
    if find_bin("initdb") and find_bin("pg_ctl"):
        # Not under pytest's tmp_path: its parents are private to root, and the cluster's
        # owner (postgres) must reach the directory.
        root = tempfile.mkdtemp(prefix="tokentrail-pg-")
        server = PgServer(root)
        try:
            server.start()
            yield server
        finally:
            server.destroy()
            shutil.rmtree(root, ignore_errors=True)
        return
    url = os.environ.get("TOKENTRAIL_TEST_PG_URL")
    if url:
        yield PgServer.external(url)
        return
    pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin) and "
                "TOKENTRAIL_TEST_PG_URL is not set; run `bash scripts/ci_postgres.sh install`")


_db_numbers = itertools.count(1)


@pytest.fixture
def pg_url(pg_server):
    """A new empty database on the session's server; dropped after the test."""
    name = f"tt_{os.getpid()}_{next(_db_numbers)}"
    pg_server.create_db(name)
    yield pg_server.url(name)
    pg_server.drop_db(name)


@pytest.fixture
def otel():
    """A private TracerProvider and MeterProvider with in-memory exporters (the global
    providers are never touched: other tests share this process)."""
    pytest.importorskip("opentelemetry.sdk", reason="opentelemetry-sdk is not installed (tokentrail[otel])")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    class Otel:
        def __init__(self):
            self.exporter = InMemorySpanExporter()
            self.tracer_provider = TracerProvider(shutdown_on_exit=False)
            self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
            self.reader = InMemoryMetricReader()
            self.meter_provider = MeterProvider(metric_readers=[self.reader], shutdown_on_exit=False)
            self.sinks = []

        def sink(self, **kw):
            from tokentrail.sinks.otel import OTelSink
            s = OTelSink(self.tracer_provider, self.meter_provider, **kw)
            self.sinks.append(s)
            return s

        def spans(self):
            return [s for s in self.exporter.get_finished_spans() if s.instrumentation_scope.name == "tokentrail"]

        def metrics(self) -> dict:
            """{metric name: [(attributes dict, point)]}"""
            out: dict = {}
            data = self.reader.get_metrics_data()
            for rm in (data.resource_metrics if data else ()):
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        out.setdefault(m.name, []).extend((dict(p.attributes), p) for p in m.data.data_points)
            return out

    o = Otel()
    yield o
    import tokentrail
    tokentrail.flush()
    for s in o.sinks:
        s.close()
    o.tracer_provider.shutdown()
    o.meter_provider.shutdown()
