"""The streaming analyzer: one pass over the events, constant memory per event.

:class:`Analyzer` reads raw lines, parses them (``orjson`` when importable, else
``json``), applies the filters and updates plain-dict aggregates: totals, one table
per ``--by`` key, latency percentiles (:mod:`._quantiles`) and the file-wide finding
groups. For the trace detectors it keeps, per *open* trace, one small tuple per call
(start, ids, models, prompt fingerprint, cost, flags — see ``_waste.C_*``), never the
event. A trace is closed — its detectors run and its state is freed — when it has not
been seen for :data:`IDLE_EVENTS` events *and* its last call is more than
:data:`IDLE_SECONDS` older than the newest start time read so far (so a slow trace in
a time-ordered log stays open, and an out-of-order file does not close live traces),
or when it reaches :data:`MAX_TRACE_CALLS` calls (then it is analysed in segments).
Everything still open is closed at the end.

Numbers: JSON has no NaN or Infinity, and orjson refuses those and numbers past the
double range (``1e400``), so a line holding one is malformed — warned about with its
line number and skipped — whichever parser runs, and both installs give one report.
The ``json`` fallback refuses the NaN / Infinity literals in its scanner (a hook called
for those literals only: normal lines pay nothing) and an out-of-range number where the
report computes with one — cost, token counts, latency — on branches normal lines do
not take. Valid JSON that is not a usable value is read as the writer reads usage
(:func:`~tokentrail._usage.count`): a negative token count is 0; a cost that is negative,
not a number or above :data:`MAX_COST` is as good as missing, so it is priced from the
tables (``computed_costs``); a token count of :data:`TOO_MANY_TOKENS` or more skips the
line (it would overflow the cost arithmetic into ``inf``).

The state is mergeable (:meth:`Analyzer.state` / :meth:`Analyzer.merge`): the
parallel reader (:mod:`._parallel`) runs one analyzer per byte range of a large file
and merges them; traces still open in a worker, or first seen at the start of its
range, are handed to the parent unclosed, so a trace crossing a range boundary is
analysed whole.
"""

from __future__ import annotations

import heapq
import json
import math
import operator
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .._time import format_ts, parse_ts
from .._usage import count, normalize_usage
from ._format import rnd
from ._prices import Prices, usage_cost
from ._quantiles import Quantiles
from ._read import RawLines
from ._timeline import Timeline
from ._waste import (C_COST, C_FAILED, C_FP, C_ID, C_MISS, C_MODEL, C_OVERKILL, C_PT, C_RMODEL, C_SEQ,
                     C_START, C_TIMED, MISSED_CACHE_MIN_TOKENS, OVERKILL_RATIO, RETRY_MIN_CALLS,
                     SEVERITY_ORDER, MissedCache, ModelGroups, cache_savings_findings, call_ref, detect_trace,
                     failed_findings, materialize, short_simple_prompt, start_of, unpriced_findings)

try:  # optional speed-up; never a dependency
    import orjson as _orjson
    _orjson_loads: Callable[[Any], Any] | None = _orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    _orjson_loads = None


class _NotFinite(ValueError):
    """A NaN / Infinity literal, or a number out of double range: not JSON (orjson refuses it)."""


def _no_constant(name: str) -> Any:
    raise _NotFinite(name)


def _finite_float(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise _NotFinite(text)
    return x


def _finite_int(text: str) -> int:
    n = int(text)
    if not -_MAX_DOUBLE_INT < n < _MAX_DOUBLE_INT:
        raise _NotFinite(text)
    return n


_MAX_DOUBLE_INT = 2 ** 1024       # orjson reads an integer past 64 bits as a float: none is this large
# json.loads minus its per-call overhead: the C scanner, on a str, from index 0. ``parse_constant``
# is called for NaN / Infinity / -Infinity only: refusing them costs normal lines nothing.
_scan_once = json.JSONDecoder(parse_constant=_no_constant).scan_once
# The second try for a line the fast parser refused (leading spaces, or a real error): as strict
# as orjson about numbers, so both parsers skip the same lines with the same words.
_strict_loads = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float,
                                 parse_int=_finite_int).decode
NOT_FINITE = "a number is NaN, infinite or too large"
MAX_COST = 1e12           # USD for one call; more is a corrupt value (and sums of such could overflow)
TOO_MANY_TOKENS = 2 ** 62  # a token count this large is corrupt (and would overflow the cost arithmetic)

IDLE_EVENTS = 20_000
IDLE_SECONDS = 600.0
SWEEP_EVERY = 8_192
MAX_TRACE_CALLS = 20_000
HOLD_EVENTS = 20_000          # a worker hands traces first seen this early in its range to the parent
MAX_WARNINGS = 100

