"""Each waste detector, positive and negative, and the crashlens contract cases."""

from __future__ import annotations

import pytest

import tokentrail
from tokentrail.analysis import build_report

from .helpers import call, crashlens_line, kinds, of_kind

MIN_RETRY_PROMPT = "Summarize the quarterly sales report for the EMEA region in three bullet points."
LONG = ("Draft a detailed incident postmortem for the checkout outage of last Tuesday, covering the "
        "timeline, root cause, customer impact, remediation items with owners and the monitoring gaps.")


# ---------------------------------------------------------------- retry_loop

def test_crashlens_minimal_retry_line_four_times_is_a_retry_loop(jsonl):
    path = jsonl([crashlens_line("tr-min-retry", i * 2, "gpt-4", MIN_RETRY_PROMPT) for i in range(4)])
    r = build_report([path])
    [f] = of_kind(r, "retry_loop")
    assert f["traceId"] == "tr-min-retry" and f["call_count"] == 4 and f["model"] == "gpt-4"
    # all but the last successful call (crashlens counts all four: 0.00216)
    assert f["waste_usd"] == pytest.approx(3 * 0.00054)
    assert f["severity"] == "high"
    assert [c["id"] for c in f["calls"]] == [f"{path}:{i}" for i in range(1, 5)]


def test_three_identical_calls_are_enough_two_are_not(jsonl):
    r = build_report([jsonl([call(t=i * 5) for i in range(3)])])
    [f] = of_kind(r, "retry_loop")
    assert f["severity"] == "low" and f["call_count"] == 3
    r = build_report([jsonl([call(t=i * 5) for i in range(2)])])
    assert "retry_loop" not in kinds(r)


def test_retry_loop_found_without_crashlens_extra_conditions(jsonl):
    # Large, varied completions and regular gaps: crashlens' "small responses" and
    # "backoff" checks both fail, so it would not flag this; it is still a loop.
    events = [call(t=i * 10, ct=ct) for i, ct in enumerate([900, 120, 2400, 640, 1800])]
    r = build_report([jsonl(events)])
    [f] = of_kind(r, "retry_loop")
    assert f["call_count"] == 5
    assert f["waste_usd"] == pytest.approx(sum(e["cost"] for e in events[:4]))


def test_retry_waste_spares_the_last_successful_call(jsonl):
    events = [call(t=0, status="error", cost=0.0), call(t=2, status="error", cost=0.0), call(t=4),
              call(t=6)]
    r = build_report([jsonl(events)])
    [f] = of_kind(r, "retry_loop")
    assert f["waste_usd"] == pytest.approx(events[2]["cost"])


def test_not_a_retry_when_gaps_exceed_two_minutes_or_prompts_differ(jsonl):
    r = build_report([jsonl([call(t=i * 121) for i in range(4)])])
    assert "retry_loop" not in kinds(r)
    r = build_report([jsonl([call(t=i, prompt=f"{LONG} Variant {i}.") for i in range(4)])])
    assert "retry_loop" not in kinds(r)
    r = build_report([jsonl([call(trace=f"t{i}", t=i) for i in range(4)])])      # different traces
    assert "retry_loop" not in kinds(r)


def test_interleaved_repeats_are_a_retry_loop(jsonl):
    # A, B, A, B, A: crashlens only groups consecutive records and misses this.
    events = [call(t=i, prompt=LONG if i % 2 == 0 else "Classify the ticket above as billing or tech.")
              for i in range(5)]
    r = build_report([jsonl(events)])
    [f] = of_kind(r, "retry_loop")
    assert f["call_count"] == 3


def test_out_of_order_lines_are_sorted_by_start_time(jsonl):
    events = [call(t=4), call(t=0), call(t=2)]
    r = build_report([jsonl(events)])
    [f] = of_kind(r, "retry_loop")
    assert [c["id"] for c in f["calls"]] == [events[1]["id"], events[2]["id"], events[0]["id"]]


# ---------------------------------------------------------------- overkill

def test_hi_on_gpt4_is_overkill(jsonl):
    r = build_report([jsonl([crashlens_line("tr-hi", 0, "gpt-4", "Hi", pt=8, ct=5)])])
    [f] = of_kind(r, "overkill")
    assert f["model"] == "gpt-4" and f["traceId"] == "tr-hi"
    cheap = f["cheaper_model"]
    entry = tokentrail.price_table().get(cheap)
    assert entry is not None
    cheap_cost = float(tokentrail.price_table().cost(cheap, {"prompt_tokens": 8, "completion_tokens": 5}).total)
    assert f["waste_usd"] == pytest.approx(0.00054 - cheap_cost)


