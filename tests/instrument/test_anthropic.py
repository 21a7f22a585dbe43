"""attach() on Anthropic clients (first party, beta, Bedrock, Vertex), sync and async, through
the real SDK and respx; each test checks the event's fields, exact tokens and cost."""

from __future__ import annotations

import base64
import contextlib
import binascii
import json
import re
import struct

import pydantic
import pytest

import tokentrail

from .conftest import (ANT_KEY, assert_cost, assert_success, assert_usage, load_fixture, requires, router, run,
                       sse_events, sse_headers)

MSGS = [{"role": "user", "content": [{"type": "text", "text": "What is the refund window?"},
                                     {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                  "data": "iVBORw0KGgo" * 40}}]}]
SYSTEM = [{"type": "text", "text": "Policy doc...", "cache_control": {"type": "ephemeral"}}]


def message_json(text: str | None = None, model: str | None = "claude-haiku-4-5-20251001") -> dict:
    body = load_fixture("anthropic/message.json")
    if text is not None:
        body["content"][0]["text"] = text
    if model is None:
        del body["model"]
    else:
        body["model"] = model
    return body


def sse(name: str = "anthropic/message_stream.sse") -> dict:
    return {"text": load_fixture(name), "headers": sse_headers()}


def check_message(ev: dict, name: str, request_model: str = "claude-haiku-4-5",
                  model: str = "claude-haiku-4-5-20251001") -> None:
    assert_success(ev, name, "anthropic", request_model, model)
    # input_tokens excludes cache reads and writes: 21 + 1893 + 10240
    assert_usage(ev, 12154, 87, cached=10240, write=1893)
    assert_cost(ev, "claude-haiku-4-5", "anthropic", prompt=12154, completion=87, cached=10240, write=1893)
    assert ev["output"]["finish_reason"] == "end_turn"


def check_stream(ev: dict, name: str, request_model: str = "claude-opus-4-6") -> None:
    assert_success(ev, name, "anthropic", request_model, "claude-opus-4-6")
    assert ev["stream"] is True and "partial" not in ev
    assert isinstance(ev["ttft_ms"], int) and ev["ttft_ms"] <= ev["latency_ms"]
    # message_start: input 25, cache write 2048 (all 1h); message_delta: cumulative output 142
    assert_usage(ev, 25 + 2048, 142, write=2048, reasoning=31, cache_write_1h_tokens=2048)
    assert_cost(ev, "claude-opus-4-6", "anthropic", prompt=2073, completion=142, write=2048, write_1h=2048)
    assert ev["output"] == {"response": "The refund window is 30 days from delivery.", "finish_reason": "end_turn"}


# --------------------------------------------------------------------------- messages.create

def test_messages_create(ant, anthropic_mock, events):
    anthropic_mock.post("/v1/messages").respond(200, json=message_json())
    out = ant.messages.create(model="claude-haiku-4-5", max_tokens=512, system=SYSTEM, messages=MSGS,
                              stop_sequences=["END"], metadata={"user_id": "u-9"})
    assert out.usage.input_tokens == 21
    [ev] = events
    check_message(ev, "anthropic.messages.create")
    assert ev["input"]["prompt"] == "Policy doc...\nWhat is the refund window?\n[image]"
    assert ev["input"]["params"] == {"max_tokens": 512, "stop_sequences": ["END"]}
    assert ev["input"]["messages"][0]["role"] == "system"
    assert "iVBORw0KGgo" * 40 not in json.dumps(ev)         # image data is not copied into events
    assert ev["output"]["response"].startswith("Based on the cached policy")


def test_messages_create_async(aant, anthropic_mock, events):
    anthropic_mock.post("/v1/messages").respond(200, json=message_json())

    async def main():
        return await aant.messages.create(model="claude-haiku-4-5", max_tokens=512, messages=MSGS)
    run(main())
    [ev] = events
    check_message(ev, "anthropic.messages.create")


def test_messages_create_stream(ant, anthropic_mock, events):
    anthropic_mock.post("/v1/messages").respond(200, **sse())
    stream = ant.messages.create(model="claude-opus-4-6", max_tokens=1024, messages=MSGS, stream=True)
    from anthropic import Stream
    assert isinstance(stream, Stream)
    types = [e.type for e in stream]
    assert types[0] == "message_start" and types[-1] == "message_stop"
    [ev] = events
    check_stream(ev, "anthropic.messages.create")


