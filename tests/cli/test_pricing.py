"""``tokentrail pricing list | show | init`` end to end."""

from __future__ import annotations

import csv
import io
import json

import pytest

import tokentrail
from tokentrail._config import price_table

from .conftest import assert_user_error, files_in

BROKEN_YAML = "models:\n  gpt-4o:\n    input: [1, 2\n    output: 3\n"


def test_list_table_json_csv(cli):
    proc = cli("pricing", "list")
    assert proc.returncode == 0, proc.stderr
    assert "gpt-4o" in proc.stdout and "claude-sonnet-4-5" in proc.stdout
    assert "USD per 1M tokens" in proc.stdout

    rows = json.loads(cli("pricing", "list", "--provider", "anthropic", "--format", "json").stdout)
    assert rows and {r["provider"] for r in rows} == {"anthropic"}
    sonnet = next(r for r in rows if r["model"] == "claude-sonnet-4-5")
    assert sonnet["input"] == 3 and sonnet["output"] == 15 and sonnet["cache_write_1h"] == 6
    assert sonnet["long_context"]["threshold"] == 200000 and sonnet["batch"]["input"] == 1.5

    out = cli("pricing", "list", "gpt-4o", "--format", "csv").stdout
    table = list(csv.DictReader(io.StringIO(out)))
    assert table and all("gpt-4o" in r["model"] or "gpt-4o" in r["aliases"] for r in table)
    assert {"model", "input", "output", "cached_input", "batch_input"} <= set(table[0])


def test_list_bad_values(cli):
    assert_user_error(cli("pricing", "list", "--provider", "azure-foundry"), 2, "no provider", "anthropic, openai")
    assert_user_error(cli("pricing", "list", "no-such-model-xyz"), 1, "no priced model")
    assert_user_error(cli("pricing", "list", "--format", "xml"), 2, "invalid choice")


@pytest.mark.parametrize("model, rule, key", [
    ("gpt-4o", "exact", "gpt-4o"),
    ("gpt-4o-2024-08-06", "alias", "gpt-4o"),
    ("gpt-4o-mini-2099-01-01", "snapshot", "gpt-4o-mini"),
    ("openai/gpt-4o", "prefix", "gpt-4o"),
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock", "claude-sonnet-4-5"),
    ("claude-sonnet-4-5@20250929", "vertex", "claude-sonnet-4-5"),
    ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "fine-tune", "ft:gpt-4o-mini-2024-07-18"),
    ("ft:gpt-5-2025-08-07:acme::abc123", "fine-tune base", "gpt-5"),
])
def test_show_explains_resolution(cli, model, rule, key):
    data = json.loads(cli("pricing", "show", model, "--format", "json").stdout)
    assert data["rule"].startswith(rule), data
    assert data["entry"]["model"] == key
    assert data["tried"][-1]["matched"].startswith(key)
    assert data["tried"][0] == {"id": model, "rule": "exact", "matched": data["tried"][0]["matched"]}


def test_show_table_lists_every_rate(cli):
    proc = cli("pricing", "show", "claude-sonnet-4-5-20250929")
    assert proc.returncode == 0, proc.stderr
    for words in ("resolves to  anthropic/claude-sonnet-4-5", "input", "output", "cached input",
                  "cache write 5m", "cache write 1h", "long context", "200,000", "batch API", "checked"):
        assert words in proc.stdout, words


def test_show_unknown_model(cli):
    proc = cli("pricing", "show", "gpt4o")
    line = assert_user_error(proc, 1, "no price for model 'gpt4o'", "pricing: unknown")
    assert "gpt-4o" in line            # a close match is suggested


def test_init_writes_a_file_that_configure_loads(cli, tmp_path):
    proc = cli("pricing", "init")
    assert proc.returncode == 0, proc.stderr
    path = tmp_path / "tokentrail-pricing.yaml"
    text = path.read_text()
    assert text.startswith("#") and "models:" in text and "input_rate_per_1m" in text
    tokentrail.configure(pricing=str(path))
    try:
        entry, how = price_table().resolve("llama-70b-prod")
        assert entry is not None and entry.key == "my-company/llama-3.1-70b" and how == "alias"
        gpt4o, _ = price_table().resolve("gpt-4o")
        assert float(gpt4o.rates.input) == 2.5            # the commented examples change nothing
    finally:
        tokentrail.configure(pricing=None)
    # and it is what `pricing show --pricing` reads
    data = json.loads(cli("pricing", "show", "my-company/llama-3.1-70b", "--pricing", str(path),
                          "--format", "json").stdout)
    assert data["entry"]["source"] == str(path) and data["entry"]["input"] == 0.6


def test_init_refuses_to_overwrite_without_force(cli, tmp_path):
    target = tmp_path / "prices.yaml"
    target.write_text("mine: {}\n")
    assert_user_error(cli("pricing", "init", "prices.yaml"), 1, "already exists", "--force")
    assert target.read_text() == "mine: {}\n"
    assert cli("pricing", "init", "prices.yaml", "--force").returncode == 0
    assert "models:" in target.read_text()
    assert files_in(tmp_path) == {"prices.yaml"}       # no temporary file left behind


def test_init_bad_targets(cli, tmp_path):
    (tmp_path / "sub").mkdir()
    assert_user_error(cli("pricing", "init", "sub"), 1, "is a directory")
    assert_user_error(cli("pricing", "init", "nodir/prices.yaml"), 1, "does not exist")
    assert files_in(tmp_path) == {"sub"}


