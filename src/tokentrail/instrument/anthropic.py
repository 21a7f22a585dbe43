"""The Anthropic adapter: Messages API calls, their usage and their streams.

Recorded (sync and async, every client class built on ``anthropic._base_client``:
``Anthropic``, ``AnthropicBedrock``, ``AnthropicVertex``, Foundry, AWS, Google Cloud,
Bedrock Mantle): ``POST /v1/messages`` as ``messages.create`` / ``.stream()`` /
``.parse()``, their ``beta.`` variants and anthropic 0.40's ``beta.prompt_caching.``
ones. The hook sees the request before a cloud client moves the model into the URL
(Bedrock ``/model/{id}/invoke``, Vertex ``...:rawPredict``), so the model id is the one
the caller passed. Token counting and batches pass through untouched.

Stream usage comes in two parts: ``message_start`` carries input and cache counts (with
the 5m/1h cache-write split), ``message_delta`` the cumulative output (and updated
input counts). They are merged the way the SDK's own accumulator does it: values from
the delta win, fields it lacks keep their ``message_start`` value; output tokens are
never added twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._config import SETTINGS
from .._content import pick_params
from .._fields import data_fields, fields_of
from .._recorder import Call
from . import _core
from ._core import Endpoint, first_token, given

provider = "anthropic"

_installed = False


def install() -> None:
    """Hook anthropic's base clients (once per process; inert for clients never attached)."""
    global _installed
    if _installed:
        return
    from anthropic import _base_client as bc
    _core.wrap_once(bc.SyncAPIClient, "request", _core.sync_request)
    _core.wrap_once(bc.AsyncAPIClient, "request", _core.async_request)
    try:
        # Older stream helpers (anthropic 0.4x) build a second raw stream over the response
        # of the one the request returned; follow the watch to the stream they read.
        from anthropic.lib import streaming
        for name in dir(streaming):
            cls = getattr(streaming, name)
            if name.endswith("MessageStreamManager") and isinstance(cls, type):
                if "__aenter__" in cls.__dict__:
                    _core.wrap_once(cls, "__aenter__", _core.rewatch_aenter)
                elif "__enter__" in cls.__dict__:
                    _core.wrap_once(cls, "__enter__", _core.rewatch_enter)
    except ImportError:
        pass
    _installed = True


def base_client() -> type:
    from anthropic._base_client import BaseClient
    return BaseClient


_CLOUDS = (("Bedrock", "bedrock"), ("Vertex", "vertex"), ("Foundry", "foundry"), ("GoogleCloud", "google_cloud"),
           ("AWS", "aws"))


def cloud_of(client: Any) -> str | None:
    name = type(client).__name__
    for part, cloud in _CLOUDS:
        if part in name:
            return cloud
    return None


# --------------------------------------------------------------------------- planning

def plan(client: Any, options: Any, stream: bool, st: Any, body: Mapping) -> Endpoint | None:
    """What the request is, or None if it is not recorded. ``body``: its JSON body (``options.json_data``,
    or a private copy of it when the call is recorded after it was made)."""
    name = route(options, stream)
    return None if name is None else endpoint(name, body)


def route(options: Any, stream: bool) -> str | None:
    """The name of the call a request makes (from its options alone: method, URL, headers,
    parser), or None if it is not recorded. A call recorded after it was made reuses it for
    requests with the same options (``_core.deferred_fields``)."""
    if getattr(options, "method", "") != "post":
        return None
    url = getattr(options, "url", "")
    if not isinstance(url, str):
        return None
    path, _, query = url.partition("?")
    if path != "/v1/messages":
        return None
    qualifiers = getattr(options, "qualifiers", None)
    if "beta=true" in query or (qualifiers and _core.mapping_or_empty(qualifiers).get("beta")):
        api = "beta.messages"
    elif "beta=prompt_caching" in query:        # anthropic 0.40: client.beta.prompt_caching.messages
        api = "beta.prompt_caching.messages"
    else:
        api = "messages"
    hdrs = _core.lower_headers(options)
    if hdrs.get("x-stainless-helper-method") == "stream" or "x-stainless-stream-helper" in hdrs:
        verb = "stream"
    elif given(getattr(options, "post_parser", None)):
        verb = "parse"
    else:
        verb = "create"
    return f"anthropic.{api}.{verb}"


