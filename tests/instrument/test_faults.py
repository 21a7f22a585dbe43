"""Fault injection: every stage of tokentrail can fail; the user's call still returns its
normal result (or stream), and the failure is logged on the "tokentrail" logger."""

from __future__ import annotations

import json
import logging

import pytest

import tokentrail
from tokentrail import _config, _recorder
from tokentrail.instrument import _core
from tokentrail.instrument import anthropic as ant_adapter
from tokentrail.instrument import openai as oai_adapter

from .conftest import load_fixture, run, sse_headers

MSGS = [{"role": "user", "content": "hi"}]


def boom(*args, **kwargs):
    raise RuntimeError("injected tokentrail fault")


def logged(caplog) -> bool:
    return any(r.name == "tokentrail" and r.levelno >= logging.WARNING for r in caplog.records)


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.WARNING, logger="tokentrail")
    return caplog


def chat(oai, openai_mock):
    openai_mock.post("/chat/completions").respond(200, json=load_fixture("openai/chat_completion.json"))
    return oai.chat.completions.create(model="gpt-5.5", messages=MSGS)


def like_the_api(request):
    """Streams the usage chunk only when the request asked for it, as the API does."""
    import httpx
    asked = (json.loads(request.content).get("stream_options") or {}).get("include_usage")
    name = "chat_stream_include_usage.sse" if asked else "chat_stream_no_usage.sse"
    return httpx.Response(200, text=load_fixture(f"openai/{name}"), headers=sse_headers())


def chat_stream_texts(oai, openai_mock):
    openai_mock.post("/chat/completions").mock(side_effect=like_the_api)
    return [c.choices[0].delta.content or "" for c in oai.chat.completions.create(model="gpt-5.5", messages=MSGS,
                                                                                    stream=True)]


@pytest.mark.parametrize("target, attr", [
    (_core, "normalize_usage"),           # usage normalization (of a plain call: built on the writer)
    (_config, "price_table"),             # pricing
    (_recorder, "emit"),                  # hand-off to the writer
    (_core, "event_io"),                  # the event's input and output blocks
    (_core, "new_id"),                    # its ids
    (_core, "private_body"),              # a plain call's body snapshot (then recorded the usual way)
    (oai_adapter, "route"),               # the adapter naming the request (once per kind of request)
    (oai_adapter, "fields"),              # the adapter reading the request body
    (oai_adapter, "read_chat"),           # the adapter reading the response
])
def test_stage_failure_does_not_reach_the_caller(target, attr, oai, openai_mock, monkeypatch, log, events):
    monkeypatch.setattr(target, attr, boom)
    monkeypatch.setattr(_core, "_routes", {})     # routes are remembered: a new one runs route() again
    out = chat(oai, openai_mock)
    assert out.usage.prompt_tokens == 2048 and out.choices[0].message.content.startswith("Prompt caching")
    assert logged(log)


@pytest.mark.parametrize("target, attr", [
    (_core, "normalize_usage"), (_config, "price_table"), (_recorder, "emit"), (_recorder, "hand_off"),
    (_core, "private_body"),              # then recorded the live way: start_call below
    (oai_adapter, "stream_usage"),        # asking for the usage chunk (then asked the live way)
    (oai_adapter, "route"), (oai_adapter, "fields"),
    (oai_adapter.ChatStream, "observe"), (oai_adapter.ChatStream, "apply"), (_core, "swap_iterator"),
    (_core, "hook_http_close"), (_core, "new_id"),
])
def test_stream_stage_failure_does_not_reach_the_caller(target, attr, oai, openai_mock, monkeypatch, log, events):
    monkeypatch.setattr(target, attr, boom)
    monkeypatch.setattr(_core, "_routes", {})
    texts = chat_stream_texts(oai, openai_mock)        # chunk.choices[0] works on every chunk
    assert "".join(texts) == "Prompt caching reuses the longest previously-seen prefix of your prompt."
    assert logged(log)


@pytest.mark.parametrize("target, attr", [
    (_recorder, "normalize_usage"), (_core, "start_call"), (oai_adapter, "plan"), (oai_adapter, "_inject_usage"),
])
def test_live_stream_stage_failure_does_not_reach_the_caller(target, attr, oai, openai_mock, monkeypatch, log,
                                                             events):
    """The same for a stream recorded the live way (in a trace)."""
    monkeypatch.setattr(target, attr, boom)
    with tokentrail.trace("t"):
        texts = chat_stream_texts(oai, openai_mock)
    assert "".join(texts) == "Prompt caching reuses the longest previously-seen prefix of your prompt."
    assert logged(log)