def test_hi_on_gpt4o_mini_is_not_overkill_unless_five_times_the_cheapest(jsonl):
    table = tokentrail.price_table()
    mini = table.get("gpt-4o-mini").rates
    cheapest = min(e.rates.input + e.rates.output for e in table.entries()
                   if e.provider == "openai" and e.rates.input > 0 and e.rates.output > 0
                   and "embed" not in e.key and "audio" not in e.key)
    path = jsonl([crashlens_line("tr-mini", 0, "gpt-4o-mini", "Hi", pt=8, ct=5, cost=0.000004)])
    found = "overkill" in kinds(build_report([path]))
    assert found == (mini.input + mini.output >= 5 * cheapest)
    # the threshold is tunable
    assert "overkill" in kinds(build_report([path], overkill_ratio=1.01))


def test_overkill_is_decided_by_price_not_by_name(jsonl, tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text("provider: openai\nmodels:\n"
                      "  gpt-4-budget-clone: {input: 0.05, output: 0.4}\n"
                      "  plain-name-premium: {input: 30, output: 60}\n")
    events = [call(trace="a", model="gpt-4-budget-clone", prompt="Hi"),
              call(trace="b", model="plain-name-premium", prompt="Hi")]
    r = build_report([jsonl(events)], pricing=str(prices), reprice=True)
    assert [f["model"] for f in of_kind(r, "overkill")] == ["plain-name-premium"]


@pytest.mark.parametrize("prompt", [
    LONG,                                                           # long
    "def add(a, b):\n    return a + b\nFix it",                     # code
    "a\nb\nc\nd\ne",                                                # > 3 newlines
    "word " * 40,                                                   # > 20 estimated tokens
])
def test_long_or_complex_prompts_are_not_overkill(jsonl, prompt):
    r = build_report([jsonl([call(model="gpt-4", prompt=prompt)])])
    assert "overkill" not in kinds(r)


def test_failed_call_is_failed_spend_not_overkill(jsonl):
    r = build_report([jsonl([call(model="gpt-4", prompt="Hi", status="error", cost=0.0003)])])
    assert "overkill" not in kinds(r)
    [f] = of_kind(r, "failed_spend")
    assert f["waste_usd"] == pytest.approx(0.0003) and f["call_count"] == 1
    assert f["errors"] == {"RateLimitError (429)": 1}


def test_overkill_without_prompt_text_uses_recorded_tokens(jsonl):
    r = build_report([jsonl([call(trace="a", model="gpt-4", prompt="", pt=12, ct=4),
                             call(trace="b", model="gpt-4", prompt="", pt=900, ct=4)])])
    assert [f["traceId"] for f in of_kind(r, "overkill")] == ["a"]


# ---------------------------------------------------------------- fallback storm / chain

def test_fallback_storm_with_failures(jsonl):
    events = [call(t=0, model="gpt-4o", status="error", cost=0.0), call(t=20, model="claude-sonnet-4-5",
              status="error", cost=0.0), call(t=40, model="gpt-4.1"), call(t=60, model="gpt-4.1-mini")]
    r = build_report([jsonl(events)])
    [f] = of_kind(r, "fallback_storm")
    assert f["call_count"] == 4 and f["severity"] == "high"
    assert f["waste_usd"] == pytest.approx(events[2]["cost"])     # all but the last successful call


def test_storm_of_distinct_prompts_without_failures_is_listed_with_no_waste(jsonl):
    events = [call(t=0, model="gpt-4o-mini", prompt="Route: " + LONG), call(t=5, model="gpt-4o", prompt=LONG),
              call(t=9, model="gpt-4o-mini", prompt="Summarize: " + LONG)]
    r = build_report([jsonl(events)])
    [f] = of_kind(r, "fallback_storm")
    assert f["severity"] == "low" and f["waste_usd"] == 0.0
    assert f["cost_usd"] == pytest.approx(sum(e["cost"] for e in events))


def test_no_storm_with_two_calls_one_model_or_a_slow_trace(jsonl):
    two = [call(t=0, model="gpt-4o"), call(t=1, model="gpt-4.1")]
    assert "fallback_storm" not in kinds(build_report([jsonl(two)]))
    one_model = [call(t=i, prompt=f"{LONG} {i}") for i in range(5)]
    assert "fallback_storm" not in kinds(build_report([jsonl(one_model)]))
    spread = [call(t=i * 200, model=m, status="error", cost=0.0)
              for i, m in enumerate(["gpt-4o", "gpt-4.1", "gpt-4o-mini"])]
    assert "fallback_storm" not in kinds(build_report([jsonl(spread)]))


def test_storm_inside_a_longer_trace_is_found(jsonl):
    # crashlens needs the whole trace within 3 minutes; an hour-long trace hides the storm from it.
    events = [call(t=0, model="gpt-4o", prompt="Plan: " + LONG)]
    events += [call(t=3600 + i * 10, model=m, status="error", cost=0.0)
               for i, m in enumerate(["gpt-4o", "gpt-4.1", "claude-sonnet-4-5"])]
    events += [call(t=3640, model="gpt-4o-mini")]
    r = build_report([jsonl(events)])
    [f] = of_kind(r, "fallback_storm")
    assert f["call_count"] == 4


def test_fallback_chain_after_failure_expensive_to_cheap(jsonl):
    events = [call(t=0, model="gpt-4o", status="error", cost=0.0002), call(t=2, model="gpt-4o-mini")]
    r = build_report([jsonl(events)])
    [f] = of_kind(r, "fallback_chain")
    assert f["direction"] == "expensive → cheap" and f["models"] == ["gpt-4o", "gpt-4o-mini"]
    assert f["waste_usd"] == pytest.approx(0.0002)


def test_fallback_chain_from_the_recorder_marker(jsonl):
    events = [call(t=0, model="claude-sonnet-4-5", prompt="A " + LONG),
              call(t=2, model="gpt-4o", prompt="B " + LONG, fallback_model="claude-sonnet-4-5",
                   metadata={"fallback_attempted": True})]
    [f] = of_kind(build_report([jsonl(events)]), "fallback_chain")
    assert f["waste_usd"] == pytest.approx(events[0]["cost"])


def test_cheap_to_expensive_with_same_prompt_is_a_chain(jsonl):
    # crashlens' fallback_failure case (it reports $0 waste); here the abandoned call's cost.
    events = [crashlens_line("tr-ff", 0, "gpt-3.5-turbo", LONG, pt=300, ct=400, cost=0.0011),
              crashlens_line("tr-ff", 30, "gpt-4", LONG, pt=300, ct=400, cost=0.033)]
    [f] = of_kind(build_report([jsonl(events)]), "fallback_chain")
    assert f["direction"] == "cheap → expensive" and f["waste_usd"] == pytest.approx(0.0011)


def test_model_change_without_failure_or_same_prompt_is_no_chain(jsonl):
    events = [call(t=0, model="gpt-4o", prompt="A " + LONG), call(t=2, model="gpt-4o-mini", prompt="B " + LONG)]
    assert "fallback_chain" not in kinds(build_report([jsonl(events)]))


# ---------------------------------------------------------------- unpriced / failed / cache

def test_unpriced_model(jsonl):
    events = [call(trace="a", model="acme-llm-7b", cost=0.0, pricing="unknown"),
              call(trace="b", model="acme-llm-7b", cost=0.0, pricing="unknown")]
    [f] = of_kind(build_report([jsonl(events)]), "unpriced_model")
    assert f["model"] == "acme-llm-7b" and f["call_count"] == 2 and f["waste_usd"] == 0.0
    assert "pricing file" in f["detail"]


def test_logged_as_unpriced_but_priced_now(jsonl):
    [f] = of_kind(build_report([jsonl([call(model="gpt-4o", cost=0.0, pricing="unknown")])]), "unpriced_model")
    assert "--reprice" in f["detail"]
    assert "unpriced_model" not in kinds(build_report([jsonl([call(model="gpt-4o", cost=0.0,
                                                                    pricing="unknown")])], reprice=True))


def test_cache_savings_are_reported(jsonl):
    table = tokentrail.price_table()
    rates = table.get("gpt-4o").rates
    r = build_report([jsonl([call(model="gpt-4o", pt=2000, cached=1536)])])
    [f] = of_kind(r, "cache_savings")
    assert f["severity"] == "info" and f["waste_usd"] == 0.0
    assert f["savings_usd"] == pytest.approx(1536 * float(rates.input - rates.cached_input) / 1e6)
    assert r["findings"][-1]["kind"] == "cache_savings"          # information after waste


def test_missed_cache_on_repeated_large_prompt(jsonl):
    big = "You are the support assistant. " * 200
    events = [call(trace=f"t{i}", t=i * 60, model="gpt-4o", prompt=big, pt=3000) for i in range(3)]
    r = build_report([jsonl(events)])
    [f] = of_kind(r, "missed_cache")
    rates = tokentrail.price_table().get("gpt-4o").rates
    assert f["call_count"] == 3 and f["cacheable_repeats"] == 2
    assert f["waste_usd"] == pytest.approx(2 * 3000 * float(rates.input - rates.cached_input) / 1e6)


def test_no_missed_cache_when_cached_small_sparse_or_uncacheable(jsonl):
    big = "You are the support assistant. " * 200
    cached = [call(trace=f"t{i}", t=i * 60, model="gpt-4o", prompt=big, pt=3000, cached=2048) for i in range(3)]
    small = [call(trace=f"t{i}", t=i * 60, model="gpt-4o", prompt=big, pt=800) for i in range(3)]
    sparse = [call(trace=f"t{i}", t=i * 7200, model="gpt-4o", prompt=big, pt=3000) for i in range(3)]
    no_rate = [call(trace=f"t{i}", t=i * 60, model="gpt-4", prompt=big, pt=3000) for i in range(3)]
    for events in (cached, small, sparse, no_rate):
        assert "missed_cache" not in kinds(build_report([jsonl(events)]))


# ---------------------------------------------------------------- totals of waste

def test_waste_total_counts_each_call_once(jsonl):
    # Failed calls in a retry loop are failed_spend and retry waste at once.
    events = [call(t=i, model="gpt-4o", status="error", cost=0.001) for i in range(3)] + [call(t=3)]
    r = build_report([jsonl(events)])
    assert {"retry_loop", "failed_spend"} <= set(kinds(r))
    assert r["waste_total_usd"] == pytest.approx(0.003)
    assert r["findings_summary"]["failed_spend"]["waste_usd"] == pytest.approx(0.003)


def test_recorded_events_from_log_event(jsonl, events):
    with tokentrail.trace("ask") as t:
        for i in range(3):
            tokentrail.log_event(startTime=f"2026-11-23T10:00:0{i}.000Z", input={"model": "gpt-4o", "prompt": LONG},
                                 usage={"prompt_tokens": 100, "completion_tokens": 20})
        tokentrail.log_event(startTime="2026-11-23T10:00:05.000Z", input={"model": "gpt-4o", "prompt": "Hi"},
                             usage={"prompt_tokens": 8, "completion_tokens": 2})
    r = build_report([jsonl(events)])
    assert set(kinds(r)) >= {"retry_loop", "overkill"}
    assert of_kind(r, "retry_loop")[0]["traceId"] == t.trace_id
    assert r["totals"]["calls"] == 4


def test_lines_without_start_time_or_prompt(jsonl):
    # Another tool's lines: no startTime on the first call, empty prompts (crashlens groups these).
    lines = [{"traceId": "t", "input": {"model": "gpt-4o", "prompt": ""},
              "usage": {"prompt_tokens": 300 + i, "completion_tokens": 5}, "cost": 0.001} for i in range(4)]
    for i, line in enumerate(lines[1:], 1):
        line["startTime"] = f"2026-11-23T10:00:0{i}.000Z"
    r = build_report([jsonl(lines)])
    [f] = of_kind(r, "retry_loop")
    assert f["call_count"] == 4 and f["calls"][0]["startTime"] is None
    assert "overkill" not in kinds(r)            # 300 prompt tokens: not a short prompt, text or not


def test_our_events_without_content_use_token_counts(jsonl):
    events = [call(t=i, prompt="", pt=300 + i) for i in range(4)]
    assert "retry_loop" not in kinds(build_report([jsonl(events)]))
    events = [call(t=i, prompt="", pt=300) for i in range(4)]
    assert "retry_loop" in kinds(build_report([jsonl(events)]))
