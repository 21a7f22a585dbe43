"""The OpenAI adapter: which requests cost tokens, where their usage is, how streams end.

Recorded (sync and async, every client class built on ``openai._base_client``, Azure
included): ``POST /chat/completions`` (create, parse, the ``.stream()`` helper),
``POST /responses`` (create, parse, stream; ``beta.responses`` too), ``POST
/responses/compact``, ``GET /responses/{id}`` with ``stream`` (``responses.stream(
response_id=...)`` resuming a response), ``POST /completions`` (legacy) and ``POST
/embeddings``. Everything else passes through untouched.

Chat and legacy completion streams only report usage when asked
(``stream_options.include_usage``); tokentrail asks when the caller did not (see
``configure(inject_stream_usage=...)``) and hides the extra usage-only chunk from the
caller, so loops reading ``chunk.choices[0]`` keep working.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

from .._config import SETTINGS
from .._content import pick_params
from .._fields import data_fields, fields_of
from .._recorder import Call
from . import _core
from ._core import Endpoint, first_token, get, given, logger

provider = "openai"

_POST = {
    "/chat/completions": "chat",
    "/responses": "responses",
    "/responses/compact": "compact",
    "/completions": "completions",
    "/embeddings": "embeddings",
}

_installed = False


def install() -> None:
    """Hook openai's base clients (once per process; inert for clients never attached)."""
    global _installed
    if _installed:
        return
    from openai import _base_client as bc
    _core.wrap_once(bc.SyncAPIClient, "request", _core.sync_request)
    _core.wrap_once(bc.AsyncAPIClient, "request", _core.async_request)
    try:  # responses.stream() sets no helper header; name its request from its manager
        from openai.lib.streaming.responses import _responses as rs
        _core.wrap_once(rs.ResponseStreamManager, "__enter__", _ENTER)
        _core.wrap_once(rs.AsyncResponseStreamManager, "__aenter__", _AENTER)
    except ImportError:   # openai < 1.66 has no Responses API
        pass
    try:  # older openai 1.x (1.40): beta.chat.completions.parse() parses what create() returned
        from openai.resources.beta.chat import completions as bcc
        code = getattr(getattr(bcc.Completions, "parse", None), "__code__", None)
        if code is not None and "create" in code.co_names:
            _core.wrap_once(bcc.Completions, "parse", _core.hold_calls)
            _core.wrap_once(bcc.AsyncCompletions, "parse", _core.hold_calls_async)
    except ImportError:   # openai >= 2.x: no beta chat helpers
        pass
    _installed = True


_ENTER = _core.helper_enter("responses.stream")
_AENTER = _core.helper_aenter("responses.stream")


def base_client() -> type:
    from openai._base_client import BaseClient
    return BaseClient


def cloud_of(client: Any) -> str | None:
    names = {k.__name__ for k in type(client).__mro__}
    if names & {"AzureOpenAI", "AsyncAzureOpenAI", "BaseAzureClient"}:
        return "azure"
    if any("Bedrock" in n for n in names):       # openai's own Bedrock client (openai >= 3)
        return "bedrock"
    return None


# --------------------------------------------------------------------------- planning

def plan(client: Any, options: Any, stream: bool, st: Any, body: Mapping) -> Endpoint | None:
    """What the request is, or None if it is not recorded. ``body``: its JSON body (``options.json_data``,
    or a private copy of it when the call is recorded after it was made)."""
    hdrs = _core.lower_headers(options) if stream else None    # read once: route and _stream_usage
    r = route(options, stream, hdrs)
    if r is None:
        return None
    ep = endpoint(r, body)
    if stream and r[0] in _STREAMS:
        _stream_usage(ep, client, options, body, r[0], hdrs)
    return ep


