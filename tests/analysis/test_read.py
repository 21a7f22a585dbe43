"""Inputs: files, globs, stdin, gzip, SQLite, and the clear errors for bad ones."""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import sqlite3
import sys
import zlib

import pytest

import tokentrail
from tokentrail.analysis import InputError, build_report, render_report

from .helpers import at, call, crashlens_line


def test_missing_file_is_one_clear_sentence(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        build_report([str(tmp_path / "nope.jsonl")])


def test_default_source_is_tokentrail_jsonl(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="tokentrail.jsonl"):
        build_report([])
    (tmp_path / "tokentrail.jsonl").write_text(json.dumps(call()) + "\n")
    assert build_report([])["totals"]["calls"] == 1


def test_directory_is_refused(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        build_report([str(tmp_path)])


def test_empty_glob_is_refused(tmp_path):
    with pytest.raises(InputError, match="no file matches"):
        build_report([str(tmp_path / "*.jsonl")])


def test_binary_garbage_is_refused(tmp_path):
    p = tmp_path / "image.jsonl"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(InputError, match="binary file"):
        build_report([str(p)])


def test_non_utf8_and_utf16_are_refused(tmp_path):
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes("caf\xe9 ol\xe9\n".encode("latin-1") * 3)
    with pytest.raises(InputError, match="not UTF-8"):
        build_report([str(latin)])
    u16 = tmp_path / "u16.jsonl"
    u16.write_text(json.dumps(call()) + "\n", encoding="utf-16")
    with pytest.raises(InputError, match="UTF-16"):
        build_report([str(u16)])


def test_a_sqlite_file_given_as_jsonl_says_how_to_name_it(tmp_path):
    db = tmp_path / "calls.db"
    tokentrail.SqliteSink("sqlite:///" + str(db)).write_batch([call()])
    with pytest.raises(InputError, match="sqlite:///"):
        build_report([str(db)])


def test_empty_file_is_a_valid_empty_report(jsonl):
    path = jsonl([])
    r = build_report([path])
    assert r["totals"]["calls"] == 0 and r["findings"] == [] and r["totals"]["first"] is None
    assert "No events found in" in render_report(r)
    json.loads(render_report(r, "json"))


def test_malformed_lines_are_reported_with_line_number_and_skipped(jsonl, warnings_seen):
    seen, warn = warnings_seen
    path = jsonl([call(), "{not json", "", "[1, 2]", call(t=1), '{"traceId": "x"'])
    r = build_report([path], warn=warn)
    assert r["totals"]["calls"] == 2
    assert r["skipped_lines"] == 3
    assert seen == [f"{path}:2: not valid JSON; skipped", f"{path}:4: not a JSON object; skipped",
                    f"{path}:6: not valid JSON; skipped"]


def test_malformed_warnings_default_to_stderr(jsonl, capsys):
    build_report([jsonl(["garbage", json.dumps(call())])])
    assert ":1: not valid JSON; skipped" in capsys.readouterr().err


def test_warnings_are_capped_but_all_counted(jsonl, warnings_seen):
    seen, warn = warnings_seen
    r = build_report([jsonl(["x"] * 150)], warn=warn)
    assert r["skipped_lines"] == 150
    assert len(seen) == 101 and seen[-1] == "50 more malformed lines skipped (not shown)"


def test_glob_of_several_files(tmp_path, jsonl):
    jsonl([call(trace="a")], "a.jsonl")
    jsonl([call(trace="b"), call(trace="b", t=1)], "b.jsonl")
    (tmp_path / "notes.txt").write_text("not an event log")
    r = build_report([str(tmp_path / "*.jsonl")])
    assert r["totals"]["calls"] == 3 and r["totals"]["traces"] == 2
    assert [s.rsplit("/", 1)[-1] for s in r["sources"]] == ["a.jsonl", "b.jsonl"]


def test_several_files_and_a_trace_split_across_them(jsonl):
    a = jsonl([crashlens_line("tr", i * 2, "gpt-4", "Summarize the sales report") for i in range(2)], "a.jsonl")
    b = jsonl([crashlens_line("tr", 4 + i * 2, "gpt-4", "Summarize the sales report") for i in range(2)], "b.jsonl")
    r = build_report([a, b])
    assert r["totals"]["traces"] == 1
    assert [f["call_count"] for f in r["findings"] if f["kind"] == "retry_loop"] == [4]


def test_stdin(monkeypatch):
    data = "".join(json.dumps(call(t=i)) + "\n" for i in range(3)).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    r = build_report(["-"])
    assert r["totals"]["calls"] == 3 and r["sources"] == ["<stdin>"]


def test_gzip_file(tmp_path):
    p = tmp_path / "events.jsonl.gz"
    with gzip.open(p, "wt") as f:
        f.write(json.dumps(call()) + "\n" + json.dumps(call(t=5)) + "\n")
    assert build_report([str(p)])["totals"]["calls"] == 2


def test_utf8_bom_on_the_first_line(tmp_path):
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps(call()).encode() + b"\n")
    r = build_report([str(p)])
    assert r["totals"]["calls"] == 1 and r["skipped_lines"] == 0


def test_sqlite_input_with_namespace(tmp_path):
    db = tmp_path / "calls.db"
    sink = tokentrail.SqliteSink("sqlite:///" + str(db))
    sink.write_batch([call(trace="a", t=10), call(trace="b", t=0, namespace="search"),
                      call(trace="c", t=5, namespace="search")])
    sink.close()
    r = build_report([f"sqlite:///{db}"])
    assert r["totals"]["calls"] == 3 and r["totals"]["first"] == at(0)
    r = build_report([f"sqlite:///{db}"], namespace="search", by=["trace"])
    assert r["totals"]["calls"] == 2
    assert {row["key"] for row in r["by"]["trace"]} == {"b", "c"}


def test_sqlite_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        build_report([f"sqlite:///{tmp_path / 'missing.db'}"])
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(InputError, match="cannot be read as a SQLite database"):
        build_report([f"sqlite:///{junk}"])
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(InputError, match="no 'events' table"):
        build_report([f"sqlite:///{other}"])
    with pytest.raises(InputError, match="not a SQLite URL"):
        build_report(["sqlite://nothing"])


def test_crashlens_shape_lines_are_read(jsonl):
    path = jsonl([crashlens_line("tr-1", 0, "gpt-4", "Hello there"),
                  crashlens_line("tr-1", 3, "gpt-4", "Hello there", cost=None)])
    r = build_report([path])
    assert r["totals"]["calls"] == 2
    assert r["computed_costs"] == 1          # the missing cost came from the tables
    expected = float(tokentrail.price_table().cost("gpt-4", {"prompt_tokens": 18}).total)
    assert r["totals"]["cost"] == pytest.approx(0.00054 + expected)
    assert r["by"]["model"][0]["key"] == "gpt-4"


def test_line_numbers_of_malformed_lines_are_absolute_when_read_in_parallel(jsonl, warnings_seen):
    seen, warn = warnings_seen
    lines = [json.dumps(call(trace=f"t{i}", t=i)) for i in range(400)]
    for bad in (3, 250, 399):
        lines[bad - 1] = "{oops"
    path = jsonl(lines)
    r = build_report([path], warn=warn, workers=3)
    assert r["skipped_lines"] == 3 and r["totals"]["calls"] == 397
    assert seen == [f"{path}:{n}: not valid JSON; skipped" for n in (3, 250, 399)]


def test_a_file_named_twice_is_read_once(tmp_path, jsonl):
    path = jsonl([call()], "a.jsonl")
    r = build_report([path, str(tmp_path / "*.jsonl"), path])
    assert r["totals"]["calls"] == 1 and len(r["sources"]) == 1


# -- a bad line near the top of a file is skipped, as it is further on and on stdin

@pytest.mark.parametrize("bad, what", [('{"note": "caf\xe9"}'.encode("latin-1"), "not UTF-8 text"),
                                       (b"\x00" * 40, "not valid JSON")])
def test_a_bad_line_in_the_first_64_kib_is_skipped_like_anywhere_else(tmp_path, monkeypatch, parser, bad, what):
    good = [json.dumps(call(trace=f"t{i}", t=i)).encode() for i in range(400)]    # ~200 KiB
    lines = good[:1] + [bad] + good[1:300] + [bad] + good[300:]
    data = b"\n".join(lines) + b"\n"
    assert data.index(bad, 1000) > 65536                # the second one is past the up-front check
    p = tmp_path / "mixed.jsonl"
    p.write_bytes(data)
    seen: list[str] = []
    r = build_report([str(p)], warn=seen.append)
    assert seen == [f"{p}:2: {what}; skipped", f"{p}:302: {what}; skipped"]
    assert r["totals"]["calls"] == 400 and r["skipped_lines"] == 2
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    seen.clear()
    assert build_report(["-"], warn=seen.append)["totals"]["calls"] == 400
    assert seen == [f"<stdin>:2: {what}; skipped", "<stdin>:302: " + what + "; skipped"]


def test_a_small_log_with_a_latin1_line_is_read(tmp_path):
    p = tmp_path / "small.jsonl"
    ok = json.dumps(call()).encode()
    p.write_bytes(ok + b"\n" + '{"note":"caf\xe9"}'.encode("latin-1") + b"\n" + ok + b"\n")
    seen: list[str] = []
    r = build_report([str(p)], warn=seen.append)
    assert r["totals"]["calls"] == 2 and seen == [f"{p}:2: not UTF-8 text; skipped"]


def test_utf16_without_a_bom_is_refused(tmp_path):
    p = tmp_path / "u16le.jsonl"
    p.write_bytes((json.dumps(call()) + "\n").encode("utf-16-le"))
    with pytest.raises(InputError, match=r"^'.*u16le.jsonl' is UTF-16 text, not UTF-8 JSONL; convert it first"):
        build_report([str(p)])


def test_a_first_line_longer_than_the_up_front_check_is_read(jsonl):
    path = jsonl([call(prompt="word " * 20000), call(t=1)])          # line 1 is ~100 KiB
    r = build_report([path])
    assert r["totals"]["calls"] == 2 and r["skipped_lines"] == 0


# -- a gzip file that breaks off is read up to the break, with one warning

def _random_log(n: int) -> bytes:
    """``n`` events with random prompts: gzip cannot shrink them much, so a cut is far in."""
    rnd = random.Random(7)
    return "".join(json.dumps(call(trace=f"t{i}", t=i, prompt=f"{rnd.getrandbits(1024):x}")) + "\n"
                   for i in range(n)).encode()


def test_a_truncated_gzip_is_read_up_to_where_it_breaks(tmp_path):
    for name, cut in (("late.jsonl.gz", 150_000), ("early.jsonl.gz", 20_000)):    # after / inside the first 64 KiB
        p = tmp_path / name
        p.write_bytes(gzip.compress(_random_log(1500))[:cut])
        complete = zlib.decompressobj(wbits=31).decompress(p.read_bytes()).count(b"\n")
        assert 10 < complete < 1500
        seen: list[str] = []
        r = build_report([str(p)], warn=seen.append)
        assert r["totals"]["calls"] == complete and r["skipped_lines"] == 0
        assert seen == [f"{p}:{complete + 1}: the gzip file is cut short here (compressed file ended before the "
                        "end-of-stream marker was reached); the report covers the lines before it — copy the "
                        "whole file again to read the rest"]


def test_a_corrupt_gzip_warns_and_reports_what_was_read(tmp_path):
    data = bytearray(gzip.compress(_random_log(300)))
    data[-1] ^= 0xFF                                   # the stored length no longer matches
    p = tmp_path / "corrupt.jsonl.gz"
    p.write_bytes(bytes(data))
    seen: list[str] = []
    r = build_report([str(p)], warn=seen.append)
    assert r["totals"]["calls"] == 300
    assert seen == [f"{p}:301: the gzip data is corrupt here (Incorrect length of data produced); the report "
                    "covers the lines before it, which may be damaged too — restore the file from a good copy"]


def test_a_gzip_file_nothing_of_which_decompresses_is_refused(tmp_path):
    p = tmp_path / "junk.jsonl.gz"
    p.write_bytes(b"\x1f\x8b" + b"this is not deflate data" * 10)
    with pytest.raises(InputError, match=r"^'.*junk.jsonl.gz' looks gzip-compressed but cannot be decompressed \("):
        build_report([str(p)])
    p.write_bytes(gzip.compress(json.dumps(call()).encode())[:12])      # cut inside the header
    with pytest.raises(InputError) as e:
        build_report([str(p)])
    assert str(e.value) == (f"{str(p)!r} looks gzip-compressed but ends before any of its data; give an intact "
                            ".gz file or the plain JSONL file")
    p.write_bytes(gzip.compress(b""))                                   # intact and empty: an empty report
    assert build_report([str(p)])["totals"]["calls"] == 0


# -- SQLite file names that mean something in a URI

@pytest.mark.parametrize("name", ["run#1.db", "what?.db", "100%.db", "p%20q.db", "my calls.db"])
def test_sqlite_file_names_with_uri_characters(tmp_path, name):
    db = tmp_path / name
    sink = tokentrail.SqliteSink("sqlite:///" + str(db))
    sink.write_batch([call(), call(t=1)])
    sink.close()
    r = build_report([f"sqlite:///{db}"])
    assert r["totals"]["calls"] == 2 and r["sources"] == [f"sqlite:///{db}"]
    # no stray database from a path cut at the special character (SQLite's own -wal / -shm aside)
    assert set(os.listdir(tmp_path)) <= {name, name + "-wal", name + "-shm"}
