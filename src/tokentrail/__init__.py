"""tokentrail: record what every OpenAI and Anthropic call costs, and find the waste.

Quick start::

    from openai import OpenAI
    import tokentrail

    client = tokentrail.attach(OpenAI())          # every call now writes an event
    with tokentrail.trace("answer-question") as t:
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])
    print(t.cost)

See DESIGN.md for the event fields; ``tokentrail report`` answers where the money went.
"""

from __future__ import annotations

from typing import Any

from ._config import configure
from ._pricing import PricingError
from ._recorder import log_event
from ._sinks import (CallableSink, FanoutSink, JsonlSink, MemorySink, SinkError, SqliteSink, StdoutSink,
                     resolve_sink)
from ._trace import BudgetExceeded, ContextThreadPoolExecutor, current_trace, propagate, trace
from ._writer import WRITER as _WRITER
from ._writer import lost as _lost

__version__ = "0.1.0"


def flush(timeout: float | None = 10.0) -> bool:
    """Write every queued event now; returns False if ``timeout`` passed first."""
    return _WRITER.flush(timeout)


def shutdown(timeout: float | None = 10.0) -> None:
    """Flush and close every sink (also done automatically at interpreter exit)."""
    _WRITER.flush(timeout)
    _WRITER.close_sinks()


def stats() -> dict:
    """Counters of the writer: events written, dropped (queue full), lost (a sink failed),
    queued (waiting now) and assisted (built on the caller's thread while the writer was behind)."""
    return {"written": _WRITER.written, "dropped": _WRITER.dropped, "lost": _lost(),
            "queued": len(_WRITER._queue), "assisted": _WRITER.assisted}


def price_table() -> Any:
    """The active :class:`PriceTable` (built-in tables plus overrides)."""
    from ._config import price_table as _pt
    return _pt()


def attach(client: Any, **kwargs: Any) -> Any:
    """Record every call made through ``client`` (OpenAI or Anthropic, sync or async); returns it.

    Example::

        client = tokentrail.attach(OpenAI(), metadata={"team": "search"})
    """
    from .instrument import attach as _attach
    return _attach(client, **kwargs)


def detach(client: Any) -> Any:
    """Stop recording ``client`` (and the copies made from it afterwards)."""
    from .instrument import detach as _detach
    return _detach(client)


def is_attached(client: Any) -> bool:
    """True when ``client`` (or the client it was copied from) is attached."""
    from .instrument import is_attached as _is
    return _is(client)


def capture(fn: Any = None, **kwargs: Any) -> Any:
    """Record a custom LLM function; ``@capture`` or ``@capture(name=..., model=..., provider=...)``."""
    from ._capture import capture as _capture
    return _capture(fn, **kwargs)


def log_interaction(prompt: str, response: Any, model: str | None = None, namespace: str | None = None,
                    **kwargs: Any) -> dict | None:
    """Record one prompt/response pair (the earlier prompt logger's one-off call)."""
    from ._capture import log_interaction as _li
    return _li(prompt, response, model=model, namespace=namespace, **kwargs)


def export_models(out: Any, **kwargs: Any) -> int:
    """Write the models seen in a SQLite database as JSONL (see ``tokentrail export``)."""
    from .export import export_models as _em
    return _em(out, **kwargs)


def export_prompts(out: Any, **kwargs: Any) -> int:
    """Write the prompts and completions of a SQLite database as JSONL (see ``tokentrail export``)."""
    from .export import export_prompts as _ep
    return _ep(out, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "testing":
        import importlib
        return importlib.import_module(".testing", __name__)
    raise AttributeError(f"module 'tokentrail' has no attribute {name!r}")


__all__ = [
    "attach", "detach", "is_attached", "configure", "trace", "capture", "log_event", "log_interaction", "flush",
    "shutdown", "stats", "price_table", "current_trace", "propagate", "ContextThreadPoolExecutor",
    "BudgetExceeded", "PricingError", "SinkError", "JsonlSink", "StdoutSink", "SqliteSink", "MemorySink",
    "CallableSink", "FanoutSink", "resolve_sink", "export_models", "export_prompts", "__version__",
]