_CALL_TYPES = frozenset(("generation", "embedding"))
_by_start = operator.itemgetter(C_START, C_SEQ)
_FAILED = frozenset(("error", "failed", "failure", "fatal", "critical", "err"))
BY_FIXED = ("model", "provider", "trace", "name", "day", "hour", "month", "namespace", "status")


@dataclass
class Options:
    by: list[str] = field(default_factory=lambda: ["model"])
    models: frozenset | None = None        # lower-cased --model values
    trace_id: str | None = None
    since: float | None = None
    until: float | None = None
    namespace: str | None = None
    reprice: bool = False
    top: int = 10
    max_findings: int = 1000
    by_limit: int = 1000
    overkill_ratio: float = OVERKILL_RATIO


_MIN_TS, _MAX_TS = -62135596800.0, 253402300800.0     # years 1 to 9999: what format_ts can write


def _parse_ts(s: Any) -> float | None:
    """parse_ts, with a time no date can show (``1e300``, ``"nan"``) read as unreadable:
    the event counts as untimed instead of failing the report where the time is printed."""
    t = parse_ts(s)
    return t if t is not None and _MIN_TS <= t < _MAX_TS else None


def _ts_parser() -> Callable[[Any], float | None]:
    """Fast path for the canonical ``YYYY-MM-DDTHH:MM:SS.mmmZ``; anything else via parse_ts."""
    cache: dict[str, float] = {}

    def parse(s: Any) -> float | None:
        if type(s) is str and len(s) == 24 and s[23] == "Z" and s[19] == "." and s[16] == ":":
            base = cache.get(s[:16])
            if base is None:
                base = parse_ts(s[:16] + ":00Z")
                if base is None:
                    return _parse_ts(s)
                if len(cache) > 200_000:
                    cache.clear()
                cache[s[:16]] = base
            try:
                return base + float(s[17:23])
            except ValueError:
                return _parse_ts(s)
        return _parse_ts(s)
    return parse


