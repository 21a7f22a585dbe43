"""Totals, cost breakdowns, filters, re-pricing, latency and the three renderings."""

from __future__ import annotations

import csv
import io
import json

import pytest

import tokentrail
from tokentrail.analysis import InputError, build_report, generate_events, render_report, write_events

from .helpers import at, call


@pytest.fixture
def mixed(jsonl):
    events = [
        call(trace="a", t=0, model="gpt-4o", metadata={"team": "search"}, name="answer"),
        call(trace="a", t=1, model="gpt-4o-mini", metadata={"team": "search"}, name="route"),
        call(trace="b", t=86400, model="claude-sonnet-4-5", metadata={"team": "support"}, name="answer",
             namespace="prod"),
        call(trace="c", t=86401, model="gpt-4o", status="error", cost=0.0, name="answer"),
        {"traceId": "a", "id": "span-1", "type": "span", "name": "answer", "startTime": at(0), "cost": 0.0,
         "input": {"model": "", "prompt": "x"}, "usage": {"prompt_tokens": 0, "completion_tokens": 0}},
    ]
    return events, jsonl(events)


def test_totals(mixed):
    events, path = mixed
    calls = [e for e in events if e["type"] != "span"]
    r = build_report([path])
    t = r["totals"]
    assert t["calls"] == 4 and t["errors"] == 1 and t["error_rate"] == 0.25
    assert t["cost"] == pytest.approx(sum(e["cost"] for e in calls))
    assert t["prompt_tokens"] == sum(e["usage"]["prompt_tokens"] for e in calls)
    assert t["completion_tokens"] == sum(e["usage"]["completion_tokens"] for e in calls)
    assert t["total_tokens"] == t["prompt_tokens"] + t["completion_tokens"]
    assert t["traces"] == 3 and t["first"] == at(0) and t["last"] == at(86401)
    assert r["other_events"] == 1            # the span is not a call of any model
    assert r["repriced"] is False and r["sources"] == [path]


def test_cost_by_several_keys(mixed):
    events, path = mixed
    r = build_report([path], by=["model", "provider", "trace", "name", "day", "metadata.team"])
    by_model = {row["key"]: row for row in r["by"]["model"]}
    assert by_model["gpt-4o"]["calls"] == 2 and by_model["gpt-4o"]["errors"] == 1
    assert [row["cost"] for row in r["by"]["model"]] == sorted((row["cost"] for row in r["by"]["model"]),
                                                               reverse=True)
    assert sum(row["share"] for row in r["by"]["model"]) == pytest.approx(1.0)
    assert {row["key"] for row in r["by"]["provider"]} == {"openai", "anthropic"}
    assert {row["key"]: row["calls"] for row in r["by"]["trace"]} == {"a": 2, "b": 1, "c": 1}
    assert {row["key"]: row["calls"] for row in r["by"]["name"]} == {"answer": 3, "route": 1}
    assert {row["key"]: row["calls"] for row in r["by"]["day"]} == {"2026-11-23": 2, "2026-11-24": 2}
    assert {row["key"]: row["calls"] for row in r["by"]["metadata.team"]} == {"search": 2, "support": 1,
                                                                            "(none)": 1}
    for rows in r["by"].values():
        assert sum(row["cost"] for row in rows) == pytest.approx(r["totals"]["cost"])


def test_unknown_by_key_and_bad_dates_are_input_errors(mixed):
    _, path = mixed
    with pytest.raises(InputError, match="unknown --by key 'colour'"):
        build_report([path], by=["colour"])
    with pytest.raises(InputError, match="metadata.KEY"):
        build_report([path], by=["metadata."])
    with pytest.raises(InputError, match="--since 'last tuesday' is not a date"):
        build_report([path], since="last tuesday")
    with pytest.raises(InputError, match="--until"):
        build_report([path], since="2026-11-24", until="2026-11-20")


def test_filters(mixed):
    _, path = mixed
    assert build_report([path], model="gpt-4o")["totals"]["calls"] == 2
    assert build_report([path], model="gpt-4o,claude-sonnet-4-5")["totals"]["calls"] == 3
    assert build_report([path], trace_id="a")["totals"]["calls"] == 2
    assert build_report([path], namespace="prod")["totals"]["calls"] == 1
    assert build_report([path], namespace="default")["totals"]["calls"] == 3
    assert build_report([path], since="2026-11-24")["totals"]["calls"] == 2
    assert build_report([path], until="2026-11-23")["totals"]["calls"] == 2        # the whole day
    r = build_report([path], since="2026-11-23T10:00:00.500Z", until="2026-11-24T10:00:00.500Z")
    assert r["totals"]["calls"] == 2 and r["filtered_out"] == 2
    assert r["filters"]["since"] == "2026-11-23T10:00:00.500Z"
    assert build_report([path], since="100000d")["totals"]["calls"] == 4
    empty = build_report([path], model="nothing-like-this")
    assert empty["totals"]["calls"] == 0
    assert "No events match the filters" in render_report(empty)


