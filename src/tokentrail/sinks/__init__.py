"""Sinks that need an optional dependency, each in its own module.

- :class:`tokentrail.sinks.otel.OTelSink` (``pip install tokentrail[otel]``): one
  OpenTelemetry span per event, following the GenAI semantic conventions, plus token and
  cost metrics. Also named by the string ``"otel"``.
- :class:`tokentrail.sinks.postgres.PostgresSink` (``pip install tokentrail[postgres]``):
  the SQLite schema in PostgreSQL, batched COPY, reconnects with backoff. Also named by
  a ``postgresql://`` URL.

Both are imported on first use, so ``import tokentrail.sinks`` needs neither extra::

    from tokentrail.sinks import OTelSink        # ImportError names the extra to install
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "OTelSink": ("tokentrail.sinks.otel", "otel"),
    "PostgresSink": ("tokentrail.sinks.postgres", "postgres"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'tokentrail.sinks' has no attribute {name!r}")
    module, extra = _LAZY[name]
    from importlib import import_module
    try:
        mod = import_module(module)
    except ImportError as e:
        raise ImportError(f"{name} needs `pip install tokentrail[{extra}]` ({e})") from e
    return getattr(mod, name)


__all__ = ["OTelSink", "PostgresSink"]
