"""The generic half of ``attach``: one hook on the SDK base client's ``request``, a
per-client switch, and the watching of streams without changing them.

Every resource method, ``.parse()``/``.stream()`` helper and ``with_raw_response`` /
``with_streaming_response`` wrapper of the openai and anthropic SDKs ends in
``client.request(cast_to, options, stream=..., stream_cls=...)``, looked up on the
client at call time. Wrapping that method once, at class level, therefore sees every
call of every client, including copies and wrappers built before ``attach``. The hook
does nothing for a client whose ``__dict__`` lacks the attach marker, so an unattached
client pays one dict lookup. Provider knowledge (which paths cost tokens, how usage and
stream events look) lives in the adapters: :mod:`.openai` and :mod:`.anthropic`.

Rule of this module: tokentrail's own failures are logged and swallowed; the provider's
exceptions reach the caller unchanged, after an error event is recorded.
"""

from __future__ import annotations

import contextvars
import inspect
import json
import logging
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any, Callable

import wrapt

from .. import _hooks
from .._config import SETTINGS
from .._content import _SKIP, CONTENT_PARAMS, PARAM_KEYS, _param_kind, _param_kinds, flatten_messages, jsonable
from .._fields import _is_pydantic2
from .._fields import field as get
from .._ids import new_event_id, new_id
from .._time import format_ts
from .._usage import normalize_usage, served_at
from .. import _recorder
from .._recorder import Call, event_io, start_call
from .._trace import BudgetExceeded, current_trace

logger = logging.getLogger("tokentrail")

#: Key of the per-client switch in the client instance's ``__dict__``.
ATTR = "_tokentrail_attach"

#: Name of an SDK helper that sets no request header (openai ``responses.stream``).
HELPER: contextvars.ContextVar[str | None] = contextvars.ContextVar("tokentrail_helper", default=None)

#: While a stream helper's manager is entered: the Recordings of the streams opened inside.
_OPENED: contextvars.ContextVar[list | None] = contextvars.ContextVar("tokentrail_opened", default=None)

_lock = threading.RLock()
_wrapped_copy: set[tuple[type, str]] = set()


class AttachState:
    """What ``attach`` was given for one client (shared with the copies made from it)."""

    __slots__ = ("adapter", "metadata", "sink", "namespace", "cloud")

    def __init__(self, adapter: Any, metadata: dict | None, sink: Any, namespace: str | None,
                 cloud: str | None) -> None:
        self.adapter = adapter
        self.metadata = metadata
        self.sink = sink
        self.namespace = namespace
        self.cloud = cloud


class Endpoint:
    """What an adapter found out about one request before it is sent.

    ``messages`` is the caller's own list (snapshotted by :func:`_begin` only when
    needed), ``system`` a system prompt shown first; ``prompt`` a ready prompt string for
    endpoints without messages.
    """

    __slots__ = ("name", "type", "request_model", "prompt", "messages", "system", "params", "read_result",
                 "new_stream", "inject", "stream", "asked")

    # Positional parameters on purpose: a keyword call costs ~1 µs more, on every call.
    def __init__(self, name: str, type: str = "generation", request_model: Any = None, prompt: str | None = None,
                 messages: Any = None, system: Any = None, params: dict | None = None,
                 read_result: Callable[[Call, Any], None] | None = None,
                 new_stream: Callable[[Call, "Endpoint", bool], Any] | None = None,
                 inject: Callable[[], bool] | None = None, stream: bool = False) -> None:
        self.name = name
        self.type = type
        self.request_model, self.messages, self.system = request_parts(request_model, messages, system)
        self.prompt = prompt
        self.params = params
        self.read_result = read_result
        self.new_stream = new_stream
        self.inject = inject      # run only once recording has started; True if it changed the request
        self.stream = stream
        self.asked = False        # the caller asked for a stream's usage chunk (openai chat/legacy)

    def snapshot(self, private: bool = False) -> list | None:
        """The messages as JSON, copied now: callers mutate their lists after the call.
        ``private``: they come from a private copy of the body already (a deferred call),
        so plain text messages are kept as they are instead of being copied again."""
        return snapshot(self.messages, self.system, private)


def request_parts(request_model: Any, messages: Any, system: Any) -> tuple:
    """``(request_model, messages, system)`` as an adapter found them, each None unless it is
    a model id string, a list or tuple of messages (a generator must stay unread for the
    SDK), a system prompt that is not empty."""
    return (request_model if isinstance(request_model, str) else None,
            messages if isinstance(messages, (list, tuple)) else None,
            system if isinstance(system, (str, list, tuple)) and system else None)


def snapshot(messages: list | tuple | None, system: Any, private: bool = False) -> list | None:
    """See :meth:`Endpoint.snapshot` (``messages`` and ``system`` from :func:`request_parts`)."""
    if messages is None:
        return None
    msgs = [] if system is None else [{"role": "system", "content": jsonable(system)}]
    for m in messages:                  # a loop, not a comprehension: no function object per call (3.11)
        msgs.append(_copy_message(m, private))
    return msgs


def _copy_message(m: Any, private: bool = False) -> Any:
    # The common message, {"role": ..., "content": "text"}, is copied without the general
    # walk (``private``: it is a private copy already, and is kept as it is).
    if type(m) is dict:
        for v in m.values():
            if type(v) is not str or v.startswith("data:"):
                return jsonable(m)
        return m if private else dict(m)
    return jsonable(m)


def first_token(acc: Any) -> None:
    """A stream accumulator saw its first output: note the time once (``acc.first`` is its
    cheap per-chunk test)."""
    acc.first = True
    acc.call.mark_first_token()


_SENTINELS = ("NotGiven", "Omit")


def given(value: Any) -> bool:
    """False for None and the SDKs' NotGiven / Omit sentinels."""
    return value is not None and type(value).__name__ not in _SENTINELS


#: Types seen not to be mappings (None, the SDKs' NotGiven / Omit sentinels...).
_NOT_MAPPINGS: set[type] = {type(None)}


def mapping_or_empty(value: Any) -> Mapping:
    """``value`` if it is a mapping, else an empty dict. A plain dict, what the SDKs pass,
    is tested first, then the types already seen not to be mappings: an ABC check costs
    ~0.3–1 µs, and this runs several times per call."""
    t = type(value)
    if t is dict:
        return value
    if t in _NOT_MAPPINGS:
        return {}
    if isinstance(value, Mapping):
        return value
    if len(_NOT_MAPPINGS) < 64:
        _NOT_MAPPINGS.add(t)
    return {}


def lower_headers(options: Any) -> dict:
    hdrs = mapping_or_empty(getattr(options, "headers", None))
    if not hdrs:
        return {}
    out = {}
    for k, v in hdrs.items():       # a loop, not a comprehension: no function object per call (3.11)
        if (type(v) is str or isinstance(v, str)) and (type(k) is str or isinstance(k, str)):
            out[k.lower()] = v
    return out


# --------------------------------------------------------------------------- patches

