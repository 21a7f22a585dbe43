"""Waste detectors. Each finding names the calls involved and the USD at stake.

The analyzer keeps, per open trace, one small tuple per call (see the ``C_*`` indices
below), never the event itself. When a trace is closed, :func:`detect_trace` sorts its
calls by start time and runs the trace detectors; the file-wide detectors
(unpriced models, failed spend, cache savings, missed caching) accumulate in the
``*Groups`` classes and are turned into findings at the end.

Rules (thresholds are module constants):

- **retry_loop** — within a trace, calls with the same requested model and the same
  prompt, each started at most :data:`RETRY_GAP_S` (120 s) after the previous one of
  the group, :data:`RETRY_MIN_CALLS` (3) or more times. Other calls may sit in
  between (an agent alternating A, B, A, B is caught too). Three, not crashlens' four:
  one repeat is an ordinary retry of a transient error; a second repeat of the same
  request is already a loop. Crashlens also needs small responses or backoff-shaped
  gaps; we do not, so every group it flags we flag. Waste = the cost of every call of
  the group except the last successful one (whose answer was used); crashlens counts
  all of them, including the useful one.
- **fallback_storm** — ≥ :data:`STORM_MIN_CALLS` (3) calls of one trace with ≥ 2
  distinct requested models (case-insensitive) within :data:`STORM_WINDOW_S` (180 s).
  Crashlens requires the *whole* trace to fit in 3 minutes; we slide a window, so a
  storm inside a longer trace is found too, and a whole-trace storm is the same
  window. Waste = every call of the window except the last successful one (crashlens:
  the sum of all) — but only when something shows it was a storm (a failure, a
  fallback marker or a repeated prompt); with distinct prompts and no failure the
  window is listed with severity ``low`` and ``waste_usd`` 0 (a router + answer +
  summary pipeline looks the same).
- **fallback_chain** — consecutive calls of a trace whose requested model changes,
  linked when the earlier call failed, or the later one says it is a fallback
  (``fallback_model`` set or ``metadata.fallback_attempted`` true), or both carry the
  identical prompt within :data:`CHAIN_WINDOW_S` (300 s; crashlens'
  ``fallback_failure``, which only knows cheap→expensive name pairs). Either direction
  counts. Waste = the abandoned attempts (every call of the chain but the last
  successful one).
- **overkill** — decided per call when it is read: a successful generation whose
  model's input+output price is ≥ ``overkill_ratio`` (5×) that of the cheapest chat
  model of its provider in the price tables, on a short, simple prompt
  (:func:`short_simple_prompt`). Model names are never matched: crashlens flags
  ``gpt-4o-mini`` because its name contains ``gpt-4o``; here it is flagged only if its
  price is 5× the cheapest. Failed calls are left to ``failed_spend``. Waste = cost −
  the same usage priced on the cheapest model. One finding per (trace, model).
- **unpriced_model** — per model: events marked ``pricing: "unknown"`` (unless the
  report re-prices them) or whose model does not resolve in the tables. Their cost is
  whatever the default rate made of it, so the finding's ``waste_usd`` is 0 and
  ``cost_usd`` says what was logged.
- **failed_spend** — per model: the cost of calls with ``status``/``level`` error (or
  an ``error`` object).
- **cache_savings** — per model, informational (``waste_usd`` 0): what cache reads
  saved against the input rate, minus what cache writes cost above it.
- **missed_cache** — per (model, identical prompt): prompts of ≥
  :data:`MISSED_CACHE_MIN_TOKENS` (1024) tokens sent ≥ 2 times with no cached tokens,
  on a model whose table has a cheaper cached-input rate. Each repeat started within
  :data:`CACHE_TTL_S` (1 h) of the previous one would have been a cache hit:
  savings = its prompt tokens × (input − cached input rate), minus one cache-write
  premium. An estimate; the finding says so.

"Same prompt" means the same ``input.prompt`` text. Without text (content capture
off), tokentrail's own events compare their prompt token counts; other tools' lines
compare as identical, as crashlens does.

``waste_total_usd`` counts every call once: the largest waste any finding assigns to
it (a failed call inside a retry loop is not counted twice), plus missed-cache
savings on the part of a call not already counted.

Every crashlens finding is found here too, except on purpose: overkill of models
whose *price* is under 5× the cheapest (``gpt-4o-mini``, ``gpt-4.1-nano``…), of
failed calls (reported as failed spend), of prompts that only match crashlens'
raw-prefix test ("history…" for "hi") or of text-less calls with more than 20 prompt
tokens. Crashlens' trace ownership (one detector per trace) is not copied: a retry
loop of an overkill model is reported as both.
"""

