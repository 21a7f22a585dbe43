"""Price tables: loading, model-id resolution and exact cost arithmetic.

Tables are YAML, USD per 1M tokens, one file per provider (``pricing/*.yaml`` in the
repository, installed as ``tokentrail/_pricing_tables``). A model id resolves by exact
id, then alias, then by stripping what clouds and snapshots add to it: provider
prefixes (``openai/``, ``azure/``, Bedrock ``us.anthropic.…-v1:0``, Vertex ``…@2025…``),
fine-tune ids (``ft:gpt-4o-mini-2024-07-18:org::id``: the ``ft:`` entry of the base model
first, else the base model's rates, with a warning) and date suffixes (``-2024-08-06``,
``-20251001``). An entry may have rates per service tier (``flex:``, ``priority:``,
``fast:``...) and regional multipliers (``geo:``); see :meth:`PriceTable.cost`. All
arithmetic is exact: rates are :class:`decimal.Decimal`, and a call's cost is computed in
integers over one power of ten (what the Decimal arithmetic gives, without its cost on
every call).
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from ._usage import count

logger = logging.getLogger("tokentrail")

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # the C loader when available: ~7x faster
_ZERO = Decimal(0)
RATE_FIELDS = ("input", "output", "cached_input", "cache_write", "cache_write_5m", "cache_write_1h")
#: Service tiers an entry may have rates for, named as the provider reports them: OpenAI's
#: ``service_tier`` ("flex", "priority", "fast", "ultrafast", "scale") and Anthropic's
#: ``speed`` ("fast"). Other names ("default", "standard", "auto") are the standard rates.
SERVICE_TIERS = ("flex", "priority", "fast", "ultrafast", "scale")
_FT_BASE = "fine-tune base"   # the rule of an ft: id priced at its base model (no fine-tune rate)


class PricingError(ValueError):
    """A price file could not be read; the message names the file (and line) and what to fix."""


@dataclass(frozen=True)
class Rates:
    """USD per 1M tokens for each kind of token."""

    input: Decimal = _ZERO
    output: Decimal = _ZERO
    cached_input: Decimal | None = None    # cache reads; None = same as input
    cache_write: Decimal | None = None     # OpenAI cache writes / Anthropic 5m writes; None = input
    cache_write_1h: Decimal | None = None  # long-TTL writes (Anthropic 1h, OpenAI 12h); None = cache_write

    def per_kind(self) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
        """(input, cached input, cache write, long-TTL cache write, output), defaults filled in."""
        return self._kinds

    @cached_property
    def _kinds(self) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
        cached = self.input if self.cached_input is None else self.cached_input
        write = self.input if self.cache_write is None else self.cache_write
        write_1h = write if self.cache_write_1h is None else self.cache_write_1h
        return self.input, cached, write, write_1h, self.output

    @cached_property
    def scaled(self) -> tuple[int, int, int, int, int, int]:
        """:meth:`per_kind` as integers over one denominator: ``(in, cached, write,
        write_1h, out, den)`` with ``rate == n / den`` exactly, ``den`` = 10**k * 1M, so
        ``tokens * n / den`` is the exact USD of ``tokens`` at that rate."""
        kinds = self.per_kind()
        k = max(0, *(-d.as_tuple().exponent for d in kinds if d.is_finite()))
        scale = Decimal(10) ** k
        return (*(int(d * scale) for d in kinds), 10 ** k * 1_000_000)


def _scaled(r: Rates, m: Decimal) -> Rates:
    """Every rate of ``r`` times ``m`` (an unset rate stays unset: it follows a scaled one)."""
    def f(d: Decimal | None) -> Decimal | None:
        return None if d is None else d * m
    return Rates(input=r.input * m, output=r.output * m, cached_input=f(r.cached_input),
                 cache_write=f(r.cache_write), cache_write_1h=f(r.cache_write_1h))


@dataclass(frozen=True)
class TierPrice:
    """An entry's rates for one service tier: for the whole call, or above
    ``long_context_threshold`` prompt tokens the ``long_context`` ones when the tier has its own.
    ``multiplier`` is set when the tier was given as a multiple of the standard rates."""

    rates: Rates
    long_context: Rates | None = None
    long_context_threshold: int | None = None
    multiplier: Decimal | None = None


@dataclass(frozen=True)
class ModelPrice:
    """One entry of a price table."""

    key: str
    provider: str
    rates: Rates
    long_context_threshold: int | None = None
    long_context: Rates | None = None
    batch: Rates | None = None
    aliases: tuple[str, ...] = ()
    checked: str = ""
    origin: str = "builtin"   # "builtin" or the override file's path
    deprecated: str = ""      # shutdown date, when a source gives one
    tiers: tuple[tuple[str, TierPrice], ...] = ()   # (service tier, its rates), in SERVICE_TIERS order
    geo: tuple[tuple[str, Decimal], ...] = ()       # (region, multiplier of every rate)

    @cached_property
    def label(self) -> str:
        """What the event's ``pricing`` field says: ``provider/key``."""
        return f"{self.provider}/{self.key}"

    @cached_property
    def tier_map(self) -> dict[str, TierPrice]:
        return dict(self.tiers)

    @cached_property
    def geo_map(self) -> dict[str, Decimal]:
        return dict(self.geo)

    @cached_property
    def _geo_rates(self) -> dict[tuple[int, str], Rates]:
        return {}

    def at_geo(self, rates: Rates, region: str) -> Rates:
        """``rates`` (one of this entry's) times the region's multiplier, computed once."""
        key = (id(rates), region)
        got = self._geo_rates.get(key)
        if got is None:
            got = self._geo_rates[key] = _scaled(rates, self.geo_map[region])
        return got