def test_broken_and_missing_price_files(cli, tmp_path):
    (tmp_path / "broken.yaml").write_text(BROKEN_YAML)
    line = assert_user_error(cli("pricing", "show", "gpt-4o", "--pricing", "broken.yaml"), 1, "invalid YAML")
    assert "line" in line
    assert_user_error(cli("pricing", "list", "--pricing", "missing.yaml"), 1, "does not exist")
    proc = cli("pricing", "list", env={"TOKENTRAIL_PRICING": "broken.yaml"})
    assert_user_error(proc, 1, "broken.yaml", "invalid YAML")
    (tmp_path / "binary.yaml").write_bytes(b"\x00\xff\xfe garbage \x89PNG")
    assert_user_error(cli("pricing", "list", "--pricing", "binary.yaml"), 1, "binary.yaml")


# ----------------------------------------------------------------- override files (QA's reports)

def test_snapshot_override_keeps_the_known_models_other_rates(cli, tmp_path):
    (tmp_path / "a.yaml").write_text("models:\n  gpt-4o-2024-08-06: {input: 2.0}\n")
    known = json.loads(cli("pricing", "show", "gpt-4o", "--format", "json").stdout)["entry"]
    data = json.loads(cli("pricing", "show", "gpt-4o-2024-08-06", "--pricing", "a.yaml", "--format", "json").stdout)
    e = data["entry"]
    assert data["resolved"] == "openai/gpt-4o-2024-08-06" and e["source"] == "a.yaml"
    assert e["input"] == 2.0 and e["output"] == known["output"] == 10
    assert e["cached_input"] == known["cached_input"] == 1.25 and e["batch"] == known["batch"]
    proc = cli("log", "--model", "gpt-4o-2024-08-06", "--prompt", "x", "--prompt-tokens", "1000",
               "--completion-tokens", "1000", "--config", "a.yaml", "--output", "o.jsonl")
    assert proc.returncode == 0, proc.stderr
    [ev] = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert ev["cost"] == 0.012 and ev["pricing"] == "openai/gpt-4o-2024-08-06"   # 1000*2/1M + 1000*10/1M


def test_overridden_model_stays_with_its_provider(cli, tmp_path):
    (tmp_path / "b.yaml").write_text("models:\n  gpt-4o: {input: 2.0, output: 8.0}\n")
    show = cli("pricing", "show", "gpt-4o", "--pricing", "b.yaml")
    assert "resolves to  openai/gpt-4o  (rule: exact)" in show.stdout, show.stdout
    rows = json.loads(cli("pricing", "list", "--provider", "openai", "--pricing", "b.yaml", "--format", "json").stdout)
    [row] = [r for r in rows if r["model"] == "gpt-4o"]
    assert (row["provider"], row["input"], row["output"], row["source"]) == ("openai", 2.0, 8.0, "b.yaml")


def test_aliases_written_as_one_string(cli, tmp_path):
    (tmp_path / "c.yaml").write_text("models:\n  my-model: {input: 1, output: 2, aliases: prod-model}\n")
    assert "  aliases   prod-model\n" in cli("pricing", "show", "my-model", "--pricing", "c.yaml").stdout
    data = json.loads(cli("pricing", "show", "prod-model", "--pricing", "c.yaml", "--format", "json").stdout)
    assert data["rule"] == "alias" and data["entry"]["aliases"] == ["prod-model"]


@pytest.mark.parametrize("entry, words", [
    ("new-model: {output: 1}", ["'new-model'", "'input' is missing", "needs both 'input' and 'output'"]),
    ("gpt-4o: {inptu_cached: 3}", ["'gpt-4o'", "unknown field 'inptu_cached'", "did you mean 'cached_input'"]),
    ("gpt-4o: {batch: 5}", ["'batch' must be a mapping"]),
    ("gpt-4o: {long_context: 7}", ["'long_context' must be a mapping"]),
    ("gpt-4o: {long_context: {input: 6, output: 22.5}}", ["no threshold", "threshold: N"]),
    ("gpt-4o: {long_context: {threshold: big, input: 6, output: 22.5}}", ["whole number of prompt tokens"]),
], ids=["new-model-no-input", "misspelled-field", "batch-scalar", "lc-scalar", "lc-no-threshold", "lc-threshold"])
def test_override_file_mistakes_exit_1_with_one_line(cli, tmp_path, entry, words):
    (tmp_path / "d.yaml").write_text(f"models:\n  {entry}\n")
    for args in (("pricing", "show", "gpt-4o", "--pricing", "d.yaml"),
                 ("log", "--model", "gpt-4o", "--prompt", "x", "--config", "d.yaml", "--output", "o.jsonl")):
        line = assert_user_error(cli(*args), 1, "d.yaml", "line 2", *words)
        assert "a price must be" not in line
    assert files_in(tmp_path) == {"d.yaml"}          # nothing logged with wrong prices


def test_init_dash_prints_the_template(cli, tmp_path):
    proc = cli("pricing", "init", "-")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# tokentrail price overrides") and "models:" in proc.stdout
    assert files_in(tmp_path) == set()               # no file named '-'
    (tmp_path / "mine.yaml").write_text(proc.stdout)
    data = json.loads(cli("pricing", "show", "llama-70b-prod", "--pricing", "mine.yaml", "--format", "json").stdout)
    assert data["entry"]["model"] == "my-company/llama-3.1-70b" and data["entry"]["input"] == 0.6
