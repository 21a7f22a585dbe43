#!/usr/bin/env python3
"""Regenerate tokentrail's price tables from two public price datasets.

Outputs (USD per 1M tokens, one file per provider):

    pricing/openai.yaml
    pricing/anthropic.yaml
    pricing/SOURCES.md      the versions used, every disagreement between the two
                            sources, and the SDK model ids neither source prices

Sources (nothing is typed in by hand; the only constants here are version pins,
model *names* and field mappings):

1. genai-prices (PyPI ``genai-prices``): the data snapshot bundled in the wheel
   (``genai_prices/data.py``), read by importing the package from the unpacked
   wheel. Prices are Decimals per 1M tokens, with date-conditional prices, batch
   variants and long-context tiers. Needs Python >= 3.11 and pydantic/httpx2
   (the openai SDK brings both).
2. litellm (PyPI ``litellm``): ``litellm/model_prices_and_context_window_backup.json``
   read straight out of the wheel (litellm itself is never imported). Prices are
   per-token floats, converted exactly with ``Decimal(repr(x)) * 1_000_000``.

Precedence: **genai-prices first, litellm fills the gaps**, field by field.
genai-prices records which date each rate was verified and models price changes
over time, so it wins when both have a value; litellm supplies what genai-prices
lacks (e.g. OpenAI 12-hour cache writes, models genai-prices does not list).
The long-context tier is not mixed: when genai-prices prices a model, its tier (or
its lack of one) stands; litellm's tier is used only for models genai-prices does
not price (an override can add one back). ``deprecated:`` is the shutdown date
the installed SDK announces (openai: the ``ChatModel`` docstring; anthropic:
``DEPRECATED_MODELS``), else litellm's ``deprecation_date``. Hand-reviewed
corrections go in the ``overrides:`` section of each YAML file, which this script
keeps verbatim; the runtime loader merges them over ``models:``.

Service tiers: per-model ``flex:``, ``priority:``, ``fast:``, ``ultrafast:`` sections (shaped
like ``batch:``, plus the tier's own ``long_context:`` rates when a source gives them), from
genai-prices' ``service_tier`` / ``speed`` price variants and litellm's ``*_flex`` /
``*_priority`` / ``*_ultrafast`` keys (litellm's cost code bills OpenAI ``service_tier="fast"``
at its ``_priority`` keys, so those are its ``fast`` rates too); the same precedence applies
inside each tier, and a tier's long-context rates are not mixed either. A source that gives a
tier only as a multiplier of every rate (litellm's Anthropic ``provider_specific_entry.fast``)
is carried as ``fast: {multiplier: N}`` when no source gives the rates, and checked against the
rates otherwise. ``geo:`` carries litellm's regional multipliers (Anthropic
``provider_specific_entry`` keyed by ``usage.inference_geo``; OpenAI
``regional_processing_uplift_multiplier_<region>``). Fine-tuned models: ``ft:<base>`` entries
from litellm's ``ft:`` keys (genai-prices prices them by its ``ft:`` match rules) for every base
model covered. SOURCES.md says what is and is not covered.

Which ids are covered: every model id named by the installed SDKs (openai
``ChatModel``, ``ResponsesModel``, ``EmbeddingModel``; anthropic ``Model`` and
``DEPRECATED_MODELS``), plus the older ids in ``LEGACY_IDS`` and every id the tables
already list (an SDK release that stops naming a model does not stop apps from sending
it; its shutdown date stays too, unless the SDK announces another). A dated snapshot
(``gpt-4o-2024-08-06``, ``claude-haiku-4-5-20251001``) becomes an alias of its base
entry when its price is identical, and gets its own entry otherwise. Snapshot
names come from the SDKs, genai-prices' match rules and litellm's keys (for old
Claude snapshots also litellm's Bedrock/Vertex keys, names only). Provider-prefixed
ids (Bedrock, Vertex, Azure, ``openai/``) are not entries; the runtime loader
strips prefixes. Ids neither source prices are listed in SOURCES.md, not invented.

Usage:

    python scripts/sync_pricing.py                          # pip download the pinned wheels
    python scripts/sync_pricing.py --wheel-dir /tmp/wheels  # offline, wheels already there
    python scripts/sync_pricing.py --check                  # exit 1 if the files would change
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import re
import subprocess
import sys
import tempfile
import typing
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

GENAI_PRICES_VERSION = "0.2.3"
LITELLM_VERSION = "1.109.1"

GENAI = "genai-prices"
LITELLM = "litellm"
LITELLM_JSON = "litellm/model_prices_and_context_window_backup.json"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "pricing"
PROVIDERS = ("openai", "anthropic")

PRECEDENCE = (
    "genai-prices first, litellm fills the gaps (field by field). The long-context tier is not "
    "mixed: when genai-prices prices a model, its tier (or its lack of one) stands, and litellm's "
    "tier is used only for models genai-prices does not price. "
    "`deprecated:` is the SDK's announced shutdown date, else litellm's `deprecation_date`. "
    "Service tiers (`flex:`, `priority:`, `fast:`, `ultrafast:`) follow the same rules inside each tier "
    "(fields filled from litellm, a tier's long-context rates not mixed); `geo:` multipliers come from litellm. "
    "Hand-reviewed `overrides:` in each YAML file are merged over `models:` by the loader."
)

# Older ids still found in logs; kept when a source prices them. Names only, no prices.
# fmt: off
LEGACY_IDS: dict[str, tuple[str, ...]] = {
    "openai": (
        "gpt-4", "gpt-4-32k", "gpt-4-turbo",
        "gpt-3.5-turbo", "gpt-3.5-turbo-0125", "gpt-3.5-turbo-1106",
        "gpt-3.5-turbo-16k", "gpt-3.5-turbo-instruct",
        "gpt-4o", "gpt-4o-mini",
        "o1", "o1-mini", "o1-pro", "o3", "o3-mini", "o3-pro", "o4-mini",
        "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano",
        "text-embedding-ada-002", "text-embedding-3-small", "text-embedding-3-large",
        "davinci-002", "babbage-002",
    ),
    "anthropic": (
        "claude-3-haiku", "claude-3-sonnet", "claude-3-opus",
        "claude-3-5-haiku", "claude-3-5-sonnet", "claude-3-7-sonnet",
        "claude-sonnet-4", "claude-opus-4", "claude-opus-4-1",
        "claude-2.0", "claude-2.1", "claude-instant-1.2",
        # -latest pointers only older SDKs name (anthropic 0.40 still lists these two)
        "claude-3-5-sonnet-latest", "claude-3-opus-latest",
    ),
}
# fmt: on

# litellm `litellm_provider` values that are first-party for each provider.
LITELLM_PROVIDERS: dict[str, frozenset[str]] = {
    "openai": frozenset({"openai", "text-completion-openai"}),
    "anthropic": frozenset({"anthropic"}),
}
# litellm providers whose keys are mined for dated Anthropic snapshot *names* only.
LITELLM_ANTHROPIC_HOSTS = frozenset({"bedrock", "bedrock_converse", "vertex_ai-anthropic_models"})

# Output fields in the order they are written.
FIELDS: dict[str, tuple[str, ...]] = {
    "openai": ("input", "output", "cached_input", "cache_write", "cache_write_12h"),
    "anthropic": ("input", "output", "cached_input", "cache_write_5m", "cache_write_1h"),
}
CACHE_WRITE = {"openai": "cache_write", "anthropic": "cache_write_5m"}

GENAI_FIELDS = {  # genai-prices ModelPrice attribute -> output field ("@" = provider's cache write)
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_read_mtok": "cached_input",
    "cache_write_mtok": "@",
    "cache_write_1h_mtok": "cache_write_1h",
}
GENAI_IGNORED = frozenset({"web_searches_kcount", "storage_searches_kcount"})  # per-call tool fees

LITELLM_FIELDS = {  # litellm cost key stem -> output field
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cached_input",
    "cache_creation_input_token_cost": "@",
    "cache_creation_input_token_cost_above_1hr": "cache_write_1h",
    "cache_creation_input_token_cost_above_12hr": "cache_write_12h",
}
# Service tiers: per-model rate sections named by the tier string the provider reports
# (OpenAI `service_tier`; Anthropic `speed: fast`), written in this order.
SERVICE_TIERS = ("flex", "priority", "fast", "ultrafast")
GENAI_TIER_CONDITIONS = {  # genai-prices PriceVariant `when` key -> provider whose tiers it names
    "openai": "service_tier",
    "anthropic": "speed",
}
GENAI_STANDARD_TIERS = frozenset({"default", "standard"})  # empty variants: the standard price
# litellm's cost code (litellm_core_utils/llm_cost_calc/utils.py, _SERVICE_TIER_TO_COST_KEY_SUFFIX)
# bills OpenAI `service_tier="fast"` at the `_priority` keys; it has no `_fast` keys.
LITELLM_TIER_ALIASES = {"openai": {"fast": "priority"}, "anthropic": {}}

LITELLM_KEY = re.compile(
    r"^(?P<stem>" + "|".join(sorted(map(re.escape, LITELLM_FIELDS), key=len, reverse=True)) + r")"
    r"(?:_above_(?P<k>\d+)k_tokens)?(?:(?P<batch>_batches)|_(?P<tier>flex|priority|ultrafast))?$"
)
LITELLM_TIER_WORD = re.compile(r"_(flex|priority|ultrafast|balanced)(_|$)")  # to list tier keys not carried
LITELLM_MODALITY = re.compile(r"(audio|image)_token")  # per-token rates we do not carry over
# litellm's regional multipliers (its cost code multiplies the whole call's cost by them):
# Anthropic `provider_specific_entry: {us: 1.1, fast: 2}` (keyed by `usage.inference_geo`; "fast" is
# the `speed: fast` multiplier) and OpenAI `regional_processing_uplift_multiplier_<region>` (data
# residency, keyed by the regional host: eu.api.openai.com -> "eu").
LITELLM_REGIONAL = re.compile(r"^regional_processing_uplift_multiplier_(?P<region>[a-z]+)$")
LITELLM_SPEED_MULTIPLIERS = frozenset({"fast"})

FINE_TUNE = "ft:"  # OpenAI's fine-tuned model ids: ft:<base model>:<org>:<name>:<id>

Flat = dict[str, Decimal]  # "input", "batch.output", "long_context.threshold", "flex.input", "geo.us", ...


# --------------------------------------------------------------------------- ids


def base_id(provider: str, model_id: str) -> str:
    """The undated name a snapshot id belongs to (`gpt-4o-2024-08-06` -> `gpt-4o`)."""
    if provider == "openai":
        return re.sub(r"-(\d{4}-\d{2}-\d{2}|\d{4})$", "", model_id)
    name = re.sub(r"-(\d{8}|latest)$", "", model_id)
    return re.sub(r"^(claude-[a-z]+-\d+)-0$", r"\1", name)  # claude-opus-4-0 -> claude-opus-4


def literal_strings(tp: Any) -> list[str]:
    """All string literals inside a (possibly nested) Literal/Union type alias."""
    out: list[str] = []
    for arg in typing.get_args(tp):
        if isinstance(arg, str):
            out.append(arg)
        else:
            out.extend(literal_strings(arg))
    return out


@dataclass
class SdkModels:
    """What the installed SDKs say: model ids and announced shutdown dates, per provider."""

    ids: dict[str, list[str]]
    shutdown: dict[str, dict[str, str]]  # provider -> model id -> ISO date


def sdk_versions() -> dict[str, str]:
    """The installed SDKs' versions ("not installed" for a missing one)."""
    from importlib import metadata
    out = {}
    for p in PROVIDERS:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def sdk_models() -> SdkModels:
    """Model ids named by the installed openai/anthropic SDKs (none if not importable)."""
    ids: dict[str, list[str]] = {p: [] for p in PROVIDERS}
    shutdown: dict[str, dict[str, str]] = {p: {} for p in PROVIDERS}
    try:
        from openai.types import embedding_model
        from openai.types.shared import chat_model, responses_model
    except ImportError:
        print("warning: openai SDK not importable; its model ids are not covered", file=sys.stderr)
    else:
        for tp in (chat_model.ChatModel, responses_model.ResponsesModel, embedding_model.EmbeddingModel):
            ids["openai"].extend(literal_strings(tp))
        shutdown["openai"] = _openai_shutdown_dates(Path(chat_model.__file__).read_text())
    try:
        from anthropic.types.model import Model
    except ImportError:
        print("warning: anthropic SDK not importable; its model ids are not covered", file=sys.stderr)
    else:
        ids["anthropic"].extend(literal_strings(Model))
        shutdown["anthropic"] = _anthropic_shutdown_dates()
        ids["anthropic"].extend(shutdown["anthropic"])
    return SdkModels({p: sorted(set(v)) for p, v in ids.items()}, shutdown)


