"""Cost arithmetic and model-id resolution, checked against hand-computed values."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
import yaml

import tokentrail
from tokentrail._pricing import PriceTable, PricingError, Rates, load_table, parse_price_file
from tokentrail._usage import normalize_usage

# Round numbers so every expected cost below can be checked by hand.
TEST_PRICES = """
schema: 1
provider: testco
models:
  plain-1:            {input: 2, output: 8}
  cachey-1:           {input: 2, output: 8, cached_input: 0.5}
  anthro-1:           {provider: anthropic, input: 3, output: 15, cached_input: 0.3, cache_write_5m: 3.75, cache_write_1h: 6,
                       aliases: [anthro-1-20250929]}
  longctx-1:          {input: 1.25, output: 10, cached_input: 0.125,
                       long_context: {threshold: 200000, input: 2.5, output: 15, cached_input: 0.25}}
  batchy-1:           {input: 2, output: 8, batch: {input: 1, output: 4}}
  ft:tiny-1:          {input: 0.3, output: 1.2}
  tiny-1:             {input: 0.15, output: 0.6}
  snap-1:             {input: 1, output: 4, aliases: [snap-1-2025-04-14]}
  ft:snap-1-2025-04-14: {input: 3, output: 12}
"""
# Service tiers and regional multipliers (a separate file: the loader before them refuses it).
TIER_PRICES = """
provider: testco
models:
  tiered-1:           {input: 2, output: 8, cached_input: 0.2, batch: {input: 1, output: 4},
                       long_context: {threshold: 200000, input: 4, output: 12},
                       flex: {input: 1, output: 4, long_context: {input: 2, output: 6}},
                       priority: {input: 4, output: 16, cached_input: 0.4},
                       fast: {multiplier: 3},
                       geo: {us: 1.1}}
  plain-1:            {input: 2, output: 8}
  flexonly-1:         {input: 2, output: 8, flex: {input: 1, output: 4}}
