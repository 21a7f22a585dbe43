"""Plain calls recorded after they are made (instrument._core.defer).

A call that is not streamed, not in a trace and under no budget keeps only the times, a
private copy of its request body and the fields of its response on the caller's thread;
the writer thread plans and prices it later. These tests pin what that must not change: the event is the same as
one built at once (``capture_events`` builds it on the caller's thread), whatever the
caller does to its own objects or to the settings after the call returns.
"""

from __future__ import annotations

import copy
import json
import logging
import threading

import pytest

import tokentrail
from tokentrail import _config, _writer
from tokentrail.instrument import _core
from tokentrail.instrument import openai as oai_adapter
from tokentrail.testing import capture_events

from .conftest import ANTHROPIC_OMIT, has_api, load_fixture, prediction_kwargs, run, sse_headers

# What differs between two recordings of the same call.
VOLATILE = ("id", "traceId", "startTime", "endTime", "latency_ms")


@pytest.fixture(autouse=True)
def own_sink():
    """A fresh memory sink per test (the "memory" sink spec names one shared sink)."""
    tokentrail.configure(sink=tokentrail.MemorySink())


def stable(ev: dict) -> dict:
    return {k: v for k, v in ev.items() if k not in VOLATILE}


def written() -> list[dict]:
    """The events the memory sink got (what a file sink would write)."""
    tokentrail.flush()
    return _config.current_sink().events


def _openai_calls(openai_mock):
    openai_mock.post("/chat/completions").respond(200, json=load_fixture("openai/chat_completion.json"))
    openai_mock.post("/responses").respond(200, json=load_fixture("openai/responses_create.json"))
    openai_mock.post("/embeddings").respond(200, json=load_fixture("openai/embeddings.json"))
    calls = [
        lambda c: c.chat.completions.create(model="gpt-5.5", messages=[{"role": "user", "content": "hi"}],
                                            temperature=0.2, tools=[{"type": "function", "function": {
                                                "name": "f", "parameters": {"type": "object"}}}]),
        lambda c: c.embeddings.create(model="text-embedding-3-small", input=["a", "b"]),
    ]
    if has_api("openai", "responses"):
        calls.append(lambda c: c.responses.create(model="gpt-5.5", input="hello", instructions="be brief"))
    return calls


def test_event_built_on_the_writer_equals_the_one_built_at_once(oai, openai_mock, ant, anthropic_mock):
    calls = [(oai, fn) for fn in _openai_calls(openai_mock)]
    anthropic_mock.post("/v1/messages").respond(200, json=load_fixture("anthropic/message.json"))
    calls.append((ant, lambda c: c.messages.create(model="claude-haiku-4-5", max_tokens=64, system="sys",
                                                   messages=[{"role": "user", "content": "hi"}])))
    for client, fn in calls:
        with capture_events() as now:          # a tap: built on the caller's thread
            fn(client)
        tokentrail.flush()
        _config.current_sink().events.clear()
        fn(client)                             # no tap: queued, built by the writer
        later = written()
        assert len(now) == 1 and len(later) == 1
        assert stable(later[0]) == stable(now[0])
        assert later[0]["cost"] > 0 and later[0]["usage"]["total_tokens"] > 0
        assert later[0]["startTime"] <= later[0]["endTime"]


def test_async_calls_are_deferred_too(aoai, openai_mock, aant, anthropic_mock):
    openai_mock.post("/chat/completions").respond(200, json=load_fixture("openai/chat_completion.json"))
    anthropic_mock.post("/v1/messages").respond(200, json=load_fixture("anthropic/message.json"))

    async def main():
        await aoai.chat.completions.create(model="gpt-5.5", messages=[{"role": "user", "content": "hi"}])
        await aant.messages.create(model="claude-haiku-4-5", max_tokens=64,
                                   messages=[{"role": "user", "content": "hi"}])
    run(main())
    evs = written()
    assert [e["name"] for e in evs] == ["openai.chat.completions.create", "anthropic.messages.create"]
    assert evs[0]["usage"]["prompt_tokens"] == 2048 and evs[0]["output"]["response"].startswith("Prompt caching")
    assert evs[1]["input"]["messages"] == [{"role": "user", "content": "hi"}] and evs[1]["cost"] > 0


