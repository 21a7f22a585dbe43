"""Hand-built events for the analysis tests (tokentrail shape and the earlier CrashLens shape)."""

from __future__ import annotations

import itertools
from typing import Any

import tokentrail
from tokentrail._time import format_ts

BASE = 1795428000.0          # 2026-11-23T10:00:00.000Z
_ids = itertools.count(1)


def at(seconds: float = 0.0) -> str:
    """A canonical timestamp ``seconds`` after 2026-11-23T10:00:00Z."""
    return format_ts(BASE + seconds)


DEFAULT_PROMPT = ("Write a detailed plan for migrating the billing database to the new cluster, with "
                  "rollback steps for each phase, owners for every step and the checks that prove it worked.")


def call(trace: str = "t1", t: float = 0.0, model: str = "gpt-4o", prompt: str = DEFAULT_PROMPT,
         pt: int = 120, ct: int = 80, *, cost: Any = "auto", status: str = "success", cached: int = 0,
         id: str | None = None, **extra: Any) -> dict:
    """A tokentrail-shaped generation event; ``cost`` from the active tables unless given."""
    usage = {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct, "cached_tokens": cached,
             "cache_write_tokens": 0, "reasoning_tokens": 0}
    if cost == "auto":
        cost = float(tokentrail.price_table().cost(model, usage).total)
    ev: dict = {"traceId": trace, "id": id or f"ev-{next(_ids)}", "type": "generation", "name": "chat",
                "startTime": at(t), "endTime": at(t + 0.5), "level": "error" if status == "error" else "info",
                "status": status, "provider": tokentrail.price_table().resolve(model)[0].provider
                if tokentrail.price_table().resolve(model)[0] else "custom",
                "namespace": "default", "input": {"model": model, "prompt": prompt}, "model": model,
                "usage": usage, "cost": cost, "latency_ms": 500, "retry_attempt": 0, "fallback_model": None,
                "metadata": {"source": "tokentrail", "fallback_attempted": False}}
    if status == "error":
        ev["error"] = {"type": "RateLimitError", "message": "slow down", "status_code": 429}
    meta = extra.pop("metadata", None)
    if meta:
        ev["metadata"].update(meta)
    ev.update(extra)
    return ev


def crashlens_line(trace: str, t: float, model: str, prompt: str, pt: int = 18, ct: int = 0,
                   cost: float | None = 0.00054) -> dict:
    """The earlier CrashLens / cost-logger shape (no id, no type, no status)."""
    d: dict = {"traceId": trace, "startTime": at(t), "input": {"model": model, "prompt": prompt},
               "usage": {"prompt_tokens": pt, "completion_tokens": ct}}
    if cost is not None:
        d["cost"] = cost
    return d


def kinds(report: dict) -> list[str]:
    return [f["kind"] for f in report["findings"]]


def of_kind(report: dict, kind: str) -> list[dict]:
    return [f for f in report["findings"] if f["kind"] == kind]