from __future__ import annotations

import re
from typing import Any

from .._time import format_ts
from ._format import rnd, usd

# --------------------------------------------------------------------------- thresholds
RETRY_MIN_CALLS = 3
RETRY_GAP_S = 120.0
STORM_MIN_CALLS = 3
STORM_MIN_MODELS = 2
STORM_WINDOW_S = 180.0
CHAIN_WINDOW_S = 300.0
OVERKILL_RATIO = 5.0
SHORT_PROMPT_TOKENS = 20
SHORT_PROMPT_CHARS = 150
SHORT_PROMPT_NEWLINES = 3
MISSED_CACHE_MIN_TOKENS = 1024
CACHE_TTL_S = 3600.0
MAX_CALLS_LISTED = 50       # call references kept per finding; ``call_count`` has the full number
_GROUP_OCCURRENCES = 256    # missed-cache occurrences kept per prompt (the rest are summed)

# --------------------------------------------------------------------------- call tuples
C_START, C_SEQ, C_ID, C_MODEL, C_RMODEL, C_FP, C_COST, C_FAILED, C_FALLBACK, C_OVERKILL, C_PT, C_MISS, \
    C_TIMED = range(13)

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}

# --------------------------------------------------------------------------- prompt shape

# Word-boundary prefixes (crashlens matches raw prefixes, so "history…" counts as "hi").
_SIMPLE_START = re.compile(
    r"^\s*(summari[sz]e|translate|explain|what (is|are)|how to|define|definition|list|show me|fix grammar|"
    r"hi|hello|hey|thanks|thank you|yes|no|ok|okay)\b", re.I)
_COMPLEX = re.compile(r"```|\bdef |\bclass |\bimport |\bfunction\b|\{\"task\":|\"context\":|\"instructions\":")


def estimate_words_tokens(prompt: str) -> int:
    """Crashlens' estimate, kept so that every prompt it calls short we call short."""
    words = len(prompt.split())
    return max(1, int(words * 0.75)) if words else 0


def short_simple_prompt(prompt: Any, prompt_tokens: int) -> bool:
    """Short (≤ 20 estimated tokens), simple (< 150 characters or a simple-task opening
    such as "summarize", "translate", "what is", "hi") and not complex (no code, no
    JSON task structure, ≤ 3 newlines). Without the text (content capture off) the
    recorded prompt tokens decide: ≤ 20."""
    if not prompt or not isinstance(prompt, str):
        return prompt_tokens <= SHORT_PROMPT_TOKENS
    if len(prompt) >= SHORT_PROMPT_CHARS and (len(prompt) > 4000 or not _SIMPLE_START.match(prompt)):
        return False                # cheap checks first: most prompts end here
    if estimate_words_tokens(prompt) > SHORT_PROMPT_TOKENS:
        return False
    if prompt.count("\n") > SHORT_PROMPT_NEWLINES or _COMPLEX.search(prompt):
        return False
    return True


# --------------------------------------------------------------------------- helpers

def start_of(c: tuple) -> str | None:
    """The call's startTime, canonical (the tuple keeps only the epoch)."""
    return format_ts(c[C_START]) if c[C_TIMED] else None


def call_ref(c: tuple) -> dict:
    return {"id": c[C_ID], "startTime": start_of(c), "model": c[C_MODEL], "cost": rnd(c[C_COST]),
            "failed": c[C_FAILED]}


def materialize(f: dict) -> dict:
    """Turn the raw call tuples a finding is built with into call references (done only for
    the findings that make it into the report)."""
    calls = f.get("calls")
    if calls and type(calls[0]) is tuple:
        f["calls"] = [call_ref(c) for c in calls]
    return f


def _all_but_last_success(idx: list[int], calls: list[tuple]) -> list[int]:
    keep = None
    for i in reversed(idx):
        if not calls[i][C_FAILED]:
            keep = i
            break
    return [i for i in idx if i != keep]


def _span_s(group: list[tuple]) -> float:
    return max(group[-1][C_START] - group[0][C_START], 0.0)


