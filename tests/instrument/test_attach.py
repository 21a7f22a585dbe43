"""The per-client switch (attach, attach twice, detach, copies, unattached clients) and the
raw / streaming-response wrappers, including ones built before attach."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap

import pytest

import tokentrail

from .conftest import (ANT_KEY, KEY, assert_cost, assert_usage, load_fixture, run, sse_headers)

MSGS = [{"role": "user", "content": "hi"}]


def chat_json() -> dict:
    return load_fixture("openai/chat_completion.json")


def chat_sse() -> dict:
    return {"text": load_fixture("openai/chat_stream_include_usage.sse"), "headers": sse_headers()}


def ant_sse() -> dict:
    return {"text": load_fixture("anthropic/message_stream.sse"), "headers": sse_headers()}


def check_chat_usage(ev: dict) -> None:
    assert_usage(ev, 2048, 612, cached=1792, reasoning=448)
    assert_cost(ev, "gpt-5.5", "openai", prompt=2048, completion=612, cached=1792)


# --------------------------------------------------------------------------- the switch

def test_client_never_attached_records_nothing(openai_mock, anthropic_mock, events):
    from anthropic import Anthropic, AsyncAnthropic
    from openai import AsyncOpenAI, OpenAI
    tokentrail.attach(OpenAI(api_key=KEY))              # hooks installed by another client
    tokentrail.attach(Anthropic(api_key=ANT_KEY))
    openai_mock.post("/chat/completions").respond(200, json=chat_json())
    anthropic_mock.post("/v1/messages").respond(200, json=load_fixture("anthropic/message.json"))
    plain = OpenAI(api_key=KEY)
    plain.chat.completions.create(model="gpt-5.5", messages=MSGS)
    plain.with_options(timeout=5).chat.completions.create(model="gpt-5.5", messages=MSGS)
    Anthropic(api_key=ANT_KEY).messages.create(model="claude-haiku-4-5", max_tokens=5, messages=MSGS)

    async def main():
        await AsyncOpenAI(api_key=KEY).chat.completions.create(model="gpt-5.5", messages=MSGS)
        await AsyncAnthropic(api_key=ANT_KEY).messages.create(model="claude-haiku-4-5", max_tokens=5,
                                                              messages=MSGS)
    run(main())
    assert events == []


def test_unattached_stream_is_not_touched(openai_mock, events):
    from openai import OpenAI
    tokentrail.attach(OpenAI(api_key=KEY))
    route = openai_mock.post("/chat/completions").respond(200, **chat_sse())
    chunks = list(OpenAI(api_key=KEY).chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True))
    assert len(chunks) == 7                              # nothing injected, nothing hidden
    assert "stream_options" not in json.loads(route.calls.last.request.content)
    assert events == []


def test_attach_returns_same_client_and_twice_records_once(openai_mock, events):
    from openai import OpenAI
    client = OpenAI(api_key=KEY)
    assert tokentrail.attach(client) is client
    assert tokentrail.attach(client, metadata={"team": "search"}) is client
    openai_mock.post("/chat/completions").respond(200, json=chat_json())
    client.chat.completions.create(model="gpt-5.5", messages=MSGS)
    [ev] = events
    assert ev["metadata"]["team"] == "search"             # the later attach's settings win
    check_chat_usage(ev)


def test_detach_stops_recording(oai, aant, openai_mock, anthropic_mock, events):
    openai_mock.post("/chat/completions").respond(200, json=chat_json())
    anthropic_mock.post("/v1/messages").respond(200, json=load_fixture("anthropic/message.json"))
    oai.chat.completions.create(model="gpt-5.5", messages=MSGS)
    assert tokentrail.detach(oai) is oai
    oai.chat.completions.create(model="gpt-5.5", messages=MSGS)
    oai.with_options(timeout=3).chat.completions.create(model="gpt-5.5", messages=MSGS)
    tokentrail.detach(aant)

    async def main():
        await aant.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=MSGS)
    run(main())
    assert len(events) == 1
    tokentrail.attach(oai)                               # and back on
    oai.chat.completions.create(model="gpt-5.5", messages=MSGS)
    assert len(events) == 2


def test_with_options_and_copy_stay_attached(openai_mock, anthropic_mock, events):
    from anthropic import AsyncAnthropic
    from openai import OpenAI
    sink = tokentrail.MemorySink()
    client = tokentrail.attach(OpenAI(api_key=KEY), metadata={"team": "a"}, sink=sink, namespace="ns1")
    openai_mock.post("/chat/completions").respond(200, json=chat_json())
    client.with_options(timeout=5).chat.completions.create(model="gpt-5.5", messages=MSGS)
    client.copy(max_retries=1).with_options(timeout=2).chat.completions.create(model="gpt-5.5", messages=MSGS)
    assert [e["metadata"]["team"] for e in events] == ["a", "a"]
    assert {e["namespace"] for e in events} == {"ns1"}
    tokentrail.flush()
    assert len(sink.events) == 2

    aclient = tokentrail.attach(AsyncAnthropic(api_key=ANT_KEY))
    anthropic_mock.post("/v1/messages").respond(200, json=load_fixture("anthropic/message.json"))

    async def main():
        await aclient.with_options(max_retries=0).messages.create(model="claude-haiku-4-5", max_tokens=5,
                                                                  messages=MSGS)
    run(main())
    assert events[-1]["name"] == "anthropic.messages.create"


def test_copy_of_cloud_clients_stays_attached(events, bedrock_auth):
    from anthropic import AnthropicBedrock
    from openai import AzureOpenAI
    az = tokentrail.attach(AzureOpenAI(api_key=KEY, api_version="2024-10-21", azure_endpoint="https://x.azure.com"))
    br = tokentrail.attach(AnthropicBedrock(**bedrock_auth, aws_region="us-east-1"))
    assert tokentrail.instrument.is_attached(az.with_options(timeout=1))
    assert tokentrail.instrument.is_attached(az.copy())
    assert tokentrail.instrument.is_attached(br.with_options(timeout=1))
    assert not tokentrail.instrument.is_attached(AzureOpenAI(api_key=KEY, api_version="2024-10-21",
                                                             azure_endpoint="https://x.azure.com").copy())


def test_attach_rejects_other_objects():
    with pytest.raises(TypeError, match="openai or anthropic client"):
        tokentrail.attach(object())
    with pytest.raises(tokentrail.SinkError):
        from openai import OpenAI
        tokentrail.attach(OpenAI(api_key=KEY), sink=42)


def test_disabled_records_nothing(oai, openai_mock, events):
    tokentrail.configure(enabled=False)
    openai_mock.post("/chat/completions").respond(200, json=chat_json())
    oai.chat.completions.create(model="gpt-5.5", messages=MSGS)
    assert events == []


def test_calls_in_a_trace_share_it(oai, openai_mock, events):
    openai_mock.post("/chat/completions").respond(200, json=chat_json())
    with tokentrail.trace("q", metadata={"user": "u1"}) as t:
        oai.chat.completions.create(model="gpt-5.5", messages=MSGS)
        oai.chat.completions.create(model="gpt-5.5", messages=MSGS)
    assert {e["traceId"] for e in events} == {t.trace_id}
    assert [e["retry_attempt"] for e in events] == [0, 1]
    assert t.calls == 2 and t.cost == pytest.approx(sum(e["cost"] for e in events))
    assert events[0]["metadata"]["user"] == "u1"


def test_budget_exceeded_stops_before_the_request(oai, openai_mock, events):
    route = openai_mock.post("/chat/completions").respond(200, json=chat_json())
    with tokentrail.trace("q", budget_usd=0.000001, on_exceed="raise"):
        oai.chat.completions.create(model="gpt-5.5", messages=MSGS)
        with pytest.raises(tokentrail.BudgetExceeded):
            oai.chat.completions.create(model="gpt-5.5", messages=MSGS)
    assert route.call_count == 1 and len(events) == 1


def test_package_imports_without_either_sdk():
    code = textwrap.dedent("""
        import sys
        sys.modules["openai"] = None
        sys.modules["anthropic"] = None
        import tokentrail, tokentrail.instrument
        try:
            tokentrail.attach(object())
        except TypeError:
            print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


