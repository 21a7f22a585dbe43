"""``@tokentrail.capture``: record custom LLM functions, and ``log_interaction``.

The prompt comes from the call (a ``prompt`` or ``messages`` argument, else the first
string argument), the response from the return value (a string, a dict or object with
``content`` / ``text``, or an SDK response), usage from a usage block on the return
value when there is one, otherwise estimated (:mod:`tokentrail._estimate`).

A captured function opens a span: calls made inside it through attached clients are
recorded as its children (``parentId`` = the span's ``id``). When it has children the
capture's own event is a ``span`` with zero cost, so nothing is counted twice.
"""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Any, Callable

from ._content import content_text, flatten_messages
from ._estimate import estimate_usage
from ._recorder import Call, _guess_provider, start_call
from ._trace import trace

logger = logging.getLogger("tokentrail")


def _prompt_from_call(sig: inspect.Signature | None, args: tuple, kwargs: dict) -> tuple[str, Any]:
    """(prompt text, messages or None) from the arguments of a call."""
    bound: dict = {}
    if sig is not None:
        try:
            b = sig.bind_partial(*args, **kwargs)
            bound = dict(b.arguments)
        except TypeError:
            bound = dict(kwargs)
    else:
        bound = dict(kwargs)
    if isinstance(bound.get("prompt"), str):
        return bound["prompt"], None
    msgs = bound.get("messages")
    if msgs is not None and not isinstance(msgs, (str, bytes)):
        return flatten_messages(msgs), msgs
    for v in list(args) + list(kwargs.values()):
        if isinstance(v, str):
            return v, None
    return "", None


def _response_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for k in ("content", "text", "response", "output_text"):
            if isinstance(value.get(k), (str, list)):
                return content_text(value[k])
        return None
    ot = getattr(value, "output_text", None)          # OpenAI Responses
    if isinstance(ot, str):
        return ot
    choices = getattr(value, "choices", None)         # OpenAI chat / completions
    if choices:
        first = choices[0]
        msg = getattr(first, "message", None)
        if msg is not None:
            return content_text(getattr(msg, "content", None))
        t = getattr(first, "text", None)
        if isinstance(t, str):
            return t
    for attr in ("content", "text"):                  # Anthropic Message, or user objects
        v = getattr(value, attr, None)
        if isinstance(v, (str, list)):
            return content_text(v)
    return None


