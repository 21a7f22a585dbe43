"""``tokentrail log``: hand-written events and the retry / fallback / overkill simulations.

The simulations must be recognised by ``crashlens scan`` (its rules are restated in
crashlens_rules.py) and by ``tokentrail report``.
"""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from tokentrail._time import parse_ts

from . import crashlens_rules as cl
from .conftest import assert_user_error, files_in, needs, read_events

LOGGED = re.compile(r"^Logged: model=(\S+), traceId=(\S+), cost=\$(\d+\.\d+)$")
PROMPT = "Summarize the quarterly sales report for the EMEA region in three bullet points."


def logged_lines(stdout: str) -> list[tuple[str, str, float]]:
    return [(m[1], m[2], float(m[3])) for m in map(LOGGED.match, stdout.splitlines()) if m]


def test_one_event_to_the_default_file(cli, tmp_path):
    proc = cli("log", "--model", "gpt-4o", "--prompt", "Summarize the Q3 report", "--response", "Revenue grew 8%")
    assert proc.returncode == 0, proc.stderr
    [ev] = read_events(tmp_path / "tokentrail.jsonl")
    assert logged_lines(proc.stdout) == [("gpt-4o", ev["traceId"], round(ev["cost"], 6))]
    assert "Wrote 1 event to tokentrail.jsonl" in proc.stdout
    assert ev["input"] == {"model": "gpt-4o", "prompt": "Summarize the Q3 report"}
    assert ev["output"]["response"] == "Revenue grew 8%"
    assert ev["status"] == "success" and ev["level"] == "info" and ev["pricing"] == "openai/gpt-4o"
    u = ev["usage"]
    assert u["estimated"] is True and u["prompt_tokens"] > 0 and u["completion_tokens"] > 0
    assert ev["cost"] == pytest.approx((u["prompt_tokens"] * 2.5 + u["completion_tokens"] * 10) / 1e6)
    assert cl.parseable(ev)


def test_exact_tokens_trace_id_metadata_and_sqlite_output(cli, tmp_path):
    proc = cli("log", "--model", "gpt-4o-2024-08-06", "--prompt", "p", "--prompt-tokens", "1000",
               "--completion-tokens", "500", "--trace-id", "req-42", "--metadata", "team=search",
               "--output", "sqlite:///calls.db")
    assert proc.returncode == 0, proc.stderr
    [[event]] = sqlite3.connect(tmp_path / "calls.db").execute("SELECT event FROM events").fetchall()
    ev = json.loads(event)
    assert ev["traceId"] == "req-42" and ev["metadata"]["team"] == "search"
    assert ev["usage"]["prompt_tokens"] == 1000 and "estimated" not in ev["usage"]
    assert ev["cost"] == pytest.approx(0.0075)          # 1000 x $2.5/1M + 500 x $10/1M
    assert "cost=$0.007500" in proc.stdout


def test_config_overrides_prices_in_both_formats(cli, tmp_path):
    (tmp_path / "mine.yaml").write_text("models:\n  gpt-4o: {input: 1, output: 1}\n")
    (tmp_path / "old.yaml").write_text("pricing:\n  my-model:\n    input_rate_per_1m: 2.0\n"
                                       "    output_rate_per_1m: 4.0\n")
    args = ["--prompt", "p", "--prompt-tokens", "1000000", "--completion-tokens", "1000000", "--output", "o.jsonl"]
    assert cli("log", "--model", "gpt-4o", "--config", "mine.yaml", *args).returncode == 0
    assert cli("log", "--model", "my-model", "--config", "old.yaml", *args).returncode == 0
    a, b = read_events(tmp_path / "o.jsonl")
    assert a["cost"] == pytest.approx(2.0) and b["cost"] == pytest.approx(6.0)
    assert b["pricing"] == "user/my-model"


def test_simulate_retries(cli, tmp_path):
    proc = cli("log", "--model", "gpt-4", "--prompt", PROMPT, "--simulate-retries", "3", "--output", "r.jsonl")
    assert proc.returncode == 0, proc.stderr
    evs = read_events(tmp_path / "r.jsonl")
    assert len(evs) == 4 and len(logged_lines(proc.stdout)) == 4
    assert len({e["traceId"] for e in evs}) == 1
    assert {(e["input"]["model"], e["input"]["prompt"]) for e in evs} == {("gpt-4", PROMPT)}
    *failed, last = evs
    for n, e in enumerate(failed):
        assert e["level"] == "error" and e["status"] == "error"
        assert e["error"]["type"] == "RateLimitError" and e["error"]["status_code"] == 429
        assert e["usage"]["completion_tokens"] == 0 and e["retry_attempt"] == n
    assert last["status"] == "success" and last["retry_attempt"] == 3 and "error" not in last
    starts = [parse_ts(e["startTime"]) for e in evs]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(g >= 2 for g in gaps) and gaps == sorted(gaps) and starts[-1] - starts[0] < 120
    assert all(cl.parseable(e) for e in evs)
    assert cl.retry_loop(evs)


