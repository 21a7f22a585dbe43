"""No credential ever reaches a sink; with capture_content=False no prompt or completion does."""

from __future__ import annotations

import sqlite3

import pytest

import tokentrail

from .conftest import (ANTHROPIC_KEY, AUTH_HEADER, EXTRA_HEADER, OPENAI_KEY, X_API_KEY, CredentialScan,
                       anthropic_client, assert_no_credentials, attach_or_skip, openai_client, read_jsonl,
                       record)

PROMPT = "SECRET-PROMPT the user's private question about invoice 8812"
SYSTEM = "SECRET-SYSTEM you are the billing assistant"
COMPLETION = "SECRET-COMPLETION the invoice was paid on the 3rd"


def _all_sinks(tmp_path, capsys=None):
    path, db = tmp_path / "calls.jsonl", tmp_path / "calls.db"
    mem = tokentrail.MemorySink()
    tokentrail.configure(sink=[str(path), f"sqlite:///{db}", "stdout", mem])
    return path, db, mem


def _everything_written(path, db, mem, capsys) -> str:
    assert tokentrail.flush()
    text = path.read_text()
    text += "\n".join(r[0] for r in sqlite3.connect(db).execute("SELECT event FROM events"))
    text += capsys.readouterr().out
    import json
    text += "\n".join(json.dumps(e) for e in mem.events)
    return text


def test_capture_content_off_keeps_text_out_of_every_sink(writer, tmp_path, capsys):
    path, db, mem = _all_sinks(tmp_path)
    tokentrail.configure(capture_content=False)
    from tokentrail._recorder import start_call
    c = start_call("anthropic", "anthropic.messages.create", request_model="claude-haiku-4-5",
                   messages=[{"role": "user", "content": [{"type": "text", "text": PROMPT}]}], system=SYSTEM)
    c.usage = {"input_tokens": 12, "output_tokens": 7}
    c.response_text = COMPLETION
    c.finish()
    record(1, prompt=PROMPT, response=COMPLETION)
    tokentrail.log_event(input={"model": "gpt-4o-mini", "prompt": PROMPT,
                                "messages": [{"role": "user", "content": PROMPT}]},
                         output={"response": COMPLETION}, usage={"prompt_tokens": 10, "completion_tokens": 5})
    tokentrail.log_interaction(PROMPT, COMPLETION, model="gpt-4o-mini")
    text = _everything_written(path, db, mem, capsys)
    assert len(mem.events) == 4
    assert "SECRET-" not in text
    assert all(e["input"]["prompt"] == "" for e in mem.events)
    assert all(e["usage"]["prompt_tokens"] > 0 for e in mem.events)   # the numbers are still there


def test_capture_content_off_from_the_environment(tmp_path):
    from .conftest import run_python
    path = tmp_path / "calls.jsonl"
    run_python(f"""
import tokentrail
tokentrail.log_event(input={{"model": "gpt-4o-mini", "prompt": {PROMPT!r}}}, output={{"response": {COMPLETION!r}}},
                     usage={{"prompt_tokens": 10, "completion_tokens": 5}})
""", env={"TOKENTRAIL_CAPTURE_CONTENT": "false", "TOKENTRAIL_SINK": str(path)})
    events, _ = read_jsonl(path)
    assert len(events) == 1 and "SECRET-" not in path.read_text()


def test_credentials_in_logged_params_are_not_recorded(writer, tmp_path, capsys):
    path, db, mem = _all_sinks(tmp_path)
    tokentrail.log_event(input={"model": "gpt-4o-mini", "prompt": "hi",
                                "params": {"temperature": 0.2, "api_key": OPENAI_KEY,
                                           "extra_headers": {"Authorization": AUTH_HEADER, "x-api-key": X_API_KEY},
                                           "headers": {"X-Custom": EXTRA_HEADER}}},
                         usage={"prompt_tokens": 10, "completion_tokens": 5})
    text = _everything_written(path, db, mem, capsys)
    assert_no_credentials(text)
    assert mem.events[0]["input"]["params"] == {"temperature": 0.2}


