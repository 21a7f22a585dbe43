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


# --------------------------------------------------------------------------- OUT is never lost

def names(folder) -> list[str]:
    """The files in ``folder``, without the -wal/-shm files a reader of a WAL database may leave."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm")))


def test_out_that_is_the_database_is_refused(db, tmp_path):
    url, _ = db
    path = tmp_path / "calls.db"
    before = path.read_bytes()
    (tmp_path / "link.db").symlink_to(path)
    spellings = (str(path), f"{tmp_path}/./calls.db", f"{tmp_path}/../{tmp_path.name}/calls.db", path,
                 str(tmp_path / "link.db"))
    for out in spellings:
        with pytest.raises(InputError, match=r"is the database being exported.* would destroy it; give another OUT"):
            tokentrail.export_models(out, database=url)
        with pytest.raises(InputError, match="is the database being exported"):
            tokentrail.export_prompts(out, database=url)
    assert path.read_bytes() == before and tokentrail.export_models("-", database=url) == 3


def test_existing_out_is_replaced_atomically(db, tmp_path):
    url, _ = db
    out = tmp_path / "prompts.jsonl"
    out.write_text("an older export\n")
    out.chmod(0o640)
    assert tokentrail.export_prompts(str(out), database=url) == 4       # the API replaces without asking
    assert len(read(out)) == 4 and oct(out.stat().st_mode & 0o777) == oct(0o640)
    (tmp_path / "latest.jsonl").symlink_to(out)                  # through a link, the file it names is replaced
    assert tokentrail.export_prompts(str(tmp_path / "latest.jsonl"), database=url, type="chat") == 1
    assert (tmp_path / "latest.jsonl").is_symlink() and len(read(out)) == 1
    assert names(tmp_path) == ["calls.db", "latest.jsonl", "prompts.jsonl"]   # no temporary file left


def test_failed_export_leaves_out_as_it_was(db, tmp_path, monkeypatch):
    url, _ = db
    out = tmp_path / "keep.jsonl"
    out.write_text("precious\n")
    import tokentrail.export as export
    real, calls = export._prompt_line, []

    def fail_on_the_second_line(ns, ev):
        calls.append(ev)
        if len(calls) == 2:
            raise InputError("the database went away")
        return real(ns, ev)
    monkeypatch.setattr(export, "_prompt_line", fail_on_the_second_line)
    with pytest.raises(InputError, match="went away"):
        tokentrail.export_prompts(str(out), database=url)
    assert out.read_text() == "precious\n"
    assert names(tmp_path) == ["calls.db", "keep.jsonl"]                  # no temporary file left


def test_events_table_without_the_columns(tmp_path):
    import sqlite3
    conn = sqlite3.connect(tmp_path / "foreign.db")
    conn.execute("CREATE TABLE events (id TEXT, namespace TEXT, event TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match=r"^'sqlite:///.*foreign.db' has an 'events' table without the columns "
                                         r"type, start_time, so it was not written by tokentrail's SQLite sink"):
        tokentrail.export_prompts(str(tmp_path / "o.jsonl"), database=f"sqlite:///{tmp_path / 'foreign.db'}")
    assert not (tmp_path / "o.jsonl").exists()