def test_messages_create_stream_async(aant, anthropic_mock, events):
    anthropic_mock.post("/v1/messages").respond(200, **sse())

    async def main():
        stream = await aant.messages.create(model="claude-opus-4-6", max_tokens=1024, messages=MSGS, stream=True)
        from anthropic import AsyncStream
        assert isinstance(stream, AsyncStream)
        async with stream as s:
            return [e.type async for e in s]
    assert len(run(main())) == 13
    [ev] = events
    check_stream(ev, "anthropic.messages.create")


# --------------------------------------------------------------------------- stream / parse helpers

def test_messages_stream_helper(ant, anthropic_mock, events):
    anthropic_mock.post("/v1/messages").respond(200, **sse())
    with ant.messages.stream(model="claude-opus-4-6", max_tokens=1024, messages=MSGS) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "The refund window is 30 days from delivery."
    assert final.usage.output_tokens == 142
    [ev] = events
    check_stream(ev, "anthropic.messages.stream")


def _recordings_alive() -> int:
    import gc

    from tokentrail.instrument._core import Recording
    return sum(1 for o in gc.get_objects() if type(o) is Recording)


@pytest.mark.parametrize("how", ["create", "helper", "async helper"])
def test_a_finished_stream_leaves_no_recording_for_the_garbage_collector(how, ant, aant, anthropic_mock, events):
    """anthropic 0.x: a stream and its HTTP response are the SDK's own reference cycle. The
    close hook on the response must let go of the recording once the stream has ended, or
    the recording (~35 objects) waits in that cycle for a collection."""
    import gc
    anthropic_mock.post("/v1/messages").respond(200, **sse())
    gc.collect()
    gc.disable()
    try:
        if how == "create":
            stream = ant.messages.create(model="claude-opus-4-6", max_tokens=10, messages=MSGS, stream=True)
            assert len(list(stream)) > 3
            del stream
        elif how == "helper":
            # anthropic 0.4x's helpers read a raw stream of their own over the response of
            # the one the request returned, and drop that one unread.
            with ant.messages.stream(model="claude-opus-4-6", max_tokens=1024, messages=MSGS) as s:
                assert "".join(s.text_stream)
            del s
        else:
            async def main():
                async with aant.messages.stream(model="claude-opus-4-6", max_tokens=1024, messages=MSGS) as s:
                    assert "".join([t async for t in s.text_stream])
            run(main())
        alive = _recordings_alive()
    finally:
        gc.enable()
    assert alive == 0
    assert len(events) == 1


def test_messages_stream_helper_async(aant, anthropic_mock, events):
    anthropic_mock.post("/v1/messages").respond(200, **sse())

    async def main():
        async with aant.messages.stream(model="claude-opus-4-6", max_tokens=1024, messages=MSGS) as stream:
            parts = [t async for t in stream.text_stream]
            final = await stream.get_final_message()
        return parts, final
    parts, final = run(main())
    assert "".join(parts).startswith("The refund") and final.stop_reason == "end_turn"
    [ev] = events
    check_stream(ev, "anthropic.messages.stream")


class Refund(pydantic.BaseModel):
    days: int


@requires("anthropic", "messages.parse")
def test_messages_parse(ant, anthropic_mock, events):
    anthropic_mock.post("/v1/messages").respond(200, json=message_json('{"days": 30}'))
    out = ant.messages.parse(model="claude-haiku-4-5", max_tokens=256, messages=MSGS, output_format=Refund)
    assert out.parsed_output == Refund(days=30)
    [ev] = events
    check_message(ev, "anthropic.messages.parse")


@requires("anthropic", "messages.parse")
def test_messages_parse_async(aant, anthropic_mock, events):
    anthropic_mock.post("/v1/messages").respond(200, json=message_json('{"days": 30}'))

    async def main():
        return await aant.messages.parse(model="claude-haiku-4-5", max_tokens=256, messages=MSGS,
                                         output_format=Refund)
    assert run(main()).parsed_output.days == 30
    check_message(events[0], "anthropic.messages.parse")


# --------------------------------------------------------------------------- beta