def _openai_shutdown_dates(source: str) -> dict[str, str]:
    """Parse the "Deprecated values:" docstring under `ChatModel` (openai has no runtime table).

    Bullets look like: - "gpt-4", "gpt-4-0613": Announced shutdown date: 2026-10-23. See ...
    """
    block = source.partition("Deprecated values:")[2]
    dates: dict[str, str] = {}
    for bullet in re.split(r"\n- ", block):
        match = re.search(r"Announced shutdown\s+date:\s*(\d{4}-\d{2}-\d{2})", bullet)
        if match:
            names = bullet.partition(": Announced")[0]
            dates.update({name: match[1] for name in re.findall(r'"([^"]+)"', names)})
    return dates


def _anthropic_shutdown_dates() -> dict[str, str]:
    """anthropic's DEPRECATED_MODELS ({"claude-2.1": "July 21st, 2025"}) with ISO dates."""
    try:
        from anthropic.resources.messages.messages import DEPRECATED_MODELS
    except ImportError:
        return {}
    dates: dict[str, str] = {}
    for model_id, text in DEPRECATED_MODELS.items():
        plain = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", str(text))
        try:
            dates[model_id] = dt.datetime.strptime(plain, "%B %d, %Y").date().isoformat()
        except ValueError:
            print(f"warning: cannot parse end-of-life date {text!r} for {model_id}", file=sys.stderr)
    return dates


def snapshot_names(provider: str, genai_provider: Any, litellm_data: dict[str, Any], sdk_ids: set[str]) -> set[str]:
    """Candidate snapshot ids the sources mention (names only; prices come from lookups).

    Names mined from Bedrock/Vertex keys are dropped for a base whose dated snapshots the
    SDK already names: the SDK is authoritative there (litellm has a Bedrock key for a
    `claude-3-7-sonnet-20240620` that the SDK does not know).
    """
    names = set(_genai_equals(genai_provider))
    sdk_dated_bases = {base_id(provider, i) for i in sdk_ids if base_id(provider, i) != i}
    for key, entry in litellm_data.items():
        if not isinstance(entry, dict):
            continue
        host = entry.get("litellm_provider")
        if host in LITELLM_PROVIDERS[provider]:
            names.add(key)
        elif provider == "anthropic" and host in LITELLM_ANTHROPIC_HOSTS:
            name = _first_party_anthropic_name(key)
            if base_id(provider, name) not in sdk_dated_bases:
                names.add(name)
    return names


