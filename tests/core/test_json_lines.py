"""The JSON text of an event: the same with either encoder, and always writable.

Both encoders (the stdlib's C encoder, and orjson when it is
installed) are run on every case here; CI runs the rest of the suite with orjson in one
environment and without it in the other.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from decimal import Decimal

import pytest

import tokentrail
from tokentrail import _sinks

ENCODERS = ["stdlib", pytest.param("orjson", marks=pytest.mark.skipif(
    _sinks._orjson is None, reason="orjson is not installed (the CI step without it)"))]


@pytest.fixture(params=ENCODERS)
def encoder(request):
    before = _sinks.ENCODER
    tokentrail.flush()
    assert _sinks.use_encoder(request.param) == request.param
    yield request.param
    tokentrail.flush()
    _sinks.use_encoder(before)


@dataclasses.dataclass
class Point:
    x: int


class Opaque:
    def __str__(self) -> str:
        return "<opaque>"


def _odd_event() -> dict:
    return {
        "id": "e1", "traceId": "t1", "cost": 0.0002375, "tiny": 1e-05, "big": 12345678901234,
        "metadata": {
            "decimal": Decimal("0.125"), "when": dt.datetime(2026, 11, 23, 12, 0, 0, 123000, tzinfo=dt.timezone.utc),
            "day": dt.date(2026, 11, 23), "point": Point(3), "opaque": Opaque(), "tuple": (1, "a"),
            "set": {7}, "bytes": b"\x00\x01", "int_key": {1: "one"}, "nan": float("nan"),
            "unicode": "naïve — 日本語 ✓", "nested": [{"a": [1, 2, {"b": None}]}], "flag": True,
        },
    }


def test_unknown_encoder_name_is_a_clear_error():
    with pytest.raises(ValueError, match="use 'auto', 'orjson' or 'stdlib'"):
        _sinks.use_encoder("ujson")


def test_odd_values_become_the_same_json_with_either_encoder(encoder):
    text = _sinks.dumps(_odd_event())
    assert "\n" not in text and "NaN" not in text
    assert _sinks.dumps_bytes(_odd_event()) == text.encode("utf-8")
    md = json.loads(text)["metadata"]
    assert md == {
        "decimal": 0.125, "when": "2026-11-23T12:00:00.123000+00:00", "day": "2026-11-23",
        "point": "Point(x=3)", "opaque": "<opaque>", "tuple": [1, "a"], "set": [7], "bytes": "[2 bytes]",
        "int_key": {"1": "one"}, "nan": None, "unicode": "naïve — 日本語 ✓",
        "nested": [{"a": [1, 2, {"b": None}]}], "flag": True,
    }
    assert json.loads(text)["cost"] == 0.0002375 and json.loads(text)["tiny"] == 1e-05


def test_values_no_fast_encoder_takes_still_make_a_line(encoder):
    cyclic: dict = {"name": "loop"}
    cyclic["self"] = cyclic
    for value, expected in [(cyclic, {"name": "loop", "self": "[cycle]"}),
                            (2 ** 100, 2 ** 100),
                            ({(1, 2): "x"}, {"(1, 2)": "x"})]:
        text = _sinks.dumps({"metadata": {"v": value}})
        assert json.loads(text)["metadata"]["v"] == expected
        assert json.loads(_sinks.dumps_bytes({"metadata": {"v": value}})) == json.loads(text)


def test_a_lone_surrogate_in_a_prompt_loses_nothing(encoder, tmp_path, capsys):
    # Text decoded with errors="surrogateescape" (file names, subprocess output) can hold
    # lone surrogates, which no UTF-8 file or SQLite text can. The event is written with
    # the surrogate escaped (\udcff), so it reads back as the same Python string.
    path, db = tmp_path / "calls.jsonl", tmp_path / "calls.db"
    mem = tokentrail.MemorySink()
    sink = tokentrail.FanoutSink(str(path), f"sqlite:///{db}", "stdout", mem)
    bad = b"caf\xff.txt".decode("utf-8", "surrogateescape")
    tokentrail.log_event(input={"model": "gpt-4o-mini", "prompt": f"summarise {bad}"},
                         usage={"prompt_tokens": 10, "completion_tokens": 5}, sink=sink)
    tokentrail.log_event(input={"model": "gpt-4o-mini", "prompt": "next"}, usage={"prompt_tokens": 3}, sink=sink)
    assert tokentrail.flush()
    assert tokentrail.stats()["lost"] == 0
    lines = path.read_bytes().decode("utf-8").splitlines()
    assert [json.loads(line)["input"]["prompt"] for line in lines] == [f"summarise {bad}", "next"]
    assert "\\udcff" in lines[0]
    rows = sqlite3.connect(db).execute("SELECT event FROM events ORDER BY rowid").fetchall()
    assert [json.loads(r[0])["input"]["prompt"] for r in rows] == [f"summarise {bad}", "next"]
    out = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["input"]["prompt"] for line in out] == [f"summarise {bad}", "next"]
    assert json.loads(lines[0])["cost"] == mem.events[0]["cost"] > 0


def test_jsonl_batch_is_written_in_whole_line_chunks_and_a_failure_counts_what_landed(tmp_path, monkeypatch):
    path = tmp_path / "calls.jsonl"
    sink = _sinks.JsonlSink(path)
    sink.CHUNK = 1000                                   # several write(2) calls for one batch
    events = [{"id": f"e{i}", "metadata": {"pad": "x" * 300}} for i in range(12)]
    real_write, writes = _sinks.os.write, []

    def write(fd, data):
        if len(writes) == 2:                            # the third write fails: disk full
            raise OSError(28, "No space left on device")
        writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(_sinks.os, "write", write)
    with pytest.raises(OSError) as info:
        sink.write_batch(events)
    assert all(w.endswith(b"\n") for w in writes)       # every write ends at a line end
    landed = path.read_bytes().splitlines()
    assert [json.loads(x)["id"] for x in landed] == [f"e{i}" for i in range(len(landed))]
    assert info.value.lines_written == len(landed) == sum(w.count(b"\n") for w in writes) > 2
    monkeypatch.setattr(_sinks.os, "write", real_write)
    sink.write_batch(events[len(landed):])              # the rest, later: the file is whole again
    assert [json.loads(x)["id"] for x in path.read_bytes().splitlines()] == [e["id"] for e in events]