def wrap_once(owner: Any, name: str, wrapper: Callable) -> bool:
    """Wrap ``owner.name`` with a wrapt wrapper unless ours is already there."""
    with _lock:
        current = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
        if current is None:
            return False
        if isinstance(current, wrapt.FunctionWrapper) and getattr(current, "_self_wrapper", None) is wrapper:
            return True
        wrapt.wrap_function_wrapper(owner, name, wrapper)
        return True


def install_copy_hooks(cls: type, base: type) -> None:
    """Make ``copy()`` / ``with_options()`` of an attached client hand the switch to the copy.

    Both names are wrapped on every class of the client's MRO that defines them
    (``with_options = copy`` is an alias taken when each class body ran).
    """
    for klass in cls.__mro__:
        if klass is object or not (isinstance(klass, type) and issubclass(klass, base)):
            continue
        for name in ("copy", "with_options"):
            if name in klass.__dict__ and (klass, name) not in _wrapped_copy:
                with _lock:
                    if (klass, name) in _wrapped_copy:
                        continue
                    try:
                        wrapt.wrap_function_wrapper(klass, name, _copy_wrapper)
                    except Exception:
                        logger.exception("tokentrail: could not hook %s.%s (copies of attached clients will "
                                         "not be recorded)", klass.__name__, name)
                    _wrapped_copy.add((klass, name))


