"""Other instrumentation packages, set up the way their docs show, for ``run.py --compare``.

Each one exports to memory (an OpenTelemetry exporter that keeps nothing), so no
network is touched and the comparison favours them slightly: tokentrail writes a JSONL
file. A package that is not installed raises ImportError and its row says so.
"""

from __future__ import annotations

from typing import Any, Callable

#: name -> what to ``pip install`` for it
PACKAGES = {
    "openinference": "openinference-instrumentation-openai openinference-instrumentation-anthropic opentelemetry-sdk",
    "openllmetry": "opentelemetry-instrumentation-openai opentelemetry-instrumentation-anthropic opentelemetry-sdk",
    "otel-genai": "opentelemetry-instrumentation-openai-v2 opentelemetry-sdk",
    "logfire": "logfire",
}


def _tracer_provider() -> tuple[Any, Callable[[], Any]]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        def export(self, spans):  # noqa: D401
            return SpanExportResult.SUCCESS

        def shutdown(self):
            pass

    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(Discard()))
    return tp, tp.force_flush


def setup(name: str, clients: list) -> Callable[[], Any]:
    """Instrument (class-wide, as these packages do) and return their flush function."""
    if name == "openinference":
        from openinference.instrumentation.anthropic import AnthropicInstrumentor
        from openinference.instrumentation.openai import OpenAIInstrumentor
        tp, flush = _tracer_provider()
        OpenAIInstrumentor().instrument(tracer_provider=tp)
        AnthropicInstrumentor().instrument(tracer_provider=tp)
        return flush
    if name == "openllmetry":
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor
        tp, flush = _tracer_provider()
        OpenAIInstrumentor().instrument(tracer_provider=tp)
        AnthropicInstrumentor().instrument(tracer_provider=tp)
        return flush
    if name == "otel-genai":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
        tp, flush = _tracer_provider()
        OpenAIInstrumentor().instrument(tracer_provider=tp)
        return flush
    if name == "logfire":
        import logfire
        logfire.configure(send_to_logfire=False, console=False)
        logfire.instrument_openai()
        logfire.instrument_anthropic()
        return logfire.force_flush
    raise ImportError(f"unknown comparison {name!r}")
