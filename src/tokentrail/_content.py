"""Prompt and completion text: flattening chat messages, snapshotting them, and the
whitelist of sampling parameters that may be recorded (never credentials or headers)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._fields import field as _get

#: Request parameters recorded in ``input.params``; everything else (headers, keys,
#: extra_* escape hatches, metadata, user ids) is never recorded.
PARAM_KEYS = frozenset((
    "temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens", "max_output_tokens", "n",
    "stop", "stop_sequences", "seed", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs",
    "reasoning_effort", "reasoning", "thinking", "service_tier", "stream", "parallel_tool_calls",
    "tool_choice", "response_format", "text", "verbosity", "truncation", "background", "store",
    "prompt_cache_key", "dimensions", "encoding_format", "modalities", "prediction", "speed",
))

#: Parameters that hold user text (a predicted output): recorded only with content capture.
CONTENT_PARAMS = frozenset(("prediction",))

_PLACEHOLDERS = {
    "image": "[image]", "image_url": "[image]", "input_image": "[image]",
    "input_audio": "[audio]", "audio": "[audio]", "file": "[file]", "input_file": "[file]",
    "document": "[document]",
}


def part_text(part: Any) -> str:
    """The text of one content part (a placeholder for images, audio, files)."""
    if part is None:
        return ""
    if isinstance(part, str):
        return part
    kind = _get(part, "type")
    if kind in _PLACEHOLDERS:
        return _PLACEHOLDERS[kind]
    for key in ("text", "input_text", "output_text", "refusal", "thinking"):
        v = _get(part, key)
        if isinstance(v, str):
            return v
    if kind == "tool_result":
        return content_text(_get(part, "content"))
    if kind in ("tool_use", "function_call", "server_tool_use"):
        return f"[{kind} {_get(part, 'name', '')}]".replace(" ]", "]")
    if kind:
        return f"[{kind}]"
    return ""


def content_text(content: Any) -> str:
    """Flatten a message ``content`` (a string or a list of parts) to text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Iterable) and not isinstance(content, (bytes, Mapping)):
        texts = [part_text(p) for p in content]
        return "\n".join(t for t in texts if t)
    return part_text(content)


def flatten_messages(messages: Any, system: Any = None) -> str:
    """Chat messages (and an Anthropic ``system``) as one string, text parts in order."""
    out: list[str] = []
    if system:
        s = content_text(system)
        if s:
            out.append(s)
    if isinstance(messages, str):
        out.append(messages)
    elif messages is not None:
        try:
            for m in messages:
                if type(m) is dict:
                    t = m.get("content")
                    if type(t) is str and t:    # the common message: its text as it is
                        out.append(t)
                        continue
                elif isinstance(m, str):
                    out.append(m)
                    continue
                t = content_text(_get(m, "content"))
                if not t and _get(m, "type") not in (None, "message"):
                    t = part_text(m)          # Responses API input items
                if t:
                    out.append(t)
        except TypeError:
            return ""
    return "\n".join(out)


_BINARY_KEYS = frozenset(("data", "b64_json", "image_url", "source"))


def jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy (SDK models dumped, bytes and image data replaced by placeholders).

    Exact-type checks come first: request kwargs are mostly plain dicts, lists and
    strings, and this runs for every recorded call.
    """
    if depth > 12:
        return "[...]"
    t = type(value)
    if t is str or (t is not bool and isinstance(value, str)):
        if len(value) > 256 and value.startswith("data:"):
            return value.split(",", 1)[0] + ",[data omitted]"
        return value
    if value is None or t is int or t is float or t is bool or isinstance(value, (bool, int, float)):
        return value
    if t is dict or isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            key = k if type(k) is str else str(k)
            tv = type(v)
            if k in _BINARY_KEYS and isinstance(v, (str, Mapping)) and _is_binaryish(v):
                out[key] = "[data omitted]"
            elif (tv is str and len(v) <= 256) or tv is int or tv is float or tv is bool or v is None:
                out[key] = v
            else:
                out[key] = jsonable(v, depth + 1)
        return out
    if t is list or isinstance(value, tuple) or isinstance(value, list):
        return [jsonable(v, depth + 1) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return f"[{len(value)} bytes]"
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return jsonable(dump(exclude_unset=True), depth + 1)
        except Exception:
            pass
    if isinstance(value, Iterable):
        return "[iterable]"
    return str(value)


def _is_binaryish(v: Any) -> bool:
    if isinstance(v, str):
        return len(v) > 256 and (v.startswith("data:") or " " not in v[:256])
    if isinstance(v, Mapping):
        d = v.get("data") or v.get("url")
        return isinstance(d, str) and _is_binaryish(d)
    return False


_AS_IS, _COPY, _SKIP = 0, 1, 2
#: How a parameter value of each type is recorded (learned once per type).
_param_kinds: dict[type, int] = {int: _AS_IS, float: _AS_IS, bool: _AS_IS, type(None): _SKIP}


def _param_kind(t: type) -> int:
    kind = _SKIP if t.__name__ in ("NotGiven", "Omit") else _COPY    # the SDKs' "not given" sentinels
    if len(_param_kinds) < 256:
        _param_kinds[t] = kind
    return kind


#: The parameter keys of each request shape seen (its keys in order -> those in PARAM_KEYS):
#: a request body holds many more keys than parameters (anthropic >= 2 sends every
#: optional field, most as its "omit" sentinel), and one tuple lookup replaces a set
#: test per key. Bounded: the shapes of an application's call sites are few.
_param_keys_of: dict[tuple, tuple] = {}


def pick_params(kwargs: Mapping[str, Any]) -> dict:
    """The recordable sampling parameters of a request, in the request's own order."""
    out: dict = {}
    kinds = _param_kinds
    shape = tuple(kwargs)
    keys = _param_keys_of.get(shape)
    if keys is None:
        keys = tuple([k for k in shape if k in PARAM_KEYS])
        if len(_param_keys_of) < 1024:
            _param_keys_of[shape] = keys
    for k in keys:
        v = kwargs[k]
        kind = kinds.get(type(v))
        if kind is None:
            kind = _param_kind(type(v))
        if kind == _AS_IS:
            out[k] = v
        elif kind == _COPY:
            out[k] = jsonable(v)
    return out