# --------------------------------------------------------------------------- raw responses

def test_raw_response_touched_before_attach(openai_mock, anthropic_mock, events):
    from anthropic import Anthropic
    from openai import OpenAI
    client = OpenAI(api_key=KEY)
    raw = client.chat.completions.with_raw_response        # cached before attach
    streaming = client.chat.completions.with_streaming_response
    aclient = Anthropic(api_key=ANT_KEY)
    araw = aclient.messages.with_raw_response
    tokentrail.attach(client)
    tokentrail.attach(aclient)
    openai_mock.post("/chat/completions").respond(200, json=chat_json())
    anthropic_mock.post("/v1/messages").respond(200, json=load_fixture("anthropic/message.json"))
    resp = raw.create(model="gpt-5.5", messages=MSGS)
    assert resp.status_code == 200 and resp.parse().usage.prompt_tokens == 2048
    with streaming.create(model="gpt-5.5", messages=MSGS) as r:
        r.parse()
    araw.create(model="claude-haiku-4-5", max_tokens=5, messages=MSGS).parse()
    assert [e["name"] for e in events] == ["openai.chat.completions.create"] * 2 + ["anthropic.messages.create"]
    check_chat_usage(events[0])
    check_chat_usage(events[1])
    assert_usage(events[2], 12154, 87, cached=10240, write=1893)