def _copy_wrapper(wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
    new = wrapped(*args, **kwargs)
    try:
        st = instance.__dict__.get(ATTR) if instance is not None else None
        if st is not None and new is not None and new is not instance:
            new.__dict__[ATTR] = st
    except Exception:
        logger.exception("tokentrail: could not attach a client copy (the copy works, unrecorded)")
    return new


def helper_enter(name: str) -> Callable:
    """A wrapper for a helper manager's ``__enter__`` that names the requests made inside it."""
    def wrapper(wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
        tok = HELPER.set(name)
        try:
            return wrapped(*args, **kwargs)
        finally:
            HELPER.reset(tok)
    return wrapper


def helper_aenter(name: str) -> Callable:
    def wrapper(wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
        async def run() -> Any:
            tok = HELPER.set(name)
            try:
                return await wrapped(*args, **kwargs)
            finally:
                HELPER.reset(tok)
        return run()
    return wrapper


def hold_calls(wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
    """A wrapper for a helper that raises after its request was recorded (see
    :func:`tokentrail._recorder.hold`): its calls are queued when it returns or raises."""
    held, token = _recorder.hold()
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        _recorder.release(held, token, exc)
        raise
    _recorder.release(held, token, None)
    return result


def hold_calls_async(wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
    async def run() -> Any:
        held, token = _recorder.hold()
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            _recorder.release(held, token, exc)
            raise
        _recorder.release(held, token, None)
        return result
    return run()


def rewatch_enter(wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
    """``__enter__`` of a stream helper. Older ones (anthropic 0.4x) build their own raw
    stream over the response of the one the request returned: the watch moves to it."""
    opened: list = []
    tok = _OPENED.set(opened)
    helper = None
    try:
        helper = wrapped(*args, **kwargs)
        return helper
    finally:
        _OPENED.reset(tok)
        if opened:
            _safe(lambda: _rewatch(helper, opened, False))


def rewatch_aenter(wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
    async def run() -> Any:
        opened: list = []
        tok = _OPENED.set(opened)
        helper = None
        try:
            helper = await wrapped(*args, **kwargs)
            return helper
        finally:
            _OPENED.reset(tok)
            if opened:
                _safe(lambda: _rewatch(helper, opened, True))
    return run()


def _rewatch(helper: Any, opened: list, is_async: bool) -> None:
    raw = getattr(helper, "_raw_stream", None)
    for rec in opened:
        w = rec.watched() if rec.watched is not None else None
        if raw is not None and w is not raw and getattr(w, "__wrapped__", None) is not raw:
            rec.rewatch(raw, is_async)
        elif w is not None:
            rec.finalizer = weakref.finalize(w, rec.abandoned)
        else:
            rec.abandoned()


# --------------------------------------------------------------------------- the request hook

def _split(args: tuple, kwargs: dict) -> tuple[Any, bool]:
    options = args[1] if len(args) > 1 else kwargs.get("options")
    return options, bool(kwargs.get("stream", False))      # keyword-only in every SDK version


def _begin(st: AttachState, client: Any, args: tuple, kwargs: dict,
           d: "Deferred | None" = None) -> "Recording | None":
    """Plan and start recording one request; None when it is not recorded. Only
    :class:`BudgetExceeded` escapes. ``d``: the call was already made (a deferred
    call that turned out to need its recording on the caller's thread after all)."""
    try:
        options, stream = _split(args, kwargs)
        if options is None:
            return None
        body = body_of(d.body) if d is not None else mapping_or_empty(options.json_data)
        ep = st.adapter.plan(client, options, stream, st, body)
        if ep is None:
            return None
        ep.stream = stream
        call = _start(st, ep, d)
    except BudgetExceeded:
        raise
    except Exception:
        logger.exception("tokentrail: could not start recording a call (the call goes on unrecorded)")
        return None
    rec = Recording(call, ep)
    try:
        if stream:
            call.stream = True
        if ep.inject is not None:
            rec.injected = bool(ep.inject())
    except Exception:
        logger.exception("tokentrail: error while preparing %s (the call goes on)", ep.name)
    return rec


def _start(st: AttachState, ep: Endpoint, d: "Deferred | None") -> Call:
    """The :class:`Call` of a planned request (for a deferred one, as its caller saw it)."""
    capture = SETTINGS.capture_content if d is None else d.ctx[0]
    params = ep.params
    if params and not capture:
        params = {k: v for k, v in params.items() if k not in CONTENT_PARAMS}
    # The prompt is flattened from the snapshot later, off the caller's thread (the
    # recorder does it now only when a trace needs it to number retries).
    messages = ep.snapshot(d is not None) if (capture or (d is None and current_trace() is not None)) else None
    call = start_call(st.adapter.provider, ep.name, type=ep.type, request_model=ep.request_model,
                      prompt=ep.prompt, messages=messages, params=params or None, metadata=st.metadata,
                      sink=st.sink, namespace=st.namespace, messages_json=True,
                      start_wall=None if d is None else d.start_wall, ctx=None if d is None else d.ctx)
    if d is not None:
        call.start_perf = d.start_perf
    if st.cloud:
        call.extra = {"cloud": st.cloud}
    return call


# --------------------------------------------------------------------------- deferred calls
#
# A call outside a trace and with no budget to keep live needs nothing from tokentrail
# while it runs: its event can be worked out afterwards from the request and the
# response. So the caller's thread only notes the times, a private copy of the request
# body and the few fields of the response the event needs (usage, model, text; for a
# stream, what its chunks say as the caller reads them, and the usage chunk asked for
# before it is sent), and queues the rest; the writer plans, prices and builds it with
# the other queued calls. This is most of the saving: the same work done in a batch,
# with its code and data warm in the CPU caches, costs a third of what it costs run
# once between two SDK calls (bench/run.py measures both).

try:
    from orjson import dumps as _oj_dumps, loads as _oj_loads
except ImportError:                             # a dependency on CPython; absent on PyPy
    _oj_dumps = _oj_loads = None

_CONTAINERS = frozenset((dict, list, tuple))
#: Request keys that hold prompt text, left out of a private body when content is not captured.
_CONTENT_KEYS = frozenset(("messages", "input", "system", "instructions", "prompt")) | CONTENT_PARAMS
#: The request keys the writer reads (the adapters' ``plan``: the model, the prompt keys
#: and the sampling parameters); the rest (tools and their JSON schemas, metadata,
#: response formats...) is never recorded, so it is neither kept nor copied.
_BODY_KEYS = PARAM_KEYS | _CONTENT_KEYS | {"model"}
_BODY_KEYS_NO_CONTENT = _BODY_KEYS - _CONTENT_KEYS
_MAX_DEPTH = 64
_ORJSON_FROM = 6        # messages past which private_body encodes instead of copying


def _tree(v: Any, depth: int) -> Any:
    """``v`` with every dict, list and tuple in it copied (tuples become lists); other
    values shared (strings are immutable; SDK models are not changed by callers). The
    dicts of a list (messages, content blocks) are copied in the list's own loop: one
    call less per message."""
    if depth >= _MAX_DEPTH:                     # a structure this deep is not a chat request
        return v
    if type(v) is dict:
        out = v.copy()
        for k, x in v.items():
            if type(x) in _CONTAINERS:
                out[k] = _tree(x, depth + 1)
        return out
    items: list = []
    for x in v:
        if type(x) is dict:
            c = x.copy()
            for k, y in x.items():
                if type(y) in _CONTAINERS:
                    c[k] = _tree(y, depth + 2)
            items.append(c)
        elif type(x) in _CONTAINERS:
            items.append(_tree(x, depth + 1))
        else:
            items.append(x)
    return items


def private_body(body: dict, capture: bool) -> Any:
    """A snapshot of what the writer will read of a request body (:data:`_BODY_KEYS`),
    out of reach of the caller's later changes (callers append to their message list
    after the call, and anthropic >= 2 sends the list it was given): a copy of every dict
    and list in it, or, for a long conversation when orjson is installed, its JSON bytes.
    Without content capture the prompt keys are left out too. :func:`body_of` turns it
    back into the body.

    Measured between real SDK calls (bench/run.py's workers): a 1-message body copies in
    ~7 µs; orjson takes ~13 µs whatever the size (its code is cold by then), but a
    20-message conversation costs it 2.6 µs more where the copy costs ~40. Tools are not
    copied at all: ten tools with their schemas cost the old whole-body copy ~30 µs."""
    keep = _BODY_KEYS if capture else _BODY_KEYS_NO_CONTENT
    if capture and _oj_dumps is not None:
        msgs = body.get("messages") or body.get("input")
        if type(msgs) is list and len(msgs) > _ORJSON_FROM:
            try:            # without the SDKs' "not given" sentinels, which are not JSON
                return _oj_dumps({k: v for k, v in body.items() if k in keep and given(v)})
            except TypeError:   # not JSON (an SDK model, bytes, a generator...): copy instead
                pass
    # One pass over the body, keeping what is read: anthropic >= 2 sends every optional
    # field, most as its "omit" sentinel (17 keys, 3 given), so the body is not copied
    # whole and thinned, and a sentinel or None is left out (every reader takes a missing
    # key for one).
    out = {}
    kinds = _param_kinds                # pick_params' table: which types are sentinels or None
    for k, v in body.items():
        if k in keep:
            t = type(v)
            kind = kinds.get(t)
            if kind is None:
                kind = _param_kind(t)
            if kind != _SKIP:           # other values shared: immutable, or SDK models callers do not change
                out[k] = _tree(v, 1) if t in _CONTAINERS else v
    return out


def body_of(snapshot: Any) -> dict:
    """The request body a :func:`private_body` snapshot holds."""
    return _oj_loads(snapshot) if type(snapshot) is bytes else snapshot


class Deferred:
    """A plain call recorded after it was made: what the caller's thread saw, and what its
    response said. Queued like a finished :class:`Call`; :meth:`to_event` runs on the writer.

    It keeps as few objects alive as it can (the response is read at once, the request
    options are not kept): everything a queued call holds survives the garbage collector's
    young generations and makes full collections come sooner (measured: keeping the
    response and options tripled the collections per call). It is also what an adapter's
    ``route`` reads instead of the options (``method``, ``url``, ``headers``, ``post_parser``,
    ``qualifiers``, the last three None when not given; the body goes to ``fields`` on its
    own): one object less per call."""

    __slots__ = ("st", "body", "ctx", "start_wall", "start_perf", "end_perf", "reader", "model",
                 "usage", "finish_reason", "response_text", "read_error",
                 "method", "url", "headers", "post_parser", "qualifiers", "helper", "service_tier")

    # What a plain call always is (to_event reads them); a DeferredStream has slots for them.
    stream = False
    err: dict | None = None

    @property
    def name(self) -> str:
        return f"{self.st.adapter.provider} request"

    def to_event(self) -> dict | None:
        """The event, built here without the :class:`Call` a live recording needs: such a
        call has no trace, budget or retry, so most of what ``start_call``
        and ``Call.to_event`` decide is fixed (8-9% fewer instructions per event). It must
        write what ``Call.to_event`` writes for the same call: ``event_io`` is shared, and
        tests/instrument/test_deferred.py records each kind of call both ways and compares."""
        st = self.st
        f = deferred_fields(st.adapter, self, body_of(self.body))
        if f is None:
            return None
        name, type_, request_model, prompt, messages, system, params = f
        request_model, messages, system = request_parts(request_model, messages, system)
        e = self.read_error
        if e is not None:
            logger.error("tokentrail: could not read the response of %s", name,
                         exc_info=(type(e), e, e.__traceback__))
        capture, base_metadata, default_ns, captured = self.ctx
        provider = st.adapter.provider
        request_model = request_model or ""
        model = self.model or request_model
        usage = normalize_usage(self.usage, provider)
        service_tier, geo = served_at(self.usage, provider, self.service_tier)
        cost = _recorder.price(model, usage, False, service_tier, geo)
        start = self.start_wall
        elapsed = self.end_perf - self.start_perf
        metadata: dict = {"source": "tokentrail", "fallback_attempted": False}
        if base_metadata:
            metadata.update(base_metadata)
        if st.metadata:
            metadata.update(st.metadata)
        if capture:
            messages = snapshot(messages, system, True)     # the system prompt is its first message
            if prompt is None:
                prompt = flatten_messages(messages)
        else:
            prompt = messages = None
        inp, out = event_io(capture, request_model or model, prompt, messages, params,
                            self.response_text, self.finish_reason)
        err = self.err
        ev: dict = {
            "traceId": new_id(), "id": new_event_id(start), "type": type_, "name": name,
            "startTime": format_ts(start), "endTime": format_ts(start + elapsed),
            "level": "error" if err else "info", "status": "error" if err else "success",
            "provider": provider, "namespace": st.namespace or default_ns, "input": inp,
            "model": model, "output": out, "usage": usage, "cost": cost.total_usd,
            "cost_details": cost.details(), "pricing": cost.pricing,
        }
        if not out:
            del ev["output"]
        tier = _recorder.pricing_tier(cost)
        if tier:
            ev["pricing_tier"] = tier
        if service_tier:
            ev["service_tier"] = service_tier
        if geo:
            ev["inference_geo"] = geo
        ev["latency_ms"] = int(round(elapsed * 1000))
        if self.stream:
            ev["stream"] = True
            first = self.first_token_perf
            if first is not None:
                ev["ttft_ms"] = int(round((first - self.start_perf) * 1000))
            if self.partial:
                ev["partial"] = True
        ev["retry_attempt"] = 0
        ev["fallback_model"] = None
        if err:
            ev["error"] = err
        ev["metadata"] = metadata
        if st.cloud:
            ev["cloud"] = st.cloud
        if captured:
            ev.update(captured)
        ev["schema_version"] = _recorder.SCHEMA_VERSION
        return ev


class DeferredStream(Deferred):
    """A stream recorded like a plain call (see :func:`defer`): the caller's thread notes the
    times, the private body and what the stream's chunks say (its accumulator, exactly as
    for a live stream); the writer names, prices and builds its event. It is both the call
    and the endpoint of its :class:`Recording`: what a recording reads of either (``done``,
    ``partial``, ``stream``, ``read_result``, ``new_stream``, ``inject``, ``name``,
    :meth:`mark_first_token`, :meth:`finish`) is here, so a stream costs its caller no
    :class:`Call`, no :class:`Endpoint` and no plan (bench/lockstep.py --streams: 25–50 µs
    less per stream in three runs of four, the fourth within its noise)."""

    __slots__ = ("done", "partial", "err", "first_token_perf", "new_stream", "injected", "asked")

    stream = True
    read_result = None      # a stream is read chunk by chunk (``new_stream``), not as one object
    inject = None           # done by defer() already: see ``injected``

    def mark_first_token(self) -> None:
        if self.first_token_perf is None:
            self.first_token_perf = time.perf_counter()

    def finish(self, error: BaseException | dict | None = None) -> None:
        """The stream ended (see :meth:`Recording.end`): queue it; never raises."""
        if self.done:
            return
        self.done = True
        self.end_perf = time.perf_counter()
        try:
            if error is not None:
                self.err = _recorder._error_info(error)
            _recorder.hand_off(self, self.st.sink)
        except Exception:
            logger.exception("tokentrail: could not record a stream (the call itself was not affected)")


#: Header names (lower case) an adapter's ``route`` reads.
_ROUTE_HEADERS = frozenset(("x-stainless-helper-method", "x-stainless-stream-helper"))
_route_headers_of: dict[tuple, tuple] = {}     # a request's header names -> those of them routes read
_routes: dict[tuple, Any] = {}                 # (adapter, what a route reads) -> its route
_ROUTES_MAX = 1024


def helper_of(options: Any) -> str | None:
    """The SDK helper a request is made in (see :data:`HELPER`): for a deferred call the one
    :func:`defer` saw on the caller's thread (a route runs on the writer), else the one
    running now."""
    return options.helper if isinstance(options, Deferred) else HELPER.get()


def _route_key(d: "Deferred") -> tuple | None:
    """What an adapter's ``route`` reads of a deferred call's options, as a dict key: its
    URL, the type of its parser (given or not), the headers that name a helper (all that
    :func:`defer` kept) and the helper being run (:data:`HELPER`, as the caller's thread
    saw it). None when it has something rarer (request qualifiers, headers that are not
    a dict): such a call is routed every time."""
    h = d.headers
    if h is None:                       # defer() keeps None for no header a route reads
        hv: tuple = ()
    elif type(h) is dict:
        hv = tuple(h.items())
    else:
        return None
    if d.qualifiers:                    # routes read them only when they are not empty
        return None
    return (d.url, type(d.post_parser), hv, d.helper)     # the helper: see openai.route


def _route_headers(h: Any) -> Any:
    """What a deferred call keeps of its request's headers: None when there are none a route
    reads (the common case; anthropic >= 2 sends a dict of "omit" sentinels with every
    call, which would otherwise stay alive until the writer ran), else a dict of just
    those (or, for headers that are not a plain dict, the headers as they are)."""
    if type(h) is not dict:
        return h if given(h) else None
    if not h:
        return None
    names = tuple(h)
    read = _route_headers_of.get(names)
    if read is None:
        read = tuple([k for k in names if isinstance(k, str) and k.lower() in _ROUTE_HEADERS])
        if len(_route_headers_of) < _ROUTES_MAX:
            _route_headers_of[names] = read
    if not read:
        return None
    return {k: h[k] for k in read}


def deferred_fields(adapter: Any, d: "Deferred", body: Mapping) -> tuple | None:
    """What the adapter's plan reads of a deferred call (its ``fields``), or None if it is
    not recorded. Its ``route`` (what the call is, from the options alone) is worked out
    once per kind of request, and only the body is read per call; no :class:`Endpoint` is
    made (measured with callgrind: ~9,000 instructions less per event than a whole plan)."""
    key = _route_key(d)
    if key is None:
        r = adapter.route(d, False)
    else:
        key = (adapter, key)
        try:
            r = _routes[key]
        except KeyError:
            r = adapter.route(d, False)
            if len(_routes) < _ROUTES_MAX:
                _routes[key] = r
        except TypeError:               # a header value that is not hashable
            r = adapter.route(d, False)
    return None if r is None else adapter.fields(r, body)


def defer(st: AttachState, client: Any, args: tuple, kwargs: dict) -> Deferred | None:
    """A :class:`Deferred` (a :class:`DeferredStream` for a stream) for this request if it may
    be recorded after it is made, else None (also when preparing it fails: logged, and the
    call is recorded the usual way). Caller's thread: only cheap tests, the times, the
    private body and, for a stream that reports its usage only when asked, the asking."""
    try:
        if current_trace() is not None:
            return None
        if _recorder._holding and _recorder.HELD.get() is not None:
            return None             # a held call may still become an error: it needs a Call
        s = SETTINGS
        if s.budget_usd is not None or s.max_calls is not None:
            return None
        options = args[1] if len(args) > 1 else kwargs.get("options")
        fields = getattr(options, "__dict__", None)     # pydantic (v1 and v2) keeps the fields here
        if type(fields) is not dict:
            return None
        body = fields.get("json_data")
        url = fields.get("url")
        if type(url) is not str or type(body) is not dict or fields.get("method") != "post":
            return None
        adapter = st.adapter
        if kwargs.get("stream"):
            new_stream = adapter.DEFER_STREAMS.get(url)
            if new_stream is None:
                return None
            d = DeferredStream()
            d.reader, d.new_stream = None, new_stream
            d.done = d.partial = d.injected = d.asked = False
            d.err = d.first_token_perf = d.model = d.usage = d.finish_reason = d.response_text = None
            d.service_tier = d.read_error = None
        else:
            reader = adapter.DEFER_PATHS.get(url)
            if reader is None:
                return None
            d = Deferred()
            d.reader = getattr(adapter, reader)     # looked up now: tests patch the adapters' readers
        d.st, d.method, d.url = st, "post", url
        # The SDKs' options make a fresh NotGiven for every absent field: kept here, each
        # would be one more collectable object alive per queued call (routes read None as
        # not given alike).
        h, pp = fields.get("headers"), fields.get("post_parser")
        d.headers = _route_headers(h)
        d.post_parser = pp if given(pp) else None
        d.qualifiers = fields.get("qualifiers")
        d.helper = HELPER.get()
        capture = s.capture_content
        d.body = private_body(body, capture)
        d.ctx = _context(capture, s)
        if d.stream:
            ask = getattr(adapter, "stream_usage", None)
            if ask is not None:         # last: it may change the request, and nothing may fail after it
                d.asked, d.injected = ask(url, options, body, client)
        d.start_wall = time.time()
        d.start_perf = time.perf_counter()
        return d
    except Exception:
        logger.exception("tokentrail: could not prepare the recording of a call (it is recorded the usual way)")
        return None


_last_ctx: tuple = (None, None, None, None)


def _context(capture: bool, s: Any) -> tuple:
    """A deferred call's ``ctx`` (see :func:`start_call`): the last one again while the
    settings it holds are the same objects and no context capturer is registered, so a
    queued call keeps one object less alive."""
    global _last_ctx
    if _hooks.CAPTURERS:
        return (capture, s.metadata, s.namespace, _hooks.capture_context())
    ctx = _last_ctx
    if ctx[0] is not capture or ctx[1] is not s.metadata or ctx[2] is not s.namespace:
        ctx = _last_ctx = (capture, s.metadata, s.namespace, None)
    return ctx


_plain_result: dict[type, bool] = {}


def _deferred_returned(d: Deferred, client: Any, args: tuple, kwargs: dict, result: Any, is_async: bool) -> Any:
    """The deferred call returned: queue it, or (a raw response, anything but a parsed
    SDK model) record it here after all."""
    end = time.perf_counter()
    if d.stream:                        # a DeferredStream: watched like a live stream
        try:
            rec = Recording(d, d)
            rec.injected = d.injected
        except Exception:
            logger.exception("tokentrail: could not record a call (the call itself was not affected)")
            return result
        return rec.returned(result, is_async)
    try:
        cls = type(result)
        plain = _plain_result.get(cls)
        if plain is None:
            plain = _plain_result[cls] = (_is_pydantic2(cls) and not _is_raw_response(result)
                                          and not _is_stream(result))
        if plain:
            d.end_perf = end
            d.model = d.usage = d.finish_reason = d.response_text = d.read_error = d.service_tier = None
            try:
                d.reader(d, result)
            except Exception as e:
                d.read_error = e        # reported with the event's name, on the writer
            _recorder.hand_off(d, d.st.sink)
            return result
        rec = _begin(d.st, client, args, kwargs, d)
    except Exception:
        logger.exception("tokentrail: could not record a call (the call itself was not affected)")
        return result
    return result if rec is None else rec.returned(result, is_async)


def _deferred_failed(d: Deferred, client: Any, args: tuple, kwargs: dict, exc: BaseException) -> None:
    try:
        rec = _begin(d.st, client, args, kwargs, d)
        if rec is not None:
            rec.failed(exc)
    except Exception:
        logger.exception("tokentrail: could not record a failed call (the call itself was not affected)")


def sync_request(wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
    """Class-level wrapper of ``SyncAPIClient.request``."""
    st = instance.__dict__.get(ATTR) if instance is not None else None
    if st is None or not SETTINGS.enabled:
        return wrapped(*args, **kwargs)
    d = defer(st, instance, args, kwargs)
    if d is not None:
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            _deferred_failed(d, instance, args, kwargs, exc)
            raise
        return _deferred_returned(d, instance, args, kwargs, result, False)
    rec = _begin(st, instance, args, kwargs)
    if rec is None:
        return wrapped(*args, **kwargs)
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        rec.failed(exc)
        raise
    return rec.returned(result, False)


def async_request(wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
    """Class-level wrapper of ``AsyncAPIClient.request`` (returns the awaitable)."""
    st = instance.__dict__.get(ATTR) if instance is not None else None
    if st is None or not SETTINGS.enabled:
        return wrapped(*args, **kwargs)
    return _arun(st, wrapped, instance, args, kwargs)


async def _arun(st: AttachState, wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
    d = defer(st, instance, args, kwargs)
    if d is not None:
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            _deferred_failed(d, instance, args, kwargs, exc)
            raise
        return _deferred_returned(d, instance, args, kwargs, result, True)
    rec = _begin(st, instance, args, kwargs)
    if rec is None:
        return await wrapped(*args, **kwargs)
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        rec.failed(exc)
        raise
    return rec.returned(result, True)


# --------------------------------------------------------------------------- one call in flight

class Recording:
    """The bookkeeping of one recorded call until its event is written.

    A plain call finishes at once. A stream finishes on exhaustion, error, ``close()``,
    ``with`` exit, the close of its HTTP response, or (abandoned) when it is collected.
    A ``with_streaming_response`` response finishes when the user reads, parses or
    closes it; tokentrail never reads a body the user did not read.
    """

    __slots__ = ("call", "ep", "acc", "injected", "in_next", "in_read", "observing", "watched", "http_ref",
                 "finalizer", "unhook", "__weakref__")

    def __init__(self, call: Call, ep: Endpoint) -> None:
        self.call = call
        self.ep = ep
        self.acc: Any = None
        self.injected = False
        self.in_next = False
        self.in_read = False
        self.observing = True
        self.watched: Any = None
        self.http_ref: Any = None
        self.finalizer: Any = None
        self.unhook: Any = None

    # -- outcomes -------------------------------------------------------------------
    def failed(self, exc: BaseException) -> None:
        """The request raised (provider error, timeout, cancellation): error event."""
        try:
            partial = getattr(exc, "completion", None)   # openai LengthFinishReasonError: tokens were billed
            if partial is not None and self.ep.read_result is not None:
                self.ep.read_result(self.call, partial)
        except Exception:
            logger.exception("tokentrail: could not read the usage of a failed %s", self.ep.name)
        self.call.finish(error=exc)

    def returned(self, result: Any, is_async: bool) -> Any:
        """The request returned: record now, or hand back a watched stream / raw response."""
        try:
            if _is_raw_response(result):
                return self._raw(result, is_async)
            if self.ep.stream and _is_stream(result):
                return self.wrap_stream(result, is_async)
            if type(result).__module__.startswith("httpx"):      # client.post(..., cast_to=httpx.Response)
                self.finish_with(None if self.ep.stream else _read_json(result))
            else:
                self.finish_with(result)
        except Exception:
            logger.exception("tokentrail: could not record %s (the call itself was not affected)", self.ep.name)
            self.call.finish()
        return result

    def finish_with(self, obj: Any) -> None:
        if self.call.done:
            return
        try:
            if obj is not None and self.ep.read_result is not None:
                self.ep.read_result(self.call, obj)
        except Exception:
            logger.exception("tokentrail: could not read the response of %s", self.ep.name)
        self._detach_finalizer()
        self.call.finish()

    def end(self, exc: BaseException | None = None, *, early: bool = False) -> None:
        """Finish a stream: exhausted (``exc`` None), failed (``exc``) or stopped early."""
        call = self.call
        if call.done:
            return
        error: BaseException | dict | None = None
        try:
            acc = self.acc
            if acc is not None:
                acc.apply(call)
                error = acc.error
            if exc is not None:
                if isinstance(exc, Exception):
                    error = exc
                else:                       # KeyboardInterrupt, task cancelled: the stream stopped early
                    call.partial = True
            elif early and not (acc is not None and acc.complete):
                call.partial = True
        except Exception:
            logger.exception("tokentrail: could not summarize the stream of %s", self.ep.name)
        self._detach_finalizer()
        call.finish(error=error)
        unhook = self.unhook
        if unhook is not None:
            # In openai <= 2.x and anthropic 0.x a stream and its response are the SDK's own
            # reference cycle: the close hook must not keep this recording (~35 objects) in it.
            self.unhook = None
            _safe(unhook)

    def abandoned(self) -> None:
        """Collected without being finished (a stream dropped mid-way, a body never read)."""
        if self.ep.stream or self.watched is not None:
            self.end(early=True)
        else:
            self.call.partial = True            # its body was never read: usage unknown
            self.finish_with(None)

    def _detach_finalizer(self) -> None:
        f = self.finalizer
        if f is not None:
            self.finalizer = None
            try:
                f.detach()
            except Exception:
                pass

    # -- streams --------------------------------------------------------------------
    def new_acc(self) -> Any:
        """The endpoint's stream accumulator, made once (None for endpoints without one)."""
        if self.acc is None and self.ep.new_stream is not None:
            self.acc = self.ep.new_stream(self.call, self.ep, self.injected)
        return self.acc

    def wrap_stream(self, stream: Any, is_async: bool) -> Any:
        """Watch ``stream``; returns what the caller gets (the same object when possible)."""
        w = self.watched() if self.watched is not None else None
        if w is not None:
            return w
        try:
            self.new_acc()
        except Exception:
            logger.exception("tokentrail: could not watch the stream of %s", self.ep.name)
        self.observing = self.acc is not None
        self._detach_finalizer()     # a raw response's: the stream now carries the call
        try:
            watched = stream if swap_iterator(stream, self, is_async) else None
        except Exception:
            logger.exception("tokentrail: could not watch the stream of %s", self.ep.name)
            watched = None
        if watched is None:          # an SDK without ``_iterator``: a proxy that iterates for it
            watched = (AsyncStreamProxy if is_async else StreamProxy)(stream, self)
        skip = getattr(self.acc, "skip_usage_event", None) if self.observing else None
        if skip is not None:         # a chunk tokentrail asked for: read before the SDK parses it
            try:
                skip(stream, is_async)
            except Exception:
                logger.exception("tokentrail: could not watch the stream of %s", self.ep.name)
        self.watched = weakref.ref(watched)     # weak: the finalizer below keeps this Recording alive
        try:
            self.unhook = hook_http_close(getattr(stream, "response", None), self, is_async)
            opened = _OPENED.get()
            if opened is not None:
                opened.append(self)             # inside a helper's __enter__: see _rewatch
            else:
                self.finalizer = weakref.finalize(watched, self.abandoned)
        except Exception:
            logger.exception("tokentrail: could not hook the stream of %s", self.ep.name)
        return watched

    def rewatch(self, stream: Any, is_async: bool) -> None:
        """Move the watch to ``stream``, which a helper built over the same response."""
        old = self.watched() if self.watched is not None else None
        if self.call.done or not swap_iterator(stream, self, is_async):
            return
        if old is not None and old is not stream:
            unswap_iterator(old, is_async)
        self._detach_finalizer()
        self.watched = weakref.ref(stream)
        self.finalizer = weakref.finalize(stream, self.abandoned)

    def observe_failed(self) -> None:
        self.observing = False
        logger.exception("tokentrail: stopped reading the stream of %s (the stream goes on)", self.ep.name)

    def on_http_close(self) -> None:
        """The HTTP response was closed (by the SDK, a helper, or the user)."""
        if self.in_next or self.in_read or self.call.done:
            return
        if self.watched is not None:
            self.end(early=True)
        elif not self.ep.stream:
            ref = self.http_ref
            http = ref() if ref is not None else None
            body = _read_json(http)
            if body is None and _unread(http):
                self.call.partial = True        # closed unread: what the response said is unknown
            self.finish_with(body)
        else:
            self.end(early=True)   # an SSE body the user stopped reading: partial, usage seen so far

    # -- raw / streaming responses ------------------------------------------------------
    def _raw(self, resp: Any, is_async: bool) -> Any:
        http = getattr(resp, "http_response", None)
        sse = self.ep.stream
        if not sse and http is not None and hasattr(http, "_content"):
            self.finish_with(_read_json(http))       # the SDK already read the body
            return resp
        # The body is the user's to read: record when they parse, read or close it.
        self.http_ref = weakref.ref(http) if http is not None else None
        hook_parse(resp, self, is_async)
        if http is not None:
            hook_http_close(http, self, is_async)
            hook_http_bytes(http, self, is_async)
            if not sse:
                hook_http_read(http, self, is_async)
        try:
            self.finalizer = weakref.finalize(resp, self.abandoned)
        except TypeError:
            pass
        return resp

    def parsed(self, result: Any, is_async: bool) -> Any:
        """What ``APIResponse.parse()`` returned: a stream to watch or the final object."""
        try:
            if _is_stream(result):
                w = self.watched() if self.watched is not None else None
                if w is None:
                    return self.wrap_stream(result, hasattr(type(result), "__anext__"))
                if w is result or getattr(w, "__wrapped__", None) is result:
                    return w
                return result
            self.finish_with(result)
        except Exception:
            logger.exception("tokentrail: could not record %s (the call itself was not affected)", self.ep.name)
        return result


def _is_stream(obj: Any) -> bool:
    return hasattr(type(obj), "__stream__")


_raw_types: dict[type, bool] = {}


def _is_raw_response(obj: Any) -> bool:
    """An SDK ``APIResponse`` / ``LegacyAPIResponse`` (what the raw-response wrappers return)."""
    cls = type(obj)
    hit = _raw_types.get(cls)
    if hit is None:
        hit = _raw_types[cls] = (hasattr(cls, "http_request") and hasattr(cls, "parse")
                                 and not hasattr(cls, "__stream__"))
    return hit


def _unread(http: Any) -> bool:
    """True if the body of ``http`` was never read (or the response is gone)."""
    try:
        return http is None or http.__dict__.get("_content") is None
    except Exception:
        return True


def _read_json(http: Any) -> Any:
    """The JSON body of a response whose content is already in memory, else None."""
    if http is None:
        return None
    try:
        content = http.__dict__.get("_content")
    except Exception:
        return None
    return None if content is None else _json_body(content)


def _json_body(content: bytes) -> Any:
    """A response body parsed as JSON; None (logged at debug level) if it is not JSON."""
    try:
        return json.loads(content)
    except Exception:
        logger.debug("tokentrail: response body is not JSON", exc_info=True)
        return None


# -- instance hooks on SDK response objects (the user's object stays the same object) ----

def hook_http_close(http: Any, rec: Recording, is_async: bool) -> Callable[[], None] | None:
    """Tell ``rec`` when ``http`` is closed; returns what takes the hook off again."""
    if http is None:
        return None
    ref = weakref.ref(http)
    cls = type(http)
    name = "aclose" if is_async else "close"
    prev = http.__dict__.get(name)

    if is_async:
        async def aclose() -> None:
            h = ref()
            try:
                if prev is not None:
                    await prev()
                elif h is not None:
                    await cls.aclose(h)
            finally:
                _safe(rec.on_http_close)
        http.aclose = aclose
    else:
        def close() -> None:
            h = ref()
            try:
                if prev is not None:
                    prev()
                elif h is not None:
                    cls.close(h)
            finally:
                _safe(rec.on_http_close)
        http.close = close
    hook = weakref.ref(http.__dict__[name])     # weak, like ``ref``: the recording holds this

    def release() -> None:
        h = ref()
        if h is not None and h.__dict__.get(name) is hook():   # not since wrapped by someone else
            if prev is None:
                del h.__dict__[name]
            else:
                h.__dict__[name] = prev
    return release


def hook_http_read(http: Any, rec: Recording, is_async: bool) -> None:
    ref = weakref.ref(http)
    cls = type(http)

    if is_async:
        async def aread() -> bytes:
            h = ref()
            rec.in_read = True
            try:
                data = await cls.aread(h)
            finally:
                rec.in_read = False
            _safe(lambda: rec.finish_with(_read_json(h)))
            return data
        http.aread = aread
    else:
        def read() -> bytes:
            h = ref()
            rec.in_read = True
            try:
                data = cls.read(h)
            finally:
                rec.in_read = False
            _safe(lambda: rec.finish_with(_read_json(h)))
            return data
        http.read = read


def hook_http_bytes(http: Any, rec: Recording, is_async: bool) -> None:
    """Watch the bytes of a body the user reads by hand (``iter_bytes``/``iter_lines``/
    ``iter_text``/``read`` all go through ``iter_bytes``), so its usage is known too.
    Bytes the SDK reads for ``parse()`` are left alone: the parsed result is watched."""
    ref = weakref.ref(http)
    cls = type(http)
    if is_async:
        def aiter_bytes(*args: Any, **kwargs: Any) -> Any:
            return _atee(cls.aiter_bytes(ref(), *args, **kwargs), rec)
        http.aiter_bytes = aiter_bytes
    else:
        def iter_bytes(*args: Any, **kwargs: Any) -> Any:
            return _tee(cls.iter_bytes(ref(), *args, **kwargs), rec)
        http.iter_bytes = iter_bytes


def _tee(it: Any, rec: Recording) -> Any:
    reader = HandReader.start(rec)
    if reader is None:
        yield from it
        return
    while True:
        rec.in_next = True              # an HTTP close from inside the body's own iteration is not the end
        try:
            chunk = next(it)
        except StopIteration:
            break
        finally:
            rec.in_next = False
        reader.feed(chunk)
        yield chunk
    reader.done()


async def _atee(it: Any, rec: Recording) -> Any:
    reader = HandReader.start(rec)
    if reader is None:
        async for chunk in it:
            yield chunk
        return
    while True:
        rec.in_next = True
        try:
            chunk = await it.__anext__()
        except StopAsyncIteration:
            break
        finally:
            rec.in_next = False
        reader.feed(chunk)
        yield chunk
    reader.done()


class _Obj(dict):
    """A parsed JSON object read like an SDK model (``obj.usage``; a missing field is None)."""

    __slots__ = ()

    def __getattr__(self, key: str) -> Any:
        return self.get(key)


class HandReader:
    """Reads along with the user: SSE events into the endpoint's stream accumulator, or a
    JSON body (up to ``LIMIT`` bytes) into the response reader at its end."""

    __slots__ = ("rec", "sse", "buf", "dead")
    LIMIT = 32 << 20

    @classmethod
    def start(cls, rec: Recording) -> "HandReader | None":
        try:
            if rec.call.done or rec.watched is not None or rec.in_read:
                return None              # the SDK is reading for parse(), or the call is recorded
            return cls(rec)
        except Exception:
            logger.exception("tokentrail: could not read along with %s (the body is unaffected)", rec.ep.name)
            return None

    def __init__(self, rec: Recording) -> None:
        self.rec = rec
        self.sse = bool(rec.ep.stream)
        self.buf = bytearray()
        self.dead = False
        if self.sse:
            self.dead = rec.new_acc() is None

    def feed(self, chunk: bytes) -> None:
        if self.dead or self.rec.call.done:
            return
        try:
            self.buf += chunk
            if self.sse:
                self._events()
            elif len(self.buf) > self.LIMIT:
                self.dead = True
                self.buf = bytearray()
        except Exception:
            self.dead = True
            logger.exception("tokentrail: stopped reading along with %s (the body is unaffected)", self.rec.ep.name)

    def _events(self) -> None:
        buf = self.buf
        observe = self.rec.acc.observe
        while True:
            cut = -1
            for sep in (b"\n\n", b"\r\n\r\n", b"\r\r"):
                i = buf.find(sep)
                if i >= 0 and (cut < 0 or i < cut):
                    cut, size = i, len(sep)
            if cut < 0:
                return
            block = bytes(buf[:cut])
            del buf[:cut + size]
            data = [ln[5:].removeprefix(b" ") for ln in block.splitlines() if ln.startswith(b"data:")]
            if not data:
                continue
            text = b"\n".join(data)
            if text.strip() == b"[DONE]":
                continue
            observe(json.loads(text, object_hook=_Obj))

    def done(self) -> None:
        """The body was read to its end."""
        rec = self.rec
        if rec.call.done:
            return
        if self.sse:
            if not self.dead and self.buf.strip():
                self.buf += b"\n\n"
                _safe(self._events)
            rec.end(early=True)          # partial unless the stream said it was complete
        elif not self.dead:
            rec.finish_with(_json_body(bytes(self.buf)))


def hook_parse(resp: Any, rec: Recording, is_async: bool) -> None:
    ref = weakref.ref(resp)
    cls = type(resp)
    # Follow the SDK: openai's (and old anthropic's) legacy raw response parses synchronously
    # even on an async client.
    is_async = inspect.iscoroutinefunction(cls.parse)

    if is_async:
        async def parse(*args: Any, **kwargs: Any) -> Any:
            result = await cls.parse(ref(), *args, **kwargs)
            return rec.parsed(result, True)
    else:
        def parse(*args: Any, **kwargs: Any) -> Any:
            result = cls.parse(ref(), *args, **kwargs)
            return rec.parsed(result, False)
    parse.__doc__ = getattr(cls.parse, "__doc__", None)
    resp.parse = parse


def _safe(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception:
        logger.exception("tokentrail: internal error (the call itself was not affected)")


# --------------------------------------------------------------------------- watching streams
#
# The SDK streams (openai and anthropic, every version) iterate through one private
# iterator, ``stream._iterator``, shared by ``__iter__``/``__next__`` (``__aiter__``/
# ``__anext__``). Swapping it for a generator that reads through it leaves the user the
# SDK's own object: ``type()``, ``isinstance`` (anthropic < 1.0 overrides
# ``__instancecheck__``, which defeats any proxy), ``with``, ``close()``, ``.response``
# and the helpers built on top (``MessageStream``, ``ChatCompletionStream``) are untouched.

def swap_iterator(stream: Any, rec: Recording, is_async: bool) -> bool:
    if "_iterator" not in stream.__dict__ and not hasattr(type(stream), "_iterator"):
        return False
    inner = stream._iterator
    if not hasattr(inner, "__anext__" if is_async else "__next__"):
        return False
    stream._iterator = (_awatch if is_async else _watch)(inner, rec)
    return True


def unswap_iterator(stream: Any, is_async: bool) -> None:
    """Give ``stream`` its own iterator back. The stream a request returned, dropped unread
    by a helper that reads its own (anthropic 0.4x), would otherwise keep the watching
    generator, and through it the recording, in the SDK's stream/response reference
    cycle until the next garbage collection."""
    it = stream.__dict__.get("_iterator")
    frame = getattr(it, "ag_frame" if is_async else "gi_frame", None)
    if frame is not None and frame.f_code is (_awatch if is_async else _watch).__code__:
        stream._iterator = frame.f_locals["inner"]


def _watch(inner: Any, rec: Recording) -> Any:
    nxt = inner.__next__
    observe = rec.acc.observe if rec.observing else None     # looked up once, not per chunk
    try:
        while True:
            rec.in_next = True
            try:
                item = nxt()
            except StopIteration:
                rec.in_next = False
                rec.end()
                return
            except BaseException as exc:
                rec.in_next = False
                rec.end(exc)
                raise
            rec.in_next = False
            if observe is not None:
                try:
                    if not observe(item):
                        continue            # the usage-only chunk tokentrail asked for
                except Exception:
                    rec.observe_failed()
                    observe = None
                    if rec.injected and is_usage_only(item):
                        continue
            elif rec.injected and is_usage_only(item):
                continue
            yield item
    finally:
        rec.end(early=True)                 # closed or collected mid-stream; no-op once finished


async def _awatch(inner: Any, rec: Recording) -> Any:
    anext_ = inner.__anext__
    observe = rec.acc.observe if rec.observing else None
    try:
        while True:
            rec.in_next = True
            try:
                item = await anext_()
            except StopAsyncIteration:
                rec.in_next = False
                rec.end()
                return
            except BaseException as exc:
                rec.in_next = False
                rec.end(exc)
                raise
            rec.in_next = False
            if observe is not None:
                try:
                    if not observe(item):
                        continue
                except Exception:
                    rec.observe_failed()
                    observe = None
                    if rec.injected and is_usage_only(item):
                        continue
            elif rec.injected and is_usage_only(item):
                continue
            yield item
    finally:
        rec.end(early=True)


def is_usage_only(item: Any) -> bool:
    """The chunk an injected ``include_usage`` adds (still hidden if tokentrail's reader broke)."""
    try:
        return getattr(item, "usage", None) is not None and not getattr(item, "choices", True)
    except Exception:
        return False


def _next_of(stream: Any) -> Callable[[], Any]:
    nxt = getattr(type(stream), "__next__", None)
    if nxt is not None:
        return stream.__next__
    return iter(stream).__next__


class StreamProxy(wrapt.ObjectProxy):
    """The SDK's ``Stream``, watched: iteration goes through here, everything else is the
    stream's own (``isinstance``, ``.response``, ``close()``...)."""

    def __init__(self, wrapped: Any, rec: Recording) -> None:
        super().__init__(wrapped)
        self._self_rec = rec
        self._self_next = None

    def __iter__(self) -> "StreamProxy":
        return self

    def __next__(self) -> Any:
        rec = self._self_rec
        nxt = self._self_next
        if nxt is None:
            nxt = self._self_next = _next_of(self.__wrapped__)
        while True:
            rec.in_next = True
            try:
                item = nxt()
            except StopIteration:
                rec.in_next = False
                rec.end()
                raise
            except BaseException as exc:
                rec.in_next = False
                rec.end(exc)
                raise
            rec.in_next = False
            if rec.observing:
                try:
                    if not rec.acc.observe(item):
                        continue            # the usage-only chunk tokentrail asked for
                except Exception:
                    rec.observe_failed()
                    if rec.injected and is_usage_only(item):
                        continue
            elif rec.injected and is_usage_only(item):
                continue
            return item

    def __enter__(self) -> "StreamProxy":
        enter = getattr(self.__wrapped__, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(self, *exc: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc)
        finally:
            self._self_rec.end(early=True)

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_rec.end(early=True)

    def __copy__(self) -> Any:
        return self

    def __reduce_ex__(self, protocol: int) -> Any:
        return self.__wrapped__.__reduce_ex__(protocol)


class AsyncStreamProxy(wrapt.ObjectProxy):
    """The SDK's ``AsyncStream``, watched (see :class:`StreamProxy`)."""

    def __init__(self, wrapped: Any, rec: Recording) -> None:
        super().__init__(wrapped)
        self._self_rec = rec
        self._self_anext = None

    def __aiter__(self) -> "AsyncStreamProxy":
        return self

    async def __anext__(self) -> Any:
        rec = self._self_rec
        anext_ = self._self_anext
        if anext_ is None:
            w = self.__wrapped__
            anext_ = self._self_anext = (w.__anext__ if hasattr(type(w), "__anext__")
                                         else w.__aiter__().__anext__)
        while True:
            rec.in_next = True
            try:
                item = await anext_()
            except StopAsyncIteration:
                rec.in_next = False
                rec.end()
                raise
            except BaseException as exc:
                rec.in_next = False
                rec.end(exc)
                raise
            rec.in_next = False
            if rec.observing:
                try:
                    if not rec.acc.observe(item):
                        continue
                except Exception:
                    rec.observe_failed()
                    if rec.injected and is_usage_only(item):
                        continue
            elif rec.injected and is_usage_only(item):
                continue
            return item

    async def __aenter__(self) -> "AsyncStreamProxy":
        enter = getattr(self.__wrapped__, "__aenter__", None)
        if enter is not None:
            await enter()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc)
        finally:
            self._self_rec.end(early=True)

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_rec.end(early=True)

    def __copy__(self) -> Any:
        return self
