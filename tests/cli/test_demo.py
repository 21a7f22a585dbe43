"""``tokentrail demo`` end to end (real SDK clients, attached, against the in-process fake API)."""

from __future__ import annotations

import json
import sqlite3
import time

from .conftest import assert_user_error, files_in, needs, read_events

#: Anything that would reach the network if the fake transport were bypassed.
NO_NETWORK = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
              "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
              "OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""}


def test_demo_writes_events_and_prints_the_report(cli, tmp_path):
    needs("attach", "capture", "analysis")
    t0 = time.perf_counter()
    proc = cli("demo", env=NO_NETWORK)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    print(f"tokentrail demo took {elapsed:.2f} s")
    assert elapsed < 15                      # ~2-3 s, most of it importing the two SDKs
    evs = read_events(tmp_path / "tokentrail.jsonl")
    names = {e["name"] for e in evs}
    assert {"openai.chat.completions.create", "openai.embeddings.create", "anthropic.messages.create",
            "classify_intent"} <= names
    import openai
    if hasattr(openai.OpenAI, "responses"):
        assert "openai.responses.create" in names and "Skipped" not in proc.stdout
    else:               # openai < 1.66: the demo skips that call, and says so in one line
        assert "openai.responses.create" not in names
        [line] = [ln for ln in proc.stdout.splitlines() if ln.startswith("Skipped")]
        assert line == f"Skipped the Responses API call (openai {openai.__version__} has no Responses API)."
    assert all(e["namespace"] == "demo" and e["metadata"].get("team") and e["metadata"].get("route")
               for e in evs)
    assert len({e["traceId"] for e in evs}) == 8
    streams = [e for e in evs if e.get("stream")]
    assert any(e["provider"] == "openai" and e["usage"]["completion_tokens"] > 0 for e in streams)
    assert any(e["usage"].get("cached_tokens") for e in streams if e["provider"] == "anthropic")
    assert any(e["usage"].get("cache_write_tokens") for e in streams if e["provider"] == "anthropic")
    failed = [e for e in evs if e["status"] == "error"]
    assert {e["error"]["status_code"] for e in failed} == {500, 429}
    assert any(e["fallback_model"] for e in evs)
    assert max(e["retry_attempt"] for e in evs) == 3
    out = proc.stdout
    assert "Wrote" in out and "tokentrail.jsonl" in out
    for kind in ("retry_loop", "overkill", "cache_savings"):
        assert kind in out, kind


def test_demo_sqlite_quiet_then_json_reports_only_its_own_run(cli, tmp_path):
    needs("attach", "capture", "analysis")
    proc = cli("demo", "--sink", "sqlite:///demo.db", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "sqlite:///demo.db\n"
    proc = cli("demo", "--sink", "sqlite:///demo.db", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)            # stdout is only the JSON report; the summary is on stderr
    assert "Wrote" in proc.stderr and rep["filters"]["namespace"] == "demo"
    n = sqlite3.connect(tmp_path / "demo.db").execute("SELECT count(*) FROM events").fetchone()[0]
    assert n == 2 * (rep["totals"]["calls"] + rep.get("other_events", 0))


def test_demo_bad_sinks_write_nothing(cli, tmp_path):
    assert_user_error(cli("demo", "--sink", "kafka://broker/topic"), 2, "unknown sink scheme", "kafka://")
    (tmp_path / "afile").write_text("x")
    assert_user_error(cli("demo", "--sink", "afile/events.jsonl"), 1, "not a directory")
    (tmp_path / "dir.jsonl").mkdir()
    assert_user_error(cli("demo", "--sink", "dir.jsonl"), 1, "is a directory")
    assert_user_error(cli("demo", "--format", "yaml"), 2, "invalid choice")
    assert files_in(tmp_path) == {"afile", "dir.jsonl"}