def fields(name: str, body: Mapping) -> tuple:
    """What an event records of a request :func:`route` named, from its body: ``(name, type,
    request_model, prompt, messages, system, params)``, as :class:`Endpoint` takes them."""
    return name, "generation", body.get("model"), None, body.get("messages"), body.get("system"), pick_params(body)


def endpoint(name: str, body: Mapping) -> Endpoint:
    """The :class:`Endpoint` of a request :func:`route` named, from its body."""
    return Endpoint(*fields(name, body), read_message, MessageStream)


# --------------------------------------------------------------------------- whole messages

def read_message(call: Call, obj: Any) -> None:
    g = fields_of(obj).get
    call.model = g("model") or call.model
    call.usage = g("usage")             # its speed / service_tier / inference_geo: read on the writer
    call.finish_reason = g("stop_reason")
    texts = []
    for block in g("content") or ():
        b = fields_of(block).get
        if b("type") == "text":
            t = b("text")
            if isinstance(t, str):
                texts.append(t)
    if texts:
        call.response_text = "".join(texts)


#: Paths whose plain calls may be recorded after they are made (see ``_core.defer``), and
#: the name of their response's reader (run as soon as it is returned).
#: (``?beta=true``: the beta Messages calls of anthropic 0.x; ``?beta=prompt_caching``: its
#: prompt caching API, in anthropic 0.40.)
DEFER_PATHS = {"/v1/messages": "read_message", "/v1/messages?beta=true": "read_message",
               "/v1/messages?beta=prompt_caching": "read_message"}


# --------------------------------------------------------------------------- streams

#: Usage fields merged from message_start and message_delta (delta wins when present).
_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
               "cache_creation", "output_tokens_details", "server_tool_use", "service_tier", "speed",
               "inference_geo", "iterations")


def merge_usage(start: Any, delta: Any) -> dict | None:
    """One usage dict from ``message_start.message.usage`` and the cumulative
    ``message_delta.usage``, like the SDK's ``accumulate_event``."""
    if start is None and delta is None:
        return None
    out: dict = {}
    for src in (start, delta):
        if src is None:
            continue
        g = data_fields(src).get            # one dict of the model's fields, not a lookup per key
        for k in _USAGE_KEYS:
            v = g(k)
            if v is not None:
                out[k] = v
    return out


class MessageStream:
    """Accumulates raw message stream events (first-party, Bedrock and Vertex alike)."""

    __slots__ = ("call", "texts", "start_usage", "delta_usage", "model", "finish_reason", "first", "capture",
                 "complete", "error")

    def __init__(self, call: Call, ep: Endpoint, injected: bool) -> None:
        self.call = call
        self.texts: list[str] = []
        self.start_usage = self.delta_usage = self.model = self.finish_reason = self.error = None
        self.first = False
        self.capture = SETTINGS.capture_content
        self.complete = False

    def observe(self, event: Any) -> bool:
        t = event.type
        if t == "content_block_delta":
            if not self.first:
                first_token(self)
            if self.capture:
                d = event.delta
                if d.type == "text_delta":
                    self.texts.append(d.text)
        elif t == "message_start":
            m = event.message
            self.model = m.model
            self.start_usage = m.usage
        elif t == "message_delta":
            self.delta_usage = event.usage
            sr = event.delta.stop_reason
            if sr:
                self.finish_reason = sr
        elif t == "message_stop":
            self.complete = True
        return True

    def apply(self, call: Call) -> None:
        if self.model:
            call.model = self.model
        call.usage = merge_usage(self.start_usage, self.delta_usage)
        call.finish_reason = self.finish_reason
        if self.texts:
            call.response_text = "".join(self.texts)


#: Paths whose streams may be recorded like plain calls (see ``_core.defer``), and their
#: accumulator (made as the stream is returned, as ``Endpoint.new_stream`` is).
DEFER_STREAMS = dict.fromkeys(DEFER_PATHS, MessageStream)