def test_plain_calls_leave_no_work_on_the_callers_thread(oai, openai_mock, monkeypatch):
    """The whole recording (plan, reading the response, the event) happens on the writer."""
    seen = []
    real = oai_adapter.fields
    monkeypatch.setattr(oai_adapter, "fields", lambda *a: seen.append(threading.current_thread()) or real(*a))
    _openai_calls(openai_mock)[0](oai)
    assert seen == []
    written()
    assert seen == [_writer.WRITER._thread]


def test_a_stream_leaves_only_its_chunks_to_the_callers_thread(ant, anthropic_mock, monkeypatch):
    """Naming, pricing and building a stream's event happen on the writer; reading its
    chunks (its usage, model and text) happens as the caller reads them."""
    anthropic_mock.post("/v1/messages").respond(200, text=load_fixture("anthropic/message_stream.sse"),
                                                headers=sse_headers())
    from tokentrail.instrument import anthropic as ant_adapter
    seen = []
    real = ant_adapter.fields
    monkeypatch.setattr(ant_adapter, "fields", lambda *a: seen.append(threading.current_thread()) or real(*a))
    with ant.messages.stream(model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}]) \
            as s:
        text = "".join(s.text_stream)
    assert seen == [] and text
    [ev] = written()
    assert seen == [_writer.WRITER._thread]
    assert ev["name"] == "anthropic.messages.stream" and ev["stream"] is True and ev["output"]["response"] == text


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_changes_the_caller_makes_after_the_call_do_not_reach_the_event(sdk, oai, openai_mock, ant,
                                                                         anthropic_mock):
    """Chat loops append to their message list right after a call (and anthropic >= 2
    sends the very list it was given): the event keeps the request as it was sent."""
    msgs = [{"role": "user", "content": [{"type": "text", "text": "first question"}]}]
    system = [{"type": "text", "text": "system text"}]
    sent = copy.deepcopy(msgs)
    if sdk == "openai":
        openai_mock.post("/chat/completions").respond(200, json=load_fixture("openai/chat_completion.json"))
        oai.chat.completions.create(model="gpt-5.5", messages=msgs, stop=["END"])
    else:
        anthropic_mock.post("/v1/messages").respond(200, json=load_fixture("anthropic/message.json"))
        ant.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=msgs, system=system,
                            stop_sequences=["END"])
    msgs.append({"role": "assistant", "content": "an answer"})
    msgs[0]["content"][0]["text"] = "changed"
    msgs[0]["role"] = "assistant"
    system[0]["text"] = "changed"
    [ev] = written()
    recorded = ev["input"]["messages"]
    if sdk == "anthropic":
        assert recorded[0] == {"role": "system", "content": [{"type": "text", "text": "system text"}]}
        recorded = recorded[1:]
        assert ev["input"]["params"]["stop_sequences"] == ["END"]
    assert recorded == sent
    assert "first question" in ev["input"]["prompt"] and "changed" not in str(ev["input"])


def test_settings_are_the_ones_in_force_when_the_call_was_made(oai, openai_mock):
    """capture_content, metadata, namespace and the sink are read on the caller's thread:
    turning content capture back on before the writer runs must not record this call's text."""
    first, second = tokentrail.MemorySink(), tokentrail.MemorySink()
    tokentrail.configure(sink=first, capture_content=False, metadata={"team": "a"}, namespace="one")
    _openai_calls(openai_mock)[0](oai)
    tokentrail.configure(sink=second, capture_content=True, metadata={"team": "b"}, namespace="two")
    tokentrail.flush()
    assert second.events == []
    [ev] = first.events
    assert ev["input"]["prompt"] == "" and "messages" not in ev["input"] and ev["output"] == {"finish_reason": "stop"}
    assert "hi" not in str(ev) and "Prompt caching" not in str(ev)
    assert ev["metadata"]["team"] == "a" and ev["namespace"] == "one"
    assert ev["usage"]["prompt_tokens"] == 2048 and ev["cost"] > 0