def _exact(n: int, den: int) -> Decimal:
    # den is a power of ten: a shift of the exponent, exact within the Decimal context's
    # 28 digits (rounded beyond them, as Decimal arithmetic on the rates would be).
    return Decimal(n).scaleb(1 - len(str(den)))


def _amount(slot: str) -> property:
    """A :class:`Cost` amount as an exact Decimal, read from its integer ``slot``."""
    return property(lambda self: _exact(getattr(self, slot), self.den),
                    doc=f"USD as an exact Decimal ({slot} / den).")


class Cost:
    """The price of one call: total and per kind, all exact.

    Kept as integers over one power of ten (``den``); the per-kind and total amounts read
    as exact :class:`~decimal.Decimal`, ``total_usd`` and :meth:`details` as floats (each
    the float nearest the exact amount).
    """

    __slots__ = ("n_input", "n_cached_input", "n_cache_write", "n_output", "den", "pricing", "known",
                 "long_context", "tier", "geo")

    def __init__(self, n_input: int = 0, n_cached_input: int = 0, n_cache_write: int = 0, n_output: int = 0,
                 den: int = 1, pricing: str = "unknown", known: bool = False, long_context: bool = False,
                 tier: str | None = None, geo: str | None = None) -> None:
        self.n_input, self.n_cached_input, self.n_cache_write, self.n_output = \
            n_input, n_cached_input, n_cache_write, n_output
        self.den = den
        self.pricing, self.known, self.long_context = pricing, known, long_context
        #: The service tier whose rates priced the call ("flex", "priority", "fast"...); None
        #: for the standard rates (also for batch rates, and for a tier the entry has no rates for).
        self.tier = tier
        #: The region whose multiplier was applied (``geo=`` of :meth:`PriceTable.cost`), else None.
        self.geo = geo

    input = _amount("n_input")
    cached_input = _amount("n_cached_input")
    cache_write = _amount("n_cache_write")
    output = _amount("n_output")

    @property
    def total(self) -> Decimal:
        return self.input + self.cached_input + self.cache_write + self.output

    @property
    def total_usd(self) -> float:
        """The total as the nearest float (int / int true division rounds correctly)."""
        return (self.n_input + self.n_cached_input + self.n_cache_write + self.n_output) / self.den

    def details(self) -> dict:
        den = self.den
        return {"input": self.n_input / den, "cached_input": self.n_cached_input / den,
                "cache_write": self.n_cache_write / den, "output": self.n_output / den}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Cost):
            return NotImplemented
        return (self.total, self.input, self.cached_input, self.cache_write, self.output, self.pricing,
                self.known, self.long_context, self.tier, self.geo) == \
            (other.total, other.input, other.cached_input, other.cache_write, other.output, other.pricing,
             other.known, other.long_context, other.tier, other.geo)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"Cost(total={self.total}, input={self.input}, cached_input={self.cached_input}, "
                f"cache_write={self.cache_write}, output={self.output}, pricing={self.pricing!r}, "
                f"known={self.known}, long_context={self.long_context}"
                + (f", tier={self.tier!r}" if self.tier is not None else "")
                + (f", geo={self.geo!r}" if self.geo is not None else "") + ")")


# --------------------------------------------------------------------------- parsing

# The names an entry's input and output rates may have, one format per entry: tokentrail's
# own, then the earlier tools' (the cost logger; crashlens' pricing.yaml, per 1M and, in its
# first versions, per 1K; the prompt logger), with how many tokens each rate is for.
_FORMATS = (
    ("input", "output", 1_000_000),
    ("input_rate_per_1m", "output_rate_per_1m", 1_000_000),
    ("input_cost_per_1m", "output_cost_per_1m", 1_000_000),
    ("input_cost_per_1k", "output_cost_per_1k", 1000),
    ("input_price_per_1k", "output_price_per_1k", 1000),
)
# Two names for one rate: Anthropic's 5m/1h cache writes are OpenAI's writes and 12h writes.
_SYNONYMS = (("cache_write_5m", "cache_write"), ("cache_write_1h", "cache_write_12h"))
_RATE_NAMES = frozenset({n for f in _FORMATS for n in f[:2]} | {"cached_input"} | {n for s in _SYNONYMS for n in s})
# `description` (crashlens) and `reason` (the tables' `overrides:` section) are notes for people.
_ENTRY_NAMES = _RATE_NAMES | {"long_context", "batch", "aliases", "provider", "checked", "deprecated",
                              "description", "reason", "geo", *SERVICE_TIERS}
# The sections of an entry and the fields each takes. A service tier (flex, priority, fast...)
# is shaped like batch, plus its own long_context rates, or is one multiplier of every rate.
_TIER_NAMES = {"batch": _RATE_NAMES, "long_context": _RATE_NAMES | {"threshold"},
               **{t: _RATE_NAMES | {"long_context", "multiplier"} for t in SERVICE_TIERS}}