def _genai_equals(genai_provider: Any) -> Iterator[str]:
    def walk(clause: Any) -> Iterator[str]:
        if hasattr(clause, "equals"):
            yield clause.equals
        for sub in getattr(clause, "or_", None) or getattr(clause, "and_", None) or ():
            yield from walk(sub)

    for model in genai_provider.models:
        yield from walk(model.match)


def _first_party_anthropic_name(key: str) -> str:
    """`us.anthropic.claude-3-haiku-20240307-v1:0` / `vertex_ai/claude-3-haiku@20240307` -> first-party id."""
    name = key.rsplit("/", 1)[-1]
    name = re.sub(r"^(?:[a-z]+\.)?anthropic\.", "", name)
    name = re.sub(r"-v\d+(?::\d+)?$", "", name)
    return re.sub(r"@(\d{8})$", r"-\1", name)


# ------------------------------------------------------------------ number utils


def per_million(per_token: float) -> Decimal:
    """Exact per-1M rate from litellm's per-token float: 7.5e-08 -> 0.075."""
    return _clean(Decimal(repr(per_token)) * 1_000_000)


def _clean(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent form (10, not 1E+1)."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral() else value


# ------------------------------------------------------------- source: litellm


@dataclass
class SourceHit:
    """What one source says about one model id."""

    model_id: str
    prices: Flat
    deprecated: str | bool | None = None
    matched_as: str | None = None  # the source's own name for the model, if different
    dropped: tuple[str, ...] = ()  # rates present in the source but not representable here
    fast_mode: bool = False  # litellm: the model takes Anthropic's `speed: fast`


def litellm_lookup(provider: str, model_id: str, data: dict[str, Any]) -> SourceHit | None:
    entry = data.get(model_id)
    if not isinstance(entry, dict) or entry.get("litellm_provider") not in LITELLM_PROVIDERS[provider]:
        return None
    prices = litellm_prices(provider, entry)
    if "input" not in prices:
        return None
    dropped = tuple(sorted(k for k, v in entry.items() if v and (
        LITELLM_MODALITY.search(k) or (LITELLM_TIER_WORD.search(k) and not _carried(provider, k)))))
    fast_mode = bool(entry.get("supports_fast_mode") or entry.get("supports_speed"))
    return SourceHit(model_id, prices, entry.get("deprecation_date"), dropped=dropped, fast_mode=fast_mode)


def _carried(provider: str, key: str) -> bool:
    """Whether a litellm rate key lands in the tables (not a batch long-context or unknown field)."""
    match = LITELLM_KEY.match(key)
    return bool(match and not (match["k"] and match["batch"])
                and _field_name(provider, LITELLM_FIELDS[match["stem"]]) in FIELDS[provider])


def litellm_prices(provider: str, entry: dict[str, Any]) -> Flat:
    """Flatten one litellm entry: standard, batch, long-context and service-tier rates
    (``flex.input``, ``flex.long_context.input``...), and its multipliers (``geo.us``,
    ``fast.multiplier``), carried as litellm gives them."""
    flat: Flat = {}
    allowed = set(FIELDS[provider])
    for key, value in entry.items():
        match = LITELLM_KEY.match(key)
        if not match or not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        name = _field_name(provider, LITELLM_FIELDS[match["stem"]])
        if name not in allowed or (match["k"] and match["batch"]):
            continue  # batch long-context rates are not represented
        prefix = f"{match['tier']}." if match["tier"] else ""
        if match["k"]:
            flat[f"{prefix}long_context.threshold"] = Decimal(int(match["k"]) * 1000)
            flat[f"{prefix}long_context.{name}"] = per_million(value)
        elif match["batch"]:
            flat[f"batch.{name}"] = per_million(value)
        else:
            flat[f"{prefix}{name}"] = per_million(value)
    for alias, tier in LITELLM_TIER_ALIASES[provider].items():
        flat.update({f"{alias}.{k.split('.', 1)[1]}": v for k, v in list(flat.items()) if k.startswith(f"{tier}.")})
    flat.update(litellm_multipliers(entry))
    return flat


def litellm_multipliers(entry: dict[str, Any]) -> Flat:
    """``geo.<region>`` and ``<speed>.multiplier`` from litellm's multiplier fields (1 = none)."""
    flat: Flat = {}
    specific = entry.get("provider_specific_entry")
    for key, value in (specific.items() if isinstance(specific, dict) else ()):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            name = f"{key}.multiplier" if key in LITELLM_SPEED_MULTIPLIERS else f"geo.{key.lower()}"
            flat[name] = _clean(Decimal(repr(value)))
    for key, value in entry.items():
        match = LITELLM_REGIONAL.match(key)
        if match and isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            flat[f"geo.{match['region']}"] = _clean(Decimal(repr(value)))
    return {k: v for k, v in flat.items() if v != 1}


def _field_name(provider: str, name: str) -> str:
    return CACHE_WRITE[provider] if name == "@" else name


# --------------------------------------------------------- source: genai-prices


def genai_lookup(provider: str, model_id: str, genai_provider: Any, when: dt.datetime) -> SourceHit | None:
    model = genai_provider.find_model(model_id)
    if model is None:
        return None
    standard = model.get_prices(when)
    prices, dropped = genai_prices(provider, standard)
    if "input" not in prices:
        return None
    prices.update(genai_batch(provider, model, when, prices))
    tiers, unknown = genai_tiers(provider, model, when)
    prices.update(tiers)
    matched_as = None if model.id == model_id else model.id
    return SourceHit(model_id, prices, True if model.deprecated else None, matched_as,
                     tuple(sorted({*dropped, *unknown})))


def genai_prices(provider: str, model_price: Any) -> tuple[Flat, tuple[str, ...]]:
    """Flatten a genai-prices ModelPrice; tiered prices become the long-context tier."""
    flat: Flat = {}
    dropped: list[str] = []
    allowed = set(FIELDS[provider])
    for attr, value in vars(model_price).items():
        if value is None or attr.startswith("_") or attr in GENAI_IGNORED:
            continue
        name = _field_name(provider, GENAI_FIELDS.get(attr, ""))
        if name not in allowed:
            dropped.append(attr)
            continue
        tiers = getattr(value, "tiers", None)
        if tiers is None:
            flat[name] = _clean(value)
            continue
        flat[name] = _clean(value.base)
        if len(tiers) > 1:
            print(f"warning: {attr} has {len(tiers)} tiers; only the first is kept", file=sys.stderr)
        flat["long_context.threshold"] = Decimal(tiers[0].start)
        flat[f"long_context.{name}"] = _clean(tiers[0].price)
    return flat, tuple(sorted(dropped))


def genai_batch(provider: str, model: Any, when: dt.datetime, standard: Flat) -> Flat:
    """Batch rates from an active `processing: batch` price variant (base rates only)."""
    for variant in model.price_variants or ():
        if variant.when != {"processing": "batch"}:
            continue
        if variant.constraint is not None and not variant.constraint.active(when):
            continue
        rates, _ = genai_prices(provider, variant.prices)
        base = {k: v for k, v in rates.items() if "." not in k}
        if not base:  # an empty variant says "batch costs the same as standard"
            base = {k: standard[k] for k in ("input", "output") if k in standard}
        return {f"batch.{k}": v for k, v in base.items()}
    return {}


def genai_tiers(provider: str, model: Any, when: dt.datetime) -> tuple[Flat, list[str]]:
    """Service-tier rates (``flex.input``, ``flex.long_context.input``...) from the active
    ``service_tier`` (OpenAI) / ``speed`` (Anthropic) price variants, and the variant
    conditions not carried over. genai-prices resolves variants first to last, key by key, a
    key a variant does not name keeping the standard price: so does the loader, for a tier
    section's unnamed rates."""
    condition = GENAI_TIER_CONDITIONS[provider]
    flat: Flat = {}
    unknown: list[str] = []
    for variant in model.price_variants or ():
        if variant.when == {"processing": "batch"}:
            continue  # genai_batch
        if variant.constraint is not None and not variant.constraint.active(when):
            continue
        tier = variant.when.get(condition) if len(variant.when) == 1 else None
        if tier in GENAI_STANDARD_TIERS:
            continue
        if tier not in SERVICE_TIERS:
            unknown.append("price variant " + ", ".join(f"{k}={v}" for k, v in sorted(variant.when.items())))
            continue
        rates, _ = genai_prices(provider, variant.prices)
        for name, value in rates.items():
            flat.setdefault(f"{tier}.{name}", value)  # the first active variant wins, key by key
    return flat, unknown


# ---------------------------------------------------------------------- merge


@dataclass
class PricedId:
    """One model id with both sources' views and the merged result."""

    model_id: str
    genai: SourceHit | None
    litellm: SourceHit | None
    merged: Flat = field(default_factory=dict)
    sdk_shutdown: str | None = None  # the SDK's announced shutdown / end-of-life date

    @property
    def sources(self) -> list[str]:
        return [name for name, hit in ((GENAI, self.genai), (LITELLM, self.litellm)) if hit]

    @property
    def deprecated(self) -> str | bool | None:
        """The SDK's shutdown date (the provider's word), else litellm's, else genai-prices' flag."""
        litellm_date = self.litellm.deprecated if self.litellm else None
        genai_flag = True if self.genai and self.genai.deprecated else None
        return self.sdk_shutdown or litellm_date or genai_flag


def merge(genai: SourceHit | None, litellm: SourceHit | None) -> Flat:
    """genai-prices over litellm, field by field.

    The long-context tier is part of a model's price structure, so it is not mixed:
    when genai-prices prices the model, its tier (or its lack of one) stands, and
    litellm's tier is used only for models genai-prices does not price. The same holds
    inside a service tier: when genai-prices has rates for the tier, its long-context
    rates for it (or their lack) stand, and a litellm multiplier for the tier is not used.
    """
    if genai is None:
        return dict(litellm.prices) if litellm else {}
    genai_tiers = {k.split(".", 1)[0] for k in genai.prices if k.split(".", 1)[0] in SERVICE_TIERS}
    lite = {k: v for k, v in (litellm.prices if litellm else {}).items() if not _whole_from_genai(k, genai_tiers)}
    return {**lite, **genai.prices}


def _whole_from_genai(key: str, genai_tiers: set[str]) -> bool:
    parts = key.split(".")
    if parts[0] == "long_context":
        return True
    return parts[0] in genai_tiers and parts[1] in ("long_context", "multiplier")


@dataclass
class Disagreement:
    model: str
    field: str
    genai: Decimal
    litellm: Decimal
    ids: list[str]


def disagreements(entry_key: str, priced: Iterable[PricedId]) -> list[Disagreement]:
    rows: dict[tuple[str, Decimal, Decimal], Disagreement] = {}
    for item in priced:
        if not (item.genai and item.litellm):
            continue
        for name, g_value in item.genai.prices.items():
            l_value = item.litellm.prices.get(name)
            if l_value is None or l_value == g_value:
                continue
            row = rows.setdefault((name, g_value, l_value), Disagreement(entry_key, name, g_value, l_value, []))
            row.ids.append(item.model_id)
    return sorted(rows.values(), key=lambda r: r.field)


# -------------------------------------------------------------------- entries


@dataclass
class Entry:
    key: str
    main: PricedId
    aliases: list[PricedId] = field(default_factory=list)

    @property
    def members(self) -> list[PricedId]:
        return [self.main, *self.aliases]

    @property
    def sources(self) -> list[str]:
        return [s for s in (GENAI, LITELLM) if any(s in m.sources for m in self.members)]

    @property
    def deprecated(self) -> str | bool | None:
        """The key's own date, else the date every alias shares (all snapshots retire then;
        a ``-latest`` pointer without a date of its own follows the model it points to)."""
        if self.main.deprecated:
            return self.main.deprecated
        dates = {a.deprecated for a in self.aliases if a.deprecated or not a.model_id.endswith("-latest")}
        return dates.pop() if len(dates) == 1 and None not in dates else None


@dataclass
class ProviderTable:
    provider: str
    entries: list[Entry]
    unpriced_sdk: list[str]
    unpriced_legacy: list[str]

    @property
    def disagreements(self) -> list[Disagreement]:
        return [row for e in self.entries for row in disagreements(e.key, e.members)]


def build_table(
    provider: str,
    sdk: SdkModels,
    genai_provider: Any,
    litellm_data: dict[str, Any],
    when: dt.datetime,
    previous: Listing | None = None,
) -> ProviderTable:
    """``previous``: what the tables listed before. Its ids stay (an SDK release that stops
    naming a model does not stop apps from sending it) and so do its shutdown dates, unless
    the installed SDK announces another."""
    previous = previous or Listing()
    sdk_ids = sdk.ids[provider]
    named = set(sdk_ids) | set(LEGACY_IDS[provider]) | previous.ids
    bases = {base_id(provider, i) for i in named}
    # Ids the tables list already count as the SDK's own here (their dated snapshots are known).
    mentioned = snapshot_names(provider, genai_provider, litellm_data, set(sdk_ids) | previous.ids)
    # Fine-tuned models of the models covered (`ft:gpt-4o-mini-2024-07-18`): their own entries.
    tuned = {n for n in mentioned if n.startswith(FINE_TUNE) and base_id(provider, n[len(FINE_TUNE):]) in bases}
    bases |= {base_id(provider, n) for n in tuned}
    candidates = named | bases | {n for n in mentioned if base_id(provider, n) in bases}
    priced: dict[str, PricedId] = {}
    for model_id in sorted(candidates):
        hit_g = genai_lookup(provider, model_id, genai_provider, when)
        hit_l = litellm_lookup(provider, model_id, litellm_data)
        if hit_g or hit_l:
            shutdown = sdk.shutdown[provider].get(model_id) or previous.shutdown.get(model_id)
            priced[model_id] = PricedId(model_id, hit_g, hit_l, merge(hit_g, hit_l), shutdown)
    return ProviderTable(
        provider=provider,
        entries=group_entries(provider, bases, priced),
        unpriced_sdk=sorted(i for i in set(sdk_ids) | previous.unpriced if i not in priced),
        unpriced_legacy=sorted(i for i in LEGACY_IDS[provider]
                               if i not in priced and i not in sdk_ids and i not in previous.unpriced),
    )


def group_entries(provider: str, bases: set[str], priced: dict[str, PricedId]) -> list[Entry]:
    """One entry per base name; snapshots with the same merged price become its aliases."""
    entries: list[Entry] = []
    for base in sorted(bases):
        root = Entry(base, priced[base]) if base in priced else None
        for model_id in sorted(i for i in priced if base_id(provider, i) == base and i != base):
            if root and same_price(root.main, priced[model_id]):
                root.aliases.append(priced[model_id])
            else:  # a different price (or an unpriced base): its own entry
                entries.append(Entry(model_id, priced[model_id]))
        if root:
            entries.append(root)
    return sorted(entries, key=lambda e: e.key)


def same_price(root: PricedId, snapshot: PricedId) -> bool:
    """Whether a snapshot is priced exactly as its base entry, so it can be its alias.

    A snapshot only one source prices (a ``-latest`` pointer, an id genai-prices matches by
    rule) lacks what the other source fills in for the model (e.g. litellm's regional
    multipliers): it is still the same price when every field it has agrees and every field
    it lacks comes from the source that does not price it."""
    if snapshot.merged == root.merged:
        return True
    if snapshot.genai and snapshot.litellm:
        return False
    if any(root.merged.get(k) != v for k, v in snapshot.merged.items()):
        return False
    absent, present = (root.litellm, root.genai) if snapshot.genai else (root.genai, root.litellm)
    filled = (absent.prices.keys() if absent else set()) - (present.prices.keys() if present else set())
    return root.merged.keys() - snapshot.merged.keys() <= filled


# ----------------------------------------------------------------------- YAML


class _Flow(dict):  # type: ignore[type-arg]
    """A mapping written in flow style: {input: 1.25, output: 5}."""


class _FlowList(list):  # type: ignore[type-arg]
    """A sequence written in flow style: [a, b]."""


class _Quoted(str):
    """A string always written in double quotes ("2026-11-23", "1.109.1")."""


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # equal Decimals must not become &id001 anchors


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    text = format(value, "f")
    tag = "tag:yaml.org,2002:float" if "." in text else "tag:yaml.org,2002:int"
    return dumper.represent_scalar(tag, text)


_Dumper.add_representer(Decimal, _represent_decimal)
_Dumper.add_representer(_Quoted, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style='"'))
_Dumper.add_representer(_Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True))
_Dumper.add_representer(_FlowList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))

