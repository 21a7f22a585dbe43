"""Synthetic events for benchmarks and tests: ``generate_events(n, seed)``.

The events have the shape the recorder writes (DESIGN.md), priced from the active
tables, and a known mix of what the report looks for: ordinary traces, retry loops,
fallback chains (both directions), overkill calls, large repeated prompts with and
without cache hits, failures, an unpriced model and ``span`` events. Same ``seed``,
same events (ids included)::

    from tokentrail.analysis import write_events
    write_events("bench.jsonl", 1_000_000, seed=1)

or ``python -m tokentrail.analysis._generate 1000000 bench.jsonl [seed]``.
"""

from __future__ import annotations

import json
import os
import random
import sys
import uuid
from typing import Any, Iterator

from .._time import format_ts

_START = 1793491200.0   # 2026-11-01T00:00:00Z

_OPENAI = ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1", "gpt-5-mini", "gpt-5"]
_ANTHROPIC = ["claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-1"]
_EXPENSIVE = ["gpt-4", "gpt-4o", "claude-opus-4-1", "gpt-5"]
_TEAMS = ["search", "support", "growth", "billing"]
_ROUTES = ["/api/chat", "/api/summarize", "/api/classify", "/api/answer"]
# Stands for a ~1,800-token system prompt (the text is shorter than its token count, to keep
# benchmark files near the ~1 KB per line of real logs).
_SYSTEM = ("You are a meticulous assistant for an enterprise knowledge base. " * 8).strip()
_WORDS = ("quarterly revenue customer churn forecast region product launch pricing tier support ticket "
          "backlog escalation contract renewal invoice latency incident postmortem roadmap milestone "
          "dependency migration database index query cache eviction throughput").split()


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


class _Pricer:
    def __init__(self) -> None:
        from .._config import price_table
        from ._prices import Prices
        self.prices = Prices(price_table())

    def cost(self, model: str, pt: int, ct: int, cached: int = 0) -> tuple[float, str]:
        info = self.prices.info(model)
        return round(info.cost(pt, ct, cached), 12), info.label


