"""Streams: one event per stream whatever the user does with it (exhaust, break, close, exit,
abandon, error), and the stream still behaves as the SDK's own object."""

from __future__ import annotations

import gc
import json

import pytest

from tokentrail.instrument import _core

from .conftest import assert_cost, assert_usage, chat_helpers, load_fixture, requires, run, sse_headers

MSGS = [{"role": "user", "content": "hi"}]


def chat_sse(name: str = "openai/chat_stream_include_usage.sse") -> dict:
    return {"text": load_fixture(name), "headers": sse_headers()}


def ant_sse(name: str = "anthropic/message_stream.sse") -> dict:
    return {"text": load_fixture(name), "headers": sse_headers()}


def chat_stream(client, **kw):
    return client.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True, **kw)


def ant_stream(client):
    return client.messages.create(model="claude-opus-4-6", max_tokens=10, messages=MSGS, stream=True)


# --------------------------------------------------------------------------- the SDK's own object

def test_stream_is_the_sdk_object(oai, openai_mock, events):
    from openai import Stream
    openai_mock.post("/chat/completions").respond(200, **chat_sse())
    s = chat_stream(oai)
    assert type(s) is Stream and isinstance(s, Stream)
    assert s.response.status_code == 200
    with s as entered:
        assert entered is s
        first = next(s)                                   # __next__ and for share one iterator
        rest = list(s)
    assert first.choices[0].delta.role == "assistant" and len(rest) == 5
    assert len(events) == 1 and "partial" not in events[0]


def test_anthropic_stream_is_the_sdk_object(ant, anthropic_mock, events):
    from anthropic import Stream
    anthropic_mock.post("/v1/messages").respond(200, **ant_sse())
    s = ant_stream(ant)
    assert type(s) is Stream and isinstance(s, Stream)
    assert s.response.headers["content-type"].startswith("text/event-stream")
    assert sum(1 for _ in s) == 13
    s.close()
    assert len(events) == 1 and "partial" not in events[0]


def test_exhausted_then_iterated_again_records_once(oai, openai_mock, events):
    openai_mock.post("/chat/completions").respond(200, **chat_sse())
    s = chat_stream(oai)
    list(s)
    assert list(s) == []
    s.close()
    del s
    gc.collect()
    assert len(events) == 1


# --------------------------------------------------------------------------- early exit -> partial

def test_break_then_close_is_partial(ant, anthropic_mock, events):
    anthropic_mock.post("/v1/messages").respond(200, **ant_sse())
    s = ant_stream(ant)
    for e in s:
        if e.type == "content_block_delta":
            break
    assert events == []
    s.close()
    [ev] = events
    assert ev["partial"] is True and ev["stream"] is True and ev["status"] == "success"
    assert_usage(ev, 2073, 3, write=2048, cache_write_1h_tokens=2048)    # what message_start said so far
    assert_cost(ev, "claude-opus-4-6", "anthropic", prompt=2073, completion=3, write=2048, write_1h=2048)
    assert isinstance(ev["ttft_ms"], int)


def test_with_block_exit_is_partial_and_deterministic(oai, openai_mock, events):
    openai_mock.post("/chat/completions").respond(200, **chat_sse())
    with chat_stream(oai) as s:
        for chunk in s:
            break
        assert events == []
    assert len(events) == 1 and events[0]["partial"] is True
    assert events[0]["model"] == "gpt-5.5-2026-04-23"


def test_closed_before_iterating_is_partial(oai, openai_mock, events):
    openai_mock.post("/chat/completions").respond(200, **chat_sse())
    chat_stream(oai).close()
    [ev] = events
    assert ev["partial"] is True and "ttft_ms" not in ev
    assert_usage(ev, 0, 0)


def test_abandoned_stream_records_once(oai, ant, openai_mock, anthropic_mock, events):
    openai_mock.post("/chat/completions").respond(200, **chat_sse())
    anthropic_mock.post("/v1/messages").respond(200, **ant_sse())
    s = chat_stream(oai)
    next(s)
    del s
    a = ant_stream(ant)                                 # never iterated
    del a
    gc.collect()
    assert len(events) == 2
    assert all(e["partial"] is True for e in events)


def test_closed_after_message_stop_is_not_partial(ant, anthropic_mock, events):
    anthropic_mock.post("/v1/messages").respond(200, **ant_sse())
    s = ant_stream(ant)
    for e in s:
        if e.type == "message_stop":
            break
    s.close()
    [ev] = events
    assert "partial" not in ev
    assert_usage(ev, 2073, 142, write=2048, reasoning=31)


def test_async_break_and_exit_is_partial(aoai, aant, openai_mock, anthropic_mock, events):
    openai_mock.post("/chat/completions").respond(200, **chat_sse())
    anthropic_mock.post("/v1/messages").respond(200, **ant_sse())

    async def main():
        async with await aoai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True) as s:
            async for _ in s:
                break
            assert events == []
        assert len(events) == 1
        s2 = await aant.messages.create(model="claude-opus-4-6", max_tokens=10, messages=MSGS, stream=True)
        async for e in s2:
            if e.type == "content_block_delta":
                break
        await s2.close()
        assert len(events) == 2
    run(main())
    assert [e["partial"] for e in events] == [True, True]
    assert_usage(events[1], 2073, 3, write=2048)


def test_anthropic_helper_early_exit(ant, anthropic_mock, events):
    anthropic_mock.post("/v1/messages").respond(200, **ant_sse())
    with ant.messages.stream(model="claude-opus-4-6", max_tokens=10, messages=MSGS) as s:
        for text in s.text_stream:
            break
    [ev] = events
    assert ev["partial"] is True and ev["name"] == "anthropic.messages.stream"
    assert ev["output"]["response"] == "The refund"


