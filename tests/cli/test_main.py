"""The command line as a whole: entry points, help with examples, exit codes, error lines."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tokentrail import cli as tcli
from tokentrail.cli import main

from .conftest import assert_user_error, clean_env

COMMANDS = [
    ["demo"], ["report"], ["analyze"], ["log"], ["export"], ["pricing"],
    ["pricing", "list"], ["pricing", "show"], ["pricing", "init"],
]


def test_console_script_next_to_python(tmp_path):
    script = Path(sys.executable).with_name("tokentrail")
    if not script.exists():
        pytest.skip("no tokentrail console script next to this interpreter (package not installed)")
    proc = subprocess.run([str(script), "--help"], cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Example:" in proc.stdout and "Exit codes:" in proc.stdout
    for cmd in ("demo", "report", "log", "export", "pricing"):
        assert cmd in proc.stdout
    assert os.listdir(tmp_path) == []


def test_python_dash_m_version(cli):
    proc = cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("tokentrail ")


def test_no_command_is_a_usage_error(cli, tmp_path):
    proc = cli()
    assert_user_error(proc, 2, "choose a command")
    assert proc.stdout == ""
    assert os.listdir(tmp_path) == []


def test_unknown_command_and_flag(cli):
    assert_user_error(cli("frobnicate"), 2, "invalid choice", "tokentrail --help")
    assert_user_error(cli("pricing", "list", "--bogus"), 2, "unrecognized arguments", "--bogus")
    assert_user_error(cli("pricing"), 2, "list, show or init")


UNKNOWN_FLAGS = [
    (["report", "--bogus"], "tokentrail report"),
    (["analyze", "x.jsonl", "--bogus", "1"], "tokentrail report"),
    (["log", "--bogus"], "tokentrail log"),
    (["export", "models", "o.jsonl", "--database", "sqlite:///c.db", "--bogus"], "tokentrail export"),
    (["pricing", "show", "gpt-4o", "--bogus"], "tokentrail pricing show"),
    (["--bogus"], "tokentrail"),
]


@pytest.mark.parametrize("args, helps", UNKNOWN_FLAGS, ids=[" ".join(a) for a, _ in UNKNOWN_FLAGS])
def test_an_unknown_flag_points_at_the_help_of_its_command(cli, tmp_path, args, helps):
    proc = cli(*args)
    assert proc.returncode == 2 and proc.stdout == ""
    extras = " ".join(a for a in args if a in ("--bogus", "1"))
    assert proc.stderr == f"tokentrail: error: unrecognized arguments: {extras} (see {helps} --help)\n"
    assert os.listdir(tmp_path) == []


def test_demo_errors_name_where_the_sink_came_from(cli, tmp_path):
    # checked before the demo runs, so neither SDK is needed to see these
    (tmp_path / "adir").mkdir()
    proc = cli("demo", env={"TOKENTRAIL_SINK": "adir"})
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == ("tokentrail: error: 'adir' (TOKENTRAIL_SINK) is a directory; give a file name such as "
                           "adir/events.jsonl\n")
    assert_user_error(cli("demo", "--sink", "adir", env={"TOKENTRAIL_SINK": "x.jsonl"}), 1,
                      "'adir' (--sink) is a directory")
    conn = sqlite3.connect(tmp_path / "calls.db")
    conn.execute("CREATE TABLE events (id TEXT)")
    conn.close()
    before = (tmp_path / "calls.db").read_bytes()
    proc = cli("demo", "--sink", "calls.db")
    assert proc.returncode == 1 and proc.stderr == ("tokentrail: error: --sink: 'calls.db' is a SQLite database, not "
                                                    "a JSONL file; write it as sqlite:///calls.db\n")
    assert_user_error(cli("demo", env={"TOKENTRAIL_SINK": "calls.db"}), 1, "TOKENTRAIL_SINK: 'calls.db' is a SQLite")
    assert (tmp_path / "calls.db").read_bytes() == before and sorted(os.listdir(tmp_path)) == ["adir", "calls.db"]


@pytest.mark.parametrize("cmd", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(cmd, capsys):
    with pytest.raises(SystemExit) as ex:
        main([*cmd, "--help"])
    assert ex.value.code == 0
    out = capsys.readouterr().out
    assert "Example:" in out
    assert "  tokentrail " in out.split("Example:", 1)[1]
    assert "Exit codes:" in out and "2  bad command line" in out


def test_unexpected_error_is_one_line_with_debug_hint(monkeypatch, capsys):
    def boom(args):
        raise RuntimeError("something broke\ninside")
    monkeypatch.setattr("tokentrail.cli._pricing.run_list", boom)
    monkeypatch.delenv("TOKENTRAIL_DEBUG", raising=False)
    assert main(["pricing", "list"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("tokentrail: error: unexpected RuntimeError: something broke inside")
    assert "TOKENTRAIL_DEBUG=1" in err[0]
    monkeypatch.setenv("TOKENTRAIL_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["pricing", "list"])


def test_known_library_errors_become_one_sentence():
    from tokentrail import PricingError, SinkError
    assert tcli.translate(SinkError("bad sink")).exit_code == 2
    assert tcli.translate(PricingError("bad file")).exit_code == 1
    assert tcli.translate(FileNotFoundError(2, "No such file or directory", "x.jsonl")).exit_code == 1
    assert tcli.translate(RuntimeError("bug")) is None


def test_cli_and_commands_do_not_import_the_sdks(tmp_path):
    code = ("import sys\nfrom tokentrail.cli import main\nimport tokentrail.demo\n"
            "rc = main(['pricing', 'show', 'gpt-4o'])\n"
            "bad = [m for m in ('openai', 'anthropic', 'httpx2', 'tokentrail.analysis') if m in sys.modules]\n"
            "assert rc == 0 and not bad, bad\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=clean_env(), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