def test_simulate_fallback(cli, tmp_path):
    proc = cli("log", "--model", "gpt-4o", "--prompt", "Classify this ticket: wrong VAT number",
               "--simulate-fallback", "--output", "f.jsonl")
    assert proc.returncode == 0, proc.stderr
    evs = read_events(tmp_path / "f.jsonl")
    assert [e["input"]["model"] for e in evs] == ["gpt-3.5-turbo", "gpt-4", "gpt-4o"]
    assert [e["status"] for e in evs] == ["error", "error", "success"]
    assert [e["fallback_model"] for e in evs] == [None, "gpt-3.5-turbo", "gpt-4"]
    assert evs[1]["metadata"]["fallback_attempted"] is True
    assert evs[1]["metadata"]["fallback_reason"].startswith("RateLimitError")
    assert all(cl.parseable(e) for e in evs)
    assert cl.fallback_storm(evs) and cl.fallback_failure(evs)


def test_simulate_overkill(cli, tmp_path):
    proc = cli("log", "--simulate-overkill", "--output", "o.jsonl")
    assert proc.returncode == 0, proc.stderr
    [ev] = read_events(tmp_path / "o.jsonl")
    assert ev["input"] == {"model": "gpt-4", "prompt": "Hi"} and cl.overkill(ev)
    # a cheap model is swapped for an expensive one, with a note
    proc = cli("log", "--simulate-overkill", "--model", "gpt-4o-mini", "--prompt", "hello", "--output", "o.jsonl")
    assert "uses gpt-4" in proc.stderr
    assert read_events(tmp_path / "o.jsonl")[-1]["input"]["model"] == "gpt-4"


def test_demo_mix_triggers_every_rule(cli, tmp_path):
    proc = cli("log", "--demo", "--output", "d.jsonl")
    assert proc.returncode == 0, proc.stderr
    evs = read_events(tmp_path / "d.jsonl")
    by_trace = cl.traces(evs)
    assert len(evs) == 8 and len(by_trace) == 3
    assert all(cl.parseable(e) for e in evs)
    assert sum(cl.retry_loop(t) for t in by_trace.values()) == 1
    assert sum(cl.fallback_storm(t) for t in by_trace.values() if not cl.retry_loop(t)) == 1
    assert any(cl.overkill(e) for e in evs)
    starts = sorted(e["startTime"] for e in evs)
    assert all(len(s) == 24 for s in starts)             # one fixed-width format


def test_dev_mode_writes_nothing(cli, tmp_path):
    proc = cli("log", "--model", "gpt-4", "--prompt", PROMPT, "--simulate-retries", "3", "--dev-mode")
    assert proc.returncode == 0, proc.stderr
    assert files_in(tmp_path) == set()
    assert proc.stdout.count("ERROR RateLimitError (429)") == 3
    assert "nothing was written" in proc.stdout and "Logged:" not in proc.stdout


