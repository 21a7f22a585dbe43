"""``tokentrail demo``: the real ``openai`` and ``anthropic`` clients, attached, against a fake API.

Nothing leaves the process: each SDK client gets an in-process transport
(``MockTransport`` of ``httpx2`` for openai >= 3 / anthropic >= 1, of ``httpx`` for the
older SDKs) whose handler, :class:`FakeAPI`, answers like the real services do —
``/chat/completions`` (JSON, or SSE that honours ``stream_options.include_usage``),
``/responses``, ``/embeddings`` (base64 or float) and Anthropic ``/v1/messages`` (JSON,
or SSE with prompt-cache usage) — and fails on request (``fail_next``) with the real
error bodies. No API key is read and none is needed.

Example::

    import tokentrail
    from tokentrail.demo import run_demo

    tokentrail.configure(sink="demo.jsonl")
    run = run_demo()          # 15 calls in 8 traces; under a second once the SDKs are imported
    tokentrail.flush()
    print(run.calls, run.trace_ids)
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

__all__ = ["FakeAPI", "DemoRun", "run_demo", "make_openai_client", "make_anthropic_client", "SCENARIOS"]

# What the real services answer with: the dated snapshot of the requested alias.
SNAPSHOTS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
}
EMBEDDING_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}

OPENAI_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_BASE_URL = "https://api.anthropic.com"


def estimate_tokens(text: str) -> int:
    """About 4 characters per token, at least 1 for non-empty text (the demo server's tokenizer)."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _rid(prefix: str, n: int = 24) -> str:
    return prefix + uuid.uuid4().hex[:n]


# --------------------------------------------------------------------------- the fake API

@dataclass
class _Failure:
    status: int
    path: str | None
    model: str | None


class FakeAPI:
    """An in-process stand-in for api.openai.com and api.anthropic.com.

    Call it with a request (``httpx`` or ``httpx2``) and it returns a response of the same
    library. ``answers`` maps a prompt (the last user message) to the reply; other prompts
    get a generic reply. ``fail_next(429)`` makes the next matching request fail with the
    provider's real error body; ``delay`` scales the simulated server time (0 = instant).
    """

    def __init__(self, answers: dict[str, str] | None = None, *, delay: float = 1.0):
        self.answers: dict[str, str] = dict(answers or {})
        self.delay = delay
        self.requests: list[tuple[str, str]] = []   # (path, model) of every request served
        self._failures: deque[_Failure] = deque()
        self._cache: dict[str, float] = {}          # Anthropic prompt cache: prefix hash -> expiry
        self._lock = threading.Lock()

    # -- scripting ---------------------------------------------------------------
    def fail_next(self, status: int, times: int = 1, *, path: str | None = None, model: str | None = None) -> None:
        """Make the next ``times`` requests (matching ``path`` suffix / ``model`` if given) fail with ``status``."""
        for _ in range(times):
            self._failures.append(_Failure(status, path, model))

    def transport(self, httpmod: Any) -> Any:
        """A ``MockTransport`` of ``httpmod`` (the ``httpx`` or ``httpx2`` module) that serves this API."""
        mock = getattr(httpmod, "MockTransport", None)
        if mock is not None:
            return mock(lambda request: self.handle(request, httpmod))
        return _make_base_transport(httpmod, self)   # pragma: no cover - every known release has MockTransport

    # -- dispatch ------------------------------------------------------------------
    def handle(self, request: Any, httpmod: Any) -> Any:
        path = request.url.path
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            return self._json(httpmod, 400, {"error": {"message": "We could not parse the JSON body of your "
                                                                  "request.", "type": "invalid_request_error",
                                                       "param": None, "code": None}})
        model = str(body.get("model") or "")
        with self._lock:
            self.requests.append((path, model))
            failure = self._take_failure(path, model)
        anthropic = path.endswith("/v1/messages")
        if failure is not None:
            self._sleep(0.004)
            return self._error(httpmod, failure.status, anthropic, model)
        if path.endswith("/chat/completions"):
            return self._chat(httpmod, body)
        if path.endswith("/responses"):
            return self._responses(httpmod, body)
        if path.endswith("/embeddings"):
            return self._embeddings(httpmod, body)
        if anthropic:
            return self._messages(httpmod, body)
        return self._json(httpmod, 404, {"error": {"message": f"Invalid URL (POST {path})",
                                                   "type": "invalid_request_error", "param": None, "code": None}})

    def _take_failure(self, path: str, model: str) -> _Failure | None:
        for i, f in enumerate(self._failures):
            if (f.path is None or path.endswith(f.path)) and (f.model is None or f.model == model):
                del self._failures[i]
                return f
        return None

    # -- helpers -----------------------------------------------------------------------
    def _sleep(self, seconds: float) -> None:
        if self.delay > 0:
            time.sleep(seconds * self.delay)

    def reply_to(self, prompt: str) -> str:
        return self.answers.get(prompt.strip()) or (
            "Here is a concise answer from the tokentrail demo server; a real model would say more.")

    @staticmethod
    def _json(httpmod: Any, status: int, payload: dict, headers: dict | None = None) -> Any:
        h = {"content-type": "application/json", **(headers or {})}
        return httpmod.Response(status, headers=h, content=json.dumps(payload).encode())

    def _sse(self, httpmod: Any, frames: list[str], headers: dict | None = None, pause: float = 0.001) -> Any:
        def body() -> Iterator[bytes]:
            for frame in frames:
                self._sleep(pause)          # tokens arrive over time, so ttft < latency
                yield frame.encode()
        h = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", **(headers or {})}
        return httpmod.Response(200, headers=h, content=body())

    def _error(self, httpmod: Any, status: int, anthropic: bool, model: str) -> Any:
        if anthropic:
            kind, msg = {429: ("rate_limit_error", "This request would exceed the rate limit for your organization "
                                                   "of 450,000 input tokens per minute. For details, refer to: "
                                                   "https://docs.claude.com/en/api/rate-limits."),
                         529: ("overloaded_error", "Overloaded"),
                         }.get(status, ("api_error", "Internal server error"))
            rid = _rid("req_011", 20)
            headers = {"request-id": rid, **({"retry-after": "1"} if status == 429 else {})}
            return self._json(httpmod, status, {"type": "error", "error": {"type": kind, "message": msg},
                                                "request_id": rid}, headers)
        if status == 429:
            err = {"message": f"Rate limit reached for {model or 'this model'} in organization org-demo on tokens "
                              "per min (TPM): Limit 30000, Used 29412, Requested 2048. Please try again in 2.92s.",
                   "type": "tokens", "param": None, "code": "rate_limit_exceeded"}
            headers = {"retry-after": "3", "retry-after-ms": "2920", "x-request-id": _rid("req_")}
        else:
            err = {"message": "The server had an error while processing your request. Sorry about that!",
                   "type": "server_error", "param": None, "code": None}
            headers = {"x-request-id": _rid("req_")}
        return self._json(httpmod, status, {"error": err}, headers)

    # -- OpenAI: chat completions ------------------------------------------------------------
    def _chat(self, httpmod: Any, body: dict) -> Any:
        messages = body.get("messages") or []
        prompt = _last_user_text(messages)
        prompt_tokens = sum(estimate_tokens(_text(m.get("content"))) + 4 for m in messages if isinstance(m, dict)) + 3
        answer = self.reply_to(prompt)
        completion_tokens = estimate_tokens(answer)
        model = SNAPSHOTS.get(body.get("model"), body.get("model") or "gpt-4o-mini")
        cid, created = _rid("chatcmpl-", 29), int(time.time())
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens,
                 "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                 "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                               "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
        headers = {"x-request-id": _rid("req_"), "openai-processing-ms": str(40 + completion_tokens)}
        if not body.get("stream"):
            self._sleep(0.008 + completion_tokens * 0.0001)
            return self._json(httpmod, 200, {
                "id": cid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer, "refusal": None,
                                                     "annotations": []},
                             "logprobs": None, "finish_reason": "stop"}],
                "usage": usage, "service_tier": "default", "system_fingerprint": "fp_demo0000"}, headers)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "service_tier": "default", "system_fingerprint": "fp_demo0000"}

        def chunk(delta: dict, finish: str | None = None) -> str:
            c = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            if include_usage:
                c["usage"] = None
            return "data: " + json.dumps(c) + "\n\n"

        frames = [chunk({"role": "assistant", "content": "", "refusal": None})]
        frames += [chunk({"content": piece}) for piece in _pieces(answer)]
        frames.append(chunk({}, "stop"))
        if include_usage:   # the extra, choice-less chunk that carries the only usage
            frames.append("data: " + json.dumps({**base, "choices": [], "usage": usage}) + "\n\n")
        frames.append("data: [DONE]\n\n")
        return self._sse(httpmod, frames, headers)

    # -- OpenAI: responses -----------------------------------------------------------------
    def _responses(self, httpmod: Any, body: dict) -> Any:
        if body.get("stream"):
            return self._json(httpmod, 400, {"error": {"message": "The tokentrail demo server does not stream the "
                                                                  "Responses API.", "type": "invalid_request_error",
                                                       "param": "stream", "code": None}})
        inp = body.get("input")
        prompt = inp if isinstance(inp, str) else _last_user_text(inp or [])
        input_tokens = estimate_tokens(_text(body.get("instructions"))) + estimate_tokens(
            inp if isinstance(inp, str) else " ".join(_text(m.get("content")) for m in inp or [] if isinstance(m, dict))
        ) + 7
        answer = self.reply_to(prompt)
        reasoning = 192 if str(body.get("model", "")).startswith(("gpt-5", "o")) else 0
        output_tokens = estimate_tokens(answer) + reasoning
        model = SNAPSHOTS.get(body.get("model"), body.get("model") or "gpt-5-mini")
        now = int(time.time())
        self._sleep(0.012 + output_tokens * 0.0001)
        output: list[dict] = []
        if reasoning:
            output.append({"id": _rid("rs_", 48), "type": "reasoning", "summary": []})
        output.append({"id": _rid("msg_", 48), "type": "message", "status": "completed", "role": "assistant",
                       "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": answer}]})
        return self._json(httpmod, 200, {
            "id": _rid("resp_", 48), "object": "response", "created_at": now, "status": "completed",
            "background": False, "completed_at": now, "error": None, "incomplete_details": None,
            "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": None, "model": model, "output": output, "parallel_tool_calls": True,
            "previous_response_id": None, "prompt_cache_key": None, "prompt_cache_retention": None,
            "reasoning": {"effort": (body.get("reasoning") or {}).get("effort", "medium"), "summary": None},
            "safety_identifier": None, "service_tier": "default", "store": True, "temperature": 1.0,
            "text": {"format": {"type": "text"}, "verbosity": "medium"}, "tool_choice": "auto", "tools": [],
            "top_logprobs": 0, "top_p": 1.0, "truncation": "disabled",
            "usage": {"input_tokens": input_tokens,
                      "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                      "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": reasoning},
                      "total_tokens": input_tokens + output_tokens},
            "user": None, "metadata": {}}, {"x-request-id": _rid("req_")})

    # -- OpenAI: embeddings ------------------------------------------------------------
    def _embeddings(self, httpmod: Any, body: dict) -> Any:
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else [str(t) for t in (inputs or [])]
        model = str(body.get("model") or "text-embedding-3-small")
        dims = int(body.get("dimensions") or EMBEDDING_DIMS.get(model, 1536))
        b64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(texts):
            vec = _unit_vector(text, dims)
            emb: Any = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode() if b64 else vec
            data.append({"object": "embedding", "index": i, "embedding": emb})
        tokens = sum(estimate_tokens(t) for t in texts)
        self._sleep(0.006)
        return self._json(httpmod, 200, {"object": "list", "data": data, "model": model,
                                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}},
                          {"x-request-id": _rid("req_")})

    # -- Anthropic: messages -------------------------------------------------------------
    def _messages(self, httpmod: Any, body: dict) -> Any:
        system = body.get("system")
        messages = body.get("messages") or []
        blocks = _anthropic_blocks(system, messages)
        # Prompt caching: everything up to the last block marked cache_control is the prefix.
        cut = max((i for i, (_, cc) in enumerate(blocks) if cc), default=-1)
        prefix_text = "".join(t for t, _ in blocks[: cut + 1])
        prefix_tokens = estimate_tokens(prefix_text) if cut >= 0 else 0
        rest_tokens = sum(estimate_tokens(t) for t, _ in blocks[cut + 1:]) + 4
        read = write_5m = write_1h = 0
        if prefix_tokens:
            ttl = (blocks[cut][1] or {}).get("ttl", "5m")
            key = hashlib.sha256(f"{body.get('model')}\0{prefix_text}".encode()).hexdigest()
            now = time.time()
            with self._lock:
                if self._cache.get(key, 0) > now:
                    read = prefix_tokens
                else:
                    if ttl == "1h":
                        write_1h = prefix_tokens
                    else:
                        write_5m = prefix_tokens
                self._cache[key] = now + (3600 if ttl == "1h" else 300)
        answer = self.reply_to(_last_user_text(messages))
        output_tokens = estimate_tokens(answer)
        model = SNAPSHOTS.get(body.get("model"), body.get("model") or "claude-haiku-4-5")
        usage = {"input_tokens": rest_tokens, "cache_creation_input_tokens": write_5m + write_1h,
                 "cache_read_input_tokens": read,
                 "cache_creation": {"ephemeral_5m_input_tokens": write_5m, "ephemeral_1h_input_tokens": write_1h},
                 "output_tokens": output_tokens, "service_tier": "standard"}
        msg_id = _rid("msg_01", 22)
        headers = {"request-id": _rid("req_011", 20),
                   "anthropic-organization-id": "00000000-demo-0000-0000-000000000000"}
        if not body.get("stream"):
            self._sleep(0.010 + output_tokens * 0.0001)
            return self._json(httpmod, 200, {
                "id": msg_id, "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": answer}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": usage}, headers)

        def event(name: str, data: dict) -> str:
            return f"event: {name}\ndata: {json.dumps(data)}\n\n"

        start_usage = {**usage, "output_tokens": 1}
        frames = [event("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": start_usage}}),
            event("content_block_start", {"type": "content_block_start", "index": 0,
                                          "content_block": {"type": "text", "text": ""}}),
            event("ping", {"type": "ping"})]
        frames += [event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                 "delta": {"type": "text_delta", "text": piece}})
                   for piece in _pieces(answer)]
        frames.append(event("content_block_stop", {"type": "content_block_stop", "index": 0}))
        delta_usage = {k: usage[k] for k in ("input_tokens", "cache_creation_input_tokens",
                                             "cache_read_input_tokens", "output_tokens")}
        frames.append(event("message_delta", {"type": "message_delta",
                                              "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                              "usage": delta_usage}))
        frames.append(event("message_stop", {"type": "message_stop"}))
        return self._sse(httpmod, frames, headers)


def _make_base_transport(httpmod: Any, api: FakeAPI) -> Any:  # pragma: no cover - fallback only
    class _Transport(httpmod.BaseTransport):
        def handle_request(self, request: Any) -> Any:
            request.read()
            return api.handle(request, httpmod)
    return _Transport()


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(_text(p.get("text") if isinstance(p, dict) else p) for p in content)
    return str(content)


def _last_user_text(messages: Any) -> str:
    for m in reversed(list(messages or [])):
        if isinstance(m, dict) and m.get("role", "user") == "user":
            return _text(m.get("content"))
    return ""


def _anthropic_blocks(system: Any, messages: list) -> list[tuple[str, dict | None]]:
    """(text, cache_control) for system blocks then message blocks, in prompt order."""
    out: list[tuple[str, dict | None]] = []
    for src in ([system] if system else []) + [m.get("content") for m in messages if isinstance(m, dict)]:
        if isinstance(src, str):
            out.append((src, None))
        elif isinstance(src, list):
            for part in src:
                if isinstance(part, dict):
                    out.append((str(part.get("text") or ""), part.get("cache_control")))
    return out


def _pieces(text: str, size: int = 3) -> list[str]:
    """Split an answer into stream deltas of a few words each."""
    words = text.split(" ")
    return [" ".join(words[i:i + size]) + (" " if i + size < len(words) else "") for i in range(0, len(words), size)]


def _unit_vector(text: str, dims: int) -> list[float]:
    seed = hashlib.sha256(text.encode()).digest()
    raw = [((seed[i % 32] ^ (i * 131 % 251)) - 127.5) / 127.5 for i in range(dims)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


# --------------------------------------------------------------------------- SDK clients

def _http_client(sdk: Any, api: FakeAPI) -> Any:
    """An SDK-compatible HTTP client whose transport is ``api``.

    openai >= 3 and anthropic >= 1 use ``httpx2``; the older SDKs use ``httpx``.
    """
    import importlib
    base = importlib.import_module(sdk.__name__ + "._base_client")
    httpmod = importlib.import_module("httpx2" if hasattr(base, "httpx2") else "httpx")
    factory = getattr(sdk, "DefaultHttpxClient", None) or httpmod.Client
    return factory(transport=api.transport(httpmod))


def make_openai_client(api: FakeAPI) -> Any:
    """A real ``openai.OpenAI`` client served by ``api`` (fixed key and URL: the environment is not read)."""
    import openai
    return openai.OpenAI(api_key="sk-tokentrail-demo", base_url=OPENAI_BASE_URL, max_retries=0,
                         http_client=_http_client(openai, api))


def make_anthropic_client(api: FakeAPI) -> Any:
    """A real ``anthropic.Anthropic`` client served by ``api``."""
    import anthropic
    return anthropic.Anthropic(api_key="sk-ant-tokentrail-demo", base_url=ANTHROPIC_BASE_URL, max_retries=0,
                               http_client=_http_client(anthropic, api))


# --------------------------------------------------------------------------- the scenarios

POLICY = "\n\n".join(
    f"Section {n}. {title}\n" + " ".join([body] * 6) for n, (title, body) in enumerate([
        ("Refund window", "Customers may return any item within 30 days of delivery for a full refund, provided "
                          "the item is unused and in its original packaging."),
        ("Damaged goods", "Items that arrive damaged are replaced free of charge; the customer uploads a photo "
                          "through the order page within 7 days."),
        ("Digital products", "Licences for software and e-books are refundable within 14 days if the product "
                             "has not been downloaded or activated."),
        ("Shipping costs", "Return shipping is free for damaged or wrong items and costs a flat 4.95 EUR "
                           "otherwise, deducted from the refund."),
        ("Processing time", "Refunds are issued to the original payment method within 5 business days of the "
                            "return being received at the warehouse."),
        ("Exceptions", "Personalised items, gift cards and perishable goods cannot be returned unless they "
                       "arrive damaged or the wrong item was sent."),
    ], start=1))

SUPPORT_SYSTEM = (
    "You are the support assistant of an online shop. Answer in the customer's language, in at most "
    "three sentences, using only the shop's policies. If an order number is missing, ask for it. Never "
    "promise refunds or delivery dates that the policies do not state; offer a human agent instead.")
TRAVEL_SYSTEM = (
    "You are the travel desk of a conference organiser. Suggest at most three hotels within walking "
    "distance of the venue, with star rating and nightly price in EUR, cheapest first, and say if a "
    "hotel has a conference rate. Do not invent availability; the booking step checks it.")
TICKET = (
    "Summarize this ticket for the billing team: 'Hello, I was charged twice for order 88231 on 3 March "
    "(two payments of 59.90 EUR on my Visa ending 4417). I only placed one order and received one parcel. "
    "Please refund one of the two charges and confirm by email. Thanks, Dana'")

ANSWERS = {
    "How do I reset my password?":
        "Open Settings > Security, choose 'Reset password' and follow the link we email you; it expires in "
        "30 minutes.",
    "Translate to French: 'Your order has shipped.'": "« Votre commande a été expédiée. »",
    "Write a two-line status update for the checkout service.":
        "Checkout is healthy: p95 latency 210 ms, error rate 0.02%.\nNext: roll out the new payment retry "
        "policy on Thursday.",
    "Can I return a jacket I bought 3 weeks ago?":
        "Yes. It is within the 30-day window, so you get a full refund if the jacket is unused and in its "
        "original packaging.",
    "How long until I get my money back?":
        "Refunds reach your original payment method within 5 business days after the warehouse receives "
        "the return.",
    TICKET: "Duplicate charge on order 88231 (2 x 59.90 EUR, Visa 4417); refund one payment and confirm by email.",
    "Find hotels near the venue for 12-14 March.":
        "Three options within 1 km: Hotel Aurora (4*, 142 EUR/night), Parkside Inn (3*, 98 EUR/night) and "
        "Central Suites (4*, 171 EUR/night).",
    "Draft a reply to a customer whose parcel is late.":
        "Hi Sam, sorry your parcel is late. It left our warehouse on Monday and the carrier now expects "
        "delivery on Friday; here is the tracking link. We have refunded the shipping fee.",
    "hi": "Hello! How can I help you today?",
}

#: (trace name, team, route, what it shows) — the order the demo runs them in.
SCENARIOS = [
    ("answer-faq", "support", "/api/faq", "plain OpenAI and Anthropic calls"),
    ("live-chat", "support", "/api/chat/stream", "an OpenAI stream without include_usage"),
    ("policy-answers", "support", "/api/policy", "Anthropic streams with prompt caching (write, then read)"),
    ("triage-ticket", "support", "/api/triage", "a Responses API call and a @capture function"),
    ("index-docs", "search", "/api/index", "an embedding batch"),
    ("hotel-search", "search", "/api/hotels", "a retry loop: 3 server errors, then success"),
    ("late-parcel-reply", "support", "/api/reply", "a 429, then a fallback to another model"),
    ("greeting", "growth", "/api/greet", "an expensive model asked 'hi'"),
]


@dataclass
class DemoRun:
    """What :func:`run_demo` did: the traces it opened, the calls it made, when, and how long it took."""

    trace_ids: dict[str, str] = field(default_factory=dict)   # scenario name -> traceId
    calls: int = 0                                            # requests the fake API served (+ captured calls)
    started: float = 0.0                                      # epoch seconds
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)          # calls the installed SDKs cannot make, and why


def run_demo(*, namespace: str | None = None, metadata: dict | None = None, delay: float = 1.0,
             backoff: float = 0.02, on_scenario: Callable[[str, str], None] | None = None) -> DemoRun:
    """Run every scenario of :data:`SCENARIOS` through attached clients; events go to the configured sink.

    ``delay`` scales the fake server's response time, ``backoff`` is the first sleep of the
    retry loop (doubled after each failure), ``on_scenario(name, description)`` is called
    before each scenario (for progress output).
    """
    import openai

    import tokentrail

    api = FakeAPI(ANSWERS, delay=delay)
    meta = {"app": "tokentrail-demo", **(metadata or {})}
    oa = tokentrail.attach(make_openai_client(api), metadata=meta, namespace=namespace)
    an = tokentrail.attach(make_anthropic_client(api), metadata=meta, namespace=namespace)

    @tokentrail.capture(name="classify_intent", model="gpt-4.1-nano", provider="openai")
    def classify_intent(message: str) -> str:
        # Stands in for a call through an in-house gateway that tokentrail does not patch.
        return "billing.duplicate_charge" if "charged twice" in message else "other"

    run = DemoRun(started=time.time())
    t0 = time.perf_counter()
    captured = 0

    def scenario(name: str):
        _, team, route, what = next(s for s in SCENARIOS if s[0] == name)
        if on_scenario is not None:
            on_scenario(name, what)
        t = tokentrail.trace(name, metadata={"team": team, "route": route})
        return t

    def user(text: str, system: str = SUPPORT_SYSTEM) -> list[dict]:
        return [{"role": "system", "content": system}, {"role": "user", "content": text}]

    # 1. Plain calls, one per provider.
    with scenario("answer-faq") as t:
        run.trace_ids["answer-faq"] = t.trace_id
        oa.chat.completions.create(model="gpt-4o-mini", messages=user("How do I reset my password?"),
                                   temperature=0.2)
        an.messages.create(model="claude-haiku-4-5", max_tokens=256, system=SUPPORT_SYSTEM,
                           messages=[{"role": "user", "content": "Translate to French: 'Your order has shipped.'"}])

    # 2. An OpenAI stream that does not ask for usage (tokentrail still gets it).
    with scenario("live-chat") as t:
        run.trace_ids["live-chat"] = t.trace_id
        stream = oa.chat.completions.create(model="gpt-4o-mini", stream=True,
                                            messages=user("Write a two-line status update for the checkout service."))
        "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    # 3. Anthropic streams with prompt caching: the first writes the cache, the second reads it.
    system = [{"type": "text", "text": "You answer questions about our returns policy.\n\n" + POLICY,
               "cache_control": {"type": "ephemeral"}}]
    with scenario("policy-answers") as t:
        run.trace_ids["policy-answers"] = t.trace_id
        with an.messages.create(model="claude-haiku-4-5", max_tokens=300, system=system, stream=True,
                                messages=[{"role": "user", "content": "Can I return a jacket I bought 3 weeks ago?"}]
                                ) as s:
            for _ in s:
                pass
        with an.messages.stream(model="claude-haiku-4-5", max_tokens=300, system=system,
                                messages=[{"role": "user", "content": "How long until I get my money back?"}]) as s:
            s.get_final_message()

    # 4. A Responses API call and a captured custom function in one trace.
    with scenario("triage-ticket") as t:
        run.trace_ids["triage-ticket"] = t.trace_id
        classify_intent(TICKET)
        captured += 1
        if hasattr(oa, "responses"):
            oa.responses.create(model="gpt-5-mini", input=TICKET, instructions="Be brief.",
                                reasoning={"effort": "low"})
        else:   # openai < 1.66
            run.skipped.append(f"the Responses API call (openai {openai.__version__} has no Responses API)")

    # 5. An embedding batch (the SDK asks for base64 and decodes it).
    with scenario("index-docs") as t:
        run.trace_ids["index-docs"] = t.trace_id
        oa.embeddings.create(model="text-embedding-3-small",
                             input=[p.split("\n", 1)[0] for p in POLICY.split("\n\n")])

    # 6. The application's own retry loop: the upstream fails 3 times, the 4th attempt succeeds.
    with scenario("hotel-search") as t:
        run.trace_ids["hotel-search"] = t.trace_id
        api.fail_next(500, times=3, path="/chat/completions")
        wait = backoff
        for _attempt in range(5):
            try:
                oa.chat.completions.create(model="gpt-4o",
                                           messages=user("Find hotels near the venue for 12-14 March.", TRAVEL_SYSTEM))
                break
            except openai.InternalServerError:
                time.sleep(wait)
                wait *= 2

    # 7. Rate-limited on the primary model, the app falls back to another provider.
    with scenario("late-parcel-reply") as t:
        run.trace_ids["late-parcel-reply"] = t.trace_id
        api.fail_next(429, path="/chat/completions")
        ask = "Draft a reply to a customer whose parcel is late."
        try:
            oa.chat.completions.create(model="gpt-4o", messages=user(ask))
        except openai.RateLimitError:
            an.messages.create(model="claude-sonnet-4-6", max_tokens=400, system=SUPPORT_SYSTEM,
                               messages=[{"role": "user", "content": ask}])

    # 8. Overkill: the most expensive model in the app, asked "hi".
    with scenario("greeting") as t:
        run.trace_ids["greeting"] = t.trace_id
        an.messages.create(model="claude-opus-4-1", max_tokens=1024, messages=[{"role": "user", "content": "hi"}])

    for client in (oa, an):
        try:
            client.close()
        except Exception:
            pass
    run.calls = len(api.requests) + captured
    run.seconds = time.perf_counter() - t0
    return run