def generate_events(n: int, seed: int = 0, *, start: float = _START) -> Iterator[dict]:
    """Yield ``n`` events (calls and a few spans), deterministic for a given ``seed``."""
    rng = random.Random(seed)
    pricer = _Pricer()
    t = start
    made = 0

    def uid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def event(trace: str, at: float, model: str, prompt: str, pt: int, ct: int, *, cached: int = 0,
              failed: bool = False, name: str = "openai.chat.completions.create", fallback: str | None = None,
              retry: int = 0, team: str = "search") -> dict:
        provider = "anthropic" if model.startswith("claude") else ("openai" if model.startswith(("gpt", "o"))
                                                                   else "custom")
        if failed:
            pt = ct = cached = 0        # a rejected request reports no usage (the recorder writes 0s)
        cost, label = pricer.cost(model, pt, ct, cached)
        latency = int(rng.lognormvariate(6.5, 0.6))
        ev: dict[str, Any] = {
            "traceId": trace, "id": uid(), "type": "generation", "name": name,
            "startTime": format_ts(at), "endTime": format_ts(at + latency / 1000.0),
            "level": "error" if failed else "info", "status": "error" if failed else "success",
            "provider": provider, "namespace": "default",
            "input": {"model": model, "prompt": prompt, "messages": [{"role": "user", "content": prompt[:200]}],
                      "params": {"temperature": 0.2}},
            "model": model,
        }
        if not failed:
            ev["output"] = {"response": _text(rng, min(ct, 30)), "finish_reason": "stop"}
        ev["usage"] = {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct,
                       "cached_tokens": cached, "cache_write_tokens": 0, "reasoning_tokens": 0}
        ev["cost"] = cost
        ev["cost_details"] = {"input": cost, "cached_input": 0.0, "cache_write": 0.0, "output": 0.0}
        ev["pricing"] = label
        ev["latency_ms"] = latency
        ev["retry_attempt"] = retry
        ev["fallback_model"] = fallback
        if failed:
            ev["error"] = {"type": "RateLimitError", "message": "Rate limit reached", "status_code": 429}
        ev["metadata"] = {"source": "tokentrail", "fallback_attempted": fallback is not None, "team": team,
                          "route": rng.choice(_ROUTES)}
        ev["schema_version"] = 1
        return ev

    while made < n:
        trace = uid()
        team = rng.choice(_TEAMS)
        t += rng.expovariate(1 / 2.5)
        at = t
        r = rng.random()
        batch: list[dict] = []
        if r < 0.55:                                   # ordinary: 1-3 calls, medium prompts
            for _ in range(rng.randint(1, 3)):
                m = rng.choice(_OPENAI + _ANTHROPIC)
                words = rng.randint(30, 120)
                batch.append(event(trace, at, m, _text(rng, words), int(words * 1.4) + 20, rng.randint(20, 400),
                                   team=team, failed=rng.random() < 0.02))
                at += rng.uniform(0.5, 4)
        elif r < 0.65:                                 # overkill: tiny prompt, expensive model
            m = rng.choice(_EXPENSIVE)
            batch.append(event(trace, at, m, rng.choice(["Hi", "Translate 'cat' to French", "yes or no?",
                                                         "What is 2+2?"]), 12, rng.randint(3, 20), team=team))
        elif r < 0.72:                                 # retry loop: 429s, or answers rejected by the app
            m = rng.choice(_OPENAI)
            prompt = _text(rng, 40)
            k = rng.randint(3, 6)
            rejected = rng.random() < 0.5
            for i in range(k):
                batch.append(event(trace, at, m, prompt, 80, rng.randint(50, 200),
                                   failed=not rejected and i < k - 1, retry=i, team=team))
                at += 2 ** i
        elif r < 0.78:                                 # fallback chain, either direction
            a, b = rng.sample(_OPENAI + _ANTHROPIC, 2)
            prompt = _text(rng, 50)
            batch.append(event(trace, at, a, prompt, 90, 0, failed=True, team=team))
            batch.append(event(trace, at + 1.5, b, prompt, 90, rng.randint(50, 300), fallback=a, team=team))
        elif r < 0.86:                                 # large shared system prompt: cached or not
            m = rng.choice(["gpt-4o", "gpt-4.1-mini", "claude-sonnet-4-5"])
            pt = 1800
            cached = 1536 if rng.random() < 0.5 else 0
            batch.append(event(trace, at, m, _SYSTEM + " " + rng.choice(_WORDS), pt, rng.randint(50, 300),
                               cached=cached, team=team))
        elif r < 0.88:                                 # a model the tables do not know
            batch.append(event(trace, at, "acme-llm-7b", _text(rng, 30), 60, 100, team=team))
        elif r < 0.91:                                 # a captured function (span) around a call
            ev = event(trace, at, "gpt-4o-mini", _text(rng, 25), 50, 80, team=team, name="answer")
            span = dict(ev, id=uid(), type="span", name="answer", model="", cost=0.0,
                        usage={k: 0 for k in ev["usage"]})
            batch.extend([ev, span])
        else:                                          # embeddings
            batch.append(event(trace, at, "text-embedding-3-small", _text(rng, 60), 90, 0, team=team,
                               name="openai.embeddings.create"))
            batch[-1]["type"] = "embedding"
        for ev in batch:
            if made >= n:
                return
            made += 1
            yield ev


def write_events(path: str | os.PathLike, n: int, seed: int = 0) -> int:
    """Write ``generate_events(n, seed)`` as JSONL; returns the number of lines."""
    written = 0
    with open(path, "w", encoding="utf-8") as f:
        buf: list[str] = []
        for ev in generate_events(n, seed):
            buf.append(json.dumps(ev, separators=(",", ":")))
            written += 1
            if len(buf) >= 10_000:
                f.write("\n".join(buf) + "\n")
                buf = []
        if buf:
            f.write("\n".join(buf) + "\n")
    return written


def _main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m tokentrail.analysis._generate N OUT.jsonl [SEED]", file=sys.stderr)
        return 2
    n = write_events(argv[1], int(argv[0]), int(argv[2]) if len(argv) > 2 else 0)
    print(f"wrote {n:,} events to {argv[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))


__all__ = ["generate_events", "write_events"]
