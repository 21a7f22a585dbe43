"""An in-process transport for the real ``openai`` and ``anthropic`` clients.

The SDK builds its request, sends it through this transport and parses the canned
response exactly as it would parse the API's, so a benchmark measures the SDK plus
whatever is attached to it, with the network out of the picture. Bodies are built
once and reused (no per-request allocation beyond what the SDK itself does).
"""

from __future__ import annotations

import json
from typing import Any

OPENAI_URL = "https://api.openai.com/v1"
ANTHROPIC_URL = "https://api.anthropic.com"

# Dummy credentials: the security scan in tests/faults looks for exactly these shapes.
OPENAI_KEY = "sk-bench-test-key-0000"
ANTHROPIC_KEY = "sk-ant-bench-test-key-0000"

_JSON = {"content-type": "application/json"}
_SSE = {"content-type": "text/event-stream"}


def _http_module(client_module: Any) -> Any:
    """httpx2 for openai >= 3 / anthropic >= 1, httpx before."""
    import importlib
    bc = importlib.import_module(client_module.__name__ + "._base_client")
    if hasattr(bc, "httpx2"):
        import httpx2
        return httpx2
    import httpx
    return httpx


# --------------------------------------------------------------------------- bodies

def chat_completion() -> bytes:
    return json.dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 1767225600,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Keep static content first.",
                                             "refusal": None, "annotations": []},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 2048, "completion_tokens": 64, "total_tokens": 2112,
                  "prompt_tokens_details": {"cached_tokens": 1792, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0,
                                                "rejected_prediction_tokens": 0}},
        "service_tier": "default", "system_fingerprint": None,
    }).encode()


def chat_stream(n_chunks: int, include_usage: bool = True) -> bytes:
    """``n_chunks`` content chunks (plus the usage-only chunk when asked), then [DONE]."""
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1767225600,
            "model": "gpt-4o-mini-2024-07-18", "service_tier": "default", "system_fingerprint": None}
    out = []
    for i in range(n_chunks):
        delta = {"role": "assistant", "content": ""} if i == 0 else {"content": f" tok{i}"}
        fin = "stop" if i == n_chunks - 1 else None
        out.append({**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": fin}],
                    "usage": None})
    if include_usage:
        out.append({**base, "choices": [], "usage": {"prompt_tokens": 120, "completion_tokens": n_chunks,
                                                     "total_tokens": 120 + n_chunks,
                                                     "prompt_tokens_details": {"cached_tokens": 0},
                                                     "completion_tokens_details": {"reasoning_tokens": 0}}})
    lines = [f"data: {json.dumps(c, separators=(',', ':'))}\n\n" for c in out]
    lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def responses_create() -> bytes:
    return json.dumps({
        "id": "resp_bench", "object": "response", "created_at": 1767225600, "status": "completed",
        "model": "gpt-4o-mini-2024-07-18", "output": [{
            "type": "message", "id": "msg_bench", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": "Keep static content first.", "annotations": []}]}],
        "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "error": None,
        "incomplete_details": None, "instructions": None, "metadata": {}, "temperature": 1.0, "top_p": 1.0,
        "usage": {"input_tokens": 2048, "output_tokens": 64, "total_tokens": 2112,
                  "input_tokens_details": {"cached_tokens": 1792, "cache_write_tokens": 0},
                  "output_tokens_details": {"reasoning_tokens": 0}},
    }).encode()


def anthropic_message() -> bytes:
    return json.dumps({
        "id": "msg_bench", "type": "message", "role": "assistant", "model": "claude-haiku-4-5-20251001",
        "content": [{"type": "text", "text": "The refund window is 30 days from delivery."}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 25, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2048,
                  "output_tokens": 64, "service_tier": "standard"},
    }).encode()


def anthropic_stream(n_deltas: int) -> bytes:
    ev = []

    def add(name: str, data: dict) -> None:
        ev.append(f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n")

    add("message_start", {"type": "message_start", "message": {
        "id": "msg_bench", "type": "message", "role": "assistant", "model": "claude-haiku-4-5-20251001",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 25, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2048,
                  "output_tokens": 1, "service_tier": "standard"}}})
    add("content_block_start", {"type": "content_block_start", "index": 0,
                                "content_block": {"type": "text", "text": ""}})
    for i in range(n_deltas):
        add("content_block_delta", {"type": "content_block_delta", "index": 0,
                                    "delta": {"type": "text_delta", "text": f" tok{i}"}})
    add("content_block_stop", {"type": "content_block_stop", "index": 0})
    add("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                          "usage": {"output_tokens": n_deltas}})
    add("message_stop", {"type": "message_stop"})
    return "".join(ev).encode()


# --------------------------------------------------------------------------- transport

class Bodies:
    """Pre-encoded bodies for one stream length."""

    def __init__(self, n_chunks: int = 50):
        self.chat = chat_completion()
        self.chat_stream = chat_stream(n_chunks)
        self.chat_stream_no_usage = chat_stream(n_chunks, include_usage=False)
        self.responses = responses_create()
        self.message = anthropic_message()
        self.message_stream = anthropic_stream(n_chunks)


def _route(bodies: Bodies, path: str, content: bytes) -> tuple[bytes, dict]:
    # Only ``"stream":true`` and ``include_usage`` matter; a substring test keeps the fake cheap.
    stream = b'"stream":true' in content or b'"stream": true' in content
    if path.endswith("/chat/completions"):
        if stream:
            if b"include_usage" in content:
                return bodies.chat_stream, _SSE
            return bodies.chat_stream_no_usage, _SSE
        return bodies.chat, _JSON
    if path.endswith("/responses"):
        return bodies.responses, _JSON
    if path.endswith("/v1/messages"):
        return (bodies.message_stream, _SSE) if stream else (bodies.message, _JSON)
    return b'{"error":{"message":"not faked","type":"invalid_request_error"}}', _JSON


def transport(http: Any, n_chunks: int = 50, *, is_async: bool = False) -> Any:
    """An ``http.MockTransport`` answering the benchmarked endpoints."""
    bodies = Bodies(n_chunks)

    def handler(request: Any) -> Any:
        body, headers = _route(bodies, request.url.path, request.content)
        return http.Response(200, headers=headers, content=body)

    if is_async:
        async def ahandler(request: Any) -> Any:
            await request.aread()
            return handler(request)
        return http.MockTransport(ahandler)
    return http.MockTransport(handler)


def openai_client(n_chunks: int = 50, *, is_async: bool = False) -> Any:
    """A real ``OpenAI`` (or ``AsyncOpenAI``) client whose network is this process."""
    import openai
    http = _http_module(openai)
    t = transport(http, n_chunks, is_async=is_async)
    if is_async:
        return openai.AsyncOpenAI(api_key=OPENAI_KEY, base_url=OPENAI_URL, max_retries=0,
                                  http_client=http.AsyncClient(transport=t))
    return openai.OpenAI(api_key=OPENAI_KEY, base_url=OPENAI_URL, max_retries=0,
                         http_client=http.Client(transport=t))


def anthropic_client(n_chunks: int = 50, *, is_async: bool = False) -> Any:
    """A real ``Anthropic`` (or ``AsyncAnthropic``) client whose network is this process."""
    import anthropic
    http = _http_module(anthropic)
    t = transport(http, n_chunks, is_async=is_async)
    if is_async:
        return anthropic.AsyncAnthropic(api_key=ANTHROPIC_KEY, base_url=ANTHROPIC_URL, max_retries=0,
                                        http_client=http.AsyncClient(transport=t))
    return anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=ANTHROPIC_URL, max_retries=0,
                               http_client=http.Client(transport=t))
