"""attach() on OpenAI clients: every token-consuming endpoint, sync and async, through the
real SDK and respx; each test checks the event's fields, exact tokens and cost."""

from __future__ import annotations

import contextlib
import copy
import json

import pydantic
import pytest

import tokentrail

from .conftest import (KEY, assert_cost, assert_success, assert_usage, chat_helpers, has_api, load_fixture,
                       prediction_kwargs, requires, router, run, sse_data, sse_headers)

RESPONSES = requires("openai", "responses")     # the Responses API (openai >= 1.66)

MSGS = [{"role": "system", "content": "You are terse."},
        {"role": "user", "content": [{"type": "text", "text": "How does caching work?"},
                                     {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]


def chat_json(content: str | None = None) -> dict:
    body = load_fixture("openai/chat_completion.json")
    if content is not None:
        body["choices"][0]["message"]["content"] = content
    return body


def sse(name: str) -> dict:
    return {"text": load_fixture(name), "headers": sse_headers()}


def sent(route) -> dict:
    return json.loads(route.calls.last.request.content)


def check_chat(ev: dict, name: str = "openai.chat.completions.create") -> None:
    assert_success(ev, name, "openai", "gpt-5.5", "gpt-5.5-2026-04-23")
    assert ev["type"] == "generation"
    assert_usage(ev, 2048, 612, cached=1792, reasoning=448)
    assert_cost(ev, "gpt-5.5", "openai", prompt=2048, completion=612, cached=1792)
    assert ev["output"]["finish_reason"] == "stop"


STREAM_USAGE = dict(prompt=1320, completion=203, cached=1152)


def check_chat_stream(ev: dict, name: str = "openai.chat.completions.create") -> None:
    assert_success(ev, name, "openai", "gpt-5.5", "gpt-5.5-2026-04-23")
    assert ev["stream"] is True and "partial" not in ev
    assert isinstance(ev["ttft_ms"], int) and 0 <= ev["ttft_ms"] <= ev["latency_ms"]
    assert_usage(ev, 1320, 203, cached=1152, reasoning=192)
    assert_cost(ev, "gpt-5.5", "openai", **STREAM_USAGE)
    assert ev["output"] == {"response": "Prompt caching reuses the longest previously-seen prefix of your prompt.",
                            "finish_reason": "stop"}


# --------------------------------------------------------------------------- chat.completions.create

def test_chat_create_sync(oai, openai_mock, events):
    route = openai_mock.post("/chat/completions").respond(200, json=chat_json())
    # Older SDKs (openai 1.40) have neither max_completion_tokens nor metadata; their limit is max_tokens.
    newer = has_api("openai", "chat.completions.create(max_completion_tokens)")
    limit = {"max_completion_tokens": 900} if newer else {"max_tokens": 900}
    out = oai.chat.completions.create(model="gpt-5.5", messages=MSGS, temperature=0.3, **limit, user="u-1",
                                      **({"metadata": {"k": "v"}} if newer else {}))
    assert out.choices[0].message.content.startswith("Prompt caching")
    [ev] = events
    check_chat(ev)
    assert ev["input"]["prompt"] == "You are terse.\nHow does caching work?\n[image]"
    assert ev["input"]["messages"] == MSGS
    assert ev["input"]["params"] == {"temperature": 0.3, **limit}
    assert ev["output"]["response"] == out.choices[0].message.content
    assert "stream_options" not in sent(route)       # never injected without stream=True


def test_chat_create_async(aoai, openai_mock, events):
    openai_mock.post("/chat/completions").respond(200, json=chat_json())

    async def main():
        return await aoai.chat.completions.create(model="gpt-5.5", messages=MSGS)
    out = run(main())
    assert out.usage.prompt_tokens == 2048
    [ev] = events
    check_chat(ev)


def test_messages_snapshot_taken_at_call_time(oai, openai_mock, events):
    openai_mock.post("/chat/completions").respond(200, json=chat_json())
    msgs = [{"role": "user", "content": "first"}]
    oai.chat.completions.create(model="gpt-5.5", messages=msgs)
    msgs.append({"role": "assistant", "content": "mutated later"})
    msgs[0]["content"] = "changed"
    assert events[0]["input"]["messages"] == [{"role": "user", "content": "first"}]
    assert events[0]["input"]["prompt"] == "first"


def test_prediction_usage_fields(oai, openai_mock, events):
    # The usage fields come from the response: an SDK without the prediction parameter
    # (openai 1.40) still gets them, as untyped extra fields.
    openai_mock.post("/chat/completions").respond(200, json=load_fixture("openai/chat_completion_prediction.json"))
    prediction = prediction_kwargs("class User: ...")
    oai.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "x"}], **prediction)
    [ev] = events
    assert ev["model"] == "gpt-4.1-2025-04-14"
    assert_usage(ev, 312, 96, accepted_prediction_tokens=61, rejected_prediction_tokens=18)
    assert_cost(ev, "gpt-4.1", "openai", prompt=312, completion=96)


def test_missing_usage_fields_count_as_zero(oai, openai_mock, events):
    body = chat_json()
    body["usage"] = {"prompt_tokens": 10}            # no completion tokens, no details
    openai_mock.post("/chat/completions").respond(200, json=body)
    oai.chat.completions.create(model="gpt-5.5", messages=[{"role": "user", "content": "x"}])
    assert_usage(events[0], 10, 0)
    body["usage"] = None
    openai_mock.post("/chat/completions").respond(200, json=body)
    oai.chat.completions.create(model="gpt-5.5", messages=[{"role": "user", "content": "x"}])
    assert_usage(events[1], 0, 0)
    assert events[1]["status"] == "success"


# --------------------------------------------------------------------------- chat streams