DEFAULT_OVERRIDES = """overrides:
  # Hand-reviewed corrections/additions. The loader merges each entry over `models:`
  # (same fields, plus `reason:`). sync_pricing.py keeps this section verbatim.
"""


def unflatten(provider: str, flat: Flat) -> dict[str, Any]:
    """Flat dotted fields -> the YAML layout, fields in a stable order."""
    out: dict[str, Any] = {name: flat[name] for name in FIELDS[provider] if name in flat}
    batch = {name: flat[f"batch.{name}"] for name in FIELDS[provider] if f"batch.{name}" in flat}
    if batch:
        out["batch"] = _Flow(batch)
    if "long_context.threshold" in flat:
        tier: dict[str, int | Decimal] = {"threshold": int(flat["long_context.threshold"])}
        tier.update({n: flat[f"long_context.{n}"] for n in FIELDS[provider] if f"long_context.{n}" in flat})
        out["long_context"] = _Flow(tier)
    for name in SERVICE_TIERS:
        section = service_tier_yaml(provider, flat, name)
        if section:
            out[name] = section
    geo = {k.split(".", 1)[1]: v for k, v in sorted(flat.items()) if k.startswith("geo.")}
    if geo:
        out["geo"] = _Flow(geo)
    return out


def service_tier_yaml(provider: str, flat: Flat, name: str) -> _Flow | None:
    """One service tier: its rates and, when it has its own, its long-context rates (their
    threshold only when it is not the model's); or a source's multiplier of every rate."""
    section: dict[str, Any] = {n: flat[f"{name}.{n}"] for n in FIELDS[provider] if f"{name}.{n}" in flat}
    lc = {n: flat[f"{name}.long_context.{n}"] for n in FIELDS[provider] if f"{name}.long_context.{n}" in flat}
    if lc:
        threshold = flat.get(f"{name}.long_context.threshold")
        if threshold is not None and threshold != flat.get("long_context.threshold"):
            lc = {"threshold": int(threshold), **lc}
        section["long_context"] = _Flow(lc)
    if not section and f"{name}.multiplier" in flat:
        section["multiplier"] = flat[f"{name}.multiplier"]
    return _Flow(section) if section else None


