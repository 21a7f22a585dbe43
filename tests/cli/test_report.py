"""``tokentrail report`` / ``analyze``: flags, formats, exit codes and bad input, through the CLI.

The numbers themselves are the report engine's (tests/analysis); here: does the command
line hand the right things over and exit with the right code.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from .conftest import assert_user_error, error_lines, files_in, needs, run_cli

pytestmark = pytest.mark.usefixtures("_engine")


@pytest.fixture
def _engine():
    needs("analysis")


@pytest.fixture(scope="module")
def _demo_lines(tmp_path_factory):
    where = tmp_path_factory.mktemp("demo-log")
    proc = run_cli("log", "--demo", "--output", "d.jsonl", "--metadata", "team=search", cwd=where)
    assert proc.returncode == 0, proc.stderr
    return (where / "d.jsonl").read_text()


@pytest.fixture
def demo_log(_demo_lines, tmp_path):
    """d.jsonl in the test's directory: the events of `tokentrail log --demo` (made once per module)."""
    path = tmp_path / "d.jsonl"
    path.write_text(_demo_lines)
    return path


def test_table_json_csv(cli, demo_log):
    proc = cli("report", "d.jsonl")
    assert proc.returncode == 0, proc.stderr
    assert "gpt-4" in proc.stdout and proc.stderr == ""
    rep = json.loads(cli("report", "d.jsonl", "--format", "json").stdout)
    assert rep["totals"]["calls"] == 8 and rep["waste_total_usd"] > 0
    rows = list(csv.reader(io.StringIO(cli("report", "d.jsonl", "--format", "csv").stdout)))
    assert len(rows) > 2


def test_findings_do_not_change_the_exit_code_unless_fail_on_waste(cli, demo_log):
    assert cli("report", "d.jsonl").returncode == 0
    proc = cli("analyze", "d.jsonl", "--fail-on", "waste")
    assert_user_error(proc, 1, "--fail-on waste", "waste")
    assert proc.stdout            # the report is still printed


def test_fail_on_waste_passes_without_waste(cli, tmp_path):
    assert cli("log", "--model", "gpt-4o-mini", "--prompt", "A long enough prompt " * 10, "--response", "ok",
               "--output", "clean.jsonl").returncode == 0
    proc = cli("report", "clean.jsonl", "--fail-on", "waste")
    assert proc.returncode == 0, proc.stderr


def test_filters_and_grouping_reach_the_engine(cli, demo_log):
    rep = json.loads(cli("report", "d.jsonl", "--by", "model,metadata.simulation", "--by", "metadata.team",
                         "--model", "gpt-4", "--since", "1d", "--until", "2099-01-01", "--top", "2",
                         "--format", "json").stdout)
    assert set(rep["by"]) == {"model", "metadata.simulation", "metadata.team"}
    assert rep["filters"]["model"] == "gpt-4"
    assert len(rep["top_traces"]) <= 2
    assert {r["key"] for r in rep["by"]["metadata.team"]} == {"search"}


def test_default_input_and_sqlite(cli, tmp_path):
    assert_user_error(cli("report"), 1, "tokentrail.jsonl", "does not exist")
    assert cli("log", "--model", "gpt-4o", "--prompt", "hello there").returncode == 0
    assert cli("report").returncode == 0
    assert cli("log", "--model", "gpt-4o", "--prompt", "hello there", "--output", "sqlite:///c.db").returncode == 0
    rep = json.loads(cli("report", "sqlite:///c.db", "--format", "json").stdout)
    assert rep["totals"]["calls"] == 1
    env = {"TOKENTRAIL_SINK": "sqlite:///c.db"}
    assert json.loads(cli("report", "--format", "json", env=env).stdout)["totals"]["calls"] == 1
    assert_user_error(cli("report", env={"TOKENTRAIL_SINK": "stdout"}), 2, "cannot be read back")


def test_reprice_with_a_price_file(cli, demo_log, tmp_path):
    (tmp_path / "p.yaml").write_text("models:\n  gpt-4: {input: 0, output: 0}\n")
    rep = json.loads(cli("report", "d.jsonl", "--reprice", "--pricing", "p.yaml", "--model", "gpt-4",
                         "--format", "json").stdout)
    assert rep["totals"]["cost"] == 0


# --------------------------------------------------------------------------- bad input