def test_chat_stream_injects_usage_and_hides_the_usage_chunk(oai, openai_mock, events):
    route = openai_mock.post("/chat/completions").respond(200, **sse("openai/chat_stream_include_usage.sse"))
    stream = oai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True)
    from openai import Stream
    assert isinstance(stream, Stream)
    seen = [chunk.choices[0] for chunk in stream]       # typical user code: no IndexError
    assert len(seen) == 6
    assert sent(route)["stream_options"] == {"include_usage": True}
    [ev] = events
    check_chat_stream(ev)
    assert ev["input"]["params"]["stream"] is True


def test_chat_stream_async(aoai, openai_mock, events):
    route = openai_mock.post("/chat/completions").respond(200, **sse("openai/chat_stream_include_usage.sse"))

    async def main():
        stream = await aoai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True,
                                                    stream_options={"include_obfuscation": False})
        from openai import AsyncStream
        assert isinstance(stream, AsyncStream)
        out = []
        async with stream as s:
            async for chunk in s:
                out.append(chunk.choices[0].delta.content)
        return out
    out = run(main())
    assert len(out) == 6
    # merged with the user's options, not overwritten
    assert sent(route)["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    [ev] = events
    check_chat_stream(ev)


def test_chat_stream_user_asked_for_usage_sees_usage_chunk(oai, openai_mock, events):
    openai_mock.post("/chat/completions").respond(200, **sse("openai/chat_stream_include_usage.sse"))
    chunks = list(oai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True,
                                              stream_options={"include_usage": True}))
    assert len(chunks) == 7 and chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 1320
    check_chat_stream(events[0])


def test_chat_stream_injection_can_be_turned_off(oai, openai_mock, events):
    tokentrail.configure(inject_stream_usage=False)
    route = openai_mock.post("/chat/completions").respond(200, **sse("openai/chat_stream_no_usage.sse"))
    chunks = list(oai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True))
    assert len(chunks) == 6
    assert "stream_options" not in sent(route)
    [ev] = events
    assert ev["stream"] is True and "partial" not in ev
    assert_usage(ev, 0, 0)                             # the API reported none
    assert ev["output"]["finish_reason"] == "stop"


def _chunk(delta: dict | None = None, finish: str | None = None, usage: dict | None = None) -> dict:
    base = {"id": "chatcmpl-t", "object": "chat.completion.chunk", "created": 1, "model": "gpt-5.5-2026-04-23"}
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {**base, "choices": choices, "usage": usage}


def _tool_delta(i: int, name: str | None, args: str) -> dict:
    fn = {"arguments": args} if name is None else {"name": name, "arguments": args}
    tc = {"index": i, "function": fn}
    if name is not None:
        tc.update(id=f"call_{i}", type="function")
    return {"tool_calls": [tc]}


@pytest.mark.parametrize("capture", [True, False])
def test_streamed_tool_calls_and_refusals_are_written_as_plain_calls_are(oai, openai_mock, events, capture):
    """A streamed answer without text is written as the same answer not streamed: its tool
    calls' names, or its refusal."""
    tokentrail.configure(capture_content=capture)
    usage = {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}
    tools = [_chunk({"role": "assistant", "content": None}), _chunk(_tool_delta(0, "get_weather", "")),
             _chunk(_tool_delta(0, None, '{"city": "Par')), _chunk(_tool_delta(0, None, 'is"}')),
             _chunk(_tool_delta(1, "get_time", "{}")), _chunk({}, "tool_calls"), _chunk(usage=usage)]
    refusal = [_chunk({"role": "assistant", "content": None, "refusal": ""}), _chunk({"refusal": "I can't"}),
               _chunk({"refusal": " help with that."}), _chunk({}, "stop"), _chunk(usage=usage)]
    plain = chat_json()
    plain["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]}
    route = openai_mock.post("/chat/completions")
    for body in (tools, refusal):
        route.respond(200, text=sse_data(body), headers=sse_headers())
        list(oai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True))
    route.respond(200, json=plain)
    oai.chat.completions.create(model="gpt-5.5", messages=MSGS)
    streamed, refused, not_streamed = events
    if capture:
        assert streamed["output"]["response"] == not_streamed["output"]["response"] == \
            "[tool_call get_weather] [tool_call get_time]"
        assert refused["output"]["response"] == "I can't help with that."
    else:
        assert "response" not in streamed["output"] and "response" not in refused["output"]
        assert "get_weather" not in json.dumps(streamed) and "help with" not in json.dumps(refused)
    assert streamed["ttft_ms"] <= streamed["latency_ms"] and refused["ttft_ms"] <= refused["latency_ms"]
    assert_usage(streamed, 50, 20)


