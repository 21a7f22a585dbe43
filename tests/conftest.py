"""Shared test fixtures.

- ``events``: every event recorded during the test, synchronously (tokentrail.testing).
- ``tt_sink``: the default sink redirected to a MemorySink, so tests never write
  ``tokentrail.jsonl`` into the working tree.
- ``openai_mock`` / ``anthropic_mock``: respx routers that intercept the real SDK
  clients of either era (httpx2 for openai >= 3 / anthropic >= 1, httpx before).
- ``load_fixture(name)`` / ``sse(name)``: real-shaped bodies from tests/fixtures.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import tokentrail
from tokentrail import _config
from tokentrail.testing import capture_events

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(name: str):
    """tests/fixtures/<name>: parsed JSON for .json, raw text otherwise."""
    p = FIXTURES / name
    return json.loads(p.read_text()) if p.suffix == ".json" else p.read_text()


def _using(sdk_base_client_module) -> str:
    return "httpcore2" if hasattr(sdk_base_client_module, "httpx2") else "httpcore"


def _router(base_url: str, using: str):
    import respx
    if using == "httpcore2":
        import pytest_httpx2  # noqa: F401  (registers the httpcore2 mocker)
    return respx.mock(base_url=base_url, using=using, assert_all_called=False)


@pytest.fixture
def openai_mock():
    import openai._base_client as bc
    with _router("https://api.openai.com/v1", _using(bc)) as router:
        yield router


@pytest.fixture
def anthropic_mock():
    import anthropic._base_client as bc
    with _router("https://api.anthropic.com", _using(bc)) as router:
        yield router


def sse_headers() -> dict:
    return {"content-type": "text/event-stream"}


@pytest.fixture(autouse=True)
def tt_reset(monkeypatch):
    """Each test starts from default settings with a memory sink (no files in the tree)."""
    for var in ("TOKENTRAIL_SINK", "TOKENTRAIL_PRICING", "TOKENTRAIL_CAPTURE_CONTENT", "TOKENTRAIL_NAMESPACE",
                "TOKENTRAIL_DISABLED"):
        monkeypatch.delenv(var, raising=False)
    _config.reset()
    tokentrail.configure(sink="memory")
    yield
    tokentrail.flush()
    _config.reset()


@pytest.fixture
def events():
    with capture_events() as evs:
        yield evs


@pytest.fixture
def tt_log(caplog):
    caplog.set_level(logging.WARNING, logger="tokentrail")
    return caplog