def _call_every_way(client, sdk: str) -> None:
    headers = {"X-Custom-Secret": EXTRA_HEADER, "Authorization": AUTH_HEADER}
    msgs = [{"role": "user", "content": "hello"}]
    if sdk == "openai":
        client.chat.completions.create(model="gpt-4o-mini", messages=msgs, extra_headers=headers,
                                       extra_query={"api-key": X_API_KEY}, extra_body={"user_secret": EXTRA_HEADER})
        for _ in client.chat.completions.create(model="gpt-4o-mini", messages=msgs, stream=True,
                                                extra_headers=headers):
            pass
        if hasattr(client, "responses"):                 # openai >= 1.66
            client.responses.create(model="gpt-4o-mini", input="hello", extra_headers=headers)
        client.with_options(default_headers={"x-api-key": X_API_KEY}).chat.completions.create(
            model="gpt-4o-mini", messages=msgs)
        client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=msgs,
                                                         extra_headers=headers).parse()
    else:
        client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=msgs, extra_headers=headers,
                               extra_body={"user_secret": EXTRA_HEADER})
        with client.messages.stream(model="claude-haiku-4-5", max_tokens=64, messages=msgs,
                                    extra_headers=headers) as s:
            for _ in s.text_stream:
                pass


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_attached_calls_never_record_keys_or_headers(sdk, writer, tmp_path, capsys, fake_api):
    path, db, mem = _all_sinks(tmp_path)
    make = openai_client if sdk == "openai" else anthropic_client
    client = attach_or_skip(make(fake_api, default_headers={"x-api-key": X_API_KEY} if sdk == "openai"
                                 else {"Authorization": AUTH_HEADER}))
    _call_every_way(client, sdk)
    text = _everything_written(path, db, mem, capsys)
    assert len(mem.events) >= 2
    sent = " ".join(str(h) for h in fake_api.seen_headers)
    assert OPENAI_KEY in sent if sdk == "openai" else (ANTHROPIC_KEY in sent or AUTH_HEADER in sent)
    assert EXTRA_HEADER in sent                                          # the secrets did go to the provider...
    assert_no_credentials(text)                                          # ...and nowhere else


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_attached_calls_with_capture_off_record_no_text(sdk, writer, tmp_path, capsys, fake_api):
    path, db, mem = _all_sinks(tmp_path)
    tokentrail.configure(capture_content=False)
    make = openai_client if sdk == "openai" else anthropic_client
    client = attach_or_skip(make(fake_api))
    msgs = [{"role": "user", "content": PROMPT}]
    if sdk == "openai":
        client.chat.completions.create(model="gpt-4o-mini", messages=msgs)
        for _ in client.chat.completions.create(model="gpt-4o-mini", messages=msgs, stream=True):
            pass
        if hasattr(client, "responses"):                 # openai >= 1.66
            client.responses.create(model="gpt-4o-mini", input=PROMPT, instructions=SYSTEM)
        answers = ["Prompt caching reuses"]
    else:
        client.messages.create(model="claude-haiku-4-5", max_tokens=64, system=SYSTEM, messages=msgs)
        with client.messages.stream(model="claude-haiku-4-5", max_tokens=64, system=SYSTEM, messages=msgs) as s:
            for _ in s.text_stream:
                pass
        answers = ["refund window"]
    text = _everything_written(path, db, mem, capsys)
    assert len(mem.events) >= 2
    assert "SECRET-" not in text
    for a in answers:                        # the fixtures' completion text
        assert a not in text


def test_the_scan_catches_a_leak():
    scan = CredentialScan()
    scan({"metadata": {"note": "harmless"}})
    scan({"input": {"params": {"api_key": "sk-abcdef123456"}}})
    scan({"metadata": {"h": AUTH_HEADER}})
    scan({"metadata": {"task-list": "risk-free desk-lamp"}})          # "sk-" inside words is not a key
    assert scan.seen == 4 and len(scan.leaks) == 2


@pytest.mark.credentials_allowed
def test_scan_marker_lets_a_test_write_key_shaped_text(writer):
    # e.g. a user's prompt that quotes a key on purpose; only this test may do it.
    tokentrail.log_event(input={"model": "gpt-4o-mini", "prompt": "rotate sk-live-0000aaaa please"},
                         usage={"prompt_tokens": 3})
    assert tokentrail.flush()