@pytest.mark.parametrize("in_trace", [False, True])
def test_service_tiers_are_priced_at_their_rates(oai, openai_mock, events, in_trace):
    """The tier the response reports is priced at the model's rates for it (gpt-5.5: flex
    2.5 / 0.25 cached / 15, priority 12.5 / 1.25 / 75 per 1M) and written on the event."""
    chat = chat_json()
    chat["service_tier"] = "flex"
    resp = load_fixture("openai/responses_create.json")
    resp["service_tier"] = "priority"
    stream = load_fixture("openai/chat_stream_include_usage.sse").replace('"service_tier":"default"',
                                                                           '"service_tier":"priority"')
    assert '"service_tier":"priority"' in stream
    openai_mock.post("/chat/completions").respond(200, json=chat)
    openai_mock.post("/responses").respond(200, json=resp)
    with tokentrail.trace("t") if in_trace else contextlib.nullcontext():
        oai.chat.completions.create(model="gpt-5.5", messages=MSGS, service_tier="flex")
        responses = hasattr(oai, "responses")      # openai >= 1.66
        if responses:
            oai.responses.create(model="gpt-5.5", input="hi", service_tier="priority")
        openai_mock.post("/chat/completions").respond(200, text=stream, headers=sse_headers())
        list(oai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True))
        chat["service_tier"] = "scale"              # no rates for it: the standard ones
        openai_mock.post("/chat/completions").respond(200, json=chat)
        oai.chat.completions.create(model="gpt-5.5", messages=MSGS)
    flex, prio, streamed, scale = events if responses else (events[0], None, *events[1:])
    assert (flex["service_tier"], flex["pricing_tier"]) == ("flex", "flex")
    assert flex["cost"] == pytest.approx((256 * 2.5 + 1792 * 0.25 + 612 * 15) / 1e6, rel=1e-12)
    assert flex["cost_details"]["output"] == pytest.approx(612 * 15 / 1e6, rel=1e-12)
    if responses:
        assert (prio["service_tier"], prio["pricing_tier"]) == ("priority", "priority")
        assert prio["cost"] == pytest.approx((256 * 12.5 + 1280 * 1.25 + 389 * 75) / 1e6, rel=1e-12)
    assert (streamed["service_tier"], streamed["pricing_tier"]) == ("priority", "priority")
    assert streamed["cost"] == pytest.approx((168 * 12.5 + 1152 * 1.25 + 203 * 75) / 1e6, rel=1e-12)
    assert scale["service_tier"] == "scale" and "pricing_tier" not in scale
    assert_cost(scale, "gpt-5.5", "openai", prompt=2048, completion=612, cached=1792)
    chat["service_tier"] = "default"                # the standard tier: nothing written
    openai_mock.post("/chat/completions").respond(200, json=chat)
    oai.chat.completions.create(model="gpt-5.5", messages=MSGS)
    tokentrail.flush()
    assert "service_tier" not in events[-1] and "pricing_tier" not in events[-1]


def test_azure_filter_chunk_with_empty_choices_is_not_hidden(oai, openai_mock, events):
    lines = load_fixture("openai/chat_stream_include_usage.sse").split("\n\n")
    filt = {"id": "", "object": "", "created": 0, "model": "", "choices": [],
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]}
    body = f"data: {json.dumps(filt)}\n\n" + "\n\n".join(lines)
    openai_mock.post("/chat/completions").respond(200, text=body, headers=sse_headers())
    chunks = list(oai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True))
    assert len(chunks) == 7 and chunks[0].choices == []    # filter chunk passed through, usage chunk hidden
    assert_usage(events[0], 1320, 203, cached=1152, reasoning=192)


def _count_parsed_chunks(client) -> list:
    """Spy on the client's ``_process_response_data``: the SDK calls it once per chunk it builds."""
    built: list = []
    real = client._process_response_data

    def spy(*args, **kwargs):
        built.append(kwargs.get("data"))
        return real(*args, **kwargs)
    client._process_response_data = spy
    return built


def test_the_injected_usage_chunk_is_read_from_its_event_and_never_built_by_the_sdk(oai, openai_mock, events):
    openai_mock.post("/chat/completions").respond(200, **sse("openai/chat_stream_include_usage.sse"))
    built = _count_parsed_chunks(oai)
    seen = [chunk.choices[0].delta.content for chunk in oai.chat.completions.create(
        model="gpt-5.5", messages=MSGS, stream=True)]
    assert len(seen) == 6
    assert len(built) == 6 and all(d["choices"] for d in built)     # the usage chunk was not built
    [ev] = events
    check_chat_stream(ev)


def test_the_injected_usage_chunk_is_not_built_async(aoai, openai_mock, events):
    openai_mock.post("/chat/completions").respond(200, **sse("openai/chat_stream_include_usage.sse"))
    built = _count_parsed_chunks(aoai)

    async def main():
        stream = await aoai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True)
        return [chunk async for chunk in stream]
    assert len(run(main())) == 6
    assert len(built) == 6
    check_chat_stream(events[0])


def test_a_stream_with_injected_usage_is_freed_when_dropped_not_left_to_the_garbage_collector(oai, aoai,
                                                                                              openai_mock, events):
    """The usage hook lives on the stream instance only until the SDK starts reading it: a
    stream that kept it would reach itself through it, and every stream (~80 objects)
    would wait for a garbage collection instead of being freed at once."""
    import gc
    import weakref

    openai_mock.post("/chat/completions").respond(200, **sse("openai/chat_stream_include_usage.sse"))

    async def read_async():
        stream = await aoai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True)
        n = len([chunk async for chunk in stream])
        return n, weakref.ref(stream)

    gc.disable()
    try:
        stream = oai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True)
        assert len(list(stream)) == 6
        ref = weakref.ref(stream)
        del stream
        assert ref() is None
        n, aref = run(read_async())
        assert n == 6 and aref() is None
    finally:
        gc.enable()
    assert len(events) == 2
    for ev in events:
        check_chat_stream(ev)


def test_a_finished_stream_leaves_no_recording_for_the_garbage_collector(oai, openai_mock, events):
    """openai <= 2.x: a stream and its HTTP response are the SDK's own reference cycle; the
    close hook on the response lets go of the recording once the stream has ended."""
    import gc

    from tokentrail.instrument._core import Recording
    openai_mock.post("/chat/completions").respond(200, **sse("openai/chat_stream_include_usage.sse"))
    gc.collect()
    gc.disable()
    try:
        for options in ({}, {"stream_options": {"include_usage": True}}):
            assert len(list(oai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True,
                                                        **options))) >= 6
        alive = sum(1 for o in gc.get_objects() if type(o) is Recording)
    finally:
        gc.enable()
    assert alive == 0
    assert len(events) == 2


def test_a_usage_chunk_the_user_asked_for_is_built_by_the_sdk(oai, openai_mock, events):
    openai_mock.post("/chat/completions").respond(200, **sse("openai/chat_stream_include_usage.sse"))
    built = _count_parsed_chunks(oai)
    chunks = list(oai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True,
                                              stream_options={"include_usage": True}))
    assert len(chunks) == 7 and len(built) == 7 and chunks[-1].usage.completion_tokens == 203
    check_chat_stream(events[0])


