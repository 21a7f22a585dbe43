"""The demo's fake API, driven by the real SDK clients (no instrumentation needed)."""

from __future__ import annotations

import pytest

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

from conftest import requires  # noqa: E402

from tokentrail.demo import (ANSWERS, POLICY, FakeAPI, make_anthropic_client,  # noqa: E402
                             make_openai_client)


@pytest.fixture
def api(monkeypatch):
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")       # the fake transport must ignore proxies
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    return FakeAPI(ANSWERS, delay=0)


def test_chat_json_and_streams(api):
    oa = make_openai_client(api)
    msgs = [{"role": "user", "content": "hi"}]
    r = oa.chat.completions.create(model="gpt-4o-mini", messages=msgs)
    assert r.model == "gpt-4o-mini-2024-07-18" and r.choices[0].message.content == ANSWERS["hi"]
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens > 0
    chunks = list(oa.chat.completions.create(model="gpt-4o-mini", messages=msgs, stream=True))
    assert all(c.usage is None for c in chunks)               # no include_usage: no usage at all
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == ANSWERS["hi"]
    chunks = list(oa.chat.completions.create(model="gpt-4o-mini", messages=msgs, stream=True,
                                             stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


@requires("openai", "responses")
def test_responses(api):
    oa = make_openai_client(api)
    r = oa.responses.create(model="gpt-5-mini", input="hi")
    assert r.output_text == ANSWERS["hi"] and r.usage.output_tokens_details.reasoning_tokens > 0


def test_embeddings(api):
    oa = make_openai_client(api)
    e = oa.embeddings.create(model="text-embedding-3-small", input=["a", "b"])     # SDK default: base64
    assert len(e.data) == 2 and len(e.data[0].embedding) == 1536
    assert abs(sum(x * x for x in e.data[0].embedding) - 1) < 1e-3
    f = oa.embeddings.create(model="text-embedding-3-small", input="a", encoding_format="float", dimensions=8)
    assert len(f.data[0].embedding) == 8 and e.usage.prompt_tokens > 0


def test_anthropic_messages_with_prompt_caching(api):
    an = make_anthropic_client(api)
    system = [{"type": "text", "text": POLICY, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    m = an.messages.create(model="claude-haiku-4-5", max_tokens=50, system=system,
                           messages=[{"role": "user", "content": "hi"}])
    assert m.model == "claude-haiku-4-5-20251001" and m.content[0].text == ANSWERS["hi"]
    # (a dict field on anthropic 0.40, which has no cache_creation in its Usage type)
    assert m.usage.model_dump()["cache_creation"]["ephemeral_1h_input_tokens"] > 0
    assert m.usage.cache_read_input_tokens == 0
    with an.messages.stream(model="claude-haiku-4-5", max_tokens=50, system=system,
                            messages=[{"role": "user", "content": "hi"}]) as s:
        final = s.get_final_message()
    assert final.usage.cache_read_input_tokens == m.usage.cache_creation_input_tokens
    assert final.usage.output_tokens > 1 and final.content[0].text == ANSWERS["hi"]


def test_scripted_failures_raise_the_sdk_errors(api):
    oa, an = make_openai_client(api), make_anthropic_client(api)
    api.fail_next(429, path="/chat/completions")
    with pytest.raises(openai.RateLimitError):
        oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    api.fail_next(500, times=2)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    api.fail_next(529, model="claude-haiku-4-5")
    with pytest.raises(anthropic.APIStatusError) as ex:
        an.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert ex.value.status_code == 529
    assert oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}]).choices
    assert [p for p, _ in api.requests].count("/v1/chat/completions") == 4