@requires("anthropic", "beta.messages.parse")
@pytest.mark.filterwarnings("ignore:The 'output_format' parameter is deprecated:DeprecationWarning")
def test_beta_messages_create_stream_parse(ant, anthropic_mock, events):
    route = anthropic_mock.post(url__regex=r"/v1/messages(\?beta=true)?$")
    route.respond(200, json=message_json())
    ant.beta.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=MSGS, betas=["context-1m-2025-08-07"])
    route.respond(200, json=message_json('{"days": 30}'))
    ant.beta.messages.parse(model="claude-haiku-4-5", max_tokens=10, messages=MSGS, output_format=Refund)
    route.respond(200, **sse())
    with ant.beta.messages.stream(model="claude-opus-4-6", max_tokens=10, messages=MSGS) as s:
        s.get_final_message()
    assert [e["name"] for e in events] == ["anthropic.beta.messages.create", "anthropic.beta.messages.parse",
                                           "anthropic.beta.messages.stream"]
    check_message(events[0], "anthropic.beta.messages.create")
    check_message(events[1], "anthropic.beta.messages.parse")
    check_stream(events[2], "anthropic.beta.messages.stream")


def test_beta_messages_async(aant, anthropic_mock, events):
    anthropic_mock.post(url__regex=r"/v1/messages(\?beta=true)?$").respond(200, **sse())

    async def main():
        s = await aant.beta.messages.create(model="claude-opus-4-6", max_tokens=10, messages=MSGS, stream=True)
        async for _ in s:
            pass
    run(main())
    check_stream(events[0], "anthropic.beta.messages.create")


@requires("anthropic", "beta.prompt_caching.messages")
def test_prompt_caching_beta_of_older_sdks(ant, anthropic_mock, events):
    """anthropic 0.40's prompt caching API, ``client.beta.prompt_caching.messages`` (later
    part of ``messages``): named after it, with its cache reads and writes."""
    route = anthropic_mock.post(url__regex=r"/v1/messages\?beta=prompt_caching$")
    route.respond(200, json=message_json())
    ant.beta.prompt_caching.messages.create(model="claude-haiku-4-5", max_tokens=10, system=SYSTEM, messages=MSGS)
    route.respond(200, **sse())
    with ant.beta.prompt_caching.messages.stream(model="claude-opus-4-6", max_tokens=10, messages=MSGS) as s:
        assert "".join(s.text_stream).startswith("The refund")
    check_message(events[0], "anthropic.beta.prompt_caching.messages.create")
    check_stream(events[1], "anthropic.beta.prompt_caching.messages.stream")


def test_count_tokens_is_not_recorded(ant, anthropic_mock, events):
    anthropic_mock.post("/v1/messages/count_tokens").respond(200, json=load_fixture("anthropic/count_tokens.json"))
    count = getattr(ant.messages, "count_tokens", None) or ant.beta.messages.count_tokens   # beta only in 0.40
    assert count(model="claude-haiku-4-5", messages=MSGS).input_tokens == 12154
    assert events == []


# --------------------------------------------------------------------------- streams: merge, errors

def test_usage_merge_does_not_double_count_output(ant, anthropic_mock, events):
    # message_start already reports 3 output tokens; the delta's 142 is cumulative.
    anthropic_mock.post("/v1/messages").respond(200, **sse())
    for _ in ant.messages.create(model="claude-opus-4-6", max_tokens=10, messages=MSGS, stream=True):
        pass
    assert events[0]["usage"]["completion_tokens"] == 142


def test_message_delta_updates_input_counts(ant, anthropic_mock, events):
    evs = [json.loads(line[6:]) for line in load_fixture("anthropic/message_stream.sse").splitlines()
           if line.startswith("data: ")]
    evs[-2]["usage"].update(input_tokens=30, cache_read_input_tokens=100)    # server-side tool use grew input
    anthropic_mock.post("/v1/messages").respond(200, text=sse_events(evs), headers=sse_headers())
    list(ant.messages.create(model="claude-opus-4-6", max_tokens=10, messages=MSGS, stream=True))
    assert_usage(events[0], 30 + 2048 + 100, 142, cached=100, write=2048, reasoning=31,
                 cache_write_1h_tokens=2048)


