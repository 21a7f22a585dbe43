"""Helpers for the attach tests: clients of both SDK eras, SSE bodies, expected costs.

Expected costs are computed here by hand from the price table's per-1M rates (Decimal),
not with tokentrail's own cost function, so a price update does not break the tests and
a pricing bug does not hide behind itself.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
from decimal import Decimal
from typing import Any, Iterable

import pytest

import tokentrail
from conftest import ANTHROPIC_OMIT, has_api, load_fixture, prediction_kwargs, requires, sse_headers  # noqa: F401  (tests/conftest.py helpers)

KEY = "sk-test-SECRET-0123456789abcdef"
ANT_KEY = "sk-ant-test-SECRET-0123456789"
MILLION = Decimal(1_000_000)


def run(coro):
    return asyncio.run(coro)


def router(base_url: str, sdk: str):
    """A respx router for any base URL (Azure, Bedrock, Vertex), right for the installed SDK era."""
    import importlib

    import respx
    bc = importlib.import_module(f"{sdk}._base_client")
    using = "httpcore2" if hasattr(bc, "httpx2") else "httpcore"
    if using == "httpcore2":
        import pytest_httpx2  # noqa: F401
    return respx.mock(base_url=base_url, using=using, assert_all_called=False)


def sse_data(chunks: Iterable[Any], done: bool = True) -> str:
    """OpenAI chat/completions style: ``data:`` lines only, then ``[DONE]``."""
    out = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks)
    return out + ("data: [DONE]\n\n" if done else "")


def sse_events(events: Iterable[dict]) -> str:
    """``event:`` + ``data:`` pairs (Anthropic, OpenAI Responses)."""
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)


def chat_helpers(client: Any) -> Any:
    """Where the client's chat ``.parse()`` / ``.stream()`` helpers are: ``chat.completions``,
    or ``beta.chat.completions`` on the SDKs that had them only there (openai 1.40)."""
    completions = client.chat.completions
    return completions if hasattr(completions, "parse") else client.beta.chat.completions


@pytest.fixture
def bedrock_auth(monkeypatch) -> dict:
    """Credentials for ``AnthropicBedrock``: an API key where the SDK takes one. Older SDKs
    (anthropic 0.40) take only AWS keys and sign with boto3, their optional ``bedrock``
    extra: the signature is left out here (respx checks none)."""
    from anthropic import AnthropicBedrock
    if "api_key" in inspect.signature(AnthropicBedrock).parameters:
        return {"api_key": "bedrock-" + ANT_KEY}
    from anthropic.lib.bedrock import _auth
    monkeypatch.setattr(_auth, "get_auth_headers", lambda **kwargs: {})
    return {"aws_access_key": "AKIAEXAMPLE", "aws_secret_key": "bedrock-secret-example"}


def rates(key: str):
    entry = tokentrail.price_table().get(key)
    assert entry is not None, f"price table has no entry {key!r}"
    return entry.rates


def expected_cost(key: str, prompt: int, completion: int, cached: int = 0, write: int = 0,
                  write_1h: int = 0) -> float:
    """Hand arithmetic: uncached input + cache reads + cache writes (5m / 1h) + output."""
    r = rates(key)
    inp = Decimal(r.input)
    cached_rate = inp if r.cached_input is None else Decimal(r.cached_input)
    write_rate = inp if r.cache_write is None else Decimal(r.cache_write)
    write_1h_rate = write_rate if r.cache_write_1h is None else Decimal(r.cache_write_1h)
    total = (Decimal(prompt - cached - write) * inp + Decimal(cached) * cached_rate
             + Decimal(write - write_1h) * write_rate + Decimal(write_1h) * write_1h_rate
             + Decimal(completion) * Decimal(r.output)) / MILLION
    return float(total)


def assert_cost(ev: dict, key: str, provider: str, **usage: int) -> None:
    assert ev["pricing"] == f"{provider}/{key}"
    assert ev["cost"] == pytest.approx(expected_cost(key, **usage), rel=1e-9, abs=1e-12)
    assert ev["cost"] > 0


def assert_usage(ev: dict, prompt: int, completion: int, cached: int = 0, write: int = 0,
                 reasoning: int = 0, **extra: int) -> None:
    u = ev["usage"]
    assert (u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]) == (prompt, completion,
                                                                               prompt + completion)
    assert (u["cached_tokens"], u["cache_write_tokens"], u["reasoning_tokens"]) == (cached, write, reasoning)
    for k, v in extra.items():
        assert u.get(k, 0) == v, k


def assert_success(ev: dict, name: str, provider: str, request_model: str, model: str) -> None:
    assert ev["name"] == name
    assert ev["provider"] == provider
    assert ev["status"] == "success" and ev["level"] == "info"
    assert ev["input"]["model"] == request_model
    assert ev["model"] == model
    assert isinstance(ev["latency_ms"], int) and ev["latency_ms"] >= 0
    assert "error" not in ev


def collect() -> None:
    gc.collect()


@pytest.fixture
def oai():
    """An attached sync OpenAI client (no retries: tests stay fast)."""
    from openai import OpenAI
    return tokentrail.attach(OpenAI(api_key=KEY, max_retries=0))


@pytest.fixture
def aoai():
    from openai import AsyncOpenAI
    return tokentrail.attach(AsyncOpenAI(api_key=KEY, max_retries=0))


@pytest.fixture
def ant():
    from anthropic import Anthropic
    return tokentrail.attach(Anthropic(api_key=ANT_KEY, max_retries=0))


@pytest.fixture
def aant():
    from anthropic import AsyncAnthropic
    return tokentrail.attach(AsyncAnthropic(api_key=ANT_KEY, max_retries=0))


@pytest.fixture(scope="module", autouse=True)
def _price_tables_parsed_once():
    """The root conftest reloads the price tables for every test (settings reset); parsing the
    YAML once per module keeps this suite fast. The entries are immutable; the original loader
    is back for the test modules outside this folder."""
    from tokentrail import _pricing
    original = _pricing.load_builtin
    entries = original()
    _pricing.load_builtin = lambda: list(entries)
    yield
    _pricing.load_builtin = original