def finding(kind: str, severity: str, calls: list[tuple], waste: float, detail: str, *,
            trace_id: str | None = None, model: str | None = None, cost: float | None = None,
            **extra: Any) -> dict:
    f: dict = {"kind": kind, "severity": severity}
    if trace_id is not None:
        f["traceId"] = trace_id
    if model is not None:
        f["model"] = model
    f["calls"] = calls[:MAX_CALLS_LISTED]      # raw tuples until materialize()
    f["call_count"] = len(calls)
    f["waste_usd"] = rnd(waste)
    f["cost_usd"] = rnd(sum(c[C_COST] for c in calls) if cost is None else cost)
    f["detail"] = detail
    f.update(extra)
    return f


# --------------------------------------------------------------------------- trace detectors

def retry_groups(calls: list[tuple]) -> list[list[int]]:
    """Indices of each retry group (same requested model + prompt, gaps ≤ 120 s, ≥ 3 calls)."""
    open_: dict[Any, list[int]] = {}
    done: list[list[int]] = []
    for i, c in enumerate(calls):
        key = (c[C_RMODEL], c[C_FP])
        g = open_.get(key)
        if g is not None and c[C_START] - calls[g[-1]][C_START] <= RETRY_GAP_S:
            g.append(i)
            continue
        if g is not None and len(g) >= RETRY_MIN_CALLS:
            done.append(g)
        open_[key] = [i]
    done.extend(g for g in open_.values() if len(g) >= RETRY_MIN_CALLS)
    done.sort(key=lambda g: g[0])
    return done


def storm_windows(calls: list[tuple]) -> list[list[int]]:
    """Greedy, non-overlapping windows of ≤ 180 s with ≥ 3 calls and ≥ 2 models."""
    n = len(calls)
    if n < STORM_MIN_CALLS:
        return []
    models = [(c[C_RMODEL] or c[C_MODEL]).lower() for c in calls]
    # run_end[i]: first index after i whose model differs from models[i]
    run_end = [n] * n
    for i in range(n - 2, -1, -1):
        run_end[i] = run_end[i + 1] if models[i + 1] == models[i] else i + 1
    out: list[list[int]] = []
    i = j = 0
    while i + STORM_MIN_CALLS <= n:
        if j < i:
            j = i
        t0 = calls[i][C_START]
        while j < n and calls[j][C_START] - t0 <= STORM_WINDOW_S:
            j += 1
        if j - i >= STORM_MIN_CALLS and run_end[i] < j:
            out.append(list(range(i, j)))
            i = j
        else:
            i += 1
    return out


def fallback_chains(calls: list[tuple]) -> list[list[int]]:
    """Maximal runs of linked consecutive calls whose requested model changes."""
    chains: list[list[int]] = []
    cur: list[int] = []
    for i in range(1, len(calls)):
        a, b = calls[i - 1], calls[i]
        linked = (b[C_RMODEL] != a[C_RMODEL] and
                  (a[C_FAILED] or b[C_FALLBACK] or
                   (a[C_FP] == b[C_FP] and b[C_START] - a[C_START] <= CHAIN_WINDOW_S)))
        if linked:
            if not cur:
                cur = [i - 1]
            cur.append(i)
        elif cur:
            chains.append(cur)
            cur = []
    if cur:
        chains.append(cur)
    return chains


