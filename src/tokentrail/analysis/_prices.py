"""Price facts the analysis needs, per model id, from the active :class:`PriceTable`.

The recorder prices with :class:`decimal.Decimal`; the report re-prices millions of
events, so here the same formula (:func:`tokentrail._pricing.compute_cost`) runs on
floats, with the rates resolved once per model id. The difference is below 1e-15
relative, far under the 10 significant digits the report keeps.

"Cheapest chat model of a provider" (the overkill yardstick) comes from the table's
entries, never from model names: the entry with the lowest input+output price among
the provider's entries that have both an input and an output price and are not
embedding, audio, image, speech or moderation models.
"""

from __future__ import annotations

import re
from typing import Any

from .._pricing import ModelPrice, PriceTable, Rates

# Entries that are not chat/text-generation models, so they can never be the yardstick.
_NOT_CHAT = re.compile(r"embed|audio|image|dall-e|tts|whisper|transcribe|moderation|realtime|sora|video",
                       re.I)


def _rates(r: Rates) -> tuple[float, float, float, float, float]:
    i, c, w, w1, o = r.per_kind()
    return float(i), float(c), float(w), float(w1), float(o)


class ModelInfo:
    """Everything the analyzer asks about one model id (resolved once, then cached)."""

    __slots__ = ("model", "entry", "key", "label", "provider", "rates", "lc_threshold", "lc_rates", "price",
                 "ratio", "cheap_key", "cheap_rates", "cache_discount", "write_premium")

    def __init__(self, model: str, entry: ModelPrice | None, default: Rates,
                 cheapest: dict[str, ModelPrice]):
        self.model = model
        self.entry = entry
        if entry is None:
            self.key, self.label, self.provider = None, "unknown", None
            self.rates = _rates(default)
            self.lc_threshold, self.lc_rates = None, None
        else:
            self.key, self.label, self.provider = entry.key, entry.label, entry.provider
            self.rates = _rates(entry.rates)
            self.lc_threshold = entry.long_context_threshold if entry.long_context is not None else None
            self.lc_rates = _rates(entry.long_context) if entry.long_context is not None else None
        r_in, r_cached, r_write, _w1, r_out = self.rates
        self.price = r_in + r_out
        # Cache economics per token (USD per 1M): what a cache hit saves, what a write costs extra.
        self.cache_discount = max(r_in - r_cached, 0.0) if entry is not None else 0.0
        self.write_premium = max(r_write - r_in, 0.0) if entry is not None else 0.0
        self.ratio = 0.0
        self.cheap_key: str | None = None
        self.cheap_rates: tuple | None = None
        cheap = cheapest.get(entry.provider) if entry is not None else None
        if cheap is not None and cheap.key != entry.key:
            cheap_price = float(cheap.rates.input + cheap.rates.output)
            if cheap_price > 0:
                self.ratio = self.price / cheap_price
                self.cheap_key = cheap.key
                self.cheap_rates = _rates(cheap.rates)

    def cost(self, prompt: int, completion: int, cached: int = 0, write: int = 0, write_1h: int = 0) -> float:
        """USD for this usage (same rules as :func:`tokentrail._pricing.compute_cost`)."""
        rates = self.rates
        if self.lc_threshold and prompt > self.lc_threshold:
            rates = self.lc_rates
        return usage_cost(rates, prompt, completion, cached, write, write_1h)


def usage_cost(rates: tuple, prompt: int, completion: int, cached: int = 0, write: int = 0,
               write_1h: int = 0) -> float:
    r_in, r_cached, r_write, r_write_1h, r_out = rates
    if cached > prompt:
        cached = prompt
    if write > prompt - cached:
        write = prompt - cached
    if write_1h > write:
        write_1h = write
    return ((prompt - cached - write) * r_in + cached * r_cached + (write - write_1h) * r_write
            + write_1h * r_write_1h + completion * r_out) / 1e6


def cheapest_chat_models(table: PriceTable) -> dict[str, ModelPrice]:
    """Per provider, the priced chat model with the lowest input+output price."""
    best: dict[str, ModelPrice] = {}
    for e in table.entries():
        r = e.rates
        if r.input <= 0 or r.output <= 0 or _NOT_CHAT.search(e.key):
            continue
        cur = best.get(e.provider)
        if cur is None or (r.input + r.output, e.key) < (cur.rates.input + cur.rates.output, cur.key):
            best[e.provider] = e
    return best


class Prices:
    """A per-model-id cache of :class:`ModelInfo` over one price table."""

    def __init__(self, table: PriceTable):
        self.table = table
        self.cheapest = cheapest_chat_models(table)
        self._cache: dict[str, ModelInfo] = {}

    def info(self, model: Any) -> ModelInfo:
        m = model if isinstance(model, str) else ("" if model is None else str(model))
        hit = self._cache.get(m)
        if hit is None:
            entry, _how = self.table.resolve(m) if m else (None, "unknown")
            hit = ModelInfo(m, entry, self.table.default, self.cheapest)
            if len(self._cache) < 100_000:
                self._cache[m] = hit
        return hit


__all__ = ["ModelInfo", "Prices", "usage_cost", "cheapest_chat_models"]