def test_raw_response_async(aoai, aant, openai_mock, anthropic_mock, events):
    openai_mock.post("/chat/completions").respond(200, json=chat_json())
    anthropic_mock.post("/v1/messages").respond(200, json=load_fixture("anthropic/message.json"))

    async def main():
        r = await aoai.chat.completions.with_raw_response.create(model="gpt-5.5", messages=MSGS)
        assert r.parse().model == "gpt-5.5-2026-04-23"     # openai's raw response parses synchronously
        r2 = await aant.messages.with_raw_response.create(model="claude-haiku-4-5", max_tokens=5, messages=MSGS)
        parsed = r2.parse()                                # async on anthropic >= 1, sync before
        parsed = await parsed if inspect.isawaitable(parsed) else parsed
        assert parsed.usage.input_tokens == 21
    run(main())
    assert len(events) == 2
    check_chat_usage(events[0])
    assert_cost(events[1], "claude-haiku-4-5", "anthropic", prompt=12154, completion=87, cached=10240, write=1893)


def _chat_sse_as_asked(request):
    """The API's answer: the usage-only chunk only when the request asks for it."""
    import respx
    so = json.loads(request.content).get("stream_options") or {}
    name = "include_usage" if so.get("include_usage") else "no_usage"
    return respx.MockResponse(200, text=load_fixture(f"openai/chat_stream_{name}.sse"), headers=sse_headers())


def test_raw_response_stream(oai, ant, openai_mock, anthropic_mock, events):
    """``with_raw_response`` hands over the HTTP response too, whose bytes an application
    may read itself (a proxy forwarding the SSE): tokentrail does not ask for the usage
    chunk there (it could not hide it from those bytes), so the app reads what it would
    without tokentrail; usage is recorded when the caller asks for it."""
    route = openai_mock.post("/chat/completions").mock(side_effect=_chat_sse_as_asked)
    anthropic_mock.post("/v1/messages").respond(200, **ant_sse())
    resp = oai.chat.completions.with_raw_response.create(model="gpt-5.5", messages=MSGS, stream=True)
    assert events == []
    assert "stream_options" not in json.loads(route.calls[-1].request.content)
    stream = resp.parse()
    assert resp.parse() is stream
    assert [c.choices[0].index for c in stream] == [0] * 6
    resp = oai.chat.completions.with_raw_response.create(model="gpt-5.5", messages=MSGS, stream=True)
    lines = [line for line in resp.http_response.iter_lines() if line.startswith("data: {")]
    assert lines == [line for line in load_fixture("openai/chat_stream_no_usage.sse").splitlines()
                     if line.startswith("data: {")]                # the bytes a bare client gets
    asked = oai.chat.completions.with_raw_response.create(model="gpt-5.5", messages=MSGS, stream=True,
                                                          stream_options={"include_usage": True})
    assert [c.choices[0].index if c.choices else None for c in asked.parse()] == [0] * 6 + [None]
    araw = ant.messages.with_raw_response.create(model="claude-opus-4-6", max_tokens=5, messages=MSGS, stream=True)
    for _ in araw.parse():
        pass
    assert len(events) == 4
    assert events[0]["usage"]["prompt_tokens"] == events[1]["usage"]["prompt_tokens"] == 0    # not asked for
    assert events[0]["model"] == "gpt-5.5-2026-04-23" and events[0]["output"]["response"]
    assert_usage(events[2], 1320, 203, cached=1152, reasoning=192)
    assert_usage(events[3], 2073, 142, write=2048, reasoning=31)
    assert all(e["stream"] is True for e in events)


def test_streaming_response_body_is_not_read_by_tokentrail(oai, openai_mock, events):
    openai_mock.post("/chat/completions").respond(200, json=chat_json())
    with oai.chat.completions.with_streaming_response.create(model="gpt-5.5", messages=MSGS) as resp:
        http = resp.http_response
        assert not http.is_stream_consumed and not http.is_closed    # still the user's to read
        assert events == []
        data = resp.parse()
        assert data.usage.completion_tokens == 612
        assert len(events) == 1
    assert len(events) == 1
    check_chat_usage(events[0])


