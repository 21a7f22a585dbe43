"""What events must never contain: credentials and header values, and (capture off) any
prompt or completion text."""

from __future__ import annotations

import json

import tokentrail

from .conftest import ANT_KEY, KEY, has_api, load_fixture, prediction_kwargs, run, sse_headers

SECRETS = (KEY, ANT_KEY, "hdr-SECRET-value", "org-SECRET-token", "Bearer", "x-api-key", "Authorization",
           "X-Secret", "api-key")


def serialized(events, tmp_path) -> str:
    """The events as the user's sinks see them: tap dicts and a JSONL file written by the writer."""
    tokentrail.flush()
    text = json.dumps(events)
    path = tmp_path / "calls.jsonl"
    if path.exists():
        text += path.read_text()
    return text


def test_no_credentials_or_headers_in_events(openai_mock, anthropic_mock, events, tmp_path):
    from anthropic import Anthropic
    from openai import OpenAI
    sink = str(tmp_path / "calls.jsonl")
    oai = tokentrail.attach(OpenAI(api_key=KEY, default_headers={"X-Org-Token": "org-SECRET-token"},
                                   max_retries=0), sink=sink)
    ant = tokentrail.attach(Anthropic(api_key=ANT_KEY, max_retries=0), sink=sink)
    openai_mock.post("/chat/completions").respond(200, json=load_fixture("openai/chat_completion.json"))
    openai_mock.post("/embeddings").respond(429, json=load_fixture("openai/error_429.json"))
    anthropic_mock.post("/v1/messages").respond(200, text=load_fixture("anthropic/message_stream.sse"),
                                                headers=sse_headers())
    extra = {"X-Secret": "hdr-SECRET-value", "Authorization": "Bearer hdr-SECRET-value"}
    oai.chat.completions.create(model="gpt-5.5", messages=[{"role": "user", "content": "hi"}], extra_headers=extra,
                                extra_query={"q": "hdr-SECRET-value"}, extra_body={"x": "hdr-SECRET-value"})
    oai.chat.completions.with_raw_response.create(model="gpt-5.5", messages=[{"role": "user", "content": "hi"}],
                                                  extra_headers=extra)
    try:
        oai.embeddings.create(model="text-embedding-3-small", input="x", extra_headers=extra)
    except Exception:
        pass
    with ant.messages.stream(model="claude-opus-4-6", max_tokens=5, messages=[{"role": "user", "content": "hi"}],
                             extra_headers={"x-api-key": "hdr-SECRET-value"}) as s:
        s.get_final_message()
    assert len(events) == 4
    text = serialized(events, tmp_path)
    assert text.count('"traceId"') == 8                 # the tap's copy and the file's
    for secret in SECRETS:
        assert secret not in text, secret
    for ev in events:
        assert set(ev["input"]) <= {"model", "prompt", "messages", "params"}


def test_capture_content_off_stores_no_text(openai_mock, anthropic_mock, events, tmp_path):
    from anthropic import AsyncAnthropic
    from openai import OpenAI
    tokentrail.configure(capture_content=False, sink=str(tmp_path / "calls.jsonl"))
    oai = tokentrail.attach(OpenAI(api_key=KEY, max_retries=0))
    aant = tokentrail.attach(AsyncAnthropic(api_key=ANT_KEY, max_retries=0))
    openai_mock.post("/chat/completions").respond(200, text=load_fixture("openai/chat_stream_include_usage.sse"),
                                                  headers=sse_headers())
    openai_mock.post("/responses").respond(200, json=load_fixture("openai/responses_create.json"))
    openai_mock.post("/embeddings").respond(200, json=load_fixture("openai/embeddings.json"))
    anthropic_mock.post("/v1/messages").respond(200, json=load_fixture("anthropic/message.json"))
    prompt = "PRIVATE-PROMPT-TEXT"
    prediction = prediction_kwargs(prompt)
    list(oai.chat.completions.create(model="gpt-5.5", messages=[{"role": "user", "content": prompt}], stream=True,
                                     **prediction))
    responses = has_api("openai", "responses")
    if responses:
        oai.responses.create(model="gpt-5.5", input=prompt, instructions=prompt)
    oai.embeddings.create(model="text-embedding-3-small", input=prompt)
    with tokentrail.trace("t"):                          # a trace flattens the prompt early: still not stored
        run(aant.messages.create(model="claude-haiku-4-5", max_tokens=5, system=prompt,
                                 messages=[{"role": "user", "content": prompt}]))
    assert len(events) == 3 + responses
    text = serialized(events, tmp_path)
    for needle in (prompt, "Prompt caching", "Cached prefixes", "refunds are processed"):
        assert needle not in text, needle
    for ev in events:
        assert ev["input"]["prompt"] == "" and "messages" not in ev["input"]
        assert "response" not in ev.get("output", {})
    assert events[0]["usage"]["prompt_tokens"] == 1320          # counts and cost are still recorded
    assert events[-1]["cost"] > 0
