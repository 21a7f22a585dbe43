"""The generated price tables (pricing/*.yaml, pricing/SOURCES.md) are well formed and complete.

No network: these tests read the checked-in files and, where installed, introspect the
openai/anthropic SDKs. The generator's pure helpers are tested at the end.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PRICING = ROOT / "pricing"
PROVIDERS = ("openai", "anthropic")
RATE_FIELDS = {
    "openai": {"input", "output", "cached_input", "cache_write", "cache_write_12h"},
    "anthropic": {"input", "output", "cached_input", "cache_write_5m", "cache_write_1h"},
}
SERVICE_TIERS = ("flex", "priority", "fast", "ultrafast")   # sections the generator writes
ENTRY_KEYS = {"batch", "long_context", "aliases", "checked", "deprecated", "geo", *SERVICE_TIERS}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def load(provider: str) -> dict[str, Any]:
    return yaml.safe_load((PRICING / f"{provider}.yaml").read_text())


@pytest.fixture(scope="module", params=PROVIDERS)
def table(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load(request.param)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def significant_digits(value: float | int) -> int:
    return len(Decimal(str(value)).normalize().as_tuple().digits)


def rates_of(entry: dict[str, Any]) -> list[tuple[str, Any]]:
    """(field path, value) for every rate in an entry, including batch, long-context and
    service-tier rates (and a tier's own long-context rates)."""
    out = [(k, v) for k, v in entry.items() if k not in ENTRY_KEYS]
    for group in ("batch", "long_context", *SERVICE_TIERS):
        for k, v in (entry.get(group) or {}).items():
            if k == "long_context":
                out += [(f"{group}.long_context.{kk}", vv) for kk, vv in v.items() if kk != "threshold"]
            elif k not in ("threshold", "multiplier"):
                out.append((f"{group}.{k}", v))
    return out


def all_ids(table: dict[str, Any]) -> set[str]:
    ids = set(table["models"])
    for entry in table["models"].values():
        ids.update(entry.get("aliases", []))
    return ids


# ------------------------------------------------------------------ schema


def test_header(table: dict[str, Any]) -> None:
    assert table["schema"] == 1
    assert table["provider"] in PROVIDERS
    assert table["unit"] == "usd_per_1m_tokens"
    assert set(table["sources"]) == {"genai-prices", "litellm"}
    assert all(isinstance(v, str) for v in table["sources"].values())  # "1.10" must not become 1.1


def test_every_model_has_input_and_output(table: dict[str, Any]) -> None:
    assert table["models"], "no models"
    for key, entry in table["models"].items():
        assert is_number(entry.get("input")) and entry["input"] >= 0, key
        assert is_number(entry.get("output")) and entry["output"] >= 0, key


def test_only_known_fields(table: dict[str, Any]) -> None:
    allowed = RATE_FIELDS[table["provider"]]
    for key, entry in table["models"].items():
        assert set(entry) <= allowed | ENTRY_KEYS, key
        assert set(entry.get("batch") or {}) <= allowed, key
        assert set(entry.get("long_context") or {}) <= allowed | {"threshold"}, key
        for name in SERVICE_TIERS:
            tier = entry.get(name) or {}
            assert set(tier) <= allowed | {"long_context", "multiplier"}, (key, name)
            assert set(tier.get("long_context") or {}) <= allowed | {"threshold"}, (key, name)


def test_rates_are_clean_non_negative_numbers(table: dict[str, Any]) -> None:
    for key, entry in table["models"].items():
        for name, value in rates_of(entry):
            assert is_number(value), (key, name, value)
            assert value >= 0, (key, name, value)
            assert significant_digits(value) <= 10, (key, name, value)  # no 2.4999999999999996


def test_no_exponent_notation_in_the_file() -> None:
    for provider in PROVIDERS:
        text = (PRICING / f"{provider}.yaml").read_text()
        assert not re.search(r":\s*-?\d+(\.\d+)?[eE][-+]?\d+", text), provider  # 7.5e-08 written as 0.075


def test_long_context_tiers(table: dict[str, Any]) -> None:
    for key, entry in table["models"].items():
        tier = entry.get("long_context")
        if tier is None:
            continue
        assert isinstance(tier.get("threshold"), int) and tier["threshold"] > 0, key
        assert "input" in tier and "output" in tier, key
        assert tier["input"] >= entry["input"] and tier["output"] >= entry["output"], key


def test_service_tier_sections(table: dict[str, Any]) -> None:
    # Each tier section prices a whole call: it has input and output (or is one multiplier of every
    # rate), its cached reads cost no more than its input, its own long-context rates are dearer and
    # have a threshold (the model's or their own); flex is cheaper than standard, the others dearer.
    seen = 0
    for key, entry in table["models"].items():
        for name in SERVICE_TIERS:
            tier = entry.get(name)
            if tier is None:
                continue
            seen += 1
            if "multiplier" in tier:
                assert set(tier) == {"multiplier"} and tier["multiplier"] > 0, (key, name)
                continue
            assert is_number(tier.get("input")) and is_number(tier.get("output")), (key, name)
            assert tier.get("cached_input", tier["input"]) <= tier["input"], (key, name)
            cheaper = name == "flex"
            for field in ("input", "output"):
                assert (tier[field] <= entry[field]) if cheaper else (tier[field] >= entry[field]), (key, name)
            lc = tier.get("long_context")
            if lc is not None:
                assert "input" in lc and "output" in lc, (key, name)
                threshold = lc.get("threshold") or (entry.get("long_context") or {}).get("threshold")
                assert isinstance(threshold, int) and threshold > 0, (key, name)
                assert lc["input"] >= tier["input"] and lc["output"] >= tier["output"], (key, name)
                assert lc.get("cached_input", lc["input"]) <= lc["input"], (key, name)
    assert seen, "no service tier in the table"


def test_openai_fast_is_priority() -> None:
    # OpenAI bills service_tier "fast" as "priority" (the response even says "priority"):
    # genai-prices gives both, litellm prices "fast" at its _priority keys.
    models = load("openai")["models"]
    both = [k for k, e in models.items() if "priority" in e or "fast" in e]
    assert both
    for key in both:
        assert models[key].get("fast") == models[key].get("priority"), key


def test_geo_multipliers(table: dict[str, Any]) -> None:
    seen = 0
    for key, entry in table["models"].items():
        for region, value in (entry.get("geo") or {}).items():
            seen += 1
            assert re.fullmatch(r"[a-z]+", region), (key, region)
            assert is_number(value) and value > 1, (key, region, value)   # a surcharge; 1 is not written
    assert seen


def test_fine_tuned_entries_price_above_their_base() -> None:
    # ft:<base>: OpenAI bills fine-tuned inference at its own, higher rates. Every ft: entry's base
    # is a model the table prices (its key, an alias or its dated snapshot's base).
    import tokentrail
    models = load("openai")["models"]
    tuned = {k: e for k, e in models.items() if k.startswith("ft:")}
    assert {"ft:gpt-4o-mini-2024-07-18", "ft:gpt-4o-2024-08-06", "ft:gpt-4.1-2025-04-14",
            "ft:davinci-002"} <= set(tuned)
    table = tokentrail.price_table()
    for key, entry in tuned.items():
        base, how = table.resolve(key[3:])
        assert base is not None and how in ("exact", "alias", "snapshot"), key
        assert entry["input"] >= base.rates.input and entry["output"] >= base.rates.output, key
        assert table.resolve(key + ":my-org::abc123")[0].key == key


def test_aliases_unique_and_never_a_model_key(table: dict[str, Any]) -> None:
    keys = set(table["models"])
    seen: dict[str, str] = {}
    for key, entry in table["models"].items():
        for alias in entry.get("aliases", []):
            assert alias not in keys, f"alias {alias!r} of {key!r} is also a model key"
            assert alias not in seen, f"alias {alias!r} appears under {seen.get(alias)!r} and {key!r}"
            seen[alias] = key


def test_first_party_ids_only(table: dict[str, Any]) -> None:
    for model_id in all_ids(table):
        name = model_id.removeprefix("ft:")     # a fine-tuned model's rates: ft:<first-party id>
        assert not re.search(r"[/@:]|^(?:[a-z]+\.)?anthropic\.", name), model_id


def test_models_sorted(table: dict[str, Any]) -> None:
    assert list(table["models"]) == sorted(table["models"])


def test_every_entry_says_when_and_where_it_was_checked(table: dict[str, Any]) -> None:
    for key, entry in table["models"].items():
        checked = entry.get("checked")
        assert isinstance(checked, dict), key
        assert ISO_DATE.match(str(checked.get("date", ""))), key
        assert checked.get("by") and all(isinstance(s, str) for s in checked["by"]), key


def test_deprecated_is_a_date(table: dict[str, Any]) -> None:
    for key, entry in table["models"].items():
        if "deprecated" in entry:
            value = entry["deprecated"]
            assert value is True or (isinstance(value, str) and ISO_DATE.match(value)), key


def test_overrides_section(table: dict[str, Any]) -> None:
    overrides = table.get("overrides") or {}
    assert isinstance(overrides, dict)
    for key, entry in overrides.items():
        assert isinstance(entry, dict), key
        assert str(entry.get("reason", "")).strip(), f"override {key!r} needs a reason"


# --------------------------------------------------------- well-known entries


def test_gpt_35_turbo() -> None:
    # genai-prices 0.2.3 and litellm 1.109.1 both say $0.50 / $1.50 per 1M.
    entry = load("openai")["models"]["gpt-3.5-turbo"]
    assert (entry["input"], entry["output"]) == (0.5, 1.5)
    assert "gpt-3.5-turbo-0125" in entry["aliases"]


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4o-mini"])
def test_gpt_4o_family(model: str) -> None:
    entry = load("openai")["models"][model]
    assert 0 < entry["cached_input"] < entry["input"] < entry["output"]
    assert entry["batch"]["input"] == entry["input"] / 2


def test_dated_openai_snapshot_is_an_alias() -> None:
    models = load("openai")["models"]
    assert "gpt-4o-2024-08-06" in models["gpt-4o"]["aliases"]
    assert "gpt-4o-mini-2024-07-18" in models["gpt-4o-mini"]["aliases"]
    # a snapshot with its own price keeps its own entry
    assert models["gpt-4o-2024-05-13"]["input"] != models["gpt-4o"]["input"]


def test_text_embedding_3_small() -> None:
    entry = load("openai")["models"]["text-embedding-3-small"]
    assert entry["input"] > 0 and entry["output"] == 0


def test_claude_haiku_4_5_cache_writes() -> None:
    entry = load("anthropic")["models"]["claude-haiku-4-5"]
    # Anthropic's multipliers: 5-minute writes 1.25x input, 1-hour writes 2x, reads 0.1x.
    assert entry["cache_write_5m"] == entry["input"] * 1.25
    assert entry["cache_write_1h"] == entry["input"] * 2
    assert entry["cached_input"] == pytest.approx(entry["input"] * 0.1)
    assert "claude-haiku-4-5-20251001" in entry["aliases"]


# ------------------------------------------------------------ SDK coverage


def literal_strings(tp: Any) -> list[str]:
    out: list[str] = []
    for arg in typing.get_args(tp):
        out.extend([arg] if isinstance(arg, str) else literal_strings(arg))
    return out


def unpriced_ids(provider: str) -> set[str]:
    """Ids listed under "Unpriced SDK model ids" in SOURCES.md."""
    text = (PRICING / "SOURCES.md").read_text()
    section = text.split("## Unpriced SDK model ids", 1)[1].split("\n## ", 1)[0]
    line = next((ln for ln in section.splitlines() if ln.startswith(f"- {provider}:")), "")
    return set(re.findall(r"`([^`]+)`", line))


def sdk_ids(provider: str) -> list[str]:
    if provider == "openai":
        pytest.importorskip("openai")
        from openai import types

        # ResponsesModel and EmbeddingModel are newer than ChatModel (openai 1.40 has only that).
        kinds = [getattr(types, n) for n in ("ChatModel", "ResponsesModel", "EmbeddingModel") if hasattr(types, n)]
        return sorted({i for tp in kinds for i in literal_strings(tp)})
    pytest.importorskip("anthropic")
    from anthropic.types.model import Model

    ids = set(literal_strings(Model))
    try:
        from anthropic.resources.messages.messages import DEPRECATED_MODELS
    except ImportError:
        pass
    else:
        ids.update(DEPRECATED_MODELS)
    return sorted(ids)


#: `-latest` pointers named only by SDKs older than those the tables are generated from
#: (anthropic 0.40): scripts/sync_pricing.py lists them (LEGACY_IDS) as their model's aliases.
OLD_SDK_POINTERS = {"openai": {}, "anthropic": {"claude-3-5-sonnet-latest": "claude-3-5-sonnet",
                                                 "claude-3-opus-latest": "claude-3-opus"}}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_sdk_model_id_is_priced_or_listed(provider: str) -> None:
    ids = sdk_ids(provider)
    assert ids
    covered = all_ids(load(provider)) | unpriced_ids(provider)
    missing = [i for i in ids if i not in covered]
    assert not missing, f"regenerate with scripts/sync_pricing.py; not covered: {missing}"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_old_sdk_pointers_are_priced_as_their_model(provider: str) -> None:
    import tokentrail
    for pointer, model in OLD_SDK_POINTERS[provider].items():
        assert pointer in load(provider)["models"][model]["aliases"]
        cost = tokentrail.price_table().cost(pointer, {"prompt_tokens": 1000, "completion_tokens": 10})
        assert cost.known and cost.pricing == f"{provider}/{model}"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unpriced_ids_are_not_priced(provider: str) -> None:
    assert not unpriced_ids(provider) & all_ids(load(provider))


def test_sources_md_names_the_versions() -> None:
    text = (PRICING / "SOURCES.md").read_text()
    for provider in PROVIDERS:
        for name, version in load(provider)["sources"].items():
            assert f"{name} {version}" in text


# ------------------------------------------------------- generator helpers


@pytest.fixture(scope="module")
def sync() -> Any:
    spec = importlib.util.spec_from_file_location("sync_pricing", ROOT / "scripts" / "sync_pricing.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["sync_pricing"] = module  # dataclasses look the module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("per_token", "per_million"),
    [(7.5e-08, "0.075"), (2.5e-06, "2.5"), (1e-05, "10"), (0.0, "0"), (1.5625e-05, "15.625"), (3e-07, "0.3")],
)
def test_per_million_is_exact(sync: Any, per_token: float, per_million: str) -> None:
    assert format(sync.per_million(per_token), "f") == per_million


@pytest.mark.parametrize(
    ("provider", "model_id", "base"),
    [
        ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
        ("openai", "gpt-4-0613", "gpt-4"),
        ("openai", "gpt-4-0125-preview", "gpt-4-0125-preview"),
        ("openai", "chatgpt-4o-latest", "chatgpt-4o-latest"),
        ("anthropic", "claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("anthropic", "claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("anthropic", "claude-opus-4-0", "claude-opus-4"),
        ("anthropic", "claude-opus-4-1", "claude-opus-4-1"),
    ],
)
def test_base_id(sync: Any, provider: str, model_id: str, base: str) -> None:
    assert sync.base_id(provider, model_id) == base


def test_decimals_dump_as_plain_numbers(sync: Any) -> None:
    text = yaml.dump({"a": Decimal("0.075"), "b": Decimal("10")}, Dumper=sync._Dumper)
    assert text == "a: 0.075\nb: 10\n"
    assert yaml.safe_load(text) == {"a": 0.075, "b": 10}


def test_overrides_are_kept_verbatim(sync: Any, tmp_path: Path) -> None:
    section = "overrides:\n  # keep me\n  gpt-4o:\n    input: 3  # hand-checked\n    reason: test\n"
    path = tmp_path / "openai.yaml"
    path.write_text("schema: 1\nmodels: {}\n" + section)
    assert sync.existing_overrides(path) == section
    assert sync.parsed_overrides(section) == {"gpt-4o": {"input": 3, "reason": "test"}}
    assert sync.existing_overrides(tmp_path / "missing.yaml") == sync.DEFAULT_OVERRIDES


def test_a_latest_pointer_does_not_hide_the_shutdown_date(sync: Any) -> None:
    # claude-3-opus: the key has no date of its own, its dated snapshot has one, and the
    # -latest pointer (an old SDK's id) has none: the entry still retires on that date.
    def pid(model_id: str, shutdown: str | None = None) -> Any:
        return sync.PricedId(model_id, None, None, sdk_shutdown=shutdown)

    snapshot, pointer = pid("claude-3-opus-20240229", "2026-01-05"), pid("claude-3-opus-latest")
    assert sync.Entry("claude-3-opus", pid("claude-3-opus"), [snapshot, pointer]).deprecated == "2026-01-05"
    assert sync.Entry("claude-3-opus", pid("claude-3-opus"), [pointer]).deprecated is None
    # another undated alias still means the snapshots do not all retire then
    assert sync.Entry("claude-3-opus", pid("claude-3-opus"), [snapshot, pid("claude-3-opus-v2")]).deprecated is None
    assert load("anthropic")["models"]["claude-3-opus"]["deprecated"] == "2026-01-05"


def test_what_the_tables_listed_stays_listed(sync: Any, tmp_path: Path) -> None:
    # An SDK release that stops naming a model does not stop apps from sending it: the
    # generator keeps every id, shutdown date and unpriced SDK id the tables had.
    table = tmp_path / "anthropic.yaml"
    table.write_text("schema: 1\nmodels:\n  claude-2.1:\n    input: 8\n    output: 24\n"
                     "    aliases: [claude-2.1-latest]\n    deprecated: \"2025-07-21\"\n"
                     "  claude-3-haiku:\n    input: 0.25\n    output: 1.25\n")
    sources = tmp_path / "SOURCES.md"
    sources.write_text("# Price sources\n\n## Unpriced SDK model ids\n\nNamed by ...:\n\n"
                       "- openai: `gpt-x`\n- anthropic: `claude-1.3`, `claude-instant-1.1`\n\n"
                       "## Legacy ids not priced by either source\n\n- anthropic: `claude-0`\n")
    listing = sync.existing_listing(table, sources)
    assert listing.ids == {"claude-2.1", "claude-2.1-latest", "claude-3-haiku"}
    assert listing.shutdown == {"claude-2.1": "2025-07-21"}
    assert listing.unpriced == {"claude-1.3", "claude-instant-1.1"}
    assert sync.existing_listing(tmp_path / "missing.yaml") == sync.Listing()
    # the shipped tables: what the SDKs of every supported era name is in them or listed
    shipped = sync.existing_listing(PRICING / "anthropic.yaml", PRICING / "SOURCES.md")
    assert {"claude-3-5-sonnet-latest", "claude-3-opus-latest"} <= shipped.ids
    assert {"claude-1.3", "claude-instant-1.2"} <= shipped.unpriced


def test_litellm_service_tier_keys(sync: Any) -> None:
    # litellm's tier suffixes after the long-context one; OpenAI "fast" = litellm's _priority keys
    # (its cost code maps the tier so); multipliers carried as given, 1 dropped.
    entry = {
        "litellm_provider": "openai",
        "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1.5e-05,
        "input_cost_per_token_flex": 1.25e-06, "output_cost_per_token_flex": 7.5e-06,
        "cache_read_input_token_cost_flex": 1.3e-07,
        "input_cost_per_token_above_272k_tokens_flex": 2.5e-06,
        "cache_creation_input_token_cost_above_12hr_above_272k_tokens_priority": 2e-05,
        "input_cost_per_token_priority": 5e-06, "output_cost_per_token_priority": 3e-05,
        "input_cost_per_token_above_272k_tokens_batches": 1e-06,      # batch long context: not carried
        "regional_processing_uplift_multiplier_eu": 1.1, "regional_processing_uplift_multiplier_us": 1.0,
    }
    flat = {k: format(v, "f") for k, v in sync.litellm_prices("openai", entry).items()}
    assert flat == {
        "input": "2.5", "output": "15",
        "flex.input": "1.25", "flex.output": "7.5", "flex.cached_input": "0.13",
        "flex.long_context.threshold": "272000", "flex.long_context.input": "2.5",
        "priority.input": "5", "priority.output": "30",
        "priority.long_context.threshold": "272000", "priority.long_context.cache_write_12h": "20",
        "fast.input": "5", "fast.output": "30",
        "fast.long_context.threshold": "272000", "fast.long_context.cache_write_12h": "20",
        "geo.eu": "1.1",
    }
    anthropic = {"litellm_provider": "anthropic", "input_cost_per_token": 5e-06, "output_cost_per_token": 2.5e-05,
                 "provider_specific_entry": {"us": 1.1, "fast": 2.0}}
    flat = {k: format(v, "f") for k, v in sync.litellm_prices("anthropic", anthropic).items()}
    assert flat == {"input": "5", "output": "25", "geo.us": "1.1", "fast.multiplier": "2"}


def test_merge_keeps_each_tier_whole(sync: Any) -> None:
    D = Decimal
    genai = sync.SourceHit("m", {"input": D(2), "output": D(8), "priority.input": D(4), "priority.output": D(16)})
    litellm = sync.SourceHit("m", {
        "input": D(2), "output": D(8), "cache_write_12h": D(5),
        "priority.input": D(4), "priority.output": D(16), "priority.cached_input": D("0.4"),
        "priority.long_context.threshold": D(272000), "priority.long_context.input": D(8),
        "ultrafast.input": D(12), "ultrafast.output": D(48), "ultrafast.long_context.threshold": D(272000),
        "ultrafast.long_context.input": D(24), "fast.multiplier": D(2), "geo.us": D("1.1"),
    })
    merged = sync.merge(genai, litellm)
    # genai-prices prices priority: its lack of a long-context tier stands, litellm fills fields
    assert merged["priority.cached_input"] == D("0.4") and "priority.long_context.input" not in merged
    # a tier genai-prices does not price comes whole from litellm; multipliers are litellm's
    assert merged["ultrafast.long_context.input"] == D(24) and merged["fast.multiplier"] == D(2)
    assert merged["geo.us"] == D("1.1")
    genai.prices["fast.input"] = D(4)          # genai-prices' rates for a tier beat a multiplier
    assert "fast.multiplier" not in sync.merge(genai, litellm)
    out = sync.unflatten("openai", merged)
    # the model has no long-context tier of its own: the tier's threshold is written with its rates
    assert out["ultrafast"] == {"input": D(12), "output": D(48), "long_context": {"threshold": 272000, "input": D(24)}}
    merged["long_context.threshold"] = D(272000)
    assert sync.unflatten("openai", merged)["ultrafast"]["long_context"] == {"input": D(24)}   # the model's
    assert out["fast"] == {"multiplier": D(2)} and out["geo"] == {"us": D("1.1")}
    assert list(out) == ["input", "output", "cache_write_12h", "priority", "fast", "ultrafast", "geo"]


def test_a_snapshot_one_source_prices_stays_an_alias(sync: Any) -> None:
    # litellm's multipliers for a model do not split off a snapshot only genai-prices matches.
    D = Decimal
    g = sync.SourceHit("m", {"input": D(5), "output": D(30)})
    root = sync.PricedId("m", g, sync.SourceHit("m", {"input": D(5), "output": D(30), "geo.us": D("1.1")}))
    root.merged = sync.merge(root.genai, root.litellm)
    snap = sync.PricedId("m-2026-04-24", g, None, dict(g.prices))
    assert sync.same_price(root, snap)
    other = sync.PricedId("m-2026-05-01", sync.SourceHit("m", {"input": D(6), "output": D(30)}), None,
                          {"input": D(6), "output": D(30)})
    assert not sync.same_price(root, other)