def test_streaming_response_read_by_hand(oai, openai_mock, events):
    openai_mock.post("/chat/completions").respond(200, json=chat_json())
    with oai.chat.completions.with_streaming_response.create(model="gpt-5.5", messages=MSGS) as resp:
        body = b"".join(resp.iter_bytes())
        assert len(events) == 1                                         # recorded at the end of the body
    assert json.loads(body)["usage"]["prompt_tokens"] == 2048           # every byte reached the user
    [ev] = events
    assert ev["status"] == "success" and ev["model"] == "gpt-5.5-2026-04-23"
    check_chat_usage(ev)                                                # read along with the user
    with oai.chat.completions.with_streaming_response.create(model="gpt-5.5", messages=MSGS) as resp:
        assert resp.json()["model"] == "gpt-5.5-2026-04-23"
    check_chat_usage(events[1])                                          # read whole: usage from the body
    with oai.chat.completions.with_streaming_response.create(model="gpt-5.5", messages=MSGS) as resp:
        text = "".join(resp.iter_text(chunk_size=7))
    assert json.loads(text)["id"] and len(events) == 3
    check_chat_usage(events[2])


def test_streaming_response_closed_unread_is_partial(oai, ant, openai_mock, anthropic_mock, events):
    """An application that reads only the status or headers of a ``with_streaming_response``
    call was billed for a response nobody read: its event says ``partial``, not a plain
    success with no tokens."""
    import gc
    openai_mock.post("/chat/completions").respond(200, json=chat_json())
    anthropic_mock.post("/v1/messages").respond(200, json=load_fixture("anthropic/message.json"))
    with oai.chat.completions.with_streaming_response.create(model="gpt-5.5", messages=MSGS) as resp:
        assert resp.status_code == 200
    with ant.messages.with_streaming_response.create(model="claude-haiku-4-5", max_tokens=5, messages=MSGS) as resp:
        assert resp.headers["content-type"].startswith("application/json")
    resp = oai.chat.completions.with_streaming_response.create(model="gpt-5.5", messages=MSGS).__enter__()
    del resp                                                       # dropped unread, never closed
    gc.collect()
    with oai.chat.completions.with_streaming_response.create(model="gpt-5.5", messages=MSGS) as resp:
        resp.read()                                                # read: a whole event, not partial
    assert len(events) == 4
    for ev in events[:3]:
        assert ev["status"] == "success" and ev["partial"] is True
        assert_usage(ev, 0, 0)
    assert "partial" not in events[3]
    check_chat_usage(events[3])


def test_streaming_response_sse_read_by_hand_counts_its_usage(oai, ant, openai_mock, anthropic_mock, events):
    openai_mock.post("/chat/completions").respond(200, text=load_fixture("openai/chat_stream_include_usage.sse"),
                                                  headers=sse_headers())
    anthropic_mock.post("/v1/messages").respond(200, **ant_sse())
    with oai.chat.completions.with_streaming_response.create(
            model="gpt-5.5", messages=MSGS, stream=True, stream_options={"include_usage": True}) as resp:
        lines = [ln for ln in resp.iter_lines() if ln]
        assert len(events) == 1                                          # at the end of the body, not at close
    assert lines[-1] == "data: [DONE]"
    sent = [json.loads(ln[6:]) for ln in lines[:-1]]
    usage = sent[-1]["usage"]
    ev = events[0]
    assert ev["stream"] is True and "partial" not in ev and ev["output"]["finish_reason"] == "stop"
    assert ev["output"]["response"] == "".join(c["choices"][0]["delta"].get("content") or ""
                                               for c in sent if c["choices"])
    assert_usage(ev, usage["prompt_tokens"], usage["completion_tokens"],
                 cached=usage["prompt_tokens_details"]["cached_tokens"],
                 reasoning=usage["completion_tokens_details"]["reasoning_tokens"])
    with ant.messages.with_streaming_response.create(model="claude-opus-4-6", max_tokens=5, messages=MSGS,
                                                     stream=True) as resp:
        raw = resp.read()                                                # the whole SSE body at once
    assert raw.count(b"event: ") >= 5 and len(events) == 2
    assert_usage(events[1], 2073, 142, write=2048, reasoning=31)         # message_start + message_delta merged
    assert "partial" not in events[1]


def test_streaming_response_sse_stopped_early_by_hand_is_partial(ant, anthropic_mock, events):
    anthropic_mock.post("/v1/messages").respond(200, **ant_sse())
    with ant.messages.with_streaming_response.create(model="claude-opus-4-6", max_tokens=5, messages=MSGS,
                                                     stream=True) as resp:
        for chunk in resp.iter_bytes(chunk_size=64):
            if b"content_block_delta" in chunk:
                break
    [ev] = events                        # at the break (httpx2 closes the body) or at close, with what was seen
    assert ev["partial"] is True and ev["usage"]["prompt_tokens"] > 0


