"""Provider errors: an error event, then the very exception the SDK raised."""

from __future__ import annotations

import importlib

import pytest

from .conftest import ANT_KEY, KEY, load_fixture, requires, run

MSGS = [{"role": "user", "content": "hi"}]


def httpx_of(sdk: str):
    bc = importlib.import_module(f"{sdk}._base_client")
    return bc.httpx2 if hasattr(bc, "httpx2") else bc.httpx


def check_error(ev: dict, exc: BaseException, status: int | None, name: str) -> None:
    assert ev["name"] == name
    assert ev["status"] == "error" and ev["level"] == "error"
    assert ev["error"]["type"] == type(exc).__name__
    assert ev["error"]["status_code"] == status
    assert ev["error"]["message"]
    assert ev["usage"]["total_tokens"] == 0 and ev["cost"] == 0
    assert isinstance(ev["latency_ms"], int)


def test_openai_429(oai, openai_mock, events):
    import openai
    openai_mock.post("/chat/completions").respond(429, json=load_fixture("openai/error_429.json"))
    with pytest.raises(openai.RateLimitError) as info:
        oai.chat.completions.create(model="gpt-5.5", messages=MSGS)
    [ev] = events
    check_error(ev, info.value, 429, "openai.chat.completions.create")
    assert "Rate limit reached" in ev["error"]["message"]
    assert ev["input"]["model"] == "gpt-5.5" and ev["model"] == "gpt-5.5"


@pytest.mark.parametrize("endpoint", ["chat.completions",
                                      pytest.param("responses", marks=requires("openai", "responses"))])
def test_openai_500_async(endpoint, aoai, openai_mock, events):
    import openai
    openai_mock.post(f"/{endpoint.replace('.', '/')}").respond(500, json=load_fixture("openai/error_500.json"))

    async def main():
        if endpoint == "responses":
            await aoai.responses.create(model="gpt-5.5", input="hi")
        else:
            await aoai.chat.completions.create(model="gpt-5.5", messages=MSGS)
    with pytest.raises(openai.InternalServerError) as info:
        run(main())
    check_error(events[0], info.value, 500, f"openai.{endpoint}.create")


def test_openai_stream_request_error(oai, openai_mock, events):
    import openai
    openai_mock.post("/chat/completions").respond(500, json=load_fixture("openai/error_500.json"))
    with pytest.raises(openai.InternalServerError) as info:
        oai.chat.completions.create(model="gpt-5.5", messages=MSGS, stream=True)
    check_error(events[0], info.value, 500, "openai.chat.completions.create")


def test_connection_error_and_timeout(oai, openai_mock, events):
    import openai
    hx = httpx_of("openai")
    openai_mock.post("/embeddings").mock(side_effect=hx.ConnectError("refused"))
    with pytest.raises(openai.APIConnectionError) as info:
        oai.embeddings.create(model="text-embedding-3-small", input="x")
    check_error(events[0], info.value, None, "openai.embeddings.create")
    openai_mock.post("/embeddings").mock(side_effect=hx.ReadTimeout("slow"))
    with pytest.raises(openai.APITimeoutError) as info:
        oai.embeddings.create(model="text-embedding-3-small", input="x")
    check_error(events[1], info.value, None, "openai.embeddings.create")


def test_retries_inside_one_call_make_one_event(openai_mock, events):
    import tokentrail
    from openai import OpenAI
    client = tokentrail.attach(OpenAI(api_key=KEY, max_retries=2))
    import httpx as hx                                   # respx builds its responses with httpx in both eras
    fail = dict(json=load_fixture("openai/error_500.json"), headers={"retry-after-ms": "30"})
    route = openai_mock.post("/chat/completions").mock(side_effect=[
        hx.Response(500, **fail), hx.Response(500, **fail),
        hx.Response(200, json=load_fixture("openai/chat_completion.json"))])
    client.chat.completions.create(model="gpt-5.5", messages=MSGS)
    assert route.call_count == 3
    [ev] = events
    assert ev["status"] == "success" and ev["usage"]["prompt_tokens"] == 2048
    assert ev["latency_ms"] >= 60                        # the backoff sleeps are part of the call


def test_anthropic_errors(ant, anthropic_mock, events):
    import anthropic
    anthropic_mock.post("/v1/messages").respond(429, json=load_fixture("anthropic/error_429.json"))
    with pytest.raises(anthropic.RateLimitError) as info:
        ant.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=MSGS)
    check_error(events[0], info.value, 429, "anthropic.messages.create")
    anthropic_mock.post("/v1/messages").respond(529, json=load_fixture("anthropic/error_529.json"))
    with pytest.raises(anthropic.APIStatusError) as info:
        with ant.messages.stream(model="claude-haiku-4-5", max_tokens=5, messages=MSGS):
            pass
    check_error(events[1], info.value, 529, "anthropic.messages.stream")
    assert "Overloaded" in events[1]["error"]["message"]


def test_anthropic_errors_async(aant, anthropic_mock, events):
    import anthropic
    anthropic_mock.post("/v1/messages").respond(500, json=load_fixture("anthropic/error_500.json"))

    async def main():
        await aant.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=MSGS, stream=True)
    with pytest.raises(anthropic.InternalServerError) as info:
        run(main())
    check_error(events[0], info.value, 500, "anthropic.messages.create")
    hx = httpx_of("anthropic")
    anthropic_mock.post("/v1/messages").mock(side_effect=hx.ConnectTimeout("slow"))

    async def again():
        await aant.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=MSGS)
    with pytest.raises(anthropic.APITimeoutError) as info:
        run(again())
    check_error(events[1], info.value, None, "anthropic.messages.create")


def test_exception_is_the_sdks_own(oai, openai_mock, events):
    """Same exception as an unattached client raises: same class, message, status and body."""
    import openai
    from openai import OpenAI
    openai_mock.post("/chat/completions").respond(429, json=load_fixture("openai/error_429.json"))
    with pytest.raises(openai.RateLimitError) as attached:
        oai.chat.completions.create(model="gpt-5.5", messages=MSGS)
    with pytest.raises(openai.RateLimitError) as bare:
        OpenAI(api_key=KEY, max_retries=0).chat.completions.create(model="gpt-5.5", messages=MSGS)
    a, b = attached.value, bare.value
    assert (type(a), str(a), a.status_code, a.body) == (type(b), str(b), b.status_code, b.body)
    assert a.__traceback__ is not None
    assert len(events) == 1


def test_cancelled_async_call_records_an_error_and_propagates(aant, anthropic_mock, events):
    import asyncio

    async def slow(request):
        await asyncio.sleep(5)
        import httpx
        return httpx.Response(200, json=load_fixture("anthropic/message.json"))
    anthropic_mock.post("/v1/messages").mock(side_effect=slow)

    async def main():
        task = asyncio.create_task(aant.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=MSGS))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    run(main())
    [ev] = events
    assert ev["status"] == "error" and ev["error"]["type"] == "CancelledError"
    assert ANT_KEY not in str(ev)