_RATE_LIST = "input, output, cached_input, cache_write_5m, cache_write_1h"
_FIELD_LIST = {   # what an error offers (the earlier tools' names load, but are not advertised)
    "entry": _RATE_LIST + ", long_context, batch, " + ", ".join(SERVICE_TIERS)
    + ", geo, aliases, provider, checked or deprecated",
    "batch": _RATE_LIST,
    "long_context": "threshold, " + _RATE_LIST,
    **{t: _RATE_LIST + ", long_context (its rates above the threshold) or multiplier (alone)" for t in SERVICE_TIERS},
}
_TIER_EXAMPLE = {"batch": "{input: 1.25, output: 5}", "long_context": "{threshold: 200000, input: 6, output: 22.5}",
                 **{t: "{input: 0.625, output: 5, cached_input: 0.0625} or {multiplier: 2}" for t in SERVICE_TIERS},
                 "geo": "{us: 1.1}"}
_ALIAS = re.compile(r"^[^\s,]+$")   # one model id: no spaces, no commas


def _dec(value: Any, where: str) -> Decimal:
    if isinstance(value, bool):
        raise PricingError(f"{where}: a price must be a number, not {value!r}")
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise PricingError(f"{where}: a price must be a number, not {value!r}") from None
    if not d.is_finite() or d < 0:
        raise PricingError(f"{where}: a price must be a non-negative number, not {value!r}")
    return d


def _check_names(entry: Mapping, allowed: frozenset, where: str, listed: str) -> None:
    """A misspelled field would be ignored, leaving its rate silently inherited or zero: refuse it."""
    for name in entry:
        if name not in allowed:
            hint = _did_you_mean(str(name), allowed)
            raise PricingError(f"{where}: unknown field {name!r}{hint}; use {listed}")


def _did_you_mean(name: str, allowed: frozenset) -> str:
    """The closest field name, as written or with its words swapped (inptu_cached)."""
    close = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.6)
    if not close:
        words = {_words(n): n for n in sorted(allowed)}
        close = [words[w] for w in difflib.get_close_matches(_words(name), words, n=1, cutoff=0.6)]
    return f" (did you mean {close[0]!r}?)" if close else ""


def _words(name: str) -> str:
    return "_".join(sorted(name.lower().split("_")))


def _format(entry: Mapping, where: str) -> tuple[str, str, int]:
    """(input name, output name, tokens per rate) of the format the entry is written in."""
    used = [f for f in _FORMATS if f[0] in entry or f[1] in entry]
    if len(used) > 1:
        a, b = (next(n for n in f[:2] if n in entry) for f in used[:2])
        raise PricingError(f"{where}: {a!r} and {b!r} belong to different price formats; "
                           f"write the entry in one of them (input/output: USD per 1M tokens)")
    return used[0] if used else _FORMATS[0]


def _opt(entry: Mapping, key: str, where: str, scale: Decimal = Decimal(1)) -> Decimal | None:
    if key not in entry:
        return None
    if entry[key] is None:   # `input:` with nothing after it: a mistake, not "keep the old rate"
        raise PricingError(f"{where}, field {key!r}: no value; give a price or remove the field")
    return _dec(entry[key], f"{where}, field {key!r}") * scale


def _synonym(entry: Mapping, names: tuple[str, str], where: str) -> Decimal | None:
    given = [n for n in names if n in entry]
    if len(given) > 1:
        raise PricingError(f"{where}: {given[0]!r} and {given[1]!r} are two names for one rate; keep one")
    return _opt(entry, given[0], where) if given else None