def test_without_content_capture_no_prompt_text_is_even_kept_for_the_writer(oai, openai_mock, monkeypatch):
    kept = []
    real = _core.defer
    monkeypatch.setattr(_core, "defer", lambda *a: kept.append(real(*a)) or kept[-1])
    tokentrail.configure(capture_content=False)
    openai_mock.post("/chat/completions").respond(200, json=load_fixture("openai/chat_completion.json"))
    openai_mock.post("/responses").respond(200, json=load_fixture("openai/responses_create.json"))
    prediction = prediction_kwargs("secret too")
    oai.chat.completions.create(model="gpt-5.5", messages=[{"role": "user", "content": "secret"}], **prediction,
                                temperature=0.5)
    bodies = [["model", "temperature"]]
    if has_api("openai", "responses"):
        oai.responses.create(model="gpt-5.5", input="secret", instructions="secret")
        bodies.append(["model"])
    assert [sorted(_core.body_of(d.body)) for d in kept] == bodies
    evs = written()
    assert len(evs) == len(bodies) and "secret" not in str(evs)
    assert evs[0]["input"]["params"] == {"temperature": 0.5}


def test_a_queued_call_keeps_none_of_the_sdks_per_call_sentinels(oai, openai_mock, ant, anthropic_mock,
                                                                  monkeypatch):
    """The SDKs' request options make a fresh NotGiven for every absent field, and anthropic
    >= 2 a dict of "omit" headers with every call; a queued call keeps None instead (and
    of headers only those that name a helper), one collectable object less alive each."""
    kept = []
    real = _core.defer
    monkeypatch.setattr(_core, "defer", lambda *a: kept.append(real(*a)) or kept[-1])
    _openai_calls(openai_mock)[0](oai)
    anthropic_mock.post("/v1/messages").respond(200, json=load_fixture("anthropic/message.json"))
    ant.messages.create(model="claude-haiku-4-5", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert len(kept) == 2 and all(d is not None for d in kept)
    for d in kept:
        assert d.post_parser is None
        assert d.headers is None or type(d.headers) is dict
    assert kept[0].headers is None              # openai: no extra headers given
    assert kept[1].headers is None              # anthropic: none that names a helper
    anthropic_mock.post("/v1/messages").respond(200, text=load_fixture("anthropic/message_stream.sse"),
                                                headers=sse_headers())
    with ant.messages.stream(model="claude-haiku-4-5", max_tokens=16,
                             messages=[{"role": "user", "content": "hi"}]) as s:
        s.until_done()
    assert len(kept) == 3 and kept[2].headers and all(k.lower().startswith("x-stainless-") and "helper" in k.lower()
                                                      for k in kept[2].headers), kept[2].headers
    assert kept[2].ctx is kept[1].ctx           # the same settings: one tuple for both
    evs = written()
    assert [e["name"] for e in evs] == ["openai.chat.completions.create", "anthropic.messages.create",
                                        "anthropic.messages.stream"]


def test_traces_and_budgets_are_recorded_on_the_callers_thread(oai, openai_mock):
    """They need the call's state while it runs (retry numbering, budgets); streams do not."""
    openai_mock.post("/chat/completions").respond(200, json=load_fixture("openai/chat_completion.json"))
    msgs = [{"role": "user", "content": "hi"}]
    assert type(_core.defer(oai.__dict__[_core.ATTR], oai, (None, _options(oai, msgs)), {})) is _core.Deferred
    assert type(_core.defer(oai.__dict__[_core.ATTR], oai, (None, _options(oai, msgs)),
                            {"stream": True})) is _core.DeferredStream
    with tokentrail.trace("t"):
        assert _core.defer(oai.__dict__[_core.ATTR], oai, (None, _options(oai, msgs)), {"stream": True}) is None
    with tokentrail.trace("t"):
        assert _core.defer(oai.__dict__[_core.ATTR], oai, (None, _options(oai, msgs)), {}) is None
    tokentrail.configure(budget_usd=5.0)
    assert _core.defer(oai.__dict__[_core.ATTR], oai, (None, _options(oai, msgs)), {}) is None


def _options(client, msgs):
    from openai._models import FinalRequestOptions
    return FinalRequestOptions.construct(method="post", url="/chat/completions",
                                         json_data={"model": "gpt-5.5", "messages": msgs})


@pytest.mark.parametrize("encoder", ["orjson", "copy"])
def test_private_body_is_out_of_the_callers_reach(encoder, monkeypatch):
    if encoder == "orjson" and _core._oj_dumps is None:
        pytest.skip("orjson is not installed")
    if encoder == "copy":
        monkeypatch.setattr(_core, "_oj_dumps", None)
    turns = [{"role": "user", "content": [{"type": "text", "text": f"q{i}"}]} for i in range(10)]
    tools = [{"type": "function", "function": {"name": f"t{i}", "parameters": {"type": "object", "properties": {
        "x": {"type": "string", "enum": ["a", "b"]}}}}} for i in range(10)]
    body = {"model": "m", "messages": copy.deepcopy(turns), "stop": ("a", "b"), "metadata": {"k": ["v"]},
            "temperature": 0.5, "tools": tools, "response_format": {"type": "json_object"}}
    snap = _core.private_body(body, True)
    assert (type(snap) is bytes) == (encoder == "orjson")
    body["messages"].append({"role": "assistant", "content": "a"})
    body["messages"][0]["content"][0]["text"] = "changed"
    # Only what the writer reads is kept: the model, the prompt keys, the sampling
    # parameters; tools, metadata and the like are never recorded, so never copied.
    assert _core.body_of(snap) == {"model": "m", "messages": turns, "stop": ["a", "b"], "temperature": 0.5,
                                   "response_format": {"type": "json_object"}}
    body["response_format"]["type"] = "text"
    assert _core.body_of(snap)["response_format"] == {"type": "json_object"}
    assert type(_core.private_body({"messages": turns[:3]}, True)) is dict      # short: copied
    assert _core.body_of(_core.private_body(body, False)) == {"model": "m", "stop": ["a", "b"], "temperature": 0.5,
                                                              "response_format": {"type": "text"}}


def test_a_long_conversation_with_the_sdks_omit_sentinels_is_encoded_not_copied():
    # anthropic >= 2 sends every optional field, most as its `omit` sentinel, which is not
    # JSON: the snapshot leaves the sentinels out (the writer reads them as absent) rather
    # than falling back to copying the whole conversation container by container.
    if _core._oj_dumps is None:
        pytest.skip("orjson is not installed")
    from openai import NOT_GIVEN
    omit = ANTHROPIC_OMIT
    turns = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}"} for i in range(12)]
    body = {"max_tokens": 256, "messages": copy.deepcopy(turns), "model": "claude-haiku-4-5",
            "system": omit, "temperature": omit, "stop_sequences": NOT_GIVEN, "top_k": None, "tools": omit}
    snap = _core.private_body(body, True)
    assert type(snap) is bytes
    body["messages"].append({"role": "user", "content": "later"})
    assert _core.body_of(snap) == {"max_tokens": 256, "messages": turns, "model": "claude-haiku-4-5"}