@requires("openai", "responses")
def test_responses_helper_early_exit(oai, openai_mock, events):
    openai_mock.post("/responses").respond(200, text=load_fixture("openai/responses_stream.sse"),
                                           headers=sse_headers())
    with oai.responses.stream(model="gpt-5.5", input="hi") as s:
        for e in s:
            if e.type == "response.output_text.delta":
                break
        assert events == []
    [ev] = events
    assert ev["partial"] is True and ev["name"] == "openai.responses.stream"
    assert ev["model"] == "gpt-5.5-2026-04-23"


# --------------------------------------------------------------------------- mid-stream errors

def test_openai_midstream_error(oai, openai_mock, events):
    import openai
    openai_mock.post("/chat/completions").respond(200, **chat_sse("openai/chat_stream_midstream_error.sse"))
    seen = []
    with pytest.raises(openai.APIError) as info:
        for c in chat_stream(oai):
            seen.append(c)
    assert len(seen) == 1
    [ev] = events
    assert ev["status"] == "error" and ev["error"]["type"] == type(info.value).__name__
    assert "server had an error" in ev["error"]["message"]
    assert ev["stream"] is True and ev["model"] == "gpt-5.5-2026-04-23"


def test_openai_midstream_error_async(aoai, openai_mock, events):
    import openai
    openai_mock.post("/chat/completions").respond(200, **chat_sse("openai/chat_stream_midstream_error.sse"))

    async def main():
        async for _ in await aoai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True):
            pass
    with pytest.raises(openai.APIError):
        run(main())
    assert [e["status"] for e in events] == ["error"]


def test_helper_midstream_error(oai, openai_mock, events):
    import openai
    openai_mock.post("/chat/completions").respond(200, **chat_sse("openai/chat_stream_midstream_error.sse"))
    with pytest.raises(openai.APIError):
        with chat_helpers(oai).stream(model="gpt-5.5", messages=MSGS) as s:
            s.until_done()
    [ev] = events
    assert ev["status"] == "error" and ev["name"] == "openai.chat.completions.stream"


# --------------------------------------------------------------------------- fallback proxy

def test_proxy_fallback_when_sdk_has_no_private_iterator(oai, aoai, openai_mock, monkeypatch, events):
    from openai import AsyncStream, Stream
    monkeypatch.setattr(_core, "swap_iterator", lambda *a: False)
    openai_mock.post("/chat/completions").respond(200, **chat_sse())
    s = chat_stream(oai)
    assert isinstance(s, Stream) and type(s) is not Stream
    with s as entered:
        assert entered is s
        assert [c.choices[0].index for c in entered] == [0] * 6
    assert_usage(events[0], 1320, 203, cached=1152, reasoning=192)

    s = chat_stream(oai)
    next(s)
    s.close()
    assert events[1]["partial"] is True

    async def main():
        st = await aoai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True)
        assert isinstance(st, AsyncStream)
        async with st as entered:
            assert entered is st
            n = 0
            async for c in st:
                n += 1
                c.choices[0]
        st2 = await aoai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True)
        async for _ in st2:
            break
        await st2.close()
        return n
    assert run(main()) == 6
    assert len(events) == 4 and "partial" not in events[2] and events[3]["partial"] is True


def test_per_chunk_work_is_small(oai, openai_mock, events):
    # 2,000 chunks through the watcher: the event is right and nothing is kept per chunk
    # except the text (which the event needs).
    head = json.loads(load_fixture("openai/chat_stream_include_usage.sse").split("\n\n")[1][6:])
    body = "".join(f"data: {json.dumps(head)}\n\n" for _ in range(2000))
    tail = load_fixture("openai/chat_stream_include_usage.sse").split("\n\n")[5:]
    openai_mock.post("/chat/completions").respond(200, text=body + "\n\n".join(tail), headers=sse_headers())
    n = sum(1 for _ in chat_stream(oai))
    assert n == 2001
    [ev] = events
    assert ev["output"]["response"] == "Prompt caching" * 2000
    assert_usage(ev, 1320, 203, cached=1152, reasoning=192)


def test_helper_that_rebuilds_the_raw_stream(ant, anthropic_mock, events):
    """anthropic 0.4x stream helpers build a second Stream over the response of the one the
    request returned; the watch follows it (simulated here with the real Stream class)."""
    import wrapt
    from anthropic import Stream

    class OldStyleManager:
        def __init__(self, api_request):
            self._api_request = api_request

        def __enter__(self):
            raw = self._api_request()
            self._raw_stream = Stream(cast_to=raw._cast_to, response=raw.response, client=raw._client)
            return self

        def __exit__(self, *exc):
            self._raw_stream.close()

    wrapt.wrap_function_wrapper(OldStyleManager, "__enter__", _core.rewatch_enter)
    anthropic_mock.post("/v1/messages").respond(200, **ant_sse())
    manager = OldStyleManager(lambda: ant.messages.create(model="claude-opus-4-6", max_tokens=10, messages=MSGS,
                                                          stream=True))
    with manager as m:
        types = [e.type for e in m._raw_stream]
    gc.collect()                                 # the first, unread raw stream is gone: no partial event
    assert types[-1] == "message_stop"
    [ev] = events
    assert "partial" not in ev
    assert_usage(ev, 2073, 142, write=2048, reasoning=31)