def test_model_filter_matches_snapshots_through_the_price_table(jsonl):
    path = jsonl([call(model="gpt-4o-2024-08-06"), call(trace="x", model="gpt-4o-mini")])
    r = build_report([path], model="gpt-4o")
    assert r["totals"]["calls"] == 1 and r["by"]["model"][0]["key"] == "gpt-4o-2024-08-06"


def test_reprice_with_an_override_file(mixed, tmp_path):
    events, path = mixed
    prices = tmp_path / "prices.yaml"
    prices.write_text("models:\n  gpt-4o: {input: 100, output: 200}\n")
    r = build_report([path], reprice=True, pricing=str(prices), by=["model"])
    assert r["repriced"] is True and r["filters"]["pricing"] == str(prices)
    by_model = {row["key"]: row for row in r["by"]["model"]}
    gpt4o = [e for e in events if e.get("model") == "gpt-4o"]
    expected = sum(e["usage"]["prompt_tokens"] * 100 / 1e6 + e["usage"]["completion_tokens"] * 200 / 1e6
                   for e in gpt4o)
    assert by_model["gpt-4o"]["cost"] == pytest.approx(expected)
    # the others are priced from the built-in tables
    sonnet = next(e for e in events if e.get("model") == "claude-sonnet-4-5")
    assert by_model["claude-sonnet-4-5"]["cost"] == pytest.approx(sonnet["cost"])
    assert "recomputed" in render_report(r)


def test_reprice_matches_the_recorder(jsonl, events):
    tokentrail.log_event(input={"model": "claude-sonnet-4-5", "prompt": "x"}, provider="anthropic",
                         usage={"input_tokens": 1000, "output_tokens": 300, "cache_read_input_tokens": 5000,
                                "cache_creation_input_tokens": 2000})
    tokentrail.log_event(input={"model": "gpt-4o-2024-08-06", "prompt": "y"},
                         usage={"prompt_tokens": 3000, "completion_tokens": 50, "cached_tokens": 1024})
    path = jsonl(events)
    assert build_report([path], reprice=True)["totals"]["cost"] == pytest.approx(sum(e["cost"] for e in events),
                                                                                  rel=1e-9)


def test_reprice_of_calls_served_at_a_service_tier_or_region(jsonl):
    """--reprice prices a call at the tier and region it was served at, as the recorder did
    (gpt-5.5 flex: 2.5 / 0.25 cached / 15 per 1M; claude-opus-4-8 fast 10 / 50, us x1.1)."""
    events = [call(trace="a", model="gpt-5.5", pt=2048, ct=612, cached=1792, cost=1.0, service_tier="flex"),
              call(trace="b", model="claude-opus-4-8", pt=1000, ct=100, cost=1.0, service_tier="fast",
                   inference_geo="us"),
              call(trace="c", model="gpt-5.5", pt=2048, ct=612, cost=1.0)]
    r = build_report([jsonl(events)], reprice=True, by=["trace"])
    by_trace = {row["key"]: row["cost"] for row in r["by"]["trace"]}
    assert by_trace["a"] == pytest.approx((256 * 2.5 + 1792 * 0.25 + 612 * 15) / 1e6, rel=1e-9)
    assert by_trace["b"] == pytest.approx((1000 * 10 + 100 * 50) * 1.1 / 1e6, rel=1e-9)
    assert by_trace["c"] == pytest.approx((2048 * 5 + 612 * 30) / 1e6, rel=1e-9)        # standard