def test_a_spaced_usage_event_is_read_too_and_other_spellings_fall_back_to_hiding_the_chunk(oai, openai_mock,
                                                                                           events):
    lines = load_fixture("openai/chat_stream_include_usage.sse").split("\n\n")
    usage = json.loads(lines[-3][len("data: "):])
    for sep, built_by_sdk in (((", ", ": "), 6), ((",", ":  "), 7)):
        spaced = "data: " + json.dumps(usage, separators=sep)
        body = "\n\n".join(lines[:-3] + [spaced] + lines[-2:])
        openai_mock.post("/chat/completions").respond(200, text=body, headers=sse_headers())
        built = _count_parsed_chunks(oai)
        chunks = list(oai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True))
        assert len(chunks) == 6 and len(built) == built_by_sdk      # hidden from the user either way
    assert len(events) == 2
    for ev in events:
        check_chat_stream(ev)


def test_a_failing_usage_event_reader_leaves_the_stream_and_its_event_whole(oai, openai_mock, events,
                                                                            monkeypatch, caplog):
    from tokentrail.instrument import openai as adapter

    def broken(self, sse):
        raise RuntimeError("injected fault")
    monkeypatch.setattr(adapter.ChatStream, "took_usage", broken)
    openai_mock.post("/chat/completions").respond(200, **sse("openai/chat_stream_include_usage.sse"))
    chunks = list(oai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True))
    assert len(chunks) == 6                                         # the chunk is still hidden
    check_chat_stream(events[0])
    said = [r for r in caplog.records if r.name == "tokentrail"]
    assert len(said) == 1 and "could not read the usage event" in said[0].getMessage()   # once, not per chunk