def _usage_of(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("usage")
    return getattr(value, "usage", None) if value is not None and not isinstance(value, str) else None


class _Capture:
    def __init__(self, fn: Callable, name: str | None, model: str | None, provider: str | None,
                 namespace: str | None, sink: Any, metadata: dict | None):
        self.fn = fn
        self.name = name or getattr(fn, "__qualname__", getattr(fn, "__name__", "capture"))
        self.model = model
        self.provider = provider
        self.namespace = namespace
        self.sink = sink
        self.metadata = metadata
        try:
            self.sig: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):
            self.sig = None

    # -- the two halves of a captured call ------------------------------------------
    def begin(self, args: tuple, kwargs: dict) -> tuple[Call | None, trace | None]:
        try:
            prompt, messages = _prompt_from_call(self.sig, args, kwargs)
        except Exception:
            logger.exception("tokentrail: could not read the prompt of %s", self.name)
            prompt, messages = "", None
        from ._content import jsonable
        call = start_call(self.provider or (_guess_provider(self.model) if self.model else "custom"), self.name,
                          type="generation" if self.model else "span", request_model=self.model or "",
                          prompt=prompt, messages=jsonable(messages) if messages is not None else None,
                          metadata=self.metadata, sink=self.sink, namespace=self.namespace)
        span = None
        try:
            span = trace(self.name)
            span._is_span = True        # children get parentId = this span
            span.span_id = call.id
            span.__enter__()
        except Exception:
            logger.exception("tokentrail: could not open the span of %s", self.name)
            span = None
        return call, span

    def end(self, call: Call | None, span: trace | None, result: Any, error: BaseException | None,
            text: str | None = None) -> None:
        if span is not None:
            try:
                span.__exit__(None, None, None)
            except Exception:
                pass
        if call is None:
            return
        try:
            children = span.calls if span is not None else 0
            if error is None:
                call.response_text = text if text is not None else _response_text(result)
                answered = getattr(result, "model", None) if not isinstance(result, (str, dict)) else (
                    result.get("model") if isinstance(result, dict) else None)
                if isinstance(answered, str) and answered:
                    call.model = answered
                    if not call.request_model:
                        call.request_model = answered
                    if call.provider == "custom":
                        call.provider = _guess_provider(answered)
            if children:
                # The attached client already recorded (and priced) the real calls.
                call.type, call.count_cost = "span", False
                call.model = call.model or ""
                call.extra = {"children": {"calls": children, "cost": span.cost, "tokens": span.tokens}}
                call.usage = None
            else:
                usage = _usage_of(result) if error is None else None
                if usage is not None:
                    call.usage = usage
                elif error is None:
                    call.usage = estimate_usage(call.prompt, call.response_text, call.model or call.request_model)
                if call.model or call.request_model:
                    call.type = "generation"
            call.finish(error=error)
        except Exception:
            logger.exception("tokentrail: could not record %s (the call itself was not affected)", self.name)

    # -- wrappers per kind of function --------------------------------------------------
    def wrap(self) -> Callable:
        fn = self.fn
        if inspect.isasyncgenfunction(fn):
            return self._wrap_asyncgen()
        if inspect.isgeneratorfunction(fn):
            return self._wrap_gen()
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def acall(*args: Any, **kwargs: Any) -> Any:
                call, span = self.begin(args, kwargs)
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as e:
                    self.end(call, span, None, e)
                    raise
                self.end(call, span, result, None)
                return result
            return acall

        @functools.wraps(fn)
        def call_(*args: Any, **kwargs: Any) -> Any:
            call, span = self.begin(args, kwargs)
            try:
                result = fn(*args, **kwargs)
            except BaseException as e:
                self.end(call, span, None, e)
                raise
            self.end(call, span, result, None)
            return result
        return call_

    def _wrap_gen(self) -> Callable:
        fn = self.fn

        @functools.wraps(fn)
        def gen(*args: Any, **kwargs: Any) -> Any:
            call, span = self.begin(args, kwargs)
            if call is not None:
                call.stream = True
            parts: list[str] = []
            error: BaseException | None = None
            try:
                for item in fn(*args, **kwargs):
                    if call is not None:
                        call.mark_first_token()
                    t = _response_text(item)
                    if t:
                        parts.append(t)
                    yield item
            except GeneratorExit:
                if call is not None:
                    call.partial = True
                raise
            except BaseException as e:
                error = e
                raise
            finally:
                self.end(call, span, None, error, "".join(parts))
        return gen

    def _wrap_asyncgen(self) -> Callable:
        fn = self.fn

        @functools.wraps(fn)
        async def agen(*args: Any, **kwargs: Any) -> Any:
            call, span = self.begin(args, kwargs)
            if call is not None:
                call.stream = True
            parts: list[str] = []
            error: BaseException | None = None
            try:
                async for item in fn(*args, **kwargs):
                    if call is not None:
                        call.mark_first_token()
                    t = _response_text(item)
                    if t:
                        parts.append(t)
                    yield item
            except GeneratorExit:
                if call is not None:
                    call.partial = True
                raise
            except BaseException as e:
                error = e
                raise
            finally:
                self.end(call, span, None, error, "".join(parts))
        return agen


def capture(fn: Callable | None = None, *, name: str | None = None, model: str | None = None,
            provider: str | None = None, namespace: str | None = None, sink: Any = None,
            metadata: dict | None = None) -> Any:
    """Record each call of a custom LLM function as an event.

    Works on sync and async functions and on (async) generator functions, whose
    yielded text is joined into the response. Example::

        @tokentrail.capture(model="gpt-4o-mini", metadata={"route": "/ask"})
        def ask(prompt: str) -> str:
            return my_llm(prompt)

    Exceptions are recorded as error events and re-raised unchanged.
    """
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError("capture(metadata=...) must be a dict")

    def decorate(f: Callable) -> Callable:
        if not callable(f):
            raise TypeError(f"@tokentrail.capture needs a function, not {f!r}")
        return _Capture(f, name, model, provider, namespace, sink, metadata).wrap()

    return decorate(fn) if fn is not None else decorate


def log_interaction(prompt: str, response: Any, model: str | None = None, namespace: str | None = None, *,
                    usage: Any = None, provider: str | None = None, metadata: dict | None = None,
                    sink: Any = None, latency_ms: int | None = None) -> dict | None:
    """Record one prompt/response pair (the earlier prompt logger's one-off call); returns the event.

    Usage is estimated from the text unless ``usage`` (or a usage block on ``response``) is given.
    """
    text = _response_text(response)
    call = start_call(provider or (_guess_provider(model) if model else "custom"), "log_interaction",
                      type="generation", request_model=model or "", prompt=prompt if isinstance(prompt, str) else
                      flatten_messages(prompt), metadata=metadata, sink=sink, namespace=namespace)
    call.response_text = text
    u = usage if usage is not None else _usage_of(response)
    call.usage = u if u is not None else estimate_usage(call.prompt, text, model)
    if latency_ms is not None:
        call.latency_ms = int(latency_ms)
    return call.finish(sync=True)
