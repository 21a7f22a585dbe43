"""Token usage in one shape, whatever the provider reported.

Every event's ``usage`` uses OpenAI's names for every provider:

- ``prompt_tokens``: every input token, cached and cache-written ones included
  (Anthropic's ``input_tokens`` excludes them, so they are added back here);
- ``completion_tokens``: every output token, reasoning/thinking included;
- ``cached_tokens`` (cache reads), ``cache_write_tokens`` (of which
  ``cache_write_1h_tokens`` at Anthropic's 1-hour rate), ``reasoning_tokens``:
  subsets of the two above, priced by their own rates;
- ``compaction_tokens``: the part of both that Anthropic's context compaction used
  (counted in them, as it is billed; see :func:`_read_anthropic`).

Missing, ``None``, negative or non-numeric counts read as 0: a malformed usage block
must never crash the host call.
"""

from __future__ import annotations

from typing import Any

from ._fields import fields_of, is_plain_model

#: Counts always present on an event's ``usage`` (0 when unknown).
CORE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens",
             "cached_tokens", "cache_write_tokens", "reasoning_tokens")
#: Counts written only when non-zero.
EXTRA_KEYS = ("cache_write_1h_tokens", "cache_write_12h_tokens", "audio_prompt_tokens", "audio_completion_tokens",
              "accepted_prediction_tokens", "rejected_prediction_tokens", "compaction_tokens")

def count(value: Any) -> int:
    """A token count as a non-negative int; anything unreadable is 0."""
    if type(value) is int:
        return value if value > 0 else 0
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value if value > 0 else 0
    try:
        n = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return 0
    return n if n > 0 else 0


_NONE = {}.get

#: Service tiers that are the standard price (OpenAI "default"/"auto", Anthropic "standard").
_STANDARD_TIERS = frozenset(("default", "standard", "auto", ""))


def tier_of(value: Any) -> str | None:
    """A provider's reported service tier, lower case; None for the standard one or none."""
    if type(value) is not str:
        return None
    v = value.lower()
    return None if v in _STANDARD_TIERS else v


def served_at(usage: Any, provider: str | None, service_tier: Any) -> tuple[str | None, str | None]:
    """(tier, region) a call was served at, worked out on the writer from what its reader
    kept: OpenAI's response-level ``service_tier``; for Anthropic, its usage block's
    ``speed`` "fast" (fast mode), else ``service_tier`` when not standard ("priority",
    "batch"), and ``inference_geo`` when not "global" (US-only inference is billed at a
    premium on newer models)."""
    if provider != "anthropic" or usage is None:
        return tier_of(service_tier), None
    g = fields_of(usage).get
    geo = g("inference_geo")
    geo = geo.lower() if type(geo) is str and geo and geo.lower() != "global" else None
    return tier_of(g("speed")) or tier_of(g("service_tier")), geo


def empty_usage() -> dict:
    return dict.fromkeys(CORE_KEYS, 0)


def normalize_usage(raw: Any, provider: str | None = None) -> dict:
    """Map a provider usage block (SDK object or dict) onto tokentrail's usage dict.

    Understands OpenAI Chat (``prompt_tokens`` + ``*_details``), OpenAI Responses
    (``input_tokens`` including cached), Anthropic (``input_tokens`` excluding cache
    reads/writes) and an already-normalized dict (idempotent).

    The result is an event's ``usage`` block as it is written: every :data:`CORE_KEYS`
    count, the :data:`EXTRA_KEYS` counts that are not zero, ``"estimated": True`` when
    the counts are estimates; nothing else.
    """
    if raw is None:
        return empty_usage()
    g = fields_of(raw).get
    if g("prompt_tokens") is None and g("input_tokens") is not None and (
            provider == "anthropic" or g("cache_creation_input_tokens") is not None or
            g("cache_read_input_tokens") is not None or g("cache_creation") is not None):
        u = _read_anthropic(g)          # built from its parts: no subset can exceed its whole
    else:
        u = empty_usage()
        if g("prompt_tokens") is None and g("input_tokens") is not None:
            _read_openai_responses(g, u)
        else:
            _read_openai_chat(g, u, not is_plain_model(raw))
        # Subsets can never exceed their whole (a malformed block must not produce negative costs).
        prompt, completion = u["prompt_tokens"], u["completion_tokens"]
        cached = u["cached_tokens"] = min(u["cached_tokens"], prompt)
        write = u["cache_write_tokens"] = min(u["cache_write_tokens"], prompt - cached)
        for k in ("cache_write_1h_tokens", "cache_write_12h_tokens"):
            if k in u:
                if write:
                    u[k] = min(u[k], write)
                else:
                    del u[k]            # only non-zero extras are kept
        u["reasoning_tokens"] = min(u["reasoning_tokens"], completion)
    both = u["prompt_tokens"] + u["completion_tokens"]
    total = count(g("total_tokens"))
    u["total_tokens"] = total if total >= both else both
    if g("estimated"):
        u["estimated"] = True
    return u