def entry_yaml(provider: str, entry: Entry, date: str, versions: dict[str, str]) -> dict[str, Any]:
    out = unflatten(provider, entry.main.merged)
    if entry.aliases:
        out["aliases"] = _FlowList(sorted(a.model_id for a in entry.aliases))
    out["checked"] = _Flow(date=_Quoted(date), by=_FlowList(f"{s} {versions[s]}" for s in entry.sources))
    deprecated = entry.deprecated
    if deprecated:
        out["deprecated"] = _Quoted(deprecated) if isinstance(deprecated, str) else deprecated
    return out


def render_yaml(table: ProviderTable, date: str, versions: dict[str, str], overrides: str) -> str:
    header = (
        f"# Generated by scripts/sync_pricing.py from {GENAI} {versions[GENAI]} and "
        f"{LITELLM} {versions[LITELLM]} on {date}.\n"
        "# Rates are USD per 1M tokens. Edit only the `overrides:` section by hand.\n"
        "# Sources, precedence and disagreements: pricing/SOURCES.md.\n"
    )
    doc = {
        "schema": 1,
        "provider": table.provider,
        "unit": "usd_per_1m_tokens",
        "sources": _Flow({GENAI: _Quoted(versions[GENAI]), LITELLM: _Quoted(versions[LITELLM])}),
        "models": {e.key: entry_yaml(table.provider, e, date, versions) for e in table.entries},
    }
    body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=200, allow_unicode=True)
    return header + body + overrides


@dataclass
class Listing:
    """The model ids a generated table lists (entries and aliases) and its shutdown dates."""

    ids: set[str] = field(default_factory=set)
    shutdown: dict[str, str] = field(default_factory=dict)
    unpriced: set[str] = field(default_factory=set)   # SDK ids SOURCES.md listed as priced by neither source


def existing_listing(path: Path, sources: Path | None = None) -> Listing:
    """What an existing table lists under `models:`, and (``sources``: its SOURCES.md) the
    SDK ids it listed as unpriced; empty when there is none yet."""
    out = Listing()
    if sources is not None and sources.exists():
        section = sources.read_text().split(_UNPRICED_HEADING, 1)[-1].split("\n## ", 1)[0]
        for line in section.splitlines():
            if line.startswith(f"- {path.stem}:"):
                out.unpriced.update(re.findall(r"`([^`]+)`", line))
    if not path.exists():
        return out
    models = (yaml.safe_load(path.read_text()) or {}).get("models") or {}
    for key, entry in models.items():
        out.ids.add(key)
        out.ids.update((entry or {}).get("aliases") or ())
        date = (entry or {}).get("deprecated")
        if isinstance(date, str):
            out.shutdown[key] = date
    return out


def existing_overrides(path: Path) -> str:
    """The `overrides:` section of an existing file, verbatim (or the default block)."""
    if not path.exists():
        return DEFAULT_OVERRIDES
    lines = path.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("overrides:"):
            return "".join(lines[i:])
    return DEFAULT_OVERRIDES


def parsed_overrides(text: str) -> dict[str, Any]:
    section = yaml.safe_load(text) or {}
    overrides = section.get("overrides") or {}
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise SystemExit("error: `overrides:` must map model ids to mappings of fields")
    return overrides


# ----------------------------------------------------------------- SOURCES.md