def test_streaming_response_read_by_hand_async(aoai, aant, openai_mock, anthropic_mock, events):
    openai_mock.post("/chat/completions").respond(200, json=chat_json())
    anthropic_mock.post("/v1/messages").respond(200, **ant_sse())

    async def main():
        async with aoai.chat.completions.with_streaming_response.create(model="gpt-5.5", messages=MSGS) as r:
            body = b"".join([c async for c in r.iter_bytes()])
        async with aant.messages.with_streaming_response.create(model="claude-opus-4-6", max_tokens=5,
                                                                 messages=MSGS, stream=True) as r:
            lines = [ln async for ln in r.iter_lines()]
        return body, lines
    body, lines = run(main())
    assert json.loads(body)["usage"]["completion_tokens"] == 612 and "event: message_stop" in lines
    assert len(events) == 2
    check_chat_usage(events[0])
    assert_usage(events[1], 2073, 142, write=2048, reasoning=31)
    assert "partial" not in events[1] and events[1]["stream"] is True


def like_the_api(request):
    """Streams the usage chunk only when the request asked for it, as the API does."""
    import httpx
    asked = (json.loads(request.content).get("stream_options") or {}).get("include_usage")
    name = "chat_stream_include_usage.sse" if asked else "chat_stream_no_usage.sse"
    return httpx.Response(200, text=load_fixture(f"openai/{name}"), headers=sse_headers())


def test_streaming_response_sse(oai, openai_mock, events):
    route = openai_mock.post("/chat/completions").mock(side_effect=like_the_api)
    with oai.chat.completions.with_streaming_response.create(model="gpt-5.5", messages=MSGS, stream=True) as resp:
        assert events == []
        chunks = [c for c in resp.parse()]
    assert len(chunks) == 6
    [ev] = events
    assert ev["stream"] is True and ev["output"]["finish_reason"] == "stop"
    # The user may read the SSE lines themselves, so no usage chunk is asked for here.
    assert "stream_options" not in json.loads(route.calls.last.request.content)
    with oai.chat.completions.with_streaming_response.create(model="gpt-5.5", messages=MSGS, stream=True) as resp:
        lines = [ln for ln in resp.iter_lines() if ln]
    assert len(lines) == 7 and lines[-1] == "data: [DONE]"        # exactly what the API sent
    assert len(events) == 2 and events[1]["stream"] is True          # no usage asked for: none to count
    assert events[1]["output"]["finish_reason"] == "stop" and "partial" not in events[1]


def test_streaming_response_async(aoai, aant, openai_mock, anthropic_mock, events):
    openai_mock.post("/chat/completions").respond(200, json=chat_json())
    anthropic_mock.post("/v1/messages").respond(200, **ant_sse())

    async def main():
        async with aoai.chat.completions.with_streaming_response.create(model="gpt-5.5", messages=MSGS) as r:
            assert events == []
            await r.parse()
        async with aant.messages.with_streaming_response.create(model="claude-opus-4-6", max_tokens=5,
                                                                 messages=MSGS, stream=True) as r:
            async for _ in await r.parse():
                pass
    run(main())
    assert len(events) == 2
    check_chat_usage(events[0])
    assert_usage(events[1], 2073, 142, write=2048, reasoning=31)


def test_anthropic_streaming_response(ant, anthropic_mock, events):
    anthropic_mock.post("/v1/messages").respond(200, json=load_fixture("anthropic/message.json"))
    with ant.messages.with_streaming_response.create(model="claude-haiku-4-5", max_tokens=5, messages=MSGS) as r:
        assert events == [] and not r.http_response.is_stream_consumed
        assert r.parse().usage.cache_read_input_tokens == 10240
    [ev] = events
    assert_usage(ev, 12154, 87, cached=10240, write=1893)


def test_low_level_post_returning_the_http_response(oai, openai_mock, events):
    openai_mock.post("/chat/completions").respond(200, json=chat_json())
    import openai._base_client as bc
    hx = bc.httpx2 if hasattr(bc, "httpx2") else bc.httpx
    resp = oai.post("/chat/completions", body={"model": "gpt-5.5", "messages": MSGS}, cast_to=hx.Response)
    assert resp.json()["usage"]["prompt_tokens"] == 2048
    [ev] = events
    assert ev["name"] == "openai.chat.completions.create"
    check_chat_usage(ev)