def _set_extra(u: dict, key: str, value: Any) -> None:
    if value is not None:
        n = count(value)
        if n:
            u[key] = n


def _read_openai_chat(g: Any, u: dict, flat: bool) -> None:
    u["prompt_tokens"] = count(g("prompt_tokens"))
    u["completion_tokens"] = count(g("completion_tokens"))
    pd = fields_of(g("prompt_tokens_details")).get
    cd = fields_of(g("completion_tokens_details")).get
    # Flat names (an already-normalized dict, or log_event callers) win over details; an
    # SDK usage object has none, so it is not asked for them.
    f = g if flat else _NONE
    u["cached_tokens"] = count(f("cached_tokens") or pd("cached_tokens"))
    u["cache_write_tokens"] = count(f("cache_write_tokens") or pd("cache_write_tokens"))
    u["reasoning_tokens"] = count(f("reasoning_tokens") or cd("reasoning_tokens"))
    _set_extra(u, "cache_write_1h_tokens", f("cache_write_1h_tokens"))
    _set_extra(u, "cache_write_12h_tokens", f("cache_write_12h_tokens") or
               fields_of(pd("cache_write_tokens_details")).get("ttl_12h_tokens"))
    _set_extra(u, "audio_prompt_tokens", f("audio_prompt_tokens") or pd("audio_tokens"))
    _set_extra(u, "audio_completion_tokens", f("audio_completion_tokens") or cd("audio_tokens"))
    _set_extra(u, "accepted_prediction_tokens", f("accepted_prediction_tokens") or cd("accepted_prediction_tokens"))
    _set_extra(u, "rejected_prediction_tokens", f("rejected_prediction_tokens") or cd("rejected_prediction_tokens"))
    _set_extra(u, "compaction_tokens", f("compaction_tokens"))


def _read_openai_responses(g: Any, u: dict) -> None:
    # Responses API: input_tokens already includes cached_tokens (like prompt_tokens).
    u["prompt_tokens"] = count(g("input_tokens"))
    u["completion_tokens"] = count(g("output_tokens"))
    idt = fields_of(g("input_tokens_details")).get
    u["cached_tokens"] = count(idt("cached_tokens"))
    u["cache_write_tokens"] = count(idt("cache_write_tokens"))
    _set_extra(u, "cache_write_12h_tokens", fields_of(idt("cache_write_tokens_details")).get("ttl_12h_tokens"))
    u["reasoning_tokens"] = count(fields_of(g("output_tokens_details")).get("reasoning_tokens"))
    _set_extra(u, "audio_prompt_tokens", idt("audio_tokens"))


def _read_anthropic(g: Any) -> dict:
    """Anthropic: ``input_tokens`` EXCLUDES cache reads and writes; they are added back.
    The whole is built from its parts, so no subset can exceed it (nothing to clamp);
    ``total_tokens`` is left to :func:`normalize_usage`.

    The beta API's ``iterations`` list the sampling steps of a call; the tokens of a
    ``compaction`` step (the server summarizing a long context) are billed but NOT in the
    top-level counts (anthropic's ``BetaUsage`` docs), so they are added here, and their
    sum is written as ``compaction_tokens``. The other steps are already counted."""
    uncached = count(g("input_tokens"))
    read = count(g("cache_read_input_tokens"))
    write_5m, write_1h, write = _cache_writes(g)
    completion = count(g("output_tokens"))
    details = g("output_tokens_details")
    reasoning = 0 if details is None else min(count(fields_of(details).get("thinking_tokens")), completion)
    compaction = 0
    steps = g("iterations")
    if steps and isinstance(steps, (list, tuple)):
        for step in steps:
            sg = fields_of(step).get
            if sg("type") != "compaction":
                continue
            s_in, s_read, s_out = count(sg("input_tokens")), count(sg("cache_read_input_tokens")), \
                count(sg("output_tokens"))
            _, s_1h, s_write = _cache_writes(sg)
            uncached += s_in
            read += s_read
            write += s_write
            write_1h += s_1h
            completion += s_out
            compaction += s_in + s_read + s_write + s_out
    u = {"prompt_tokens": uncached + read + write, "completion_tokens": completion, "total_tokens": 0,
         "cached_tokens": read, "cache_write_tokens": write, "reasoning_tokens": reasoning}
    if write_1h:
        u["cache_write_1h_tokens"] = write_1h if write_1h <= write else write
    if compaction:
        u["compaction_tokens"] = compaction
    return u


def _cache_writes(g: Any) -> tuple[int, int, int]:
    """(5-minute, 1-hour, all) cache-write tokens of an Anthropic usage block or step."""
    split = g("cache_creation")
    if split is None:
        write_5m = write_1h = 0
    else:
        sg = fields_of(split).get
        write_5m = count(sg("ephemeral_5m_input_tokens"))
        write_1h = count(sg("ephemeral_1h_input_tokens"))
    return write_5m, write_1h, count(g("cache_creation_input_tokens")) or (write_5m + write_1h)