def test_broken_pricing_file_is_an_input_error(mixed, tmp_path):
    _, path = mixed
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [1, 2\n")
    with pytest.raises(InputError, match="bad.yaml"):
        build_report([path], reprice=True, pricing=str(bad))


def test_latency_percentiles(jsonl):
    events = [call(trace=f"t{i}", t=i, latency_ms=ms) for i, ms in enumerate([100, 200, 300, 400, 1000])]
    r = build_report([jsonl(events)])
    lat = r["latency"]
    assert lat["p50_ms"] == 300 and lat["p95_ms"] == 1000 and lat["count"] == 5 and lat["exact"]
    assert lat["by_model"]["gpt-4o"]["p50_ms"] == 300


def test_latency_from_start_and_end_when_not_recorded(jsonl):
    line = {"traceId": "t", "startTime": at(0), "endTime": at(1.25), "input": {"model": "gpt-4o", "prompt": "x"},
            "usage": {"prompt_tokens": 5, "completion_tokens": 5}, "cost": 0.0001}
    assert build_report([jsonl([line])])["latency"]["p50_ms"] == 1250


def test_latency_histogram_for_many_calls():
    from tokentrail.analysis._quantiles import Quantiles
    q = Quantiles()
    q.extend([float(v) for v in range(1, 10001)])
    assert not q.exact
    assert q.percentile(50) == pytest.approx(5000, rel=0.006)
    assert q.percentile(95) == pytest.approx(9500, rel=0.006)


def test_top_traces(mixed):
    _, path = mixed
    r = build_report([path], top=2)
    assert len(r["top_traces"]) == 2
    first = r["top_traces"][0]
    assert set(first) == {"traceId", "calls", "cost", "models", "errors", "start", "names"}
    assert first["cost"] >= r["top_traces"][1]["cost"]
    a = next(t for t in build_report([path])["top_traces"] if t["traceId"] == "a")
    assert a["calls"] == 2 and a["models"] == ["gpt-4o", "gpt-4o-mini"] and a["start"] == at(0)
    assert a["names"] == ["answer", "route"]


def test_render_json_is_the_dict(mixed):
    _, path = mixed
    r = build_report([path], by=["model", "metadata.team"])
    assert json.loads(render_report(r, "json")) == r


def test_render_csv_flattens_the_cost_tables(mixed):
    _, path = mixed
    r = build_report([path], by=["model", "metadata.team"])
    rows = list(csv.DictReader(io.StringIO(render_report(r, "csv"))))
    assert rows[0]["by"] == "totals" and int(rows[0]["calls"]) == 4
    assert {row["by"] for row in rows[1:]} == {"model", "metadata.team"}
    assert sum(float(row["cost_usd"]) for row in rows if row["by"] == "model") == pytest.approx(
        r["totals"]["cost"])


def test_render_table_has_every_section(jsonl):
    events = [call(t=i) for i in range(3)] + [call(trace="x", model="gpt-4", prompt="Hi", t=10)]
    r = build_report([jsonl(events)], by=["model", "day"])
    text = render_report(r)
    for section in ("Totals", "Cost by model", "Cost by day", "Top traces", "Latency (ms)", "Waste findings"):
        assert section in text
    assert "retry_loop" in text and "overkill" in text and "$" in text
    with pytest.raises(ValueError):
        render_report(r, "xml")


def test_generated_events_are_deterministic_and_report_in_parallel_as_in_one_process(tmp_path):
    a = list(generate_events(50, seed=7))
    assert a == list(generate_events(50, seed=7)) and a != list(generate_events(50, seed=8))
    path = tmp_path / "gen.jsonl"
    assert write_events(path, 3000, seed=3) == 3000
    one = build_report([str(path)], by=["model", "trace"], workers=1)
    two = build_report([str(path)], by=["model", "trace"], workers=2)
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
    assert {"retry_loop", "overkill", "fallback_chain", "missed_cache", "unpriced_model"} <= set(
        one["findings_summary"])


def test_closing_idle_traces_early_changes_nothing_for_a_time_ordered_log(tmp_path, monkeypatch):
    from tokentrail.analysis import _aggregate
    path = tmp_path / "gen.jsonl"
    write_events(path, 4000, seed=5)
    reference = json.dumps(build_report([str(path)], by=["trace"], workers=1), sort_keys=True)
    monkeypatch.setattr(_aggregate, "SWEEP_EVERY", 64)
    monkeypatch.setattr(_aggregate, "IDLE_EVENTS", 100)
    monkeypatch.setattr(_aggregate, "IDLE_SECONDS", 120.0)
    monkeypatch.setattr(_aggregate, "HOLD_EVENTS", 50)
    for workers in (1, 3):
        got = build_report([str(path)], by=["trace"], workers=workers)
        assert json.dumps(got, sort_keys=True) == reference


def test_check_by_accepts_commas_aliases_and_dedupes():
    from tokentrail.analysis import check_by
    assert check_by(None) == ["model"]
    assert check_by(["model,metadata.team", "trace_id", "model"]) == ["model", "metadata.team", "trace"]


# -- numbers: NaN, Infinity and out-of-range numbers are not JSON; negative ones are not usage

def _raw(i: int, cost: str = "0.0025", pt: str = "120", ct: str = "80", latency: str = "500",
         extra: str = "") -> str:
    """One event line with its numbers written exactly as given."""
    return (f'{{"traceId": "t{i}", "id": "e{i}", "type": "generation", "startTime": "{at(i)}", '
            f'"input": {{"model": "gpt-4o", "prompt": "Write a haiku about the sea"}}, "model": "gpt-4o", '
            f'"usage": {{"prompt_tokens": {pt}, "completion_tokens": {ct}}}, "cost": {cost}, '
            f'"latency_ms": {latency}{extra}}}')


def _strict_json(text: str) -> dict:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in the JSON report")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("workers", [1, 3])
def test_a_line_with_a_number_json_does_not_allow_is_skipped_with_either_parser(jsonl, parser, workers):
    lines = [_raw(0), _raw(1, cost="NaN"), _raw(2, cost="Infinity"), _raw(3, cost="-Infinity"),
             _raw(4, cost="1e400"), _raw(5, pt="NaN"), _raw(6, pt="1e400"), _raw(7, ct="-1e400"),
             _raw(8, latency="Infinity"), _raw(9, latency="1e400"), _raw(10, cost="1" + "0" * 400),
             _raw(11, extra=', "metadata": {"score": NaN}'), _raw(12)]
    path = jsonl(lines)
    seen: list[str] = []
    r = build_report([path], warn=seen.append, workers=workers)
    assert seen == [f"{path}:{n}: a number is NaN, infinite or too large; skipped" for n in range(2, 13)]
    t = r["totals"]
    assert (t["calls"], t["cost"], t["prompt_tokens"], t["completion_tokens"]) == (2, 0.005, 240, 160)
    assert r["skipped_lines"] == 11 and r["computed_costs"] == 0 and r["latency"]["p95_ms"] == 500
    assert _strict_json(render_report(r, "json")) == r
    assert "  Cost    $0.005000\n" in render_report(r)


def test_negative_and_absurd_values_are_read_as_the_writer_reads_them(jsonl, parser):
    table_cost = float(tokentrail.price_table().cost("gpt-4o", {"prompt_tokens": 120, "completion_tokens": 80}).total)
    lines = [_raw(0, pt="-50"),                 # a negative count reads as 0, as the writer's count() reads it
             _raw(1, cost="-0.5"),              # a negative cost is no cost: priced from the tables
             _raw(2, cost='"NaN"'),             # like a cost that is not a number
             _raw(3, cost="1e300"),             # or one no call can cost
             _raw(4, pt=str(2 ** 62)),          # a token count this large is corrupt: the line is skipped
             _raw(5, ct="1e300")]
    path = jsonl(lines)
    seen: list[str] = []
    r = build_report([path], warn=seen.append, by=["trace"])
    assert seen == [f"{path}:{n}: a number is NaN, infinite or too large; skipped" for n in (5, 6)]
    t = r["totals"]
    assert (t["calls"], t["prompt_tokens"], t["completion_tokens"], t["total_tokens"]) == (4, 360, 320, 680)
    assert r["computed_costs"] == 3 and r["skipped_lines"] == 2
    assert t["cost"] == pytest.approx(0.0025 + 3 * table_cost, rel=1e-9)
    price = pytest.approx(table_cost, rel=1e-9)
    assert {row["key"]: row["cost"] for row in r["by"]["trace"]} == {"t0": 0.0025, "t1": price, "t2": price,
                                                                     "t3": price}


def test_nan_in_events_given_as_dicts_is_skipped_too():
    from tokentrail.analysis._aggregate import Analyzer, Options
    from tokentrail.analysis._prices import Prices
    seen: list[str] = []
    a = Analyzer(Options(), Prices(tokentrail.price_table()), warn=seen.append)
    a.consume("events", [(1, call(cost=float("nan"))), (2, call(latency_ms=float("inf"))), (3, call(cost=0.01))])
    r = a.report(sources=["events"], filters={})
    assert seen == [f"events:{n}: a number is NaN, infinite or too large; skipped" for n in (1, 2)]
    assert r["totals"]["calls"] == 1 and r["totals"]["cost"] == 0.01


def test_a_start_time_no_date_can_show_is_read_as_missing(jsonl):
    lines = [_raw(0)] + [_raw(i).replace(f'"startTime": "{at(i)}"', f'"startTime": {st}')
                         for i, st in enumerate(['1e300', '"1e300"', '"nan"', '"-inf"'], 1)]
    r = build_report([jsonl(lines)])
    assert r["totals"]["calls"] == 5 and r["totals"]["first"] == r["totals"]["last"] == at(0)
    assert r["timeline"]["untimed"]["calls"] == 4 and r["skipped_lines"] == 0
    assert _strict_json(render_report(r, "json")) == r