def route(options: Any, stream: bool, hdrs: dict | None = None) -> tuple[str, str] | None:
    """(kind, name) of the call a request makes, from its options alone (method, URL,
    headers, parser), or None if it is not recorded. A call recorded after it was made
    reuses it for requests with the same options (``_core.deferred_fields``). ``hdrs``:
    the request's headers already lowered (:func:`_core.lower_headers`), if the caller has them."""
    method = getattr(options, "method", "")
    url = getattr(options, "url", "")
    if not isinstance(url, str):
        return None
    path, _, query = url.partition("?")
    beta = "beta." if "beta=true" in query else ""
    if method == "post":
        kind = _POST.get(path)
        if kind is None:
            return None
    elif stream and method == "get" and path.startswith("/responses/") and path.count("/") == 2:
        return "retrieve", f"openai.{beta}responses.retrieve"
    else:
        return None
    if kind == "chat":
        if hdrs is None:
            hdrs = _core.lower_headers(options)
        helper = hdrs.get("x-stainless-helper-method", "")
        verb = "parse" if helper.endswith(".parse") else "stream" if helper.endswith(".stream") else "create"
        return kind, f"openai.chat.completions.{verb}"
    if kind == "responses" or kind == "compact":
        if kind == "compact":
            verb = "compact"
        elif _core.helper_of(options) == "responses.stream":
            verb = "stream"
        elif given(getattr(options, "post_parser", None)):
            verb = "parse"
        else:
            verb = "create"
        return kind, f"openai.{beta}responses.{verb}"
    if kind == "completions":
        return kind, "openai.completions.create"
    return kind, "openai.embeddings.create"


def fields(r: tuple[str, str], body: Mapping) -> tuple:
    """What an event records of a request :func:`route` named, from its body: ``(name, type,
    request_model, prompt, messages, system, params)``, as :class:`Endpoint` takes them."""
    kind, name = r
    if kind == "retrieve":
        return name, "generation", None, None, None, None, None
    params = pick_params(body)
    model = body.get("model")
    if kind == "chat":
        return name, "generation", model, None, body.get("messages"), None, params
    if kind == "responses" or kind == "compact":
        inp = body.get("input")
        msgs = [{"role": "user", "content": inp}] if isinstance(inp, str) else inp
        return name, "generation", model, None, msgs, body.get("instructions"), params
    if kind == "completions":
        return name, "generation", model, _texts(body.get("prompt")), None, None, params
    return name, "embedding", model, _texts(body.get("input")), None, None, params


def endpoint(r: tuple[str, str], body: Mapping) -> Endpoint:
    """The :class:`Endpoint` of a request :func:`route` named, from its body."""
    f = fields(r, body)
    kind = r[0]
    if kind == "chat":
        return Endpoint(*f, read_chat)
    if kind == "completions":
        return Endpoint(*f, read_completion)
    if kind == "embeddings":
        return Endpoint(*f, read_embeddings)
    return Endpoint(*f, read_response, ResponsesStream)     # responses, compact, retrieve


