"""Token usage in one shape, whatever the provider reported.

Every event's ``usage`` uses OpenAI's names for every provider:

- ``prompt_tokens``: every input token, cached and cache-written ones included
  (Anthropic's ``input_tokens`` excludes them, so they are added back here);
- ``completion_tokens``: every output token, reasoning/thinking included;
- ``cached_tokens`` (cache reads), ``cache_write_tokens`` (of which
  ``cache_write_1h_tokens`` at Anthropic's 1-hour rate), ``reasoning_tokens``:
  subsets of the two above, priced by their own rates.

Missing, ``None``, negative or non-numeric counts read as 0: a malformed usage block
must never crash the host call.
"""

from __future__ import annotations

from typing import Any

from ._fields import field as _get

#: Counts always present on an event's ``usage`` (0 when unknown).
CORE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens",
             "cached_tokens", "cache_write_tokens", "reasoning_tokens")
#: Counts written only when non-zero.
EXTRA_KEYS = ("cache_write_1h_tokens", "cache_write_12h_tokens", "audio_prompt_tokens", "audio_completion_tokens",
              "accepted_prediction_tokens", "rejected_prediction_tokens")

_ANTHROPIC_MARKERS = ("cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation")


def count(value: Any) -> int:
    """A token count as a non-negative int; anything unreadable is 0."""
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value if value > 0 else 0
    try:
        n = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return 0
    return n if n > 0 else 0


def empty_usage() -> dict:
    return dict.fromkeys(CORE_KEYS, 0)


def normalize_usage(raw: Any, provider: str | None = None) -> dict:
    """Map a provider usage block (SDK object or dict) onto tokentrail's usage dict.

    Understands OpenAI Chat (``prompt_tokens`` + ``*_details``), OpenAI Responses
    (``input_tokens`` including cached), Anthropic (``input_tokens`` excluding cache
    reads/writes) and an already-normalized dict (idempotent).
    """
    u = empty_usage()
    if raw is None:
        return u
    is_anthropic = provider == "anthropic" or any(_get(raw, k) is not None for k in _ANTHROPIC_MARKERS)
    if _get(raw, "prompt_tokens") is None and _get(raw, "input_tokens") is not None:
        if is_anthropic:
            _read_anthropic(raw, u)
        else:
            _read_openai_responses(raw, u)
    else:
        _read_openai_chat(raw, u)
    # Subsets can never exceed their whole (a malformed block must not produce negative costs).
    u["cached_tokens"] = min(u["cached_tokens"], u["prompt_tokens"])
    u["cache_write_tokens"] = min(u["cache_write_tokens"], u["prompt_tokens"] - u["cached_tokens"])
    for k in ("cache_write_1h_tokens", "cache_write_12h_tokens"):
        if u.get(k):
            u[k] = min(u[k], u["cache_write_tokens"])
    u["reasoning_tokens"] = min(u["reasoning_tokens"], u["completion_tokens"])
    total = count(_get(raw, "total_tokens"))
    u["total_tokens"] = total if total >= u["prompt_tokens"] + u["completion_tokens"] else (
        u["prompt_tokens"] + u["completion_tokens"])
    if _get(raw, "estimated"):
        u["estimated"] = True
    return u


def _set_extra(u: dict, key: str, value: Any) -> None:
    n = count(value)
    if n:
        u[key] = n


def _read_openai_chat(raw: Any, u: dict) -> None:
    u["prompt_tokens"] = count(_get(raw, "prompt_tokens"))
    u["completion_tokens"] = count(_get(raw, "completion_tokens"))
    pd = _get(raw, "prompt_tokens_details")
    cd = _get(raw, "completion_tokens_details")
    # Flat names (an already-normalized dict, or log_event callers) win over details.
    u["cached_tokens"] = count(_get(raw, "cached_tokens") or _get(pd, "cached_tokens"))
    u["cache_write_tokens"] = count(_get(raw, "cache_write_tokens") or _get(pd, "cache_write_tokens"))
    u["reasoning_tokens"] = count(_get(raw, "reasoning_tokens") or _get(cd, "reasoning_tokens"))
    _set_extra(u, "cache_write_1h_tokens", _get(raw, "cache_write_1h_tokens"))
    _set_extra(u, "cache_write_12h_tokens", _get(raw, "cache_write_12h_tokens") or
               _get(_get(pd, "cache_write_tokens_details"), "ttl_12h_tokens"))
    _set_extra(u, "audio_prompt_tokens", _get(raw, "audio_prompt_tokens") or _get(pd, "audio_tokens"))
    _set_extra(u, "audio_completion_tokens", _get(raw, "audio_completion_tokens") or _get(cd, "audio_tokens"))
    _set_extra(u, "accepted_prediction_tokens",
               _get(raw, "accepted_prediction_tokens") or _get(cd, "accepted_prediction_tokens"))
    _set_extra(u, "rejected_prediction_tokens",
               _get(raw, "rejected_prediction_tokens") or _get(cd, "rejected_prediction_tokens"))


def _read_openai_responses(raw: Any, u: dict) -> None:
    # Responses API: input_tokens already includes cached_tokens (like prompt_tokens).
    u["prompt_tokens"] = count(_get(raw, "input_tokens"))
    u["completion_tokens"] = count(_get(raw, "output_tokens"))
    idt = _get(raw, "input_tokens_details")
    odt = _get(raw, "output_tokens_details")
    u["cached_tokens"] = count(_get(idt, "cached_tokens"))
    u["cache_write_tokens"] = count(_get(idt, "cache_write_tokens"))
    _set_extra(u, "cache_write_12h_tokens", _get(_get(idt, "cache_write_tokens_details"), "ttl_12h_tokens"))
    u["reasoning_tokens"] = count(_get(odt, "reasoning_tokens"))
    _set_extra(u, "audio_prompt_tokens", _get(idt, "audio_tokens"))


def _read_anthropic(raw: Any, u: dict) -> None:
    # Anthropic: input_tokens EXCLUDES cache reads and writes; add them back.
    uncached = count(_get(raw, "input_tokens"))
    read = count(_get(raw, "cache_read_input_tokens"))
    split = _get(raw, "cache_creation")
    write_5m = count(_get(split, "ephemeral_5m_input_tokens"))
    write_1h = count(_get(split, "ephemeral_1h_input_tokens"))
    write = count(_get(raw, "cache_creation_input_tokens")) or (write_5m + write_1h)
    u["prompt_tokens"] = uncached + read + write
    u["completion_tokens"] = count(_get(raw, "output_tokens"))
    u["cached_tokens"] = read
    u["cache_write_tokens"] = write
    _set_extra(u, "cache_write_1h_tokens", write_1h)
    u["reasoning_tokens"] = count(_get(_get(raw, "output_tokens_details"), "thinking_tokens"))