def test_the_sdks_sentinels_and_none_are_left_out_of_a_short_body_too():
    # anthropic >= 2's body of one message: 17 keys, 3 of them given. The copy keeps the
    # same keys as the encoded snapshot of a long one, so the writer reads one shape.
    from openai import NOT_GIVEN
    omit = ANTHROPIC_OMIT
    msgs = [{"role": "user", "content": "hi"}]
    body = {"max_tokens": 256, "messages": msgs, "model": "claude-haiku-4-5", "system": omit,
            "temperature": omit, "stop_sequences": NOT_GIVEN, "top_k": None, "tools": omit, "metadata": omit}
    snap = _core.private_body(body, True)
    assert type(snap) is dict and list(snap) == ["max_tokens", "messages", "model"]
    assert snap["messages"] == msgs and snap["messages"] is not msgs and snap["messages"][0] is not msgs[0]
    assert _core.private_body(body, False) == {"max_tokens": 256, "model": "claude-haiku-4-5"}


def test_a_body_that_is_not_json_is_copied_container_by_container():
    class Model:                     # an SDK object in the messages: shared, not converted
        pass
    m, gen, text = Model(), (x for x in [1, 2]), "x" * 100
    body = {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": text}, m]}],
            "stop": ("a", "b"), "stream_gen": gen}
    out = _core.body_of(_core.private_body(body, True))
    assert out == {"model": "m", "messages": body["messages"], "stop": ["a", "b"]}   # stream_gen: not read
    assert out["messages"] is not body["messages"] and out["messages"][0] is not body["messages"][0]
    assert out["messages"][0]["content"] is not body["messages"][0]["content"]
    assert out["messages"][0]["content"][0]["text"] is text and out["messages"][0]["content"][1] is m
    assert list(gen) == [1, 2]           # never iterated: the SDK reads it
    deep: list = []
    node = deep
    for _ in range(200):
        node.append([])
        node = node[0]
    assert _core.body_of(_core.private_body({"messages": deep, "gen": gen}, True))["messages"] == deep