def detect_trace(trace_id: str, calls: list[tuple], prices: Any) -> tuple[list[dict], list[float]]:
    """Run the trace detectors on ``calls`` (sorted). Returns the findings and, per call,
    the largest waste any finding (failed spend included) assigns to it."""
    n = len(calls)
    waste = [c[C_COST] if c[C_FAILED] else 0.0 for c in calls]
    out: list[dict] = []
    rm0 = calls[0][C_RMODEL]
    several_models = n > 1 and any(c[C_RMODEL] != rm0 for c in calls)

    # (a prompt can only repeat RETRY_MIN_CALLS times if the distinct keys leave room for it)
    retry_possible = n >= RETRY_MIN_CALLS and len({(c[C_RMODEL], c[C_FP]) for c in calls}) <= n - RETRY_MIN_CALLS + 1
    for g in retry_groups(calls) if retry_possible else ():
        group = [calls[i] for i in g]
        wasted = _all_but_last_success(g, calls)
        w = 0.0
        for i in wasted:
            w += calls[i][C_COST]
            if calls[i][C_COST] > waste[i]:
                waste[i] = calls[i][C_COST]
        k = len(g)
        span = _span_s(group)
        fails = sum(1 for c in group if c[C_FAILED])
        sev = "high" if k >= 6 or (k >= 4 and span < 30) else ("medium" if k >= 4 else "low")
        m = group[0][C_RMODEL] or group[0][C_MODEL]
        out.append(finding(
            "retry_loop", sev, group, w,
            f"{k} identical calls to {m} within {span:.0f}s ({fails} failed); every call but the last "
            f"successful one is waste: {usd(w)}.",
            trace_id=trace_id, model=m, span_s=round(span, 3)))

    for g in storm_windows(calls) if several_models and n >= STORM_MIN_CALLS else ():
        group = [calls[i] for i in g]
        models = list(dict.fromkeys(c[C_RMODEL] or c[C_MODEL] for c in group))
        fails = sum(1 for c in group if c[C_FAILED])
        marked = any(c[C_FALLBACK] for c in group)
        repeated = len({c[C_FP] for c in group}) < len(group)
        span = _span_s(group)
        head = (f"{len(group)} calls across {len(models)} models ({', '.join(models[:4])}"
                f"{', …' if len(models) > 4 else ''}) within {span:.0f}s, {fails} failed")
        if not (fails or marked or repeated):
            # Distinct prompts, nothing failed, nothing says "fallback": most likely a pipeline
            # (router + answer + summary). Still listed, as crashlens would, but no money is
            # called waste.
            out.append(finding(
                "fallback_storm", "low", group, 0.0,
                f"{head}; distinct prompts and no failure, so probably a multi-step pipeline "
                f"({usd(sum(c[C_COST] for c in group))} spent).",
                trace_id=trace_id, models=models, span_s=round(span, 3)))
            continue
        wasted = _all_but_last_success(g, calls)
        w = 0.0
        for i in wasted:
            w += calls[i][C_COST]
            if calls[i][C_COST] > waste[i]:
                waste[i] = calls[i][C_COST]
        sev = "high" if len(group) > 5 or fails >= 2 else "medium"
        out.append(finding(
            "fallback_storm", sev, group, w,
            f"{head}; {usd(w)} spent besides the last successful answer.",
            trace_id=trace_id, models=models, span_s=round(span, 3)))

    for g in fallback_chains(calls) if several_models else ():
        group = [calls[i] for i in g]
        wasted = _all_but_last_success(g, calls)
        w = 0.0
        for i in wasted:
            w += calls[i][C_COST]
            if calls[i][C_COST] > waste[i]:
                waste[i] = calls[i][C_COST]
        steps = " → ".join(f"{c[C_RMODEL] or c[C_MODEL]} {'✗' if c[C_FAILED] else '✓'}" for c in group[:6])
        direction = _direction(group, prices)
        out.append(finding(
            "fallback_chain", "high" if len(group) >= 3 else "medium", group, w,
            f"Fallback chain {steps}{' …' if len(group) > 6 else ''} ({direction}); {usd(w)} spent on "
            f"abandoned attempts.",
            trace_id=trace_id, models=list(dict.fromkeys(c[C_RMODEL] or c[C_MODEL] for c in group)),
            direction=direction))

    # Overkill was decided per call when read; group it per model in this trace.
    by_model: dict[str, list[int]] = {}
    for i, c in enumerate(calls):
        if c[C_OVERKILL] is not None:
            by_model.setdefault(c[C_MODEL], []).append(i)
    for m, idx in by_model.items():
        group = [calls[i] for i in idx]
        w = 0.0
        for i in idx:
            ow = calls[i][C_OVERKILL]
            w += ow
            if ow > waste[i]:
                waste[i] = ow
        info = prices.info(m)
        k = len(group)
        out.append(finding(
            "overkill", "medium", group, w,
            f"{k} short, simple prompt{'s' if k > 1 else ''} sent to {m}, priced {info.ratio:.0f}× "
            f"{info.cheap_key} (the cheapest {info.provider} chat model); the same tokens there would "
            f"have saved {usd(w)}.",
            trace_id=trace_id, model=m, cheaper_model=info.cheap_key, price_ratio=round(info.ratio, 2)))
    return out, waste