def _rates(entry: Mapping, where: str, base: Rates | None = None) -> Rates:
    """Read rates in tokentrail's own names or in an earlier tool's; a rate the entry does
    not name keeps ``base``'s (for a new model: none, so the :class:`Rates` defaults)."""
    inp_name, out_name, per = _format(entry, where)
    scale = Decimal(1_000_000 // per)
    b = base or Rates()
    inp = _opt(entry, inp_name, where, scale)
    out = _opt(entry, out_name, where, scale)
    cached = _opt(entry, "cached_input", where)
    cw = _synonym(entry, _SYNONYMS[0], where)
    long_ = _synonym(entry, _SYNONYMS[1], where)
    return Rates(
        input=b.input if inp is None else inp,
        output=b.output if out is None else out,
        cached_input=b.cached_input if cached is None else cached,
        cache_write=b.cache_write if cw is None else cw,
        cache_write_1h=b.cache_write_1h if long_ is None else long_,
    )


def _require_rates(entry: Mapping, where: str, what: str, hint: str = "") -> None:
    """Something new has nothing to inherit: a missing input or output rate would be a silent 0."""
    inp_name, out_name, _ = _format(entry, where)
    for name in (inp_name, out_name):
        if name not in entry:
            raise PricingError(f"{where}: {name!r} is missing; {what} needs both {inp_name!r} and "
                               f"{out_name!r}, so add '{name}: <price>'{hint}")


def _tier_mapping(raw: Mapping, name: str, where: str) -> tuple[Mapping, str]:
    """A tier section (``batch:``, ``long_context:``, ``flex:``...) and where it is, checked:
    a mapping of the fields such a section may have."""
    value = raw[name]
    if not isinstance(value, Mapping):
        raise PricingError(f"{where}: {name!r} must be a mapping of rates such as {_TIER_EXAMPLE[name]}, "
                           f"not {value!r}")
    where = f"{where}, {name}"
    _check_names(value, _TIER_NAMES[name], where, _FIELD_LIST[name])
    return value, where


def _tier(raw: Mapping, name: str, where: str, own: Rates, base_tier: Rates | None) -> Rates:
    """A batch or long-context tier: merged over the known model's tier, else a new one whose
    unnamed cache rates follow the entry's own."""
    value, where = _tier_mapping(raw, name, where)
    if base_tier is None:
        _require_rates(value, where, f"a new {name} tier")
    return _rates(value, where, base_tier or own)


def _multiplier(value: Any, where: str) -> Decimal:
    try:
        m = None if isinstance(value, bool) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        m = None
    if m is None or not m.is_finite() or m <= 0:
        raise PricingError(f"{where}: a multiplier must be a positive number such as 2 or 1.1, not {value!r}")
    return m


def _multiplied(own: Rates, lc_threshold: int | None, own_lc: Rates | None, m: Decimal) -> TierPrice:
    """A tier priced as ``m`` times every standard rate, long-context ones included."""
    lc = _scaled(own_lc, m) if own_lc is not None and lc_threshold else None
    return TierPrice(_scaled(own, m), lc, None, m)


def _service_tier(raw: Mapping, name: str, where: str, own: Rates, lc_threshold: int | None,
                  own_lc: Rates | None, base_tier: TierPrice | None) -> TierPrice:
    """A service tier's rates (``flex: {input: .., output: .., long_context: {..}}``), merged over
    the known model's tier, else a new one whose unnamed rates are the entry's standard ones;
    or ``{multiplier: m}``: every standard rate times m."""
    value, where = _tier_mapping(raw, name, where)
    if "multiplier" in value:
        others = [str(k) for k in value if k != "multiplier"]
        if others:
            raise PricingError(f"{where}: 'multiplier' prices every rate as the standard one times it; "
                               f"give it alone or give rates, not both ({others[0]!r})")
        return _multiplied(own, lc_threshold, own_lc, _multiplier(value["multiplier"], f"{where}, 'multiplier'"))
    if base_tier is None:
        _require_rates(value, where, f"a new {name} tier")
    rates = _rates(value, where, base_tier.rates if base_tier else own)
    lc, lc_thr = (base_tier.long_context, base_tier.long_context_threshold) if base_tier else (None, None)
    if "long_context" in value:
        sub = value["long_context"]
        if not isinstance(sub, Mapping):
            raise PricingError(f"{where}: 'long_context' must be a mapping of rates such as "
                               f"{{input: 2.5, output: 15}} (above the model's threshold), not {sub!r}")
        _check_names(sub, _TIER_NAMES["long_context"], f"{where}, long_context", _FIELD_LIST["long_context"])
        if lc is None:
            _require_rates(sub, f"{where}, long_context", f"a new {name} long_context tier")
        lc = _rates(sub, f"{where}, long_context", lc or rates)
        explicit = _threshold(sub, where, lc_thr or lc_threshold)
        lc_thr = explicit if "threshold" in sub else lc_thr   # else the model's, whatever it becomes
    return TierPrice(rates, lc, lc_thr)


def _geo(value: Any, where: str) -> dict[str, Decimal]:
    """``geo: {us: 1.1}``: per region, the multiplier of every rate."""
    if not isinstance(value, Mapping) or not value:
        raise PricingError(f"{where}: 'geo' must map regions to multipliers of every rate, such as "
                           f"{_TIER_EXAMPLE['geo']}, not {value!r}")
    return {str(k).strip().lower(): _multiplier(v, f"{where}, geo {str(k)!r}") for k, v in value.items()}


def _threshold(lc: Mapping, where: str, inherited: int | None) -> int:
    """The prompt size above which the long-context rates apply: a whole number of tokens."""
    if "threshold" not in lc:
        if inherited:
            return inherited
        raise PricingError(f"{where}, long_context: no threshold; add 'threshold: N', the prompt size in "
                           "tokens above which these rates apply (such as 200000)")
    v = lc["threshold"]
    try:
        n = None if isinstance(v, bool) else Decimal(str(v).strip())
    except (InvalidOperation, ValueError):
        n = None
    if n is None or not n.is_finite() or n <= 0 or n != n.to_integral_value():
        raise PricingError(f"{where}, long_context: the threshold must be a whole number of prompt tokens "
                           f"above 0 (such as 200000), not {v!r}")
    return int(n)


def _aliases(value: Any, where: str) -> tuple[str, ...]:
    """``aliases:`` as a list of ids, or one id written as a plain string."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if isinstance(items, (list, tuple)) and all(isinstance(a, (str, int)) and not isinstance(a, bool)
                                                 and _ALIAS.match(str(a)) for a in items):
        return tuple(str(a) for a in items)
    raise PricingError(f"{where}: 'aliases' must be a model id or a list of ids such as "
                       f"[my-deployment, gpt-4o-eu], not {value!r}")


def _line_of(text: str, key: str) -> int | None:
    pat = re.compile(r"^\s*['\"]?" + re.escape(key) + r"['\"]?\s*:", re.M)
    m = pat.search(text)
    return text.count("\n", 0, m.start()) + 1 if m else None


def _entry(key: str, raw: Any, provider: str, where: str, origin: str, base: ModelPrice | None = None,
           taken: Iterable[str] = ()) -> ModelPrice:
    """One model's entry. With ``base`` (the known model ``key`` resolves to, or the same key
    earlier in the file) it changes only the fields it names and keeps the rest, provider
    included; ``taken`` are the ids the file prices on their own, which ``base``'s aliases lose."""
    if not isinstance(raw, Mapping):
        raise PricingError(f"{where}: the entry for {key!r} must be a mapping of rates (input, output, ...)")
    _check_names(raw, _ENTRY_NAMES, where, _FIELD_LIST["entry"])
    if base is None:
        _require_rates(raw, where, "a model the price tables do not know",
                       " (to change a known model, key the entry by an id `tokentrail pricing list` shows)")
    rates = _rates(raw, where, base.rates if base else None)
    lc_threshold, lc_rates = (base.long_context_threshold, base.long_context) if base else (None, None)
    if not lc_threshold:
        lc_threshold, lc_rates = None, None
    if "long_context" in raw:
        lc_rates = _tier(raw, "long_context", where, rates, lc_rates)
        lc_threshold = _threshold(raw["long_context"], where, lc_threshold)
    batch = base.batch if base else None
    if "batch" in raw:
        batch = _tier(raw, "batch", where, rates, batch)
    tiers = {n: (_multiplied(rates, lc_threshold, lc_rates, t.multiplier) if t.multiplier is not None else t)
             for n, t in (base.tiers if base else ())}   # a multiple of the standard rates follows them
    for name in SERVICE_TIERS:
        if name in raw:
            tiers[name] = _service_tier(raw, name, where, rates, lc_threshold, lc_rates, tiers.get(name))
    geo = dict(base.geo) if base else {}
    if "geo" in raw:
        geo.update(_geo(raw["geo"], where))
    aliases = _aliases(raw.get("aliases"), where)
    if base is not None and base.key == key:
        aliases = tuple(dict.fromkeys([a for a in base.aliases if a not in taken] + list(aliases)))
    checked = raw.get("checked")
    if isinstance(checked, Mapping):
        checked = str(checked.get("date", ""))
    return ModelPrice(key=key, provider=str(raw.get("provider") or (base.provider if base else provider)),
                      rates=rates, long_context_threshold=lc_threshold, long_context=lc_rates, batch=batch,
                      aliases=aliases, checked=str(checked or (base.checked if base else "")), origin=origin,
                      deprecated=str(raw.get("deprecated") or (base.deprecated if base else "")),
                      tiers=tuple((n, tiers[n]) for n in SERVICE_TIERS if n in tiers), geo=tuple(sorted(geo.items())))