def _chat_with_a_broken(stage, oai, openai_mock, monkeypatch, caplog):
    """A chat call with one stage of the deferred recording raising; the response."""
    caplog.set_level(logging.ERROR, logger="tokentrail")
    openai_mock.post("/chat/completions").respond(200, json=load_fixture("openai/chat_completion.json"))

    def boom(*a, **k):
        raise RuntimeError("injected")
    monkeypatch.setattr(oai_adapter, stage, boom)
    out = oai.chat.completions.create(model="gpt-5.5", messages=[{"role": "user", "content": "hi"}])
    assert out.usage.prompt_tokens == 2048 and out.choices[0].message.content.startswith("Prompt caching")
    return out


def test_a_failure_while_building_a_deferred_event_is_reported_and_counted(oai, openai_mock, monkeypatch, caplog):
    _chat_with_a_broken("fields", oai, openai_mock, monkeypatch, caplog)
    assert written() == []
    assert tokentrail.stats()["lost"] == 1
    assert "could not build the event of a openai request call (RuntimeError: injected)" in caplog.text


def test_a_response_that_cannot_be_read_still_gives_an_event(oai, openai_mock, monkeypatch, caplog):
    _chat_with_a_broken("read_chat", oai, openai_mock, monkeypatch, caplog)
    [ev] = written()
    assert ev["status"] == "success" and ev["usage"]["total_tokens"] == 0
    assert "could not read the response of openai.chat.completions.create" in caplog.text


# --------------------------------------------------------------------------- one event, either way
#
# A plain call's event is built by Deferred.to_event, every other call's by Call.to_event.
# The two must write the same event for the same call: each call below is recorded once
# deferred and once the live way (defer switched off), under each setting that shapes
# an event, and the two are compared field by field, key order included.

def _image_message() -> dict:
    return {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 400}}]}