def test_a_legacy_completion_stream_skips_the_injected_usage_chunk_too(oai, openai_mock, events):
    base = {"id": "cmpl-1", "object": "text_completion", "created": 1767225600, "model": "gpt-3.5-turbo-instruct"}
    parts = [{**base, "choices": [{"index": 0, "text": t, "logprobs": None, "finish_reason": f}]}
             for t, f in (("Hello", None), (" there", "stop"))]
    parts.append({**base, "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}})
    body = "".join(f"data: {json.dumps(p, separators=(',', ':'))}\n\n" for p in parts) + "data: [DONE]\n\n"
    openai_mock.post("/completions").respond(200, text=body, headers=sse_headers())
    built = _count_parsed_chunks(oai)
    out = list(oai.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi", stream=True))
    assert [c.choices[0].text for c in out] == ["Hello", " there"] and len(built) == 2
    [ev] = events
    assert_usage(ev, 7, 2)
    assert ev["output"] == {"response": "Hello there", "finish_reason": "stop"}


# --------------------------------------------------------------------------- parse / stream helpers

class Answer(pydantic.BaseModel):
    answer: str


def test_chat_parse(oai, openai_mock, events):
    openai_mock.post("/chat/completions").respond(200, json=chat_json('{"answer": "prefix first"}'))
    out = chat_helpers(oai).parse(model="gpt-5.5", messages=MSGS, response_format=Answer)
    assert out.choices[0].message.parsed == Answer(answer="prefix first")
    [ev] = events
    check_chat(ev, "openai.chat.completions.parse")
    assert ev["output"]["response"] == '{"answer": "prefix first"}'
    assert ev["input"]["params"]["response_format"]["type"] == "json_schema"


def test_chat_parse_async(aoai, openai_mock, events):
    openai_mock.post("/chat/completions").respond(200, json=chat_json('{"answer": "a"}'))

    async def main():
        return await chat_helpers(aoai).parse(model="gpt-5.5", messages=MSGS, response_format=Answer)
    assert run(main()).choices[0].message.parsed.answer == "a"
    check_chat(events[0], "openai.chat.completions.parse")


@pytest.mark.parametrize("is_async", [False, True])
def test_chat_parse_length_error_still_records_usage(oai, aoai, openai_mock, events, is_async):
    # Newer SDKs parse inside the request (it raises); openai 1.40's beta helper parses
    # what create() returned, after the request was recorded: an error event either way.
    import openai
    body = chat_json('{"answer": "cut')
    body["choices"][0]["finish_reason"] = "length"
    openai_mock.post("/chat/completions").respond(200, json=body)
    with pytest.raises(openai.LengthFinishReasonError):
        if is_async:
            run(chat_helpers(aoai).parse(model="gpt-5.5", messages=MSGS, response_format=Answer))
        else:
            chat_helpers(oai).parse(model="gpt-5.5", messages=MSGS, response_format=Answer)
    [ev] = events
    assert ev["status"] == "error" and ev["level"] == "error"
    assert ev["error"]["type"] == "LengthFinishReasonError"
    assert ev["name"] == "openai.chat.completions.parse"
    assert_usage(ev, 2048, 612, cached=1792, reasoning=448)   # the tokens were billed
    assert_cost(ev, "gpt-5.5", "openai", prompt=2048, completion=612, cached=1792)


def test_chat_parse_success_after_a_length_error_is_a_success(oai, openai_mock, events):
    # The hold ends with the helper: the next call is recorded as usual.
    import httpx as hx                                   # respx builds its responses with httpx in both eras
    import openai
    body = chat_json('{"answer": "cut')
    body["choices"][0]["finish_reason"] = "length"
    openai_mock.post("/chat/completions").mock(side_effect=[
        hx.Response(200, json=body), hx.Response(200, json=chat_json('{"answer": "ok"}')),
        hx.Response(200, json=chat_json("plain"))])
    with pytest.raises(openai.LengthFinishReasonError):
        chat_helpers(oai).parse(model="gpt-5.5", messages=MSGS, response_format=Answer)
    assert chat_helpers(oai).parse(model="gpt-5.5", messages=MSGS, response_format=Answer).choices[0].message.parsed
    oai.chat.completions.create(model="gpt-5.5", messages=MSGS)
    assert [e["status"] for e in events] == ["error", "success", "success"]


def test_chat_parse_length_error_in_a_trace_is_a_failed_attempt(oai, openai_mock, events):
    # The trace sees the error too: a fallback to another model names it, on every SDK.
    import openai
    body = chat_json('{"answer": "cut')
    body["choices"][0]["finish_reason"] = "length"
    openai_mock.post("/chat/completions").respond(200, json=body)
    with tokentrail.trace("q") as t:
        with pytest.raises(openai.LengthFinishReasonError):
            chat_helpers(oai).parse(model="gpt-5.5", messages=MSGS, response_format=Answer)
        openai_mock.post("/chat/completions").respond(200, json=chat_json("fine"))
        oai.chat.completions.create(model="gpt-5.5-pro", messages=MSGS)
    first, second = events
    assert first["status"] == "error" and second["status"] == "success"
    assert second["fallback_model"] == "gpt-5.5"
    assert second["metadata"]["fallback_reason"] == "LengthFinishReasonError"
    assert t.calls == 2 and t.errors == 1
    assert t.cost == pytest.approx(first["cost"] + second["cost"])


def test_chat_stream_helper_counts_once(oai, openai_mock, events):
    route = openai_mock.post("/chat/completions").respond(200, **sse("openai/chat_stream_include_usage.sse"))
    with chat_helpers(oai).stream(model="gpt-5.5", messages=MSGS) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_completion()
    assert "content.delta" in kinds
    assert final.choices[0].message.content.startswith("Prompt caching")
    assert sent(route)["stream_options"] == {"include_usage": True}
    [ev] = events
    check_chat_stream(ev, "openai.chat.completions.stream")


def test_chat_stream_helper_async(aoai, openai_mock, events):
    openai_mock.post("/chat/completions").respond(200, **sse("openai/chat_stream_include_usage.sse"))

    async def main():
        async with chat_helpers(aoai).stream(model="gpt-5.5", messages=MSGS) as stream:
            async for _ in stream:
                pass
            return await stream.get_final_completion()
    final = run(main())
    assert final.choices[0].finish_reason == "stop"
    [ev] = events
    check_chat_stream(ev, "openai.chat.completions.stream")


def test_chat_stream_helper_early_exit_is_partial(oai, openai_mock, events):
    openai_mock.post("/chat/completions").respond(200, **sse("openai/chat_stream_include_usage.sse"))
    with chat_helpers(oai).stream(model="gpt-5.5", messages=MSGS) as stream:
        for e in stream:
            if e.type == "content.delta":
                break
        assert events == []                # not finished yet: the stream is still open
    [ev] = events                          # finished by the helper's close(), which bypasses the raw stream
    assert ev["partial"] is True and ev["name"] == "openai.chat.completions.stream"
    assert_usage(ev, 0, 0)


# --------------------------------------------------------------------------- responses

def check_response(ev: dict, name: str, stream: bool = False) -> None:
    assert_success(ev, name, "openai", "gpt-5.5", "gpt-5.5-2026-04-23")
    assert_usage(ev, 1536, 389, cached=1280, reasoning=256)
    assert_cost(ev, "gpt-5.5", "openai", prompt=1536, completion=389, cached=1280)
    assert ev["output"]["finish_reason"] == "completed"
    if stream:
        assert ev["stream"] is True and isinstance(ev["ttft_ms"], int) and "partial" not in ev


@RESPONSES
def test_responses_create(oai, openai_mock, events):
    openai_mock.post("/responses").respond(200, json=load_fixture("openai/responses_create.json"))
    out = oai.responses.create(model="gpt-5.5", input="Explain caching", instructions="Be brief",
                               reasoning={"effort": "medium"})
    assert out.output_text.startswith("Hello!")
    [ev] = events
    check_response(ev, "openai.responses.create")
    assert ev["input"]["prompt"] == "Be brief\nExplain caching"
    assert ev["input"]["params"]["reasoning"] == {"effort": "medium"}
    assert ev["output"]["response"] == "Hello! Cached prefixes are billed at a discount."


@RESPONSES
def test_responses_create_async(aoai, openai_mock, events):
    openai_mock.post("/responses").respond(200, json=load_fixture("openai/responses_create.json"))

    async def main():
        return await aoai.responses.create(model="gpt-5.5", input=[{"role": "user", "content": "hi"}])
    run(main())
    [ev] = events
    check_response(ev, "openai.responses.create")
    assert ev["input"]["messages"] == [{"role": "user", "content": "hi"}]


@RESPONSES
def test_responses_create_stream(oai, openai_mock, events):
    openai_mock.post("/responses").respond(200, **sse("openai/responses_stream.sse"))
    texts = [e.delta for e in oai.responses.create(model="gpt-5.5", input="hi", stream=True)
             if e.type == "response.output_text.delta"]
    assert "".join(texts) == "Hello! Cached prefixes are billed at a discount."
    [ev] = events
    check_response(ev, "openai.responses.create", stream=True)
    assert ev["output"]["response"] == "".join(texts)


@RESPONSES
def test_responses_create_stream_async(aoai, openai_mock, events):
    openai_mock.post("/responses").respond(200, **sse("openai/responses_stream.sse"))

    async def main():
        n = 0
        async for _ in await aoai.responses.create(model="gpt-5.5", input="hi", stream=True):
            n += 1
        return n
    assert run(main()) == 14
    check_response(events[0], "openai.responses.create", stream=True)


def responses_json_text(text: str) -> dict:
    body = load_fixture("openai/responses_create.json")
    body["output"][1]["content"][0]["text"] = text
    return body


@RESPONSES
def test_responses_parse(oai, openai_mock, events):
    openai_mock.post("/responses").respond(200, json=responses_json_text('{"answer": "yes"}'))
    out = oai.responses.parse(model="gpt-5.5", input="hi", text_format=Answer)
    assert out.output_parsed == Answer(answer="yes")
    [ev] = events
    check_response(ev, "openai.responses.parse")
    assert ev["output"]["response"] == '{"answer": "yes"}'


@RESPONSES
def test_responses_parse_async(aoai, openai_mock, events):
    openai_mock.post("/responses").respond(200, json=responses_json_text('{"answer": "yes"}'))

    async def main():
        return await aoai.responses.parse(model="gpt-5.5", input="hi", text_format=Answer)
    assert run(main()).output_parsed.answer == "yes"
    check_response(events[0], "openai.responses.parse")


@RESPONSES
def test_responses_stream_helper(oai, openai_mock, events):
    openai_mock.post("/responses").respond(200, **sse("openai/responses_stream.sse"))
    with oai.responses.stream(model="gpt-5.5", input="hi") as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert final.usage.input_tokens == 1536
    [ev] = events
    check_response(ev, "openai.responses.stream", stream=True)


@RESPONSES
def test_responses_stream_helper_async(aoai, openai_mock, events):
    openai_mock.post("/responses").respond(200, **sse("openai/responses_stream.sse"))

    async def main():
        async with aoai.responses.stream(model="gpt-5.5", input="hi") as stream:
            return await stream.get_final_response()
    assert run(main()).output_text.startswith("Hello!")
    [ev] = events
    check_response(ev, "openai.responses.stream", stream=True)


RESP_ID = "resp_0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071"


@RESPONSES
def test_responses_stream_resume_by_id(oai, openai_mock, events):
    route = openai_mock.get(f"/responses/{RESP_ID}").respond(200, **sse("openai/responses_stream.sse"))
    with oai.responses.stream(response_id=RESP_ID, starting_after=6) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
    assert deltas and route.calls.last.request.url.params["stream"] == "true"
    [ev] = events
    assert ev["name"] == "openai.responses.retrieve" and ev["model"] == "gpt-5.5-2026-04-23"
    assert ev["input"]["model"] == "gpt-5.5-2026-04-23"       # no request body: the responding model
    assert_usage(ev, 1536, 389, cached=1280, reasoning=256)
    assert_cost(ev, "gpt-5.5", "openai", prompt=1536, completion=389, cached=1280)


@RESPONSES
def test_responses_stream_resume_async(aoai, openai_mock, events):
    openai_mock.get(f"/responses/{RESP_ID}").respond(200, **sse("openai/responses_stream.sse"))

    async def main():
        async with aoai.responses.stream(response_id=RESP_ID) as stream:
            return await stream.get_final_response()
    run(main())
    [ev] = events
    assert ev["name"] == "openai.responses.retrieve" and ev["stream"] is True
    assert_usage(ev, 1536, 389, cached=1280, reasoning=256)
    assert_cost(ev, "gpt-5.5", "openai", prompt=1536, completion=389, cached=1280)


@RESPONSES
def test_responses_retrieve_without_stream_is_not_a_call(oai, openai_mock, events):
    openai_mock.get(f"/responses/{RESP_ID}").respond(200, json=load_fixture("openai/responses_create.json"))
    oai.responses.retrieve(RESP_ID)
    assert events == []


@RESPONSES
def test_responses_failed_event_is_an_error(oai, openai_mock, events):
    text = load_fixture("openai/responses_stream.sse").replace(
        "event: response.completed\ndata: {\"type\":\"response.completed\"",
        "event: response.failed\ndata: {\"type\":\"response.failed\"").replace(
        '"status":"completed","background"', '"status":"failed","background"').replace(
        '"error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"max_tool_calls":null,'
        '"model":"gpt-5.5-2026-04-23","output":[{', '"error":{"code":"server_error","message":"boom"},'
        '"incomplete_details":null,"instructions":null,"max_output_tokens":null,"max_tool_calls":null,'
        '"model":"gpt-5.5-2026-04-23","output":[{')
    openai_mock.post("/responses").respond(200, text=text, headers=sse_headers())
    list(oai.responses.create(model="gpt-5.5", input="hi", stream=True))
    [ev] = events
    assert ev["status"] == "error" and ev["error"]["type"] == "server_error"
    assert_usage(ev, 1536, 389, cached=1280, reasoning=256)


# --------------------------------------------------------------------------- legacy completions

def completion_json() -> dict:
    return {"id": "cmpl-1", "object": "text_completion", "created": 1767225600,
            "model": "gpt-3.5-turbo-instruct-0914",
            "choices": [{"text": " world", "index": 0, "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}


def completion_chunks(with_usage: bool) -> str:
    base = {"id": "cmpl-1", "object": "text_completion", "created": 1767225600,
            "model": "gpt-3.5-turbo-instruct-0914"}
    chunks = [{**base, "choices": [{"text": t, "index": 0, "logprobs": None, "finish_reason": f}]}
              for t, f in ((" wor", None), ("ld", None), ("", "stop"))]
    if with_usage:
        chunks.append({**base, "choices": [],
                       "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}})
    return sse_data(chunks)


def test_legacy_completions(oai, openai_mock, events):
    openai_mock.post("/completions").respond(200, json=completion_json())
    out = oai.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hello", max_tokens=7)
    assert out.choices[0].text == " world"
    [ev] = events
    assert_success(ev, "openai.completions.create", "openai", "gpt-3.5-turbo-instruct", "gpt-3.5-turbo-instruct-0914")
    assert ev["input"]["prompt"] == "Hello" and ev["output"]["response"] == " world"
    assert_usage(ev, 5, 7)
    assert_cost(ev, "gpt-3.5-turbo-instruct", "openai", prompt=5, completion=7)


def test_legacy_completions_stream(oai, openai_mock, events):
    route = openai_mock.post("/completions").respond(200, text=completion_chunks(True), headers=sse_headers())
    texts = [c.choices[0].text for c in oai.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hello",
                                                                stream=True)]
    assert texts == [" wor", "ld", ""]
    assert sent(route)["stream_options"] == {"include_usage": True}
    [ev] = events
    assert ev["stream"] is True and ev["output"]["response"] == " world"
    assert_usage(ev, 5, 7)
    assert_cost(ev, "gpt-3.5-turbo-instruct", "openai", prompt=5, completion=7)


def test_legacy_completions_async(aoai, openai_mock, events):
    openai_mock.post("/completions").respond(200, json=completion_json())

    async def main():
        await aoai.completions.create(model="gpt-3.5-turbo-instruct", prompt=["Hello", "again"])
    run(main())
    [ev] = events
    assert ev["name"] == "openai.completions.create" and ev["input"]["prompt"] == "Hello\nagain"
    assert_usage(ev, 5, 7)
    assert_cost(ev, "gpt-3.5-turbo-instruct", "openai", prompt=5, completion=7)


def test_legacy_completions_stream_async(aoai, openai_mock, events):
    openai_mock.post("/completions").respond(200, text=completion_chunks(True), headers=sse_headers())

    async def main():
        return [c.choices[0].text async for c in await aoai.completions.create(
            model="gpt-3.5-turbo-instruct", prompt="Hello", stream=True)]
    assert run(main()) == [" wor", "ld", ""]
    [ev] = events
    assert ev["stream"] is True and ev["name"] == "openai.completions.create"
    assert_usage(ev, 5, 7)
    assert_cost(ev, "gpt-3.5-turbo-instruct", "openai", prompt=5, completion=7)


# --------------------------------------------------------------------------- embeddings

def test_embeddings(oai, openai_mock, events):
    openai_mock.post("/embeddings").respond(200, json=load_fixture("openai/embeddings.json"))
    out = oai.embeddings.create(model="text-embedding-3-small", input="The food was delicious")
    assert len(out.data[0].embedding) > 10 and isinstance(out.data[0].embedding[0], float)
    [ev] = events
    assert_success(ev, "openai.embeddings.create", "openai", "text-embedding-3-small", "text-embedding-3-small")
    assert ev["type"] == "embedding"
    assert ev["input"]["prompt"] == "The food was delicious"
    assert_usage(ev, 17, 0)
    assert_cost(ev, "text-embedding-3-small", "openai", prompt=17, completion=0)


def test_embeddings_async(aoai, openai_mock, events):
    openai_mock.post("/embeddings").respond(200, json=load_fixture("openai/embeddings.json"))

    async def main():
        return await aoai.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    run(main())
    [ev] = events
    assert ev["type"] == "embedding" and ev["input"]["prompt"] == "a\nb"
    assert_usage(ev, 17, 0)
    assert_cost(ev, "text-embedding-3-small", "openai", prompt=17, completion=0)


# --------------------------------------------------------------------------- Azure

AZURE = "https://contoso.openai.azure.com"


def azure_client(async_: bool = False):
    from openai import AsyncAzureOpenAI, AzureOpenAI
    cls = AsyncAzureOpenAI if async_ else AzureOpenAI
    return tokentrail.attach(cls(api_key=KEY, api_version="2024-10-21", azure_endpoint=AZURE, max_retries=0))


def test_azure_prices_on_response_model_not_deployment(events):
    with router(AZURE, "openai") as mock:
        route = mock.post("/openai/deployments/prod-chat/chat/completions").respond(200, json=chat_json())
        azure_client().chat.completions.create(model="prod-chat", messages=MSGS)
    assert route.called
    assert "api-key" in route.calls.last.request.headers
    [ev] = events
    assert_success(ev, "openai.chat.completions.create", "openai", "prod-chat", "gpt-5.5-2026-04-23")
    assert ev["cloud"] == "azure"
    assert_cost(ev, "gpt-5.5", "openai", prompt=2048, completion=612, cached=1792)
    assert KEY not in json.dumps(ev)


def test_azure_async_stream(events):
    with router(AZURE, "openai") as mock:
        mock.post("/openai/deployments/prod-chat/chat/completions").respond(
            200, **sse("openai/chat_stream_include_usage.sse"))

        async def main():
            c = azure_client(True)
            return [ch.choices[0] async for ch in await c.chat.completions.create(model="prod-chat", messages=MSGS,
                                                                                   stream=True)]
        assert len(run(main())) == 6
    [ev] = events
    assert ev["input"]["model"] == "prod-chat" and ev["model"] == "gpt-5.5-2026-04-23"
    assert_cost(ev, "gpt-5.5", "openai", **STREAM_USAGE)


AZURE_FILTER_CHUNK = {"id": "", "object": "", "created": 0, "model": "", "choices": [],
                      "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]}


@pytest.mark.parametrize("in_trace", [False, True])
def test_azure_stream_priced_on_the_model_after_the_prompt_filter_chunk(events, in_trace):
    """Azure opens a stream with a prompt-filter chunk whose model is "": the model is the
    next chunk's (the model that answered), not the deployment's name."""
    body = f"data: {json.dumps(AZURE_FILTER_CHUNK)}\n\n" + load_fixture("openai/chat_stream_include_usage.sse")
    with router(AZURE, "openai") as mock:
        mock.post("/openai/deployments/prod-chat/chat/completions").respond(200, text=body, headers=sse_headers())
        with tokentrail.trace("t") if in_trace else contextlib.nullcontext():
            chunks = list(azure_client().chat.completions.create(model="prod-chat", messages=MSGS, stream=True))
    assert len(chunks) == 7 and chunks[0].choices == []
    [ev] = events
    assert ev["input"]["model"] == "prod-chat" and ev["model"] == "gpt-5.5-2026-04-23"
    assert_cost(ev, "gpt-5.5", "openai", **STREAM_USAGE)


def _sse_unless_stream_options(request):
    """An Azure API version that does not know ``stream_options``: 400 when it is sent."""
    import respx
    if "stream_options" in json.loads(request.content):
        return respx.MockResponse(400, json={"error": {
            "message": "Unrecognized request argument supplied: stream_options", "type": "invalid_request_error",
            "param": None, "code": None}})
    return respx.MockResponse(200, text=load_fixture("openai/chat_stream_no_usage.sse"), headers=sse_headers())


@pytest.mark.parametrize("api_version, asks", [
    ("2024-06-01", False), ("2024-08-01-preview", False), ("2024-02-15-preview", False),
    ("2024-09-01-preview", True), ("2024-10-21", True), ("2025-04-01-preview", True), ("preview", True)])
@pytest.mark.parametrize("in_trace", [False, True])
def test_azure_stream_usage_asked_only_of_api_versions_that_take_it(events, api_version, asks, in_trace):
    """Azure API versions before 2024-09-01 answer 400 to ``stream_options``: tokentrail does
    not add it there (the call works as without tokentrail, its usage unknown)."""
    from openai import AzureOpenAI
    client = tokentrail.attach(AzureOpenAI(api_key=KEY, api_version=api_version, azure_endpoint=AZURE,
                                           max_retries=0))
    with router(AZURE, "openai") as mock:
        route = mock.post("/openai/deployments/prod-chat/chat/completions").mock(
            side_effect=_sse_unless_stream_options if not asks else
            lambda request: __import__("respx").MockResponse(200, text=load_fixture(
                "openai/chat_stream_include_usage.sse"), headers=sse_headers()))
        with tokentrail.trace("t") if in_trace else contextlib.nullcontext():
            chunks = list(client.chat.completions.create(model="prod-chat", messages=MSGS, stream=True))
    sent_body = json.loads(route.calls.last.request.content)
    assert ("stream_options" in sent_body) is asks
    assert route.calls.last.request.url.params["api-version"] == api_version
    assert [c.choices[0].index for c in chunks] == [0] * 6     # the usage chunk, when asked, hidden
    [ev] = events
    assert ev["status"] == "success" and ev["model"] == "gpt-5.5-2026-04-23"
    if asks:
        assert_cost(ev, "gpt-5.5", "openai", **STREAM_USAGE)
    else:
        assert_usage(ev, 0, 0)


def test_beta_chat_completions_parse_when_present(oai, openai_mock, events):
    beta_chat = getattr(oai.beta, "chat", None)
    if beta_chat is None:
        pytest.skip("this openai version has no client.beta.chat")
    openai_mock.post("/chat/completions").respond(200, json=chat_json('{"answer": "b"}'))
    beta_chat.completions.parse(model="gpt-5.5", messages=MSGS, response_format=Answer)
    [ev] = events
    assert ev["name"] == "openai.chat.completions.parse"


def test_unrecorded_endpoints_pass_through(oai, openai_mock, events):
    openai_mock.get("/models").respond(200, json={"object": "list", "data": [
        {"id": "gpt-5.5", "object": "model", "created": 0, "owned_by": "openai"}]})
    assert [m.id for m in oai.models.list()] == ["gpt-5.5"]
    assert events == []


def test_deepcopy_of_messages_not_required(oai, openai_mock, events):
    # Messages given as SDK-typed objects (pydantic models) are snapshotted as JSON.
    from openai.types.chat import ChatCompletionMessage
    prev = ChatCompletionMessage(role="assistant", content="earlier answer")
    openai_mock.post("/chat/completions").respond(200, json=chat_json())
    oai.chat.completions.create(model="gpt-5.5", messages=[{"role": "user", "content": "q"}, prev])
    assert events[0]["input"]["messages"][1]["content"] == "earlier answer"
    assert events[0]["input"]["prompt"] == "q\nearlier answer"
    json.dumps(copy.deepcopy(events[0]))


def test_every_usage_detail_is_mapped(oai, openai_mock, events):
    body = chat_json()
    body["usage"] = {"prompt_tokens": 3000, "completion_tokens": 700, "total_tokens": 3700,
                     "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 500, "audio_tokens": 40},
                     "completion_tokens_details": {"reasoning_tokens": 300, "audio_tokens": 25,
                                                   "accepted_prediction_tokens": 0,
                                                   "rejected_prediction_tokens": 0}}
    openai_mock.post("/chat/completions").respond(200, json=body)
    oai.chat.completions.create(model="gpt-5.5", messages=MSGS)
    [ev] = events
    assert_usage(ev, 3000, 700, cached=1000, write=500, reasoning=300, audio_prompt_tokens=40,
                 audio_completion_tokens=25)
    assert_cost(ev, "gpt-5.5", "openai", prompt=3000, completion=700, cached=1000, write=500)


@requires("openai", "responses.compact")
def test_responses_compact_and_beta_responses(oai, openai_mock, events):
    body = load_fixture("openai/responses_create.json")
    compacted = {"id": "cmp_1", "object": "response.compaction", "created_at": 1767225600,
                 "output": body["output"], "usage": body["usage"]}
    openai_mock.post("/responses/compact").respond(200, json=compacted)
    oai.responses.compact(model="gpt-5.5", input="long history")
    [ev] = events
    assert ev["name"] == "openai.responses.compact" and ev["model"] == "gpt-5.5"
    assert_usage(ev, 1536, 389, cached=1280, reasoning=256)
    assert_cost(ev, "gpt-5.5", "openai", prompt=1536, completion=389, cached=1280)
    beta = getattr(oai.beta, "responses", None)
    if beta is not None:
        openai_mock.post(url__regex=r"/responses(\?beta=true)?$").respond(200, json=body)
        beta.create(model="gpt-5.5", input="hi")
        assert events[1]["name"] == "openai.beta.responses.create"
        assert_usage(events[1], 1536, 389, cached=1280, reasoning=256)