def _texts(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "\n".join(v if isinstance(v, str) else "[tokens]" for v in value)
    return ""


def _stream_usage(ep: Endpoint, client: Any, options: Any, body: Mapping, kind: str, hdrs: dict) -> None:
    """A live chat/legacy stream: whether the caller asked for its usage chunk, whether
    tokentrail may ask (:func:`_usage_wanted`), and its accumulator."""
    ep.asked, may_ask = _usage_wanted(body, hdrs, client)
    if may_ask:
        ep.inject = lambda: _inject_usage(options)
    ep.new_stream = _NEW_STREAM[kind]


def stream_usage(url: str, options: Any, body: Mapping, client: Any) -> tuple[bool, bool]:
    """For a stream recorded like a plain call (``_core.defer``): whether the caller asked
    for its usage chunk, and whether tokentrail did, deciding as a live one does."""
    if _POST.get(url) not in _STREAMS:
        return False, False
    asked, may_ask = _usage_wanted(body, _core.lower_headers(options), client)
    return asked, may_ask and _inject_usage(options)


def _usage_wanted(body: Mapping, hdrs: dict, client: Any) -> tuple[bool, bool]:
    """(the caller asked for the usage chunk, tokentrail may ask for it). Not for
    ``with_streaming_response`` nor ``with_raw_response`` (header ``stream`` / ``true``):
    both hand the user the raw SSE bytes (``iter_lines()``, ``http_response``...), where an
    extra chunk could not be hidden; usage is asked for only when tokentrail parses what
    the user reads. Nor for an API version that rejects the option (:func:`_takes_stream_options`)."""
    so = body.get("stream_options")
    asked = isinstance(so, Mapping) and so.get("include_usage") is True
    return asked, not asked and "x-stainless-raw-response" not in hdrs and _takes_stream_options(client)


#: The first Azure OpenAI API version that takes ``stream_options`` (2024-09-01-preview; the
#: first stable one is 2024-10-21). Earlier ones answer 400 "Unrecognized request argument
#: supplied: stream_options", which tokentrail must never cause.
_AZURE_STREAM_OPTIONS_FROM = "2024-09-01"


def _takes_stream_options(client: Any) -> bool:
    """False for a client whose ``api-version`` (Azure's, sent with every request) is a date
    before :data:`_AZURE_STREAM_OPTIONS_FROM`; True for the rest (no version, Azure's v1 API:
    ``preview``, ``latest``, ``v1``)."""
    q = getattr(client, "_custom_query", None)
    if not q or not isinstance(q, Mapping):
        return True
    v = q.get("api-version")
    if not isinstance(v, str) or len(v) < 10 or not v[:4].isdigit():
        return True
    return v[:10] >= _AZURE_STREAM_OPTIONS_FROM


def _usage_stream(acc: type) -> Callable[[Any, Any, bool], Any]:
    """The ``new_stream`` of a stream that reports usage only when asked: ``acc`` told whether
    tokentrail asked (and so hides the chunk) and whether usage is expected at all
    (``asked`` is the endpoint's: a live :class:`Endpoint` or a deferred call)."""
    def new_stream(call: Any, ep: Any, injected: bool) -> Any:
        return acc(call, injected, ep.asked or injected)
    return new_stream


def _inject_usage(options: Any) -> bool:
    """Ask a chat/legacy stream for its usage chunk; True if tokentrail added the option."""
    body = options.json_data
    if not SETTINGS.inject_stream_usage or not isinstance(body, Mapping) or body.get("stream") is not True:
        return False
    so = _core.mapping_or_empty(body.get("stream_options"))
    if so.get("include_usage") is True:
        return False
    options.json_data = {**body, "stream_options": {**so, "include_usage": True}}
    return True


# --------------------------------------------------------------------------- whole responses

def read_chat(call: Call, obj: Any) -> None:
    g = fields_of(obj).get
    call.model = g("model")
    call.usage = g("usage")
    call.service_tier = g("service_tier")       # normalized on the writer (_usage.served_at)
    choices = g("choices")
    if choices:
        c = fields_of(choices[0]).get
        call.finish_reason = c("finish_reason")
        m = fields_of(c("message")).get
        text = m("content")
        if isinstance(text, str):
            call.response_text = text
        else:
            calls = m("tool_calls") or ()
            names = [get(get(tc, "function"), "name") or "tool" for tc in calls]
            if names:
                call.response_text = " ".join(f"[tool_call {n}]" for n in names)
            elif isinstance(m("refusal"), str):
                call.response_text = m("refusal")


def read_completion(call: Call, obj: Any) -> None:
    g = fields_of(obj).get
    call.model = g("model")
    call.usage = g("usage")
    choices = g("choices")
    if choices:
        c = fields_of(choices[0]).get
        call.response_text = c("text")
        call.finish_reason = c("finish_reason")


def read_embeddings(call: Call, obj: Any) -> None:
    g = fields_of(obj).get
    call.model = g("model")
    call.usage = g("usage")


def read_response(call: Call, obj: Any) -> None:
    """A Responses API ``Response`` (or its JSON)."""
    g = data_fields(obj).get        # Response has a property (output_text): fields_of would read field by field
    call.model = g("model") or call.model
    call.usage = g("usage")
    call.service_tier = g("service_tier")       # normalized on the writer (_usage.served_at)
    call.finish_reason = _response_status(g)
    texts = []
    for item in g("output") or ():
        it = fields_of(item).get
        if it("type") == "message":
            for part in it("content") or ():
                p = fields_of(part).get
                if p("type") == "output_text":
                    t = p("text")
                    if isinstance(t, str):
                        texts.append(t)
    if texts:
        call.response_text = "".join(texts)


#: Paths whose plain calls may be recorded after they are made (see ``_core.defer``), and
#: the name of their response's reader (run as soon as it is returned).
DEFER_PATHS = {"/chat/completions": "read_chat", "/responses": "read_response",
               "/responses/compact": "read_response", "/completions": "read_completion",
               "/embeddings": "read_embeddings"}


def _response_status(g: Callable[[str], Any]) -> Any:
    """``status``, or why it is incomplete; ``g`` reads the response's fields."""
    status = g("status")
    if status == "incomplete":
        return get(g("incomplete_details"), "reason") or status
    return status


# --------------------------------------------------------------------------- streams

class ChatStream:
    """Accumulates ``ChatCompletionChunk`` s: text of choice 0, finish reason, final usage."""

    __slots__ = ("call", "hide_usage", "expect_usage", "texts", "usage", "model", "finish_reason", "first",
                 "capture", "complete", "error", "read_failed", "service_tier", "other")

    def __init__(self, call: Call, hide_usage: bool, expect_usage: bool) -> None:
        self.call = call
        self.hide_usage = hide_usage        # only when tokentrail asked for the usage chunk
        self.expect_usage = expect_usage
        self.texts: list[str] = []
        self.other: list[str] = []          # no text: the tool calls' names, or the refusal
        self.usage = self.model = self.finish_reason = self.error = self.service_tier = None
        self.first = False
        self.capture = SETTINGS.capture_content
        self.complete = self.read_failed = False

    def _tool_names(self, calls: Any) -> None:
        """A tool call's name comes in its first delta: written as a plain call's are."""
        for tc in calls:
            name = get(get(tc, "function"), "name")
            if name:
                self.other.append(f"[tool_call {name}]")

    def observe(self, chunk: Any) -> bool:
        # Runs for every chunk: the common one (text of choice 0) takes the fewest steps.
        if not self.model:                  # from the first chunk: a stream stopped early keeps it
            self.model = chunk.model        # (not Azure's prompt-filter chunk, whose model is "")
            self.service_tier = getattr(chunk, "service_tier", None)
        choices = chunk.choices
        if choices:
            c = choices[0]
            d = c.delta
            if d is not None:
                text = d.content
                if text:
                    if self.capture and c.index == 0:
                        self.texts.append(text)
                    if not self.first:
                        first_token(self)
                elif d.tool_calls:
                    if not self.first:
                        first_token(self)
                    if self.capture and c.index == 0:
                        self._tool_names(d.tool_calls)
                else:
                    refusal = getattr(d, "refusal", None)
                    if refusal:
                        if not self.first:
                            first_token(self)
                        if self.capture and c.index == 0:
                            self.other.append(refusal)
            fr = c.finish_reason
            if fr:
                self.finish_reason = fr
                if not self.expect_usage:
                    self.complete = True
            if chunk.usage is not None:
                self.usage = chunk.usage
                self.complete = True
            return True
        usage = chunk.usage
        if usage is not None:
            self.usage = usage
            self.complete = True
            return not self.hide_usage
        return True

    def apply(self, call: Call) -> None:
        call.model = self.model
        call.usage = self.usage
        call.finish_reason = self.finish_reason
        call.service_tier = self.service_tier
        if self.texts:
            call.response_text = "".join(self.texts)
        elif self.other:                    # as read_chat writes a message without content
            other = self.other
            call.response_text = " ".join(other) if other[0].startswith("[tool_call ") else "".join(other)

    def skip_usage_event(self, stream: Any, is_async: bool) -> None:
        """Read the usage chunk tokentrail asked for straight from its server-sent event and
        drop the event before the SDK builds a chunk model of it, which nobody would see (the
        user did not ask for it). The SDK's stream reads its events through ``_iter_events``
        (openai 1.0 to 3.x): an instance attribute of that name is looked up first. Building
        a chunk is the SDK's costliest step: ~267,000 instructions (~30 µs) less per stream
        with injected usage (bench/run.py). Anything unexpected leaves the event to the SDK,
        and the chunk is hidden later as before. Nothing to do when the user asked for it."""
        if not self.hide_usage or getattr(type(stream), "_iter_events", None) is None \
                or "_iter_events" in vars(stream):
            return
        events = stream._iter_events
        skip = _askip_usage if is_async else _skip_usage

        def iter_events() -> Any:
            # The SDK calls this once, as the stream starts: take it off the instance again,
            # or the stream would reach itself through it (a reference cycle that left ~80
            # objects per stream to the garbage collector instead of freeing them at once).
            vars(stream).pop("_iter_events", None)
            return skip(events(), self)

        stream._iter_events = iter_events

    def took_usage(self, sse: Any) -> bool:
        """True if ``sse`` is the usage-only chunk (``"choices": []`` and a usage object, no
        error), now read; an Azure content-filter chunk also has no choices, but no usage."""
        data = sse.data
        if '"choices":[]' not in data and '"choices": []' not in data:
            return False
        obj = sse.json()
        if type(obj) is not dict or obj.get("choices") != [] or obj.get("error"):
            return False
        usage = obj.get("usage")
        if type(usage) is not dict:
            return False
        if not self.model and isinstance(obj.get("model"), str):
            self.model = obj["model"]
        self.usage = usage
        self.complete = True
        return True

    def dropped(self, sse: Any) -> bool:
        """:meth:`took_usage`, for the event filters below: a failure is logged once, and from
        then on the events are left to the SDK (the chunk is hidden the usual way)."""
        if self.read_failed:
            return False
        try:
            return self.took_usage(sse)
        except Exception:
            self.read_failed = True
            logger.exception("tokentrail: could not read the usage event of a stream (its chunk is hidden "
                             "the usual way)")
            return False


def _skip_usage(events: Any, acc: ChatStream) -> Any:
    drop = acc.dropped
    for sse in events:
        if "[]" in sse.data and drop(sse):      # a cheap first test, made on every chunk
            continue
        yield sse


async def _askip_usage(events: Any, acc: ChatStream) -> Any:
    drop = acc.dropped
    async for sse in events:
        if "[]" in sse.data and drop(sse):
            continue
        yield sse


class CompletionStream(ChatStream):
    """Legacy ``Completion`` chunks (``choices[].text``)."""

    __slots__ = ()

    def observe(self, chunk: Any) -> bool:
        usage = chunk.usage
        if not self.model:
            self.model = chunk.model
        choices = chunk.choices
        if choices:
            c = choices[0]
            text = c.text
            if text:
                if not self.first:
                    first_token(self)
                if self.capture and c.index == 0:
                    self.texts.append(text)
            if c.finish_reason:
                self.finish_reason = c.finish_reason
                if not self.expect_usage:
                    self.complete = True
            if usage is not None:
                self.usage = usage
                self.complete = True
            return True
        if usage is not None:
            self.usage = usage
            self.complete = True
            return not self.hide_usage
        return True


_TERMINAL = frozenset(("response.completed", "response.incomplete", "response.failed"))


class ResponsesStream:
    """Accumulates Responses API events; usage arrives with the terminal event."""

    __slots__ = ("call", "texts", "usage", "model", "finish_reason", "first", "capture", "complete", "error",
                 "service_tier")

    def __init__(self, call: Call, ep: Endpoint, injected: bool) -> None:
        self.call = call
        self.texts: list[str] = []
        self.usage = self.model = self.finish_reason = self.error = self.service_tier = None
        self.first = False
        self.capture = SETTINGS.capture_content
        self.complete = False

    def observe(self, event: Any) -> bool:
        t = event.type
        if t == "response.output_text.delta":
            if not self.first:
                first_token(self)
            if self.capture:
                self.texts.append(event.delta)
        elif t in _TERMINAL:
            r = event.response
            self.usage = r.usage
            self.model = r.model or self.model
            self.service_tier = getattr(r, "service_tier", None)
            self.finish_reason = _response_status(fields_of(r).get)
            self.complete = True
            if t == "response.failed":
                err = r.error
                self.error = {"type": str(get(err, "code") or "response_failed"),
                              "message": str(get(err, "message") or "")}
        elif t.endswith(".delta"):
            if not self.first:
                first_token(self)
        elif t == "response.created" or t == "response.in_progress":
            r = event.response
            if self.model is None and r is not None:
                self.model = r.model
        elif t == "error":
            self.error = {"type": str(get(event, "code") or "error"), "message": str(get(event, "message") or "")}
        return True

    def apply(self, call: Call) -> None:
        if self.model:
            call.model = self.model
        call.usage = self.usage
        call.finish_reason = self.finish_reason
        call.service_tier = self.service_tier
        if self.texts:
            call.response_text = "".join(self.texts)


#: Kinds of request whose streams report usage only when asked (see ``_stream_usage``).
_STREAMS = {"chat": ChatStream, "completions": CompletionStream}

_NEW_STREAM = {kind: _usage_stream(acc) for kind, acc in _STREAMS.items()}

#: Paths whose streams may be recorded like plain calls (see ``_core.defer``), and their
#: accumulator (made as the stream is returned, as ``Endpoint.new_stream`` is).
DEFER_STREAMS = {"/chat/completions": _NEW_STREAM["chat"], "/completions": _NEW_STREAM["completions"],
                 "/responses": ResponsesStream}
