"""Helpers for the command-line tests: run ``tokentrail`` as a user would, in a temp directory.

- ``cli(*args, cwd=..., env=...)`` runs ``python -m tokentrail ARGS`` (a fresh process,
  the environment cleaned of ``TOKENTRAIL_*`` variables) and returns the CompletedProcess.
- ``needs(*parts)`` skips a test until a part built elsewhere exists: ``"analysis"``
  (the report engine), ``"attach"`` (SDK instrumentation), ``"capture"``, ``"export"``.
  This is the only guard of the suite: delete its uses when every part has landed.
- ``error_lines(proc)`` are the ``tokentrail: error:`` lines of stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TIMEOUT = 120


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKENTRAIL_", "OPENAI_", "ANTHROPIC_"))}
    env.update(extra)
    return env


def run_cli(*args: str, cwd: Path, env: dict | None = None, stdin: str | None = None,
            timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tokentrail", *map(str, args)], cwd=cwd,
                          env=clean_env(**(env or {})), input=stdin, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def cli(tmp_path):
    """``cli(*args, env=None, stdin=None, cwd=tmp_path)``: run the command line in ``tmp_path``."""
    def run(*args: str, env: dict | None = None, stdin: str | None = None, cwd: Path | None = None):
        return run_cli(*args, cwd=cwd or tmp_path, env=env, stdin=stdin)
    return run


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("tokentrail: error:")]


def assert_user_error(proc: subprocess.CompletedProcess, code: int, *words: str) -> str:
    """Exit ``code``, exactly one ``tokentrail: error:`` line (containing ``words``), no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    errs = error_lines(proc)
    assert len(errs) == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    for w in words:
        assert w.lower() in errs[0].lower(), (w, errs[0])
    return errs[0]


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def files_in(path: Path) -> set[str]:
    return {p.name for p in path.iterdir()}


# --------------------------------------------------------------------------- the single guard

def _missing(part: str) -> str | None:
    import importlib
    if part == "analysis":
        try:
            mod = importlib.import_module("tokentrail.analysis")
        except ImportError as e:
            return f"tokentrail.analysis is not there yet ({e})"
        if not all(hasattr(mod, n) for n in ("InputError", "build_report", "render_report")):
            return "tokentrail.analysis lacks build_report/render_report"
        return None
    if part == "export":
        try:
            mod = importlib.import_module("tokentrail.export")
        except ImportError as e:
            return f"tokentrail.export is not there yet ({e})"
        return None if all(hasattr(mod, n) for n in ("export_models", "export_prompts")) else \
            "tokentrail.export lacks export_models/export_prompts"
    if part == "capture":
        try:
            importlib.import_module("tokentrail._capture")
        except ImportError as e:
            return f"tokentrail.capture is not there yet ({e})"
        return None
    if part == "attach":
        import tokentrail
        try:
            import openai
        except ImportError:
            return "openai is not installed"
        client = openai.OpenAI(api_key="sk-test")
        try:
            tokentrail.attach(client)
        except NotImplementedError as e:
            return f"tokentrail.attach is not implemented yet ({e})"
        try:
            tokentrail.detach(client)
        except Exception:
            pass
        return None
    raise ValueError(f"unknown part {part!r}")


def needs(*parts: str) -> None:
    """Skip the calling test while a part it needs (analysis, attach, capture, export) is missing."""
    for part in parts:
        why = _missing(part)
        if why:
            pytest.skip(why)