def _direction(group: list[tuple], prices: Any) -> str:
    a = prices.info(group[0][C_MODEL] or group[0][C_RMODEL])
    b = prices.info(group[-1][C_MODEL] or group[-1][C_RMODEL])
    if a.entry is None or b.entry is None or a.price == b.price:
        return "same price" if a.entry is not None and b.entry is not None else "price unknown"
    return "cheap → expensive" if b.price > a.price else "expensive → cheap"


# --------------------------------------------------------------------------- file-wide groups

class ModelGroups:
    """Per model: calls, an amount (cost or savings), tokens, the first call references,
    summed counters and tag counts (e.g. error types). Mergeable across workers."""

    def __init__(self) -> None:
        self.g: dict[str, list] = {}   # model -> [calls, amount, tokens, refs, nums, tags]

    def add(self, model: str, amount: float, tokens: int, ref: tuple, nums: dict | None = None,
            tag: str | None = None) -> None:
        e = self.g.get(model)
        if e is None:
            e = self.g[model] = [0, 0.0, 0, [], {}, {}]
        e[0] += 1
        e[1] += amount
        e[2] += tokens
        if len(e[3]) < MAX_CALLS_LISTED:
            e[3].append(ref)
        if nums:
            x = e[4]
            for k, v in nums.items():
                x[k] = x.get(k, 0) + v
        if tag is not None:
            t = e[5]
            if tag in t or len(t) < 20:
                t[tag] = t.get(tag, 0) + 1

    def merge(self, other: "ModelGroups") -> None:
        for m, (n, amount, tok, refs, nums, tags) in other.g.items():
            e = self.g.get(m)
            if e is None:
                self.g[m] = [n, amount, tok, list(refs), dict(nums), dict(tags)]
                continue
            e[0] += n
            e[1] += amount
            e[2] += tok
            e[3].extend(refs[: max(0, MAX_CALLS_LISTED - len(e[3]))])
            for k, v in nums.items():
                e[4][k] = e[4].get(k, 0) + v
            for k, v in tags.items():
                if k in e[5] or len(e[5]) < 20:
                    e[5][k] = e[5].get(k, 0) + v


def _ref_dicts(refs: list[tuple]) -> list[dict]:
    # refs are (id, startTime, model, cost, failed)
    return [{"id": r[0], "startTime": r[1] or None, "model": r[2], "cost": rnd(r[3]), "failed": r[4]}
            for r in refs]


def unpriced_findings(groups: ModelGroups, prices: Any) -> list[dict]:
    out = []
    for m, (n, cost, tok, refs, _nums, _tags) in groups.g.items():
        resolves = prices.info(m).entry is not None
        name = m or "(no model)"
        if resolves:
            detail = (f"{n} call{'s' if n > 1 else ''} to {name} were logged as unpriced ({usd(cost)} at the "
                      f"default rate) but the current tables price it; run the report with --reprice.")
        else:
            detail = (f"{n} call{'s' if n > 1 else ''} to {name} ({tok:,} tokens) have no price in the tables, "
                      f"so their {usd(cost)} is a guess; add the model to a pricing file "
                      f"(`tokentrail pricing init`).")
        out.append({"kind": "unpriced_model", "severity": "medium", "model": name, "calls": _ref_dicts(refs),
                    "call_count": n, "waste_usd": 0.0, "cost_usd": rnd(cost), "tokens": tok, "detail": detail})
    return out


def failed_findings(groups: ModelGroups) -> list[dict]:
    out = []
    for m, (n, cost, tok, refs, _nums, types) in groups.g.items():
        top = ", ".join(f"{k} ×{v}" for k, v in sorted(types.items(), key=lambda kv: -kv[1])[:3])
        name = m or "(no model)"
        out.append({"kind": "failed_spend", "severity": "medium" if cost > 0 else "low", "model": name,
                    "calls": _ref_dicts(refs), "call_count": n, "waste_usd": rnd(cost), "cost_usd": rnd(cost),
                    "errors": {str(k): v for k, v in types.items()},
                    "detail": f"{n} failed call{'s' if n > 1 else ''} to {name}"
                              f"{' (' + top + ')' if top else ''} cost {usd(cost)}."})
    return out