def test_report_recognises_the_simulations(cli, tmp_path):
    needs("analysis")
    assert cli("log", "--demo", "--output", "d.jsonl").returncode == 0
    proc = cli("report", "d.jsonl", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    kinds = {f["kind"] for f in json.loads(proc.stdout)["findings"]}
    assert "retry_loop" in kinds and "overkill" in kinds
    assert kinds & {"fallback_storm", "fallback_chain"}


# --------------------------------------------------------------------------- bad input

def test_missing_required_flags(cli, tmp_path):
    assert_user_error(cli("log", "--prompt", "x"), 2, "--model")
    assert_user_error(cli("log", "--model", "gpt-4"), 2, "--prompt")
    assert_user_error(cli("log", "--model", "gpt-4", "--prompt", "  "), 2, "empty")
    assert files_in(tmp_path) == set()


@pytest.mark.parametrize("args, words", [
    (["--simulate-retries", "0"], ["at least 1"]),
    (["--simulate-retries", "many"], ["not a whole number"]),
    (["--simulate-retries", "3", "--simulate-fallback"], ["not allowed with"]),
    (["--prompt-tokens", "-5"], ["0 or more"]),
    (["--metadata", "team"], ["KEY=VALUE"]),
    (["--output", "s3://bucket/x.jsonl"], ["unknown sink scheme", "s3://"]),
    (["--output", "sqlite:/x.db"], ["not a SQLite URL"]),
    (["--output", "memory"], ["memory", "nothing would be kept"]),
])
def test_invalid_values_are_usage_errors(cli, tmp_path, args, words):
    proc = cli("log", "--model", "gpt-4", "--prompt", "p", *args)
    assert_user_error(proc, 2, *words)
    assert files_in(tmp_path) == set()


def test_demo_with_trace_id_is_a_usage_error(cli, tmp_path):
    assert_user_error(cli("log", "--demo", "--trace-id", "t1"), 2, "--trace-id", "--demo")
    assert files_in(tmp_path) == set()


def test_bad_config_writes_nothing(cli, tmp_path):
    assert_user_error(cli("log", "--model", "gpt-4", "--prompt", "p", "--config", "nope.yaml"), 1,
                      "nope.yaml", "does not exist")
    (tmp_path / "broken.yaml").write_text("models:\n  gpt-4: {input: 1\n")
    assert_user_error(cli("log", "--model", "gpt-4", "--prompt", "p", "--config", "broken.yaml"), 1,
                      "broken.yaml", "invalid YAML")
    assert files_in(tmp_path) == {"broken.yaml"}


def test_unwritable_output(cli, tmp_path):
    (tmp_path / "adir").mkdir()
    assert_user_error(cli("log", "--model", "gpt-4", "--prompt", "p", "--output", "adir"), 1, "is a directory")
    (tmp_path / "afile").write_text("x")
    assert_user_error(cli("log", "--model", "gpt-4", "--prompt", "p", "--output", "afile/x.jsonl"), 1,
                      "not a directory")
    (tmp_path / "notdb.db").write_text("hello")
    assert_user_error(cli("log", "--model", "gpt-4", "--prompt", "p", "--output", "sqlite:///notdb.db"), 1,
                      "not a SQLite database")
    assert (tmp_path / "afile").read_text() == "x" and (tmp_path / "notdb.db").read_text() == "hello"
    assert files_in(tmp_path) == {"adir", "afile", "notdb.db"}


def test_unknown_model_is_priced_as_unknown_with_a_warning(cli, tmp_path):
    proc = cli("log", "--model", "my-private-model", "--prompt", "p")
    assert proc.returncode == 0
    assert "tokentrail: warning: no price for model 'my-private-model'" in proc.stderr
    [ev] = read_events(tmp_path / "tokentrail.jsonl")
    assert ev["pricing"] == "unknown" and ev["cost"] == 0


def test_output_that_is_a_sqlite_database_without_the_scheme_is_refused(cli, tmp_path):
    assert cli("log", "--model", "gpt-4o", "--prompt", "one", "--output", "sqlite:///calls.db").returncode == 0
    sqlite3.connect(tmp_path / "calls.db").execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = (tmp_path / "calls.db").read_bytes()
    proc = cli("log", "--model", "gpt-4o", "--prompt", "two", "--output", "calls.db")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == ("tokentrail: error: --output: 'calls.db' is a SQLite database, not a JSONL file; "
                           "write it as sqlite:///calls.db\n")
    proc = cli("log", "--model", "gpt-4o", "--prompt", "two", env={"TOKENTRAIL_SINK": "calls.db"})
    assert proc.returncode == 1 and proc.stderr == ("tokentrail: error: TOKENTRAIL_SINK: 'calls.db' is a SQLite "
                                                    "database, not a JSONL file; write it as sqlite:///calls.db\n")
    (tmp_path / "old.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03")
    assert_user_error(cli("log", "--model", "gpt-4o", "--prompt", "two", "--output", "old.jsonl.gz"), 1,
                      "--output: 'old.jsonl.gz' is a binary file, not JSONL text")
    assert (tmp_path / "calls.db").read_bytes() == before
    assert (tmp_path / "old.jsonl.gz").read_bytes() == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"


def test_errors_name_tokentrail_sink_when_the_value_came_from_it(cli, tmp_path):
    (tmp_path / "adir").mkdir()
    proc = cli("log", "--model", "gpt-4", "--prompt", "p", env={"TOKENTRAIL_SINK": "adir"})
    assert proc.returncode == 1
    assert proc.stderr == ("tokentrail: error: 'adir' (TOKENTRAIL_SINK) is a directory; give a file name such as "
                           "adir/events.jsonl\n")
    assert_user_error(cli("log", "--model", "gpt-4", "--prompt", "p", env={"TOKENTRAIL_SINK": "s3://b/x"}), 2,
                      "TOKENTRAIL_SINK: unknown sink scheme")
    assert_user_error(cli("log", "--model", "gpt-4", "--prompt", "p", "--output", "adir",
                          env={"TOKENTRAIL_SINK": "other.jsonl"}), 1, "'adir' (--output) is a directory")
    assert files_in(tmp_path) == {"adir"}
