"""Shared test fixtures.

- ``events``: every event recorded during the test, synchronously (tokentrail.testing).
- ``tt_sink``: the default sink redirected to a MemorySink, so tests never write
  ``tokentrail.jsonl`` into the working tree.
- ``openai_mock`` / ``anthropic_mock``: respx routers that intercept the real SDK
  clients of either era (httpx2 for openai >= 3 / anthropic >= 1, httpx before).
- ``load_fixture(name)`` / ``sse(name)``: real-shaped bodies from tests/fixtures.
- ``has_api(sdk, path)`` / ``@requires(sdk, path)``: whether the installed SDK has an API
  (pyproject supports openai >= 1.40 and anthropic >= 0.40); tests of a newer one skip.
  ``prediction_kwargs(text)`` / ``ANTHROPIC_OMIT``: a keyword and a sentinel every version spells its own way.
- The credential scan: every event any test writes is checked for API keys and header
  values (mark a test ``credentials_allowed`` when it writes such text on purpose).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import logging
import re
import threading
from pathlib import Path
from typing import Any

import anthropic
import pytest

import tokentrail
from tokentrail import _config, _writer
from tokentrail.testing import capture_events

FIXTURES = Path(__file__).parent / "fixtures"

# Dummy credentials used by the tests. The scan below fails any test whose events
# contain one of them (or anything shaped like a key).
OPENAI_KEY = "sk-test-key-faults-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-test-key-faults-0123456789"
AUTH_HEADER = "Bearer tk-test-key-authorization-4242"
X_API_KEY = "test-key-x-api-key-4242"
EXTRA_HEADER = "test-key-extra-header-4242"


# =========================================================================== CREDENTIAL SCAN
# Covers the whole suite. It sees every event just before a sink gets it (a writer
# observer, on the writer thread), so it does not change how events are built; and it
# fails the test whose events carried a credential, naming the event.

CREDENTIAL_RE = re.compile(
    r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-]{4,}"      # OpenAI / Anthropic style keys
    r"|test-key"                                    # every dummy key and header value in the tests
    r"|Bearer\s+[A-Za-z0-9._\-]{4,}")               # an Authorization header value
CREDENTIAL_VALUES: set[str] = {OPENAI_KEY, ANTHROPIC_KEY, AUTH_HEADER, X_API_KEY, EXTRA_HEADER}


class CredentialScan:
    """Counts the events it sees and keeps (snippet, match) for those carrying a credential."""

    def __init__(self) -> None:
        self.seen = 0
        self.leaks: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, event: dict) -> None:
        from tokentrail._sinks import dumps   # the text a sink writes (odd values included)
        text = dumps(event)
        hit = CREDENTIAL_RE.search(text)
        found = hit.group(0) if hit else next((v for v in CREDENTIAL_VALUES if v in text), None)
        with self._lock:
            self.seen += 1
            if found is not None:
                self.leaks.append((found, text[:400]))


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "credentials_allowed: the test writes credential-shaped text on purpose")


@pytest.fixture(scope="session", autouse=True)
def credential_scan():
    scan = CredentialScan()
    _writer.add_observer(scan)
    yield scan
    _writer.remove_observer(scan)


@pytest.fixture(autouse=True)
def no_credentials_in_events(credential_scan, request):
    before = len(credential_scan.leaks)
    yield
    tokentrail.flush()
    leaks = credential_scan.leaks[before:]
    del credential_scan.leaks[before:]
    if leaks and request.node.get_closest_marker("credentials_allowed") is None:
        found, snippet = leaks[0]
        pytest.fail(f"{len(leaks)} event(s) carried a credential ({found!r}); first: {snippet}", pytrace=False)

# ======================================================================= END CREDENTIAL SCAN


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


# =========================================================================== SDK FEATURES
# A test of an API the installed SDK lacks skips and names what is missing; the API itself
# is looked for, not a version number.

@functools.lru_cache(maxsize=None)
def has_api(sdk: str, path: str) -> bool:
    """Whether a client of the installed ``sdk`` has ``path``: attributes from the client
    (``"responses.stream"``, ``"beta.messages.parse"``), or a keyword of a method
    (``"chat.completions.create(prediction)"``)."""
    mod = importlib.import_module(sdk)
    obj: Any = mod.OpenAI(api_key="sk-x") if sdk == "openai" else mod.Anthropic(api_key="sk-ant-x")
    attrs, _, kwarg = path.partition("(")
    for name in attrs.split("."):
        obj = getattr(obj, name, None)
        if obj is None:
            return False
    return not kwarg or kwarg.rstrip(")") in inspect.signature(obj).parameters


def prediction_kwargs(text: str) -> dict:
    """The ``prediction=`` keyword of a chat request, where the installed openai takes it (>= 1.55)."""
    if not has_api("openai", "chat.completions.create(prediction)"):
        return {}
    return {"prediction": {"type": "content", "content": text}}


#: anthropic's "not given" sentinel of request bodies (anthropic 0.40 has only NOT_GIVEN).
ANTHROPIC_OMIT = getattr(anthropic, "omit", anthropic.NOT_GIVEN)


def requires(sdk: str, path: str) -> pytest.MarkDecorator:
    """Skip the test unless the installed ``sdk`` has ``path`` (see :func:`has_api`)."""
    what = path.replace(")", "=...)")
    version = importlib.import_module(sdk).__version__
    return pytest.mark.skipif(not has_api(sdk, path), reason=f"{sdk} {version} has no client.{what}")


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
    _writer.WRITER.reset_stats()   # a test's deliberate drops and sink failures stay its own


@pytest.fixture
def events():
    with capture_events() as evs:
        yield evs


@pytest.fixture
def tt_log(caplog):
    caplog.set_level(logging.WARNING, logger="tokentrail")
    return caplog
