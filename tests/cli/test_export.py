"""``tokentrail export models|prompts OUT --database sqlite:///DB`` through the CLI."""

from __future__ import annotations

import json
import sqlite3

import pytest

from .conftest import assert_user_error, files_in, needs, run_cli


@pytest.fixture(scope="module")
def _db_bytes(tmp_path_factory):
    where = tmp_path_factory.mktemp("export-db")
    for model, prompt, ns in (("gpt-4o", "What is our refund window?", "support"),
                              ("gpt-4o-mini", "Summarize ticket 88231", "support"),
                              ("claude-haiku-4-5", "Translate 'hello' to French", "growth")):
        proc = run_cli("log", "--model", model, "--prompt", prompt, "--response", "ok",
                       "--output", "sqlite:///calls.db", cwd=where, env={"TOKENTRAIL_NAMESPACE": ns})
        assert proc.returncode == 0, proc.stderr
    sqlite3.connect(where / "calls.db").execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return (where / "calls.db").read_bytes()


@pytest.fixture
def db(_db_bytes, tmp_path):
    """calls.db in the test's directory: three events written by `tokentrail log` (made once)."""
    path = tmp_path / "calls.db"
    path.write_bytes(_db_bytes)
    return path


def test_export_models_and_prompts(cli, db, tmp_path):
    needs("export")
    proc = cli("export", "models", "models.jsonl", "--database", "sqlite:///calls.db")
    assert proc.returncode == 0, proc.stderr
    models = [json.loads(line) for line in (tmp_path / "models.jsonl").read_text().splitlines()]
    assert proc.stdout.startswith(f"Exported {len(models)} ") and len(models) == 3
    proc = cli("export", "prompts", "p.jsonl", "--database", "sqlite:///calls.db", "--namespace", "support",
               "--models", "gpt-4o,gpt-4o-mini", "--type", "text")
    assert proc.returncode == 0, proc.stderr
    lines = (tmp_path / "p.jsonl").read_text().splitlines()
    assert len(lines) == 2 and {json.loads(line)["model"] for line in lines} == {"gpt-4o", "gpt-4o-mini"}
    proc = cli("export", "prompts", "-", "--database", "sqlite:///calls.db", "--type", "chat")
    assert proc.returncode == 0 and proc.stdout == "" and "Exported 0 prompts" in proc.stderr
    proc = cli("export", "prompts", "-", "--database", "sqlite:///calls.db", "--namespace", "growth")
    assert [json.loads(line)["namespace"] for line in proc.stdout.splitlines()] == ["growth"]


def test_database_must_be_a_sqlite_or_postgres_url(cli, tmp_path):
    assert_user_error(cli("export", "models", "out.jsonl", "--database", "calls.db"), 2,
                      "not a SQLite or PostgreSQL URL")
    assert_user_error(cli("export", "models", "out.jsonl", "--database", "mysql://h/db"), 2,
                      "not a SQLite or PostgreSQL URL")
    assert_user_error(cli("export", "models", "out.jsonl", "--database", "postgresql://u@127.0.0.1:1/db"), 1,
                      "cannot connect to postgresql://u@127.0.0.1:1/db")
    assert_user_error(cli("export", "models", "out.jsonl"), 2, "--database")
    assert files_in(tmp_path) == set()


def test_missing_empty_or_garbage_database_creates_nothing(cli, tmp_path):
    assert_user_error(cli("export", "prompts", "out.jsonl", "--database", "sqlite:///nope.db"), 1, "does not exist")
    (tmp_path / "empty.db").write_bytes(b"")
    assert_user_error(cli("export", "prompts", "out.jsonl", "--database", "sqlite:///empty.db"), 1, "empty")
    (tmp_path / "junk.db").write_bytes(b"\x00\x01garbage" * 100)
    assert_user_error(cli("export", "models", "out.jsonl", "--database", "sqlite:///junk.db"), 1,
                      "not a SQLite database")
    assert files_in(tmp_path) == {"empty.db", "junk.db"}


