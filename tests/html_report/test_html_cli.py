"""``tokentrail report --html FILE`` and ``tokentrail demo --html [FILE]`` from the command line."""

from __future__ import annotations

import json

import pytest

from .conftest import assert_page_matches, error_lines, event, needs_matplotlib, no_matplotlib, write_jsonl


@pytest.fixture
def log(tmp_path):
    evs = [event("a", 0, "gpt-4o", cost=0.0025), event("a", 1, "gpt-4o-mini", cost=0.0000415, team="support"),
           event("b", 30, "claude-sonnet-4-5", cost=0.0041, team="support")]
    evs += [event("r", 100 + i, "gpt-4o", cost=0.0 if i < 3 else 0.002, status="error" if i < 3 else "success",
                  prompt="Translate this paragraph into French please") for i in range(4)]
    return write_jsonl(tmp_path / "calls.jsonl", evs)


def _one_error(proc, code: int, *words: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    errs = error_lines(proc)
    assert len(errs) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for w in words:
        assert w.lower() in errs[0].lower(), (w, errs[0])
    return errs[0]


def test_report_html_page_equals_the_json_on_stdout(cli, tmp_path, log):
    needs_matplotlib()
    proc = cli("report", log, "--by", "model,provider,metadata.team", "--format", "json", "--html", "page.html")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)                    # stdout is only the JSON; the page's path is on stderr
    page_path = tmp_path / "page.html"
    assert f"Report page: {page_path}" in proc.stderr
    page = page_path.read_text(encoding="utf-8")
    assert_page_matches(page, report)
    assert "timeline" in report and report["timeline"]["rows"]
    # the same numbers as a plain `report --format json` (no --html) with the same flags
    plain = json.loads(cli("report", log, "--by", "model,provider,metadata.team", "--format", "json").stdout)
    assert_page_matches(page, plain)


def test_report_html_keeps_the_table_and_the_exit_codes(cli, tmp_path, log):
    needs_matplotlib()
    proc = cli("analyze", log, "--html", "out/../report.html")
    assert proc.returncode == 0, proc.stderr
    # the page has its provider table; what is printed is what `report` prints without --html
    assert "Cost by model" in proc.stdout and "Cost by provider" not in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1] == f"Report page: {tmp_path / 'report.html'}"
    assert (tmp_path / "report.html").stat().st_size > 10_000
    # --fail-on waste still exits 1, and the page is written first
    proc = cli("report", log, "--html", "w.html", "--fail-on", "waste")
    assert proc.returncode == 1 and (tmp_path / "w.html").exists()
    assert "--fail-on waste" in error_lines(proc)[0]
    # a bad --by is still a usage error (2), before anything is written
    proc = cli("report", log, "--html", "x.html", "--by", "colour")
    assert proc.returncode == 2 and not (tmp_path / "x.html").exists()


def test_report_html_filtered_to_nothing_says_so(cli, tmp_path, log):
    needs_matplotlib()
    proc = cli("report", log, "--model", "gpt-9", "--html", "none.html")
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "none.html").read_text()
    assert '<section id="empty">' in page and "No events match the filters" in page and "<svg" not in page


def test_report_html_empty_input_is_still_an_error(cli, tmp_path):
    needs_matplotlib()
    (tmp_path / "empty.jsonl").write_text("")
    _one_error(cli("report", "empty.jsonl", "--html", "e.html"), 1, "holds no events")
    assert not (tmp_path / "e.html").exists()


def test_report_html_bad_output_paths(cli, tmp_path, log):
    needs_matplotlib()
    (tmp_path / "adir").mkdir()
    _one_error(cli("report", log, "--html", "adir"), 1, "--html", "is a directory")
    _one_error(cli("report", log, "--html", "missing/dir/r.html"), 1, "--html", "does not exist")


def test_without_matplotlib_html_exits_1_with_one_sentence(cli, tmp_path, log):
    env = no_matplotlib(tmp_path)
    err = _one_error(cli("report", log, "--html", "r.html", env=env), 1, "tokentrail[html]", "matplotlib")
    assert err.count(".") <= 2 and not (tmp_path / "r.html").exists()
    # the rest of the command line does not need it
    assert cli("report", log, "--format", "json", env=env).returncode == 0


# --------------------------------------------------------------------------- demo

def _needs_demo():
    needs_matplotlib()
    pytest.importorskip("openai")
    pytest.importorskip("anthropic")


def test_demo_html_writes_the_page_and_prints_its_path_last(cli, tmp_path):
    _needs_demo()
    proc = cli("demo", "--html")
    assert proc.returncode == 0, proc.stderr
    page_path = tmp_path / "tokentrail-report.html"
    assert proc.stdout.rstrip().splitlines()[-1] == f"Report page: {page_path}"
    page = page_path.read_text(encoding="utf-8")
    for needle in ('<section id="timeline">', '<table id="waste">', 'data-kind="retry_loop"',
                   'data-kind="overkill"', "metadata.team", "claude-haiku-4-5"):
        assert needle in page, needle
    assert page.count("<svg ") >= 5
    # the page is the report of that run: the same numbers as `report --namespace demo --since ...`
    report = json.loads(cli("report", "tokentrail.jsonl", "--namespace", "demo", "--by",
                            "model,provider,metadata.team", "--top", "5", "--format", "json").stdout)
    assert_page_matches(page, report)


def test_demo_html_quiet_and_unreadable_sink(cli, tmp_path):
    _needs_demo()
    proc = cli("demo", "--quiet", "--html", "q.html")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["tokentrail.jsonl", str(tmp_path / "q.html")]
    _one_error(cli("demo", "--sink", "stdout", "--html"), 2, "--html", "read back")