def _differential_calls(openai_mock, anthropic_mock):
    from .test_openai import completion_json
    openai_mock.post("/chat/completions").respond(200, json=load_fixture("openai/chat_completion.json"))
    openai_mock.post("/responses").respond(200, json=load_fixture("openai/responses_create.json"))
    openai_mock.post("/embeddings").respond(200, json=load_fixture("openai/embeddings.json"))
    openai_mock.post("/completions").respond(200, json=completion_json())
    anthropic_mock.post("/v1/messages").respond(200, json=load_fixture("anthropic/message.json"))
    prediction = prediction_kwargs("predicted text")
    calls = {
        "chat": lambda o, a: o.chat.completions.create(
            model="gpt-5.5", messages=[{"role": "system", "content": "be brief"}, _image_message()],
            temperature=0.2, stop=["END"], **prediction,
            tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]),
        "responses": lambda o, a: o.responses.create(model="gpt-5.5", input="hello", instructions="be brief",
                                                    max_output_tokens=50),
        "responses list": lambda o, a: o.responses.create(model="gpt-5.5", input=[_image_message()]),
        "embeddings": lambda o, a: o.embeddings.create(model="text-embedding-3-small", input=["a", "b"]),
        "completions": lambda o, a: o.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hello",
                                                         max_tokens=7),
        "messages": lambda o, a: a.messages.create(
            model="claude-haiku-4-5", max_tokens=64, system=[{"type": "text", "text": "sys"}],
            messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                      {"role": "user", "content": [{"type": "text", "text": "more"}]}],
            stop_sequences=["END"]),
        "beta messages": lambda o, a: a.beta.messages.create(model="claude-haiku-4-5", max_tokens=64,
                                                            messages=[{"role": "user", "content": "hi"}]),
    }
    # The same URLs again through the SDKs' parse helpers: the writer remembers what a kind
    # of request is named (create, parse...), and each must keep its own name.
    if has_api("openai", "chat.completions.parse"):
        calls["chat parse"] = lambda o, a: o.chat.completions.parse(model="gpt-5.5",
                                                                   messages=[{"role": "user", "content": "hi"}])
    if has_api("anthropic", "messages.parse"):
        calls["messages parse"] = lambda o, a: a.messages.parse(model="claude-haiku-4-5", max_tokens=64,
                                                                messages=[{"role": "user", "content": "hi"}])
    calls["chat again"] = calls["chat"]
    if not has_api("openai", "responses"):
        del calls["responses"], calls["responses list"]
    if has_api("anthropic", "beta.prompt_caching.messages"):       # anthropic 0.40
        calls["prompt caching messages"] = lambda o, a: a.beta.prompt_caching.messages.create(
            model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    return calls


SETTINGS_CASES = {
    "defaults": ({}, {}),
    "no content": ({"capture_content": False}, {}),
    "metadata and namespaces": ({"metadata": {"team": "a", "env": "test"}, "namespace": "one"},
                                {"metadata": {"team": "b"}, "namespace": "two"}),
    "global namespace only": ({"namespace": "one"}, {}),
}


def _clients(case: str) -> tuple:
    """(the settings configured, an attached OpenAI client, an attached Anthropic client) of a case."""
    from anthropic import Anthropic
    from openai import OpenAI

    from .conftest import ANT_KEY, KEY
    configured, attached = SETTINGS_CASES[case]
    tokentrail.configure(**configured)
    return (configured, tokentrail.attach(OpenAI(api_key=KEY, max_retries=0), **attached),
            tokentrail.attach(Anthropic(api_key=ANT_KEY, max_retries=0), **attached))


@pytest.mark.parametrize("case", list(SETTINGS_CASES))
def test_a_deferred_event_is_the_event_the_live_path_writes(case, openai_mock, anthropic_mock, monkeypatch):
    configured, o, a = _clients(case)
    from tokentrail import _hooks
    _hooks.register_context_capturer("_request_tag", lambda: "tag-1")
    try:
        calls = _differential_calls(openai_mock, anthropic_mock)
        deferred_ones = []
        real_defer = _core.defer
        monkeypatch.setattr(_core, "defer", lambda *args: deferred_ones.append(real_defer(*args)) or deferred_ones[-1])
        for fn in calls.values():
            fn(o, a)
        deferred = list(written())
        _config.current_sink().events.clear()
        monkeypatch.setattr(_core, "defer", lambda *args: None)
        for fn in calls.values():
            fn(o, a)
        live = written()
    finally:
        _hooks.unregister_context_capturer("_request_tag")
    assert [name for name, d in zip(calls, deferred_ones) if d is None] == [] and len(deferred_ones) == len(calls)
    assert len(deferred) == len(live) == len(calls)
    names = {name: d["name"] for name, d in zip(calls, deferred)}
    assert all(n.endswith(".parse") == name.endswith(" parse") for name, n in names.items()), names
    for name, d, l in zip(calls, deferred, live):
        assert list(stable(d)) == list(stable(l)), name          # the same fields in the same order
        assert stable(d) == stable(l), name
        assert d["endTime"] >= d["startTime"] and d["latency_ms"] >= 0 and d["id"] != l["id"]
    text = str(deferred)
    by_name = dict(zip(calls, deferred))
    if configured.get("capture_content") is False:
        assert "hi" not in [e["input"]["prompt"] for e in deferred] and "predicted text" not in text
        assert "be brief" not in text and "Prompt caching" not in text
    else:
        if has_api("openai", "chat.completions.create(prediction)"):
            assert by_name["chat"]["input"]["params"]["prediction"] == {"type": "content",
                                                                      "content": "predicted text"}
        assert by_name["messages"]["input"]["prompt"] == "sys\nhi\nhello\nmore"
    assert [e["name"] for e in deferred if not e["cost"] > 0] == [], deferred


# --------------------------------------------------------------------------- streams, either way
#
# A stream outside a trace is recorded like a plain call too (DeferredStream): its chunks
# are read on the caller's thread as before, but its event is named, priced and built on
# the writer. Each kind of stream below is recorded once that way and once the live way.

def _drain(stream):
    return [c for c in stream]


def _first_then_close(stream):
    with stream as s:
        for _ in s:
            break


def _raising(stream):
    try:
        _drain(stream)
    except Exception as exc:            # the provider's error, passed through unchanged
        return type(exc).__name__
    raise AssertionError("the stream should have failed")


def _differential_streams(openai_mock, anthropic_mock):
    from .test_openai import completion_chunks
    import httpx

    from .test_faults import like_the_api

    def chat(request):                   # usage only when asked; a mid-stream error for model "broken"
        if json.loads(request.content)["model"] == "broken":
            return httpx.Response(200, text=load_fixture("openai/chat_stream_midstream_error.sse"),
                                  headers=sse_headers())
        return like_the_api(request)

    def messages(request):
        name = "message_stream_midstream_error" if json.loads(request.content)["model"] == "broken" else \
            "message_stream"
        return httpx.Response(200, text=load_fixture(f"anthropic/{name}.sse"), headers=sse_headers())

    openai_mock.post("/chat/completions").mock(side_effect=chat)
    openai_mock.post("/completions").respond(200, text=completion_chunks(True), headers=sse_headers())
    openai_mock.post("/responses").respond(200, text=load_fixture("openai/responses_stream.sse"),
                                           headers=sse_headers())
    anthropic_mock.post("/v1/messages").mock(side_effect=messages)
    msgs = [{"role": "user", "content": "hi"}]
    calls = {
        "chat stream": lambda o, a: _drain(o.chat.completions.create(model="gpt-5.5", messages=msgs, stream=True,
                                                                     temperature=0.5)),
        "chat stream asked": lambda o, a: _drain(o.chat.completions.create(
            model="gpt-5.5", messages=msgs, stream=True, stream_options={"include_usage": True})),
        "chat stream closed early": lambda o, a: _first_then_close(o.chat.completions.create(
            model="gpt-5.5", messages=msgs, stream=True)),
        "completions stream": lambda o, a: _drain(o.completions.create(model="gpt-3.5-turbo-instruct",
                                                                       prompt="Hello", stream=True)),
        "messages stream": lambda o, a: _drain(a.messages.create(model="claude-haiku-4-5", max_tokens=64,
                                                                 system="sys", messages=msgs, stream=True)),
        "messages stream helper": lambda o, a: _helper(a.messages.stream(model="claude-haiku-4-5", max_tokens=64,
                                                                         messages=msgs)),
        "beta messages stream": lambda o, a: _drain(a.beta.messages.create(model="claude-haiku-4-5",
                                                                           max_tokens=64, messages=msgs,
                                                                           stream=True)),

        "chat stream error": lambda o, a: _raising(o.chat.completions.create(model="broken", messages=msgs,
                                                                             stream=True)),
        "messages stream error": lambda o, a: _raising(a.messages.create(model="broken", max_tokens=64,
                                                                         messages=msgs, stream=True)),
    }
    if has_api("openai", "chat.completions.stream"):
        from .conftest import chat_helpers
        calls["chat stream helper"] = lambda o, a: _helper(chat_helpers(o).stream(model="gpt-5.5", messages=msgs))
    if has_api("openai", "responses"):
        calls["responses stream"] = lambda o, a: _drain(o.responses.create(model="gpt-5.5", input="hi",
                                                                           instructions="be brief", stream=True))
        calls["responses stream helper"] = lambda o, a: _helper(o.responses.stream(model="gpt-5.5", input="hi"))
        calls["responses create again"] = calls["responses stream"]     # the helper's name is not remembered
    return calls


def _helper(manager):
    with manager as s:
        for _ in s:
            pass


@pytest.mark.parametrize("case", list(SETTINGS_CASES))
def test_a_deferred_stream_event_is_the_event_the_live_path_writes(case, openai_mock, anthropic_mock, monkeypatch):
    configured, o, a = _clients(case)
    calls = _differential_streams(openai_mock, anthropic_mock)
    kinds = []
    real_defer = _core.defer
    from tokentrail import _hooks
    _hooks.register_context_capturer("_request_tag", lambda: "tag-1")
    try:
        monkeypatch.setattr(_core, "defer", lambda *args: _record_kind(kinds, real_defer, args))
        for fn in calls.values():
            fn(o, a)
        deferred = list(written())
        sent_deferred = [json.loads(c.request.content) for c in openai_mock.calls]
        _config.current_sink().events.clear()
        monkeypatch.setattr(_core, "defer", lambda *args: None)
        n_before = len(openai_mock.calls)
        for fn in calls.values():
            fn(o, a)
        live = written()
    finally:
        _hooks.unregister_context_capturer("_request_tag")
    assert all(e["_request_tag"] == "tag-1" for e in deferred + live)
    sent_live = [json.loads(c.request.content) for c in list(openai_mock.calls)[n_before:]]
    assert kinds == [_core.DeferredStream] * len(calls), kinds
    assert len(deferred) == len(live) == len(calls)
    assert sent_deferred == sent_live        # the same requests (usage asked for alike)
    for name, d, l in zip(calls, deferred, live):
        assert list(stable_stream(d)) == list(stable_stream(l)), name
        assert stable_stream(d) == stable_stream(l), name
        assert d["stream"] is True and d["endTime"] >= d["startTime"] and 0 <= d.get("ttft_ms", 0) <= d["latency_ms"]
    by_name = dict(zip(calls, deferred))
    assert by_name["chat stream closed early"]["partial"] is True
    assert by_name["chat stream"]["usage"]["prompt_tokens"] == 1320 and by_name["chat stream"]["cost"] > 0
    if "responses stream helper" in by_name:
        assert by_name["responses stream helper"]["name"] == "openai.responses.stream"
        assert by_name["responses create again"]["name"] == "openai.responses.create"
    if "chat stream helper" in by_name:
        assert by_name["chat stream helper"]["name"] == "openai.chat.completions.stream"
    assert by_name["messages stream helper"]["name"] == "anthropic.messages.stream"
    for name in ("chat stream error", "messages stream error"):
        assert by_name[name]["status"] == "error" and by_name[name]["error"]["type"], name
    if configured.get("capture_content") is False:
        assert "Prompt caching" not in str(deferred) and "be brief" not in str(deferred)


def _record_kind(kinds, real_defer, args):
    d = real_defer(*args)
    kinds.append(type(d))
    return d


def stable_stream(ev: dict) -> dict:
    """:func:`stable`, with the time to first token only present or not."""
    out = stable(ev)
    if "ttft_ms" in out:
        out["ttft_ms"] = True
    return out