@pytest.mark.parametrize("in_trace", [False, True])
def test_fast_mode_and_us_inference_are_priced_at_their_rates(ant, anthropic_mock, events, in_trace):
    """``speed: fast`` is priced at the model's fast rates, ``inference_geo: us`` multiplies
    them by its 1.1 (claude-opus-4-8: fast 10 / 50, cache read 1, 5m write 12.5 per 1M)."""
    body = message_json(model="claude-opus-4-8")
    body["usage"].update(speed="fast", inference_geo="us")
    anthropic_mock.post("/v1/messages").respond(200, json=body)
    evs = [json.loads(line[6:]) for line in load_fixture("anthropic/message_stream.sse").splitlines()
           if line.startswith("data: ")]
    evs[0]["message"]["model"] = "claude-opus-4-8"
    evs[0]["message"]["usage"].update(speed="fast")
    with tokentrail.trace("t") if in_trace else contextlib.nullcontext():
        ant.messages.create(model="claude-opus-4-8", max_tokens=10, messages=MSGS)
        anthropic_mock.post("/v1/messages").respond(200, text=sse_events(evs), headers=sse_headers())
        with ant.messages.stream(model="claude-opus-4-8", max_tokens=10, messages=MSGS) as s:
            s.get_final_message()
    created, streamed = events
    assert (created["service_tier"], created["pricing_tier"], created["inference_geo"]) == ("fast", "fast", "us")
    assert created["cost"] == pytest.approx((21 * 10 + 10240 * 1 + 1893 * 12.5 + 87 * 50) * 1.1 / 1e6, rel=1e-12)
    assert (streamed["service_tier"], streamed["pricing_tier"]) == ("fast", "fast")
    assert "inference_geo" not in streamed
    # message_start: input 25, 1h cache write 2048 (fast: 20 per 1M); message_delta: output 142
    assert streamed["cost"] == pytest.approx((25 * 10 + 2048 * 20 + 142 * 50) / 1e6, rel=1e-12)


COMPACTION = {"type": "compaction", "input_tokens": 150000, "output_tokens": 3000, "cache_read_input_tokens": 500,
              "cache_creation_input_tokens": 0}