def test_observer_failure_keeps_the_event(oai, openai_mock, monkeypatch, log, events):
    monkeypatch.setattr(oai_adapter.ChatStream, "observe", boom)
    chat_stream_texts(oai, openai_mock)
    [ev] = events
    assert ev["status"] == "success" and ev["stream"] is True


def test_sink_failure(oai, openai_mock, log):
    def broken_sink(event):
        raise OSError("disk full")
    tokentrail.configure(sink=broken_sink)
    out = chat(oai, openai_mock)
    tokentrail.flush()
    assert out.model == "gpt-5.5-2026-04-23"
    assert logged(log)


def test_attach_sink_failure(openai_mock, log):
    from openai import OpenAI

    class Broken:
        def write(self, event):
            raise RuntimeError("sink down")
    client = tokentrail.attach(OpenAI(api_key="sk-test", max_retries=0), sink=Broken())
    assert chat(client, openai_mock).usage.total_tokens == 2660
    tokentrail.flush()
    assert logged(log)


def test_async_and_anthropic_faults(aant, ant, anthropic_mock, monkeypatch, log, events):
    monkeypatch.setattr(ant_adapter.MessageStream, "observe", boom)
    monkeypatch.setattr(ant_adapter, "read_message", boom)
    monkeypatch.setattr(_config, "price_table", boom)
    anthropic_mock.post("/v1/messages").respond(200, text=load_fixture("anthropic/message_stream.sse"),
                                                headers=sse_headers())
    with ant.messages.stream(model="claude-opus-4-6", max_tokens=5, messages=MSGS) as s:
        assert s.get_final_message().usage.output_tokens == 142

    async def main():
        s = await aant.messages.create(model="claude-opus-4-6", max_tokens=5, messages=MSGS, stream=True)
        n = sum([1 async for _ in s])
        anthropic_mock.post("/v1/messages").respond(200, json=load_fixture("anthropic/message.json"))
        m = await aant.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=MSGS)
        return n, m
    n, m = run(main())
    assert n == 13 and m.usage.input_tokens == 21
    assert logged(log)


def test_raw_response_faults(oai, openai_mock, monkeypatch, log, events):
    monkeypatch.setattr(_core, "hook_parse", boom)
    monkeypatch.setattr(_core, "_read_json", boom)
    openai_mock.post("/chat/completions").respond(200, json=load_fixture("openai/chat_completion.json"))
    r = oai.chat.completions.with_raw_response.create(model="gpt-5.5", messages=MSGS)
    assert r.parse().usage.prompt_tokens == 2048
    with oai.chat.completions.with_streaming_response.create(model="gpt-5.5", messages=MSGS) as r:
        assert r.parse().usage.prompt_tokens == 2048
    assert logged(log)


def test_budget_exceeded_is_the_only_exception_that_escapes(oai, openai_mock, monkeypatch):
    def over(*a, **k):
        raise tokentrail.BudgetExceeded("budget spent")
    monkeypatch.setattr(_core, "start_call", over)
    tokentrail.configure(budget_usd=1000.0)     # checked before the call: only with a budget set
    route = openai_mock.post("/chat/completions").respond(200, json=load_fixture("openai/chat_completion.json"))
    with pytest.raises(tokentrail.BudgetExceeded):
        oai.chat.completions.create(model="gpt-5.5", messages=MSGS)
    assert not route.called


def test_a_failing_hold_leaves_the_helper_alone(oai, openai_mock, monkeypatch, log, events):
    # openai 1.40's beta parse holds its calls and marks the last one failed when the
    # helper raises (see _recorder.hold); if that fails, the helper's own error still
    # reaches the caller unchanged (newer SDKs: the same fault in the request's path).
    import openai
    import pydantic

    from .conftest import chat_helpers

    class Answer(pydantic.BaseModel):
        answer: str
    body = load_fixture("openai/chat_completion.json")
    body["choices"][0]["finish_reason"] = "length"
    openai_mock.post("/chat/completions").respond(200, json=body)
    monkeypatch.setattr(_recorder, "_error_info", boom)
    with pytest.raises(openai.LengthFinishReasonError):
        chat_helpers(oai).parse(model="gpt-5.5", messages=MSGS, response_format=Answer)
    assert logged(log)
    monkeypatch.undo()
    openai_mock.post("/chat/completions").respond(200, json=load_fixture("openai/chat_completion.json"))
    n = len(events)
    oai.chat.completions.create(model="gpt-5.5", messages=MSGS)     # no hold left behind
    assert len(events) == n + 1 and events[-1]["status"] == "success"