def render_sources(
    tables: list[ProviderTable], overrides: dict[str, dict[str, Any]], date: str, versions: dict[str, str]
) -> str:
    sections = [
        _intro(date, versions),
        _summary_section(tables),
        _disagreement_section(tables, overrides),
        _one_sided_section(tables, overrides),
        _deprecation_section(tables),
        _unpriced_section(tables),
        _cross_match_section(tables),
        _tiers_section(tables),
        _fine_tune_section(tables),
        _dropped_section(tables),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def _intro(date: str, versions: dict[str, str]) -> list[str]:
    sdks = ", ".join(f"{p} {v}" for p, v in sdk_versions().items())
    return [
        "# Price sources",
        "",
        f"Generated by `scripts/sync_pricing.py` on {date} from **{GENAI} {versions[GENAI]}** "
        f"(bundled data snapshot) and **{LITELLM} {versions[LITELLM]}** (`{LITELLM_JSON}`). "
        "Do not edit by hand; rerun the script.",
        "",
        f"Model ids: those the installed SDKs name ({sdks}), the legacy ids the script lists, "
        "and every id these tables listed before (with its shutdown date, unless the SDK announces another).",
        "",
        f"**Precedence:** {PRECEDENCE}",
        "",
        "All rates are USD per 1M tokens. Only text-token rates are carried over (see the last section).",
    ]


def _summary_section(tables: list[ProviderTable]) -> list[str]:
    lines = [
        "## Summary",
        "",
        "| provider | entries | aliases | both sources | genai-prices only | litellm only "
        "| disagreements | unpriced SDK ids |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in tables:
        c = _counts(t)
        lines.append(
            f"| {t.provider} | {c['entries']} | {c['aliases']} | {c['both']} | {c['genai_only']} | "
            f"{c['litellm_only']} | {c['disagreements']} | {len(t.unpriced_sdk)} |"
        )
    return lines


def _disagreement_section(tables: list[ProviderTable], overrides: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "## Disagreements",
        "",
        "Every field both sources give for the same id, where the values differ. "
        "`used` is what the generated table plus `overrides:` says.",
        "",
    ]
    rows = [(t.provider, row) for t in tables for row in t.disagreements]
    if not rows:
        return lines + ["None: the two sources agree on every field both give."]
    lines += ["| provider | model | field | genai-prices | litellm | used | why |", "|---|---|---|---|---|---|---|"]
    for provider, row in rows:
        used, why = _resolution(row, overrides.get(provider, {}))
        others = [f"`{i}`" for i in row.ids if i != row.model]
        model = f"`{row.model}`" + (f" (also {', '.join(others)})" if others else "")
        lines.append(
            f"| {provider} | {model} | {row.field} | {_num(row.genai)} | {_num(row.litellm)} | {used} | {why} |"
        )
    return lines


def _one_sided_section(tables: list[ProviderTable], overrides: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "## Fields only one source gives",
        "",
        "For ids both sources price: fields only one of them has (multipliers are in the next section). "
        "They are filled in from that source, except a litellm-only long-context tier, of the model or "
        "of a service tier genai-prices prices (genai-prices decides whether there is a tier): "
        "those are listed as not used.",
        "",
        "| provider | model | genai-prices only | litellm only | not used | overridden (see `reason:` in the YAML) |",
        "|---|---|---|---|---|---|",
    ]
    for t in tables:
        for entry in t.entries:
            g_only, l_only = _one_sided(entry)
            if g_only or l_only:
                unused = _collapse_tier({f for f in _one_sided(entry, collapse=False)[1]
                                         if f not in entry.main.merged}, entry.main.merged)
                note = _override_note(overrides.get(t.provider, {}).get(entry.key), g_only | l_only)
                lines.append(
                    f"| {t.provider} | `{entry.key}` | {', '.join(sorted(g_only))} "
                    f"| {', '.join(sorted(l_only))} | {', '.join(sorted(unused))} | {note} |"
                )
    return lines


def _tiers_section(tables: list[ProviderTable]) -> list[str]:
    lines = [
        "## Service tiers, fast mode and regional multipliers",
        "",
        "A model's `flex:`, `priority:`, `fast:` and `ultrafast:` sections are its rates for the tier "
        "the provider reports (OpenAI `service_tier`; Anthropic `speed: fast`), shaped like `batch:`; a "
        "rate a section does not name is the model's standard one (genai-prices resolves its price "
        "variants key by key the same way). A section's own `long_context:` holds its rates above the "
        "model's threshold; a section without one prices the whole call at its rates whatever the "
        "prompt size. genai-prices' tier rates come first, litellm fills the gaps field by field; a "
        "tier's long-context rates are not mixed (genai-prices' stand when it prices the tier). "
        "genai-prices names OpenAI's `fast` tier itself (the same rates as `priority`); litellm has no "
        "`_fast` keys and its cost code bills OpenAI `service_tier=\"fast\"` at its `_priority` rates, "
        "so those are read as its `fast` rates too. `geo:` holds litellm's regional multipliers of "
        "every rate: Anthropic's `provider_specific_entry` (keyed by `usage.inference_geo`, e.g. `us`) "
        "and OpenAI's `regional_processing_uplift_multiplier_<region>` (data residency, keyed by the "
        "regional host: `eu.api.openai.com` -> `eu`). genai-prices has no regional prices.",
        "",
        "| provider | tier | entries | genai-prices | litellm | both |",
        "|---|---|---|---|---|---|",
    ]
    for t in tables:
        for name in (*SERVICE_TIERS, "geo"):
            has = [e for e in t.entries if any(k.startswith(f"{name}.") for k in e.main.merged)]
            if not has:
                continue
            by = [_tier_sources(e.main, name) for e in has]
            lines.append(f"| {t.provider} | `{name}` | {len(has)} | {by.count(GENAI)} | {by.count(LITELLM)} "
                         f"| {by.count('both')} |")
    lines += ["", "Per entry (`+lc`: the tier has its own long-context rates; `xN`: a multiplier of every rate):",
              ""]
    for t in tables:
        for e in t.entries:
            parts = [_tier_label(e.main.merged, name) for name in SERVICE_TIERS
                     if any(k.startswith(f"{name}.") for k in e.main.merged)]
            geo = {k.split(".", 1)[1]: v for k, v in sorted(e.main.merged.items()) if k.startswith("geo.")}
            parts += [f"geo {region} x{_num(v)}" for region, v in geo.items()]
            if parts:
                lines.append(f"- {t.provider}: `{e.key}`: {', '.join(parts)}")
    lines += ["", "### Checks", ""]
    lines += _multiplier_checks(tables)
    flat = [(t.provider, e.key, [name for name in SERVICE_TIERS if f"{name}.input" in e.main.merged
                                 and f"{name}.long_context.input" not in e.main.merged])
            for t in tables for e in t.entries if "long_context.threshold" in e.main.merged]
    lines += ["", "Tiers with no long-context rates of their own on a model that has a long-context tier: the "
              "sources give only flat rates for them (genai-prices, e.g. for gpt-5.5-pro flex, says it does not "
              "model a long-context surcharge), so the whole call is priced at them whatever the prompt size "
              "(litellm's cost code would use the standard long-context rates above the threshold instead):", ""]
    lines += [f"- {p}: `{k}`: {', '.join(names)}" for p, k, names in flat if names] or ["- none"]
    lines += [
        "",
        "### Not covered",
        "",
        "- OpenAI `scale` and Anthropic `service_tier: priority`: neither source has per-token rates "
        "(both are capacity commitments); such calls are priced at the standard rates (`tier` None). "
        "An override file can add `scale:` / `priority:` rates.",
        "- A tier a model has no section for (e.g. `flex` on gpt-4o, fast mode on a model neither source "
        "prices it for) is priced at the standard rates. Anthropic models that support fast mode but have "
        "no fast rate in either source: " + _id_list(_speed_without_rates(tables)) + ".",
        "- Batch calls are priced at the `batch:` rates whatever tier is reported; batch long-context "
        "rates are not carried.",
        "- A regional multiplier for a region (or model) the sources do not list is 1.",
    ]
    return lines


def _tier_sources(item: PricedId, name: str) -> str:
    has = [s for s, hit in ((GENAI, item.genai), (LITELLM, item.litellm))
           if hit and any(k.startswith(f"{name}.") for k in hit.prices)]
    return "both" if len(has) == 2 else has[0] if has else "override"


def _tier_label(merged: Flat, name: str) -> str:
    if f"{name}.input" not in merged and f"{name}.multiplier" in merged:
        return f"{name} x{_num(merged[f'{name}.multiplier'])}"
    return name + (" +lc" if f"{name}.long_context.input" in merged else "")


def _multiplier_checks(tables: list[ProviderTable]) -> list[str]:
    """litellm's speed multipliers against genai-prices' rates for the same tier."""
    lines: list[str] = []
    for t in tables:
        for e in t.entries:
            m = e.main
            for name in SERVICE_TIERS:
                mult = m.litellm.prices.get(f"{name}.multiplier") if m.litellm else None
                rates = {k.split(".", 1)[1]: v for k, v in (m.genai.prices if m.genai else {}).items()
                         if k.startswith(f"{name}.") and k.count(".") == 1}
                if mult is None:
                    continue
                if not rates:
                    lines.append(f"- {t.provider}: `{e.key}`: `{name}` x{_num(mult)} from litellm only "
                                 "(carried as `multiplier:`)")
                    continue
                off = [f"{f}: genai-prices {_num(v)}, litellm {_num(m.merged[f])} x {_num(mult)}"
                       for f, v in sorted(rates.items()) if f in m.merged and v != m.merged[f] * mult]
                verdict = "disagree (" + "; ".join(off) + ")" if off else "agree on every rate"
                lines.append(f"- {t.provider}: `{e.key}`: litellm `{name}` x{_num(mult)}, genai-prices' "
                             f"`{name}` rates: {verdict}; genai-prices' rates are used")
    return lines or ["- No source gives a tier as a multiplier."]


def _speed_without_rates(tables: list[ProviderTable]) -> list[str]:
    out = []
    for t in tables:
        for e in t.entries:
            if any(m.litellm and m.litellm.fast_mode for m in e.members) and \
                    not any(k.startswith("fast.") for k in e.main.merged):
                out.append(e.key)
    return out


def _fine_tune_section(tables: list[ProviderTable]) -> list[str]:
    lines = [
        "## Fine-tuned models",
        "",
        "OpenAI bills inference on a fine-tuned model (`ft:<base>:<org>:<name>:<id>`) at its own rates. "
        "Entries keyed `ft:<base>` carry them: litellm's `ft:` keys and genai-prices' `ft:` match rules. "
        "At runtime an `ft:` id resolves to the `ft:` entry of its base (or of the base's snapshot or "
        "alias) first; without one it is priced at the base model's rates, with one warning per model id.",
        "",
    ]
    for t in tables:
        tuned = [e for e in t.entries if e.key.startswith(FINE_TUNE)]
        if tuned:
            lines += [f"- {t.provider}: " + ", ".join(
                f"`{e.key}`" + (f" (also {', '.join(f'`{a.model_id}`' for a in e.aliases)})" if e.aliases else "")
                + f" [{' + '.join(e.sources)}]" for e in tuned)]
    return lines


def _deprecation_section(tables: list[ProviderTable]) -> list[str]:
    lines = [
        "## Deprecation dates that differ",
        "",
        "`deprecated:` is the shutdown date the installed SDK announces (openai: the `ChatModel` "
        "docstring; anthropic: `DEPRECATED_MODELS`), else litellm's `deprecation_date`. "
        "Where both give one and they differ, the SDK's date is used:",
        "",
    ]
    conflicts = [(t.provider, m) for t in tables for e in t.entries for m in e.members if _date_conflict(m)]
    for provider, m in conflicts:
        litellm_date = m.litellm.deprecated if m.litellm else None
        lines.append(f"- {provider}: `{m.model_id}`: SDK {m.sdk_shutdown}, litellm {litellm_date}")
    return lines + ([] if conflicts else ["None."])


_UNPRICED_HEADING = "## Unpriced SDK model ids"


def _unpriced_section(tables: list[ProviderTable]) -> list[str]:
    lines = [_UNPRICED_HEADING, "", "Named by the installed SDKs (or listed here before), priced by neither source:",
             ""]
    lines += [f"- {t.provider}: {_id_list(t.unpriced_sdk)}" for t in tables]
    lines += ["", "## Legacy ids not priced by either source", ""]
    lines += [f"- {t.provider}: {_id_list(t.unpriced_legacy)}" for t in tables]
    return lines


def _cross_match_section(tables: list[ProviderTable]) -> list[str]:
    lines = [
        "## Ids genai-prices prices under another model",
        "",
        "genai-prices matches ids by rules; these ids resolved to a differently named genai-prices model "
        "(dated snapshots and `-latest` pointers of the same model are not listed).",
        "",
    ]
    for t in tables:
        lines += [f"- {t.provider}: `{i}` -> genai-prices `{g}`" for i, g in _cross_matches(t)]
    return lines


def _dropped_section(tables: list[ProviderTable]) -> list[str]:
    lines = [
        "## Rates not carried over",
        "",
        "Audio/image token rates, per-search and per-call fees, and batch long-context rates are not in "
        "these tables. Entries whose sources have such per-token rates:",
        "",
    ]
    for t in tables:
        lines += [f"- {t.provider}: `{key}`: {', '.join(names)}" for key, names in _dropped(t)]
    return lines


def _id_list(ids: list[str]) -> str:
    return ", ".join(f"`{i}`" for i in ids) or "none"


def _one_sided(entry: Entry, collapse: bool = True) -> tuple[set[str], set[str]]:
    """Fields only genai-prices / only litellm gives, over the entry's ids both sources price
    (multipliers left out: the tiers section reports them)."""
    g_only: set[str] = set()
    l_only: set[str] = set()
    for m in entry.members:
        if m.genai and m.litellm:
            g_only |= m.genai.prices.keys() - m.litellm.prices.keys()
            l_only |= m.litellm.prices.keys() - m.genai.prices.keys()
    g_only = {f for f in g_only if not _is_multiplier(f)}
    l_only = {f for f in l_only if not _is_multiplier(f)}
    if not collapse:
        return g_only, l_only
    return _collapse_tier(g_only, entry.main.merged), _collapse_tier(l_only, entry.main.merged)


def _is_multiplier(name: str) -> bool:
    return name.startswith("geo.") or name.endswith(".multiplier")


def _collapse_tier(fields: set[str], merged: Flat | None = None) -> set[str]:
    """`flex.*` -> `flex` when a whole service tier is one-sided, and `long_context.*` ->
    `long_context` (`flex.long_context.*` -> `flex.long_context`) when a whole long-context tier is."""
    out = set(fields)
    for name in SERVICE_TIERS:
        mine = {f for f in out if f.startswith(f"{name}.")}
        if mine and {k for k in (merged or {}) if k.startswith(f"{name}.")} <= mine and f"{name}.input" in mine:
            out = (out - mine) | {name}
    for prefix in ("", *(f"{name}." for name in SERVICE_TIERS)):
        if f"{prefix}long_context.threshold" in out:
            out = {f for f in out if not f.startswith(f"{prefix}long_context.")} | {f"{prefix}long_context"}
    return out


def _override_note(override: dict[str, Any] | None, fields: set[str]) -> str:
    """Which of these fields an override sets (its reason is in the YAML file)."""
    touched = sorted(f for f in fields if f in (override or {}) or _dig(override or {}, f) is not None)
    return ", ".join(f"{f}: {_dig(override or {}, f)}" for f in touched)


def _date_conflict(m: PricedId) -> bool:
    litellm_date = m.litellm.deprecated if m.litellm else None
    return bool(litellm_date and m.sdk_shutdown and litellm_date != m.sdk_shutdown)


def _counts(t: ProviderTable) -> dict[str, int]:
    mains = [e.main for e in t.entries]
    return {
        "entries": len(t.entries),
        "aliases": sum(len(e.aliases) for e in t.entries),
        "both": sum(1 for m in mains if m.genai and m.litellm),
        "genai_only": sum(1 for m in mains if m.genai and not m.litellm),
        "litellm_only": sum(1 for m in mains if m.litellm and not m.genai),
        "disagreements": len(t.disagreements),
    }


def _resolution(row: Disagreement, overrides: dict[str, Any]) -> tuple[str, str]:
    override = overrides.get(row.model, {})
    value = _dig(override, row.field)
    if value is not None:
        return f"override {value}", "hand-reviewed; see `reason:` under `overrides:`"
    if row.field.startswith("long_context."):
        return f"genai-prices {_num(row.genai)}", "precedence (the tier comes whole from genai-prices)"
    return f"genai-prices {_num(row.genai)}", "precedence"


def _dig(mapping: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(mapping, dict) or part not in mapping:
            return None
        mapping = mapping[part]
    return mapping


def _num(value: Decimal) -> str:
    return format(value, "f")


def _cross_matches(t: ProviderTable) -> Iterator[tuple[str, str]]:
    """(id, genai-prices model) where genai-prices priced the id under another model's name."""
    for entry in t.entries:
        for item in entry.members:
            other = item.genai.matched_as if item.genai else None
            if other and base_id(t.provider, other) != base_id(t.provider, item.model_id):
                yield item.model_id, other


def _dropped(t: ProviderTable) -> Iterator[tuple[str, list[str]]]:
    for entry in t.entries:
        names = sorted({d for m in entry.members for h in (m.genai, m.litellm) if h for d in h.dropped})
        if names:
            yield entry.key, names


# --------------------------------------------------------------------- wheels


def download_wheels(dest: Path, versions: dict[str, str]) -> None:
    """`pip download --no-deps` both wheels (litellm's JSON is the same in every platform wheel)."""
    specs = [f"genai-prices=={versions[GENAI]}", f"litellm=={versions[LITELLM]}"]
    base = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(dest)]
    if subprocess.run(base + specs).returncode == 0:
        return
    print("retrying with an explicit manylinux platform", file=sys.stderr)
    platform = ["--platform", "manylinux_2_28_x86_64", "--python-version", "3.11", "--implementation", "cp"]
    subprocess.run(base + platform + specs, check=True)


def find_wheel(wheel_dir: Path, dist: str, version: str) -> Path:
    found = sorted(wheel_dir.glob(f"{dist}-{version}-*.whl"))
    if not found:
        have = ", ".join(p.name for p in wheel_dir.glob(f"{dist}-*.whl")) or "none"
        raise SystemExit(f"error: no {dist} {version} wheel in {wheel_dir} (found: {have})")
    return found[0]


def load_litellm(wheel: Path) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as zf:
        return json.loads(zf.read(LITELLM_JSON))


def load_genai_providers(wheel: Path, unpack_to: Path) -> dict[str, Any]:
    """Import genai_prices from the unpacked wheel (not from site-packages) and return its providers."""
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(unpack_to)
    for name in [m for m in sys.modules if m == "genai_prices" or m.startswith("genai_prices.")]:
        del sys.modules[name]
    sys.path.insert(0, str(unpack_to))
    try:
        from genai_prices.data import providers
    except ImportError as exc:
        hint = "genai-prices needs Python >= 3.11, pydantic and httpx2"
        raise SystemExit(f"error: cannot import genai_prices from {wheel.name}: {exc} ({hint})") from exc
    finally:
        sys.path.remove(str(unpack_to))
    return {p.id: p for p in providers}


# ------------------------------------------------------------------------ CLI


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel-dir", type=Path, help="use wheels already in DIR instead of pip download")
    parser.add_argument("--genai-prices-version", default=GENAI_PRICES_VERSION)
    parser.add_argument("--litellm-version", default=LITELLM_VERSION)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: pricing/)")
    parser.add_argument("--date", help="date to record (default: today; with --check, the files' date)")
    parser.add_argument("--check", action="store_true", help="exit 1 if regenerating would change the files")
    return parser.parse_args(argv)


def recorded_date(out: Path) -> str | None:
    """The generation date written in an existing table's header."""
    for provider in PROVIDERS:
        path = out / f"{provider}.yaml"
        if path.exists():
            match = re.search(r" on (\d{4}-\d{2}-\d{2})\.", path.read_text().split("\n", 1)[0])
            if match:
                return match[1]
    return None


def generate(args: argparse.Namespace, work: Path) -> tuple[dict[Path, str], list[ProviderTable]]:
    versions = {GENAI: args.genai_prices_version, LITELLM: args.litellm_version}
    date = args.date or (args.check and recorded_date(args.out)) or dt.date.today().isoformat()
    when = dt.datetime.combine(dt.date.fromisoformat(date), dt.time(12), tzinfo=dt.timezone.utc)
    wheel_dir = args.wheel_dir
    if wheel_dir is None:
        wheel_dir = work / "wheels"
        download_wheels(wheel_dir, versions)
    genai = load_genai_providers(find_wheel(wheel_dir, "genai_prices", versions[GENAI]), work / "genai")
    litellm = load_litellm(find_wheel(wheel_dir, "litellm", versions[LITELLM]))
    sdk = sdk_models()

    files: dict[Path, str] = {}
    tables: list[ProviderTable] = []
    overrides: dict[str, dict[str, Any]] = {}
    for provider in PROVIDERS:
        path = args.out / f"{provider}.yaml"
        table = build_table(provider, sdk, genai[provider], litellm, when,
                            existing_listing(path, args.out / "SOURCES.md"))
        kept = existing_overrides(path)
        overrides[provider] = parsed_overrides(kept)
        text = render_yaml(table, date, versions, kept)
        yaml.safe_load(text)  # fail here, not in the loader, if the result is not valid YAML
        files[path] = text
        tables.append(table)
    files[args.out / "SOURCES.md"] = render_sources(tables, overrides, date, versions)
    return files, tables


def print_summary(tables: list[ProviderTable]) -> None:
    for t in tables:
        c = _counts(t)
        one_sided = sum(1 for e in t.entries if any(_one_sided(e)))
        print(
            f"{t.provider}: {c['entries']} entries, {c['aliases']} aliases "
            f"({c['both']} priced by both sources, {c['genai_only']} genai-prices only, "
            f"{c['litellm_only']} litellm only), {c['disagreements']} disagreements, "
            f"{one_sided} entries with fields from one source only, {len(t.unpriced_sdk)} unpriced SDK ids"
        )


def check(files: dict[Path, str]) -> int:
    stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
    for path in stale:
        old = path.read_text().splitlines() if path.exists() else []
        diff = list(difflib.unified_diff(old, files[path].splitlines(), str(path), "regenerated", lineterm=""))
        print("\n".join(diff[:40]) + ("\n..." if len(diff) > 40 else ""))
    print("price tables are up to date" if not stale else f"{len(stale)} file(s) would change")
    return 1 if stale else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sync_pricing-") as tmp:
        files, tables = generate(args, Path(tmp))
    print_summary(tables)
    if args.check:
        return check(files)
    args.out.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
