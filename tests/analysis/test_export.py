"""`tokentrail.export_models` / `export_prompts`: the earlier prompt logger's JSONL line shapes."""

from __future__ import annotations

import json

import pytest

import tokentrail
from tokentrail.analysis import InputError
from tokentrail.export import model_id

from .helpers import at, call

PROMPT_KEYS = {"id", "namespace", "model", "messages", "generation_kwargs", "completions", "inference_on",
               "inference_seconds", "usage", "cost"}


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "calls.db"
    chat = call(trace="a", t=0, model="gpt-4o", prompt="hello", input={
        "model": "gpt-4o", "prompt": "hello", "messages": [{"role": "user", "content": "hello"}],
        "params": {"temperature": 0.1}}, output={"response": "hi there"}, latency_ms=1500)
    text = call(trace="b", t=5, model="gpt-4o-mini", prompt="plain prompt", output={"response": "ok"})
    other_ns = call(trace="c", t=10, model="claude-haiku-4-5", namespace="team-b")
    again = call(trace="d", t=20, model="gpt-4o", input={"model": "gpt-4o", "prompt": "again"})
    span = dict(call(trace="a", t=0), id="span-1", type="span", name="wrapper")
    emb = dict(call(trace="e", t=30, model="text-embedding-3-small"), type="embedding")
    sink = tokentrail.SqliteSink("sqlite:///" + str(path))
    sink.write_batch([chat, text, other_ns, again, span, emb])
    sink.close()
    return f"sqlite:///{path}", {"chat": chat, "text": text, "other": other_ns, "again": again}


def read(path) -> list[dict]:
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_export_models(db, tmp_path):
    url, ev = db
    out = tmp_path / "models.jsonl"
    assert tokentrail.export_models(str(out), database=url) == 3
    lines = read(out)
    assert [m["name"] for m in lines] == ["gpt-4o", "gpt-4o-mini", "claude-haiku-4-5"]
    first = lines[0]
    assert {"id", "namespace", "name", "provider", "created"} <= set(first)
    assert first["id"] == model_id("default", "gpt-4o")
    assert first["created"] == at(0) and first["provider"] == "openai" and first["calls"] == 2
    assert first["cost"] == pytest.approx(ev["chat"]["cost"] + ev["again"]["cost"])
    assert lines[2]["namespace"] == "team-b"
    # stable ids: a second export gives the same lines
    tokentrail.export_models(str(out), database=url)
    assert read(out) == lines


def test_export_models_filters(db, tmp_path):
    url, _ = db
    out = tmp_path / "m.jsonl"
    assert tokentrail.export_models(str(out), database=url, namespace="team-b") == 1
    assert tokentrail.export_models(str(out), database=url, models=["gpt-4o-mini", "nope"]) == 1
    assert read(out)[0]["name"] == "gpt-4o-mini"
    assert tokentrail.export_models(str(out), database=url, models="gpt-4o,claude-haiku-4-5") == 2


def test_export_prompts(db, tmp_path):
    url, ev = db
    out = tmp_path / "prompts.jsonl"
    assert tokentrail.export_prompts(str(out), database=url) == 4       # no span, no embedding
    lines = read(out)
    assert all(set(line) == PROMPT_KEYS for line in lines)
    chat = lines[0]
    assert chat["id"] == ev["chat"]["id"] and chat["model"] == "gpt-4o" and chat["namespace"] == "default"
    assert chat["messages"] == [{"role": "user", "content": "hello"}]
    assert chat["generation_kwargs"] == {"temperature": 0.1}
    assert chat["completions"] == ["hi there"]
    assert chat["inference_on"] == at(0) and chat["inference_seconds"] == 1.5
    assert chat["usage"]["prompt_tokens"] == 120 and chat["cost"] == ev["chat"]["cost"]
    text = lines[1]
    assert text["messages"] == [{"role": "user", "content": "plain prompt"}]
    assert text["generation_kwargs"] == {} and text["completions"] == ["ok"]


def test_export_prompts_by_type_namespace_and_model(db, tmp_path):
    url, _ = db
    out = tmp_path / "p.jsonl"
    assert tokentrail.export_prompts(str(out), database=url, type="chat") == 1
    assert tokentrail.export_prompts(str(out), database=url, type="text") == 3
    assert tokentrail.export_prompts(str(out), database=url, namespace="team-b") == 1
    assert tokentrail.export_prompts(str(out), database=url, models=["gpt-4o"]) == 2
    with pytest.raises(InputError, match="chat or text"):
        tokentrail.export_prompts(str(out), database=url, type="audio")


def test_export_to_stdout(db, capsys):
    url, _ = db
    assert tokentrail.export_models("-", database=url) == 3
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_export_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        tokentrail.export_models(str(tmp_path / "o.jsonl"), database=f"sqlite:///{tmp_path / 'missing.db'}")
    with pytest.raises(InputError, match="SQLite or PostgreSQL"):
        tokentrail.export_prompts(str(tmp_path / "o.jsonl"), database="mysql://x/y")
    with pytest.raises(InputError, match="cannot connect to postgresql://x/y"):
        tokentrail.export_prompts(str(tmp_path / "o.jsonl"), database="postgresql://x/y")
    assert not (tmp_path / "o.jsonl").exists()
