"""Helpers for the HTML report tests.

- ``needs_matplotlib()`` skips a test when the ``tokentrail[html]`` extra is not installed.
- ``page_numbers(html)`` lists the ``(path, value, text)`` of every number the page shows
  with a ``data-key``/``data-value`` pair; ``assert_page_matches(html, report)`` checks each
  of them against the report dict (exact JSON equality, and the shown text).
- ``event(...)`` builds one tokentrail-shaped event; ``write_jsonl(path, events)``.
"""

from __future__ import annotations

import html as htmllib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tokentrail import _config
from tokentrail._pricing import load_table

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
_NUM = re.compile(r'data-key="([^"]*)" data-value="([^"]*)">([^<]*)<')
MONEY_KEYS = {"cost", "waste_usd", "cost_usd", "savings_usd", "total", "waste_total_usd"}
PCT_KEYS = {"share", "error_rate", "waste_share"}


@pytest.fixture(scope="session")
def _builtin_table():
    return load_table()


@pytest.fixture(autouse=True)
def _fast_price_table(tt_reset, _builtin_table):
    _config._table = _builtin_table
    yield


def needs_matplotlib() -> None:
    pytest.importorskip("matplotlib", reason="the tokentrail[html] extra (matplotlib) is not installed")


def page_numbers(page: str) -> list[tuple[list, Any, str]]:
    return [(json.loads(htmllib.unescape(k)), json.loads(htmllib.unescape(v)), htmllib.unescape(t))
            for k, v, t in _NUM.findall(page)]


def resolve(report: dict, path: list) -> Any:
    obj: Any = report
    for k in path:
        obj = obj[k]
    return obj


def assert_page_matches(page: str, report: dict) -> int:
    """Every number in the page is the report's number at its path, shown as the page formats it."""
    from tokentrail.html._format import count, money, ms, percent
    nums = page_numbers(page)
    assert nums, "the page shows no numbers"
    for path, value, text in nums:
        assert resolve(report, path) == value, (path, value)
        last = path[-1]
        if last in MONEY_KEYS or (len(path) > 3 and path[0] == "timeline" and path[3] == "cost"):
            assert text == money(value), (path, value, text)
        elif last in PCT_KEYS:
            assert text == percent(value), (path, value, text)
        elif isinstance(last, str) and last.endswith("_ms"):
            assert text == ms(value), (path, value, text)
        elif isinstance(value, int):
            assert text == count(value), (path, value, text)
    return len(nums)


HEADLINE = [["totals", "cost"], ["totals", "calls"], ["totals", "errors"], ["totals", "error_rate"],
            ["totals", "total_tokens"], ["totals", "prompt_tokens"], ["totals", "completion_tokens"],
            ["totals", "cached_tokens"], ["totals", "cache_write_tokens"], ["totals", "reasoning_tokens"],
            ["waste_total_usd"], ["waste_share"]]


def headline_paths(page: str) -> set[str]:
    start = page.index('<section id="headline">')
    end = page.index("</section>", start)
    return {json.dumps(p) for p, _v, _t in page_numbers(page[start:end])}


_seq = [0]


def event(trace: str = "t1", t: float = 0.0, model: str = "gpt-4o", *, cost: float = 0.0015, pt: int = 400,
          ct: int = 100, status: str = "success", team: str = "search", prompt: str = "Summarize the report",
          latency_ms: float = 420.0, **extra: Any) -> dict:
    """A tokentrail-shaped generation event ``t`` seconds after 2026-11-23T10:00:00Z."""
    from tokentrail._time import format_ts
    _seq[0] += 1
    start = 1795428000.0 + t
    ev = {"traceId": trace, "id": f"ev-{_seq[0]}", "type": "generation", "name": "chat",
          "startTime": format_ts(start), "endTime": format_ts(start + latency_ms / 1000),
          "level": "error" if status == "error" else "info", "status": status,
          "provider": "anthropic" if model.startswith("claude") else "openai", "namespace": "default",
          "input": {"model": model, "prompt": prompt}, "model": model,
          "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct},
          "cost": cost, "latency_ms": latency_ms, "retry_attempt": 0, "fallback_model": None,
          "metadata": {"team": team}}
    if status == "error":
        ev["error"] = {"type": "RateLimitError", "message": "slow down", "status_code": 429}
    ev.update(extra)
    return ev


def write_jsonl(path: Path, events: list) -> str:
    path.write_text("".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events), encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------- the command line

def clean_env(**extra: str) -> dict:
    import os
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKENTRAIL_", "OPENAI_", "ANTHROPIC_"))}
    env.update(extra)
    return env


@pytest.fixture
def cli(tmp_path):
    """``cli(*args, env=None)``: run ``python -m tokentrail ARGS`` in ``tmp_path``."""
    import subprocess
    import sys

    def run(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tokentrail", *map(str, args)], cwd=cwd or tmp_path,
                              env=clean_env(**(env or {})), capture_output=True, text=True, timeout=180)
    return run


def error_lines(proc: Any) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("tokentrail: error:")]


def no_matplotlib(tmp_path: Path) -> dict:
    """Environment in which ``import matplotlib`` fails (a stub package first on the path)."""
    stub = tmp_path / "_no_mpl" / "matplotlib"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text('raise ModuleNotFoundError("No module named \'matplotlib\'", name="matplotlib")\n')
    return {"PYTHONPATH": str(stub.parent)}