def test_missing_empty_binary_files(cli, tmp_path):
    assert_user_error(cli("report", "nope.jsonl"), 1, "nope.jsonl", "does not exist")
    (tmp_path / "empty.jsonl").write_text("")
    assert_user_error(cli("report", "empty.jsonl"), 1, "empty.jsonl", "no events")
    (tmp_path / "blank.jsonl").write_text("\n\n   \n")
    assert_user_error(cli("report", "blank.jsonl"), 1, "no events")
    (tmp_path / "garbage.bin").write_bytes(bytes(range(256)) * 20)
    assert_user_error(cli("report", "garbage.bin"), 1, "garbage.bin", "binary")
    (tmp_path / "dir").mkdir()
    assert_user_error(cli("report", "dir"), 1, "directory")
    assert files_in(tmp_path) == {"empty.jsonl", "blank.jsonl", "garbage.bin", "dir"}


def test_malformed_lines_are_reported_with_line_numbers_and_skipped(cli, demo_log, tmp_path):
    good = demo_log.read_text().splitlines()
    lines = good[:3] + ["{not json", "[1, 2, 3]", '{"traceId": "x"'] + good[3:]
    (tmp_path / "mixed.jsonl").write_text("\n".join(lines) + "\n")
    proc = cli("report", "mixed.jsonl", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    warnings = [w for w in proc.stderr.splitlines() if w.startswith("tokentrail: warning:")]
    assert len(warnings) == 3 and error_lines(proc) == []
    assert all(f"mixed.jsonl:{n}" in w for n, w in zip((4, 5, 6), warnings))
    rep = json.loads(proc.stdout)
    assert rep["skipped_lines"] == 3 and rep["totals"]["calls"] == 8


def test_only_malformed_lines_is_an_error(cli, tmp_path):
    (tmp_path / "bad.jsonl").write_text("{oops\nnot json at all\n")
    proc = cli("report", "bad.jsonl")
    assert_user_error(proc, 1, "bad.jsonl", "malformed")
    assert proc.stdout == ""


def test_many_malformed_lines_are_capped(cli, tmp_path, demo_log):
    (tmp_path / "noisy.jsonl").write_text(demo_log.read_text() + "garbage\n" * 500)
    proc = cli("report", "noisy.jsonl")
    assert proc.returncode == 0
    warnings = [w for w in proc.stderr.splitlines() if w.startswith("tokentrail: warning:")]
    assert len(warnings) <= 22 and "more warnings not shown" in warnings[-1]


@pytest.mark.parametrize("args, code, words", [
    (["foo://bucket/log.jsonl"], 2, ["unknown scheme", "foo://"]),
    (["sqlite:/x.db"], 1, ["not a SQLite URL"]),
    (["sqlite:///missing.db"], 1, ["does not exist"]),
    (["d.jsonl", "--since", "yesterday"], 2, ["--since", "not a time"]),
    (["d.jsonl", "--since", "2026-11-02", "--until", "2026-11-01"], 2, ["not before"]),
    (["d.jsonl", "--by", "colour"], 2, ["colour", "metadata.KEY"]),
    (["d.jsonl", "--top", "-1"], 2, ["--top"]),
    (["d.jsonl", "--format", "xml"], 2, ["invalid choice"]),
    (["d.jsonl", "--fail-on", "errors"], 2, ["--fail-on"]),
    (["d.jsonl", "--reprice", "--pricing", "missing.yaml"], 1, ["missing.yaml", "does not exist"]),
])
def test_bad_arguments(cli, demo_log, tmp_path, args, code, words):
    before = files_in(tmp_path)
    proc = cli("report", *args)
    assert_user_error(proc, code, *words)
    assert files_in(tmp_path) == before


def test_broken_price_file(cli, demo_log, tmp_path):
    (tmp_path / "broken.yaml").write_text("models:\n  gpt-4: {input: [1\n")
    assert_user_error(cli("report", "d.jsonl", "--reprice", "--pricing", "broken.yaml"), 1, "invalid YAML")
    assert_user_error(cli("report", "d.jsonl", env={"TOKENTRAIL_PRICING": "broken.yaml"}), 1, "invalid YAML")


def test_html_does_not_change_what_is_printed(cli, demo_log, tmp_path):
    pytest.importorskip("matplotlib")
    for fmt in ("csv", "json", "table"):
        plain = cli("report", "d.jsonl", "--format", fmt)
        proc = cli("report", "d.jsonl", "--format", fmt, "--html", f"{fmt}.html")
        assert plain.returncode == 0 and proc.returncode == 0, proc.stderr
        page = (tmp_path / f"{fmt}.html").read_text(encoding="utf-8")
        assert "Spend by provider" in page         # without --by the page still adds cost by provider
        if fmt == "table":                         # after a table, the page's path is the last line
            assert proc.stdout == plain.stdout + f"Report page: {tmp_path / 'table.html'}\n"
        else:                                      # after json/csv it goes to standard error
            assert proc.stdout == plain.stdout
            assert proc.stderr == f"Report page: {tmp_path / (fmt + '.html')}\n"