def test_bad_flags(cli, db, tmp_path):
    before = files_in(tmp_path)
    assert_user_error(cli("export", "models", "out.jsonl", "--database", "sqlite:///calls.db", "--type", "chat"),
                      2, "--type", "prompts")
    assert_user_error(cli("export", "tables", "out.jsonl", "--database", "sqlite:///calls.db"), 2, "invalid choice")
    assert_user_error(cli("export", "prompts", "out.jsonl", "--database", "sqlite:///calls.db", "--type", "audio"),
                      2, "invalid choice")
    (tmp_path / "outdir").mkdir()
    assert_user_error(cli("export", "models", "outdir", "--database", "sqlite:///calls.db"), 1, "is a directory")
    assert files_in(tmp_path) == before | {"outdir"}


def test_foreign_sqlite_database(cli, tmp_path):
    needs("export")
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE users (id INTEGER)")
    assert_user_error(cli("export", "models", "out.jsonl", "--database", "sqlite:///other.db"), 1, "events")
    assert files_in(tmp_path) == {"other.db"}


# --------------------------------------------------------------------------- OUT is never lost

SQLITE_SIDE = {"calls.db-wal", "calls.db-shm"}     # a reader of a WAL database may leave these

def test_out_that_is_the_database_is_refused_even_with_force(cli, db, tmp_path):
    needs("export")
    before = db.read_bytes()
    for out in ("calls.db", "./calls.db", str(db)):
        proc = cli("export", "models", out, "--database", "sqlite:///calls.db", "--force")
        assert proc.returncode == 1 and proc.stdout == ""
        assert proc.stderr == (f"tokentrail: error: {out!r} is the database being exported"
                               + (" ('calls.db')" if out == str(db) else "")
                               + ", so writing the export there would destroy it; give another OUT file name\n")
    assert db.read_bytes() == before and files_in(tmp_path) - SQLITE_SIDE == {"calls.db"}
    assert cli("report", "sqlite:///calls.db").returncode == 0


def test_existing_out_is_replaced_only_with_force(cli, db, tmp_path):
    needs("export")
    log = tmp_path / "tokentrail.jsonl"
    log.write_text('{"the": "application event log"}\n')
    proc = cli("export", "prompts", "tokentrail.jsonl", "--database", "sqlite:///calls.db")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == ("tokentrail: error: OUT 'tokentrail.jsonl' exists; pass --force to replace it, "
                           "or give another file name\n")
    assert log.read_text() == '{"the": "application event log"}\n'
    proc = cli("export", "prompts", "tokentrail.jsonl", "--database", "sqlite:///calls.db", "--force")
    assert proc.returncode == 0 and proc.stdout == "Exported 3 prompts to tokentrail.jsonl\n", proc.stderr
    assert len(log.read_text().splitlines()) == 3
    (tmp_path / "empty.jsonl").write_text("")          # an empty OUT holds nothing to lose
    assert cli("export", "models", "empty.jsonl", "--database", "sqlite:///calls.db").returncode == 0
    assert files_in(tmp_path) - SQLITE_SIDE == {"calls.db", "tokentrail.jsonl", "empty.jsonl"}   # no temporary file


def test_events_table_of_another_tool_is_one_sentence_and_keeps_out(cli, tmp_path):
    needs("export")
    conn = sqlite3.connect(tmp_path / "foreign.db")
    conn.execute("CREATE TABLE events (id TEXT, event TEXT)")
    conn.commit()
    conn.close()
    (tmp_path / "keep.jsonl").write_text("precious\n")
    proc = cli("export", "prompts", "keep.jsonl", "--database", "sqlite:///foreign.db", "--force")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == ("tokentrail: error: 'sqlite:///foreign.db' has an 'events' table without the columns "
                           "namespace, type, start_time, so it was not written by tokentrail's SQLite sink; give "
                           "the database given to configure(sink='sqlite:///...')\n")
    assert (tmp_path / "keep.jsonl").read_text() == "precious\n"
    assert files_in(tmp_path) == {"foreign.db", "keep.jsonl"}
