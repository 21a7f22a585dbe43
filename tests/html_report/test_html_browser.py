"""The report page in a real browser: Debian's ``chromium``, headless.

Each page is opened twice: ``--dump-dom`` (the DOM after rendering: the charts and the
waste table must be in it, and the browser's log must hold no console message or
uncaught error) and ``--screenshot`` (saved to ``tests/artifacts/`` for people to look
at). Remote host names resolve to nothing, so a page that tried to fetch anything (a CDN
script, a web font) would log a failed load. CI installs ``chromium``; elsewhere these
tests are skipped when it is absent.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tokentrail.analysis import build_report

from .conftest import ARTIFACTS, clean_env, event, needs_matplotlib, write_jsonl

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0"]
CONSOLE = re.compile(r"CONSOLE|Uncaught|Failed to load resource", re.I)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs Debian's "
                                                          "chromium: apt-get install -y chromium)")


def run_chromium(profile: Path, page: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=120, env=clean_env())


def console_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if CONSOLE.search(line)]


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """name -> path of a page: the demo's (from `tokentrail demo --html`), a generated log's, an empty one."""
    needs_matplotlib()
    from tokentrail.analysis import write_events
    from tokentrail.html import write_html

    d = tmp_path_factory.mktemp("pages")
    out: dict[str, Path] = {}
    try:
        import anthropic  # noqa: F401
        import openai  # noqa: F401
    except ImportError:
        pass
    else:
        import sys
        proc = subprocess.run([sys.executable, "-m", "tokentrail", "demo", "--html", "demo.html", "--quiet"],
                              cwd=d, env=clean_env(), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        out["demo"] = d / "demo.html"
    write_events(str(d / "gen.jsonl"), 10_000, seed=4)
    write_html(build_report([str(d / "gen.jsonl")], by=["model", "provider", "metadata.team"],
                            warn=lambda m: None), d / "generated.html")
    out["generated"] = d / "generated.html"
    write_jsonl(d / "one.jsonl", [event("x", 0, "gpt-4o")])
    write_html(build_report([str(d / "one.jsonl")], model="claude-opus-4-1"), d / "filtered.html")
    out["filtered"] = d / "filtered.html"
    return out


def test_the_console_check_catches_errors(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><p>x</p><img src="https://cdn.example.com/x.png">'
                   "<script>undefinedFunction();</script></body></html>")
    proc = run_chromium(tmp_path / "profile", bad, "--dump-dom")
    lines = console_lines(proc)
    assert any("Uncaught" in line for line in lines), proc.stderr


@pytest.mark.parametrize("name", ["demo", "generated", "filtered"])
def test_page_renders_without_console_errors(pages, name, tmp_path):
    if name not in pages:
        pytest.skip("the demo needs the openai and anthropic packages")
    proc = run_chromium(tmp_path / "profile", pages[name], "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert console_lines(proc) == []
    dom = proc.stdout
    assert dom.lstrip().lower().startswith("<!doctype html") or "<html" in dom[:200]
    assert '<section id="headline">' in dom or '<section id="empty">' in dom
    if name == "filtered":
        assert '<section id="empty">' in dom and "No events match the filters" in dom and "<svg" not in dom
        return
    charts = re.findall(r'<svg class="chart" id="chart-([\w-]+)"', dom)
    assert {"timeline", "by-model", "latency", "waste-kinds"} <= set(charts), charts
    assert '<section id="timeline">' in dom and '<table id="waste">' in dom and '<table id="top-traces">' in dom
    assert dom.count('<tr class="finding"') >= 3
    # chart labels are text in dollars
    assert re.search(r"<text[^>]*>\$[\d.,]+", dom)


@pytest.mark.parametrize("name", ["demo", "generated", "filtered"])
def test_screenshot(pages, name, tmp_path):
    if name not in pages:
        pytest.skip("the demo needs the openai and anthropic packages")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"html-report-{name}.png"
    if shot.exists():
        shot.unlink()
    proc = run_chromium(tmp_path / "profile", pages[name], f"--screenshot={shot}", "--window-size=1280,3000")
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    assert console_lines(proc) == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    try:
        from PIL import Image          # installed with matplotlib
    except ImportError:
        return
    with Image.open(shot) as im:
        assert im.size == (1280, 3000)
        colors = im.convert("RGB").resize((320, 750)).getcolors(maxcolors=1 << 16) or []
        # a drawn page, not a blank one: many colours for the charts, few for the "no events" page
        assert len(colors) > (300 if name != "filtered" else 5), len(colors)
