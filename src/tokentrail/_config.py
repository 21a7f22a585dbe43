"""Process-wide settings, set by :func:`tokentrail.configure` and ``TOKENTRAIL_*`` variables."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ._pricing import PriceTable, PricingError, Rates, load_table
from ._sinks import resolve_sink

logger = logging.getLogger("tokentrail")

_FALSE = ("0", "false", "no", "off", "")


@dataclass
class Settings:
    sink: Any = None                   # resolved sink object
    sink_spec: Any = "tokentrail.jsonl"
    pricing: str | None = None         # override file
    capture_content: bool = True
    namespace: str = "default"
    metadata: dict = field(default_factory=dict)
    inject_stream_usage: bool = True   # add stream_options.include_usage to OpenAI chat streams
    default_input_rate: Decimal = Decimal(0)
    default_output_rate: Decimal = Decimal(0)
    budget_usd: float | None = None    # process-wide budget
    max_calls: int | None = None
    on_exceed: str = "warn"
    enabled: bool = True


SETTINGS = Settings()
_table: PriceTable | None = None
_table_lock = threading.Lock()


def _env_defaults() -> None:
    env = os.environ
    if env.get("TOKENTRAIL_SINK"):
        SETTINGS.sink_spec = env["TOKENTRAIL_SINK"]
    if env.get("TOKENTRAIL_PRICING"):
        SETTINGS.pricing = env["TOKENTRAIL_PRICING"]
    if "TOKENTRAIL_CAPTURE_CONTENT" in env:
        SETTINGS.capture_content = env["TOKENTRAIL_CAPTURE_CONTENT"].strip().lower() not in _FALSE
    if env.get("TOKENTRAIL_NAMESPACE"):
        SETTINGS.namespace = env["TOKENTRAIL_NAMESPACE"]
    if env.get("TOKENTRAIL_DISABLED", "").strip().lower() not in _FALSE:
        SETTINGS.enabled = False


_env_defaults()

_UNSET: Any = object()
ON_EXCEED = ("warn", "raise")


def configure(*, sink: Any = _UNSET, pricing: Any = _UNSET, capture_content: Any = _UNSET,
              namespace: Any = _UNSET, metadata: Any = _UNSET, inject_stream_usage: Any = _UNSET,
              default_price: Any = _UNSET, budget_usd: Any = _UNSET, max_calls: Any = _UNSET,
              on_exceed: Any = _UNSET, enabled: Any = _UNSET, queue_size: Any = _UNSET) -> None:
    """Set process-wide defaults. Only the arguments given change.

    - ``sink``: where events go (``"tokentrail.jsonl"``, ``"stdout"``, ``"sqlite:///calls.db"``,
      ``"memory"``, a callable, an object with ``write(event)``, or a list of these).
    - ``pricing``: a YAML file of price overrides (tokentrail's format, or the earlier
      ``input_rate_per_1m``/``input_price_per_1k`` formats). Raises :class:`PricingError`
      at once if the file is broken.
    - ``capture_content``: False stores no prompt or completion text anywhere.
    - ``namespace``, ``metadata``: stamped on every event (call-level metadata wins).
    - ``default_price``: ``{"input": x, "output": y}`` per 1M for models missing from the tables.
    - ``budget_usd`` / ``max_calls`` / ``on_exceed`` (``"warn"`` or ``"raise"``): a process-wide budget.
    - ``inject_stream_usage``: ask OpenAI chat streams for usage when the caller did not.

    Example::

        tokentrail.configure(sink="sqlite:///calls.db", metadata={"team": "search"})
    """
    global _table
    from ._writer import WRITER
    if sink is not _UNSET:
        SETTINGS.sink = resolve_sink(sink)   # SinkError now, not at the first call
        SETTINGS.sink_spec = sink
    if default_price is not _UNSET:
        dp = default_price or {}
        if not isinstance(dp, dict):
            raise TypeError("default_price must be a dict like {'input': 1.0, 'output': 2.0} (USD per 1M tokens)")
        from ._pricing import _dec
        SETTINGS.default_input_rate = _dec(dp.get("input", 0), "default_price['input']")
        SETTINGS.default_output_rate = _dec(dp.get("output", 0), "default_price['output']")
        _table = None
    if pricing is not _UNSET:
        path = os.fspath(pricing) if pricing else None
        if path:
            new = load_table(path, default=_default_rates())   # raises PricingError with file and line
            with _table_lock:
                SETTINGS.pricing, _table = path, new
        else:
            SETTINGS.pricing, _table = None, None
    if capture_content is not _UNSET:
        SETTINGS.capture_content = bool(capture_content)
    if namespace is not _UNSET:
        SETTINGS.namespace = str(namespace or "default")
    if metadata is not _UNSET:
        if metadata is not None and not isinstance(metadata, dict):
            raise TypeError("metadata must be a dict")
        SETTINGS.metadata = dict(metadata or {})
    if inject_stream_usage is not _UNSET:
        SETTINGS.inject_stream_usage = bool(inject_stream_usage)
    if budget_usd is not _UNSET:
        SETTINGS.budget_usd = None if budget_usd is None else float(budget_usd)
    if max_calls is not _UNSET:
        SETTINGS.max_calls = None if max_calls is None else int(max_calls)
    if on_exceed is not _UNSET:
        if on_exceed not in ON_EXCEED:
            raise ValueError(f"on_exceed must be one of {ON_EXCEED}, not {on_exceed!r}")
        SETTINGS.on_exceed = on_exceed
    if enabled is not _UNSET:
        SETTINGS.enabled = bool(enabled)
    if queue_size is not _UNSET:
        WRITER.maxsize = int(queue_size)


def _default_rates() -> Rates:
    return Rates(input=SETTINGS.default_input_rate, output=SETTINGS.default_output_rate)


def price_table() -> PriceTable:
    """The active price table (built-in + overrides), loaded on first use.

    A broken ``TOKENTRAIL_PRICING`` file found here (inside an instrumented call) is
    reported once and the built-in tables are used: pricing must never break a call.
    """
    global _table
    t = _table
    if t is not None:
        return t
    with _table_lock:
        if _table is None:
            try:
                _table = load_table(SETTINGS.pricing, default=_default_rates())
            except PricingError as e:
                logger.error("tokentrail: %s. Using the built-in price tables instead.", e)
                _table = load_table(None, default=_default_rates())
        return _table


def current_sink() -> Any:
    s = SETTINGS.sink
    if s is None:
        s = SETTINGS.sink = resolve_sink(SETTINGS.sink_spec)
    return s


def reset() -> None:
    """Back to defaults (for tests)."""
    global SETTINGS, _table
    fresh = Settings()
    for k, v in vars(fresh).items():
        setattr(SETTINGS, k, v)
    _env_defaults()
    _table = None
    from ._writer import QUEUE_SIZE, WRITER
    WRITER.maxsize = QUEUE_SIZE
