"""Instrumentation of the OpenAI and Anthropic SDK clients: :func:`attach` / :func:`detach`.

Example::

    from openai import OpenAI
    import tokentrail

    client = tokentrail.attach(OpenAI(), metadata={"team": "search"})
    client.chat.completions.create(model="gpt-4o-mini", messages=[...])   # one event

How it works: :mod:`._core` (the generic hook, the per-client switch, the stream proxy)
and one adapter per provider (:mod:`.openai`, :mod:`.anthropic`). Neither SDK is
imported until a client of it is attached.
"""

from __future__ import annotations

from typing import Any

from .._sinks import resolve_sink
from . import _core

__all__ = ["attach", "detach", "is_attached"]


def _adapter_for(client: Any) -> Any:
    for klass in type(client).__mro__:
        mod = getattr(klass, "__module__", "") or ""
        if klass.__name__ in ("SyncAPIClient", "AsyncAPIClient", "BaseClient"):
            if mod.startswith("openai."):
                from . import openai as adapter
                return adapter
            if mod.startswith("anthropic."):
                from . import anthropic as adapter
                return adapter
    return None


def attach(client: Any, *, metadata: dict | None = None, sink: Any = None, namespace: str | None = None) -> Any:
    """Record every token-consuming call made through ``client``; returns the same client.

    Works for sync and async clients of ``openai`` (``OpenAI``, ``AzureOpenAI``...) and
    ``anthropic`` (``Anthropic``, ``AnthropicBedrock``, ``AnthropicVertex``...), their
    ``with_options()`` / ``copy()`` copies, ``with_raw_response``,
    ``with_streaming_response``, ``.parse()`` and the ``.stream()`` helpers. Attaching
    twice records once (the later ``metadata`` / ``sink`` / ``namespace`` win).

    - ``metadata``: merged into every event of this client.
    - ``sink``: where this client's events go instead of the configured sink
      (anything :func:`tokentrail.configure` accepts as ``sink``).
    - ``namespace``: the events' ``namespace`` (default: the configured one).

    Example::

        client = tokentrail.attach(AsyncAnthropic(), sink="sqlite:///calls.db",
                                   metadata={"team": "search"})
    """
    adapter = _adapter_for(client)
    if adapter is None:
        raise TypeError(f"tokentrail.attach() needs an openai or anthropic client (OpenAI(), AsyncAnthropic(), "
                        f"AzureOpenAI(), AnthropicBedrock()...), not {type(client).__name__}")
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError("attach(metadata=...) must be a dict")
    resolved = resolve_sink(sink) if sink is not None else None     # a bad sink fails here, not mid-call
    adapter.install()
    _core.install_copy_hooks(type(client), adapter.base_client())
    state = _core.AttachState(adapter, dict(metadata) if metadata else None, resolved,
                              str(namespace) if namespace is not None else None, adapter.cloud_of(client))
    client.__dict__[_core.ATTR] = state
    return client


def detach(client: Any) -> Any:
    """Stop recording ``client`` (copies made from it from now on are not recorded); returns it."""
    try:
        client.__dict__.pop(_core.ATTR, None)
    except AttributeError:
        pass
    return client


def is_attached(client: Any) -> bool:
    """Whether calls through ``client`` are recorded."""
    return _core.ATTR in getattr(client, "__dict__", {})
