"""The crashlens detector's rules (shared/notes/crashlens-contract.md), as plain checks.

crashlens itself needs Python >= 3.12; these functions restate the rules it applies to
a JSONL file, so the tests can check that our simulations would trigger them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

CHEAP = ("gpt-3.5-turbo", "gpt-3.5-turbo-16k", "claude-3-haiku", "claude-instant-1")
EXPENSIVE = ("gpt-4", "claude-3-opus", "claude-3-sonnet", "claude-2")
OVERKILL = ("gpt-4", "gpt-4o", "gpt-4-turbo", "gpt-4-32k", "claude-2", "claude-3-opus", "claude-3-sonnet")
SIMPLE = ("summarize", "translate", "explain", "what is", "hi", "hello", "yes", "no", "ok")


def _t(ev: dict) -> float:
    return datetime.fromisoformat(ev["startTime"].replace("Z", "+00:00")).timestamp()


def parseable(ev: dict) -> bool:
    """The fields whose absence makes crashlens 2.20 stop or crash."""
    inp, usage = ev.get("input") or {}, ev.get("usage") or {}
    return (isinstance(ev.get("traceId"), str) and isinstance(ev.get("startTime"), str)
            and len(ev["startTime"]) == 24 and ev["startTime"].endswith("Z")
            and isinstance(inp.get("model"), str) and isinstance(inp.get("prompt"), str)
            and isinstance(usage.get("prompt_tokens"), int) and isinstance(usage.get("completion_tokens"), int)
            and isinstance(ev.get("cost"), (int, float)))


def traces(events: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for ev in events:
        out[ev["traceId"]].append(ev)
    return out


def retry_loop(trace: list[dict]) -> bool:
    if len(trace) <= 3:
        return False
    recs = sorted(trace, key=lambda e: e["startTime"])
    groups, cur = [], [recs[0]]
    for prev, ev in zip(recs, recs[1:]):
        same = (ev["input"]["model"], ev["input"]["prompt"]) == (prev["input"]["model"], prev["input"]["prompt"])
        if same and _t(ev) - _t(prev) <= 120:
            cur.append(ev)
        else:
            groups.append(cur)
            cur = [ev]
    groups.append(cur)
    for g in groups:
        if len(g) < 4:
            continue
        gaps = [_t(b) - _t(a) for a, b in zip(g, g[1:])]
        ratios = [b / a for a, b in zip(gaps, gaps[1:]) if a > 0]
        backoff = bool(ratios) and sum(1.5 <= r <= 3 for r in ratios) / len(ratios) >= 0.7
        increasing = sum(b > a for a, b in zip(gaps, gaps[1:])) > len(gaps[1:]) / 2
        comps = [e["usage"]["completion_tokens"] for e in g]
        small = all(c == 0 for c in comps)
        if all(c <= 50 for c in comps):
            mean = sum(comps) / len(comps)
            sd = (sum((c - mean) ** 2 for c in comps) / len(comps)) ** 0.5
            small = small or (mean > 0 and sd / mean < 0.4)
        if backoff or increasing or small:
            return True
    return False


def fallback_storm(trace: list[dict]) -> bool:
    times = [_t(e) for e in trace]
    return len(trace) >= 3 and len({e["input"]["model"] for e in trace}) >= 2 and max(times) - min(times) <= 180


def fallback_failure(trace: list[dict]) -> bool:
    recs = sorted(trace, key=lambda e: e["startTime"])
    for a, b in zip(recs, recs[1:]):
        if (a["input"]["model"].startswith(CHEAP) and b["input"]["model"].startswith(EXPENSIVE)
                and a["input"]["prompt"] == b["input"]["prompt"] and _t(b) - _t(a) <= 300):
            return True
    return False


def overkill(ev: dict) -> bool:
    prompt = ev["input"]["prompt"]
    model = ev["input"]["model"]
    short = int(len(prompt.split()) * 0.75) <= 20
    simple = prompt.strip().lower().startswith(SIMPLE) or len(prompt) < 150
    complex_ = "```" in prompt or prompt.count("\n") > 3
    return any(m in model for m in OVERKILL) and short and simple and not complex_