"""


@pytest.fixture
def table(tmp_path) -> PriceTable:
    p = tmp_path / "prices.yaml"
    p.write_text(TEST_PRICES)
    return PriceTable(parse_price_file(p))


@pytest.fixture
def tiered(tmp_path) -> PriceTable:
    p = tmp_path / "tiers.yaml"
    p.write_text(TIER_PRICES)
    return PriceTable(parse_price_file(p))


def cost(table, model, **usage) -> Decimal:
    return table.cost(model, normalize_usage(usage)).total


def test_plain(table):
    # 1000 in * $2/1M + 500 out * $8/1M = 0.002 + 0.004
    assert cost(table, "plain-1", prompt_tokens=1000, completion_tokens=500) == Decimal("0.006")


def test_cached_openai_prompt_tokens_include_cached(table):
    # prompt 2048 of which 1792 cached: 256*2 + 1792*0.5 + 612*8 = 512 + 896 + 4896 = 6304 /1M
    c = table.cost("cachey-1", normalize_usage({"prompt_tokens": 2048, "completion_tokens": 612,
                                               "prompt_tokens_details": {"cached_tokens": 1792}}))
    assert c.total == Decimal("0.006304")
    assert c.input == Decimal("0.000512") and c.cached_input == Decimal("0.000896")
    assert c.output == Decimal("0.004896") and c.pricing == "testco/cachey-1"


def test_anthropic_input_excludes_cache_5m_write(table):
    # input 21 uncached, 10240 cache read, 1893 cache write (5m), 87 out
    u = normalize_usage({"input_tokens": 21, "cache_read_input_tokens": 10240, "cache_creation_input_tokens": 1893,
                         "cache_creation": {"ephemeral_5m_input_tokens": 1893, "ephemeral_1h_input_tokens": 0},
                         "output_tokens": 87}, "anthropic")
    assert u["prompt_tokens"] == 21 + 10240 + 1893 and u["cached_tokens"] == 10240
    assert u["cache_write_tokens"] == 1893
    # 21*3 + 10240*0.3 + 1893*3.75 + 87*15 = 63 + 3072 + 7098.75 + 1305 = 11538.75 /1M
    assert table.cost("anthro-1", u).total == Decimal("0.01153875")


def test_anthropic_cache_write_1h(table):
    u = normalize_usage({"input_tokens": 25, "cache_creation_input_tokens": 2048, "cache_read_input_tokens": 0,
                         "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 2048},
                         "output_tokens": 142}, "anthropic")
    assert u["cache_write_1h_tokens"] == 2048
    # 25*3 + 2048*6 + 142*15 = 75 + 12288 + 2130 = 14493 /1M
    assert table.cost("anthro-1", u).total == Decimal("0.014493")


def test_reasoning_tokens_are_output(table):
    u = normalize_usage({"prompt_tokens": 100, "completion_tokens": 400,
                         "completion_tokens_details": {"reasoning_tokens": 300}})
    assert u["reasoning_tokens"] == 300
    # 100*2 + 400*8 = 3400 /1M: reasoning is inside completion, not added again
    assert table.cost("plain-1", u).total == Decimal("0.0034")


def test_long_context_reprices_whole_request(table):
    below = cost(table, "longctx-1", prompt_tokens=200_000, completion_tokens=1000)
    above = cost(table, "longctx-1", prompt_tokens=200_001, completion_tokens=1000)
    assert below == Decimal("0.26")            # 200000*1.25 + 1000*10 = 250000 + 10000
    assert above == Decimal("0.5150025")       # 200001*2.5 + 1000*15 = 500002.5 + 15000
    assert table.cost("longctx-1", normalize_usage({"prompt_tokens": 300_000})).long_context


def test_batch_rates(table):
    assert table.cost("batchy-1", {"prompt_tokens": 1000, "completion_tokens": 1000}, batch=True).total == \
        Decimal("0.005")


@pytest.mark.parametrize("model_id,key,how", [
    ("anthro-1", "anthro-1", "exact"),
    ("anthro-1-20250929", "anthro-1", "alias"),
    ("plain-1-2024-08-06", "plain-1", "snapshot"),
    ("plain-1-20251001", "plain-1", "snapshot"),
    ("openai/plain-1", "plain-1", "prefix"),
    ("azure/plain-1", "plain-1", "prefix"),
    ("us.anthropic.anthro-1-20250929-v1:0", "anthro-1", "bedrock"),
    ("global.anthropic.anthro-1-v1:0", "anthro-1", "bedrock"),
    ("anthropic.anthro-1-20250929-v2:0", "anthro-1", "bedrock"),
    ("anthro-1@20250929", "anthro-1", "vertex"),
    ("ft:tiny-1:my-org::abc123", "ft:tiny-1", "fine-tune"),
    ("ft:tiny-1-2024-07-18:my-org::abc123", "ft:tiny-1", "fine-tune snapshot"),
    ("ft:snap-1:org::x", "ft:snap-1-2025-04-14", "fine-tune alias"),      # the ft: entry of the base's alias
    ("ft:snap-1-2025-04-14:org::x", "ft:snap-1-2025-04-14", "fine-tune"),
    ("ft:plain-1-2024-07-18:org:name:id9", "plain-1", "fine-tune base"),  # no fine-tune rate: the base's
    ("PLAIN-1", "plain-1", "case"),
])
def test_resolution(table, model_id, key, how):
    entry, found = table.resolve(model_id)
    assert entry is not None and entry.key == key and found == how


def test_unknown_model_default_rate_and_one_warning(table, caplog):
    caplog.set_level(logging.WARNING, logger="tokentrail")
    c1 = table.cost("mystery-9", {"prompt_tokens": 10, "completion_tokens": 10})
    c2 = table.cost("mystery-9", {"prompt_tokens": 10, "completion_tokens": 10})
    assert c1.total == 0 and c1.pricing == "unknown" and not c1.known
    assert c2.pricing == "unknown"
    assert sum("mystery-9" in r.getMessage() for r in caplog.records) == 1


def test_unknown_model_uses_configured_default_price(tmp_path, events):
    tokentrail.configure(default_price={"input": 1, "output": 2})
    ev = tokentrail.log_event(input={"model": "mystery-10", "prompt": "x"},
                              usage={"prompt_tokens": 1000, "completion_tokens": 1000})
    assert ev["pricing"] == "unknown" and ev["cost"] == pytest.approx(0.003)


def test_cheap_model_is_not_rounded_to_zero(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("models:\n  nano-embed: {input: 0.05, output: 0}\n")
    t = PriceTable(parse_price_file(p))
    c = t.cost("nano-embed", {"prompt_tokens": 10})
    assert c.total == Decimal("0.0000005") and float(c.total) == 5e-07


# ----------------------------------------------------------------- override files

def test_override_earlier_cost_logger_format(tmp_path, events):
    p = tmp_path / "old.yaml"
    p.write_text("pricing:\n  gpt-4o:\n    input_rate_per_1m: 10\n    output_rate_per_1m: 20\n")
    tokentrail.configure(pricing=str(p))
    ev = tokentrail.log_event(input={"model": "gpt-4o", "prompt": "x"},
                              usage={"prompt_tokens": 1000, "completion_tokens": 1000})
    assert ev["cost"] == pytest.approx(0.03)


def test_override_earlier_prompt_logger_per_1k_format(tmp_path, events):
    p = tmp_path / "old.yaml"
    p.write_text("pricing:\n  my-model:\n    input_price_per_1k: 0.01\n    output_price_per_1k: 0.03\n")
    tokentrail.configure(pricing=str(p))
    ev = tokentrail.log_event(input={"model": "my-model", "prompt": "x"},
                              usage={"prompt_tokens": 2000, "completion_tokens": 1000})
    # 2000 * 0.01/1k + 1000 * 0.03/1k = 0.02 + 0.03
    assert ev["cost"] == pytest.approx(0.05) and ev["pricing"] == "user/my-model"


def test_override_merges_over_builtin_fields(tmp_path):
    base = load_table()
    gpt4o = base.get("gpt-4o")
    p = tmp_path / "o.yaml"
    p.write_text("models:\n  gpt-4o: {input: 99}\n")
    t = load_table(p)
    e = t.get("gpt-4o")
    assert e.rates.input == 99 and e.rates.output == gpt4o.rates.output
    assert t.resolve("gpt-4o-2024-08-06")[0].rates.input == 99


def _override(tmp_path, text: str, name: str = "o.yaml") -> PriceTable:
    p = tmp_path / name
    p.write_text(text)
    return load_table(p)


def _usd(tokens: int, rate: Decimal) -> Decimal:
    return tokens * rate / 1_000_000


@pytest.mark.parametrize("key, builtin", [
    ("gpt-4o-2024-08-06", "gpt-4o"),                                    # an alias of the entry
    ("gpt-4o-mini-2099-01-01", "gpt-4o-mini"),                          # a dated snapshot
    ("us.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),  # a Bedrock id
])
def test_override_keyed_by_an_alias_or_snapshot_changes_only_what_it_names(tmp_path, key, builtin):
    known = load_table().get(builtin)
    t = _override(tmp_path, f"models:\n  {key!r}: {{input: 2.0}}\n")
    e, how = t.resolve(key)
    assert (e.key, how, e.origin) == (key, "exact", str(tmp_path / "o.yaml"))
    assert e.provider == known.provider and e.label == f"{known.provider}/{key}"
    assert e.rates.input == Decimal("2.0")
    # every rate it does not name is the known model's, not 0 / "same as input"
    assert (e.rates.output, e.rates.cached_input, e.rates.cache_write, e.rates.cache_write_1h) == \
        (known.rates.output, known.rates.cached_input, known.rates.cache_write, known.rates.cache_write_1h)
    assert (e.batch, e.long_context, e.long_context_threshold) == \
        (known.batch, known.long_context, known.long_context_threshold)
    assert e.aliases == ()                          # the known model's other ids stay with it
    c = t.cost(key, normalize_usage({"prompt_tokens": 1000, "completion_tokens": 1000}))
    assert c.total == _usd(1000, Decimal("2.0")) + _usd(1000, known.rates.output)
    assert t.resolve(builtin)[0].rates == known.rates    # the model itself is unchanged


def test_snapshot_override_prices_the_qa_example_exactly(tmp_path):
    # QA's report: gpt-4o-2024-08-06 overridden to input 2 was priced with output 0 ($0.002).
    t = _override(tmp_path, "models:\n  gpt-4o-2024-08-06: {input: 2.0}\n")
    gpt4o = load_table().get("gpt-4o")
    assert gpt4o.rates.output == 10 and gpt4o.rates.cached_input == Decimal("1.25")
    c = t.cost("gpt-4o-2024-08-06", normalize_usage({"prompt_tokens": 1000, "completion_tokens": 1000}))
    assert c.total == Decimal("0.012") and c.total_usd == 0.012 and c.pricing == "openai/gpt-4o-2024-08-06"
    # a cached read keeps gpt-4o's cached rate: 500*2 + 500*1.25 + 100*10 = 2625 /1M
    c = t.cost("gpt-4o-2024-08-06", normalize_usage({"prompt_tokens": 1000, "completion_tokens": 100,
                                                    "prompt_tokens_details": {"cached_tokens": 500}}))
    assert c.total == Decimal("0.002625")
    # the other snapshot and the model itself keep the built-in rates
    assert t.resolve("gpt-4o-2024-11-20")[0].key == "gpt-4o"
    assert t.cost("gpt-4o", {"prompt_tokens": 1000, "completion_tokens": 1000}).total == Decimal("0.0125")
    assert "gpt-4o-2024-08-06" not in t.get("gpt-4o").aliases   # it is priced by its own entry now


def test_override_without_a_cached_rate_follows_the_new_input(tmp_path):
    # gpt-4o-2024-05-13 has no cached rate of its own (cached = input), so it follows the new input.
    known = load_table().get("gpt-4o-2024-05-13")
    assert known.rates.cached_input is None
    t = _override(tmp_path, "models:\n  gpt-4o-2024-05-13: {input: 7}\n")
    assert t.get("gpt-4o-2024-05-13").rates.per_kind() == \
        (Decimal(7), Decimal(7), Decimal(7), Decimal(7), known.rates.output)


@pytest.mark.parametrize("first, second", [("gpt-4o-2024-08-06", "gpt-4o"), ("gpt-4o", "gpt-4o-2024-08-06")])
def test_snapshot_and_its_model_overridden_in_one_file(tmp_path, first, second):
    rates = {"gpt-4o-2024-08-06": "{input: 2}", "gpt-4o": "{input: 3}"}
    t = _override(tmp_path, f"models:\n  {first}: {rates[first]}\n  {second}: {rates[second]}\n")
    assert t.resolve("gpt-4o-2024-08-06")[0].rates.input == 2
    assert t.resolve("gpt-4o")[0].rates.input == 3
    assert t.resolve("gpt-4o-2024-11-20")[0].rates.input == 3   # still gpt-4o's alias
    assert "gpt-4o-2024-08-06" not in t.get("gpt-4o").aliases


def test_override_of_a_known_model_keeps_its_provider(tmp_path):
    t = _override(tmp_path, "models:\n  gpt-4o: {input: 2.0, output: 8.0}\n"
                            "  claude-haiku-4-5: {input: 1, provider: bedrock-eu}\n"
                            "  my-model: {input: 1, output: 2}\n")
    assert t.get("gpt-4o").label == "openai/gpt-4o"
    assert "gpt-4o" in {e.key for e in t.entries() if e.provider == "openai"}
    assert t.get("claude-haiku-4-5").provider == "bedrock-eu"      # named in the entry: that wins
    assert t.get("my-model").provider == "user"                    # a new model: the file's default


@pytest.mark.parametrize("aliases", ["prod-model", "[prod-model]"])
def test_aliases_may_be_one_string(tmp_path, aliases):
    t = _override(tmp_path, f"models:\n  my-model: {{input: 1, output: 2, aliases: {aliases}}}\n")
    assert t.get("my-model").aliases == ("prod-model",)
    entry, how = t.resolve("prod-model")
    assert entry.key == "my-model" and how == "alias"
    assert t.resolve("p") == (None, "unknown")


# (the entry, what the one-sentence error must say besides the file, line 2 and the model)
MISTAKES = [
    pytest.param("new-model: {output: 1}", ["'input' is missing", "'input: <price>'"], id="new-model-no-input"),
    pytest.param("new-model: {input: 1}", ["'output' is missing"], id="new-model-no-output"),
    pytest.param("old-style: {input_rate_per_1m: 1}", ["'output_rate_per_1m' is missing"], id="new-model-old-format"),
    pytest.param("gpt-4o: {inptu_cached: 3}", ["unknown field 'inptu_cached'", "did you mean 'cached_input'"],
                 id="misspelled-field"),
    pytest.param("gpt-4o: {batch: 5}", ["'batch' must be a mapping", "not 5"], id="batch-scalar"),
    pytest.param("gpt-4o: {long_context: 7}", ["'long_context' must be a mapping", "threshold"], id="lc-scalar"),
    pytest.param("gpt-4o: {long_context: {input: 6, output: 22.5}}", ["long_context: no threshold", "threshold: N"],
                 id="lc-no-threshold"),
    pytest.param("gpt-4o: {long_context: {threshold: lots, input: 6, output: 22.5}}",
                 ["threshold must be a whole number of prompt tokens", "'lots'"], id="lc-threshold-text"),
    pytest.param("gpt-4o: {long_context: {threshold: 0, input: 6, output: 22.5}}", ["above 0"], id="lc-threshold-0"),
    pytest.param("gpt-4o: {long_context: {threshold: 2000.5, input: 6, output: 22.5}}", ["whole number"],
                 id="lc-threshold-fraction"),
    pytest.param("gpt-4o: {batch: {input: 1, ouptut: 2}}", ["batch: unknown field 'ouptut'", "'output'"],
                 id="misspelled-batch-field"),
    pytest.param("gpt-4o: {long_context: {threshold: 9, input: 6}}", ["'output' is missing", "long_context tier"],
                 id="new-tier-no-output"),
    pytest.param("gpt-4o: {input: 1, input_rate_per_1m: 2}", ["different price formats"], id="mixed-formats"),
    pytest.param("gpt-4o: {cache_write: 1, cache_write_5m: 2}", ["two names for one rate"], id="synonyms"),
    pytest.param("gpt-4o: {input: }", ["field 'input': no value"], id="empty-rate"),
    pytest.param("gpt-4o: {aliases: 'a, b'}", ["'aliases' must be a model id or a list"], id="aliases-commas"),
    pytest.param("gpt-4o: {aliases: {a: 1}}", ["'aliases' must be a model id or a list"], id="aliases-mapping"),
]


@pytest.mark.parametrize("entry, words", MISTAKES)
def test_override_file_mistakes_are_errors(tmp_path, entry, words):
    p = tmp_path / "mine.yaml"
    p.write_text(f"models:\n  {entry}\n")
    model = entry.split(":")[0]
    with pytest.raises(PricingError) as ei:
        tokentrail.configure(pricing=str(p))
    msg = str(ei.value)
    assert msg.startswith(f"pricing file {str(p)!r}, line 2, model {model!r}"), msg
    assert "\n" not in msg and "a price must be" not in msg
    for w in words:
        assert w in msg, (w, msg)
    assert tokentrail.price_table().get("gpt-4o").origin == "builtin"   # the old table stays in use


def test_mistake_in_env_pricing_file_is_reported_once_and_builtin_prices_used(tmp_path, monkeypatch, caplog,
                                                                              events):
    p = tmp_path / "env.yaml"
    p.write_text("models:\n  gpt-4o: {inptu_cached: 3}\n")
    monkeypatch.setenv("TOKENTRAIL_PRICING", str(p))
    from tokentrail import _config
    _config.reset()
    tokentrail.configure(sink="memory")
    caplog.set_level(logging.ERROR, logger="tokentrail")
    evs = [tokentrail.log_event(input={"model": "gpt-4o", "prompt": "x"},
                                usage={"prompt_tokens": 1000, "completion_tokens": 1000}) for _ in range(2)]
    assert [e["cost"] for e in evs] == [0.0125, 0.0125]
    errs = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errs) == 1 and "env.yaml" in errs[0] and "inptu_cached" in errs[0]


def test_earlier_tools_files_load_as_they_are(tmp_path):
    # crashlens' config/pricing.yaml (per 1M, with descriptions and its detector settings),
    # its first per-1K version, and the prompt logger's sample config.
    crashlens = ("models:\n  gpt-4:\n    input_cost_per_1m: 30.00\n    output_cost_per_1m: 60.00\n"
                 "    description: \"GPT-4 (8K context)\"\n"
                 "  claude-instant-1:\n    input_cost_per_1m: 1.63\n    output_cost_per_1m: 5.51\n"
                 "    description: \"Claude Instant 1\"\n"
                 "thresholds:\n  retry_loop:\n    max_retries: 3\n"
                 "waste_calculation:\n  min_report_cost: 0.001\n")
    t = _override(tmp_path, crashlens, "crashlens.yaml")
    assert t.get("claude-instant-1").rates == Rates(input=Decimal("1.63"), output=Decimal("5.51"))
    assert (t.get("gpt-4").rates.input, t.get("gpt-4").rates.output) == (30, 60)
    t = _override(tmp_path, "models:\n  gpt-4-32k: {input_cost_per_1k: 0.03, output_cost_per_1k: 0.06}\n",
                  "crashlens-1k.yaml")
    assert (t.get("gpt-4-32k").rates.input, t.get("gpt-4-32k").rates.output) == (30, 60)
    t = _override(tmp_path, "pricing:\n  claude-3-opus:\n    input_price_per_1k: 0.015\n"
                            "    output_price_per_1k: 0.075\n  gemini-pro:\n    input_price_per_1k: 0.001\n"
                            "    output_price_per_1k: 0.002\n", "logger.yaml")
    assert (t.get("gemini-pro").rates.input, t.get("gemini-pro").rates.output) == (1, 2)
    assert t.cost("claude-3-opus", {"prompt_tokens": 1000, "completion_tokens": 1000}).total == Decimal("0.09")


def test_tables_overrides_section_takes_a_reason(tmp_path):
    p = tmp_path / "openai.yaml"
    p.write_text("provider: openai\nmodels:\n  m: {input: 2, output: 8, cached_input: 0.5}\n"
                 "overrides:\n  m: {output: 6, reason: \"the vendor's page, 2026-11-23\"}\n")
    [m] = parse_price_file(p, provider="openai", builtin=True)
    assert m.rates == Rates(input=Decimal(2), output=Decimal(6), cached_input=Decimal("0.5"))
    assert m.label == "openai/m"


def test_env_override(tmp_path, monkeypatch, events):
    p = tmp_path / "env.yaml"
    p.write_text("models:\n  env-model: {input: 1000, output: 0}\n")
    monkeypatch.setenv("TOKENTRAIL_PRICING", str(p))
    from tokentrail import _config
    _config.reset()
    tokentrail.configure(sink="memory")
    ev = tokentrail.log_event(input={"model": "env-model"}, usage={"prompt_tokens": 1000})
    assert ev["cost"] == pytest.approx(1.0)


def test_broken_yaml_names_file_and_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("models:\n  gpt-4o:\n    input: 2.5\n   output: [unclosed\n")
    with pytest.raises(PricingError) as ei:
        tokentrail.configure(pricing=str(p))
    msg = str(ei.value)
    assert "bad.yaml" in msg and "line" in msg and "\n" not in msg


def test_bad_value_names_file_line_and_model(tmp_path):
    p = tmp_path / "neg.yaml"
    p.write_text("models:\n  a: {input: 1, output: 1}\n  b: {input: -3, output: 1}\n")
    with pytest.raises(PricingError, match=r"neg\.yaml.*line 3.*'b'.*non-negative"):
        load_table(p)


def test_missing_override_file(tmp_path):
    with pytest.raises(PricingError, match="does not exist"):
        tokentrail.configure(pricing=str(tmp_path / "nope.yaml"))


def test_broken_env_pricing_file_never_breaks_a_call(tmp_path, monkeypatch, caplog, events):
    p = tmp_path / "bad.yaml"
    p.write_text("models: [\n")
    monkeypatch.setenv("TOKENTRAIL_PRICING", str(p))
    from tokentrail import _config
    _config.reset()
    tokentrail.configure(sink="memory")
    caplog.set_level(logging.ERROR, logger="tokentrail")
    ev = tokentrail.log_event(input={"model": "gpt-3.5-turbo", "prompt": "x"},
                              usage={"prompt_tokens": 10, "completion_tokens": 155})
    assert ev["cost"] == pytest.approx(0.0002375)
    assert any("bad.yaml" in r.getMessage() for r in caplog.records)


# ----------------------------------------------------------------- shipped tables

def test_earlier_logger_example_gpt35():
    # The earlier cost logger's README example: 10 prompt + 155 completion on gpt-3.5-turbo.
    ev = tokentrail.log_event(traceId="t", input={"model": "gpt-3.5-turbo", "prompt": "Hello"},
                              usage={"prompt_tokens": 10, "completion_tokens": 155})
    assert ev["cost"] == 0.0002375


def test_shipped_tables_cover_both_providers():
    t = load_table()
    providers = {e.provider for e in t.entries()}
    assert {"openai", "anthropic"} <= providers
    for mid in ("gpt-4o-2024-08-06", "claude-haiku-4-5-20251001", "text-embedding-3-small",
                "global.anthropic.claude-haiku-4-5-20251001-v1:0"):
        assert t.resolve(mid)[0] is not None, mid


def test_shipped_yaml_is_valid(tmp_path):
    from tokentrail._pricing import builtin_dir
    for f in builtin_dir().glob("*.yaml"):
        data = yaml.safe_load(f.read_text())
        assert data["models"], f


def test_openai_12h_cache_writes_priced_at_long_rate(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("models:\n  m: {input: 2, output: 8, cached_input: 0.2, cache_write: 2.5, cache_write_12h: 4}\n")
    t = PriceTable(parse_price_file(p))
    u = normalize_usage({"input_tokens": 10_000, "output_tokens": 100,
                         "input_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 3000,
                                                  "cache_write_tokens_details": {"ttl_12h_tokens": 1000,
                                                                                 "ttl_30m_tokens": 2000}}})
    assert u["cache_write_12h_tokens"] == 1000
    # uncached 6000*2 + cached 1000*0.2 + 30m 2000*2.5 + 12h 1000*4 + out 100*8 = 12000+200+5000+4000+800
    assert t.cost("m", u).total == Decimal("0.022")


# ----------------------------------------------------------------- service tiers

def _u(prompt: int, completion: int, cached: int = 0) -> dict:
    return normalize_usage({"prompt_tokens": prompt, "completion_tokens": completion,
                            "prompt_tokens_details": {"cached_tokens": cached}})


def test_tier_rates_price_the_whole_call(tiered):
    u = _u(1000, 1000, 500)
    c = tiered.cost("tiered-1", u, normalized=True, tier="flex")
    # flex names no cached rate: the model's standard one. 500*1 + 500*0.2 + 1000*4 = 4600 /1M
    assert (c.total, c.tier, c.long_context) == (Decimal("0.0046"), "flex", False)
    c = tiered.cost("tiered-1", u, normalized=True, tier="priority")
    assert (c.total, c.tier) == (Decimal("0.0182"), "priority")         # 500*4 + 500*0.4 + 1000*16
    c = tiered.cost("tiered-1", u, normalized=True, tier="fast")         # 3 x every standard rate
    assert (c.total, c.tier) == (Decimal("0.0273"), "fast")             # 3 * (500*2 + 500*0.2 + 1000*8)
    std = tiered.cost("tiered-1", u, normalized=True)
    assert (std.total, std.tier) == (Decimal("0.0091"), None)
    assert tiered.cost("tiered-1", u, tier="flex").total == Decimal("0.0046")    # the raw-usage path too


@pytest.mark.parametrize("tier", [None, "default", "standard", "auto", "scale", "ultrafast", "turbo"])
def test_a_tier_the_model_has_no_rates_for_is_the_standard_price(tiered, tier):
    c = tiered.cost("tiered-1", _u(1000, 1000, 500), normalized=True, tier=tier)
    assert (c.total, c.tier, c.pricing) == (Decimal("0.0091"), None, "testco/tiered-1")


def test_tier_and_long_context(tiered):
    # flex has long-context rates of its own (above the model's threshold); priority has none:
    # its rates price the whole call whatever the prompt size.
    c = tiered.cost("tiered-1", _u(200_001, 1000), normalized=True, tier="flex")
    assert (c.total, c.tier, c.long_context) == (Decimal("0.406002"), "flex", True)   # 200001*2 + 1000*6
    c = tiered.cost("tiered-1", _u(200_001, 1000), normalized=True, tier="priority")
    assert (c.total, c.tier, c.long_context) == (Decimal("0.816004"), "priority", False)   # 200001*4 + 1000*16
    c = tiered.cost("tiered-1", _u(200_001, 1000), normalized=True, tier="fast")      # 3 x the standard tier
    assert (c.total, c.long_context) == (Decimal("2.436012"), True)                  # 3 * (200001*4 + 1000*12)


def test_batch_wins_over_a_tier(tiered):
    u = _u(1000, 1000)
    for c in (tiered.cost("tiered-1", u, normalized=True, batch=True, tier="priority"),
              tiered.cost("tiered-1", u, normalized=True, tier="batch")):   # Anthropic's service_tier of a batch
        assert (c.total, c.tier) == (Decimal("0.005"), None)
    # no batch rates: the standard ones, not the tier's
    c = tiered.cost("flexonly-1", u, normalized=True, batch=True, tier="flex")
    assert (c.total, c.tier) == (Decimal("0.01"), None)
    # an unknown model: the default rate whatever the tier
    c = tiered.cost("mystery-tier", u, normalized=True, tier="flex", geo="us")
    assert (c.known, c.tier, c.geo, c.pricing) == (False, None, None, "unknown")


def test_geo_multiplies_every_rate_and_stacks_with_tiers(tiered):
    u = _u(1000, 1000, 500)
    c = tiered.cost("tiered-1", u, normalized=True, geo="us")
    assert (c.total, c.geo, c.tier) == (Decimal("0.01001"), "us", None)           # 1.1 * 0.0091
    assert c.cached_input == Decimal("0.000110")                                  # 500 * 0.2 * 1.1
    c = tiered.cost("tiered-1", u, normalized=True, tier="fast", geo="us")
    assert (c.total, c.geo, c.tier) == (Decimal("0.03003"), "us", "fast")         # 1.1 * 3 * 0.0091
    c = tiered.cost("tiered-1", u, normalized=True, geo="eu")                      # no multiplier for eu
    assert (c.total, c.geo) == (Decimal("0.0091"), None)
    assert tiered.cost("plain-1", u, normalized=True, geo="us").geo is None


def test_cost_equality_and_repr_say_the_tier(tiered):
    u = _u(1000, 1000)
    flex, std = (tiered.cost("tiered-1", u, normalized=True, tier=t) for t in ("flex", None))
    assert flex == tiered.cost("tiered-1", u, tier="flex") and flex != std
    assert "tier='flex'" in repr(flex) and "tier=" not in repr(std)


def test_shipped_openai_flex_and_priority_rates():
    # gpt-5 in genai-prices 0.2.3 and litellm 1.109.1 (input/cached/output per 1M): standard
    # 1.25/0.125/10, flex 0.625/0.0625/5 (input_cost_per_token_flex 6.25e-07, ...), priority and
    # fast 2.5/0.25/20 (input_cost_per_token_priority 2.5e-06, ...).
    t = load_table()
    u = _u(10_000, 2_000, 4_000)
    cost = {tier: t.cost("gpt-5-2025-08-07", u, normalized=True, tier=tier) for tier in (None, "flex", "priority",
                                                                                         "fast")}
    assert cost[None].total == Decimal("0.028")      # 6000*1.25 + 4000*0.125 + 2000*10 = 28000 /1M
    assert cost["flex"].total == Decimal("0.014")    # 6000*0.625 + 4000*0.0625 + 2000*5 = 14000 /1M
    assert cost["priority"].total == Decimal("0.056")  # 6000*2.5 + 4000*0.25 + 2000*20 = 56000 /1M
    assert cost["fast"].total == cost["priority"].total
    assert [c.tier for c in cost.values()] == [None, "flex", "priority", "fast"]
    assert all(c.pricing == "openai/gpt-5" for c in cost.values())
    # the rates are the generated table's
    e = t.get("gpt-5")
    flex = e.tier_map["flex"].rates
    assert (flex.input, flex.cached_input, flex.output) == (Decimal("0.625"), Decimal("0.0625"), Decimal(5))


def test_shipped_tier_a_model_lacks_and_long_context_tiers():
    t = load_table()
    u = _u(1000, 1000)
    c = t.cost("gpt-4o", u, normalized=True, tier="flex")          # gpt-4o has no flex rates
    assert (c.total, c.tier) == (Decimal("0.0125"), None)
    # gpt-5.4 above 272k: flex has its own long-context rates (2.5 / 11.25), priority is flat (5 / 30)
    big = _u(300_000, 1000)
    c = t.cost("gpt-5.4", big, normalized=True, tier="flex")
    assert (c.total, c.tier, c.long_context) == (Decimal("0.76125"), "flex", True)     # 300000*2.5 + 1000*11.25
    c = t.cost("gpt-5.4", big, normalized=True, tier="priority")
    assert (c.total, c.tier, c.long_context) == (Decimal("1.53"), "priority", False)   # 300000*5 + 1000*30


def test_shipped_anthropic_fast_mode_and_us_inference():
    # claude-opus-4-8: standard 5 / 25 (cache read 0.5, 5m write 6.25, 1h write 10); fast mode
    # 10 / 50 / 1 / 12.5 / 20 (genai-prices; litellm's provider_specific_entry says fast x2, us x1.1).
    t = load_table()
    u = normalize_usage({"input_tokens": 1000, "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 3000,
                         "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
                         "output_tokens": 500}, "anthropic")
    std = t.cost("claude-opus-4-8", u, normalized=True)
    # 1000*5 + 2000*0.5 + 1000*6.25 + 2000*10 + 500*25 = 5000+1000+6250+20000+12500 = 44750 /1M
    assert (std.total, std.tier) == (Decimal("0.04475"), None)
    fast = t.cost("claude-opus-4-8", u, normalized=True, tier="fast")
    assert (fast.total, fast.tier) == (Decimal("0.0895"), "fast")
    us = t.cost("claude-opus-4-8", u, normalized=True, tier="fast", geo="us")
    assert (us.total, us.tier, us.geo) == (Decimal("0.09845"), "fast", "us")
    # Anthropic's "priority" service tier has no rates in either source: standard
    assert t.cost("claude-opus-4-8", u, normalized=True, tier="priority").total == std.total


# ----------------------------------------------------------------- fine-tuned models

def test_fine_tune_rate_from_the_tables(caplog):
    caplog.set_level(logging.WARNING, logger="tokentrail")
    t = load_table()
    entry, how = t.resolve("ft:gpt-4o-mini-2024-07-18:acme::abc123")
    assert (entry.key, how) == ("ft:gpt-4o-mini-2024-07-18", "fine-tune")
    c = t.cost("ft:gpt-4o-mini-2024-07-18:acme::abc123", _u(10_000, 1000, 4000), normalized=True)
    # 0.3 / 0.15 cached / 1.2 (genai-prices and litellm): 6000*0.3 + 4000*0.15 + 1000*1.2 = 3600 /1M
    assert (c.total, c.pricing) == (Decimal("0.0036"), "openai/ft:gpt-4o-mini-2024-07-18")
    assert not caplog.records
    assert t.resolve("ft:gpt-4.1:acme::x")[0].key == "ft:gpt-4.1-2025-04-14"


def test_fine_tune_without_a_rate_is_priced_at_its_base_with_one_warning(caplog):
    caplog.set_level(logging.WARNING, logger="tokentrail")
    t = load_table()
    model = "ft:gpt-5-2025-08-07:acme:support:xyz789"
    costs = [t.cost(model, _u(10_000, 2000, 4000), normalized=True) for _ in range(3)]
    assert costs[0].total == Decimal("0.028") and costs[0].pricing == "openai/gpt-5"    # gpt-5's rates
    assert t.resolve(model)[1] == "fine-tune base"
    msgs = [r.getMessage() for r in caplog.records if r.name == "tokentrail"]
    assert len(msgs) == 1
    assert model in msgs[0] and "openai/gpt-5" in msgs[0] and "'ft:gpt-5-2025-08-07'" in msgs[0]
    t.cost("ft:gpt-5-2025-08-07:acme:other:abc", _u(10, 10), normalized=True)           # another model: warned too
    assert len([r for r in caplog.records if r.name == "tokentrail"]) == 2


def test_fine_tune_rate_from_an_override_file(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="tokentrail")
    t = _override(tmp_path, "models:\n  'ft:gpt-5-2025-08-07': {input: 3.75, output: 30, cached_input: 0.375}\n")
    c = t.cost("ft:gpt-5-2025-08-07:acme::x", _u(1000, 1000), normalized=True)
    assert c.total == Decimal("0.03375") and c.pricing == "openai/ft:gpt-5-2025-08-07"
    assert t.resolve("ft:gpt-5-2025-08-07:acme::x")[1] == "fine-tune"
    assert not caplog.records


# ----------------------------------------------------------------- tiers in override files

def test_override_file_with_a_flex_section(tmp_path):
    t = _override(tmp_path, "models:\n"
                            "  gpt-4o: {flex: {input: 1.25, output: 5}}\n"              # a known model gains flex
                            "  my-model: {input: 2, output: 8, cached_input: 0.5,\n"
                            "             flex: {input: 1, output: 4, cached_input: 0.25},\n"
                            "             priority: {multiplier: 1.75}, geo: {EU: 1.2}}\n")
    u = _u(1000, 1000, 400)
    c = t.cost("gpt-4o-2024-08-06", u, normalized=True, tier="flex")
    # flex names no cached rate: gpt-4o's standard 1.25. 600*1.25 + 400*1.25 + 1000*5 = 6250 /1M
    assert (c.total, c.tier, c.pricing) == (Decimal("0.00625"), "flex", "openai/gpt-4o")
    assert t.get("gpt-4o").tier_map["priority"] == load_table().get("gpt-4o").tier_map["priority"]   # kept
    c = t.cost("my-model", u, normalized=True, tier="flex")
    assert (c.total, c.tier) == (Decimal("0.0047"), "flex")                       # 600*1 + 400*0.25 + 1000*4
    c = t.cost("my-model", u, normalized=True, tier="priority", geo="eu")
    # 1.75 * 1.2 * (600*2 + 400*0.5 + 1000*8) = 2.1 * 9400 /1M
    assert (c.total, c.tier, c.geo) == (Decimal("0.01974"), "priority", "eu")


def test_override_changes_a_tier_rate_and_a_multiplier_tier_follows_new_rates(tmp_path):
    known = load_table().get("gpt-5")
    t = _override(tmp_path, "models:\n  gpt-5: {input: 1, flex: {output: 4}}\n"
                            "  tiered: {input: 2, output: 8, fast: {multiplier: 2}}\n")
    flex = t.get("gpt-5").tier_map["flex"].rates
    assert (flex.input, flex.output, flex.cached_input) == (known.tier_map["flex"].rates.input, 4,
                                                            known.tier_map["flex"].rates.cached_input)
    p2 = tmp_path / "second.yaml"
    p2.write_text("models:\n  tiered: {input: 3}\n")
    t.add(parse_price_file(p2, base=t))
    fast = t.get("tiered").tier_map["fast"]
    assert (fast.rates.input, fast.rates.output, fast.multiplier) == (6, 16, 2)


TIER_MISTAKES = [
    pytest.param("gpt-4o: {flex: 0.5}", ["'flex' must be a mapping of rates", "not 0.5"], id="flex-scalar"),
    pytest.param("gpt-4o: {flex: {input: 1, ouptut: 2}}", ["flex: unknown field 'ouptut'", "'output'"],
                 id="flex-misspelled"),
    pytest.param("gpt-4o: {flx: {input: 1, output: 2}}", ["unknown field 'flx'", "did you mean 'flex'"],
                 id="tier-misspelled"),
    pytest.param("gpt-4o: {flex: {input: 1}}", ["'output' is missing", "a new flex tier"], id="new-tier-no-output"),
    pytest.param("gpt-4o: {priority: {multiplier: 2, input: 3}}", ["give it alone"], id="multiplier-and-rates"),
    pytest.param("gpt-4o: {priority: {multiplier: -1}}", ["multiplier must be a positive number"],
                 id="multiplier-negative"),
    pytest.param("gpt-4o: {flex: {input: 1, output: 2, long_context: {input: 3}}}",
                 ["flex, long_context", "'output' is missing"], id="tier-lc-no-output"),
    pytest.param("my-new: {input: 1, output: 2, flex: {input: 1, output: 2, long_context: {input: 2, output: 3}}}",
                 ["flex, long_context: no threshold"], id="tier-lc-no-threshold"),
    pytest.param("gpt-4o: {geo: 1.1}", ["'geo' must map regions to multipliers"], id="geo-scalar"),
    pytest.param("gpt-4o: {geo: {us: lots}}", ["geo 'us'", "positive number"], id="geo-text"),
]


@pytest.mark.parametrize("entry, words", TIER_MISTAKES)
def test_override_tier_mistakes_are_errors(tmp_path, entry, words):
    p = tmp_path / "mine.yaml"
    p.write_text(f"models:\n  {entry}\n")
    model = entry.split(":")[0]
    with pytest.raises(PricingError) as ei:
        load_table(p)
    msg = str(ei.value)
    assert msg.startswith(f"pricing file {str(p)!r}, line 2, model {model!r}"), msg
    for w in words:
        assert w in msg, (w, msg)