def cache_savings_findings(groups: ModelGroups) -> list[dict]:
    out = []
    for m, (n, saved, tok, refs, nums, _tags) in groups.g.items():
        cached = int(nums.get("cached_tokens", 0))
        written = int(nums.get("cache_write_tokens", 0))
        verb = "saved" if saved >= 0 else "cost (net of cache writes)"
        out.append({"kind": "cache_savings", "severity": "info", "model": m, "calls": _ref_dicts(refs),
                    "call_count": n, "waste_usd": 0.0, "savings_usd": rnd(saved),
                    "cost_usd": rnd(nums.get("cost", 0.0)),
                    "cached_tokens": cached, "cache_write_tokens": written,
                    "detail": f"Prompt caching on {m} {verb} {usd(abs(saved))} over {n} calls "
                              f"({cached:,} cached tokens read, {written:,} written)."})
    return out


class MissedCache:
    """Large prompts repeated without cache hits, per (model, prompt fingerprint)."""

    MAX_GROUPS = 200_000

    def __init__(self) -> None:
        # key -> [model, prompt_tokens, occurrences [(start, saving, extra, ref)], overflow [n, saving, extra]]
        self.g: dict[Any, list] = {}

    def add(self, key: Any, model: str, pt: int, start: float, saving: float, extra: float, ref: tuple) -> None:
        e = self.g.get(key)
        if e is None:
            if len(self.g) >= self.MAX_GROUPS:
                self._evict()
            e = self.g[key] = [model, pt, [], [0, 0.0, 0.0]]
        if len(e[2]) < _GROUP_OCCURRENCES:
            e[2].append((start, saving, extra, ref))
        else:
            o = e[3]
            o[0] += 1
            o[1] += saving
            o[2] += extra

    def _evict(self) -> None:
        # Prompts seen once are the bulk (unique RAG contexts); forget the older half of them.
        singles = [k for k, e in self.g.items() if len(e[2]) == 1 and not e[3][0]]
        for k in singles[: max(1, len(singles) // 2)] or list(self.g)[: len(self.g) // 4]:
            del self.g[k]

    def merge(self, other: "MissedCache") -> None:
        for k, (model, pt, occ, over) in other.g.items():
            e = self.g.get(k)
            if e is None:
                self.g[k] = [model, pt, list(occ), list(over)]
                continue
            for o in occ:
                if len(e[2]) < _GROUP_OCCURRENCES:
                    e[2].append(o)
                else:
                    e[3][0] += 1
                    e[3][1] += o[1]
                    e[3][2] += o[2]
            e[3][0] += over[0]
            e[3][1] += over[1]
            e[3][2] += over[2]

    def findings(self, prices: Any) -> tuple[list[dict], float]:
        """The findings, and the deduplicated amount to add to the waste total."""
        out = []
        extra_total = 0.0
        for model, pt, occ, over in self.g.values():
            if len(occ) + over[0] < 2:
                continue
            occ = sorted(occ, key=lambda o: o[0])
            saving = extra = 0.0
            hits = 0
            for prev, cur in zip(occ, occ[1:]):
                if cur[0] - prev[0] <= CACHE_TTL_S:
                    saving += cur[1]
                    extra += cur[2]
                    hits += 1
            saving += over[1]
            extra += over[2]
            hits += over[0]
            if hits == 0:
                continue
            info = prices.info(model)
            premium = pt * info.write_premium / 1e6
            saving -= premium
            extra -= premium
            if saving <= 0:
                continue
            extra_total += max(extra, 0.0)
            n = len(occ) + over[0]
            sev = "high" if saving >= 1 else ("medium" if saving >= 0.01 else "low")
            refs = [o[3] for o in occ]
            out.append({"kind": "missed_cache", "severity": sev, "model": model, "calls": _ref_dicts(refs),
                        "call_count": n, "waste_usd": rnd(saving),
                        "cost_usd": rnd(sum(r[3] for r in refs)), "prompt_tokens": pt, "cacheable_repeats": hits,
                        "detail": f"A {pt:,}-token prompt was sent {n} times to {model} without a cache hit; "
                                  f"caching the {hits} repeat{'s' if hits > 1 else ''} made within "
                                  f"{int(CACHE_TTL_S // 60)} minutes would have saved about {usd(saving)} "
                                  f"(estimate)."})
        return out, extra_total


__all__ = ["detect_trace", "materialize", "short_simple_prompt", "ModelGroups", "MissedCache", "unpriced_findings",
           "failed_findings", "cache_savings_findings", "finding", "SEVERITY_ORDER"]
