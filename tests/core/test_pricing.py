"""Cost arithmetic and model-id resolution, checked against hand-computed values."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
import yaml

import tokentrail
from tokentrail._pricing import PriceTable, PricingError, load_table, parse_price_file
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
"""


@pytest.fixture
def table(tmp_path) -> PriceTable:
    p = tmp_path / "prices.yaml"
    p.write_text(TEST_PRICES)
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
    ("ft:plain-1-2024-07-18:org:name:id9", "plain-1", "snapshot"),
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
