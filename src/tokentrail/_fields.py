"""Reading one field of an SDK object or a raw JSON dict, fast and without raising.

The SDKs' response objects are pydantic v2 models. Asking one for a field it does not
have (``usage.cached_tokens`` on a chat ``CompletionUsage``, say) goes through pydantic's
Python-level ``__getattr__``, which builds and raises an ``AttributeError``: several µs
per miss, and usage normalization asks for a dozen names a given SDK shape lacks. So a
pydantic v2 model is read from its ``__dict__`` (declared fields) and
``__pydantic_extra__`` (fields the SDK version does not declare); ``getattr`` is left
for real class attributes (properties) and for every other kind of object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_pydantic2: dict[type, bool] = {}
_class_attr: dict[tuple[type, str], bool] = {}


def _is_pydantic2(cls: type) -> bool:
    hit = _pydantic2.get(cls)
    if hit is None:
        hit = _pydantic2[cls] = (_has_class_attr(cls, "__pydantic_fields__")
                                 and _has_class_attr(cls, "__pydantic_extra__"))
    return hit


def _has_class_attr(cls: type, key: str) -> bool:
    k = (cls, key)
    hit = _class_attr.get(k)
    if hit is None:
        hit = _class_attr[k] = any(key in getattr(c, "__dict__", ()) for c in getattr(cls, "__mro__", (cls,)))
    return hit


def field(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` or ``obj.key`` (SDK models and raw JSON dicts alike); ``default`` when
    missing or unreadable. Never raises."""
    if obj is None:
        return default
    if type(obj) is dict:
        return obj.get(key, default)
    cls = type(obj)
    pyd = _pydantic2.get(cls)
    if pyd is None:
        pyd = _is_pydantic2(cls)
    if pyd:
        try:
            d = obj.__dict__
            if key in d:
                return d[key]
            extra = obj.__pydantic_extra__
            if extra and key in extra:
                return extra[key]
        except Exception:
            pass
        else:
            if not _has_class_attr(cls, key):
                return default
    elif isinstance(obj, Mapping):
        try:
            return obj.get(key, default)
        except Exception:
            return default
    try:
        return getattr(obj, key, default)
    except Exception:   # a property that raises is just a missing field here
        return default


_EMPTY: dict = {}
_plain_model: dict[type, bool] = {}


class _Attrs:
    """``.get`` over any object's fields, through :func:`field`."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def get(self, key: str, default: Any = None) -> Any:
        return field(self.obj, key, default)


def _is_plain_model(cls: type) -> bool:
    """A pydantic v2 model whose classes define no properties (every field is data)."""
    hit = _plain_model.get(cls)
    if hit is None:
        mine = [c for c in cls.__mro__ if c is not object and not c.__module__.startswith("pydantic")]
        hit = _plain_model[cls] = _is_pydantic2(cls) and not any(
            isinstance(v, property) or type(v).__name__ in ("cached_property", "PydanticDescriptorProxy")
            for c in mine for v in vars(c).values())
    return hit


def is_plain_model(obj: Any) -> bool:
    """True for an SDK response object (a pydantic v2 model whose fields are all data)."""
    return obj is not None and type(obj) is not dict and _is_plain_model(type(obj))


def fields_of(obj: Any, data_only: bool = False) -> Any:
    """Something with ``.get(key, default)`` over ``obj``'s fields: the dict itself, a
    pydantic model's field values (declared and extra) as a dict, else a view through
    :func:`field`. None reads as empty. ``data_only``: the caller never asks for a
    property, so a model whose class has some is read as a dict too."""
    if obj is None:
        return _EMPTY
    if type(obj) is dict:
        return obj
    cls = type(obj)
    plain = _plain_model.get(cls)
    if plain is None:
        plain = _is_plain_model(cls)
    if plain or (data_only and _is_pydantic2(cls)):     # data_only: properties are never asked for
        # Like field()'s model branch, written out in both: they run many times per call.
        try:
            d = obj.__dict__
            extra = obj.__pydantic_extra__
            return {**d, **extra} if extra else d
        except Exception:
            pass
    elif isinstance(obj, Mapping):
        return obj
    return _Attrs(obj)


def data_fields(obj: Any) -> Any:
    """:func:`fields_of` for a reader that asks only for data fields (declared or extra),
    never for a property: a pydantic v2 model's field values as a dict even when its class
    defines properties (openai's ``Response.output_text``), instead of a view that reads
    every field through :func:`field`."""
    return fields_of(obj, True)