def test_compaction_tokens_are_added_to_the_top_level_usage(ant, anthropic_mock, events):
    """Context compaction (beta): a ``compaction`` step's tokens are billed but not in the
    top-level usage (anthropic's BetaUsage docs); the ``message`` steps are. The event
    counts and prices them, and says how many were compaction's."""
    body = message_json()
    body["usage"] = {"input_tokens": 1000, "output_tokens": 200, "cache_read_input_tokens": 0,
                     "cache_creation_input_tokens": 0, "iterations": [
                         COMPACTION, {"type": "message", "input_tokens": 1000, "output_tokens": 200,
                                      "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}]}
    anthropic_mock.post(url__regex=r"/v1/messages(\?beta=true)?$").respond(200, json=body)
    ant.beta.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=MSGS)
    evs = [json.loads(line[6:]) for line in load_fixture("anthropic/message_stream.sse").splitlines()
           if line.startswith("data: ")]
    evs[-2]["usage"]["iterations"] = [COMPACTION]                  # message_delta's cumulative usage
    anthropic_mock.post(url__regex=r"/v1/messages(\?beta=true)?$").respond(
        200, text=sse_events(evs), headers=sse_headers())
    stream = getattr(ant.beta.messages, "stream", None) or ant.messages.stream    # no beta stream in 0.40
    with stream(model="claude-opus-4-6", max_tokens=10, messages=MSGS) as s:
        s.get_final_message()
    created, streamed = events
    assert_usage(created, 1000 + 150500, 3200, cached=500, compaction_tokens=153500)
    assert_cost(created, "claude-haiku-4-5", "anthropic", prompt=151500, completion=3200, cached=500)
    assert_usage(streamed, 25 + 2048 + 150500, 142 + 3000, cached=500, write=2048, reasoning=31,
                 cache_write_1h_tokens=2048, compaction_tokens=153500)
    assert_cost(streamed, "claude-opus-4-6", "anthropic", prompt=152573, completion=3142, cached=500, write=2048,
                write_1h=2048)


def test_midstream_error(ant, anthropic_mock, events):
    import anthropic
    anthropic_mock.post("/v1/messages").respond(200, **sse("anthropic/message_stream_midstream_error.sse"))
    got = []
    with pytest.raises(anthropic.APIStatusError) as info:
        for e in ant.messages.create(model="claude-opus-4-6", max_tokens=10, messages=MSGS, stream=True):
            got.append(e.type)
    assert got == ["message_start"]
    [ev] = events
    assert ev["status"] == "error" and ev["level"] == "error"
    assert ev["error"]["type"] == type(info.value).__name__
    assert "Overloaded" in ev["error"]["message"]
    assert_usage(ev, 410, 1)                                      # what message_start reported
    assert_cost(ev, "claude-opus-4-6", "anthropic", prompt=410, completion=1)


def test_midstream_error_async(aant, anthropic_mock, events):
    import anthropic
    anthropic_mock.post("/v1/messages").respond(200, **sse("anthropic/message_stream_midstream_error.sse"))

    async def main():
        async with aant.messages.stream(model="claude-opus-4-6", max_tokens=10, messages=MSGS) as s:
            async for _ in s:
                pass
    with pytest.raises(anthropic.APIStatusError):
        run(main())
    [ev] = events
    assert ev["status"] == "error" and ev["name"] == "anthropic.messages.stream"
    assert_usage(ev, 410, 1)


# --------------------------------------------------------------------------- Bedrock / Vertex

BEDROCK = "https://bedrock-runtime.us-east-1.amazonaws.com"
BEDROCK_ID = "global.anthropic.claude-haiku-4-5-20251001-v1:0"


def bedrock(auth: dict, async_: bool = False):
    from anthropic import AnthropicBedrock, AsyncAnthropicBedrock
    cls = AsyncAnthropicBedrock if async_ else AnthropicBedrock
    return tokentrail.attach(cls(**auth, aws_region="us-east-1", max_retries=0))


def test_bedrock_create_prices_bedrock_id(events, bedrock_auth):
    with router(BEDROCK, "anthropic") as mock:
        route = mock.post(url__regex=r"/model/.*/invoke$").respond(200, json=message_json(model=None))
        out = bedrock(bedrock_auth).messages.create(model=BEDROCK_ID, max_tokens=100, messages=MSGS)
    assert out.usage.output_tokens == 87
    url = str(route.calls.last.request.url)
    assert url.endswith("/model/global.anthropic.claude-haiku-4-5-20251001-v1:0/invoke"), url
    body = json.loads(route.calls.last.request.content)
    assert "model" not in body and "anthropic_version" in body   # Bedrock moved the model into the URL
    [ev] = events
    assert ev["cloud"] == "bedrock"
    check_message(ev, "anthropic.messages.create", request_model=BEDROCK_ID, model=BEDROCK_ID)


def test_bedrock_beta_messages_async(events, bedrock_auth):
    with router(BEDROCK, "anthropic") as mock:
        mock.post(url__regex=r"/model/.*/invoke$").respond(200, json=message_json())

        async def main():
            client = bedrock(bedrock_auth, True)
            return await client.beta.messages.create(model=BEDROCK_ID, max_tokens=100, messages=MSGS)
        run(main())
    [ev] = events
    check_message(ev, "anthropic.beta.messages.create", request_model=BEDROCK_ID)


def _aws_frame(payload: bytes, headers: dict[str, str]) -> bytes:
    hb = b"".join(struct.pack("B", len(k)) + k.encode() + b"\x07" + struct.pack(">H", len(v)) + v.encode()
                  for k, v in headers.items())
    total = 12 + len(hb) + len(payload) + 4
    prelude = struct.pack(">II", total, len(hb))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    msg = prelude + hb + payload
    return msg + struct.pack(">I", binascii.crc32(msg) & 0xFFFFFFFF)


def aws_event_stream(sse_text: str) -> bytes:
    """Bedrock's invoke-with-response-stream body for the events of an SSE fixture."""
    out = b""
    for line in sse_text.splitlines():
        if line.startswith("data: "):
            payload = json.dumps({"bytes": base64.b64encode(line[6:].encode()).decode()}).encode()
            out += _aws_frame(payload, {":event-type": "chunk", ":content-type": "application/json",
                                        ":message-type": "event"})
    return out


def test_bedrock_stream_aws_event_stream(events, bedrock_auth):
    pytest.importorskip("botocore", reason="Bedrock streams are decoded by botocore")
    with router(BEDROCK, "anthropic") as mock:
        route = mock.post(url__regex=r"/invoke-with-response-stream$").respond(
            200, content=aws_event_stream(load_fixture("anthropic/message_stream.sse")),
            headers={"content-type": "application/vnd.amazon.eventstream"})
        with bedrock(bedrock_auth).messages.stream(model="global.anthropic.claude-opus-4-6-v1", max_tokens=10,
                                                   messages=MSGS) as s:
            assert "".join(s.text_stream).startswith("The refund")
    assert "claude-opus-4-6-v1/invoke-with-response-stream" in str(route.calls.last.request.url)
    check_stream(events[0], "anthropic.messages.stream", request_model="global.anthropic.claude-opus-4-6-v1")


def test_bedrock_stream_path(events, monkeypatch, bedrock_auth):
    # Without botocore: the same Bedrock request path, the events decoded as SSE.
    from anthropic import AnthropicBedrock
    from anthropic._streaming import SSEDecoder
    monkeypatch.setattr(AnthropicBedrock, "_make_sse_decoder", lambda self: SSEDecoder())
    with router(BEDROCK, "anthropic") as mock:
        route = mock.post(url__regex=r"/invoke-with-response-stream$").respond(200, **sse())
        stream = bedrock(bedrock_auth).messages.create(model="global.anthropic.claude-opus-4-6-v1",
                                                       max_tokens=10, messages=MSGS, stream=True)
        for _ in stream:
            pass
    assert route.called
    check_stream(events[0], "anthropic.messages.create", request_model="global.anthropic.claude-opus-4-6-v1")
    assert events[0]["cloud"] == "bedrock"


VERTEX = "https://us-east5-aiplatform.googleapis.com/v1"
VERTEX_ID = "claude-sonnet-4-5@20250929"


def vertex(async_: bool = False):
    from anthropic import AnthropicVertex, AsyncAnthropicVertex
    cls = AsyncAnthropicVertex if async_ else AnthropicVertex
    return tokentrail.attach(cls(region="us-east5", project_id="proj-1", access_token="ya29.SECRET-vertex",
                                 max_retries=0))


def test_vertex_create_prices_vertex_id(events):
    with router(VERTEX, "anthropic") as mock:
        route = mock.post(url__regex=r":rawPredict$").respond(200, json=message_json(model=None))
        vertex().messages.create(model=VERTEX_ID, max_tokens=100, messages=MSGS)
    assert str(route.calls.last.request.url).endswith(
        "/projects/proj-1/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict")
    [ev] = events
    assert ev["cloud"] == "vertex" and ev["model"] == VERTEX_ID
    assert ev["pricing"] == "anthropic/claude-sonnet-4-5"
    assert_usage(ev, 12154, 87, cached=10240, write=1893)
    assert_cost(ev, "claude-sonnet-4-5", "anthropic", prompt=12154, completion=87, cached=10240, write=1893)
    assert "ya29.SECRET-vertex" not in json.dumps(ev)


@requires("anthropic", "beta.messages.stream")
def test_vertex_beta_stream_async(events):
    with router(VERTEX, "anthropic") as mock:
        route = mock.post(url__regex=r":streamRawPredict$").respond(200, **sse())

        async def main():
            async with vertex(True).beta.messages.stream(model="claude-opus-4-6", max_tokens=10,
                                                         messages=MSGS) as s:
                return await s.get_final_message()
        assert run(main()).usage.output_tokens == 142
    assert re.search(r"models/claude-opus-4-6:streamRawPredict$", str(route.calls.last.request.url))
    check_stream(events[0], "anthropic.beta.messages.stream")
    assert events[0]["cloud"] == "vertex"


def test_vertex_beta_create_sync(events):
    with router(VERTEX, "anthropic") as mock:
        mock.post(url__regex=r":rawPredict$").respond(200, json=message_json())
        vertex().beta.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=MSGS)
    check_message(events[0], "anthropic.beta.messages.create")


OTHER_CLOUDS = [
    ("AnthropicFoundry", dict(resource="myres", api_key=ANT_KEY), "foundry"),
    ("AnthropicAWS", dict(api_key=ANT_KEY, aws_region="us-east-1", workspace_id="ws-1"), "aws"),
    ("AnthropicGoogleCloud", dict(project="proj-1", location="us-east5", workspace_id="ws-1", skip_auth=True),
     "google_cloud"),
    ("AnthropicBedrockMantle", dict(api_key=ANT_KEY, aws_region="us-east-1"), "bedrock"),
]


@pytest.mark.parametrize("async_", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("cls_name, kwargs, cloud", OTHER_CLOUDS, ids=[c[0] for c in OTHER_CLOUDS])
def test_other_cloud_clients(cls_name, kwargs, cloud, async_, events):
    import anthropic
    cls = getattr(anthropic, ("Async" if async_ else "") + cls_name, None)
    if cls is None:
        pytest.skip(f"anthropic {anthropic.__version__} has no {cls_name}")
    try:
        client = cls(max_retries=0, **kwargs)
    except Exception as e:                                 # e.g. a missing optional dependency
        pytest.skip(f"cannot build {cls_name} here: {e}")
    tokentrail.attach(client)
    with router(str(client.base_url), "anthropic") as mock:
        route = mock.route(method="POST").respond(200, json=message_json())
        call = client.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=MSGS)
        if async_:
            run(call)
    assert route.called
    [ev] = events
    assert ev["cloud"] == cloud
    check_message(ev, "anthropic.messages.create")
