"""Helpers for the fault and load suite.

- ``attach_or_skip(client, **kw)``: the one guard for tests that need ``tokentrail.attach``
  while it is still being written (skips with the reason instead of failing).
- ``fake_openai`` / ``fake_anthropic``: real SDK clients whose network is an in-process
  transport answering from tests/fixtures (fast enough for thousands of calls).
- ``writer``: the global writer with zeroed counters (``dropped``, ``written``, lost).
- ``read_jsonl(path)``: complete lines parsed, plus the trailing partial line if any.
- ``run_python(code)``: run a child interpreter (for exit, crash and multi-process tests).
- ``Gate``: a sink wrapper that holds the writer thread until released.
- The credential scan (tests/conftest.py) checks every event written by the suite.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import tokentrail
from tokentrail import _writer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# The credential scan and the dummy credentials live in tests/conftest.py (they cover the
# whole suite); re-exported here for the tests of this folder.
from tests.conftest import (ANTHROPIC_KEY, AUTH_HEADER, CREDENTIAL_RE, CREDENTIAL_VALUES, EXTRA_HEADER,  # noqa: F401
                            OPENAI_KEY, X_API_KEY, CredentialScan)


def assert_no_credentials(text: str) -> None:
    """For files written by child processes (which the in-process scan cannot see)."""
    hit = CREDENTIAL_RE.search(text)
    assert hit is None, f"a credential reached a sink: {hit.group(0)!r}"
    for v in CREDENTIAL_VALUES:
        assert v not in text, f"a credential reached a sink: {v!r}"


# --------------------------------------------------------------------------- attach guard

def attach_or_skip(client: Any, **kwargs: Any) -> Any:
    """``tokentrail.attach(client, **kwargs)``, or skip while attach is not implemented."""
    try:
        return tokentrail.attach(client, **kwargs)
    except NotImplementedError as e:
        pytest.skip(f"tokentrail.attach() is not implemented yet ({e})")


# --------------------------------------------------------------------------- fake network

def _http_for(sdk: str) -> Any:
    import importlib
    bc = importlib.import_module(f"{sdk}._base_client")
    if hasattr(bc, "httpx2"):
        import httpx2
        return httpx2
    import httpx
    return httpx


def _fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class FakeAPI:
    """Answers chat completions (plain and streamed), responses and messages from fixtures.

    ``bodies`` may be overridden per path suffix to serve odd responses (no usage...).
    ``seen_headers`` keeps the request headers, to prove the credentials were sent.
    """

    def __init__(self) -> None:
        self.bodies: dict[str, tuple[bytes, str]] = {
            "/chat/completions": (_fixture_bytes("openai/chat_completion.json"), "application/json"),
            "/chat/completions#stream": (_fixture_bytes("openai/chat_stream_include_usage.sse"),
                                         "text/event-stream"),
            "/responses": (_fixture_bytes("openai/responses_create.json"), "application/json"),
            "/v1/messages": (_fixture_bytes("anthropic/message.json"), "application/json"),
            "/v1/messages#stream": (_fixture_bytes("anthropic/message_stream.sse"), "text/event-stream"),
        }
        self.calls = 0
        self.seen_headers: list[dict] = []
        self._lock = threading.Lock()

    def answer(self, http: Any, request: Any) -> Any:
        with self._lock:
            self.calls += 1
            if len(self.seen_headers) < 5:
                self.seen_headers.append(dict(request.headers))
        path = request.url.path
        key = next((k for k in ("/chat/completions", "/responses", "/v1/messages") if path.endswith(k)), None)
        if key is None:
            return http.Response(404, json={"error": {"message": "not faked", "type": "not_found"}})
        if b'"stream":true' in request.content.replace(b" ", b"") and key + "#stream" in self.bodies:
            key += "#stream"
        body, ctype = self.bodies[key]
        return http.Response(200, headers={"content-type": ctype}, content=body)

    def transport(self, sdk: str, is_async: bool = False) -> Any:
        http = _http_for(sdk)
        if is_async:
            import asyncio

            async def ahandler(request: Any) -> Any:
                await request.aread()
                await asyncio.sleep(0)   # let the other tasks run: real concurrency
                return self.answer(http, request)
            return http.MockTransport(ahandler)
        return http.MockTransport(lambda request: self.answer(http, request))


@pytest.fixture
def fake_api() -> FakeAPI:
    return FakeAPI()


def openai_client(api: FakeAPI, *, is_async: bool = False, **kwargs: Any) -> Any:
    import openai
    http = _http_for("openai")
    cls = openai.AsyncOpenAI if is_async else openai.OpenAI
    client_cls = http.AsyncClient if is_async else http.Client
    return cls(api_key=OPENAI_KEY, base_url="https://api.openai.com/v1", max_retries=0,
               http_client=client_cls(transport=api.transport("openai", is_async)), **kwargs)


def anthropic_client(api: FakeAPI, *, is_async: bool = False, **kwargs: Any) -> Any:
    import anthropic
    http = _http_for("anthropic")
    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    client_cls = http.AsyncClient if is_async else http.Client
    return cls(api_key=ANTHROPIC_KEY, base_url="https://api.anthropic.com", max_retries=0,
               http_client=client_cls(transport=api.transport("anthropic", is_async)), **kwargs)


# --------------------------------------------------------------------------- writer and files

@pytest.fixture
def writer():
    """The global writer, drained and with zeroed counters; queue size restored afterwards."""
    w = _writer.WRITER
    tokentrail.flush()
    w.reset_stats()
    saved = w.maxsize, w.linger, w.assist_at, w.wake_at
    yield w
    w.maxsize, w.linger, w.assist_at, w.wake_at = saved
    tokentrail.flush()
    w.reset_stats()


def read_jsonl(path: str | os.PathLike, *, damaged_ok: int = 0) -> tuple[list[dict], bytes]:
    """(events of the complete lines, the trailing partial line or b"").

    Blank lines are skipped. A complete line that is not JSON fails the test, except
    for up to ``damaged_ok`` of them (the line a killed writer left, terminated later).
    """
    lines = Path(path).read_bytes().split(b"\n")
    tail = lines.pop()          # b"" when the file ends with a newline
    events, damaged = [], 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except ValueError as e:
            damaged += 1
            if damaged > damaged_ok:
                raise AssertionError(f"{path}: line {n} is not JSON ({e}): {line[:200]!r}") from None
    return events, tail


def run_python(code: str, *, env: dict | None = None, timeout: float = 60, cwd: str | None = None,
               check: bool = True) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with tokentrail importable; TOKENTRAIL_* from ``env`` only."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENTRAIL_")}
    src = str(Path(tokentrail.__file__).resolve().parent.parent)
    full_env["PYTHONPATH"] = src + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full_env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"child exited with {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


class Gate:
    """Wraps a sink; the writer thread blocks in ``write_batch`` until ``open()``.

    ``entered`` is set once the writer is inside (holding its first batch).
    """

    def __init__(self, inner: Any):
        self.inner = inner
        self.gate = threading.Event()
        self.entered = threading.Event()

    def write_batch(self, events: list) -> None:
        self.entered.set()
        self.gate.wait(30)
        if hasattr(self.inner, "write_batch"):
            self.inner.write_batch(events)
        else:
            for e in events:
                self.inner.write(e)

    def write(self, event: dict) -> None:
        self.write_batch([event])

    def open(self) -> None:
        self.gate.set()

    def flush(self) -> None:
        getattr(self.inner, "flush", lambda: None)()

    def after_fork(self) -> None:
        if hasattr(self.inner, "after_fork"):
            self.inner.after_fork()

    def __repr__(self) -> str:
        return f"Gate({self.inner!r})"


def record(i: int = 0, *, sink: Any = None, prompt: str | None = None, model: str = "gpt-4o-mini",
           usage: Any = None, metadata: dict | None = None, response: str = "ok") -> Any:
    """One call through the path every instrumented call takes: start_call, then finish."""
    from tokentrail._recorder import start_call
    c = start_call("openai", "openai.chat.completions.create", request_model=model,
                   messages=[{"role": "user", "content": prompt if prompt is not None else f"question {i}"}],
                   params={"temperature": 0}, metadata=metadata if metadata is not None else {"i": i}, sink=sink)
    c.model = model + "-2024-07-18" if model == "gpt-4o-mini" else model
    c.usage = usage if usage is not None else {"prompt_tokens": 100 + i % 7, "completion_tokens": 20,
                                               "prompt_tokens_details": {"cached_tokens": 0}}
    c.response_text = response
    c.finish_reason = "stop"
    c.finish()
    return c


class CountingEvent(threading.Event):
    """A writer's wake-up event that counts its waits (``waits``): a writer that spins or
    keeps waking up shows in the count."""

    def __init__(self) -> None:
        super().__init__()
        self.waits = 0

    def wait(self, timeout=None):
        self.waits += 1
        return super().wait(timeout)