def _load_yaml(path: Path) -> tuple[Any, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PricingError(f"pricing file {str(path)!r} does not exist; check the path given to "
                           "configure(pricing=...) or TOKENTRAIL_PRICING") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PricingError(f"pricing file {str(path)!r} cannot be read ({e}); give a UTF-8 YAML file") from None
    try:
        return yaml.load(text, Loader=_Loader), text
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise PricingError(f"pricing file {str(path)!r},{line}: invalid YAML ({problem}); "
                           "fix the file or run `tokentrail pricing init` for a valid example") from None


def parse_price_file(path: str | os.PathLike, *, provider: str | None = None, builtin: bool = False,
                     base: PriceTable | Mapping[str, ModelPrice] | None = None) -> list[ModelPrice]:
    """Read one price file (tokentrail's format or an earlier tool's) into entries.

    ``base`` (the tables already loaded) makes an entry for a known model an override that
    changes only the fields it names. Its key finds that model the way a call's model id
    does (alias, dated snapshot, prefixes): ``gpt-4o-2024-08-06: {input: 2}`` prices that
    snapshot at gpt-4o's rates but for input. Raises :class:`PricingError` naming the file,
    line, model and field for anything it would otherwise have to ignore or guess.
    """
    path = Path(path)
    data, text = _load_yaml(path)
    if data is None:
        return []
    if not isinstance(data, Mapping):
        raise PricingError(f"pricing file {str(path)!r}: expected a mapping with a 'models:' or "
                           "'pricing:' section at the top level")
    provider = str(data.get("provider") or provider or "user")
    origin = "builtin" if builtin else str(path)
    sections: list[Mapping] = []
    for name in ("models", "pricing", "overrides"):
        sec = data.get(name)
        if sec is None:
            continue
        if not isinstance(sec, Mapping):
            raise PricingError(f"pricing file {str(path)!r}, line {_line_of(text, name)}: "
                               f"'{name}:' must be a mapping of model id to rates")
        sections.append(sec)
    if not sections:
        # A bare mapping of model -> rates is accepted too.
        if all(isinstance(v, Mapping) for v in data.values()):
            sections.append(data)
        else:
            raise PricingError(f"pricing file {str(path)!r}: no 'models:' or 'pricing:' section found; "
                               "run `tokentrail pricing init` for a valid example")
    known = base if base is None or isinstance(base, PriceTable) else PriceTable(base.values())
    taken = {str(key) for sec in sections for key in sec}
    out: dict[str, ModelPrice] = {}
    for sec in sections:
        for key, raw in sec.items():
            key = str(key)
            line = _line_of(text, key)
            where = f"pricing file {str(path)!r}" + (f", line {line}" if line else "") + f", model {key!r}"
            prev = out.get(key) or (known.resolve(key)[0] if known is not None else None)
            out[key] = _entry(key, raw, provider, where, origin, prev, taken)
    return list(out.values())


# --------------------------------------------------------------------------- resolution

_DATE_SUFFIXES = (
    re.compile(r"-\d{4}-\d{2}-\d{2}$"),   # gpt-4o-2024-08-06
    re.compile(r"-\d{8}$"),               # claude-haiku-4-5-20251001
    re.compile(r"-\d{4}$"),               # gpt-4-0613, gpt-3.5-turbo-0125
)
_BEDROCK = re.compile(r"^(?:[a-z]+(?:-[a-z]+)*\.)?anthropic\.(?P<m>.+?)(?:-v\d+(?::\d+)?)?$")
_PREFIXES = ("openai/", "azure/", "anthropic/", "bedrock/", "vertex_ai/", "vertex/", "models/")


def candidate_ids(model: str) -> Iterable[tuple[str, str]]:
    """Yield (id to look up, how it was derived) in resolution order."""
    m = model.strip()
    yield m, "exact"
    low = m.lower()
    if low != m:
        yield low, "case"
    cur = low
    for p in _PREFIXES:
        if cur.startswith(p):
            cur = cur[len(p):]
            yield cur, "prefix"
            break
    bm = _BEDROCK.match(cur)
    if bm:
        cur = bm.group("m")
        yield cur, "bedrock"
    if "@" in cur:                         # Vertex: claude-sonnet-4-5@20250929
        base, _, ver = cur.partition("@")
        if ver and ver != "default":
            yield f"{base}-{ver}", "vertex"
        cur = base
        yield cur, "vertex"
    if cur.startswith("ft:"):              # ft:gpt-4o-mini-2024-07-18:org:name:id
        base = cur[3:].split(":", 1)[0]
        if "ft:" + base != cur:
            yield "ft:" + base, "fine-tune"
        tuned = base
        for rx in _DATE_SUFFIXES:          # the fine-tune rate of the base's undated name
            stripped = rx.sub("", tuned)
            if stripped != tuned:
                yield "ft:" + stripped, "fine-tune snapshot"
                tuned = stripped
        cur = base
        yield cur, _FT_BASE                # from here on: the base model's own rates
    for rx in _DATE_SUFFIXES:
        stripped = rx.sub("", cur)
        if stripped != cur:
            yield stripped, "snapshot"
            cur = stripped
    if cur.endswith("-latest"):
        yield cur[: -len("-latest")], "latest"


class PriceTable:
    """All known prices; thread-safe lookups with a per-id cache."""

    def __init__(self, entries: Iterable[ModelPrice] = (), *, default: Rates | None = None):
        self._by_id: dict[str, ModelPrice] = {}
        self._entries: dict[str, ModelPrice] = {}
        self.default = default or Rates()
        self._cache: dict[str, tuple[ModelPrice | None, str]] = {}
        self._warned: set[str] = set()
        self._warned_ft: set[str] = set()
        self._lock = threading.Lock()
        self.add(entries)

    def add(self, entries: Iterable[ModelPrice]) -> None:
        """Add or replace entries (later ones win, aliases included).

        An entry keyed by an id that another entry lists as an alias (an override of one
        snapshot, ``gpt-4o-2024-08-06``) takes that id: the other entry stops listing it,
        so what ``pricing show`` says matches what a call is priced at.
        """
        for e in entries:
            owner = self._by_id.get(e.key)
            if owner is not None and owner.key != e.key and e.key in owner.aliases:
                self._put(replace(owner, aliases=tuple(a for a in owner.aliases if a != e.key)))
            self._put(e)
        self._cache.clear()

    def _put(self, e: ModelPrice) -> None:
        old = self._entries.get(e.key)
        if old is not None:
            for a in (*old.aliases, *(a.lower() for a in old.aliases), old.key.lower()):
                if self._by_id.get(a) is old:
                    del self._by_id[a]
        self._entries[e.key] = e
        for a in e.aliases:
            self._by_id[a] = e
            self._by_id.setdefault(a.lower(), e)
        self._by_id[e.key] = e
        self._by_id.setdefault(e.key.lower(), e)

    def entries(self) -> list[ModelPrice]:
        return sorted(self._entries.values(), key=lambda e: (e.provider, e.key))

    def get(self, key: str) -> ModelPrice | None:
        return self._entries.get(key)

    def resolve(self, model: str | None) -> tuple[ModelPrice | None, str]:
        """The entry a model id prices at, and how it was found ("exact", "alias", "snapshot",
        "fine-tune"...; "fine-tune base" for a fine-tuned model priced at its base model's
        rates because the tables have no fine-tune rate for it)."""
        if not model:
            return None, "unknown"
        hit = self._cache.get(model)
        if hit is not None:
            return hit
        result: tuple[ModelPrice | None, str] = (None, "unknown")
        tuned = False
        for cand, how, e in self._trace(str(model)):
            tuned = tuned or how == _FT_BASE
            if e is not None:
                if how == "exact" and cand != e.key:
                    how = "alias"
                elif tuned and not how.startswith("fine-tune"):
                    how = _FT_BASE
                result = (e, how)
        if len(self._cache) < 10_000:
            self._cache[model] = result
        return result

    def resolution_steps(self, model: str) -> list[dict]:
        """Each id tried for ``model`` in order: ``{"id", "rule", "matched"}`` (the entry's key,
        "KEY (alias)" when matched by an alias, or None); the last match is what it resolves to."""
        steps = []
        for cand, how, e in self._trace(model):
            matched = None if e is None else e.key if cand == e.key else f"{e.key} (alias)"
            steps.append({"id": cand, "rule": how, "matched": matched})
        return steps

    def _trace(self, model: str) -> Iterator[tuple[str, str, ModelPrice | None]]:
        """(id tried, rule, entry or None) up to the match. A fine-tuned model's base, once
        found, is followed by the fine-tune entry of another of its ids when there is one
        (``ft:gpt-4.1:org::x`` -> ``ft:gpt-4.1-2025-04-14``): the last match wins."""
        by_id = self._by_id
        tuned = False
        for cand, how in candidate_ids(model):
            tuned = tuned or how == _FT_BASE
            e = by_id.get(cand)
            yield cand, how, e
            if e is None:
                continue
            if tuned:
                for other in (e.key, *e.aliases):
                    ft = by_id.get("ft:" + other)
                    if ft is not None:
                        yield "ft:" + other, "fine-tune alias", ft
                        break
            return

    def cost(self, model: str | None, usage: Mapping[str, Any], *, batch: bool = False,
             normalized: bool = False, tier: str | None = None, geo: str | None = None) -> Cost:
        """Price one call's usage in tokentrail's shape (see :mod:`tokentrail._usage`);
        ``normalized=True`` says it came from ``normalize_usage`` (counts already clean).

        ``tier`` is the service tier the provider reported, lower case: OpenAI's
        ``service_tier`` ("flex", "priority", "fast", "ultrafast", "scale"), Anthropic's
        ``speed`` ("fast"); None, "default", "standard" and "auto" are the standard rates, and
        "batch" (Anthropic's ``service_tier`` of a batch result) is ``batch=True``. The rates
        are chosen in this order, the whole call at one set of rates:

        1. ``batch=True``: the batch rates when the entry has them, else step 3; the tier is
           not used (a batch call has no service tier; batch long-context rates are not in the
           tables).
        2. the entry has rates for ``tier``: those, and :attr:`Cost.tier` says which. When the
           tier has long-context rates of its own (the model's threshold, unless the tier names
           one), a prompt above the threshold is priced at them (``Cost.long_context``); a tier
           without them prices the call at its rates whatever the prompt size (the sources
           give such tiers flat rates only, e.g. OpenAI's priority on gpt-5.4 and gpt-5.5,
           genai-prices' variant replacing the tiered price).
        3. the standard rates, or the long-context ones above the threshold. A tier the entry
           has no rates for (Anthropic "priority", OpenAI "scale", "flex" on a model without
           flex) lands here, with ``Cost.tier`` None.

        ``geo`` is the region the call was processed in, lower case: Anthropic's
        ``usage.inference_geo`` ("us"), or OpenAI's data-residency region ("eu"/"us" for
        eu./us.api.openai.com). When the entry has a multiplier for it (``geo:`` in the
        tables), every rate chosen above is multiplied by it (``Cost.geo``); it stacks with
        tiers, batch and long context (litellm's cost code multiplies the whole call's cost).

        A fine-tuned model priced at its base model's rates (no fine-tune rate in the tables)
        logs one warning per model id.
        """
        if tier is not None or geo is not None:
            return self._cost_at(model, usage, batch, normalized, tier, geo)
        entry, how = self.resolve(model)
        prompt = usage["prompt_tokens"] if normalized else count(usage.get("prompt_tokens"))
        if entry is None:
            rates, label, known, lc = self.default, "unknown", False, False
            if model and model not in self._warned:
                self._warn_unknown(model)
        else:
            rates, label, known, lc = entry.rates, entry.label, True, False
            if batch and entry.batch is not None:
                rates = entry.batch
            elif entry.long_context is not None and entry.long_context_threshold and \
                    prompt > entry.long_context_threshold:
                rates, lc = entry.long_context, True   # the whole request moves to the higher tier
            if how is _FT_BASE and model not in self._warned_ft:
                self._warn_fine_tune(model, entry)
        if normalized:      # positional: a keyword call costs more, and this runs for every event
            return _cost_of_normalized(rates, usage, label, known, lc)
        return compute_cost(rates, usage, label=label, known=known, long_context=lc)

    def _cost_at(self, model: str | None, usage: Mapping[str, Any], batch: bool, normalized: bool,
                 tier: str | None, geo: str | None) -> Cost:
        """:meth:`cost` with a tier or a region (kept apart: the plain path runs for every event)."""
        entry, how = self.resolve(model)
        if entry is None or tier == "batch":
            return self.cost(model, usage, batch=batch or tier == "batch", normalized=normalized,
                             geo=None if entry is None else geo)
        prompt = usage["prompt_tokens"] if normalized else count(usage.get("prompt_tokens"))
        rates, lc, applied, region = entry.rates, False, None, None
        t = entry.tier_map.get(tier) if tier is not None and not batch else None
        if batch and entry.batch is not None:
            rates = entry.batch
        elif t is not None:
            applied, rates = tier, t.rates
            threshold = t.long_context_threshold or entry.long_context_threshold
            if t.long_context is not None and threshold and prompt > threshold:
                rates, lc = t.long_context, True
        elif entry.long_context is not None and entry.long_context_threshold and \
                prompt > entry.long_context_threshold:
            rates, lc = entry.long_context, True
        if geo is not None and geo in entry.geo_map:
            rates, region = entry.at_geo(rates, geo), geo
        if how is _FT_BASE and model not in self._warned_ft:
            self._warn_fine_tune(model, entry)
        c = (_cost_of_normalized(rates, usage, entry.label, True, lc) if normalized
             else compute_cost(rates, usage, label=entry.label, known=True, long_context=lc))
        c.tier, c.geo = applied, region
        return c

    def _warn_unknown(self, model: str) -> None:
        with self._lock:
            if model in self._warned:
                return
            self._warned.add(model)
        logger.warning("tokentrail: no price for model %r; priced at the default rate "
                       "(input %s, output %s per 1M) and marked pricing='unknown'. "
                       "Add it with configure(pricing='prices.yaml').",
                       model, self.default.input, self.default.output)

    def _warn_fine_tune(self, model: Any, entry: ModelPrice) -> None:
        with self._lock:
            if model in self._warned_ft:
                return
            self._warned_ft.add(model)
        base = str(model).split(":")[1] if str(model).count(":") else str(model)
        logger.warning("tokentrail: no fine-tuned price for model %r; priced at its base model's rate (%s, "
                       "input %s, output %s per 1M), but fine-tuned models are billed at higher rates. Add "
                       "its rate to a price file keyed by the fine-tuned id, e.g. 'ft:%s': {input: .., output: "
                       "..} (or the full id), loaded with configure(pricing='prices.yaml').",
                       model, entry.label, entry.rates.input, entry.rates.output, base)


def compute_cost(rates: Rates, usage: Mapping[str, Any], *, label: str = "unknown", known: bool = True,
                 long_context: bool = False, normalized: bool = False) -> Cost:
    if normalized:      # normalize_usage's output: non-negative ints, subsets already clamped
        return _cost_of_normalized(rates, usage, label, known, long_context)
    prompt = count(usage.get("prompt_tokens"))
    cached = min(count(usage.get("cached_tokens")), prompt)
    write = min(count(usage.get("cache_write_tokens")), prompt - cached)
    write_1h = min(count(usage.get("cache_write_1h_tokens")) + count(usage.get("cache_write_12h_tokens")), write)
    completion = count(usage.get("completion_tokens"))
    return _cost(rates, prompt, cached, write, write_1h, completion, label, known, long_context)


def _cost_of_normalized(rates: Rates, usage: Mapping[str, Any], label: str, known: bool, long_context: bool) -> Cost:
    g = usage.get
    write = usage["cache_write_tokens"]
    write_1h = g("cache_write_1h_tokens", 0) + g("cache_write_12h_tokens", 0)
    return _cost(rates, usage["prompt_tokens"], usage["cached_tokens"], write, write_1h if write_1h < write else write,
                 usage["completion_tokens"], label, known, long_context)


def _cost(rates: Rates, prompt: int, cached: int, write: int, write_1h: int, completion: int, label: str,
          known: bool, long_context: bool) -> Cost:
    r_in, r_cached, r_write, r_write_1h, r_out, den = rates.scaled
    return Cost((prompt - cached - write) * r_in, cached * r_cached,
                (write - write_1h) * r_write + write_1h * r_write_1h, completion * r_out, den, label, known,
                long_context)


# --------------------------------------------------------------------------- builtin tables

def builtin_dir() -> Path:
    """Where the shipped tables are: inside the installed package, else the repo's ``pricing/``."""
    here = Path(__file__).resolve().parent
    installed = here / "_pricing_tables"
    if installed.is_dir():
        return installed
    return here.parent.parent / "pricing"


_builtin_cache: dict[tuple, list[ModelPrice]] = {}


def load_builtin() -> list[ModelPrice]:
    """The shipped entries; parsed once per process (until a table file changes)."""
    d = builtin_dir()
    files = sorted(d.glob("*.yaml"))
    key = tuple((str(f), f.stat().st_mtime_ns) for f in files)
    cached = _builtin_cache.get(key)
    if cached is not None:
        return list(cached)
    entries: list[ModelPrice] = []
    for f in files:
        entries.extend(parse_price_file(f, provider=f.stem, builtin=True))
    _builtin_cache.clear()
    _builtin_cache[key] = entries
    if not entries:
        logger.error("tokentrail: no price tables found in %s; every model will be priced as unknown", d)
    return list(entries)


def load_table(override: str | os.PathLike | None = None, default: Rates | None = None) -> PriceTable:
    """Built-in tables plus an optional user override file (raises PricingError if it is broken)."""
    table = PriceTable(load_builtin(), default=default)
    if override:
        table.add(parse_price_file(override, base=table))
    return table


__all__ = ["PricingError", "Rates", "TierPrice", "ModelPrice", "Cost", "PriceTable", "SERVICE_TIERS", "load_table",
           "parse_price_file", "compute_cost", "candidate_ids"]