def _key_text(v: Any) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, str):
        return v if v else "(empty)"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    try:
        return json.dumps(v, sort_keys=True, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(v)


def _parse_again(raw: Any) -> tuple[Any, str | None]:
    """A line the fast parser refused: ``(value, None)``, or ``(None, what is wrong)``."""
    try:
        text = raw if type(raw) is str else bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    try:
        return _strict_loads(text), None
    except _NotFinite:
        return None, NOT_FINITE
    except (ValueError, RecursionError):
        return None, "not valid JSON"


def _tier_cost(table: Any, model: str, d: dict, pt: int, ct: int, cached: int, cw: int, cw1h: int) -> float:
    """``--reprice`` of an event the provider served at a service tier or in a region (its
    ``service_tier`` / ``inference_geo``): at that tier's rates, as the recorder priced it."""
    tier, geo = d.get("service_tier"), d.get("inference_geo")
    usage = {"prompt_tokens": pt, "completion_tokens": ct, "cached_tokens": cached, "cache_write_tokens": cw,
             "cache_write_1h_tokens": cw1h}
    return table.cost(model, usage, tier=tier.lower() if isinstance(tier, str) else None,
                      geo=geo.lower() if isinstance(geo, str) else None).total_usd


def _logged_cost(v: Any) -> float | None:
    """A logged ``cost`` that is not a plain float in ``[0, MAX_COST]``: the amount to use,
    or None when it must come from the price tables (missing, not a number, negative or
    absurd: all as good as missing). A number that is not finite raises :class:`_NotFinite`:
    NaN and ±inf only get here from the json fallback reading ``1e400`` or from dict
    sources, and orjson skips such a line, so it is skipped."""
    t = type(v)
    if t is float or t is int:
        try:
            x = float(v)
        except OverflowError:
            raise _NotFinite(str(v)) from None
        if not math.isfinite(x):
            raise _NotFinite(str(v))
    elif v is None or t is bool:
        return None
    else:
        try:
            x = float(v)                   # a number in a string
        except (TypeError, ValueError, OverflowError):
            return None
    return x if 0.0 <= x <= MAX_COST else None


def _tokens(v: Any) -> int:
    """:func:`count` (negative or unreadable: 0) for a token count that is not a plain
    non-negative int. A float that is not finite (see :func:`_logged_cost`) or is
    :data:`TOO_MANY_TOKENS` or more raises :class:`_NotFinite`: the line is skipped."""
    if type(v) is float and not (-TOO_MANY_TOKENS < v < TOO_MANY_TOKENS):      # (NaN fails it too)
        raise _NotFinite(str(v))
    return count(v)


def _not_finite_in(obj: Any, depth: int = 0) -> bool:
    """Whether a usage block holds a float that is not finite (nested details and lists included)."""
    for v in (obj.values() if type(obj) is dict else obj):
        if type(v) is float:
            if not math.isfinite(v):
                return True
        elif (type(v) is dict or type(v) is list) and depth < 4 and _not_finite_in(v, depth + 1):
            return True
    return False


class Analyzer:
    """Consume events (raw JSON lines or dicts) and build the report dict."""

    def __init__(self, opts: Options, prices: Prices, *, warn: Callable[[str], None] | None = None,
                 chunk: int = 0, hold_head: bool = False):
        self.opts = opts
        self.prices = prices
        self.warn = warn
        self.chunk = chunk
        self.hold_head = hold_head
        # calls, errors, cost, prompt, completion, cached, cache_write, reasoning, total tokens
        self.totals = [0, 0, 0.0, 0, 0, 0, 0, 0, 0]
        self.first: float | None = None
        self.last: float | None = None
        self.by: dict[str, dict[str, list]] = {k: {} for k in opts.by}
        self.lat = Quantiles()
        self.lat_by: dict[str, Quantiles] = {}
        self.timeline = Timeline()
        self._pending_lat: dict[str, list] = {}
        self.traces: dict[str, list] = {}
        self.trace_count = 0
        self.top: list = []
        self.findings: list = []
        self.summary: dict[str, list] = {}
        self.waste_total = 0.0
        self.unpriced = ModelGroups()
        self.failed = ModelGroups()
        self.cached = ModelGroups()
        self.missed = MissedCache()
        self.skipped = 0
        self.other_events = 0
        self.filtered_out = 0
        self.computed_costs = 0
        # (label, line, message, is a skipped line) when there is no warn callback
        self.warnings: list[tuple[str, int, str, bool]] = []
        self.warned = 0
        self.lines = 0
        self._seq = 0
        self._fseq = chunk * 10**12     # unique across workers: heap entries never compare their dicts
        self.watermark = -math.inf

    # ------------------------------------------------------------------ reading

    def _bad_line(self, label: str, lineno: int, what: str) -> None:
        self.skipped += 1
        if self.warned < MAX_WARNINGS:
            self.warned += 1
            if self.warn is not None:
                self.warn(f"{label}:{lineno}: {what}; skipped")
            else:
                self.warnings.append((label, lineno, what, True))

    def _stopped(self, label: str, lineno: int, what: str) -> None:
        """Reading a source broke off at ``lineno`` (one warning per source, never capped)."""
        if self.warn is not None:
            self.warn(f"{label}:{lineno}: {what}")
        else:
            self.warnings.append((label, lineno, what, False))

    def consume(self, label: str, lines: Iterable[tuple[int, Any]]) -> None:
        """Read ``(line_number, raw_json_or_dict)`` pairs from one source."""
        opts = self.opts
        prices = self.prices
        pcache = prices._cache
        pinfo = prices.info
        ts = _ts_parser()
        tot = self.totals
        pending = self._pending_lat
        traces = self.traces
        reprice = opts.reprice
        ns_filter = opts.namespace
        tid_filter = opts.trace_id
        models_filter = opts.models
        since, until = opts.since, opts.until
        ratio_thr = opts.overkill_ratio
        mmatch: dict[tuple, bool] = {}
        interned: dict[str, str] = {}
        bys = []
        for key in opts.by:
            kind = "metadata" if key.startswith("metadata.") else key
            bys.append((kind, key[len("metadata."):] if kind == "metadata" else None, self.by[key]))
        unpriced_add = self.unpriced.add
        failed_add = self.failed.add
        cached_add = self.cached.add
        timeline_add = self.timeline.add
        n_read = self.lines          # a running index across sources (idle checks use it)
        hold_until = n_read + HOLD_EVENTS if self.hold_head else -1
        seq = self.chunk * 10**12 + n_read
        first, last = self.first, self.last
        watermark = self.watermark
        other = filtered = computed = 0
        scan = _scan_once
        fast_loads = _orjson_loads
        sweep_every = SWEEP_EVERY
        # totals as locals (written back at the end): calls, errors, cost, tokens by kind
        t_calls, t_errors, t_cost, t_pt, t_ct, t_cached, t_cw, t_rt, t_tt = tot

        lineno = 0
        for lineno, raw in lines:
            n_read += 1
            if n_read % sweep_every == 0:
                self.first, self.last, self.watermark = first, last, watermark
                self._sweep(n_read)
            # -- parse (orjson if present; else the C scanner without json.loads' overhead)
            if type(raw) is dict:
                d = raw
            else:
                try:
                    if fast_loads is not None:
                        d = fast_loads(raw)
                    else:
                        if type(raw) is bytes:
                            raw = raw.decode("utf-8")
                        d, end = scan(raw, 0)
                        n_raw = len(raw)
                        if end != n_raw and (end != n_raw - 1 or raw[end] != "\n") and raw[end:].strip():
                            raise ValueError("trailing data")
                except UnicodeDecodeError:
                    self._bad_line(label, lineno, "not UTF-8 text")
                    continue
                except (ValueError, StopIteration, RecursionError):
                    if not raw.strip():
                        continue
                    d, what = _parse_again(raw)     # leading spaces, or a real error
                    if what is not None:
                        self._bad_line(label, lineno, what)
                        continue
                if type(d) is not dict:
                    self._bad_line(label, lineno, "not a JSON object")
                    continue
            typ = d.get("type")
            if typ is not None and typ not in _CALL_TYPES:
                other += 1     # spans of @capture wrappers, and anything that is not a call
                continue
            inp = d.get("input")
            if type(inp) is dict:
                rmodel = inp.get("model")
                prompt = inp.get("prompt")
            else:
                rmodel = None
                prompt = d.get("prompt")
            model = d.get("model") or rmodel or ""
            if type(model) is not str:
                model = str(model)
            if not rmodel:
                rmodel = model
            elif type(rmodel) is not str:
                rmodel = str(rmodel)
            rm = interned.get(rmodel)            # one shared string per requested model
            if rm is not None:
                rmodel = rm
            elif len(interned) < 100_000:
                interned[rmodel] = rmodel
            if ns_filter is not None and (d.get("namespace") or "default") != ns_filter:
                filtered += 1
                continue
            tid = d.get("traceId") or d.get("trace_id")
            if tid_filter is not None and tid != tid_filter:
                filtered += 1
                continue
            info = pcache.get(model) or pinfo(model)
            if models_filter is not None:
                ok = mmatch.get((model, rmodel))
                if ok is None:
                    ok = mmatch[(model, rmodel)] = (
                        model.lower() in models_filter or rmodel.lower() in models_filter or
                        (info.key is not None and info.key.lower() in models_filter) or
                        (pinfo(rmodel).key or "\0").lower() in models_filter)
                if not ok:
                    filtered += 1
                    continue
            st = d.get("startTime") or d.get("timestamp")
            start = ts(st) if st is not None else None
            if since is not None and (start is None or start < since):
                filtered += 1
                continue
            if until is not None and (start is None or start >= until):
                filtered += 1
                continue
            if type(st) is not str:
                st = format_ts(start) if start is not None else ""

            # -- usage (OpenAI names; other shapes through normalize_usage)
            u = d.get("usage")
            try:
                if type(u) is dict and ("prompt_tokens" in u or "completion_tokens" in u) and \
                        "prompt_tokens_details" not in u and "completion_tokens_details" not in u:
                    pt = u.get("prompt_tokens", 0)
                    if type(pt) is not int or pt < 0:
                        pt = _tokens(pt)
                    ct = u.get("completion_tokens", 0)
                    if type(ct) is not int or ct < 0:
                        ct = _tokens(ct)
                    cached = u.get("cached_tokens", 0)
                    if type(cached) is not int or cached < 0:
                        cached = _tokens(cached)
                    cw = u.get("cache_write_tokens", 0)
                    if type(cw) is not int or cw < 0:
                        cw = _tokens(cw)
                    cw1h = u.get("cache_write_1h_tokens", 0)
                    if type(cw1h) is not int or cw1h < 0:
                        cw1h = _tokens(cw1h)
                    rt = u.get("reasoning_tokens", 0)
                    if type(rt) is not int or rt < 0:
                        rt = _tokens(rt)
                    tt = u.get("total_tokens", 0)
                    if type(tt) is not int:
                        tt = _tokens(tt)
                    if tt < pt + ct:           # (a negative total too)
                        tt = pt + ct
                else:
                    if type(u) is not dict:
                        u = {"prompt_tokens": d.get("prompt_tokens") or d.get("promptTokens") or d.get("input_tokens"),
                             "completion_tokens": d.get("completion_tokens") or d.get("completionTokens")
                             or d.get("output_tokens")}
                    if _not_finite_in(u):      # count() would read it as 0: skipped, as in the fast path
                        raise _NotFinite("usage")
                    nu = normalize_usage(u)
                    pt, ct, cached = nu["prompt_tokens"], nu["completion_tokens"], nu["cached_tokens"]
                    cw, cw1h, rt = nu["cache_write_tokens"], nu.get("cache_write_1h_tokens", 0), nu["reasoning_tokens"]
                    tt = nu["total_tokens"]
                if tt >= TOO_MANY_TOKENS:      # tt >= pt + ct: one test bounds both
                    raise _NotFinite(str(tt))
            except _NotFinite:
                self._bad_line(label, lineno, NOT_FINITE)
                continue

            # -- cost: as logged, or from the tables (always with --reprice)
            if reprice:
                if "service_tier" in d or "inference_geo" in d:    # rare: priced exactly, at its tier
                    cost = _tier_cost(prices.table, info.model, d, pt, ct, cached, cw, cw1h)
                else:
                    cost = info.cost(pt, ct, cached, cw, cw1h)
            else:
                cost = d.get("cost")
                if type(cost) is not float or not 0.0 <= cost <= MAX_COST:     # (NaN fails both)
                    try:
                        cost = _logged_cost(cost)
                    except _NotFinite:
                        self._bad_line(label, lineno, NOT_FINITE)
                        continue
                    if cost is None:
                        cost = info.cost(pt, ct, cached, cw, cw1h)
                        computed += 1

            # latency: read before the totals, so a line with an infinite one can still be skipped
            lm = d.get("latency_ms")
            if type(lm) is not int:
                if type(lm) is float:
                    if lm - lm:                # NaN or ±inf (see _logged_cost): 0.0 for any other float
                        self._bad_line(label, lineno, NOT_FINITE)
                        continue
                else:
                    lm = None
                    et = d.get("endTime")
                    if et is not None and start is not None:
                        end_t = ts(et)
                        if end_t is not None and end_t >= start:
                            lm = (end_t - start) * 1000.0

            s_ = d.get("status")
            l_ = d.get("level")
            failed = (s_ is not None and s_ != "success" and str(s_).lower() in _FAILED) \
                or (l_ is not None and l_ != "info" and str(l_).lower() in _FAILED) or bool(d.get("error"))

            # -- totals
            t_calls += 1
            if failed:
                t_errors += 1
            t_cost += cost
            t_pt += pt
            t_ct += ct
            t_cached += cached
            t_cw += cw
            t_rt += rt
            t_tt += tt
            if start is not None:
                if first is None or start < first:
                    first = start
                if last is None or start > last:
                    last = start
                if start > watermark:
                    watermark = start
            mkey = info.model or "(unknown)"      # one shared string per model id
            timeline_add(start, mkey, cost)

            # -- cost by key
            if not tid:
                tid = str(d.get("id") or f"{label}:{lineno}")
            elif type(tid) is not str:
                tid = str(tid)
            for kind, arg, tab in bys:
                if kind == "model":
                    k = mkey
                elif kind == "trace":
                    k = tid
                elif kind == "provider":
                    k = d.get("provider") or info.provider or "unknown"
                elif kind == "day":
                    k = st[:10] if len(st) == 24 and st[23] == "Z" else (
                        time.strftime("%Y-%m-%d", time.gmtime(start)) if start is not None else "(no time)")
                elif kind == "metadata":
                    md = d.get("metadata")
                    k = _key_text(md.get(arg) if type(md) is dict else None)
                elif kind == "name":
                    k = _key_text(d.get("name"))
                elif kind == "hour":
                    k = time.strftime("%Y-%m-%dT%H", time.gmtime(start)) if start is not None else "(no time)"
                elif kind == "month":
                    k = time.strftime("%Y-%m", time.gmtime(start)) if start is not None else "(no time)"
                elif kind == "namespace":
                    k = _key_text(d.get("namespace") or "default")
                else:  # status
                    k = "error" if failed else "success"
                row = tab.get(k)
                if row is None:
                    tab[k] = [1, 1 if failed else 0, cost, tt]
                else:
                    row[0] += 1
                    if failed:
                        row[1] += 1
                    row[2] += cost
                    row[3] += tt

            # -- latency (buffered per model; folded into the percentile structures at each sweep)
            if lm is not None and lm >= 0:
                pl = pending.get(mkey)
                if pl is None:
                    pending[mkey] = [lm]
                else:
                    pl.append(lm)

            # -- per-call findings decided now
            cid = d.get("id")
            if not cid:
                cid = f"{label}:{lineno}"
            elif type(cid) is not str:
                cid = str(cid)
            if info.entry is None or (not reprice and d.get("pricing") == "unknown"):
                unpriced_add(model, cost, tt, (cid, st, model, cost, failed))
            if failed:
                err = d.get("error")
                tag = None
                if type(err) is dict:
                    tag = str(err.get("type") or "Error")
                    if err.get("status_code"):
                        tag += f" ({err['status_code']})"
                failed_add(model, cost, tt, (cid, st, model, cost, True), None, tag or "error")
            if (cached or cw) and info.entry is not None:
                r = info.rates
                saved = (cached * info.cache_discount - (cw - cw1h) * info.write_premium
                         - cw1h * max(r[3] - r[0], 0.0)) / 1e6
                cached_add(model, saved, tt, (cid, st, model, cost, failed),
                           {"cached_tokens": cached, "cache_write_tokens": cw, "cost": cost})
            overkill = None
            if info.ratio >= ratio_thr and not failed and typ != "embedding" and short_simple_prompt(prompt, pt):
                overkill = cost - usage_cost(info.cheap_rates, pt, ct, cached, cw, cw1h)
                if overkill < 0:
                    overkill = 0.0
            miss = 0.0
            if pt >= MISSED_CACHE_MIN_TOKENS and not cached and prompt and info.cache_discount > 0 \
                    and typ != "embedding":
                miss = pt * info.cache_discount / 1e6

            # -- trace state: [calls, last line index, last start, names, held, has untimed calls]
            if prompt:
                fp = hash(prompt) if type(prompt) is str else hash(str(prompt))
            elif "retry_attempt" in d:
                fp = ("", pt)      # our event with content capture off: the token count stands in
            else:
                fp = ""            # another tool's line with no text: crashlens treats these as identical
            tr = traces.get(tid)
            if tr is None:
                tr = traces[tid] = [[], n_read, start, set(), n_read <= hold_until, False]
            else:
                tr[1] = n_read
                if start is not None and (tr[2] is None or start > tr[2]):
                    tr[2] = start
            eff = start if start is not None else tr[2]
            if eff is None:
                tr[5] = True       # placed when the trace closes
            fb = d.get("fallback_model") is not None
            if not fb:
                md = d.get("metadata")
                fb = type(md) is dict and md.get("fallback_attempted") is True
            seq += 1
            calls = tr[0]
            calls.append((eff, seq, cid, mkey, rmodel, fp, cost, failed, fb, overkill, pt, miss,
                          start is not None))
            names = tr[3]
            if len(names) < 5:
                nm = d.get("name")
                if nm:
                    names.add(nm if type(nm) is str else str(nm))
            if len(calls) >= MAX_TRACE_CALLS:
                self._close(tid, traces.pop(tid))

        self.first, self.last, self.watermark = first, last, watermark
        tot[:] = [t_calls, t_errors, t_cost, t_pt, t_ct, t_cached, t_cw, t_rt, t_tt]
        if type(lines) is RawLines and lines.stopped:      # the source broke off: say where
            self._stopped(label, lineno + 1, lines.stopped)
        self.lines = n_read
        self.other_events += other
        self.filtered_out += filtered
        self.computed_costs += computed
        self._fold_latency()

    def _fold_latency(self) -> None:
        pending = self._pending_lat          # cleared in place: consume() holds a reference
        for m, vals in pending.items():
            q = self.lat_by.get(m)
            if q is None:
                q = self.lat_by[m] = Quantiles()
            q.extend(vals)
            self.lat.extend(vals)
        pending.clear()

    def close_idle(self) -> None:
        """Close traces idle for IDLE_SECONDS of event time (a worker, at the end of its range)."""
        limit = self.watermark - IDLE_SECONDS
        traces = self.traces
        for tid in [t for t, tr in traces.items() if not tr[4] and tr[2] is not None and tr[2] < limit]:
            self._close(tid, traces.pop(tid))

    def _sweep(self, now: int) -> None:
        """Close traces idle for IDLE_EVENTS events and IDLE_SECONDS of event time."""
        self._fold_latency()
        limit = self.watermark - IDLE_SECONDS
        idle = now - IDLE_EVENTS
        traces = self.traces
        for tid in [t for t, tr in traces.items()
                    if not tr[4] and tr[1] < idle and (tr[2] is None or tr[2] < limit)]:
            self._close(tid, traces.pop(tid))

    def close_all(self) -> None:
        traces, self.traces = self.traces, {}
        for tid, tr in traces.items():
            self._close(tid, tr)

    # ------------------------------------------------------------------ closing a trace

    def _close(self, tid: str, tr: list) -> None:
        calls = tr[0]
        if not calls:
            return
        if tr[5]:
            # Calls without a start time sit where the file put them: at the start time of the
            # call before them, or of the first timed call of the trace.
            first_t = next((c[C_START] for c in calls if c[C_START] is not None), 0.0)
            calls[:] = [c if c[C_START] is not None else (first_t,) + c[1:] for c in calls]
        n = len(calls)
        if n > 1:
            calls.sort(key=_by_start)
            cost = 0.0
            errors = 0
            for c in calls:
                cost += c[C_COST]
                if c[C_FAILED]:
                    errors += 1
        else:
            c = calls[0]
            cost = c[C_COST]
            errors = 1 if c[C_FAILED] else 0
        self.trace_count += 1
        top = self.top
        if self.opts.top > 0 and (len(top) < self.opts.top or cost > top[0][0]):
            start = next((start_of(c) for c in calls if c[C_TIMED]), None)
            entry = {"traceId": tid, "calls": len(calls), "cost": rnd(cost),
                     "models": list(dict.fromkeys(c[C_MODEL] for c in calls)), "errors": errors,
                     "start": start, "names": sorted(tr[3]), "call_list": [call_ref(c) for c in calls[:50]]}
            self._fseq += 1
            item = (cost, -self._fseq, entry)
            if len(top) < self.opts.top:
                heapq.heappush(top, item)
            else:
                heapq.heapreplace(top, item)
        if n == 1:
            if calls[0][C_OVERKILL] is None and not errors and not calls[0][C_MISS]:
                return   # nothing a single plain call can be flagged for at trace level
        elif not errors:
            rm0 = calls[0][C_RMODEL]
            if all(c[C_RMODEL] == rm0 and c[C_OVERKILL] is None and not c[C_MISS] for c in calls) and \
                    len({c[C_FP] for c in calls}) > n - RETRY_MIN_CALLS + 1:
                return   # one model, no failure, no prompt repeated 3 times: nothing to find
        found, waste = detect_trace(tid, calls, self.prices)
        for f in found:
            self._add_finding(f)
        self.waste_total += sum(waste)
        miss_add = self.missed.add
        for i, c in enumerate(calls):
            if c[C_MISS]:
                model = c[C_MODEL]
                miss_add((model, c[C_FP]), model, c[C_PT], c[C_START], c[C_MISS], max(c[C_MISS] - waste[i], 0.0),
                         (c[C_ID], start_of(c), model, c[C_COST], c[C_FAILED]))

    def _add_finding(self, f: dict) -> None:
        s = self.summary.get(f["kind"])
        if s is None:
            s = self.summary[f["kind"]] = [0, 0.0, 0]
        s[0] += 1
        s[1] += f["waste_usd"]
        s[2] += f["call_count"]
        # Waste first (most money at stake first), informational findings (cache savings) last.
        info = f["severity"] == "info"
        rank = f.get("savings_usd", 0.0) if info else f["waste_usd"]
        self._fseq += 1
        c0 = (f.get("calls") or ({},))[0]
        if type(c0) is tuple:
            c0 = {"startTime": start_of(c0), "id": c0[C_ID]}
        tie = f"{f.get('traceId') or f.get('model') or ''}|{c0.get('startTime') or ''}|{c0.get('id') or ''}"
        item = (not info, rank, -SEVERITY_ORDER.get(f["severity"], 9), tie, -self._fseq, f)
        if len(self.findings) < self.opts.max_findings:
            heapq.heappush(self.findings, item)
        elif item[:5] > self.findings[0][:5]:
            heapq.heapreplace(self.findings, item)

    # ------------------------------------------------------------------ merging (parallel reader)

    def state(self) -> dict:
        """Everything a parent needs to merge this analyzer (open traces included)."""
        return {k: getattr(self, k) for k in (
            "totals", "first", "last", "by", "lat", "lat_by", "timeline", "traces", "trace_count", "top", "findings",
            "summary", "waste_total", "unpriced", "failed", "cached", "missed", "skipped", "other_events",
            "filtered_out", "computed_costs", "warnings", "warned", "lines", "watermark")}

    def merge(self, s: dict) -> None:
        for i, v in enumerate(s["totals"]):
            self.totals[i] += v
        for attr, pick in (("first", min), ("last", max)):
            v = s[attr]
            if v is not None:
                cur = getattr(self, attr)
                setattr(self, attr, v if cur is None else pick(cur, v))
        self.watermark = max(self.watermark, s["watermark"])
        for key, tab in s["by"].items():
            mine = self.by.setdefault(key, {})
            for k, row in tab.items():
                r = mine.get(k)
                if r is None:
                    mine[k] = row
                else:
                    for i in range(4):
                        r[i] += row[i]
        self.lat.merge(s["lat"])
        self.timeline.merge(s["timeline"])
        for m, q in s["lat_by"].items():
            if m in self.lat_by:
                self.lat_by[m].merge(q)
            else:
                self.lat_by[m] = q
        for tid, tr in s["traces"].items():
            mine = self.traces.get(tid)
            if mine is None:
                tr[4] = False
                self.traces[tid] = tr
            else:
                mine[0].extend(tr[0])
                mine[3] |= tr[3]
                mine[5] = mine[5] or tr[5]
                if tr[2] is not None and (mine[2] is None or tr[2] > mine[2]):
                    mine[2] = tr[2]
        self.trace_count += s["trace_count"]
        for item in s["top"]:
            if len(self.top) < self.opts.top:
                heapq.heappush(self.top, item)
            elif item[0] > self.top[0][0]:
                heapq.heapreplace(self.top, item)
        for item in s["findings"]:
            if len(self.findings) < self.opts.max_findings:
                heapq.heappush(self.findings, item)
            elif item[:5] > self.findings[0][:5]:
                heapq.heapreplace(self.findings, item)
        for kind, (n, w, c) in s["summary"].items():
            mine = self.summary.setdefault(kind, [0, 0.0, 0])
            mine[0] += n
            mine[1] += w
            mine[2] += c
        self.waste_total += s["waste_total"]
        self.unpriced.merge(s["unpriced"])
        self.failed.merge(s["failed"])
        self.cached.merge(s["cached"])
        self.missed.merge(s["missed"])
        for k in ("skipped", "other_events", "filtered_out", "computed_costs", "lines"):
            setattr(self, k, getattr(self, k) + s[k])

    # ------------------------------------------------------------------ the report

    def report(self, *, sources: list[str], filters: dict) -> dict:
        self.close_all()
        for f in unpriced_findings(self.unpriced, self.prices):
            self._add_finding(f)
        for f in failed_findings(self.failed):
            self._add_finding(f)
        for f in cache_savings_findings(self.cached):
            self._add_finding(f)
        missed, extra = self.missed.findings(self.prices)
        for f in missed:
            self._add_finding(f)
        self.waste_total += extra

        t = self.totals
        calls, cost = t[0], t[2]
        totals = {
            "calls": calls, "errors": t[1], "error_rate": round(t[1] / calls, 6) if calls else 0.0,
            "cost": rnd(cost), "prompt_tokens": t[3], "completion_tokens": t[4], "cached_tokens": t[5],
            "cache_write_tokens": t[6], "reasoning_tokens": t[7], "total_tokens": t[8],
            "traces": self.trace_count,
            "first": format_ts(self.first) if self.first is not None else None,
            "last": format_ts(self.last) if self.last is not None else None,
        }
        by: dict[str, list[dict]] = {}
        for key in self.opts.by:
            rows = sorted(self.by.get(key, {}).items(), key=lambda kv: (-kv[1][2], -kv[1][0], kv[0]))
            out = [{"key": k, "calls": r[0], "errors": r[1], "cost": rnd(r[2]), "tokens": r[3],
                    "share": round(r[2] / cost, 6) if cost else 0.0} for k, r in rows[: self.opts.by_limit]]
            rest = rows[self.opts.by_limit:]
            if rest:
                rc = sum(r[2] for _, r in rest)
                out.append({"key": f"({len(rest)} others)", "calls": sum(r[0] for _, r in rest),
                            "errors": sum(r[1] for _, r in rest), "cost": rnd(rc),
                            "tokens": sum(r[3] for _, r in rest), "share": round(rc / cost, 6) if cost else 0.0,
                            "others": len(rest)})
            by[key] = out
        top_traces = [e for _c, _s, e in sorted(self.top, key=lambda x: (-x[0], x[2]["traceId"]))]
        top_trace_calls = {e["traceId"]: e.pop("call_list", []) for e in top_traces}

        def q(qs: Quantiles) -> dict:
            p50, p95 = qs.percentile(50), qs.percentile(95)
            return {"count": qs.n, "p50_ms": None if p50 is None else round(p50, 1),
                    "p95_ms": None if p95 is None else round(p95, 1)}
        overall = q(self.lat)
        latency = {"p50_ms": overall["p50_ms"], "p95_ms": overall["p95_ms"], "count": overall["count"],
                   "exact": self.lat.exact,
                   "by_model": {m: q(v) for m, v in sorted(self.lat_by.items(), key=lambda kv: -kv[1].n)}}
        items = sorted(self.findings, key=lambda it: (not it[0], -it[1], -it[2], it[3]))
        findings = [materialize(it[5]) for it in items]
        summary = {k: {"count": v[0], "waste_usd": rnd(v[1]), "calls": v[2]}
                   for k, v in sorted(self.summary.items(), key=lambda kv: -kv[1][1])}
        return {
            "sources": sources,
            "filters": filters,
            "totals": totals,
            "by": by,
            "top_traces": top_traces,
            "top_trace_calls": top_trace_calls,
            "latency": latency,
            "timeline": self.timeline.section(),
            "findings": findings,
            "findings_summary": summary,
            "findings_truncated": max(0, sum(v[0] for v in self.summary.values()) - len(findings)),
            "waste_total_usd": rnd(self.waste_total),
            "waste_share": round(self.waste_total / cost, 6) if cost else 0.0,
            "skipped_lines": self.skipped,
            "other_events": self.other_events,
            "filtered_out": self.filtered_out,
            "computed_costs": self.computed_costs,
            "repriced": self.opts.reprice,
        }


__all__ = ["Analyzer", "Options", "BY_FIXED"]
