"""Fixtures for the analysis tests."""

from __future__ import annotations

import json

import pytest

from tokentrail import _config
from tokentrail._pricing import load_table


@pytest.fixture(scope="session")
def _builtin_table():
    return load_table()


@pytest.fixture(autouse=True)
def _fast_price_table(tt_reset, _builtin_table):
    """The built-in tables, loaded once per session (the YAML parse is most of a small report)."""
    _config._table = _builtin_table
    yield


@pytest.fixture
def jsonl(tmp_path):
    """``jsonl(events, name="events.jsonl")`` writes one line per event (str lines as they are)."""
    def write(events: list, name: str = "events.jsonl") -> str:
        p = tmp_path / name
        p.write_text("".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events),
                     encoding="utf-8")
        return str(p)
    return write


@pytest.fixture
def warnings_seen():
    """A list and a warn callback that appends to it."""
    seen: list[str] = []
    return seen, seen.append


@pytest.fixture(params=["orjson", "json"])
def parser(request, monkeypatch):
    """Run the test with orjson (when installed) and with the stdlib json fallback."""
    from tokentrail.analysis import _aggregate
    if request.param == "orjson":
        if _aggregate._orjson_loads is None:
            pytest.skip("orjson is not installed")
    else:
        monkeypatch.setattr(_aggregate, "_orjson_loads", None)
    return request.param
